/*
 * Release functions of the shared model (include/memdump/model.h), all
 * accepting NULL and leaving the struct zeroed, and lookups in it.
 */
#include "memdump/model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void md_thread_release(struct md_thread *t)
{
	if (!t)
		return;
	free(t->xsave);
	free(t->pending);
	free(t->creds.groups);
	memset(t, 0, sizeof(*t));
}

bool md_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int md_siginfo_signo(const struct md_siginfo *si)
{
	int sig;

	memcpy(&sig, si->raw, sizeof(sig));
	return sig;
}

bool md_creds_full_root(const struct md_creds *c)
{
	for (int i = 0; i < 4; i++)
		if (c->uid[i] || c->gid[i])
			return false;
	return !c->cap_inh && !c->cap_amb && !c->secbits && c->cap_prm == c->cap_bnd && c->cap_eff == c->cap_bnd;
}

bool md_creds_same_ids(const struct md_creds *a, const struct md_creds *b)
{
	return !memcmp(a->uid, b->uid, sizeof(a->uid)) && !memcmp(a->gid, b->gid, sizeof(a->gid)) &&
	       a->n_groups == b->n_groups &&
	       (!a->n_groups || !memcmp(a->groups, b->groups, a->n_groups * sizeof(*a->groups)));
}

bool md_creds_same(const struct md_creds *a, const struct md_creds *b)
{
	return md_creds_same_ids(a, b) && a->cap_inh == b->cap_inh && a->cap_prm == b->cap_prm &&
	       a->cap_eff == b->cap_eff && a->cap_bnd == b->cap_bnd && a->cap_amb == b->cap_amb &&
	       a->secbits == b->secbits;
}

bool md_sched_valid(const struct md_sched *s)
{
	bool rt = s->policy == SCHED_FIFO || s->policy == SCHED_RR, dl = s->policy == MD_SCHED_DEADLINE;
	uint64_t any = 0;

	if (s->policy > MD_SCHED_EXT || s->policy == 4 || (s->flags & ~MD_SCHED_FLAGS))
		return false;
	if (!dl && (s->flags & ~1u))	/* reclaim and overrun: deadline threads' */
		return false;
	if (s->nice < -20 || s->nice > 19 || s->ioprio > 0xffff || (s->ioprio >> 13) > 3)
		return false;
	if (!(s->ioprio >> 13) && (s->ioprio & 7))	/* class NONE takes no level */
		return false;
	if (rt ? s->priority < 1 || s->priority > 99 : s->priority != 0)
		return false;
	if (dl ? s->dl_runtime < 1024 || s->dl_runtime > s->dl_deadline ||
			 (s->dl_period && s->dl_deadline > s->dl_period) || s->dl_deadline >> 63 || s->dl_period >> 63
	       : s->dl_runtime || s->dl_deadline || s->dl_period)
		return false;
	for (int i = 0; i < MD_CPU_WORDS; i++)
		any |= s->cpus[i];
	return s->pinned == (any != 0);
}

bool md_sched_default(const struct md_sched *s)
{
	return !s->policy && !s->flags && !s->nice && !s->priority && !s->ioprio &&
	       s->timer_slack_ns == MD_TIMER_SLACK_DEFAULT && !s->pinned;
}

bool md_attrs_valid(const struct md_attrs *a)
{
	return a->oom_score_adj >= -1000 && a->oom_score_adj <= 1000 &&
	       (!a->thp_disable || ((a->thp_disable & 1) && !(a->thp_disable & ~3u))) &&
	       !(a->mdwe & ~3u) && (!(a->mdwe & 2) || (a->mdwe & 1)) && !(a->membarrier & ~MD_MEMBARRIER_REGISTERED);
}

bool md_attrs_default(const struct md_attrs *a)
{
	return !a->oom_score_adj && !a->child_subreaper && !a->thp_disable && !a->mdwe && !a->membarrier;
}

void md_vmas_free(struct md_vma *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].path);
	free(v);
}

void md_proc_release(struct md_proc *p)
{
	if (!p)
		return;
	free(p->cwd);
	free(p->exe);
	free(p->auxv);
	md_vmas_free(p->vmas, p->n_vmas);
	for (size_t i = 0; i < p->n_threads; i++)
		md_thread_release(&p->threads[i]);
	free(p->threads);
	free(p->shared_pending);
	free(p->posix_timers);
	for (size_t i = 0; i < p->n_seccomp; i++)
		free(p->seccomp[i].insns);
	free(p->seccomp);
	for (size_t i = 0; i < p->n_fds; i++)
		md_fd_release(&p->fds[i]);
	free(p->fds);
	for (size_t i = 0; i < p->n_mapped; i++)
		md_ghost_release(&p->mapped[i]);
	free(p->mapped);
	memset(p, 0, sizeof(*p));
}

int md_seccomp_chain(const struct md_proc *p, uint32_t leaf, uint32_t *out, size_t cap)
{
	size_t n = 0, k;

	/* each step goes down: no cycle, at most n_seccomp steps */
	for (uint32_t f = leaf; f; f = p->seccomp[f - 1].parent) {
		if (f > p->n_seccomp || p->seccomp[f - 1].parent >= f)
			return -EINVAL;
		n++;
	}
	k = n;
	for (uint32_t f = leaf; f; f = p->seccomp[f - 1].parent)
		if (--k < cap)
			out[k] = f - 1;
	return (int)n;
}

bool md_seccomp_same(const struct md_seccomp_filter *a, const struct md_seccomp_filter *b)
{
	return a->flags == b->flags && a->n_insns == b->n_insns &&
	       !memcmp(a->insns, b->insns, a->n_insns * sizeof(*a->insns));
}

bool md_seccomp_notifies(const struct sock_filter *insns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (insns[i].code == (BPF_RET | BPF_A))
			return true;
		if (insns[i].code == (BPF_RET | BPF_K) &&
		    (insns[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
			return true;
	}
	return false;
}

bool md_proc_ghost_is_dir(const struct md_proc *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].ghost && p->fds[i].ghost->id == id)
			return p->fds[i].kind == MD_FD_DIR;
	for (size_t i = 0; i < p->n_mapped; i++)
		if (p->mapped[i].id == id)
			return S_ISDIR(p->mapped[i].mode);
	return false;
}

bool md_proc_ghost_dirs(const struct md_proc *p)
{
	if (p->cwd_ghost)
		return true;
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].ghost && p->fds[i].kind == MD_FD_DIR)
			return true;
	for (size_t i = 0; i < p->n_mapped; i++)
		if (S_ISDIR(p->mapped[i].mode))
			return true;
	return false;
}

const struct md_ghost *md_proc_ghost(const struct md_proc *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].ghost && p->fds[i].ghost->id == id)
			return p->fds[i].ghost;
	for (size_t i = 0; i < p->n_mapped; i++)
		if (p->mapped[i].id == id)
			return &p->mapped[i];
	return NULL;
}

static int cmp_pipes(const void *a, const void *b)
{
	const struct md_pipe *x = a, *y = b;

	if (x->fifo != y->fifo)
		return x->fifo ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

void md_pipes_sort(struct md_pipe *p, size_t n)
{
	if (n)
		qsort(p, n, sizeof(*p), cmp_pipes);
}

ssize_t md_pipes_find(const struct md_pipe *p, size_t n, bool fifo, uint64_t id)
{
	struct md_pipe key = { .id = id, .fifo = fifo };
	const struct md_pipe *hit = n ? bsearch(&key, p, n, sizeof(*p), cmp_pipes) : NULL;

	return hit ? hit - p : -1;
}

static int cmp_fd_num(const void *key, const void *elem)
{
	int fd = *(const int *)key, other = ((const struct md_fd *)elem)->fd;

	return (fd > other) - (fd < other);
}

const struct md_fd *md_proc_fd(const struct md_proc *p, int fd)
{
	return p->n_fds ? bsearch(&fd, p->fds, p->n_fds, sizeof(*p->fds), cmp_fd_num) : NULL;
}

const struct md_proc *md_find_proc(const struct md_proc *procs, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static int cmp_sock_ref(const void *a, const void *b)
{
	const struct md_sock_ref *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int md_socks_make(struct md_socks *s, const struct md_proc *procs, size_t n)
{
	size_t count = 0, pos = 0, k = 0;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++)
			count += md_fd_is_sock(&procs[i].fds[j]);
	s->refs = calloc(count ? count : 1, sizeof(*s->refs));
	if (!s->refs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++)
			if (md_fd_is_sock(&procs[i].fds[j]))
				s->refs[k++] = (struct md_sock_ref){ procs[i].fds[j].sock.ino, pos, &procs[i].fds[j],
								     procs[i].pid };
	qsort(s->refs, count, sizeof(*s->refs), cmp_sock_ref);
	/* the first fd of each socket */
	for (size_t i = 0; i < count; i++)
		if (!s->n || s->refs[s->n - 1].ino != s->refs[i].ino)
			s->refs[s->n++] = s->refs[i];
	return 0;
}

static int cmp_sock_ino(const void *key, const void *elem)
{
	uint64_t ino = *(const uint64_t *)key, other = ((const struct md_sock_ref *)elem)->ino;

	return (ino > other) - (ino < other);
}

ssize_t md_socks_slot(const struct md_socks *s, uint64_t ino)
{
	const struct md_sock_ref *r = s->n ? bsearch(&ino, s->refs, s->n, sizeof(*s->refs), cmp_sock_ino) : NULL;

	return r ? r - s->refs : -1;
}

const struct md_fd *md_socks_find(const struct md_socks *s, uint64_t ino, pid_t *ret_pid)
{
	ssize_t k = md_socks_slot(s, ino);

	if (k >= 0 && ret_pid)
		*ret_pid = s->refs[k].pid;
	return k >= 0 ? s->refs[k].f : NULL;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct md_sock *x = &(*(const struct md_fd *const *)a)->sock;
	const struct md_sock *y = &(*(const struct md_fd *const *)b)->sock;

	if (x->pending_on != y->pending_on)
		return x->pending_on < y->pending_on ? -1 : 1;
	return (x->pending_pos > y->pending_pos) - (x->pending_pos < y->pending_pos);
}

int md_socks_pending(const struct md_socks *s, const struct md_fd ***ret, size_t *ret_n)
{
	const struct md_fd **p;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->refs[i].f->sock.pending_on != 0;
	p = malloc((n ? n : 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->refs[i].f->sock.pending_on)
			p[n++] = s->refs[i].f;
	if (n)
		qsort(p, n, sizeof(*p), cmp_pending);
	*ret = p;
	*ret_n = n;
	return 0;
}

size_t md_pending_first(const struct md_fd *const *p, size_t n, uint64_t listener)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p[mid]->sock.pending_on < listener)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void md_socks_release(struct md_socks *s)
{
	free(s->refs);
	memset(s, 0, sizeof(*s));
}

bool md_sock_refillable(const struct md_socks *socks, const struct md_sock *s)
{
	const struct md_fd *peer;

	/* a connection waiting in a backlog: its other end, which would send, is the kernel's */
	if (s->family != AF_UNIX || s->state != TCP_ESTABLISHED || s->pending_on)
		return false;
	if (!s->peer_ino)
		return true;
	peer = md_socks_find(socks, s->peer_ino, NULL);
	return peer && peer->sock.peer_ino == s->ino;
}

bool md_timer_clock_fixed(int32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_PROCESS_CPUTIME_ID ||
	       c == CLOCK_THREAD_CPUTIME_ID || c == CLOCK_BOOTTIME || c == CLOCK_REALTIME_ALARM ||
	       c == CLOCK_BOOTTIME_ALARM || c == CLOCK_TAI;
}

struct timespec md_ns_timespec(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) };
}

uint64_t md_timespec_ns(const struct timespec *ts)
{
	if (ts->tv_sec < 0 || ts->tv_nsec < 0)
		return 0;
	return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

void md_ghost_release(struct md_ghost *g)
{
	if (!g)
		return;
	md_pagemap_release(&g->data);
	free(g->path);
	g->path = NULL;
}

void md_ghost_free(struct md_ghost *g)
{
	md_ghost_release(g);
	free(g);
}

void md_fd_release(struct md_fd *f)
{
	if (!f)
		return;
	free(f->path);
	for (size_t i = 0; i < f->n_watches; i++)
		free(f->watches[i].path);
	free(f->watches);
	md_ghost_free(f->ghost);
	free(f->epoll);
	free(f->sock.opts);
	f->sock.opts = NULL;
	free(f->locks);
	f->locks = NULL;
	f->n_locks = 0;
	f->path = NULL;
	f->watches = NULL;
	f->n_watches = 0;
	f->ghost = NULL;
	f->epoll = NULL;
	f->n_epoll = 0;
}

void md_pagemap_release(struct md_pagemap *pm)
{
	if (!pm)
		return;
	free(pm->entries);
	memset(pm, 0, sizeof(*pm));
}

void md_inventory_release(struct md_inventory *inv)
{
	if (!inv)
		return;
	free(inv->kernel_release);
	free(inv->tool_version);
	free(inv->pids);
	free(inv->shm_ids);
	free(inv->sysv_shm_ids);
	free(inv->uts_host);
	free(inv->uts_domain);
	free(inv->proc_opts);
	md_sysctls_free(inv->net_sysctls, inv->n_net_sysctls);
	memset(inv, 0, sizeof(*inv));
}

void md_sysctls_free(struct md_sysctl *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].name);
		free(s[i].value);
	}
	free(s);
}

int md_sysctl_diff(const struct md_sysctl *a, size_t na, const struct md_sysctl *b, size_t nb,
		   const struct md_sysctl ***ret, size_t *ret_n)
{
	const struct md_sysctl **out = NULL;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < na; i++) {
		int c = 1;

		while (j < nb && (c = strcmp(b[j].name, a[i].name)) < 0)
			j++;
		if (j == nb || c != 0 || !strcmp(b[j].value, a[i].value))
			continue;
		if (!out && !(out = calloc(na, sizeof(*out))))
			return -ENOMEM;
		out[n++] = &a[i];
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/*
 * Every sysctl of an IPC namespace but the *_next_id ones (-1 but while a
 * restore chooses an id) and auto_msgmni (without effect since 4.1),
 * sorted (md_sysctl_diff())
 */
const char *const md_ipc_sysctl_names[] = {
	"fs/mqueue/msg_default", "fs/mqueue/msg_max", "fs/mqueue/msgsize_default", "fs/mqueue/msgsize_max",
	"fs/mqueue/queues_max", "kernel/msgmax", "kernel/msgmnb", "kernel/msgmni", "kernel/sem",
	"kernel/shm_rmid_forced", "kernel/shmall", "kernel/shmmax", "kernel/shmmni", NULL,
};

bool md_ipc_sysctl_name_ok(const char *name)
{
	for (size_t i = 0; md_ipc_sysctl_names[i]; i++)
		if (!strcmp(name, md_ipc_sysctl_names[i]))
			return true;
	return false;
}

void md_ipcns_release(struct md_ipcns *ns)
{
	md_sysctls_free(ns->sysctls, ns->n_sysctls);
	for (size_t i = 0; i < ns->n_sems; i++)
		free(ns->sems[i].values);
	free(ns->sems);
	for (size_t i = 0; i < ns->n_msgqs; i++) {
		for (size_t k = 0; k < ns->msgqs[i].n_msgs; k++)
			free(ns->msgqs[i].msgs[k].data);
		free(ns->msgqs[i].msgs);
	}
	free(ns->msgqs);
	for (size_t i = 0; i < ns->n_mqs; i++) {
		for (size_t k = 0; k < ns->mqs[i].n_msgs; k++)
			free(ns->mqs[i].msgs[k].data);
		free(ns->mqs[i].msgs);
		free(ns->mqs[i].name);
	}
	free(ns->mqs);
	memset(ns, 0, sizeof(*ns));
}

bool md_mq_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len <= NAME_MAX && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

bool md_net_sysctl_name_ok(const char *name)
{
	size_t len = strlen(name), comp = 0;

	if (!len || len > MD_NET_SYSCTL_NAME_MAX)
		return false;
	for (const char *s = name;; s++) {
		if (*s == '/' || !*s) {
			/* empty, ".", "..": not a name under /proc/sys/net */
			if (!comp || (comp <= 2 && !strncmp(s - comp, "..", comp)))
				return false;
			if (!*s)
				return true;
			comp = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && !strchr("_.:-", *s))
			return false;
		comp++;
	}
}

void md_shm_release(struct md_shm *s)
{
	if (!s)
		return;
	free(s->name);
	memset(s, 0, sizeof(*s));
}

void md_pipe_release(struct md_pipe *p)
{
	if (!p)
		return;
	free(p->data);
	memset(p, 0, sizeof(*p));
}

void md_sock_queue_release(struct md_sock_queue *q)
{
	if (!q)
		return;
	free(q->data);
	free(q->pkt_len);
	memset(q, 0, sizeof(*q));
}

void md_tcp_stream_release(struct md_tcp_stream *t)
{
	if (!t)
		return;
	free(t->sendq);
	free(t->recvq);
	memset(t, 0, sizeof(*t));
}

bool md_tcp_state_conn(int state)
{
	return state == TCP_ESTABLISHED || md_tcp_state_fin_sent(state) || md_tcp_state_fin_received(state);
}

bool md_tcp_state_fin_sent(int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING || state == TCP_LAST_ACK;
}

bool md_tcp_state_fin_received(int state)
{
	return state == TCP_CLOSE_WAIT || state == TCP_CLOSING || state == TCP_LAST_ACK;
}

const char *md_tcp_state_name(int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN-SENT", [TCP_SYN_RECV] = "SYN-RECV",
		[TCP_FIN_WAIT1] = "FIN-WAIT-1", [TCP_FIN_WAIT2] = "FIN-WAIT-2", [TCP_TIME_WAIT] = "TIME-WAIT",
		[TCP_CLOSE] = "CLOSE", [TCP_CLOSE_WAIT] = "CLOSE-WAIT", [TCP_LAST_ACK] = "LAST-ACK",
		[TCP_LISTEN] = "LISTEN", [TCP_CLOSING] = "CLOSING",
	};
	static char other[32];

	if (state > 0 && (size_t)state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	snprintf(other, sizeof(other), "state %d", state);
	return other;
}

bool md_fd_tcp_conn(const struct md_fd *f)
{
	return f->kind == MD_FD_INET_SOCKET && f->sock.protocol == IPPROTO_TCP && md_tcp_state_conn(f->sock.state);
}

void md_track_release(struct md_track *t)
{
	free(t->procs);
	t->procs = NULL;
	t->n = 0;
}
