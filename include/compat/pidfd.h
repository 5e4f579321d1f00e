#pragma once
/*
 * pidfd syscalls: Debian 12's glibc has no wrappers for them, and its
 * headers may lack the numbers (x86_64 values), each guarded on its own.
 * Like libc calls: -1 and errno on failure.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal	/* 5.1 */
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open		/* 5.3 */
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd		/* 5.6 */
#define SYS_pidfd_getfd 438
#endif

#ifndef PIDFD_NONBLOCK		/* 5.10: pidfd_open() flag, the pidfd's O_NONBLOCK */
#define PIDFD_NONBLOCK 04000
#endif
#ifndef PIDFD_THREAD		/* 6.9: a thread's pidfd, O_EXCL in its flags */
#define PIDFD_THREAD 0200
#endif

#ifndef PID_FS_MAGIC		/* 6.9: pidfds on pidfs, an inode per process (before: one anon inode for all) */
#define PID_FS_MAGIC 0x50494446
#endif
#ifndef PIDFD_INFO_EXIT		/* 6.15: PIDFD_GET_INFO tells a reaped process's wait status */
#define PIDFD_INFO_EXIT (1UL << 3)
#endif

/*
 * PIDFD_GET_INFO's struct (6.13), its first version, of 64 bytes: the
 * kernel fills what both it and the caller know (the size is in the
 * ioctl's number). exit_code came in 6.15 where spare0 was.
 */
struct md_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define MD_PIDFD_GET_INFO _IOWR(0xFF, 11, struct md_pidfd_info)

static inline int md_pidfd_open_flags(pid_t pid, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int md_pidfd_open(pid_t pid)
{
	return md_pidfd_open_flags(pid, 0);
}

/* a copy of fd of the process pidfd names, close-on-exec */
static inline int md_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static inline int md_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}
