#pragma once
/*
 * userfaultfd features newer than Debian 12's uapi headers (6.1), each
 * guarded on its own; values from include/uapi/linux/userfaultfd.h.
 * A definition here only lets us build; kfeat_probe() says whether it works.
 */
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY		/* 5.11 */
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM	/* 5.19 */
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED	/* 6.4 */
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON		/* 6.6 */
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC		/* 6.7 */
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE		/* 6.8 */
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
