/*
 * The restore driver: read and validate every image, check that the PIDs
 * are free and that this kernel can take the image, then create the
 * process (clone3 with set_tid), let it set up its fds in C, rebuild it
 * by remote syscalls (mm.c, thread.c) and let it go. Any failure after
 * clone3 kills the new process: nothing half-restored is left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/proc.h"
#include "memdump/restore.h"
#include "restore/internal.h"

int restore_rcall(struct restore_ctx *rc, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, uint64_t a6, int64_t *ret)
{
	int r = inject_syscall(&rc->ic, nr, a1, a2, a3, a4, a5, a6, ret);

	if (r < 0)
		return log_err(r, "remote %s in %d failed", what, rc->pid);
	return 0;
}

int restore_rcall_ok(struct restore_ctx *rc, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		     uint64_t a4, uint64_t a5, uint64_t a6)
{
	int64_t res;
	int r = restore_rcall(rc, what, nr, a1, a2, a3, a4, a5, a6, &res);

	if (r < 0)
		return r;
	if (res < 0 && res > -4096)
		return log_err((int)res, "%s in %d", what, rc->pid);
	return 0;
}

static int read_images(struct restore_ctx *rc, const char *dir)
{
	char name[64], err[256];
	pid_t pid;
	int r;

	r = image_dir_open(dir, false, &rc->dirfd);
	if (r < 0)
		return r;
	r = image_read_inventory(rc->dirfd, &rc->inv);
	if (r < 0)
		return r;
	if (rc->inv.n_pids != 1)
		return log_err(-ENOTSUP, "image '%s' holds %zu processes; only one is supported yet", dir,
			       rc->inv.n_pids);
	pid = rc->inv.pids[0];
	r = image_read_proc(rc->dirfd, pid, &rc->p);
	if (r < 0)
		return r;
	r = image_read_pagemap(rc->dirfd, pid, &rc->pm);
	if (r < 0)
		return r;
	r = image_check_proc(&rc->p, &rc->pm, err, sizeof(err));
	if (r < 0)
		return log_err(r, "image of %d in '%s': %s", pid, dir, err);
	image_pages_name(name, sizeof(name), false, (uint64_t)pid);
	r = image_pages_open(rc->dirfd, name, rc->pm.nr_data_pages, true, &rc->pages_fd);
	if (r < 0)
		return r;

	rc->shms = calloc(rc->inv.n_shm_ids + 1, sizeof(*rc->shms));
	if (!rc->shms)
		return -ENOMEM;
	for (size_t i = 0; i < rc->inv.n_shm_ids; i++) {
		struct restore_shm *s = &rc->shms[i];

		s->pages_fd = -1;
		rc->n_shms++;
		r = image_read_shm(rc->dirfd, rc->inv.shm_ids[i], &s->shm, &s->pm);
		if (r < 0)
			return r;
		image_pages_name(name, sizeof(name), true, s->shm.id);
		r = image_pages_open(rc->dirfd, name, s->pm.nr_data_pages, true, &s->pages_fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* what this machine must match: free ids, the same vDSO, xsave features, the files */
static int check_host(struct restore_ctx *rc)
{
	const struct md_proc *p = &rc->p;
	const struct kfeat *kf = &rc->kf;
	struct md_vma *own = NULL;
	size_t n_own = 0;
	int r;

	for (size_t i = 0; i < p->n_threads; i++) {
		pid_t tid = p->threads[i].tid;
		char path[32];

		snprintf(path, sizeof(path), "/proc/%d", tid);
		if (access(path, F_OK) == 0 || kill(tid, 0) == 0 || errno != ESRCH)
			return log_err(-EEXIST, "%s %d is in use; cannot restore it", i ? "thread id" : "pid", tid);
	}

	r = kfeat_probe(&rc->kf);
	if (r < 0)
		return log_err(r, "cannot probe kernel features");
	if (!kf->xsave_size)
		return log_err(-ENOTSUP, "this kernel reports no xsave state: cannot restore registers");
	for (size_t i = 0; i < p->n_threads; i++) {
		uint64_t xf = p->threads[i].xfeatures;

		if (xf & ~kf->xcr0)
			return log_err(-ENOTSUP, "thread %d used CPU state (xfeatures %#llx) this CPU lacks (%#llx)",
				       p->threads[i].tid, (unsigned long long)xf, (unsigned long long)kf->xcr0);
	}

	/* memdump's own special mappings are what the new process will have */
	r = proc_read_smaps(getpid(), &own, &n_own);
	if (r < 0)
		return log_err(r, "cannot read our own mappings");
	for (size_t i = 0; i < p->n_vmas && r >= 0; i++) {
		const struct md_vma *v = &p->vmas[i];
		const struct md_vma *o = NULL;

		if (v->kind != MD_VMA_VDSO && v->kind != MD_VMA_VVAR && v->kind != MD_VMA_VVAR_VCLOCK)
			continue;
		for (size_t j = 0; j < n_own; j++)
			if (own[j].kind == v->kind)
				o = &own[j];
		if (!o || o->end - o->start != v->end - v->start) {
			r = log_err(-ENOTSUP, "this kernel's vDSO differs from the dumped one (%s)",
				    v->kind == MD_VMA_VDSO ? "[vdso] size" : "[vvar] layout");
			break;
		}
		if (v->kind == MD_VMA_VDSO && p->vdso_hash &&
		    XXH3_64bits((void *)o->start, o->end - o->start) != p->vdso_hash) {
			r = log_err(-ENOTSUP, "this kernel's vDSO differs from the dumped one (content)");
			break;
		}
	}
	md_vmas_free(own, n_own);
	if (r < 0)
		return r;

	for (size_t i = 0; i < p->n_vmas; i++)
		if (p->vmas[i].kind == MD_VMA_FILE && access(p->vmas[i].path, F_OK) < 0)
			return log_err(-errno, "file '%s' mapped at %#llx is missing", p->vmas[i].path,
				       (unsigned long long)p->vmas[i].start);
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].kind != MD_FD_MEMFD && access(p->fds[i].path, F_OK) < 0)
			return log_err(-errno, "file '%s' of fd %d is missing", p->fds[i].path, p->fds[i].fd);
	return 0;
}

static int wait_child_stop(struct restore_ctx *rc)
{
	int status, r;

	for (;;) {
		r = inject_wait(rc->pid, &status);
		if (r == -ESRCH) {
			/* dead but not yet reported: take the report */
			if (waitpid(rc->pid, &status, __WALL) < 0)
				return log_err(-errno, "cannot wait for %d", rc->pid);
		} else if (r < 0) {
			return log_err(r, "cannot wait for %d", rc->pid);
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			rc->pid = 0;	/* gone already */
			if (rc->rep->status < 0)
				return log_err(rc->rep->status, "%s", rc->rep->msg);
			return log_err(-ECHILD, "the new process died while setting up");
		}
		if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP && !(status >> 16))
			return 0;	/* its own SIGSTOP: ready for us */
		/* anything else: let it go on, with its signal (a fault must not repeat forever) */
		if (ptrace(PTRACE_CONT, rc->pid, NULL, (void *)(long)(status >> 16 ? 0 : WSTOPSIG(status))) < 0)
			return log_err(-errno, "cannot resume %d", rc->pid);
	}
}

static int create_process(struct restore_ctx *rc)
{
	pid_t want = rc->p.pid;
	struct clone_args a = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&want,
		.set_tid_size = 1,
	};
	long pid;

	rc->rep_size = sizeof(struct child_report) + (rc->p.n_vmas + 1) * sizeof(int);
	rc->rep = mmap(NULL, rc->rep_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rc->rep == MAP_FAILED) {
		rc->rep = NULL;
		return -errno;
	}
	rc->rep->status = -EINPROGRESS;
	rc->attached = calloc(rc->p.n_threads + 1, sizeof(pid_t));
	if (!rc->attached)
		return -ENOMEM;

	fflush(NULL);
	pid = syscall(SYS_clone3, &a, sizeof(a));
	if (pid < 0)
		return log_err(-errno, "cannot create process %d", want);
	if (pid == 0)
		restore_child_main(rc);
	rc->pid = (pid_t)pid;
	/* EXITKILL: if memdump dies now, the half-built process dies with it */
	if (ptrace(PTRACE_SEIZE, rc->pid, NULL,
		   (void *)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE)) < 0)
		return log_err(-errno, "cannot seize the new process %d", rc->pid);
	rc->attached[rc->n_attached++] = rc->pid;
	rc->rep->go = 1;
	return wait_child_stop(rc);
}

static int prepare_leader(struct restore_ctx *rc)
{
	struct __ptrace_rseq_configuration cfg;
	uint64_t ip;
	int r;

	/* the new process is a copy of us: our vDSO is its vDSO */
	r = inject_find_syscall(getpid(), &ip);
	if (r < 0)
		return log_err(r, "no syscall instruction in our vdso");
	r = inject_init(&rc->ic, rc->pid, ip);
	if (r < 0)
		return log_err(r, "cannot prepare %d", rc->pid);
	/* glibc registered rseq in memdump; its area is about to be unmapped */
	memset(&cfg, 0, sizeof(cfg));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, rc->pid, sizeof(cfg), &cfg) > 0 && cfg.rseq_abi_pointer)
		return restore_rcall_ok(rc, "rseq unregister", SYS_rseq, cfg.rseq_abi_pointer, cfg.rseq_abi_size, 1,
					cfg.signature, 0, 0);
	return 0;
}

static int finish_process(struct restore_ctx *rc)
{
	const struct md_proc *p = &rc->p;
	int r;

	for (int which = 0; which < 3; which++) {
		const struct md_itimer *it = &p->itimers[which];
		int64_t v[4] = { it->interval_sec, it->interval_usec, it->value_sec, it->value_usec };

		if (!v[0] && !v[1] && !v[2] && !v[3])
			continue;
		/*
		 * Read while its signal was pending, a periodic timer shows no time
		 * left; setitimer() would take that for "disarm": fire it at once.
		 */
		if (!v[2] && !v[3])
			v[3] = 1;
		r = inject_write_mem(rc->pid, rc->scratch, v, sizeof(v));
		if (r < 0)
			return log_err(r, "cannot write to %d", rc->pid);
		r = restore_rcall_ok(rc, "setitimer", SYS_setitimer, (uint64_t)which, rc->scratch, 0, 0, 0, 0);
		if (r < 0)
			return r;
	}
	r = restore_rcall_ok(rc, "prctl(PR_SET_PDEATHSIG)", SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0);
	if (r < 0)
		return r;
	r = restore_rcall_ok(rc, "munmap of the scratch area", SYS_munmap, rc->scratch, RESTORE_SCRATCH_SIZE, 0, 0, 0,
			     0);
	if (r < 0)
		return r;
	rc->scratch = 0;

	/* limits last: a low RLIMIT_AS or NOFILE must not get in our way */
	for (int res = 0; res < MD_RLIM_NLIMITS; res++) {
		struct rlimit cur, want = { p->rlimits[res].cur, p->rlimits[res].max };

		if (prlimit(rc->pid, res, NULL, &cur) < 0)
			continue;
		if (want.rlim_max > cur.rlim_max) {
			log_warn("limit %d: hard %llu is above ours (%llu); kept at %llu", res,
				 (unsigned long long)want.rlim_max, (unsigned long long)cur.rlim_max,
				 (unsigned long long)cur.rlim_max);
			want.rlim_max = cur.rlim_max;
		}
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		if (prlimit(rc->pid, res, &want, NULL) < 0)
			log_warn("cannot set limit %d of %d: %s", res, rc->pid, strerror(errno));
	}
	return restore_finish_threads(rc);
}

static void kill_new(struct restore_ctx *rc)
{
	int status;

	if (!rc->pid)
		return;
	kill(rc->pid, SIGKILL);
	/* the leader reports last, after every other thread (see freeze_kill) */
	for (size_t i = rc->n_attached; i-- > 0;)
		while (waitpid(rc->attached[i], &status, __WALL) >= 0 && !WIFEXITED(status) && !WIFSIGNALED(status))
			;
	rc->pid = 0;
}

static void restore_ctx_release(struct restore_ctx *rc)
{
	if (rc->dirfd >= 0)
		close(rc->dirfd);
	if (rc->pages_fd >= 0)
		close(rc->pages_fd);
	for (size_t i = 0; i < rc->n_shms; i++) {
		if (rc->shms[i].pages_fd >= 0)
			close(rc->shms[i].pages_fd);
		md_shm_release(&rc->shms[i].shm);
		md_pagemap_release(&rc->shms[i].pm);
	}
	free(rc->shms);
	if (rc->rep)
		munmap(rc->rep, rc->rep_size);
	free(rc->attached);
	free(rc->vma_filled);
	md_pagemap_release(&rc->pm);
	md_proc_release(&rc->p);
	md_inventory_release(&rc->inv);
}

int restore_run(const struct restore_opts *o)
{
	struct restore_ctx rc = { .dirfd = -1, .pages_fd = -1 };
	int r, status;

	r = read_images(&rc, o->dir);
	if (r < 0)
		goto out;
	r = check_host(&rc);
	if (r < 0)
		goto out;

	/* nothing exists before this point; from here on failure kills the new process */
	r = create_process(&rc);
	if (r < 0)
		goto out_kill;
	r = prepare_leader(&rc);
	if (r < 0)
		goto out_kill;
	r = restore_mm(&rc);
	if (r < 0)
		goto out_kill;
	r = restore_threads(&rc);
	if (r < 0)
		goto out_kill;
	r = finish_process(&rc);
	if (r < 0)
		goto out_kill;

	/* all state is in place: let every thread go */
	for (size_t i = 0; i < rc.n_attached; i++)
		if (ptrace(PTRACE_DETACH, rc.attached[i], NULL, NULL) < 0) {
			r = log_err(-errno, "cannot release thread %d", rc.attached[i]);
			goto out_kill;
		}
	log_debug("restored %d with %zu threads", rc.pid, rc.p.n_threads);

	if (o->detach) {
		r = 0;
		goto out;
	}
	if (waitpid(rc.pid, &status, 0) < 0) {
		r = log_err(-errno, "cannot wait for %d", rc.pid);
		goto out;
	}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	goto out;

out_kill:
	kill_new(&rc);
out:
	restore_ctx_release(&rc);
	return r;
}
