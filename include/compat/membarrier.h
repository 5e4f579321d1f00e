#pragma once
/* membarrier uapi newer than Debian 12's <linux/membarrier.h>, whose commands are an enum. */
#include <linux/membarrier.h>

/* 6.3: the REGISTER_* commands the caller's process made, as a mask of them */
#define MD_MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
