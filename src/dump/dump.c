/*
 * The dump driver for one process: freeze, collect, plan, copy, write,
 * then kill or thaw. On any failure the process is thawed exactly as it
 * was and the files written so far are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/dump.h"
#include "memdump/freeze.h"
#include "memdump/hash.h"
#include "memdump/image.h"
#include "memdump/inject.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/sigs.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/progress.h"
#include "memdump/tree.h"
#include "memdump/proc.h"
#include "memdump/xfer.h"

#ifndef MEMDUMP_VERSION
#define MEMDUMP_VERSION "0.1.0"
#endif

static int collect_vdso_hash(struct md_proc *p)
{
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		_cleanup_free_ void *buf = NULL;
		int r;

		if (v->kind != MD_VMA_VDSO)
			continue;
		buf = malloc(v->end - v->start);
		if (!buf)
			return -ENOMEM;
		r = inject_read_mem(p->pid, v->start, buf, v->end - v->start);
		if (r < 0)
			return log_err(r, "cannot read the vdso of %d", p->pid);
		p->vdso_hash = XXH3_64bits(buf, v->end - v->start);
	}
	return 0;
}

static int collect_threads(const struct frozen *f, struct md_proc *p)
{
	p->threads = calloc(f->n, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		bool leader = i == 0;
		int r;

		p->n_threads++;
		r = dump_thread_state(f->pid, f->tids[i], &p->threads[i], leader ? &p->shared_pending : NULL,
				      leader ? &p->n_shared_pending : NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_pages(const struct dump_out *out, const struct md_proc *p, const struct md_pagemap *pm,
		       bool running)
{
	struct image_pages_writer *w;
	char name[64];
	int r;

	image_pages_name(name, sizeof(name), MD_PAGES_PROC, (uint64_t)p->pid);
	r = dump_pages_create(out, name, &w);
	if (r < 0)
		return log_err(r, "cannot create '%s'", name);
	r = running ? dump_copy_pages_running(p->pid, p->vmas, p->n_vmas, pm, w)
		    : dump_copy_pages(p->pid, p->vmas, p->n_vmas, pm, w);
	if (r < 0) {
		image_pages_abort(w);
		return log_err(r, "cannot copy the memory of %d", p->pid);
	}
	r = image_pages_finish(w);
	if (r < 0)
		return log_err(r, "cannot write '%s'", name);
	return 0;
}

/* The whole tree being dumped: one md_proc per process, root first, parents before children. */
struct dump_ctx {
	struct kfeat kf;
	struct dump_out out;		/* the image directory, and the page server if any */
	struct frozen_tree ft;
	struct md_proc *procs;
	struct md_pagemap *pms;
	size_t n;		/* live processes first (as in ft), then the zombies */
	struct dump_shm_ids shm;
	struct md_pipe *pipes;
	size_t n_pipes;
	struct md_pty *ptys;
	size_t n_ptys;
	struct md_sock_queue *sockq;	/* data queued in the tree's unix sockets */
	size_t n_sockq;
	struct dump_tcp tcp;		/* established TCP connections, in repair mode */
	struct dump_ns ns;		/* the tree's own PID, mount and UTS namespaces */

	/* incremental dumps */
	const struct dump_opts *o;
	int prev_dirfd;			/* --prev-images-dir, -1 if none */
	struct md_proc *prevs;		/* per live process: its view in the previous image, */
	int *prev_found;		/* if prev_found (1; 0: not there or a zombie; < 0: unreadable) */
	struct md_inventory prev_inv;
	struct md_track prev_track;
	struct track_session ts;
	enum md_track_method method;	/* how this dump tracks */
	struct dump_track *track;	/* per live process */
	bool thawed;			/* pre-dump: the tree runs again */
	uint64_t frozen_ns;		/* CLOCK_MONOTONIC when the tree was frozen, then for how long */
	uint64_t stage_ns;		/* when the last stage ended (-v timings) */
	uint64_t frozen_at_ns;		/* CLOCK_REALTIME when frozen: the image's time */
	uint64_t time_monotonic_ns;	/* ns.time_ns: the tree's clocks once its timers were read */
	uint64_t time_boottime_ns;
	pid_t helper;			/* the tracker this dump started, 0 if none */
};

static const struct md_proc *parent_of(const struct dump_ctx *c, const struct md_proc *p)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->procs[i].pid == p->ppid && !c->procs[i].zombie && &c->procs[i] != p)
			return &c->procs[i];
	return NULL;
}

/* what /proc, ptrace and remote syscalls tell about one frozen process; registers raw */
static int collect_one(const struct frozen *f, struct md_proc *p)
{
	pid_t pid = f->pid;
	int r;

	r = dump_collect_proc(pid, p);
	if (r < 0)
		return log_err(r, "cannot read the state of %d", pid);
	p->stop_sig = f->stop_sig;
	r = dump_collect_fds(pid, p);
	if (r < 0)
		return r;	/* logged with the fd and its kind */
	r = proc_read_smaps(pid, &p->vmas, &p->n_vmas);
	if (r < 0)
		return log_err(r, "cannot read the mappings of %d", pid);
	r = collect_vdso_hash(p);
	if (r < 0)
		return r;
	r = collect_threads(f, p);
	if (r < 0)
		return r;
	/* before the first remote syscall: suspends the seccomp filters */
	r = dump_thread_status(p);
	if (r < 0)
		return r;
	/* after the VMA list: the scratch page it maps must not be in the image */
	r = dump_remote_state(p);
	if (r < 0)
		return r;
	return dump_attrs(p);
}

/* the previous image's live process pid: 1 if it has it (in *ret), else 0 */
static int read_prev_proc(const struct dump_ctx *c, pid_t pid, struct md_proc *ret)
{
	bool found = false;
	int r;

	for (size_t i = 0; i < c->prev_inv.n_pids; i++)
		found = found || c->prev_inv.pids[i] == pid;
	if (!found)
		return 0;
	r = image_read_proc(c->prev_dirfd, pid, ret);
	return r < 0 ? r : !ret->zombie;
}

/*
 * What a restore of the image would refuse of the tree's shape, refused
 * now, while the tree can run on: its sessions and groups (the restore's
 * own plan) and its ids in its PID namespace.
 */
static int check_restorable(const struct dump_ctx *c)
{
	_cleanup_free_ struct tree_plan *plan = calloc(c->n, sizeof(*plan));
	char err[256];
	int r;

	if (!plan)
		return -ENOMEM;
	r = tree_plan_procs(c->procs, c->n, c->o->shell_job, plan, err, sizeof(err));
	if (r == -ENOTSUP)
		return log_refuse("a restore could not rebuild the tree: %s", err);
	if (r < 0)
		return r;
	r = image_check_pidns(c->ns.pid_ns, c->procs, c->n, err, sizeof(err));
	if (r == -EINVAL)
		return log_refuse("a restore could not rebuild the tree: %s", err);
	return r;
}

static int collect_tree(struct dump_ctx *c)
{
	size_t total = c->ft.n + c->ft.n_zombies;
	struct md_socks socks;
	int r, refused;

	c->procs = calloc(total, sizeof(*c->procs));
	c->pms = calloc(total, sizeof(*c->pms));
	c->prevs = calloc(c->ft.n, sizeof(*c->prevs));
	c->prev_found = calloc(c->ft.n, sizeof(*c->prev_found));
	if (!c->procs || !c->pms || !c->prevs || !c->prev_found)
		return -ENOMEM;
	/* first: what the rest reads would mean something else in other namespaces */
	r = dump_namespaces(&c->ft, &c->ns);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->ft.n; i++) {
		/* a bad previous image fails the dump where its memory is compared (track_tree()) */
		if (c->prev_dirfd >= 0)
			c->prev_found[i] = read_prev_proc(c, c->ft.procs[i].pid, &c->prevs[i]);
		c->n++;
		r = collect_one(&c->ft.procs[i], &c->procs[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->ft.n_zombies; i++) {
		c->n++;
		r = dump_collect_zombie(c->ft.zombies[i], &c->procs[c->ft.n + i]);
		if (r < 0)
			return r;
	}
	r = check_restorable(c);
	if (r >= 0)
		r = dump_ns_files(&c->ns, c->procs, c->n);
	if (r >= 0)
		r = dump_mqueues(&c->ns, c->procs, c->n);
	if (r < 0)
		return r;
	/*
	 * Only live processes hold fds. What cannot be dumped (-ENOTSUP, logged)
	 * is gathered, so that the user learns of every such fd at once.
	 */
	r = dump_link_fds(c->procs, c->ft.n);
	if (r < 0 && r != -ENOTSUP)
		return r;
	refused = r;
	r = dump_link_pidfds(c->procs, c->ft.n, c->n);
	refused = refused < 0 ? refused : r;
	r = dump_ttys(c->procs, c->ft.n, c->o->shell_job, &c->ptys, &c->n_ptys);
	if (r < 0 && r != -ENOTSUP)
		return r;
	refused = refused < 0 ? refused : r;
	r = dump_pipes(c->procs, c->ft.n, &c->pipes, &c->n_pipes);
	if (r < 0 && r != -ENOTSUP)
		return r;
	refused = refused < 0 ? refused : r;
	/* what sock_diag and the network lock see is the tree's namespace */
	r = dump_enter_netns(&c->ns);
	if (r < 0)
		return r;
	r = md_socks_make(&socks, c->procs, c->ft.n);
	if (r < 0) {
		dump_leave_netns(&c->ns);
		return r;
	}
	r = dump_sockets(&socks, c->procs, c->ft.n,
			 (c->o->tcp_established ? DUMP_SOCK_TCP_ESTABLISHED : 0) |
			 (c->o->skip_in_flight ? DUMP_SOCK_SKIP_IN_FLIGHT : 0) |
			 (c->o->leave_running || c->o->pre_dump ? DUMP_SOCK_TREE_RUNS : 0), &c->sockq, &c->n_sockq);
	if (r < 0 && r != -ENOTSUP)
		refused = r;
	else
		refused = refused < 0 ? refused : r;
	/* a pre-dump image is never restored: its connections need no state, nor the lock */
	if (refused >= 0 && !c->o->pre_dump)
		refused = dump_tcp(&socks, c->procs, c->ft.n, c->o->pid, c->frozen_at_ns, &c->tcp);
	md_socks_release(&socks);
	/* back: what memdump starts later (a tracker) is no process of the tree's namespace */
	r = dump_leave_netns(&c->ns);
	if (refused < 0 || r < 0)
		return refused < 0 ? refused : r;
	/* last: it writes the files' data */
	return dump_ghosts(c->procs, c->ft.n, &c->out, c->o->ghost_limit);
}

/*
 * Registers for the image, once the signals pending are final: a call
 * that a signal's handler is to interrupt gives EINTR, others run again.
 * The previous image names calls resumed through restart_syscall(); a
 * process stopped at the freeze keeps the EINTR its stop gave.
 */
static void settle_tree(struct dump_ctx *c)
{
	for (size_t i = 0; i < c->ft.n; i++) {
		struct md_proc *p = &c->procs[i];
		const struct md_proc *prev = c->prev_found[i] > 0 ? &c->prevs[i] : NULL;

		for (size_t k = 0; k < p->n_threads; k++)
			dump_settle_regs(p, &p->threads[k], prev, c->ft.procs[i].stop_sig != 0);
	}
}

/* the tree runs on after this dump, tracked for the next one */
static bool keeps_tracking(const struct dump_opts *o)
{
	return o->pre_dump || (o->track_mem && o->leave_running);
}

/*
 * Dirty tracking: take over (or start) the tracking of every live process;
 * with a previous image, pages nobody wrote since become "in parent".
 */
static int track_tree(struct dump_ctx *c)
{
	bool arm = keeps_tracking(c->o);
	const struct md_track *prev_track = c->prev_dirfd >= 0 ? &c->prev_track : NULL;
	int r;

	if (!c->o->prev_dir && !arm)
		return 0;
	c->method = kfeat_dirty_tracking(&c->kf);
	if (c->method == MD_TRACK_NONE) {
		log_warn("this kernel has neither soft-dirty bits nor userfaultfd write-protect: every dump "
			 "copies everything");
		return 0;
	}
	c->track = calloc(c->ft.n + 1, sizeof(*c->track));
	if (!c->track)
		return -ENOMEM;
	for (size_t i = 0; i <= c->ft.n; i++)
		c->track[i].uffd = -1;
	if (c->method == MD_TRACK_UFFD_WP) {
		r = track_begin(prev_track, &c->ts);
		if (r < 0)
			return r;
	} else if (prev_track && prev_track->method != MD_TRACK_SOFT_DIRTY) {
		log_warn("the previous dump did not track memory with soft-dirty bits: everything is copied again");
	}
	for (size_t i = 0; i < c->ft.n; i++) {
		struct md_pagemap prev_pm = { 0 }, in_parent;
		const struct dump_track *t = &c->track[i];
		const struct md_proc *pp = c->prev_found[i] > 0 ? &c->prevs[i] : NULL;

		r = pp ? image_read_pagemap(c->prev_dirfd, c->procs[i].pid, &prev_pm) : c->prev_found[i];
		if (r < 0)
			return log_err(r, "cannot read the previous image of %d", c->procs[i].pid);
		r = c->method == MD_TRACK_UFFD_WP
			    ? track_proc(&c->ts, &c->procs[i], pp, arm, &c->track[i])
			    : softdirty_proc(prev_track, &c->procs[i], pp, arm, &c->track[i]);
		if (r >= 0 && t->n_tracked) {
			r = plan_mark_in_parent(&c->pms[i], t->tracked, t->n_tracked, t->written, t->n_written, &prev_pm,
						&in_parent);
			if (r >= 0) {
				log_debug("%d: %llu of %llu pages unchanged since the previous image", c->procs[i].pid,
					  (unsigned long long)(c->pms[i].nr_data_pages - in_parent.nr_data_pages),
					  (unsigned long long)c->pms[i].nr_data_pages);
				md_pagemap_release(&c->pms[i]);
				c->pms[i] = in_parent;
			}
		}
		md_pagemap_release(&prev_pm);
		if (r < 0)
			return r;
	}
	return 0;
}

static int dump_memory(struct dump_ctx *c)
{
	uint64_t data = 0;
	int r, r2;

	/* SysV ids are those of the tree's IPC namespace */
	r = dump_enter_ipcns(&c->ns);
	for (size_t i = 0; i < c->ft.n && r >= 0; i++) {
		struct md_proc *p = &c->procs[i];

		r = dump_shm_objects(p->pid, p, &c->out, &c->shm);
		if (r < 0)
			log_err(r, "cannot dump the shared memory of %d", p->pid);
	}
	/* its segments nobody in the tree has attached go with it too */
	if (r >= 0 && c->ns.ipc_ns)
		r = dump_sysv_unattached(c->ns.ipc_shm_ids, c->ns.n_ipc_shm_ids, &c->out, &c->shm);
	r2 = dump_leave_ipcns(&c->ns);
	if (r < 0 || r2 < 0)
		return r < 0 ? r : r2;
	/*
	 * Plan every process before copying any: the planner compares page
	 * frames of parents and children, and nothing may change them in
	 * between. (The copier does not: it reads /proc/PID/mem, which never
	 * unshares a page; see copy.c.)
	 */
	for (size_t i = 0; i < c->ft.n; i++) {
		struct md_proc *p = &c->procs[i];

		r = dump_plan_child(p->pid, p->vmas, p->n_vmas, &c->kf, parent_of(c, p), &c->pms[i]);
		if (r < 0)
			return log_err(r, "cannot plan the memory of %d", p->pid);
	}
	stage_done(&c->stage_ns, "planned the memory");
	r = track_tree(c);
	if (r < 0)
		return r;
	/* pre-dump: the tree runs on while its memory is copied (tracking sees what it writes) */
	if (c->o->pre_dump) {
		r = freeze_tree_thaw(&c->ft);
		if (r < 0)
			return r;
		c->thawed = true;
		c->frozen_ns = md_now_ns() - c->frozen_ns;
	}
	for (size_t i = 0; i < c->ft.n; i++)
		data += c->pms[i].nr_data_pages * MD_PAGE_SIZE;
	progress_start(c->o->pre_dump ? "pre-dump" : "dump", data);
	for (size_t i = 0; i < c->ft.n && r >= 0; i++) {
		struct md_proc *p = &c->procs[i];

		r = write_pages(&c->out, p, &c->pms[i], c->thawed);
		if (r >= 0)
			r = image_write_pagemap(c->out.dirfd, p->pid, &c->pms[i]);
	}
	progress_end();
	stage_done(&c->stage_ns, "copied the pages");
	return r;
}

static int fill_inventory(struct md_inventory *inv, const struct dump_ctx *c)
{
	struct utsname u;

	inv->format_version = MD_FORMAT_VERSION;
	inv->root_pid = c->procs[0].pid;
	/* what the timers' time left (read right after) counts from */
	inv->dump_time_ns = c->frozen_at_ns;
	uname(&u);
	inv->kernel_release = strdup(u.release);
	inv->tool_version = strdup(MEMDUMP_VERSION);
	inv->pid_ns = c->ns.pid_ns;
	inv->mnt_ns = c->ns.mnt_ns;
	inv->proc_flags = c->ns.proc_flags;
	if (c->ns.proc_opts && !(inv->proc_opts = strdup(c->ns.proc_opts)))
		return -ENOMEM;
	if (c->ns.uts.own) {
		inv->uts_host = strdup(c->ns.uts.host);
		inv->uts_domain = strdup(c->ns.uts.domain);
		if (!inv->uts_host || !inv->uts_domain)
			return -ENOMEM;
	}
	inv->net_ns = c->ns.net_ns;
	inv->lo_up = c->ns.lo_up;
	inv->lo_mtu = c->ns.lo_mtu;
	inv->ipc_ns = c->ns.ipc_ns;
	inv->time_ns = c->ns.time_ns;
	inv->time_monotonic_ns = c->time_monotonic_ns;
	inv->time_boottime_ns = c->time_boottime_ns;
	inv->cgroup_ns = c->ns.cgroup_ns;
	if (c->ns.n_sysctls && !(inv->net_sysctls = calloc(c->ns.n_sysctls, sizeof(*inv->net_sysctls))))
		return -ENOMEM;
	for (size_t i = 0; i < c->ns.n_sysctls; i++) {
		inv->net_sysctls[i].name = strdup(c->ns.sysctls[i].name);
		inv->net_sysctls[i].value = strdup(c->ns.sysctls[i].value);
		inv->n_net_sysctls++;
		if (!inv->net_sysctls[i].name || !inv->net_sysctls[i].value)
			return -ENOMEM;
	}
	inv->page_size = MD_PAGE_SIZE;
	inv->xfeatures = c->kf.xcr0;
	inv->pids = calloc(c->n, sizeof(pid_t));
	if (!inv->kernel_release || !inv->tool_version || !inv->pids)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		inv->pids[i] = c->procs[i].pid;
	inv->n_pids = c->n;
	inv->pre_dump = c->o->pre_dump;
	inv->shm_ids = c->shm.shm;
	inv->n_shm_ids = c->shm.n_shm;
	inv->sysv_shm_ids = c->shm.sysv;
	inv->n_sysv_shm_ids = c->shm.n_sysv;
	return 0;
}

/* some process is tracked and the tree goes on running: track.img says how */
static bool tracking_kept(const struct dump_ctx *c)
{
	if (!c->track || !keeps_tracking(c->o))
		return false;
	for (size_t i = 0; i < c->ft.n; i++)
		if (c->track[i].armed)
			return true;
	return false;
}

/* track.img: who is tracked, and for uffd-wp a new helper holding the trackers */
static int write_track(struct dump_ctx *c)
{
	struct md_track t = { .method = c->method };
	int r = 0;

	if (c->method == MD_TRACK_UFFD_WP) {
		r = track_spawn_helper(c->track, c->ft.n, &c->helper, &t.helper_start_time);
		if (r < 0)
			return r;
		t.helper_pid = c->helper;
	}
	t.procs = calloc(c->ft.n + 1, sizeof(*t.procs));
	if (!t.procs)
		return -ENOMEM;
	for (size_t i = 0; i < c->ft.n; i++)
		if (c->track[i].armed)
			t.procs[t.n++] = (struct md_track_proc){ c->track[i].pid, c->track[i].start_time,
								 c->track[i].uffd, c->track[i].token };
	r = image_write_track(c->out.dirfd, &t);
	md_track_release(&t);
	return r;
}

static int write_images(struct dump_ctx *c)
{
	struct md_inventory inv = { 0 };
	int r;

	for (size_t i = 0; i < c->n; i++) {
		r = image_write_proc(c->out.dirfd, &c->procs[i]);
		if (r < 0)
			return r;
	}
	if (c->n_pipes) {
		r = image_write_pipes(c->out.dirfd, c->pipes, c->n_pipes);
		if (r < 0)
			return r;
	}
	if (c->n_ptys) {
		r = image_write_ptys(c->out.dirfd, c->ptys, c->n_ptys);
		if (r < 0)
			return r;
	}
	if (c->ns.ipc_ns) {
		r = image_write_ipcns(c->out.dirfd, &c->ns.ipc);
		if (r < 0)
			return r;
	}
	if (c->n_sockq) {
		r = image_write_sockets(c->out.dirfd, c->sockq, c->n_sockq);
		if (r < 0)
			return r;
	}
	if (c->tcp.n) {
		/* with -R the lock goes with the dump: a restore has none to remove */
		r = image_write_tcp(c->out.dirfd, c->tcp.streams, c->tcp.n, c->o->leave_running ? NULL : c->tcp.lock);
		if (r < 0)
			return r;
	}
	if (c->o->prev_dir && symlinkat(c->o->prev_dir, c->out.dirfd, "parent") < 0)
		return log_err(-errno, "cannot link the image to its parent '%s'", c->o->prev_dir);
	/* the tree goes on under tracking, for the next dump */
	if (tracking_kept(c)) {
		r = write_track(c);
		if (r < 0)
			return r;
	}
	r = fill_inventory(&inv, c);
	/* the inventory borrows the shm ids */
	if (r >= 0)
		r = image_write_inventory(c->out.dirfd, &inv);
	inv.shm_ids = inv.sysv_shm_ids = NULL;
	inv.n_shm_ids = inv.n_sysv_shm_ids = 0;
	md_inventory_release(&inv);
	return r;
}

/* a signal held back for the connections' sake (dump_tcp()) still ends the dump, the tree as it was */
static int check_interrupted(const struct dump_ctx *c)
{
	return c->tcp.masked && md_held_stop_pending() ? log_err(-EINTR, "interrupted: the tree goes on as it was") : 0;
}

/* remove what a failed dump wrote: only our *.img files, never the directory */
static void remove_images(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	/* a dup shares the offset: image_dir_open() left it at the end */
	rewinddir(d);
	while ((de = readdir(d)))
		if (image_file_name(de->d_name) || !strcmp(de->d_name, "parent"))
			unlinkat(dirfd, de->d_name, 0);
}

static void dump_ctx_release(struct dump_ctx *c)
{
	dump_copy_fd_done();
	dump_ns_release(&c->ns);
	for (size_t i = 0; c->track && i < c->ft.n; i++)
		track_proc_release(&c->track[i]);
	free(c->track);
	md_track_release(&c->prev_track);
	md_inventory_release(&c->prev_inv);
	for (size_t i = 0; c->prevs && i < c->ft.n; i++)
		md_proc_release(&c->prevs[i]);
	free(c->prevs);
	free(c->prev_found);
	if (c->prev_dirfd >= 0)
		close(c->prev_dirfd);
	for (size_t i = 0; i < c->n; i++) {
		md_proc_release(&c->procs[i]);
		md_pagemap_release(&c->pms[i]);
	}
	for (size_t i = 0; i < c->n_pipes; i++)
		md_pipe_release(&c->pipes[i]);
	free(c->pipes);
	free(c->ptys);
	for (size_t i = 0; i < c->n_sockq; i++)
		md_sock_queue_release(&c->sockq[i]);
	free(c->sockq);
	dump_tcp_release(&c->tcp);
	free(c->procs);
	free(c->pms);
	free(c->shm.shm);
	free(c->shm.sysv);
	freeze_tree_release(&c->ft);
	if (c->out.dirfd >= 0)
		close(c->out.dirfd);
}

/* dump_tcp_finish() in the tree's network namespace, where its lock is */
static int tcp_finish(struct dump_ctx *c, bool tree_gone)
{
	int r = dump_enter_netns(&c->ns), r2;

	if (r < 0)
		return r;
	r = dump_tcp_finish(&c->tcp, tree_gone);
	r2 = dump_leave_netns(&c->ns);
	return r < 0 ? r : r2;
}

int dump_run(const struct dump_opts *o)
{
	struct dump_ctx c = { .out.dirfd = -1, .out.compress = o->compress, .prev_dirfd = -1, .o = o };
	struct timespec now;
	uint64_t pages = 0;
	size_t threads = 0;
	int r, r_tcp, sig;

	r = kfeat_probe(&c.kf);
	if (r < 0)
		return log_err(r, "cannot probe kernel features");
	r = image_dir_open(o->dir, true, &c.out.dirfd);
	if (r < 0)
		return r;
	/* before touching the tree: a page server we cannot reach changes nothing */
	if (o->ps_addr) {
		r = xfer_connect(o->ps_addr, o->ps_port, &c.out.xfer);
		if (r < 0)
			goto out;
	}
	if (o->prev_dir) {
		/* relative to the new image, as the parent link will be */
		c.prev_dirfd = openat(c.out.dirfd, o->prev_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c.prev_dirfd < 0) {
			r = log_err(-errno, "cannot open the previous image '%s' (relative to '%s')", o->prev_dir,
				    o->dir);
			goto out;
		}
		r = image_read_inventory(c.prev_dirfd, &c.prev_inv);
		if (r >= 0)
			r = image_read_track(c.prev_dirfd, &c.prev_track);
		if (r < 0) {
			log_err(r, "'%s' is not a memdump image", o->prev_dir);
			goto out;
		}
	}

	r = dump_check_proc();
	if (r < 0)
		goto out;
	c.frozen_ns = c.stage_ns = md_now_ns();
	r = freeze_tree(o->pid, &c.ft);
	if (r < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	c.frozen_at_ns = md_timespec_ns(&now);

	/* from here on: every failure thaws the tree as it was */
	stage_done(&c.stage_ns, "froze the tree");
	r = collect_tree(&c);
	if (r >= 0 && c.ns.time_ns)
		r = dump_ns_clocks(&c.ns, &c.time_monotonic_ns, &c.time_boottime_ns);
	if (r < 0)
		goto out_thaw;
	stage_done(&c.stage_ns, "collected processes, VMAs, threads and files");
	r = dump_memory(&c);
	if (r < 0)
		goto out_thaw;
	for (size_t i = 0; !c.thawed && i < c.ft.n; i++) {
		r = dump_recheck_stop(&c.procs[i]);
		if (r < 0)
			goto out_thaw;
	}
	settle_tree(&c);
	r = check_interrupted(&c);
	if (r < 0)
		goto out_thaw;
	/* the inventory last: a directory without one is not an image */
	r = write_images(&c);
	if (r < 0)
		goto out_thaw;
	if (fsync(c.out.dirfd) < 0)
		log_debug("fsync of the image directory failed");
	stage_done(&c.stage_ns, "wrote the metadata");
	r = check_interrupted(&c);
	if (r < 0)
		goto out_thaw;
	/* the page server gets the rest of the image, and has it on disk before the tree goes */
	if (c.out.xfer) {
		r = xfer_send_dir(c.out.xfer, c.out.dirfd);
		if (r >= 0)
			r = xfer_finish(TAKE_PTR(c.out.xfer));
		if (r < 0)
			goto out_thaw;
	}

	for (size_t i = 0; i < c.ft.n; i++) {
		threads += c.procs[i].n_threads;
		pages += c.pms[i].nr_data_pages;
	}
	/* the connections go back to the tree as they were, or wait in repair mode under the lock */
	r_tcp = tcp_finish(&c, !o->leave_running && !c.thawed);
	/* a connection that would not close silently: the tree goes on as it was */
	if (r_tcp < 0 && !o->leave_running && !c.thawed) {
		r = r_tcp;
		goto out_thaw;
	}
	if (c.thawed)
		r = 0;
	else if (o->leave_running)
		r = freeze_tree_thaw(&c.ft);
	else
		r = freeze_tree_kill(&c.ft);
	/* the connections are the image's, or the tree's again */
	dump_tcp_unguard(&c.tcp);
	r = r < 0 ? r : r_tcp;
	/* past the point of no return: what came meanwhile is too late to stop anything */
	if (r >= 0 && c.tcp.masked && (sig = md_drop_held_signals()))
		log_warn("SIG%s came when the tree was already dumped: ignored", sigabbrev_np(sig));
	if (!c.thawed)
		c.frozen_ns = md_now_ns() - c.frozen_ns;
	stage_done(&c.stage_ns, o->leave_running ? "let the tree go" : "killed the tree");
	/* the trackers are the new helper's now, or tracking ends here */
	track_end(&c.ts);
	log_info("dumped %d: %zu processes (%zu zombies), %zu threads, %zu pipes, %llu pages, frozen %.3f s", o->pid,
		 c.n, c.ft.n_zombies, threads, c.n_pipes, (unsigned long long)pages, c.frozen_ns / 1e9);
	goto out;

out_thaw:
	/* before the tree runs: a process must not send through a socket in repair mode */
	tcp_finish(&c, false);
	if (!c.thawed)
		freeze_tree_thaw(&c.ft);
	remove_images(c.out.dirfd);
	if (c.helper > 0)
		kill(c.helper, SIGTERM);
	/* the previous helper is stopped once its trackers are taken */
	if (c.ts.taken || (c.method == MD_TRACK_SOFT_DIRTY && tracking_kept(&c)))
		log_warn("the previous image can no longer be the base of an incremental dump");
	track_end(&c.ts);
out:
	xfer_abort(TAKE_PTR(c.out.xfer), strerror(-r));
	dump_ctx_release(&c);
	return r;
}
