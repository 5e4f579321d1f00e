/*
 * Kernel feature probing: each feature is tried once, on ourselves or on a
 * short-lived child, never guessed from the version. Deciding what to do
 * without a feature is left to the stage that needs it.
 */
#include "memdump/kfeat.h"
#include "memdump/netlock.h"
#include "memdump/model.h"
#include "memdump/cleanup.h"
#include "memdump/proc.h"
#include "memdump/sockdiag.h"
#include "memdump/timens.h"
#include "compat/fs.h"
#include "compat/mman.h"
#include "compat/prctl.h"
#include "compat/timerfd.h"
#include "compat/userfaultfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/elf.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef PR_SET_MM_MAP_SIZE	/* 3.18 */
#define PR_SET_MM_MAP_SIZE 15
#endif
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

struct mapping {
	void *addr;
	size_t len;
};

static void unmapp(struct mapping *m)
{
	if (m->addr && m->addr != MAP_FAILED)
		munmap(m->addr, m->len);
}
#define _cleanup_unmap_ _cleanup_(unmapp)

static int map_anon(struct mapping *m, size_t pages)
{
	long ps = sysconf(_SC_PAGESIZE);

	m->len = pages * ps;
	m->addr = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		return -errno;
	}
	return 0;
}

static int read_own_pme(int fd, const void *addr, uint64_t *ret)
{
	uint64_t a = (uintptr_t)addr;

	return proc_pagemap_read(fd, a, a + sysconf(_SC_PAGESIZE), ret);
}

static bool probe_pagemap_scan(int pagemap_fd)
{
	_cleanup_unmap_ struct mapping m = {};
	struct page_region r[4];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.vec = (uintptr_t)r,
		.vec_len = ARRAY_SIZE(r),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO,
	};
	int n;

	if (map_anon(&m, 1) < 0)
		return false;
	*(volatile char *)m.addr = 1;
	arg.start = (uintptr_t)m.addr;
	arg.end = arg.start + m.len;

	/* ENOTTY: no such ioctl; EINVAL: the struct or a mask is unknown */
	n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
	if (n != 1)
		return false;
	/* a page we just wrote must come back as one present, anonymous region */
	return r[0].start == arg.start && r[0].end == arg.end &&
	       (r[0].categories & (PAGE_IS_PRESENT | PAGE_IS_FILE)) == PAGE_IS_PRESENT;
}

/*
 * Reading untouched private anonymous memory maps the shared zero page:
 * two read-touched pages with the same non-zero PFN can only be it.
 */
static void probe_pfn(int pagemap_fd, struct kfeat *kf)
{
	_cleanup_unmap_ struct mapping m = {};
	long ps = sysconf(_SC_PAGESIZE);
	uint64_t e[3];

	if (map_anon(&m, 3) < 0)
		return;
	(void)*(volatile char *)m.addr;
	(void)*(volatile char *)((char *)m.addr + ps);
	*(volatile char *)((char *)m.addr + 2 * ps) = 1;

	if (read_own_pme(pagemap_fd, m.addr, &e[0]) < 0 ||
	    read_own_pme(pagemap_fd, (char *)m.addr + ps, &e[1]) < 0 ||
	    read_own_pme(pagemap_fd, (char *)m.addr + 2 * ps, &e[2]) < 0)
		return;

	/* without CAP_SYS_ADMIN every PFN reads 0 */
	kf->pagemap_pfn = pme_pfn(e[2]) != 0;
	if (kf->pagemap_pfn && pme_pfn(e[0]) != 0 && pme_pfn(e[0]) == pme_pfn(e[1]) &&
	    pme_pfn(e[0]) != pme_pfn(e[2]))
		kf->zero_pfn = pme_pfn(e[0]);
}

/* clear_refs may accept "4" while CONFIG_MEM_SOFT_DIRTY is off: check bit 55 */
static bool probe_soft_dirty(int pagemap_fd)
{
	_cleanup_unmap_ struct mapping m = {};
	_cleanup_close_ int fd = -1;
	uint64_t before, after;

	if (map_anon(&m, 1) < 0)
		return false;
	*(volatile char *)m.addr = 1;

	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "4", 1) != 1)
		return false;
	if (read_own_pme(pagemap_fd, m.addr, &before) < 0)
		return false;
	*(volatile char *)m.addr = 2;
	if (read_own_pme(pagemap_fd, m.addr, &after) < 0)
		return false;
	return !(before & PME_SOFT_DIRTY) && (after & PME_SOFT_DIRTY);
}

static bool probe_uffd_wp_async(void)
{
	_cleanup_close_ int fd = -1;
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};

	/* user-mode-only needs no privilege; older kernels lack the flag */
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	/* UFFDIO_API fails with EINVAL when a requested feature is unknown */
	return ioctl(fd, UFFDIO_API, &api) == 0 &&
	       (api.features & (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)) ==
		       (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED);
}

/* a userfaultfd that sees kernel-mode faults too (privileged), with the events lazy restore follows */
static bool probe_uffd_lazy(void)
{
	_cleanup_close_ int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	struct uffdio_api api = { .api = UFFD_API, .features = KFEAT_UFFD_LAZY };

	return fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & KFEAT_UFFD_LAZY) == KFEAT_UFFD_LAZY;
}

/*
 * Ask clone3() for our own pid as the child's: a kernel that knows
 * set_tid and lets us use it answers EEXIST without creating anything.
 * ENOSYS: no clone3; E2BIG/EINVAL: no set_tid; EPERM: no capability.
 */
static bool probe_clone3_set_tid(void)
{
#ifdef __NR_clone3
	pid_t tid = getpid();
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long r;

	r = syscall(__NR_clone3, &args, sizeof(args));
	if (r == 0)
		_exit(0);	/* cannot happen (our pid is taken), but never run on */
	if (r > 0) {
		waitpid(r, NULL, 0);
		return true;
	}
	return errno == EEXIST;
#else
	return false;
#endif
}

static bool probe_pidfd_getfd(void)
{
#if defined(__NR_pidfd_open) && defined(__NR_pidfd_getfd)
	_cleanup_close_ int pidfd = -1, pipefd = -1, fd = -1;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	close(p[1]);
	pipefd = p[0];

	pidfd = syscall(__NR_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return false;
	fd = syscall(__NR_pidfd_getfd, pidfd, pipefd, 0);
	return fd >= 0;
#else
	return false;
#endif
}

static bool probe_prctl_mm_map(void)
{
	unsigned int size = 0;

	/* only the size query: setting the map needs a whole mm layout */
	return prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) == 0 && size > 0;
}

static bool probe_memfd(void)
{
	int fd = memfd_create("memdump-kfeat", MFD_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool probe_timerfd_set_ticks(void)
{
	_cleanup_close_ int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	uint64_t ticks = 1;

	return fd >= 0 && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) == 0;
}

static bool probe_eventfd_semaphore(void)
{
	_cleanup_close_ int fd = eventfd(0, EFD_CLOEXEC);
	_cleanup_free_ char *info = NULL;
	struct proc_eventfd e;

	return fd >= 0 && proc_read_filef(&info, NULL, "/proc/self/fdinfo/%d", fd) >= 0 &&
	       proc_parse_eventfd(info, &e) == 0 && e.semaphore_known;
}

/* an epoll item's fd number in fdinfo, and its file by kcmp(KCMP_EPOLL_TFD) */
static bool probe_epoll_tfd(void)
{
	_cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC), fd = eventfd(0, EFD_CLOEXEC);
	_cleanup_free_ struct md_epoll_item *items = NULL;
	_cleanup_free_ char *info = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	struct kcmp_epoll_slot slot;
	size_t n = 0;

	if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ||
	    proc_read_filef(&info, NULL, "/proc/self/fdinfo/%d", ep) < 0 || proc_parse_epoll(info, &items, &n) < 0 ||
	    n != 1 || items[0].tfd != fd)
		return false;
	slot = (struct kcmp_epoll_slot){ .efd = (uint32_t)ep, .tfd = (uint32_t)fd };
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, (unsigned long)fd, (unsigned long)&slot) == 0;
}

/* "/" named by a file handle and opened again from it, as the dump of an inotify watch does */
static bool probe_open_by_handle(void)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 128];
	} h = { .fh.handle_bytes = 128 };
	_cleanup_close_ int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
	int mnt_id;

	if (mfd < 0 || name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt_id, 0) < 0)
		return false;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0;
}

/* a watch on "/" shows its file handle in fdinfo */
static bool probe_inotify_fhandle(void)
{
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC);
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	_cleanup_free_ char *info = NULL;
	size_t n = 0;

	return fd >= 0 && inotify_add_watch(fd, "/", IN_DELETE_SELF) > 0 &&
	       proc_read_filef(&info, NULL, "/proc/self/fdinfo/%d", fd) >= 0 && proc_parse_inotify(info, &w, &n) == 0 &&
	       n == 1 && w[0].has_fh;
}

static uint64_t probe_xcr0(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d, lo, hi;

	/* xgetbv faults unless the OS enabled XSAVE (CPUID.1:ECX.OSXSAVE) */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}

static bool probe_vvar_vclock(void)
{
	_cleanup_free_ char *maps = NULL;

	if (proc_read_file("/proc/self/maps", &maps, NULL) < 0)
		return false;
	return strstr(maps, " [vvar_vclock]\n") != NULL;
}

/* TCP repair (dump and restore --tcp-established): a socket may enter and leave it */
static bool probe_tcp_repair(void)
{
	_cleanup_close_ int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF;

	return sk >= 0 && setsockopt(sk, SOL_TCP, TCP_REPAIR, &on, sizeof(on)) == 0 &&
	       setsockopt(sk, SOL_TCP, TCP_REPAIR, &off, sizeof(off)) == 0;
}

/*
 * What the dump of a unix socket's queue relies on: with SO_PEEK_OFF, each
 * MSG_PEEK of a datagram socket gives the next datagram, leaving all queued.
 */
static bool probe_so_peek_off(void)
{
	_cleanup_close_ int a = -1, b = -1;
	int sv[2], zero = 0;
	char buf[4];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	a = sv[0];
	b = sv[1];
	if (send(a, "a", 1, 0) != 1 || send(a, "bc", 2, 0) != 2 ||
	    setsockopt(b, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return false;
	if (recv(b, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) != 1 || buf[0] != 'a' ||
	    recv(b, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) != 2 || buf[0] != 'b')
		return false;
	/* and nothing was taken */
	return recv(b, buf, sizeof(buf), MSG_DONTWAIT) == 1 && buf[0] == 'a';
}

/* the sysctl checks CAP_CHECKPOINT_RESTORE in the IPC namespace's owner at open */
static bool probe_shm_next_id(void)
{
	int fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * PR_TIMER_CREATE_RESTORE_IDS (6.15): timer_create() takes the id it is
 * given. Asking the current mode changes nothing; EINVAL means absent.
 */
static bool probe_timer_restore_ids(void)
{
	return prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0) >= 0;
}

/* a child makes a time namespace for its children with offsets, as a restore does (timens_make()) */
bool kfeat_probe_time_ns(void)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(timens_make(1000000000, 1000000000) == 0 ? 0 : 1);
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * MEMDUMP_KFEAT_OFF=name[,name...]: features to take as absent, so that
 * tests can run the fallbacks on a kernel that has them. Only the ones
 * listed here can be turned off.
 */
static void apply_off(struct kfeat *kf)
{
	const char *off = getenv("MEMDUMP_KFEAT_OFF");
	char buf[256], *save = NULL;

	if (!off || strlen(off) >= sizeof(buf))
		return;
	strcpy(buf, off);
	for (char *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save))
		if (!strcmp(n, "posix_timer_ids"))
			kf->posix_timer_ids = false;
}

/*
 * The ptrace requests are tried on a seized, interrupted child that only
 * waits to be killed. The child is killed and reaped on every path.
 */
static void probe_ptrace(struct kfeat *kf)
{
	uint8_t buf[256];
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		goto out_kill;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		goto out_kill;
	if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status))
		goto out_kill;

	/* unknown requests fail with EIO; both return the bytes they filled */
	memset(buf, 0, sizeof(buf));
	kf->rseq_config = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(buf), buf) > 0;
	memset(buf, 0, sizeof(buf));
	kf->syscall_info = ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(buf), buf) > 0;

#if defined(__x86_64__) || defined(__i386__)
	if (kf->xcr0) {
		/* larger than any XSAVE area so far (AMX: ~11 KiB) */
		size_t len = 64 * 1024;
		_cleanup_free_ void *x = malloc(len);
		struct iovec iov = { .iov_base = x, .iov_len = len };

		if (x && ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0)
			kf->xsave_size = iov.iov_len;
	}
#endif

out_kill:
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
}

/*
 * A child under a filter that allows everything, seized with its filters
 * suspended (CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE), gives its filter
 * and its flags (PTRACE_SECCOMP_GET_FILTER, _GET_METADATA): what dumping
 * and restoring seccomp takes.
 */
static bool probe_seccomp_filters(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { 1, &allow };
	bool ok = false;
	int status, p[2];
	char c = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
			c = 1;
		(void)!write(p[1], &c, 1);
		for (;;)
			pause();
	}
	close(p[1]);
	/* once the child has its filter (or could not have one) */
	if (read(p[0], &c, 1) == 1 && c && ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_SUSPEND_SECCOMP) == 0 &&
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0 && waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status)) {
		struct __ptrace_seccomp_metadata md = { 0 };

		ok = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL) == 1 &&
		     ptrace(PTRACE_SECCOMP_GET_METADATA, pid, (void *)sizeof(md), &md) == (long)sizeof(md);
	}
	close(p[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	return ok;
}

int kfeat_probe(struct kfeat *ret)
{
	_cleanup_close_ int pagemap_fd = -1;
	struct kfeat kf = {};

	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd >= 0) {
		kf.pagemap_scan = probe_pagemap_scan(pagemap_fd);
		probe_pfn(pagemap_fd, &kf);
		kf.soft_dirty = probe_soft_dirty(pagemap_fd);
	}
	kf.uffd_wp_async = probe_uffd_wp_async();
	kf.uffd_lazy = probe_uffd_lazy();
	kf.clone3_set_tid = probe_clone3_set_tid();
	kf.pidfd_getfd = probe_pidfd_getfd();
	kf.prctl_mm_map = probe_prctl_mm_map();
	kf.memfd = probe_memfd();
	kf.timerfd_set_ticks = probe_timerfd_set_ticks();
	kf.eventfd_semaphore = probe_eventfd_semaphore();
	kf.xcr0 = probe_xcr0();
	kf.vvar_vclock = probe_vvar_vclock();
	kf.shm_next_id = probe_shm_next_id();
	kf.posix_timer_ids = probe_timer_restore_ids();
	probe_ptrace(&kf);
	apply_off(&kf);

	*ret = kf;
	return 0;
}

int kfeat_probe_all(struct kfeat *ret)
{
	int r = kfeat_probe(ret);

	if (r < 0)
		return r;
	ret->so_peek_off = probe_so_peek_off();
	ret->sock_diag_unix = sockdiag_probe(AF_UNIX, 0);
	ret->sock_diag_netlink = sockdiag_probe(AF_NETLINK, 0);
	ret->sock_diag_inet = sockdiag_probe(AF_INET, IPPROTO_TCP) && sockdiag_probe(AF_INET, IPPROTO_UDP) &&
			      sockdiag_probe(AF_INET6, IPPROTO_TCP) && sockdiag_probe(AF_INET6, IPPROTO_UDP);
	ret->epoll_tfd = probe_epoll_tfd();
	ret->open_by_handle = probe_open_by_handle();
	ret->inotify_fhandle = probe_inotify_fhandle();
	ret->seccomp_filters = probe_seccomp_filters();
	ret->tcp_repair = probe_tcp_repair();
	ret->net_lock = netlock_probe() == 1;
	ret->time_ns = kfeat_probe_time_ns();
	return 0;
}

int kfeat_dirty_tracking(const struct kfeat *kf)
{
	if (kf->soft_dirty)
		return MD_TRACK_SOFT_DIRTY;
	if (kf->uffd_wp_async && kf->pagemap_scan)
		return MD_TRACK_UFFD_WP;
	return MD_TRACK_NONE;
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

void kfeat_print(const struct kfeat *kf, FILE *out)
{
	fprintf(out, "pagemap_scan: %s\n", yesno(kf->pagemap_scan));
	fprintf(out, "pagemap_pfn: %s\n", yesno(kf->pagemap_pfn));
	fprintf(out, "zero_pfn: 0x%llx\n", (unsigned long long)kf->zero_pfn);
	fprintf(out, "soft_dirty: %s\n", yesno(kf->soft_dirty));
	fprintf(out, "uffd_wp_async: %s\n", yesno(kf->uffd_wp_async));
	fprintf(out, "lazy_pages: %s\n", yesno(kf->uffd_lazy));
	fprintf(out, "clone3_set_tid: %s\n", yesno(kf->clone3_set_tid));
	fprintf(out, "rseq_config: %s\n", yesno(kf->rseq_config));
	fprintf(out, "syscall_info: %s\n", yesno(kf->syscall_info));
	fprintf(out, "pidfd_getfd: %s\n", yesno(kf->pidfd_getfd));
	fprintf(out, "prctl_mm_map: %s\n", yesno(kf->prctl_mm_map));
	fprintf(out, "memfd: %s\n", yesno(kf->memfd));
	fprintf(out, "timerfd_set_ticks: %s\n", yesno(kf->timerfd_set_ticks));
	fprintf(out, "eventfd_semaphore: %s\n", yesno(kf->eventfd_semaphore));
	fprintf(out, "epoll_tfd: %s\n", yesno(kf->epoll_tfd));
	fprintf(out, "xcr0: 0x%llx\n", (unsigned long long)kf->xcr0);
	fprintf(out, "xsave_size: %u\n", kf->xsave_size);
	fprintf(out, "vvar_vclock: %s\n", yesno(kf->vvar_vclock));
	fprintf(out, "shm_next_id: %s\n", yesno(kf->shm_next_id));
	fprintf(out, "posix_timer_ids: %s\n", yesno(kf->posix_timer_ids));
	fprintf(out, "sock_diag_unix: %s\n", yesno(kf->sock_diag_unix));
	fprintf(out, "sock_diag_inet: %s\n", yesno(kf->sock_diag_inet));
	fprintf(out, "sock_diag_netlink: %s\n", yesno(kf->sock_diag_netlink));
	fprintf(out, "so_peek_off: %s\n", yesno(kf->so_peek_off));
	fprintf(out, "open_by_handle: %s\n", yesno(kf->open_by_handle));
	fprintf(out, "inotify_fhandle: %s\n", yesno(kf->inotify_fhandle));
	fprintf(out, "seccomp_filters: %s\n", yesno(kf->seccomp_filters));
	fprintf(out, "tcp_repair: %s\n", yesno(kf->tcp_repair));
	fprintf(out, "net_lock: %s\n", yesno(kf->net_lock));
	fprintf(out, "time_ns: %s\n", yesno(kf->time_ns));
	/* what incremental dumps use here */
	fprintf(out, "dirty_tracking: %s\n", (const char *[]){ [MD_TRACK_NONE] = "none", [MD_TRACK_SOFT_DIRTY] =
							     "soft-dirty", [MD_TRACK_UFFD_WP] = "uffd-wp" }[kfeat_dirty_tracking(kf)]);
}
