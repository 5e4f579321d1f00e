/*
 * Remote syscalls through ptrace: point a stopped thread at an existing
 * `syscall` instruction, run to the syscall-exit stop, read rax. Register
 * and mask restoration is the caller-visible contract (inject.h).
 */
#include "memdump/inject.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

/* process_vm_{read,write}v, or /proc/PID/mem (FOLL_FORCE) where protections refuse them */
static int access_mem(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };
	_cleanup_close_ int fd = -1;
	char path[64];
	ssize_t n;

	n = write ? process_vm_writev(pid, &l, 1, &r, 1, 0) : process_vm_readv(pid, &l, 1, &r, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write ? pwrite(fd, buf, len, (off_t)addr) : pread(fd, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int inject_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	return access_mem(pid, addr, buf, len, false);
}

int inject_write_mem(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	return access_mem(pid, addr, (void *)buf, len, true);
}

int inject_find_syscall(pid_t pid, uint64_t *ret_ip)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[512];
	unsigned long s = 0, e = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]"))
			continue;
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			return -EINVAL;
		break;
	}
	if (!s || e <= s || e - s > (1 << 20))
		return -ENOENT;

	_cleanup_free_ unsigned char *buf = malloc(e - s);
	if (!buf)
		return -ENOMEM;
	r = inject_read_mem(pid, s, buf, e - s);
	if (r < 0)
		return r;
	/* Any 0f 05 works: we only ever execute that one instruction. */
	for (unsigned long i = 0; i + 1 < e - s; i++)
		if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
			*ret_ip = s + i;
			return 0;
		}
	return -ENOENT;
}

/* zombie or gone: /proc/TID/stat answers for any thread id, listed or not */
static bool thread_dead(pid_t tid)
{
	struct proc_stat st;

	if (proc_read_stat(tid, 0, &st) < 0)
		return true;
	return st.state == 'Z' || st.state == 'X';
}

int inject_wait(pid_t tid, int *ret_status)
{
	for (unsigned spins = 0;; spins++) {
		pid_t r = waitpid(tid, ret_status, __WALL | WNOHANG);

		if (r == tid)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* /proc costs more than a spin: looked at every 16th while spinning */
		if ((spins >= 64 || (spins & 15) == 15) && thread_dead(tid)) {
			/* it may have reported between the two looks */
			if (waitpid(tid, ret_status, __WALL | WNOHANG) == tid)
				return 0;
			return -ESRCH;
		}
		/* remote syscalls take microseconds: spin first, then back off to 1 ms */
		if (spins < 64)
			sched_yield();
		else
			usleep(spins < 1024 ? 20 : 1000);
	}
}

/* the next stop of tid; its exit (or death) is -ESRCH */
static int wait_stopped(pid_t tid, int *ret_status)
{
	for (;;) {
		int r = inject_wait(tid, ret_status);

		if (r < 0)
			return r;
		if (WIFEXITED(*ret_status) || WIFSIGNALED(*ret_status))
			return -ESRCH;
		if (WIFSTOPPED(*ret_status))
			return 0;
	}
}

/*
 * Wait for the interrupt stop of one thread. A signal being delivered at
 * the same moment shows up first as a signal-delivery stop: let it be
 * delivered (the handler frame is set up, as if it had come just before
 * the freeze) and wait again; the interrupt stays pending until trapped.
 */
int inject_wait_stop_sig(pid_t tid, int *stop_sig)
{
	int status, r;

	for (;;) {
		r = wait_stopped(tid, &status);
		if (r < 0)
			return r;
		if (status >> 16 == PTRACE_EVENT_STOP) {
			/* SIGTRAP: no group-stop in effect or under way (do_jobctl_trap()) */
			if (stop_sig)
				*stop_sig = md_stop_signal(WSTOPSIG(status)) ? WSTOPSIG(status) : 0;
			return 0;
		}
		if (status >> 16) {
			/* another event stop (exit, clone...): resume into the pending interrupt */
			if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
				return -errno;
			continue;
		}
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(status)) < 0)
			return -errno;
	}
}

int inject_wait_stop(pid_t tid)
{
	return inject_wait_stop_sig(tid, NULL);
}

/*
 * Calls that give -ERESTART_RESTARTBLOCK when a signal or a stop
 * interrupts them, whose arguments are all still in the registers: run
 * again, they wait for what they waited for (a relative timeout counts
 * again from the start). restart_syscall itself is not one: what it
 * would resume is in the old process's restart block.
 */
static bool rerun_for_restart_block(uint64_t nr)
{
	return nr == SYS_poll || nr == SYS_nanosleep || nr == SYS_clock_nanosleep || nr == SYS_futex;
}

/*
 * Calls the kernel never restarts, which fail with EINTR even when only a
 * stop interrupts them (signal(7)), as the freeze for the dump does. Each
 * had done nothing yet, and its arguments are still in the registers (a
 * relative timeout counts again). semop()/semtimedop() are all or nothing:
 * they wait again on the semaphores the tree's own IPC namespace brought
 * back, or the ones that stayed in memdump's.
 */
static bool eintr_on_stop(uint64_t nr)
{
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2 || nr == SYS_rt_sigtimedwait ||
	       nr == SYS_semop || nr == SYS_semtimedop;
}

void inject_normalize_restart(struct user_regs_struct *r, enum inject_pending pending)
{
	bool handler = pending != INJECT_PENDING_NONE, eintr;

	if ((int64_t)r->orig_rax < 0)
		return;
	switch ((int64_t)r->rax) {
	case -ERESTARTSYS:
		eintr = pending == INJECT_PENDING_NORESTART;
		break;
	case -ERESTARTNOINTR:
		eintr = false;
		break;
	case -ERESTARTNOHAND:
		eintr = handler;
		break;
	case -ERESTART_RESTARTBLOCK:
		eintr = handler || !rerun_for_restart_block(r->orig_rax);
		break;
	case -EINTR:
		/* not yet taken by the thread: a handler about to run must see it */
		eintr = handler || !eintr_on_stop(r->orig_rax);
		break;
	default:
		return;
	}
	if (eintr) {
		r->rax = (uint64_t)-EINTR;
	} else {
		r->rax = r->orig_rax;
		r->rip -= 2;
	}
}

int inject_init(struct inject_ctx *ctx, pid_t tid, uint64_t syscall_ip)
{
	uint64_t all = ~0ULL;

	memset(ctx, 0, sizeof(*ctx));
	ctx->tid = tid;
	ctx->syscall_ip = syscall_ip;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &ctx->saved) < 0)
		return -errno;
	ctx->restore_regs = true;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &ctx->saved_sigmask) < 0)
		return -errno;
	/* With every signal blocked no signal-delivery stop can come between us and the syscall. */
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &all) < 0)
		return -errno;
	ctx->restore_mask = true;
	return 0;
}

/*
 * Resume with PTRACE_SYSCALL until the next syscall stop; report entry/exit.
 * With every signal blocked, the only signal that can stop the thread on
 * the way is an unblockable stop signal: hold it (ctx->held_signal) and go
 * on; inject_fini() sends it again, so the process still stops.
 */
static int wait_syscall_stop(struct inject_ctx *ctx, bool *ret_exit)
{
	pid_t tid = ctx->tid;
	struct __ptrace_syscall_info info;
	int status, r;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
			return -errno;
		r = wait_stopped(tid, &status);
		if (r < 0)
			return r;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			memset(&info, 0, sizeof(info));
			if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) < 0)
				return -errno;
			if (info.op == PTRACE_SYSCALL_INFO_ENTRY || info.op == PTRACE_SYSCALL_INFO_EXIT) {
				*ret_exit = info.op == PTRACE_SYSCALL_INFO_EXIT;
				return 0;
			}
			continue;
		}
		/* event stops (clone, exec...) and group-stop notifications: go on */
		if (WSTOPSIG(status) == SIGTRAP || status >> 16)
			continue;
		if (WSTOPSIG(status) == SIGSTOP) {
			ctx->held_signal = SIGSTOP;
			continue;
		}
		/* anything else cannot come from the syscalls we run: do not swallow it */
		log_debug("thread %d: signal %d during remote syscall", tid, WSTOPSIG(status));
		return -EINTR;
	}
}

int inject_syscall(struct inject_ctx *ctx, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6, int64_t *ret)
{
	struct user_regs_struct regs = ctx->saved;
	bool exit_stop = false;
	int r;

	regs.rip = ctx->syscall_ip;
	regs.rax = (uint64_t)nr;
	regs.orig_rax = (uint64_t)-1;	/* no syscall-restart fix-up on the way out of this stop */
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	if (ptrace(PTRACE_SETREGS, ctx->tid, NULL, &regs) < 0)
		return -errno;
	ctx->ran = true;

	r = wait_syscall_stop(ctx, &exit_stop);
	if (r < 0)
		return r;
	if (!exit_stop) {
		r = wait_syscall_stop(ctx, &exit_stop);
		if (r < 0)
			return r;
	}
	if (!exit_stop)
		return -EPROTO;
	if (ptrace(PTRACE_GETREGS, ctx->tid, NULL, &regs) < 0)
		return -errno;
	*ret = (int64_t)regs.rax;
	return 0;
}

int inject_take_userfaultfd(struct inject_ctx *ctx, int pidfd, int flags, int *ret)
{
	int64_t res, closed;
	int r, fd;

	r = inject_syscall(ctx, SYS_userfaultfd, (uint64_t)flags, 0, 0, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res < 0) {
		*ret = (int)res;
		return 0;
	}
	fd = md_pidfd_getfd(pidfd, (int)res);
	if (fd < 0)
		fd = -errno;
	r = inject_syscall(ctx, SYS_close, (uint64_t)res, 0, 0, 0, 0, 0, &closed);
	if (r >= 0 && closed < 0)
		r = (int)closed;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret = fd;
	return 0;
}

int inject_fini(struct inject_ctx *ctx)
{
	int r = 0;

	if (ctx->restore_mask) {
		if (ptrace(PTRACE_SETSIGMASK, ctx->tid, sizeof(uint64_t), &ctx->saved_sigmask) < 0)
			r = -errno;
		ctx->restore_mask = false;
	}
	if (ctx->held_signal) {
		/* pending again; taken as a stop when the thread moves on */
		if (syscall(SYS_tkill, ctx->tid, ctx->held_signal) < 0 && !r)
			r = -errno;
		ctx->held_signal = 0;
	}
	if (ctx->restore_regs) {
		if (ptrace(PTRACE_SETREGS, ctx->tid, NULL, &ctx->saved) < 0 && !r)
			r = -errno;
		ctx->restore_regs = false;
		/*
		 * From the syscall-exit stop, let it run into an interrupt trap:
		 * the kernel passes through signal handling first, which is what
		 * settles (or restarts) an interrupted syscall of the thread's.
		 * No user instruction runs before the trap.
		 */
		if (ctx->ran && !r) {
			if (ptrace(PTRACE_INTERRUPT, ctx->tid, NULL, NULL) < 0 ||
			    ptrace(PTRACE_CONT, ctx->tid, NULL, NULL) < 0)
				r = -errno;
			else
				r = inject_wait_stop(ctx->tid);
			ctx->ran = false;
		}
	}
	return r;
}
