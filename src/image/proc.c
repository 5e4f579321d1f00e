/*
 * core-PID.img, mm-PID.img and files-PID.img: struct md_proc split over
 * three messages and joined again. Checks each message on its own terms
 * (array sizes, VMA order); cross-references are image_check_proc()'s.
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "image/sockets.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "core.pb-c.h"
#include "files.pb-c.h"
#include "mm.pb-c.h"

#define REGS_FIELDS(X)                                                                                \
	X(r15) X(r14) X(r13) X(r12) X(rbp) X(rbx) X(r11) X(r10) X(r9) X(r8) X(rax) X(rcx) X(rdx)     \
	X(rsi) X(rdi) X(orig_rax) X(rip) X(cs) X(eflags) X(rsp) X(ss) X(fs_base) X(gs_base) X(ds)    \
	X(es) X(fs) X(gs)

#define MM_FIELDS(X)                                                                                  \
	X(start_code) X(end_code) X(start_data) X(end_data) X(start_brk) X(brk) X(start_stack)       \
	X(arg_start) X(arg_end) X(env_start) X(env_end)

static void proc_name(char *buf, size_t len, const char *what, pid_t pid)
{
	snprintf(buf, len, "%s-%d.img", what, (int)pid);
}

/* ---- writing ---- */

struct thread_msg {
	Md__Thread t;
	Md__Regs regs;
	Md__Rseq rseq;
	Md__Altstack alt;
	Md__Creds creds;
	Md__Sched sched;
	uint8_t cpus[MD_CPU_WORDS * 8];
	char comm[16];
};

/* t's scheduling into m, its CPU mask into cpus (the bytes up to the last CPU it may use) */
static void sched_to_msg(const struct md_sched *t, Md__Sched *m, uint8_t *cpus)
{
	size_t n = 0;

	md__sched__init(m);
	m->policy = t->policy;
	m->has_flags = t->flags != 0;
	m->flags = t->flags;
	m->has_nice = t->nice != 0;
	m->nice = t->nice;
	m->has_priority = t->priority != 0;
	m->priority = t->priority;
	m->has_dl_runtime = m->has_dl_deadline = m->has_dl_period = t->policy == MD_SCHED_DEADLINE;
	m->dl_runtime = t->dl_runtime;
	m->dl_deadline = t->dl_deadline;
	m->dl_period = t->dl_period;
	m->has_ioprio = t->ioprio != 0;
	m->ioprio = t->ioprio;
	m->timer_slack_ns = t->timer_slack_ns;
	if (!t->pinned)
		return;
	for (size_t i = 0; i < MD_CPU_WORDS * 8; i++) {
		cpus[i] = (uint8_t)(t->cpus[i / 8] >> (i % 8 * 8));
		if (cpus[i])
			n = i + 1;
	}
	m->has_cpus = true;
	m->cpus.data = cpus;
	m->cpus.len = n;
}

static void comm_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, 15);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int write_core(int dirfd, const struct md_proc *p, const char *name)
{
	Md__CoreImage m = MD__CORE_IMAGE__INIT;
	Md__Sigaction sa[MD_NSIG], *sap[MD_NSIG];
	Md__Itimer it[3], *itp[3];
	Md__Rlimit rl[MD_RLIM_NLIMITS], *rlp[MD_RLIM_NLIMITS];
	_cleanup_free_ struct thread_msg *th = NULL;
	_cleanup_free_ Md__Thread **thp = NULL;
	_cleanup_free_ ProtobufCBinaryData *bins = NULL;
	_cleanup_free_ Md__PosixTimer *pt = NULL;
	_cleanup_free_ Md__PosixTimer **ptp = NULL;
	_cleanup_free_ int32_t *ctty = NULL;
	_cleanup_free_ Md__SeccompFilter *sf = NULL;
	_cleanup_free_ Md__SeccompFilter **sfp = NULL;
	size_t nbins = p->n_shared_pending, b = 0;
	uint32_t flags = 0;
	char comm[16];

	for (size_t i = 0; i < p->n_threads; i++)
		nbins += p->threads[i].n_pending;
	th = calloc(p->n_threads ? p->n_threads : 1, sizeof(*th));
	thp = calloc(p->n_threads ? p->n_threads : 1, sizeof(*thp));
	bins = calloc(nbins ? nbins : 1, sizeof(*bins));
	pt = calloc(p->n_posix_timers ? p->n_posix_timers : 1, sizeof(*pt));
	ptp = calloc(p->n_posix_timers ? p->n_posix_timers : 1, sizeof(*ptp));
	sf = calloc(p->n_seccomp ? p->n_seccomp : 1, sizeof(*sf));
	sfp = calloc(p->n_seccomp ? p->n_seccomp : 1, sizeof(*sfp));
	if (!th || !thp || !bins || !pt || !ptp || !sf || !sfp)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < p->n_seccomp; i++) {
		const struct md_seccomp_filter *f = &p->seccomp[i];

		md__seccomp_filter__init(&sf[i]);
		sf[i].prog.data = (uint8_t *)f->insns;
		sf[i].prog.len = f->n_insns * sizeof(*f->insns);
		sf[i].has_parent = f->parent != 0;
		sf[i].parent = f->parent;
		sf[i].has_flags = f->flags != 0;
		sf[i].flags = f->flags;
		sfp[i] = &sf[i];
	}
	m.n_seccomp_filters = p->n_seccomp;
	m.seccomp_filters = sfp;
	for (size_t i = 0; i < p->n_posix_timers; i++) {
		const struct md_posix_timer *t = &p->posix_timers[i];

		md__posix_timer__init(&pt[i]);
		pt[i].id = t->id;
		pt[i].clockid = t->clockid;
		pt[i].notify = t->notify;
		pt[i].signo = t->signo;
		pt[i].has_notify_tid = t->notify_tid != 0;
		pt[i].notify_tid = t->notify_tid;
		pt[i].sigval = t->sigval;
		pt[i].value_ns = t->value_ns;
		pt[i].interval_ns = t->interval_ns;
		pt[i].has_overrun = true;
		pt[i].overrun = t->overrun;
		ptp[i] = &pt[i];
	}
	m.n_posix_timers = p->n_posix_timers;
	m.posix_timers = ptp;
	ctty = calloc(p->n_fds ? p->n_fds : 1, sizeof(*ctty));
	if (!ctty)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].ctty)
			ctty[m.n_ctty_fds++] = p->fds[i].fd;
	m.ctty_fds = ctty;
	m.has_tty_nr = p->tty_nr != 0;
	m.tty_nr = p->tty_nr;

	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];
		struct thread_msg *tm = &th[i];

		md__thread__init(&tm->t);
		md__regs__init(&tm->regs);
		md__rseq__init(&tm->rseq);
		md__altstack__init(&tm->alt);
#define X(f) tm->regs.f = t->regs.f;
		REGS_FIELDS(X)
#undef X
		tm->rseq.addr = t->rseq.addr;
		tm->rseq.len = t->rseq.len;
		tm->rseq.flags = t->rseq.flags;
		tm->rseq.sig = t->rseq.sig;
		tm->alt.sp = t->altstack.sp;
		tm->alt.flags = t->altstack.flags;
		tm->alt.size = t->altstack.size;
		comm_copy(tm->comm, t->comm);

		tm->t.tid = t->tid;
		tm->t.has_ns_tid = t->ns_tid != 0;
		tm->t.ns_tid = t->ns_tid;
		tm->t.comm = tm->comm;
		tm->t.regs = &tm->regs;
		tm->t.rseq = &tm->rseq;
		tm->t.altstack = &tm->alt;
		if (t->xsave && t->xsave_size) {
			tm->t.has_xsave = true;
			tm->t.xsave.data = t->xsave;
			tm->t.xsave.len = t->xsave_size;
		}
		tm->t.xfeatures = t->xfeatures;
		tm->t.sigmask = t->sigmask;
		tm->t.clear_child_tid = t->clear_child_tid;
		tm->t.has_robust_list = tm->t.has_robust_list_len = true;
		tm->t.robust_list = t->robust_list;
		tm->t.robust_list_len = t->robust_list_len;
		tm->t.has_seccomp_mode = t->seccomp_mode != 0;
		tm->t.seccomp_mode = t->seccomp_mode;
		tm->t.has_seccomp_filter = t->seccomp_filter != 0;
		tm->t.seccomp_filter = t->seccomp_filter;
		tm->t.has_no_new_privs = t->no_new_privs;
		tm->t.no_new_privs = t->no_new_privs;
		if (t->seccomp_mode || t->no_new_privs)
			flags |= MD_CORE_F_SECCOMP;
		if (t->has_creds) {
			md__creds__init(&tm->creds);
			tm->creds.n_uid = tm->creds.n_gid = 4;
			tm->creds.uid = (uint32_t *)t->creds.uid;
			tm->creds.gid = (uint32_t *)t->creds.gid;
			tm->creds.n_groups = t->creds.n_groups;
			tm->creds.groups = t->creds.groups;
			tm->creds.cap_inh = t->creds.cap_inh;
			tm->creds.cap_prm = t->creds.cap_prm;
			tm->creds.cap_eff = t->creds.cap_eff;
			tm->creds.cap_bnd = t->creds.cap_bnd;
			tm->creds.cap_amb = t->creds.cap_amb;
			tm->creds.secbits = t->creds.secbits;
			tm->t.creds = &tm->creds;
			if (!md_creds_full_root(&t->creds))
				flags |= MD_CORE_F_CREDS;
		}
		if (t->has_sched) {
			sched_to_msg(&t->sched, &tm->sched, tm->cpus);
			tm->t.sched = &tm->sched;
			if (!md_sched_default(&t->sched))
				flags |= MD_CORE_F_ATTRS;
		}
		tm->t.n_pending = t->n_pending;
		tm->t.pending = &bins[b];
		for (size_t j = 0; j < t->n_pending; j++, b++) {
			bins[b].data = (uint8_t *)t->pending[j].raw;
			bins[b].len = MD_SIGINFO_SIZE;
		}
		thp[i] = &tm->t;
	}
	for (int i = 0; i < MD_NSIG; i++) {
		md__sigaction__init(&sa[i]);
		sa[i].handler = p->sigactions[i].handler;
		sa[i].flags = p->sigactions[i].flags;
		sa[i].restorer = p->sigactions[i].restorer;
		sa[i].mask = p->sigactions[i].mask;
		sap[i] = &sa[i];
	}
	for (int i = 0; i < 3; i++) {
		md__itimer__init(&it[i]);
		it[i].interval_sec = p->itimers[i].interval_sec;
		it[i].interval_usec = p->itimers[i].interval_usec;
		it[i].value_sec = p->itimers[i].value_sec;
		it[i].value_usec = p->itimers[i].value_usec;
		itp[i] = &it[i];
	}
	for (int i = 0; i < MD_RLIM_NLIMITS; i++) {
		md__rlimit__init(&rl[i]);
		rl[i].cur = p->rlimits[i].cur;
		rl[i].max = p->rlimits[i].max;
		rlp[i] = &rl[i];
	}
	comm_copy(comm, p->comm);

	m.pid = p->pid;
	m.ppid = p->ppid;
	m.pgid = p->pgid;
	m.sid = p->sid;
	m.has_ns_pid = p->ns_pid != 0;
	m.ns_pid = p->ns_pid;
	m.comm = comm;
	m.n_threads = p->n_threads;
	m.threads = thp;
	m.n_sigactions = MD_NSIG;
	m.sigactions = sap;
	m.n_itimers = 3;
	m.itimers = itp;
	m.n_rlimits = MD_RLIM_NLIMITS;
	m.rlimits = rlp;
	m.has_exit_signal = m.has_pdeathsig = m.has_zombie = true;
	m.exit_signal = p->exit_signal;
	m.pdeathsig = p->pdeathsig;
	m.has_dumpable = !p->zombie && p->dumpable >= 0;
	m.dumpable = (uint32_t)p->dumpable;
	m.has_stop_signo = p->stop_sig != 0;
	m.stop_signo = p->stop_sig;
	if (p->stop_sig)
		flags |= MD_CORE_F_STOPPED;
	if (p->has_attrs) {
		m.has_oom_score_adj = m.has_child_subreaper = m.has_thp_disable = m.has_mdwe = m.has_membarrier = true;
		m.oom_score_adj = p->attrs.oom_score_adj;
		m.child_subreaper = p->attrs.child_subreaper;
		m.thp_disable = p->attrs.thp_disable;
		m.mdwe = p->attrs.mdwe;
		m.membarrier = p->attrs.membarrier;
		if (!md_attrs_default(&p->attrs))
			flags |= MD_CORE_F_ATTRS;
	}
	m.has_loginuid = p->has_loginuid;
	m.loginuid = p->loginuid;
	m.zombie = p->zombie;
	m.has_exit_status = p->zombie;
	m.exit_status = p->exit_status;
	m.n_shared_pending = p->n_shared_pending;
	m.shared_pending = &bins[b];
	for (size_t j = 0; j < p->n_shared_pending; j++, b++) {
		bins[b].data = (uint8_t *)p->shared_pending[j].raw;
		bins[b].len = MD_SIGINFO_SIZE;
	}
	return img_write_msg_flags(dirfd, name, MD_IMG_CORE, flags, &m.base);
}

static int write_mm(int dirfd, const struct md_proc *p, const char *name)
{
	Md__MmImage m = MD__MM_IMAGE__INIT;
	Md__MmFields mm = MD__MM_FIELDS__INIT;
	_cleanup_free_ Md__Vma *v = NULL;
	_cleanup_free_ Md__Vma **vp = NULL;
	bool ghosts = false;

	v = calloc(p->n_vmas ? p->n_vmas : 1, sizeof(*v));
	vp = calloc(p->n_vmas ? p->n_vmas : 1, sizeof(*vp));
	if (!v || !vp)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *s = &p->vmas[i];

		md__vma__init(&v[i]);
		v[i].start = s->start;
		v[i].end = s->end;
		v[i].pgoff = s->pgoff;
		v[i].prot = s->prot;
		v[i].shared = s->shared;
		v[i].kind = (Md__VmaKind)s->kind;
		v[i].vmflags = s->vmflags;
		v[i].dev_major = s->dev_major;
		v[i].dev_minor = s->dev_minor;
		v[i].inode = s->inode;
		v[i].path = s->path;
		v[i].deleted = s->deleted;
		v[i].shm_id = s->shm_id;
		v[i].has_ghost = s->ghost != 0;
		v[i].ghost = s->ghost;
		ghosts |= v[i].has_ghost;
		vp[i] = &v[i];
	}
#define X(f) mm.f = p->mm.f;
	MM_FIELDS(X)
#undef X
	m.pid = p->pid;
	m.n_vmas = p->n_vmas;
	m.vmas = vp;
	m.mm = &mm;
	m.n_auxv = p->auxv_len;
	m.auxv = p->auxv;
	m.exe = p->exe;
	m.personality = p->personality;
	m.vdso_hash = p->vdso_hash;
	m.has_exe_ghost = p->exe_ghost != 0;
	m.exe_ghost = p->exe_ghost;
	return img_write_msg_flags(dirfd, name, MD_IMG_MM, ghosts || p->exe_ghost ? MD_MM_F_GHOSTS : 0, &m.base);
}

static int write_files(int dirfd, const struct md_proc *p, const char *name)
{
	Md__FilesImage m = MD__FILES_IMAGE__INIT;
	_cleanup_free_ Md__Fd *f = NULL;
	_cleanup_free_ Md__Fd **fp = NULL;
	_cleanup_free_ Md__Timer *tm = NULL;
	_cleanup_free_ Md__EpollItem *ep = NULL;
	_cleanup_free_ Md__EpollItem **epp = NULL;
	_cleanup_free_ struct img_sock_pb *sk = NULL;
	size_t n_ep = 0, at = 0;
	struct image_files_extras ex;
	int r;

	for (size_t i = 0; i < p->n_fds; i++)
		n_ep += p->fds[i].n_epoll;
	ep = calloc(n_ep ? n_ep : 1, sizeof(*ep));
	epp = calloc(n_ep ? n_ep : 1, sizeof(*epp));
	sk = calloc(p->n_fds ? p->n_fds : 1, sizeof(*sk));
	f = calloc(p->n_fds ? p->n_fds : 1, sizeof(*f));
	fp = calloc(p->n_fds ? p->n_fds : 1, sizeof(*fp));
	tm = calloc(p->n_fds ? p->n_fds : 1, sizeof(*tm));
	if (!f || !fp || !tm || !ep || !epp || !sk)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *s = &p->fds[i];

		md__fd__init(&f[i]);
		f[i].fd = s->fd;
		f[i].kind = (Md__FdKind)s->kind;
		f[i].path = s->path;
		f[i].flags = s->flags;
		f[i].pos = s->pos;
		f[i].mode = s->mode;
		f[i].shm_id = s->shm_id;
		f[i].has_dup_of = s->dup_of >= 0;
		f[i].dup_of = s->dup_of;
		f[i].has_ofd = s->ofd != 0;
		f[i].ofd = s->ofd;
		f[i].has_pipe_id = s->kind == MD_FD_PIPE || s->kind == MD_FD_FIFO;
		f[i].pipe_id = s->pipe_id;
		f[i].has_pty_index = s->kind == MD_FD_PTY_MASTER || s->kind == MD_FD_PTY_SLAVE;
		f[i].pty_index = s->pty;
		f[i].has_count = s->kind == MD_FD_EVENTFD || s->kind == MD_FD_TIMERFD;
		f[i].count = s->count;
		f[i].has_semaphore = s->kind == MD_FD_EVENTFD;
		f[i].semaphore = s->semaphore;
		f[i].has_sigmask = s->kind == MD_FD_SIGNALFD;
		f[i].sigmask = s->sigmask;
		f[i].has_pidfd_pid = s->kind == MD_FD_PIDFD && s->pidfd_pid > 0;
		f[i].pidfd_pid = s->pidfd_pid;
		f[i].has_pidfd_gone = s->kind == MD_FD_PIDFD && !s->pidfd_pid && s->pidfd_gone;
		f[i].pidfd_gone = s->pidfd_gone;
		f[i].has_pidfd_exit = s->kind == MD_FD_PIDFD && !s->pidfd_pid && s->pidfd_exit_known;
		f[i].pidfd_exit = s->pidfd_exit;
		if (s->kind == MD_FD_TIMERFD) {
			md__timer__init(&tm[i]);
			tm[i].clockid = s->timer.clockid;
			tm[i].settime_flags = s->timer.settime_flags;
			tm[i].value_ns = s->timer.value_ns;
			tm[i].interval_ns = s->timer.interval_ns;
			f[i].timer = &tm[i];
		}
		f[i].n_epoll = s->n_epoll;
		f[i].epoll = &epp[at];
		for (size_t k = 0; k < s->n_epoll; k++, at++) {
			md__epoll_item__init(&ep[at]);
			ep[at].tfd = s->epoll[k].tfd;
			ep[at].events = s->epoll[k].events;
			ep[at].data = s->epoll[k].data;
			ep[at].has_ofd = s->epoll[k].ofd != 0;
			ep[at].ofd = s->epoll[k].ofd;
			epp[at] = &ep[at];
		}
		if (md_fd_is_sock(s)) {
			if (img_sock_fill(&sk[i], &s->sock) < 0) {
				r = log_err(-ENOMEM, "cannot write image '%s'", name);
				goto out;
			}
			f[i].socket = &sk[i].m;
		}
		fp[i] = &f[i];
	}
	m.pid = p->pid;
	m.n_fds = p->n_fds;
	m.fds = fp;
	m.cwd = p->cwd;
	m.umask = p->umask;
	m.has_cwd_ghost = p->cwd_ghost != 0;
	m.cwd_ghost = p->cwd_ghost;
	r = image_files_extras_prepare(p, &m, f, &ex);
	if (r < 0) {
		log_err(r, "cannot write image '%s'", name);
		goto out;
	}
	r = img_write_msg_flags(dirfd, name, MD_IMG_FILES, md_proc_ghost_dirs(p) ? MD_FILES_F_GHOST_DIRS : 0,
				&m.base);
	image_files_extras_release(&ex);
out:
	for (size_t i = 0; i < p->n_fds; i++)
		img_sock_pb_release(&sk[i]);
	return r;
}

int image_write_proc(int dirfd, const struct md_proc *p)
{
	char name[64];
	int r;

	proc_name(name, sizeof(name), "core", p->pid);
	r = write_core(dirfd, p, name);
	if (r < 0 || p->zombie)
		return r;
	proc_name(name, sizeof(name), "mm", p->pid);
	r = write_mm(dirfd, p, name);
	if (r < 0)
		return r;
	proc_name(name, sizeof(name), "files", p->pid);
	return write_files(dirfd, p, name);
}

/* ---- reading ---- */

static int copy_siginfos(const char *name, const char *what, ProtobufCBinaryData *src, size_t n,
			 struct md_siginfo **ret)
{
	struct md_siginfo *s;

	for (size_t i = 0; i < n; i++)
		if (src[i].len != MD_SIGINFO_SIZE)
			return img_invalid(name, "%s siginfo %zu has %zu bytes, expected %d", what, i,
					   src[i].len, MD_SIGINFO_SIZE);
	if (!n)
		return 0;
	s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(s[i].raw, src[i].data, MD_SIGINFO_SIZE);
	*ret = s;
	return 0;
}

static int comm_check(const char *name, const char *comm, char *dst)
{
	size_t n = strlen(comm);

	if (n > 15)
		return img_invalid(name, "comm '%s' longer than 15 bytes", comm);
	memcpy(dst, comm, n + 1);
	return 0;
}

#define SECBITS_KNOWN 0xfffu	/* SECBIT_NOROOT .. SECBIT_EXEC_DENY_INTERACTIVE_LOCKED */

static int read_creds(const char *name, pid_t tid, const Md__Creds *m, struct md_creds *c, bool *has)
{
	if (m->n_uid != 4 || m->n_gid != 4)
		return img_invalid(name, "thread %d: %zu uids and %zu gids, not 4", tid, m->n_uid, m->n_gid);
	if (m->n_groups > MD_NGROUPS_MAX)
		return img_invalid(name, "thread %d: %zu supplementary groups", tid, m->n_groups);
	if (m->cap_eff & ~m->cap_prm)
		return img_invalid(name, "thread %d: effective capabilities %#llx not all permitted (%#llx)", tid,
				   (unsigned long long)m->cap_eff, (unsigned long long)m->cap_prm);
	if (m->cap_amb & ~(m->cap_prm & m->cap_inh))
		return img_invalid(name, "thread %d: ambient capabilities %#llx not all permitted and inheritable",
				   tid, (unsigned long long)m->cap_amb);
	if (m->secbits & ~SECBITS_KNOWN)
		return img_invalid(name, "thread %d: unknown securebits %#x", tid, m->secbits);
	memcpy(c->uid, m->uid, sizeof(c->uid));
	memcpy(c->gid, m->gid, sizeof(c->gid));
	if (m->n_groups) {
		c->groups = malloc(m->n_groups * sizeof(*c->groups));
		if (!c->groups)
			return -ENOMEM;
		memcpy(c->groups, m->groups, m->n_groups * sizeof(*c->groups));
	}
	c->n_groups = m->n_groups;
	c->cap_inh = m->cap_inh;
	c->cap_prm = m->cap_prm;
	c->cap_eff = m->cap_eff;
	c->cap_bnd = m->cap_bnd;
	c->cap_amb = m->cap_amb;
	c->secbits = m->secbits;
	*has = true;
	return 0;
}

static int read_sched(const char *name, pid_t tid, const Md__Sched *m, struct md_sched *s, uint32_t flags)
{
	s->policy = m->policy;
	s->flags = m->has_flags ? m->flags : 0;
	s->nice = m->has_nice ? m->nice : 0;
	s->priority = m->has_priority ? m->priority : 0;
	s->dl_runtime = m->has_dl_runtime ? m->dl_runtime : 0;
	s->dl_deadline = m->has_dl_deadline ? m->dl_deadline : 0;
	s->dl_period = m->has_dl_period ? m->dl_period : 0;
	s->ioprio = m->has_ioprio ? m->ioprio : 0;
	s->timer_slack_ns = m->timer_slack_ns;
	if (m->has_cpus) {
		if (m->cpus.len > MD_CPU_WORDS * 8)
			return img_invalid(name, "thread %d: a mask of %zu CPUs", tid, m->cpus.len * 8);
		for (size_t i = 0; i < m->cpus.len; i++)
			s->cpus[i / 8] |= (uint64_t)m->cpus.data[i] << (i % 8 * 8);
		s->pinned = true;
	}
	if (!md_sched_valid(s))
		return img_invalid(name, "thread %d: scheduling policy %u (flags %#x, nice %d, priority %u, "
				   "deadline %llu/%llu/%llu), I/O priority %#x or an empty CPU mask", tid, s->policy,
				   s->flags, s->nice, s->priority, (unsigned long long)s->dl_runtime,
				   (unsigned long long)s->dl_deadline, (unsigned long long)s->dl_period, s->ioprio);
	if (!md_sched_default(s) && !(flags & MD_CORE_F_ATTRS))
		return img_invalid(name, "thread %d: its own scheduling without the header flag", tid);
	return 0;
}

static int read_thread(const char *name, const Md__Thread *m, struct md_thread *t, uint32_t flags)
{
	int r;

	t->tid = m->tid;
	if (t->tid <= 0 || t->tid >= MD_PID_LIMIT)
		return img_invalid(name, "thread id %d", t->tid);
	t->ns_tid = m->has_ns_tid ? m->ns_tid : 0;
	if (t->ns_tid < 0 || t->ns_tid >= MD_PID_LIMIT)
		return img_invalid(name, "thread %d: id %d in its PID namespace", t->tid, t->ns_tid);
	r = comm_check(name, m->comm, t->comm);
	if (r < 0)
		return r;
#define X(f) t->regs.f = m->regs->f;
	REGS_FIELDS(X)
#undef X
	if (m->has_xsave && m->xsave.len) {
		t->xsave = malloc(m->xsave.len);
		if (!t->xsave)
			return -ENOMEM;
		memcpy(t->xsave, m->xsave.data, m->xsave.len);
		t->xsave_size = m->xsave.len;
	}
	t->xfeatures = m->xfeatures;
	t->sigmask = m->sigmask;
	t->rseq.addr = m->rseq->addr;
	t->rseq.len = m->rseq->len;
	t->rseq.flags = m->rseq->flags;
	t->rseq.sig = m->rseq->sig;
	t->altstack.sp = m->altstack->sp;
	t->altstack.flags = m->altstack->flags;
	t->altstack.size = m->altstack->size;
	t->clear_child_tid = m->clear_child_tid;
	t->robust_list = m->has_robust_list ? m->robust_list : 0;
	t->robust_list_len = m->has_robust_list_len ? m->robust_list_len : 0;
	t->seccomp_mode = m->has_seccomp_mode ? m->seccomp_mode : 0;
	t->seccomp_filter = m->has_seccomp_filter ? m->seccomp_filter : 0;
	t->no_new_privs = m->has_no_new_privs && m->no_new_privs;
	if (t->seccomp_mode > SECCOMP_MODE_FILTER ||
	    (t->seccomp_mode == SECCOMP_MODE_FILTER) != (t->seccomp_filter != 0))
		return img_invalid(name, "thread %d: seccomp mode %u with filter %u", t->tid, t->seccomp_mode,
				   t->seccomp_filter);
	r = copy_siginfos(name, "pending", m->pending, m->n_pending, &t->pending);
	if (r < 0)
		return r;
	t->n_pending = m->n_pending;
	if (m->sched) {
		r = read_sched(name, t->tid, m->sched, &t->sched, flags);
		if (r < 0)
			return r;
		t->has_sched = true;
	}
	if (m->creds)
		return read_creds(name, t->tid, m->creds, &t->creds, &t->has_creds);
	return 0;
}

static int read_attrs(const char *name, const Md__CoreImage *m, struct md_proc *p, uint32_t flags)
{
	struct md_attrs *a = &p->attrs;
	int n = m->has_oom_score_adj + m->has_child_subreaper + m->has_thp_disable + m->has_mdwe + m->has_membarrier;

	p->has_loginuid = m->has_loginuid;
	p->loginuid = m->loginuid;
	if (!n)
		return 0;
	if (n != 5 || p->zombie)
		return img_invalid(name, "%s with %d of its 5 process-wide settings",
				   p->zombie ? "a zombie" : "a process", n);
	a->oom_score_adj = m->oom_score_adj;
	a->child_subreaper = m->child_subreaper;
	a->thp_disable = m->thp_disable;
	a->mdwe = m->mdwe;
	a->membarrier = m->membarrier;
	if (!md_attrs_valid(a))
		return img_invalid(name, "oom_score_adj %d, THP disabled %#x, MDWE %#x or membarrier %#x",
				   a->oom_score_adj, a->thp_disable, a->mdwe, a->membarrier);
	if (!md_attrs_default(a) && !(flags & MD_CORE_F_ATTRS))
		return img_invalid(name, "process-wide settings without the header flag");
	p->has_attrs = true;
	return 0;
}

#define KTIME_NS_MAX INT64_MAX

static bool timer_clock_valid(int32_t c)
{
	/* CPU-time clocks: ~pid << 3 | per-thread << 2 | which, which 3 (CLOCKFD) excepted */
	if (c < 0)
		return (c & 3) != 3;
	return md_timer_clock_fixed(c);
}

/* p's threads are read: a SIGEV_THREAD_ID timer must name one of them */
static int read_posix_timers(const char *name, Md__PosixTimer **m, size_t n, struct md_proc *p)
{
	for (size_t i = 0; i < n; i++) {
		const Md__PosixTimer *t = m[i];
		int base = t->notify & ~SIGEV_THREAD_ID;
		bool found = false;

		if (t->id < 0 || (i && t->id <= m[i - 1]->id))
			return img_invalid(name, "posix timer %zu has id %d, not above the one before", i, t->id);
		if (base > 2 || t->notify < 0 || (t->notify & SIGEV_THREAD_ID && base != 0))
			return img_invalid(name, "posix timer %d: bad notify %d", t->id, t->notify);
		if (base != 1 /* SIGEV_NONE */ && (t->signo < 1 || t->signo > MD_NSIG))
			return img_invalid(name, "posix timer %d: bad signal %d", t->id, t->signo);
		if (!timer_clock_valid(t->clockid))
			return img_invalid(name, "posix timer %d: bad clock %d", t->id, t->clockid);
		if (t->value_ns > KTIME_NS_MAX || t->interval_ns > KTIME_NS_MAX)
			return img_invalid(name, "posix timer %d: time out of range", t->id);
		for (size_t k = 0; k < p->n_threads; k++)
			found = found || p->threads[k].tid == t->notify_tid;
		if (t->notify & SIGEV_THREAD_ID && (!t->has_notify_tid || !found))
			return img_invalid(name, "posix timer %d signals thread %d, not one of the process's", t->id,
					   t->notify_tid);
	}
	if (!n)
		return 0;
	p->posix_timers = calloc(n, sizeof(*p->posix_timers));
	if (!p->posix_timers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const Md__PosixTimer *t = m[i];

		p->posix_timers[i] = (struct md_posix_timer){
			.id = t->id,
			.clockid = t->clockid,
			.notify = t->notify,
			.signo = t->signo,
			.notify_tid = t->notify & SIGEV_THREAD_ID ? t->notify_tid : 0,
			.sigval = t->sigval,
			.value_ns = t->value_ns,
			.interval_ns = t->interval_ns,
			.overrun = t->has_overrun ? t->overrun : 0,
		};
	}
	p->n_posix_timers = n;
	return 0;
}

#define SECCOMP_MAX_FILTERS 65536
#define SECCOMP_MAX_PATH 32768		/* the kernel's MAX_INSNS_PER_PATH */

/*
 * p's threads are read. Every filter must be below one of them, and each
 * thread's chain within the kernel's limit: sum of (length + 4), less 4.
 */
static int read_seccomp(const char *name, Md__SeccompFilter **m, size_t n, uint32_t flags, struct md_proc *p)
{
	_cleanup_free_ uint32_t *chain = NULL;
	_cleanup_free_ bool *used = NULL;

	if (n > SECCOMP_MAX_FILTERS)
		return img_invalid(name, "%zu seccomp filters", n);
	if (n) {
		p->seccomp = calloc(n, sizeof(*p->seccomp));
		chain = calloc(n, sizeof(*chain));
		used = calloc(n, sizeof(*used));
		if (!p->seccomp || !chain || !used)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const Md__SeccompFilter *f = m[i];
		size_t len = f->prog.len / sizeof(struct sock_filter);

		if (f->prog.len % sizeof(struct sock_filter) || !len || len > BPF_MAXINSNS)
			return img_invalid(name, "seccomp filter %zu: a program of %zu bytes", i, f->prog.len);
		if (f->has_parent && f->parent > i)
			return img_invalid(name, "seccomp filter %zu: parent %u is not below it", i, f->parent);
		if (f->has_flags && (f->flags & ~SECCOMP_FILTER_FLAG_LOG))
			return img_invalid(name, "seccomp filter %zu: flags 0x%x", i, f->flags);
		p->seccomp[i].insns = malloc(f->prog.len);
		if (!p->seccomp[i].insns)
			return -ENOMEM;
		memcpy(p->seccomp[i].insns, f->prog.data, f->prog.len);
		p->seccomp[i].n_insns = len;
		if (md_seccomp_notifies(p->seccomp[i].insns, len))
			return img_invalid(name, "seccomp filter %zu may hand syscalls to a supervisor", i);
		p->seccomp[i].parent = f->has_parent ? f->parent : 0;
		p->seccomp[i].flags = f->has_flags ? f->flags : 0;
		p->n_seccomp = i + 1;
	}
	for (size_t t = 0; t < p->n_threads; t++) {
		const struct md_thread *th = &p->threads[t];
		size_t total = 0;
		int k;

		if ((th->seccomp_mode || th->no_new_privs) && !(flags & MD_CORE_F_SECCOMP))
			return img_invalid(name, "thread %d: seccomp state without the header flag", th->tid);
		if (th->seccomp_filter > n)
			return img_invalid(name, "thread %d: seccomp filter %u of %zu", th->tid, th->seccomp_filter, n);
		k = md_seccomp_chain(p, th->seccomp_filter, chain, n);
		for (int i = 0; i < k; i++) {
			used[chain[i]] = true;
			total += p->seccomp[chain[i]].n_insns + (i ? 4 : 0);
		}
		if (total > SECCOMP_MAX_PATH)
			return img_invalid(name, "thread %d: seccomp filters of %zu instructions", th->tid, total);
	}
	for (size_t i = 0; i < n; i++)
		if (!used[i])
			return img_invalid(name, "seccomp filter %zu: no thread runs it", i);
	return 0;
}

/* ctty: the fds the image says are on the shell job's terminal, for read_files() to mark */
struct ctty_list {
	int32_t *fds;
	size_t n;
};

static int read_core(int dirfd, pid_t pid, struct md_proc *p, struct ctty_list *ctty)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	Md__CoreImage *m;
	uint32_t flags;
	char name[64];
	int r;

	proc_name(name, sizeof(name), "core", pid);
	r = img_read_msg_flags(dirfd, name, MD_IMG_CORE, &flags, &raw);
	if (r < 0)
		return r;
	m = (Md__CoreImage *)raw;
	if (m->pid != pid)
		return img_invalid(name, "holds pid %d", m->pid);
	if (m->n_sigactions != MD_NSIG)
		return img_invalid(name, "%zu sigactions, expected %d", m->n_sigactions, MD_NSIG);
	if (m->n_itimers != 3)
		return img_invalid(name, "%zu itimers, expected 3", m->n_itimers);
	if (m->n_rlimits != MD_RLIM_NLIMITS)
		return img_invalid(name, "%zu rlimits, expected %d", m->n_rlimits, MD_RLIM_NLIMITS);

	p->pid = m->pid;
	p->ppid = m->ppid;
	p->pgid = m->pgid;
	p->sid = m->sid;
	p->ns_pid = m->has_ns_pid ? m->ns_pid : 0;
	if (p->ns_pid < 0 || p->ns_pid >= MD_PID_LIMIT)
		return img_invalid(name, "pid %d in its PID namespace", p->ns_pid);
	p->exit_signal = m->has_exit_signal ? m->exit_signal : 17 /* SIGCHLD */;
	if (p->exit_signal < 0 || p->exit_signal > MD_NSIG)
		return img_invalid(name, "bad exit signal %d", p->exit_signal);
	p->pdeathsig = m->has_pdeathsig ? m->pdeathsig : 0;
	if (p->pdeathsig < 0 || p->pdeathsig > MD_NSIG)
		return img_invalid(name, "bad parent-death signal %d", p->pdeathsig);
	p->zombie = m->has_zombie && m->zombie;
	p->exit_status = m->has_exit_status ? m->exit_status : 0;
	if (p->zombie && !md_wait_status_valid((uint32_t)p->exit_status))
		return img_invalid(name, "a zombie with wait status %#x", p->exit_status);
	if (p->zombie && m->n_threads)
		return img_invalid(name, "a zombie with %zu threads", m->n_threads);
	r = comm_check(name, m->comm, p->comm);
	if (r < 0)
		return r;
	for (int i = 0; i < MD_NSIG; i++) {
		p->sigactions[i].handler = m->sigactions[i]->handler;
		p->sigactions[i].flags = m->sigactions[i]->flags;
		p->sigactions[i].restorer = m->sigactions[i]->restorer;
		p->sigactions[i].mask = m->sigactions[i]->mask;
	}
	for (int i = 0; i < 3; i++) {
		p->itimers[i].interval_sec = m->itimers[i]->interval_sec;
		p->itimers[i].interval_usec = m->itimers[i]->interval_usec;
		p->itimers[i].value_sec = m->itimers[i]->value_sec;
		p->itimers[i].value_usec = m->itimers[i]->value_usec;
	}
	for (int i = 0; i < MD_RLIM_NLIMITS; i++) {
		p->rlimits[i].cur = m->rlimits[i]->cur;
		p->rlimits[i].max = m->rlimits[i]->max;
	}
	r = copy_siginfos(name, "shared pending", m->shared_pending, m->n_shared_pending,
			  &p->shared_pending);
	if (r < 0)
		goto out;
	p->n_shared_pending = m->n_shared_pending;

	if (m->n_threads) {
		p->threads = calloc(m->n_threads, sizeof(*p->threads));
		if (!p->threads) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < m->n_threads; i++) {
		p->n_threads = i + 1;
		r = read_thread(name, m->threads[i], &p->threads[i], flags);
		if (r < 0)
			goto out;
	}
	if (p->zombie && m->n_posix_timers)
		return img_invalid(name, "a zombie with %zu posix timers", m->n_posix_timers);
	r = read_posix_timers(name, m->posix_timers, m->n_posix_timers, p);
	if (r < 0)
		goto out;
	if (p->zombie && m->n_seccomp_filters)
		return img_invalid(name, "a zombie with %zu seccomp filters", m->n_seccomp_filters);
	r = read_seccomp(name, m->seccomp_filters, m->n_seccomp_filters, flags, p);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];

		if (t->has_creds != p->threads[0].has_creds)
			return img_invalid(name, "credentials for some threads only");
		if (t->has_sched != p->threads[0].has_sched)
			return img_invalid(name, "scheduling for some threads only");
		if (t->has_creds && !md_creds_full_root(&t->creds) && !(flags & MD_CORE_F_CREDS))
			return img_invalid(name, "thread %d: credentials other than root's without the header flag",
					   t->tid);
	}
	p->dumpable = m->has_dumpable ? (int)m->dumpable : -1;
	if (m->has_dumpable && m->dumpable > 2)
		return img_invalid(name, "bad dumpable %u", m->dumpable);
	p->stop_sig = m->has_stop_signo ? m->stop_signo : 0;
	if (m->has_stop_signo && !(flags & MD_CORE_F_STOPPED))
		return img_invalid(name, "stopped without the header flag");
	if (m->has_stop_signo && (p->zombie || !md_stop_signal(p->stop_sig)))
		return img_invalid(name, "%s stopped by signal %d", p->zombie ? "a zombie" : "a process", p->stop_sig);
	r = read_attrs(name, m, p, flags);
	if (r < 0)
		goto out;
	p->tty_nr = m->has_tty_nr ? m->tty_nr : 0;
	if (m->n_ctty_fds && p->zombie)
		return img_invalid(name, "a zombie with fds on a terminal");
	if (m->n_ctty_fds) {
		ctty->fds = malloc(m->n_ctty_fds * sizeof(*ctty->fds));
		if (!ctty->fds) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(ctty->fds, m->ctty_fds, m->n_ctty_fds * sizeof(*ctty->fds));
		ctty->n = m->n_ctty_fds;
	}
	return 0;
out:
	if (r == -ENOMEM)
		log_err(r, "cannot read image '%s'", name);
	return r;
}

static bool vma_kind_valid(int k)
{
	return k >= MD_VMA_ANON && k <= MD_VMA_SYSV;
}

static int read_mm(int dirfd, pid_t pid, struct md_proc *p)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	Md__MmImage *m;
	char name[64];
	uint32_t flags;
	int r;

	proc_name(name, sizeof(name), "mm", pid);
	r = img_read_msg_flags(dirfd, name, MD_IMG_MM, &flags, &raw);
	if (r < 0)
		return r;
	m = (Md__MmImage *)raw;
	if (m->pid != pid)
		return img_invalid(name, "holds pid %d", m->pid);
	if (m->n_auxv % 2)
		return img_invalid(name, "auxv has an odd number of words (%zu)", m->n_auxv);
	for (size_t i = 0; i < m->n_vmas; i++) {
		const Md__Vma *v = m->vmas[i];

		if (!img_page_aligned(v->start) || !img_page_aligned(v->end))
			return img_invalid(name, "vma %zu (%llx-%llx) not page aligned", i,
					   (unsigned long long)v->start, (unsigned long long)v->end);
		if (v->start >= v->end)
			return img_invalid(name, "vma %zu (%llx-%llx) is empty or reversed", i,
					   (unsigned long long)v->start, (unsigned long long)v->end);
		if (i && v->start < m->vmas[i - 1]->end)
			return img_invalid(name, "vma %zu (%llx-%llx) overlaps or precedes the one before",
					   i, (unsigned long long)v->start, (unsigned long long)v->end);
		if (!vma_kind_valid(v->kind))
			return img_invalid(name, "vma %zu has unknown kind %d", i, v->kind);
		if (v->has_ghost && (v->kind != MD__VMA_KIND__VMA_FILE || !v->deleted || !v->ghost))
			return img_invalid(name, "vma %zu has deleted file %llu but is no deleted file mapping", i,
					   (unsigned long long)v->ghost);
		/* no memdump wrote one: it would map whatever has the path now */
		if (v->kind == MD__VMA_KIND__VMA_FILE && v->deleted && !v->has_ghost)
			return img_invalid(name, "vma %zu maps a deleted file the image does not have", i);
		if (v->has_ghost && !(flags & MD_MM_F_GHOSTS))
			return img_invalid(name, "vma %zu maps a deleted file, but the header has no flag for it", i);
	}
	if (m->has_exe_ghost && (!m->exe_ghost || !(flags & MD_MM_F_GHOSTS)))
		return img_invalid(name, "the exe is deleted file %llu (header flags 0x%x)",
				   (unsigned long long)m->exe_ghost, flags);

	if (m->n_vmas) {
		p->vmas = calloc(m->n_vmas, sizeof(*p->vmas));
		if (!p->vmas)
			goto oom;
	}
	for (size_t i = 0; i < m->n_vmas; i++) {
		const Md__Vma *s = m->vmas[i];
		struct md_vma *v = &p->vmas[i];

		p->n_vmas = i + 1;
		v->start = s->start;
		v->end = s->end;
		v->pgoff = s->pgoff;
		v->prot = s->prot;
		v->shared = s->shared;
		v->kind = (enum md_vma_kind)s->kind;
		v->vmflags = s->vmflags;
		v->dev_major = s->dev_major;
		v->dev_minor = s->dev_minor;
		v->inode = s->inode;
		v->deleted = s->deleted;
		v->shm_id = s->shm_id;
		v->ghost = s->has_ghost ? s->ghost : 0;
		if (s->path && !(v->path = strdup(s->path)))
			goto oom;
	}
#define X(f) p->mm.f = m->mm->f;
	MM_FIELDS(X)
#undef X
	if (m->n_auxv) {
		p->auxv = calloc(m->n_auxv, sizeof(*p->auxv));
		if (!p->auxv)
			goto oom;
		memcpy(p->auxv, m->auxv, m->n_auxv * sizeof(*p->auxv));
		p->auxv_len = m->n_auxv;
	}
	if (m->exe && !(p->exe = strdup(m->exe)))
		goto oom;
	p->personality = m->personality;
	p->vdso_hash = m->vdso_hash;
	p->exe_ghost = m->has_exe_ghost ? m->exe_ghost : 0;
	return 0;
oom:
	return log_err(-ENOMEM, "cannot read image '%s'", name);
}

static bool fd_kind_valid(int k)
{
	return (k >= MD_FD_REG && k <= MD_FD_MQUEUE);
}

static int read_files(int dirfd, pid_t pid, struct md_proc *p, const struct ctty_list *ctty)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	Md__FilesImage *m;
	uint32_t flags;
	char name[64];
	int r;

	proc_name(name, sizeof(name), "files", pid);
	r = img_read_msg_flags(dirfd, name, MD_IMG_FILES, &flags, &raw);
	if (r < 0)
		return r;
	m = (Md__FilesImage *)raw;
	if (m->pid != pid)
		return img_invalid(name, "holds pid %d", m->pid);
	for (size_t i = 0; i < m->n_fds; i++) {
		if (m->fds[i]->fd < 0)
			return img_invalid(name, "negative fd %d", m->fds[i]->fd);
		if (!fd_kind_valid(m->fds[i]->kind))
			return img_invalid(name, "fd %d has unknown kind %d", m->fds[i]->fd,
					   m->fds[i]->kind);
	}
	if (m->n_fds) {
		p->fds = calloc(m->n_fds, sizeof(*p->fds));
		if (!p->fds)
			goto oom;
	}
	for (size_t i = 0; i < m->n_fds; i++) {
		const Md__Fd *s = m->fds[i];
		struct md_fd *f = &p->fds[i];

		p->n_fds = i + 1;
		f->fd = s->fd;
		f->kind = (enum md_fd_kind)s->kind;
		f->flags = s->flags;
		f->pos = s->pos;
		f->mode = s->mode;
		f->shm_id = s->shm_id;
		f->dup_of = s->has_dup_of ? s->dup_of : -1;
		/*
		 * Format 1 images of one process said dup_of instead: an id
		 * unique in the process (hence the image) serves as well.
		 */
		if (s->has_ofd)
			f->ofd = s->ofd;
		else
			f->ofd = 1ULL << 63 | (uint32_t)(f->dup_of >= 0 ? f->dup_of : f->fd);
		f->pipe_id = s->has_pipe_id ? s->pipe_id : 0;
		if ((f->kind == MD_FD_PIPE || f->kind == MD_FD_FIFO) && !s->has_pipe_id)
			return img_invalid(name, "pipe fd %d without a pipe", f->fd);
		if (f->kind == MD_FD_FIFO && (!s->path || s->path[0] != '/'))
			return img_invalid(name, "FIFO fd %d without an absolute path", f->fd);
		if ((f->kind == MD_FD_PTY_MASTER || f->kind == MD_FD_PTY_SLAVE) != s->has_pty_index)
			return img_invalid(name, "fd %d: %s", f->fd, s->has_pty_index ? "a pty index on no pty fd" :
										 "a pty fd without its pty");
		if (f->kind == MD_FD_MQUEUE && (!s->path || s->path[0] != '/' || !md_mq_name_ok(s->path + 1) ||
						(f->flags & O_ACCMODE) == O_ACCMODE))
			return img_invalid(name, "POSIX message queue fd %d: name '%.64s', flags %#o", f->fd,
					   s->path ? s->path : "", f->flags);
		if (f->kind == MD_FD_PTY_MASTER && (!s->path || s->path[0] != '/'))
			return img_invalid(name, "pty master fd %d without the absolute path of its ptmx", f->fd);
		f->pty = s->has_pty_index ? s->pty_index : 0;
		f->count = s->has_count ? s->count : 0;
		f->semaphore = s->has_semaphore && s->semaphore;
		f->sigmask = s->has_sigmask ? s->sigmask : 0;
		if (f->kind == MD_FD_EVENTFD && (!s->has_count || s->count == UINT64_MAX))
			return img_invalid(name, "eventfd %d without a valid counter", f->fd);
		if (f->kind == MD_FD_SIGNALFD && !s->has_sigmask)
			return img_invalid(name, "signalfd %d without a mask", f->fd);
		if (s->has_pidfd_pid && f->kind != MD_FD_PIDFD)
			return img_invalid(name, "fd %d: a process on no pidfd", f->fd);
		if (s->has_pidfd_pid && s->pidfd_pid <= 0)
			return img_invalid(name, "pidfd %d on no valid pid", f->fd);
		if (f->kind == MD_FD_PIDFD && ((f->flags & O_ACCMODE) != O_RDWR || (f->flags & ~MD_PIDFD_FLAGS)))
			return img_invalid(name, "pidfd %d has flags %#o", f->fd, f->flags);
		f->pidfd_pid = s->has_pidfd_pid ? s->pidfd_pid : 0;
		if ((s->has_pidfd_gone || s->has_pidfd_exit) && (f->kind != MD_FD_PIDFD || f->pidfd_pid))
			return img_invalid(name, "fd %d: a process gone on no pidfd of one", f->fd);
		if (s->has_pidfd_exit && !md_wait_status_valid(s->pidfd_exit))
			return img_invalid(name, "pidfd %d: wait status %#x", f->fd, s->pidfd_exit);
		f->pidfd_gone = s->has_pidfd_gone ? s->pidfd_gone : 0;
		f->pidfd_exit_known = s->has_pidfd_exit;
		f->pidfd_exit = (uint16_t)s->pidfd_exit;
		if (f->kind == MD_FD_TIMERFD) {
			if (!s->timer)
				return img_invalid(name, "timerfd %d without its timer", f->fd);
			f->timer.clockid = s->timer->clockid;
			f->timer.settime_flags = s->timer->settime_flags;
			f->timer.value_ns = s->timer->value_ns;
			f->timer.interval_ns = s->timer->interval_ns;
		}
		if (s->n_epoll && f->kind != MD_FD_EPOLL)
			return img_invalid(name, "fd %d is no epoll fd but has an interest list", f->fd);
		if (s->n_epoll) {
			f->epoll = calloc(s->n_epoll, sizeof(*f->epoll));
			if (!f->epoll)
				goto oom;
			f->n_epoll = s->n_epoll;
		}
		for (size_t k = 0; k < s->n_epoll; k++) {
			const Md__EpollItem *e = s->epoll[k];

			if (e->tfd < 0)
				return img_invalid(name, "epoll fd %d watches negative fd %d", f->fd, e->tfd);
			f->epoll[k] = (struct md_epoll_item){ .tfd = e->tfd, .events = e->events, .data = e->data,
							      .ofd = e->has_ofd ? e->ofd : 0 };
		}
		if (md_fd_is_sock(f)) {
			if (!s->socket)
				return img_invalid(name, "socket fd %d without its socket", f->fd);
			r = img_sock_read(name, f->fd, s->socket, &f->sock);
			if (r < 0)
				return r;
		}
		if (s->path && !(f->path = strdup(s->path)))
			goto oom;
		r = image_read_fd_extras(name, s, f);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < ctty->n; k++) {
		struct md_fd *f = NULL;

		for (size_t i = 0; i < p->n_fds; i++)
			if (p->fds[i].fd == ctty->fds[k])
				f = &p->fds[i];
		if (!f || f->kind != MD_FD_CHR)
			return img_invalid(name, "fd %d is on the terminal (core-%d.img) but not a character device here",
					   ctty->fds[k], pid);
		f->ctty = true;
	}
	if (m->cwd && !(p->cwd = strdup(m->cwd)))
		goto oom;
	p->umask = m->umask;
	r = image_read_mapped_ghosts(name, m, p);
	if (r >= 0 && md_proc_ghost_dirs(p) && !(flags & MD_FILES_F_GHOST_DIRS))
		return img_invalid(name, "holds a removed directory without header flag %#x", MD_FILES_F_GHOST_DIRS);
	return r;
oom:
	return log_err(-ENOMEM, "cannot read image '%s'", name);
}

int image_read_proc(int dirfd, pid_t pid, struct md_proc *ret)
{
	struct md_proc p = {0};
	struct ctty_list ctty = { 0 };
	int r;

	r = read_core(dirfd, pid, &p, &ctty);
	if (r >= 0 && !p.zombie)
		r = read_mm(dirfd, pid, &p);
	if (r >= 0 && !p.zombie)
		r = read_files(dirfd, pid, &p, &ctty);
	free(ctty.fds);
	if (r < 0) {
		md_proc_release(&p);
		return r;
	}
	*ret = p;
	return 0;
}
