#pragma once
/*
 * Remote syscalls: make a ptrace-stopped thread execute one syscall at a
 * time. The thread's registers and signal mask are saved by inject_init()
 * and put back by inject_fini() on every path; the caller owns the stop.
 *
 * The syscall instruction used is one that already exists in the target
 * (in its [vdso]), so no byte of the target is ever written.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* the kernel's codes of an interrupted syscall, which no uapi header has */
#ifndef ERESTARTSYS
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516
#endif

/*
 * What the signal the thread will take first on its way back to user
 * space does to an interrupted syscall (the kernel's handle_signal()).
 */
enum inject_pending {
	INJECT_PENDING_NONE = 0,	/* no handler will run: restart */
	INJECT_PENDING_RESTART,		/* a handler with SA_RESTART */
	INJECT_PENDING_NORESTART,	/* a handler without SA_RESTART */
};

struct inject_ctx {
	pid_t tid;
	uint64_t syscall_ip;		/* address of a `syscall` (0f 05) in the target */
	struct user_regs_struct saved;	/* registers at inject_init() */
	uint64_t saved_sigmask;
	bool restore_regs;		/* inject_fini() writes 'saved' back */
	bool restore_mask;
	int held_signal;		/* a stop signal taken during our work, sent again by inject_fini() */
	bool ran;			/* a syscall of ours ran: the thread sits in a syscall stop */
};

/*
 * waitpid(tid, __WALL) for a ptrace stop that cannot hang on a dead
 * thread: when a traced group dies, its leader reports only after every
 * other thread has been collected, so waiting for the leader alone would
 * block forever. A thread found dead (zombie or gone) while we wait gives
 * -ESRCH; an exit reported by waitpid is returned as a status as usual.
 */
int inject_wait(pid_t tid, int *ret_status);

/*
 * Wait for the PTRACE_EVENT_STOP of a seized thread (after an interrupt,
 * or a new thread auto-attached by PTRACE_O_TRACECLONE). Signals met on
 * the way are delivered, other event stops passed. -ESRCH if it died.
 */
int inject_wait_stop(pid_t tid);
/*
 * The same, and in *stop_sig the signal of the group-stop the thread is
 * in (SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU: the whole process is stopped,
 * or stopping), or 0.
 */
int inject_wait_stop_sig(pid_t tid, int *stop_sig);

/* Find a `syscall` instruction in the [vdso] of pid (read through /proc/PID/mem). */
int inject_find_syscall(pid_t pid, uint64_t *ret_ip);

/* Save regs and sigmask of a stopped, seized tid; block all signals while we work. */
int inject_init(struct inject_ctx *ctx, pid_t tid, uint64_t syscall_ip);

/*
 * Run syscall nr with up to six arguments in ctx->tid. Returns 0 and the
 * target's raw result in *ret (a negative value is the target's -errno,
 * not ours), or our own -errno if ptrace failed (e.g. the thread died).
 * Event stops met on the way (a clone event) are passed through.
 */
int inject_syscall(struct inject_ctx *ctx, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6, int64_t *ret);

/*
 * A userfaultfd made by ctx->tid (userfaultfd(flags), run there), taken
 * through pidfd with pidfd_getfd() and closed there again: our fd in *ret,
 * or the -errno either kernel call gave. Returns < 0 only where a remote
 * syscall failed or the remote close did not succeed (the thread cannot
 * go on as it was).
 */
int inject_take_userfaultfd(struct inject_ctx *ctx, int pidfd, int flags, int *ret);

/*
 * Put the saved mask and registers back. If we ran syscalls, the thread
 * sits in a syscall-exit stop, from where an interrupted syscall of its
 * own (rax = -ERESTART*) would leak to user space unsettled: so it is
 * parked again in an interrupt stop, inside the kernel's signal handling,
 * which settles the restart against the signals pending when it runs.
 */
int inject_fini(struct inject_ctx *ctx);

/*
 * Registers for a new process (an image) of a thread stopped inside an
 * interrupted syscall (rax = -ERESTART*): settle them as the kernel's
 * signal handling would on the way out, given what the first pending
 * signal's handler allows: -EINTR, or rax = orig_rax and rip -= 2 to run
 * the syscall again. A new process has no restart block to resume:
 * -ERESTART_RESTARTBLOCK runs poll(), nanosleep(), clock_nanosleep() and
 * futex() again from their registers, and gives -EINTR for the rest. The
 * -EINTR of an epoll wait that only the freeze interrupted runs it again.
 */
void inject_normalize_restart(struct user_regs_struct *r, enum inject_pending pending);

/* Copy to/from target memory (process_vm_{read,write}v; /proc/PID/mem when that fails). */
int inject_write_mem(pid_t pid, uint64_t addr, const void *buf, size_t len);
int inject_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len);
