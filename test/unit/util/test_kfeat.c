/*
 * kfeat_probe() on this machine: which features exist may vary, so the
 * tests check that the answers agree with independent checks and with
 * each other, and that kfeat_print() says the same.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compat/fs.h"
#include "compat/prctl.h"
#include "memdump/cleanup.h"
#include "memdump/kfeat.h"
#include "memdump/proc.h"
#include "memdump/sockdiag.h"

static struct kfeat kf;

static void probe(void)
{
	cr_assert_eq(kfeat_probe_all(&kf), 0);
}

TestSuite(kfeat, .init = probe);

Test(kfeat, leaves_no_child_behind)
{
	/* the ptrace and clone3 probes fork: every child must be reaped */
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
}

Test(kfeat, probing_twice_gives_the_same_answers)
{
	struct kfeat again;

	cr_assert_eq(kfeat_probe(&again), 0);
	/* dump and restore do not pay for what only memdump check reports */
	cr_assert_not(again.inotify_fhandle || again.epoll_tfd || again.sock_diag_unix || again.sock_diag_inet ||
		      again.sock_diag_netlink || again.so_peek_off || again.open_by_handle || again.seccomp_filters ||
		      again.tcp_repair || again.net_lock || again.time_ns);
	cr_assert_eq(kfeat_probe_all(&again), 0);
	cr_assert_eq(again.inotify_fhandle, kf.inotify_fhandle);
	cr_assert_eq(again.epoll_tfd, kf.epoll_tfd);
	cr_assert_eq(again.sock_diag_unix, kf.sock_diag_unix);
	cr_assert_eq(again.sock_diag_inet, kf.sock_diag_inet);
	cr_assert_eq(again.sock_diag_netlink, kf.sock_diag_netlink);
	cr_assert_eq(again.so_peek_off, kf.so_peek_off);
	cr_assert_eq(again.open_by_handle, kf.open_by_handle);
	cr_assert_eq(again.seccomp_filters, kf.seccomp_filters);
	cr_assert_eq(again.tcp_repair, kf.tcp_repair);
	cr_assert_eq(again.net_lock, kf.net_lock);
	cr_assert_eq(again.time_ns, kf.time_ns);
	cr_assert_eq(again.pagemap_scan, kf.pagemap_scan);
	cr_assert_eq(again.pagemap_pfn, kf.pagemap_pfn);
	cr_assert_eq(again.zero_pfn, kf.zero_pfn);
	cr_assert_eq(again.soft_dirty, kf.soft_dirty);
	cr_assert_eq(again.uffd_wp_async, kf.uffd_wp_async);
	cr_assert_eq(again.uffd_lazy, kf.uffd_lazy);
	cr_assert_eq(again.clone3_set_tid, kf.clone3_set_tid);
	cr_assert_eq(again.rseq_config, kf.rseq_config);
	cr_assert_eq(again.syscall_info, kf.syscall_info);
	cr_assert_eq(again.xcr0, kf.xcr0);
	cr_assert_eq(again.xsave_size, kf.xsave_size);
	cr_assert_eq(again.vvar_vclock, kf.vvar_vclock);
}

Test(kfeat, pagemap_scan_matches_the_ioctl)
{
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct pm_scan_arg arg = { .size = sizeof(arg) };
	bool works;

	cr_assert_geq(fd, 0);
	works = ioctl(fd, PAGEMAP_SCAN, &arg) >= 0;
	cr_assert_eq(kf.pagemap_scan, works);
}

Test(kfeat, zero_pfn_is_the_pfn_of_a_read_page)
{
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e[2];

	cr_assert_neq(p, MAP_FAILED);
	(void)*(volatile char *)p;
	p[4096] = 1;
	cr_assert_eq(proc_pagemap_read(fd, (uintptr_t)p, (uintptr_t)p + 2 * 4096, e), 0);
	cr_assert_eq(kf.pagemap_pfn, pme_pfn(e[1]) != 0);
	if (kf.zero_pfn) {
		cr_assert(kf.pagemap_pfn);
		cr_assert_eq(pme_pfn(e[0]), kf.zero_pfn);
		cr_assert_neq(pme_pfn(e[1]), kf.zero_pfn);
	} else {
		cr_assert(!kf.pagemap_pfn || pme_pfn(e[0]) == 0);
	}
	munmap(p, 2 * 4096);
}

Test(kfeat, memfd_matches)
{
	int fd = memfd_create("t", MFD_CLOEXEC);

	cr_assert_eq(kf.memfd, fd >= 0);
	if (fd >= 0)
		close(fd);
}

Test(kfeat, xsave_is_consistent)
{
#if defined(__x86_64__)
	if (kf.xcr0) {
		/* x87 and SSE state are always enabled together with XSAVE */
		cr_assert_eq(kf.xcr0 & 3, 3, "xcr0 %llx", (unsigned long long)kf.xcr0);
		if (kf.xsave_size)
			/* 512 bytes legacy area + 64 bytes XSAVE header at least */
			cr_assert_geq(kf.xsave_size, 576);
	} else {
		cr_assert_eq(kf.xsave_size, 0);
	}
#else
	cr_assert_eq(kf.xsave_size, 0);
#endif
}

Test(kfeat, vvar_vclock_matches_maps)
{
	_cleanup_free_ char *maps = NULL;

	cr_assert_eq(proc_read_file("/proc/self/maps", &maps, NULL), 0);
	cr_assert_eq(kf.vvar_vclock, strstr(maps, "[vvar_vclock]") != NULL);
}

Test(kfeat, print_says_the_same)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&out, &len);
	char want[64];

	cr_assert_not_null(f);
	kfeat_print(&kf, f);
	fclose(f);

	for (const char *p = out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 31);
	snprintf(want, sizeof(want), "dirty_tracking: %s\n", kf.uffd_wp_async && kf.pagemap_scan ? "uffd-wp" : "none");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "shm_next_id: %s\n", kf.shm_next_id ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "pagemap_scan: %s\n", kf.pagemap_scan ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "uffd_wp_async: %s\n", kf.uffd_wp_async ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "lazy_pages: %s\n", kf.uffd_lazy ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "timerfd_set_ticks: %s\n", kf.timerfd_set_ticks ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "eventfd_semaphore: %s\n", kf.eventfd_semaphore ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "epoll_tfd: %s\n", kf.epoll_tfd ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	cr_assert(kf.epoll_tfd, "this kernel lists epoll items and compares their files");
	snprintf(want, sizeof(want), "xsave_size: %u\n", kf.xsave_size);
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "zero_pfn: 0x%llx\n", (unsigned long long)kf.zero_pfn);
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "sock_diag_unix: %s\n", kf.sock_diag_unix ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "sock_diag_inet: %s\n", kf.sock_diag_inet ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "sock_diag_netlink: %s\n", kf.sock_diag_netlink ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "so_peek_off: %s\n", kf.so_peek_off ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "open_by_handle: %s\n", kf.open_by_handle ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "inotify_fhandle: %s\n", kf.inotify_fhandle ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "seccomp_filters: %s\n", kf.seccomp_filters ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "tcp_repair: %s\nnet_lock: %s\ntime_ns: %s\n", kf.tcp_repair ? "yes" : "no",
		 kf.net_lock ? "yes" : "no", kf.time_ns ? "yes" : "no");
	cr_assert_not_null(strstr(out, want), "%s", out);
}

/* independent checks: the handle of "/" opens "/" (same inode); a watch's handle is in fdinfo */
Test(kfeat, handles_match_independent_checks)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 128];
	} h = { .fh.handle_bytes = 128 };
	_cleanup_close_ int mfd = open("/", O_RDONLY | O_CLOEXEC), fd = -1, ifd = inotify_init1(IN_CLOEXEC);
	_cleanup_free_ char *info = NULL;
	struct stat a, b;
	int mnt_id;

	cr_assert_geq(mfd, 0);
	cr_assert_geq(ifd, 0);
	if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt_id, 0) == 0)
		fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	cr_assert_eq(kf.open_by_handle, fd >= 0);
	if (fd >= 0) {
		cr_assert_eq(fstat(fd, &a), 0);
		cr_assert_eq(stat("/", &b), 0);
		cr_assert_eq(a.st_ino, b.st_ino);
	}
	cr_assert_gt(inotify_add_watch(ifd, "/", IN_ATTRIB), 0);
	cr_assert_eq(proc_read_filef(&info, NULL, "/proc/self/fdinfo/%d", ifd), 0);
	cr_assert_eq(kf.inotify_fhandle, strstr(info, " f_handle:") != NULL, "%s", info);
}

/* the kernel lists a socket pair we make exactly when sock_diag_unix says it can */
Test(kfeat, sock_diag_unix_matches)
{
	struct sockdiag d = { 0 };
	struct stat st;
	int sv[2];
	bool found;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(fstat(sv[0], &st), 0);
	found = sockdiag_collect(true, false, &d) == 0 && sockdiag_find_unix(&d, st.st_ino);
	cr_assert_eq(kf.sock_diag_unix, found);
	sockdiag_release(&d);
	close(sv[0]);
	close(sv[1]);
}

/* SO_PEEK_OFF: the second peek of a stream sees what follows the first */
Test(kfeat, so_peek_off_matches)
{
	int sv[2], zero = 0;
	char c = 0;
	bool works;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(send(sv[0], "xy", 2, 0), 2);
	works = setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0 &&
		recv(sv[1], &c, 1, MSG_PEEK) == 1 && recv(sv[1], &c, 1, MSG_PEEK) == 1 && c == 'y';
	cr_assert_eq(kf.so_peek_off, works);
	close(sv[0]);
	close(sv[1]);
}


/* in a child (the mode and the timer are per process): a timer made with the id asked for */
static bool timer_with_id_works(void)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int id = 4321;

		if (prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0) < 0)
			_exit(1);
		if (syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, &id) < 0 || id != 4321)
			_exit(2);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_neq(WEXITSTATUS(status), 2, "the prctl worked but timer_create() ignored the id");
	return WEXITSTATUS(status) == 0;
}

Test(kfeat, posix_timer_ids_matches_timer_create)
{
	cr_assert_eq(kf.posix_timer_ids, timer_with_id_works());
}

Test(kfeat, kfeat_off_takes_a_feature_away)
{
	struct kfeat off;

	setenv("MEMDUMP_KFEAT_OFF", "nonsense,posix_timer_ids", 1);
	cr_assert_eq(kfeat_probe(&off), 0);
	unsetenv("MEMDUMP_KFEAT_OFF");
	cr_assert_not(off.posix_timer_ids);
	cr_assert_eq(off.memfd, kf.memfd);
}
