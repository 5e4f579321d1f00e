#pragma once
/* prctl uapi newer than Debian 12's <linux/prctl.h>; each symbol on its own. */
#include <sys/prctl.h>

/* 6.15: timer_create() takes the wanted id from *timer_id (for restores) */
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif
#ifndef PR_TIMER_CREATE_RESTORE_IDS_OFF
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#endif
#ifndef PR_TIMER_CREATE_RESTORE_IDS_ON
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
#ifndef PR_TIMER_CREATE_RESTORE_IDS_GET
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2
#endif
