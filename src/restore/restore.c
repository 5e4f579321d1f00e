/*
 * The restore driver: read and validate every image, plan the tree, check
 * that the PIDs are free and that this kernel can take the image, open
 * every file the tree needs; only then create the root (clone3 with
 * set_tid). Every other process is forked by its restored parent, after
 * the parent's memory is back, so pages they shared copy-on-write are
 * shared again. Then groups, zombies, fds, threads, signals, registers,
 * and the whole tree is let go at once. Any failure after clone3 kills
 * everything created: nothing half-restored is left behind.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/hash.h"
#include "memdump/image.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/plan.h"
#include "memdump/proc.h"
#include "memdump/progress.h"
#include "memdump/restore.h"
#include "memdump/sigs.h"
#include "restore/internal.h"

#define PTRACE_OPTIONS \
	(PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)

int restore_rcall(struct restore_proc *rp, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, uint64_t a6, int64_t *ret)
{
	int r = inject_syscall(&rp->ic, nr, a1, a2, a3, a4, a5, a6, ret);

	if (r < 0)
		return log_err(r, "remote %s in %d failed", what, rp->pid);
	return 0;
}

int restore_rcall_ok(struct restore_proc *rp, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		     uint64_t a4, uint64_t a5, uint64_t a6)
{
	int64_t res;
	int r = restore_rcall(rp, what, nr, a1, a2, a3, a4, a5, a6, &res);

	if (r < 0)
		return r;
	if (res < 0 && res > -4096)
		return log_err((int)res, "%s in %d", what, rp->pid);
	return 0;
}

/* rt_sigaction(sig) in rp from the kernel's struct: handler, flags, restorer, mask */
static int set_sigaction(struct restore_proc *rp, int sig, const uint64_t k[4])
{
	int r = inject_write_mem(rp->pid, rp->scratch, k, 4 * sizeof(uint64_t));

	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	return restore_rcall_ok(rp, "rt_sigaction", SYS_rt_sigaction, (uint64_t)sig, rp->scratch, 0, 8, 0, 0);
}

/* ---- reading and checking, before anything exists ---- */

/*
 * A pages file of the image, checked before anything is created: whole,
 * or for a lazy restore by its index, its chunks then being checked as
 * they are served (a version 1 file has no such index: whole).
 */
int restore_open_pages(const struct restore_ctx *rc, int dirfd, const char *name, uint64_t expect_pages,
		       struct image_pages **ret)
{
	struct image_pages_stat st;
	struct image_pages *p;
	int r;

	r = image_pages_open(dirfd, name, expect_pages, !rc->lazy, &p);
	if (r < 0)
		return r;
	image_pages_info(p, &st);
	if (rc->lazy && !st.chunk_hashes) {
		r = image_pages_verify(p);
		if (r < 0) {
			image_pages_close(p);
			return r;
		}
	}
	*ret = p;
	return 0;
}

static int read_proc(struct restore_ctx *rc, struct restore_proc *rp, pid_t pid, const char *dir)
{
	char name[64], err[256];
	int r;

	r = image_read_proc(rc->dirfd, pid, &rp->p);
	if (r < 0 || rp->p.zombie)
		return r;
	r = image_read_pagemap(rc->dirfd, pid, &rp->pm);
	if (r < 0)
		return r;
	r = image_check_proc(&rp->p, &rp->pm, err, sizeof(err));
	if (r < 0)
		return log_err(r, "image of %d in '%s': %s", pid, dir, err);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, (uint64_t)pid);
	r = restore_open_pages(rc, rc->dirfd, name, rp->pm.nr_data_pages, &rp->pages);
	if (r < 0)
		return r;
	return restore_plan_sources(rc, rp, dir);
}

/*
 * A child's INHERIT pages come from its parent by fork: the parent must be
 * alive in the image and have the very same VMA there.
 */
static int check_inherit(const struct restore_proc *rp, const char *dir)
{
	const struct md_proc *p = &rp->p;
	size_t v = 0;

	for (size_t i = 0; i < rp->pm.n; i++) {
		const struct md_pagemap_entry *e = &rp->pm.entries[i];

		if (!(e->flags & MD_PM_INHERIT))
			continue;
		while (p->vmas[v].end <= e->vaddr)
			v++;	/* image_check_proc(): every entry is inside a VMA */
		if (!rp->parent || rp->parent->p.zombie ||
		    !plan_vma_twin(&p->vmas[v], rp->parent->p.vmas, rp->parent->p.n_vmas))
			return log_err(-EINVAL, "image of %d in '%s': pages at %#llx are its parent's, which has no "
						"such mapping", p->pid, dir, (unsigned long long)e->vaddr);
	}
	return 0;
}

/* procs: rc's processes, as an array */
static int plan_tree(struct restore_ctx *rc, const struct md_proc *procs, const char *dir)
{
	_cleanup_free_ struct tree_plan *plan = calloc(rc->n, sizeof(*plan));
	char err[256];
	int r;

	if (!plan)
		return -ENOMEM;
	r = tree_plan_procs(procs, rc->n, rc->shell_job, plan, err, sizeof(err));
	if (r == -ENOTSUP)
		return log_err(r, "image '%s': %s", dir, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rc->n; i++) {
		struct restore_proc *rp = &rc->procs[i];

		rp->plan = plan[i];
		rp->parent = plan[i].parent >= 0 ? &rc->procs[plan[i].parent] : NULL;
		if (rp->parent && rp->parent->p.zombie)
			return log_err(-EINVAL, "image '%s': process %d is a child of the zombie %d", dir, rp->p.pid,
				       rp->parent->p.pid);
		if (!rp->p.zombie) {
			r = check_inherit(rp, dir);
			if (r < 0)
				return r;
		}
	}
	if (rc->procs[0].p.zombie)
		return log_err(-EINVAL, "image '%s': the root %d is a zombie", dir, rc->procs[0].p.pid);
	return 0;
}

/* every mapping and memfd fd names an object of the image, of its kind, and fits in it */
static int check_shm_refs(const struct restore_ctx *rc, const char *dir)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_vmas; i++) {
			const struct md_vma *v = &p->vmas[i];
			const struct restore_shm *s;
			bool sysv = v->kind == MD_VMA_SYSV;

			if (v->kind != MD_VMA_MEMFD && v->kind != MD_VMA_SHMEM && !sysv)
				continue;
			s = restore_find_shm(rc, sysv, v->shm_id);
			if (!s)
				return log_err(-EINVAL, "image '%s': %#llx-%#llx of %d maps %sshared memory %llu, which "
							"the image does not have", dir, (unsigned long long)v->start,
					       (unsigned long long)v->end, p->pid, sysv ? "SysV " : "",
					       (unsigned long long)v->shm_id);
			if (sysv && (!v->shared || v->pgoff % MD_PAGE_SIZE ||
				     v->pgoff + (v->end - v->start) < v->pgoff ||
				     v->pgoff + (v->end - v->start) > md_page_round_up(s->shm.size)))
				return log_err(-EINVAL, "image '%s': %#llx-%#llx of %d does not fit SysV shared memory "
							"%llu", dir, (unsigned long long)v->start,
					       (unsigned long long)v->end, p->pid, (unsigned long long)v->shm_id);
		}
		for (size_t i = 0; i < p->n_fds; i++)
			if (p->fds[i].kind == MD_FD_MEMFD && !restore_find_shm(rc, false, p->fds[i].shm_id))
				return log_err(-EINVAL, "image '%s': fd %d of %d is memfd %llu, which the image does "
							"not have", dir, p->fds[i].fd, p->pid,
					       (unsigned long long)p->fds[i].shm_id);
	}
	return 0;
}

static int read_images(struct restore_ctx *rc, const char *dir)
{
	struct md_proc *procs;
	char name[64], err[256];
	int r;

	r = image_dir_open(dir, false, &rc->dirfd);
	if (r < 0)
		return r;
	r = image_read_inventory(rc->dirfd, &rc->inv);
	if (r < 0)
		return r;
	if (rc->inv.ipc_ns) {
		r = image_read_ipcns(rc->dirfd, &rc->ipc);
		if (r < 0)
			return r;
	}
	if (rc->inv.pre_dump)
		return log_err(-EINVAL, "image '%s' is a pre-dump (memory copied while the tree ran): restore the "
					"dump made with --prev-images-dir after it", dir);
	if (!rc->inv.n_pids || rc->inv.pids[0] != rc->inv.root_pid)
		return log_err(-EINVAL, "image '%s': the inventory does not start with the root %d", dir,
			       rc->inv.root_pid);
	rc->procs = calloc(rc->inv.n_pids, sizeof(*rc->procs));
	if (!rc->procs)
		return -ENOMEM;
	for (size_t i = 0; i < rc->inv.n_pids; i++) {
		struct restore_proc *rp = &rc->procs[i];

		rp->exe_fd = -1;
		rc->n++;
		r = read_proc(rc, rp, rc->inv.pids[i], dir);
		if (r < 0)
			return r;
	}

	rc->shms = calloc(rc->inv.n_shm_ids + rc->inv.n_sysv_shm_ids + 1, sizeof(*rc->shms));
	if (!rc->shms)
		return -ENOMEM;
	for (size_t i = 0; i < rc->inv.n_shm_ids + rc->inv.n_sysv_shm_ids; i++) {
		struct restore_shm *s = &rc->shms[i];
		bool sysv = i >= rc->inv.n_shm_ids;
		uint64_t id = sysv ? rc->inv.sysv_shm_ids[i - rc->inv.n_shm_ids] : rc->inv.shm_ids[i];

		s->fd = -1;
		rc->n_shms++;
		if (restore_find_shm(rc, sysv, id))
			return log_err(-EINVAL, "image '%s': the inventory lists shared memory %llu twice", dir,
				       (unsigned long long)id);
		r = image_read_shm(rc->dirfd, sysv, id, &s->shm, &s->pm);
		if (r < 0)
			return r;
		if (sysv && id > INT32_MAX)
			return log_err(-EINVAL, "image '%s': SysV shared memory id %llu is out of range", dir,
				       (unsigned long long)id);
		image_pages_name(name, sizeof(name), sysv ? MD_PAGES_SYSV : MD_PAGES_SHM, s->shm.id);
		r = image_pages_open(rc->dirfd, name, s->pm.nr_data_pages, true, &s->pages);
		if (r < 0)
			return r;
	}
	r = check_shm_refs(rc, dir);
	if (r < 0)
		return r;
	r = restore_read_ghosts(rc, dir);
	if (r < 0)
		return r;
	r = image_read_pipes(rc->dirfd, &rc->pipes, &rc->n_pipes);
	if (r >= 0)
		r = restore_index_ofds(rc);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rc->n; i++) {
		const struct md_proc *p = &rc->procs[i].p;

		for (size_t k = 0; k < p->n_fds; k++) {
			bool found = false;

			if (p->fds[k].kind != MD_FD_PIPE && p->fds[k].kind != MD_FD_FIFO)
				continue;
			found = restore_find_pipe(rc, &p->fds[k]) >= 0;
			if (!found)
				return log_err(-EINVAL, "image '%s': fd %d of %d is a pipe pipes.img does not have", dir,
					       p->fds[k].fd, p->pid);
		}
	}
	/* the image checks take the processes as an array: shallow copies */
	procs = calloc(rc->n ? rc->n : 1, sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	for (size_t i = 0; i < rc->n; i++)
		procs[i] = rc->procs[i].p;
	/* which points into rc->procs' fds, as the copies do */
	r = md_socks_make(&rc->socks, procs, rc->n);
	if (r < 0) {
		free(procs);
		return r;
	}
	r = image_check_pidns(rc->inv.pid_ns, procs, rc->n, err, sizeof(err));
	if (r >= 0)
		r = image_check_pidfds(procs, rc->n, err, sizeof(err));
	if (r == -EINVAL)
		r = log_err(r, "image '%s': %s", dir, err);
	if (r >= 0)
		r = restore_read_ptys(rc, procs, dir);
	if (r >= 0)
		r = restore_check_epoll(rc);
	if (r >= 0)
		r = restore_read_sockets(rc, procs, dir);
	if (r >= 0)
		r = plan_tree(rc, procs, dir);
	free(procs);
	return r;
}

#define PF_EXITING 0x4	/* task flag (/proc/PID/stat field 9): on its way out */
#define ID_WAIT_MS 5000

/*
 * Whether id (a pid or thread id) is free. One held by a task on its way
 * out gets a few seconds: a dump returns as soon as it has killed its
 * tree, whose threads may still be freeing their memory or waiting for
 * their parent to reap them when a restore on the same host starts.
 */
static int check_id_free(pid_t id, const char *what)
{
	for (int ms = 0;; ms += 10) {
		struct proc_stat st;
		char path[32];
		bool dying;

		snprintf(path, sizeof(path), "/proc/%d", id);
		if (access(path, F_OK) < 0 && kill(id, 0) < 0 && errno == ESRCH)
			return 0;
		dying = proc_read_stat(id, 0, &st) == 0 && (st.flags & PF_EXITING || st.state == 'Z' || st.state == 'X');
		if (!dying)
			return log_err(-EEXIST, "%s %d is in use; cannot restore it", what, id);
		if (ms >= ID_WAIT_MS)
			return log_err(-EEXIST,
				       st.state == 'Z' ? "%s %d is held by a process that exited, not reaped by its "
							 "parent; cannot restore it"
						       : "%s %d is held by a process still exiting; cannot restore it",
				       what, id);
		usleep(10000);
	}
}

static int check_ids_free(const struct md_proc *p)
{
	int r = check_id_free(p->pid, "pid");

	for (size_t i = 1; i < p->n_threads && r >= 0; i++)
		r = check_id_free(p->threads[i].tid, "thread id");
	return r;
}

/* the same vDSO as ours (our copy is what every new process starts with) */
static int check_vdso(const struct md_proc *p, const struct md_vma *own, size_t n_own)
{
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		const struct md_vma *o = NULL;

		if (v->kind != MD_VMA_VDSO && v->kind != MD_VMA_VVAR && v->kind != MD_VMA_VVAR_VCLOCK)
			continue;
		for (size_t j = 0; j < n_own; j++)
			if (own[j].kind == v->kind)
				o = &own[j];
		if (!o || o->end - o->start != v->end - v->start)
			return log_refuse("this kernel's vDSO differs from the dumped one (%s)",
					  v->kind == MD_VMA_VDSO ? "[vdso] size" : "[vvar] layout");
		if (v->kind == MD_VMA_VDSO && p->vdso_hash &&
		    XXH3_64bits((void *)o->start, o->end - o->start) != p->vdso_hash)
			return log_refuse("this kernel's vDSO differs from the dumped one (content)");
	}
	return 0;
}

/* what this machine must match: free ids, the same vDSO, xsave features; and its THP setting */
static int check_host(struct restore_ctx *rc)
{
	const struct kfeat *kf = &rc->kf;
	_cleanup_close_ int mmfd = -1;
	struct md_vma *own = NULL;
	size_t n_own = 0;
	int r;

	for (size_t k = 0; k < rc->n; k++) {
		r = check_ids_free(&rc->procs[k].p);
		if (r < 0)
			return r;
	}
	r = kfeat_probe(&rc->kf);
	if (r < 0)
		return log_err(r, "cannot probe kernel features");
	if (!kf->xsave_size)
		return log_refuse("this kernel reports no xsave state: cannot restore registers");
	if (rc->lazy && !kf->uffd_lazy)
		return log_refuse("--lazy-pages needs userfaultfd with fork, mremap, madvise and munmap "
				  "events, which this kernel does not offer (memdump check: lazy_pages)");
	if (rc->inv.time_ns && !kfeat_probe_time_ns())
		return log_refuse("the tree had a time namespace of its own, and memdump cannot make one here (it "
				  "takes CAP_SYS_ADMIN and CAP_SYS_TIME; memdump check: time_ns)");
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_threads; i++) {
			uint64_t xf = p->threads[i].xfeatures;

			if (xf & ~kf->xcr0)
				return log_refuse("thread %d used CPU state (xfeatures %#llx) this CPU lacks (%#llx)",
						  p->threads[i].tid, (unsigned long long)xf, (unsigned long long)kf->xcr0);
		}
	}
	mmfd = open("/sys/kernel/mm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc->thp_always = restore_thp_always(mmfd);
	r = proc_read_smaps(getpid(), &own, &n_own);
	if (r < 0)
		return log_err(r, "cannot read our own mappings");
	for (size_t k = 0; k < rc->n && r >= 0; k++)
		r = check_vdso(&rc->procs[k].p, own, n_own);
	md_vmas_free(own, n_own);
	for (size_t k = 0; k < rc->n && r >= 0; k++)
		r = restore_check_timers(rc, &rc->procs[k].p);
	if (r >= 0)
		r = restore_check_seccomp(rc);
	if (r >= 0)
		r = restore_check_creds(rc);
	return r;
}

/* ---- creating the tree ---- */

static int wait_root_stop(struct restore_ctx *rc, struct restore_proc *rp)
{
	int status, r;

	for (;;) {
		r = inject_wait(rp->pid, &status);
		if (r == -ESRCH) {
			/* dead but not yet reported: take the report */
			if (waitpid(rp->pid, &status, __WALL) < 0)
				return log_err(-errno, "cannot wait for %d", rp->pid);
		} else if (r < 0) {
			return log_err(r, "cannot wait for %d", rp->pid);
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			rp->pid = 0;	/* gone already */
			if (rc->rep->status < 0)
				return log_err(rc->rep->status, "%s", rc->rep->msg);
			return log_err(-ECHILD, "the new process died while setting up");
		}
		if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP && !(status >> 16))
			return 0;	/* its own SIGSTOP: ready for us */
		/* anything else: let it go on, with its signal (a fault must not repeat forever) */
		if (ptrace(PTRACE_CONT, rp->pid, NULL, (void *)(long)(status >> 16 ? 0 : WSTOPSIG(status))) < 0)
			return log_err(-errno, "cannot resume %d", rp->pid);
	}
}

static int attach_alloc(struct restore_proc *rp)
{
	rp->attached = calloc(rp->p.n_threads + 1, sizeof(pid_t));
	return rp->attached ? 0 : -ENOMEM;
}

pid_t restore_thread_ns_id(const struct md_proc *p, pid_t tid)
{
	for (size_t k = 0; k < p->n_threads; k++)
		if (p->threads[k].tid == tid)
			return p->threads[k].ns_tid ? p->threads[k].ns_tid : tid;
	return 0;
}

struct restore_proc *restore_find_proc(const struct restore_ctx *rc, pid_t pid)
{
	for (size_t i = 0; i < rc->n; i++)
		if (rc->procs[i].p.pid == pid)
			return &rc->procs[i];
	return NULL;
}

pid_t restore_ns_id(const struct restore_ctx *rc, pid_t id)
{
	pid_t r = 0;

	if (!rc->inv.pid_ns)
		return id;
	for (size_t i = 0; i < rc->n && !r; i++)
		r = rc->procs[i].p.pid == id ? rc->procs[i].p.ns_pid : restore_thread_ns_id(&rc->procs[i].p, id);
	return r;
}

size_t restore_set_tid(pid_t id, pid_t ns_id, pid_t set_tid[2])
{
	if (!ns_id) {
		set_tid[0] = id;
		return 1;
	}
	set_tid[0] = ns_id;
	set_tid[1] = id;
	return 2;
}

static int create_root(struct restore_ctx *rc)
{
	struct restore_proc *rp = &rc->procs[0];
	pid_t want[2];
	struct clone_args a = {
		/*
		 * The tree's own namespaces: new ones (the UTS one named and
		 * the mount one given its /proc by the child), the root init of
		 * the PID one, with its pid in both; a cgroup one at our
		 * cgroups. A time one is ours for children already
		 * (restore_timens(), before the timerfds were armed).
		 */
		.flags = (rc->inv.uts_host ? CLONE_NEWUTS : 0) | (rc->inv.pid_ns ? CLONE_NEWPID : 0) |
			 (rc->inv.mnt_ns ? CLONE_NEWNS : 0) | (rc->inv.cgroup_ns ? CLONE_NEWCGROUP : 0),
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)want,
		.set_tid_size = restore_set_tid(rp->p.pid, rp->p.ns_pid, want),
	};
	struct __ptrace_rseq_configuration cfg;
	long pid;
	int r;

	rc->rep = mmap(NULL, sizeof(*rc->rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rc->rep == MAP_FAILED) {
		rc->rep = NULL;
		return -errno;
	}
	rc->rep->status = -EINPROGRESS;
	r = attach_alloc(rp);
	if (r < 0)
		return r;
	r = inject_find_syscall(getpid(), &rc->root_syscall_ip);
	if (r < 0)
		return log_err(r, "no syscall instruction in our vdso");

	fflush(NULL);
	pid = syscall(SYS_clone3, &a, sizeof(a));
	if (pid < 0)
		return log_err(-errno, "cannot create process %d%s", rp->p.pid,
			       rc->inv.pid_ns ? " in a new PID namespace" : "");
	if (pid == 0)
		restore_child_main(rc);
	rp->pid = (pid_t)pid;
	/*
	 * EXITKILL: if memdump dies now, the half-built tree dies with it.
	 * SUSPEND_SECCOMP (inherited by every process and thread it makes):
	 * the filters put back at the end judge none of our syscalls.
	 */
	if (ptrace(PTRACE_SEIZE, rp->pid, NULL,
		   (void *)(long)(PTRACE_OPTIONS | (rc->seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0))) < 0)
		return log_err(-errno, "cannot seize the new process %d%s", rp->pid,
			       rc->seccomp ? " with seccomp suspended (it takes CAP_SYS_ADMIN and a memdump not "
					     "under seccomp)" : "");
	rp->attached[rp->n_attached++] = rp->pid;
	rc->rep->go = 1;
	r = wait_root_stop(rc, rp);
	if (r < 0)
		return r;

	/* the new process is a copy of us: our vDSO is its vDSO */
	r = inject_init(&rp->ic, rp->pid, rc->root_syscall_ip);
	if (r < 0)
		return log_err(r, "cannot prepare %d", rp->pid);
	/* glibc registered rseq in memdump; its area is about to be unmapped */
	memset(&cfg, 0, sizeof(cfg));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, rp->pid, sizeof(cfg), &cfg) > 0 && cfg.rseq_abi_pointer)
		return restore_rcall_ok(rp, "rseq unregister", SYS_rseq, cfg.rseq_abi_pointer, cfg.rseq_abi_size, 1,
					cfg.signature, 0, 0);
	return 0;
}

/* fork cp from its parent, by a remote clone3() with its pid; it arrives stopped under our ptrace */
static int fork_child(struct restore_proc *parent, struct restore_proc *cp)
{
	pid_t want = cp->p.pid, set_tid[2];
	struct clone_args a = {
		.exit_signal = (uint64_t)cp->p.exit_signal,
		.set_tid = parent->scratch + 512,
		.set_tid_size = restore_set_tid(cp->p.pid, cp->p.ns_pid, set_tid),
	};
	int64_t res;
	int r;

	r = attach_alloc(cp);
	if (r < 0)
		return r;
	r = inject_write_mem(parent->pid, parent->scratch + 512, set_tid, a.set_tid_size * sizeof(pid_t));
	if (r >= 0)
		r = inject_write_mem(parent->pid, parent->scratch, &a, sizeof(a));
	if (r < 0)
		return log_err(r, "cannot write to %d", parent->pid);
	r = restore_rcall(parent, "clone3", SYS_clone3, parent->scratch, sizeof(a), 0, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res < 0)
		return log_err((int)res, "cannot create process %d (child of %d)", want, parent->pid);
	/* res is its pid in its parent's PID namespace: set_tid[0], and then want in ours */
	if (res != set_tid[0]) {
		/* one in the tree's namespace we cannot name: its init's end takes it */
		cp->pid = cp->p.ns_pid ? 0 : (pid_t)res;
		if (cp->pid)
			cp->attached[cp->n_attached++] = cp->pid;
		return log_err(-EEXIST, "process %d came back as %lld", want, (long long)res);
	}
	cp->pid = want;
	cp->attached[cp->n_attached++] = cp->pid;
	r = inject_wait_stop(cp->pid);
	if (r < 0)
		return log_err(r, "process %d did not stop", cp->pid);
	/* it runs on the parent's vDSO, where the parent has it now */
	r = inject_init(&cp->ic, cp->pid, parent->ic.syscall_ip);
	if (r < 0)
		return log_err(r, "cannot prepare %d", cp->pid);
	cp->scratch = parent->scratch;
	return 0;
}

/*
 * Depth first: the memory of rp, then its children, each forked from it
 * now that its memory is back. Children that stay in rp's old session are
 * forked before rp's setsid().
 */
static int build(struct restore_ctx *rc, struct restore_proc *rp)
{
	int r;

	if (!rp->p.zombie) {
		r = restore_mm(rc, rp);
		if (r < 0)
			return r;
		/* before its threads and children exist: they take it over */
		r = restore_loginuid(rp);
		if (r < 0)
			return r;
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && rp->plan.setsid) {
			r = restore_rcall_ok(rp, "setsid", SYS_setsid, 0, 0, 0, 0, 0, 0);
			if (r < 0)
				return r;
			/* before it forks the members: they inherit it */
			r = restore_pty_ctty(rc, rp);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < rc->n; i++) {
			struct restore_proc *cp = &rc->procs[i];

			if (cp->parent != rp || cp->plan.early != (pass == 0))
				continue;
			r = fork_child(rp, cp);
			if (r < 0)
				return r;
			r = build(rc, cp);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* process groups, once every process exists: leaders first */
static int set_groups(struct restore_ctx *rc)
{
	int r;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rc->n; i++) {
			struct restore_proc *rp = &rc->procs[i];
			int g = rp->plan.group;
			pid_t pgid;

			if ((g == TREE_GROUP_OWN) != (pass == 0))
				continue;
			if (g == TREE_GROUP_OWN && rp->plan.setsid)
				continue;	/* setsid() made it a leader */
			/* forked into it: inside a PID namespace, the tree could not even name it */
			if (g == TREE_GROUP_OUTER && getpgid(rp->pid) == rc->outer_pgid)
				continue;
			pgid = g == TREE_GROUP_OWN ? 0 :
			       g == TREE_GROUP_OUTER ? rc->outer_pgid : restore_ns_id(rc, rc->procs[g].pid);
			r = restore_rcall_ok(rp, "setpgid", SYS_setpgid, 0, (uint64_t)pgid, 0, 0, 0, 0);
			if (r < 0)
				return r;
		}
	return 0;
}

/*
 * A zombie dies now, as it died then: exit_group() with its code, or its
 * signal's default action (without a core file). memdump, its tracer,
 * takes the exit report first; then it is its parent's to reap.
 */
static int end_zombie(struct restore_proc *rp)
{
	int st = rp->p.exit_status, sig = st & 0x7f, status;
	struct user_regs_struct regs;

	if (!sig) {
		if (ptrace(PTRACE_GETREGS, rp->pid, NULL, &regs) < 0)
			return log_err(-errno, "cannot read the registers of %d", rp->pid);
		regs.rip = rp->ic.syscall_ip;
		regs.rax = SYS_exit_group;
		regs.rdi = (uint64_t)((st >> 8) & 0xff);
		if (ptrace(PTRACE_SETREGS, rp->pid, NULL, &regs) < 0 || ptrace(PTRACE_CONT, rp->pid, NULL, NULL) < 0)
			return log_err(-errno, "cannot end zombie %d", rp->pid);
	} else {
		struct rlimit none = { 0, 0 };
		uint64_t dfl[4] = { 0, 0, 0, 0 }, mask = 0;
		int r;

		r = set_sigaction(rp, sig, dfl);
		if (r < 0)
			return r;
		prlimit(rp->pid, RLIMIT_CORE, &none, NULL);
		if (ptrace(PTRACE_SETSIGMASK, rp->pid, sizeof(mask), &mask) < 0 ||
		    syscall(SYS_tgkill, rp->pid, rp->pid, sig) < 0 || ptrace(PTRACE_CONT, rp->pid, NULL, NULL) < 0)
			return log_err(-errno, "cannot end zombie %d", rp->pid);
	}
	for (;;) {
		if (waitpid(rp->pid, &status, __WALL) < 0)
			return log_err(-errno, "cannot wait for zombie %d", rp->pid);
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		/* its signal's delivery stop: let the signal act */
		if (ptrace(PTRACE_CONT, rp->pid, NULL,
			   (void *)(long)(WIFSTOPPED(status) && !(status >> 16) ? WSTOPSIG(status) : 0)) < 0)
			return log_err(-errno, "cannot end zombie %d", rp->pid);
	}
	rp->n_attached = 0;	/* gone from ptrace; its parent reaps it */
	if (status != st)
		log_warn("zombie %d ended with status %#x, not %#x", rp->pid, status, st);
	return 0;
}

/*
 * The leader's parent-death signal: after its credentials, which clear it.
 * The root's parent is memdump now: with -d, memdump's exit would fire it
 * at once, which the process never asked for.
 */
static int set_pdeathsig(struct restore_proc *rp, bool detach)
{
	const struct md_proc *p = &rp->p;
	uint64_t sig = (uint64_t)p->pdeathsig;

	if (sig && !rp->parent && detach) {
		log_warn("%d: parent-death signal %d not restored: its parent is not in the image", p->pid,
			 p->pdeathsig);
		sig = 0;	/* and not the SIGKILL it was created with either */
	}
	return restore_rcall_ok(rp, "prctl(PR_SET_PDEATHSIG)", SYS_prctl, PR_SET_PDEATHSIG, sig, 0, 0, 0, 0);
}

/*
 * A process that was stopped stops again as it is let go: its threads
 * take the SIGSTOP queued now, while every one is still ours, before they
 * run a user instruction (signals queued for it before, with handlers,
 * get their frames first, as they would have on SIGCONT). Always
 * SIGSTOP: the kernel drops SIGTSTP, SIGTTIN and SIGTTOU in a process
 * group with no parent outside it in its session, where the process
 * would run on.
 */
static int stop_again(const struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;

	if (p->stop_sig != SIGSTOP)
		log_debug("%d: was stopped by signal %d: stopped again by SIGSTOP", p->pid, p->stop_sig);
	if (kill(p->pid, SIGSTOP) < 0)
		return log_err(-errno, "cannot stop %d again", p->pid);
	return 0;
}

/*
 * With -d memdump exits once the tree runs. A process group that then has
 * no member whose parent is in its session but outside the group is
 * orphaned, and if a member is stopped the kernel sends the whole group
 * SIGHUP and SIGCONT (kill_orphaned_pgrp()): the stopped process would
 * die or run. The root's new parent is whoever adopts it, which we cannot
 * tell (a subreaper of this session would hold the group): refused, before
 * anything exists. Without -d memdump stays the root's parent, holding it.
 */
static int check_orphaned_stops(const struct restore_ctx *rc)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;
		bool held = false;

		if (p->zombie || !p->stop_sig)
			continue;
		for (size_t i = 0; i < rc->n && !held; i++) {
			const struct restore_proc *m = &rc->procs[i];

			held = !m->p.zombie && m->p.pgid == p->pgid && m->parent && m->parent->p.sid == m->p.sid &&
			       m->parent->p.pgid != p->pgid;
		}
		if (!held)
			return log_refuse("%d was stopped, in process group %d, which nothing but memdump "
					  "would hold in its session: once memdump -d exits, the kernel sends that "
					  "group SIGHUP and SIGCONT; restore it without -d (memdump then waits for the "
					  "tree's root)", p->pid, p->pgid);
	}
	return 0;
}

/* per-process state that is not memory: fds, signal handlers, threads, timers */
static int finish_process(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	r = restore_install_files(rc, rp);
	if (r < 0)
		return r;
	r = restore_posix_locks(rp);
	if (r < 0)
		return r;
	r = restore_epoll_add(rc, rp);
	if (r < 0)
		return r;
	for (int sig = 1; sig <= MD_NSIG; sig++) {
		const struct md_sigaction *sa = &p->sigactions[sig - 1];
		uint64_t k[4] = { sa->handler, sa->flags, sa->restorer, sa->mask };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		r = set_sigaction(rp, sig, k);
		if (r < 0)
			return log_err(r, "cannot set the action of signal %d in %d", sig, rp->pid);
	}
	r = restore_threads(rp);
	if (r < 0)
		return r;
	r = restore_make_timers(rc, rp);
	if (r < 0)
		return r;
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
		r = inject_write_mem(rp->pid, rp->scratch, v, sizeof(v));
		if (r < 0)
			return log_err(r, "cannot write to %d", rp->pid);
		r = restore_rcall_ok(rp, "setitimer", SYS_setitimer, (uint64_t)which, rp->scratch, 0, 0, 0, 0);
		if (r < 0)
			return r;
	}
	return restore_rcall_ok(rp, "close of the restore socket", SYS_close, (uint64_t)rc->sock_remote, 0, 0, 0, 0,
				0);
}

/* what prlimit() lets us: a hard limit above ours stays at ours */
static void set_limits(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;

	for (int res = 0; res < MD_RLIM_NLIMITS; res++) {
		struct rlimit cur, want = { p->rlimits[res].cur, p->rlimits[res].max };

		if (prlimit(rp->pid, res, NULL, &cur) < 0)
			continue;
		if (want.rlim_max > cur.rlim_max) {
			log_warn("%d: limit %d: hard %llu is above ours (%llu); kept at %llu", p->pid, res,
				 (unsigned long long)want.rlim_max, (unsigned long long)cur.rlim_max,
				 (unsigned long long)cur.rlim_max);
			want.rlim_max = cur.rlim_max;
		}
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		if (prlimit(rp->pid, res, &want, NULL) < 0)
			log_warn("cannot set limit %d of %d: %s", res, rp->pid, strerror(errno));
	}
}

/*
 * Last of all: signals, process-wide settings, seccomp, limits,
 * credentials, scheduling, registers; the
 * scratch area goes. Limits late, so that a low RLIMIT_AS or NOFILE is
 * not in our way, and before the credentials: prlimit() of another
 * uid's process takes CAP_SYS_RESOURCE.
 */
static int final_state(struct restore_ctx *rc, struct restore_proc *rp, bool detach)
{
	int r;

	r = restore_signals(rc, rp);
	if (r < 0)
		return r;
	r = restore_arm_timers(rp);
	if (r < 0)
		return r;
	r = restore_attrs(rp);
	if (r < 0)
		return r;
	r = restore_seccomp(rp);
	if (r < 0)
		return r;
	set_limits(rp);
	r = restore_creds(rc, rp);
	if (r < 0)
		return r;
	r = set_pdeathsig(rp, detach);
	if (r < 0)
		return r;
	/* the scratch area is shared with no one: a child took it over or has its own copy */
	r = restore_rcall_ok(rp, "munmap of the scratch area", SYS_munmap, rp->scratch, RESTORE_SCRATCH_SIZE, 0, 0,
			     0, 0);
	if (r < 0)
		return r;
	rp->scratch = 0;
	/* once no more syscalls run in it: a deadline or idle thread would be held back */
	r = restore_sched(rp);
	if (r < 0)
		return r;
	return restore_finish_threads(rc, rp);
}

/* the fd every new process receives its files through: above every number the image uses */
static int open_socket(struct restore_ctx *rc)
{
	struct rlimit rl;
	int sv[2], hi = 2;

	for (size_t k = 0; k < rc->n; k++)
		for (size_t i = 0; i < rc->procs[k].p.n_fds; i++)
			if (rc->procs[k].p.fds[i].fd > hi)
				hi = rc->procs[k].p.fds[i].fd;
	rc->sock_remote = hi + 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)rc->sock_remote >= rl.rlim_max)
		return log_err(-EMFILE, "fd %d of the image is above our limit of %llu fds", hi,
			       (unsigned long long)rl.rlim_max);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_err(-errno, "cannot make a socket pair");
	rc->sock = sv[0];
	/* the root's end, moved to sock_remote by the root itself */
	return sv[1];
}

static void kill_tree(struct restore_ctx *rc)
{
	int status;

	for (size_t k = 0; k < rc->n; k++)
		if (rc->procs[k].pid && rc->procs[k].n_attached)
			kill(rc->procs[k].pid, SIGKILL);
	/* a leader's exit report waits until every other thread's is collected: take it last */
	for (size_t k = rc->n; k-- > 0;) {
		struct restore_proc *rp = &rc->procs[k];

		for (size_t i = rp->n_attached; i-- > 0;)
			while (waitpid(rp->attached[i], &status, __WALL) >= 0 && !WIFEXITED(status) &&
			       !WIFSIGNALED(status))
				;
		rp->n_attached = 0;
		rp->pid = 0;
	}
	/* what died under us (orphans come to us, the subreaper): reap it */
	while (waitpid(-1, &status, __WALL | WNOHANG) > 0)
		;
}

static void restore_ctx_release(struct restore_ctx *rc)
{
	restore_close_files(rc);
	restore_ghosts_release(rc);
	free(rc->own_creds.groups);
	if (rc->dirfd >= 0)
		close(rc->dirfd);
	if (rc->tty_fd >= 0)
		close(rc->tty_fd);
	if (rc->sock >= 0)
		close(rc->sock);
	/* a server not told the tree runs exits now */
	if (rc->lazy_sock >= 0)
		close(rc->lazy_sock);
	if (!rc->sysv_done)
		restore_sysv_finish(rc, false);
	for (size_t i = 0; i < rc->n_shms; i++) {
		image_pages_close(rc->shms[i].pages);
		md_shm_release(&rc->shms[i].shm);
		md_pagemap_release(&rc->shms[i].pm);
	}
	free(rc->shms);
	for (size_t i = 0; i < rc->n_pipes; i++)
		md_pipe_release(&rc->pipes[i]);
	free(rc->pipes);
	free(rc->ofds);
	md_socks_release(&rc->socks);
	free(rc->ptys);
	restore_free_epoll(rc);
	for (size_t k = 0; k < rc->n; k++) {
		struct restore_proc *rp = &rc->procs[k];

		image_pages_close(rp->pages);
		for (size_t i = 0; i < rp->n_parent_pages; i++)
			image_pages_close(rp->parent_pages[i]);
		free(rp->parent_pages);
		free(rp->src);
		free(rp->attached);
		free(rp->vma_filled);
		free(rp->vma_kept);
		free(rp->vma_lazy);
		free(rp->vma_fd);
		md_pagemap_release(&rp->pm);
		md_proc_release(&rp->p);
	}
	free(rc->procs);
	if (rc->rep)
		munmap(rc->rep, sizeof(*rc->rep));
	md_inventory_release(&rc->inv);
	md_ipcns_release(&rc->ipc);
}

/* what a terminal sends the foreground group: for the job only (the root resets them) */
static void ignore_job_signals(void)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
}

/* the page data restore writes into the tree */
static uint64_t data_bytes(const struct restore_ctx *rc)
{
	uint64_t n = 0;

	for (size_t k = 0; k < rc->n; k++)
		for (size_t i = 0; i < rc->procs[k].n_src; i++)
			n += rc->procs[k].src[i].nr_pages * MD_PAGE_SIZE;
	return n;
}

int restore_run(const struct restore_opts *o)
{
	struct restore_ctx rc = {
		.dirfd = -1, .sock = -1, .lazy = o->lazy, .lazy_sock = -1, .shell_job = o->shell_job, .tty_fd = -1,
		.tcp_established = o->tcp_established, .tcp_raw4 = -1, .tcp_raw6 = -1,
	};
	struct restore_proc *root;
	int r, status, root_sock;
	sigset_t oldmask;
	bool masked = false;
	size_t threads = 0;
	uint64_t stage_ns = md_now_ns();

	r = read_images(&rc, o->dir);
	if (r < 0)
		goto out;
	stage_done(&stage_ns, rc.lazy ? "read the images" : "read and checked the images");
	r = restore_tty_prepare(&rc, o->dir);
	if (r < 0)
		goto out;
	r = check_host(&rc);
	if (r < 0)
		goto out;
	if (o->detach) {
		r = check_orphaned_stops(&rc);
		if (r < 0)
			goto out;
	}
	/*
	 * A shell job's lazy server is in the job's (foreground) group: Ctrl-C
	 * meant for the job must not end it half way, leaving zeroes behind.
	 */
	if (rc.lazy && rc.shell_job)
		ignore_job_signals();
	/* before the tree's files are open: the server must not hold them */
	if (rc.lazy) {
		r = restore_lazy_start(&rc);
		if (r < 0)
			goto out;
	}
	/* before the sockets are made: they are the tree's */
	r = restore_netns(&rc);
	if (r < 0)
		goto out;
	/* before the segments are made (restore_open_files()): they are the tree's */
	r = restore_ipcns(&rc);
	if (r < 0)
		goto out;
	/* before the timerfds are armed (restore_open_files()): the clocks they count on run from here */
	r = restore_timens(&rc);
	if (r < 0)
		goto out;
	r = restore_tcp_lock(&rc);
	if (r < 0)
		goto out;
	r = restore_open_files(&rc);
	if (r >= 0)
		r = restore_ipcns_sysctls(&rc);
	if (r < 0)
		goto out;
	r = restore_take_locks(&rc);
	if (r >= 0)
		r = restore_epoll_fill(&rc);
	if (r < 0)
		goto out;
	r = open_socket(&rc);
	if (r < 0)
		goto out;
	root_sock = r;
	rc.outer_pgid = getpgrp();
	/* orphans of a failed restore come to us, not to init, to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* nothing exists before this point; from here on failure kills what was created */
	{
		int keep = rc.sock;

		rc.sock = root_sock;	/* what the child moves into place */
		r = create_root(&rc);
		rc.sock = keep;
		close(root_sock);
	}
	if (r < 0)
		goto out_kill;
	root = &rc.procs[0];
	/* a lazy restore fills little before the tree runs: no progress to show */
	progress_start("restore", rc.lazy ? 0 : data_bytes(&rc));
	r = build(&rc, root);
	progress_end();
	if (r < 0)
		goto out_kill;
	stage_done(&stage_ns, "created the tree and its memory");
	/* before a zombie ends: a pidfd on it is taken while it still runs */
	r = restore_open_pidfds(&rc);
	if (r < 0)
		goto out_kill;
	r = set_groups(&rc);
	if (r < 0)
		goto out_kill;
	r = restore_pty_fg(&rc);
	if (r < 0)
		goto out_kill;
	for (size_t k = 0; k < rc.n; k++)
		if (rc.procs[k].p.zombie) {
			r = end_zombie(&rc.procs[k]);
			if (r < 0)
				goto out_kill;
		}
	for (size_t k = 0; k < rc.n; k++)
		if (!rc.procs[k].p.zombie) {
			r = finish_process(&rc, &rc.procs[k]);
			if (r < 0)
				goto out_kill;
		}
	for (size_t k = 0; k < rc.n; k++)
		if (!rc.procs[k].p.zombie) {
			r = final_state(&rc, &rc.procs[k], o->detach);
			if (r < 0)
				goto out_kill;
		}

	/* every process has attached its segments: those removed before the dump go again */
	restore_sysv_finish(&rc, true);

	/*
	 * The lazy server goes on alone, until every page is in: told before
	 * the tree runs, since a server that hears nothing takes the restore
	 * for failed and leaves.
	 */
	r = restore_lazy_done(&rc);
	if (r < 0)
		goto out_kill;
	for (size_t k = 0; k < rc.n; k++)
		if (!rc.procs[k].p.zombie && rc.procs[k].p.stop_sig) {
			r = stop_again(&rc.procs[k]);
			if (r < 0)
				goto out_kill;
		}
	/*
	 * Last before the tree runs: the peers may talk to it again. From here
	 * until every thread is let go, a signal ending us would kill the tree
	 * (and its connections) half way: held back until then.
	 */
	if (rc.n_tcp)
		masked = md_hold_signals(&oldmask) == 0;
	r = restore_tcp_finish(&rc);
	if (r < 0)
		goto out_kill;
	stage_done(&stage_ns, "restored the rest of the state");
	/* all state is in place: let every thread of every process go, children first */
	for (size_t k = rc.n; k-- > 0;) {
		struct restore_proc *rp = &rc.procs[k];

		for (size_t i = 0; i < rp->n_attached; i++)
			if (ptrace(PTRACE_DETACH, rp->attached[i], NULL, NULL) < 0) {
				r = log_err(-errno, "cannot release thread %d", rp->attached[i]);
				goto out_kill;
			}
		threads += rp->n_attached;
	}
	/* only now: a failed release above must still kill every process, released or not */
	for (size_t k = 0; k < rc.n; k++)
		rc.procs[k].n_attached = 0;
	if (masked) {
		/* the tree runs: too late to stop anything */
		int sig = md_drop_held_signals();

		if (sig)
			log_warn("SIG%s came when the tree was already restored: ignored", sigabbrev_np(sig));
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		masked = false;
	}
	rc.sysv_done = true;
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	log_debug("restored %d: %zu processes, %zu threads", root->pid, rc.n, threads);
	/* our copies of the tree's pipes would keep readers from EOF and writers from EPIPE */
	restore_close_files(&rc);
	close(rc.sock);
	rc.sock = -1;

	if (o->detach) {
		r = 0;
		goto out;
	}
	/*
	 * A shell job shares our group: Ctrl-C and Ctrl-\ are its to take or
	 * not, as with a shell waiting for its job; we end when it ends.
	 */
	if (o->shell_job)
		ignore_job_signals();
	if (waitpid(root->pid, &status, 0) < 0) {
		r = log_err(-errno, "cannot wait for %d", root->pid);
		goto out;
	}
	r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	goto out;

out_kill:
	kill_tree(&rc);
out:
	if (masked)
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	restore_ctx_release(&rc);
	return r;
}
