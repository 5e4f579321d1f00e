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

/* 6.3: memory-deny-write-execute */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_GET_MDWE
#define PR_GET_MDWE 66
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif
/* 6.6 */
#ifndef PR_MDWE_NO_INHERIT
#define PR_MDWE_NO_INHERIT (1UL << 1)
#endif

/* 6.18: PR_SET_THP_DISABLE leaves MADV_HUGEPAGE regions alone */
#ifndef PR_THP_DISABLE_EXCEPT_ADVISED
#define PR_THP_DISABLE_EXCEPT_ADVISED (1 << 1)
#endif
