#pragma once
/* timerfd uapi newer than (or missing from) glibc's <sys/timerfd.h>; each symbol on its own. */
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)	/* CONFIG_CHECKPOINT_RESTORE */
#endif
#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif
