#pragma once
/* mmap/madvise constants newer than Debian 12's headers, each guarded. */
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE	/* 4.17 */
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_WIPEONFORK		/* 4.14 */
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK		/* 4.14 */
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_GUARD_INSTALL	/* 6.13 */
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_NOEXEC_SEAL		/* 6.3 */
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC		/* 6.3 */
#define MFD_EXEC 0x0010U
#endif
