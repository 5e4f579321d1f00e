/*
 * Lazy restore (--lazy-pages): the tree runs before its private anonymous
 * memory holds its data; each page is filled on first touch through
 * userfaultfd, and in the background, in address order, until all are in.
 *
 * Before any process exists, restore forks the lazy server: a copy of
 * itself that knows every image and source of pages. Each process makes a
 * userfaultfd by a remote syscall; restore takes it (pidfd_getfd),
 * registers the process's lazy VMAs (missing mode) and sends the fd and
 * the registered ranges to the server over a socket. The server serves
 * faults at once, even those of restore's own remote syscalls, and follows
 * the process: fork (the child gets a userfaultfd of its own and the pages
 * still missing), mremap (the pages move), munmap and MADV_DONTNEED (the
 * pages are no longer wanted). It checks each chunk against its hash before
 * a byte of it goes in; a chunk it cannot serve kills the tree rather than
 * let it run on zeroes. It exits once every page is in and restore said
 * the tree runs; if restore fails instead, it exits at once.
 *
 * Lazy: VMAs of private anonymous memory with data, not locked, not
 * madvised for huge pages (userfaultfd fills small pages only), nor
 * don't-fork or wipe-on-fork, not kept by or shared with a forked child by
 * copy-on-write. Everything else is filled
 * before the tree runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "compat/userfaultfd.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "restore/internal.h"

#define LAZY_DONE UINT32_MAX	/* the message that says the tree runs */

/* restore -> server: which process, how many ranges follow; the userfaultfd rides along */
struct lazy_hello {
	uint32_t proc;		/* index in rc->procs, or LAZY_DONE */
	uint32_t n_ranges;
};

struct lazy_range {
	uint64_t start, end;
};

/* ---- restore's side ------------------------------------------------------------ */

static bool child_inherits(const struct restore_ctx *rc, const struct restore_proc *rp, const struct md_vma *v)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct restore_proc *cp = &rc->procs[k];

		if (cp->parent != rp)
			continue;
		for (size_t i = 0; i < cp->pm.n; i++) {
			const struct md_pagemap_entry *e = &cp->pm.entries[i];

			if (e->flags & MD_PM_INHERIT && e->vaddr < v->end &&
			    e->vaddr + e->nr_pages * MD_PAGE_SIZE > v->start)
				return true;
		}
	}
	return false;
}

static bool vma_lazy(const struct restore_ctx *rc, const struct restore_proc *rp, size_t i)
{
	const struct md_vma *v = &rp->p.vmas[i];

	/* huge pages asked for: userfaultfd would fill them as small ones */
	/* a child forked later must not get pages of a don't-fork or wipe-on-fork VMA from us */
	return v->kind == MD_VMA_ANON && !v->shared && rp->vma_filled[i] && !rp->vma_kept[i] &&
	       !(v->vmflags & (MD_VMF_LO | MD_VMF_HG | MD_VMF_DC | MD_VMF_WF)) && !child_inherits(rc, rp, v);
}

int restore_lazy_start(struct restore_ctx *rc)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return log_err(-errno, "cannot start the lazy server");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return log_err(-errno, "cannot start the lazy server");
	}
	if (!pid) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		struct rlimit nofile;

		close(sv[0]);
		/* out of the caller's way: no terminal signals, no stdin/stdout held open */
		setsid();
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			close(null);
		}
		/* a userfaultfd per process served, forked ones included */
		if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
			nofile.rlim_cur = nofile.rlim_max;
			setrlimit(RLIMIT_NOFILE, &nofile);
		}
		_exit(restore_lazy_serve(rc, sv[1]) < 0 ? 1 : 0);
	}
	close(sv[1]);
	rc->lazy_sock = sv[0];
	rc->lazy_pid = pid;
	return 0;
}

/* one message: the hello, its ranges after it, the fd (if any) riding along */
static int send_hello(int sock, const struct lazy_hello *h, int fd, const struct lazy_range *ranges)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { (void *)ranges, h->n_ranges * sizeof(*ranges) } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = h->n_ranges ? 2 : 1 };
	size_t total = iov[0].iov_len + (h->n_ranges ? iov[1].iov_len : 0);
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* a blocking stream socket takes it all, unless a signal cuts it short: then it failed */
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)total ? 0 : n < 0 ? -errno : -EIO;
}

int restore_take_uffd(struct restore_proc *rp, int flags, int *ret)
{
	_cleanup_close_ int pidfd = md_pidfd_open(rp->pid);
	int r;

	if (pidfd < 0) {
		*ret = -errno;
		return 0;
	}
	r = inject_take_userfaultfd(&rp->ic, pidfd, flags, ret);
	if (r < 0)
		return log_err(r, "remote userfaultfd() or close() in %d failed", rp->pid);
	return 0;
}

int restore_uffd_register_missing(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = {
		.range = { start, end - start },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ? -errno : 0;
}

int restore_lazy_register(struct restore_ctx *rc, struct restore_proc *rp)
{
	_cleanup_free_ struct lazy_range *ranges = NULL;
	struct uffdio_api api = { .api = UFFD_API, .features = KFEAT_UFFD_LAZY };
	struct lazy_hello h = { .proc = (uint32_t)(rp - rc->procs) };
	_cleanup_close_ int uffd = -1;
	int r;

	rp->vma_lazy = calloc(rp->p.n_vmas + 1, sizeof(bool));
	ranges = calloc(rp->p.n_vmas + 1, sizeof(*ranges));
	if (!rp->vma_lazy || !ranges)
		return -ENOMEM;
	for (size_t i = 0; i < rp->p.n_vmas; i++)
		if (vma_lazy(rc, rp, i)) {
			rp->vma_lazy[i] = true;
			ranges[h.n_ranges++] = (struct lazy_range){ rp->p.vmas[i].start, rp->p.vmas[i].end };
		}
	if (!h.n_ranges)
		return 0;
	/* kernel-mode faults too: the process's own syscalls touch its memory */
	r = restore_take_uffd(rp, O_CLOEXEC | O_NONBLOCK, &uffd);
	if (r < 0)
		return r;
	if (uffd < 0)
		return log_err(uffd, "%d cannot make a userfaultfd (lazy restore needs one)", rp->pid);
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return log_err(-errno, "userfaultfd of %d: no fork, mremap, munmap and madvise events (lazy restore "
				       "needs them)", rp->pid);
	for (uint32_t i = 0; i < h.n_ranges; i++) {
		r = restore_uffd_register_missing(uffd, ranges[i].start, ranges[i].end);
		if (r < 0)
			return log_err(r, "cannot register %#llx-%#llx of %d for lazy restore",
				       (unsigned long long)ranges[i].start, (unsigned long long)ranges[i].end, rp->pid);
	}
	r = send_hello(rc->lazy_sock, &h, uffd, ranges);
	if (r < 0)
		return log_err(r, "cannot reach the lazy server");
	return 0;
}

bool restore_src_lazy(const struct restore_proc *rp, const struct restore_src *s)
{
	size_t i;

	if (!rp->vma_lazy)
		return false;
	i = restore_src_vma(rp, s);
	return i < rp->p.n_vmas && rp->vma_lazy[i];
}

int restore_lazy_done(struct restore_ctx *rc)
{
	struct lazy_hello h = { .proc = LAZY_DONE };
	int r;

	if (rc->lazy_sock < 0)
		return 0;
	r = send_hello(rc->lazy_sock, &h, -1, NULL);
	close(rc->lazy_sock);
	rc->lazy_sock = -1;
	if (r < 0)
		return log_err(r, "cannot reach the lazy server");
	return 0;
}

/* ---- the server ------------------------------------------------------------------ */

/* one address space it serves: pieces sorted by address; len 0 once in (or unwanted); those before next all are */
struct lazy_mm {
	int uffd;
	pid_t pid;		/* 0: a child forked since restore */
	struct restore_piece *pc;
	size_t n, next;
	uint64_t *retry;	/* faults to serve again: the address space was changing */
	size_t n_retry;
};

struct lazy_server {
	struct restore_ctx *rc;
	int sock;
	bool done;		/* restore said the tree runs */
	struct lazy_mm *mm;
	size_t n_mm;
	struct image_pages_cursor *cur;
	uint8_t *buf;
	uint64_t served;	/* bytes */
};

static int cmp_addr(const void *a, const void *b)
{
	const struct restore_piece *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int add_mm(struct lazy_server *s, int uffd, pid_t pid, struct restore_piece *pc, size_t n)
{
	struct lazy_mm *a = realloc(s->mm, (s->n_mm + 1) * sizeof(*a));

	if (!a) {
		close(uffd);
		free(pc);
		return -ENOMEM;
	}
	s->mm = a;
	if (n)
		qsort(pc, n, sizeof(*pc), cmp_addr);
	s->mm[s->n_mm++] = (struct lazy_mm){ .uffd = uffd, .pid = pid, .pc = pc, .n = n };
	return 0;
}

static void drop_mm(struct lazy_server *s, size_t i)
{
	close(s->mm[i].uffd);
	free(s->mm[i].pc);
	free(s->mm[i].retry);
	s->mm[i] = s->mm[--s->n_mm];
}

/* whether a piece is still missing; every piece before m->next is in */
static bool pending(struct lazy_mm *m)
{
	while (m->next < m->n && !m->pc[m->next].len)
		m->next++;
	return m->next < m->n;
}

struct lazy_ranges {
	const struct lazy_range *r;	/* sorted (VMA order), not overlapping */
	size_t n;
};

static bool in_ranges(const struct restore_src *src, void *arg)
{
	const struct lazy_ranges *rs = arg;
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (src->vaddr < rs->r[mid].start)
			hi = mid;
		else if (src->vaddr >= rs->r[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* a message from restore: a process to serve, or the word that the tree runs */
static int recv_proc(struct lazy_server *s)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct lazy_hello h;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	_cleanup_free_ struct lazy_range *ranges = NULL;
	struct restore_pieces ps;
	struct lazy_ranges rs;
	struct cmsghdr *c;
	int uffd = -1, r = 0;
	size_t len;
	ssize_t n;

	do
		n = recvmsg(s->sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	c = CMSG_FIRSTHDR(&m);
	if (n > 0 && c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&uffd, CMSG_DATA(c), sizeof(int));
	if (n != sizeof(h) || (m.msg_flags & MSG_CTRUNC)) {
		if (uffd >= 0)
			close(uffd);
		/* restore is gone without a word (it failed), or we could not take the fd */
		return n == sizeof(h) ? -EMFILE : -EPIPE;
	}
	if (h.proc == LAZY_DONE) {
		s->done = true;
		close(s->sock);
		s->sock = -1;
		return 0;
	}
	if (uffd < 0 || h.proc >= s->rc->n || !h.n_ranges || h.n_ranges > s->rc->procs[h.proc].p.n_vmas) {
		if (uffd >= 0)
			close(uffd);
		return -EPROTO;
	}
	len = h.n_ranges * sizeof(*ranges);
	ranges = malloc(len);
	if (!ranges)
		r = -ENOMEM;
	else
		do
			n = recv(s->sock, ranges, len, MSG_WAITALL);
		while (n < 0 && errno == EINTR);
	if (r >= 0 && n != (ssize_t)len)
		r = n < 0 ? -errno : -EPIPE;
	if (r >= 0) {
		const struct restore_proc *rp = &s->rc->procs[h.proc];

		rs = (struct lazy_ranges){ ranges, h.n_ranges };
		r = restore_pieces(rp->src, rp->n_src, in_ranges, &rs, &ps);
	}
	if (r < 0) {
		close(uffd);
		return r;
	}
	return add_mm(s, uffd, s->rc->procs[h.proc].p.pid, ps.pc, ps.n);
}

/* the piece holding addr, or NULL */
static struct restore_piece *find_piece(struct lazy_mm *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->pc[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	return addr < m->pc[lo - 1].addr + m->pc[lo - 1].len ? &m->pc[lo - 1] : NULL;
}

/*
 * UFFDIO_COPY of len bytes; pages already there are skipped, and so are
 * pages no longer registered (ENOENT: a copy may not cross a VMA's end, so
 * after one it goes on a page at a time). -ESRCH: the address space is
 * gone; -EAGAIN: it is changing (fork, mremap...), whose event must be
 * read first.
 */
static int copy_in(int uffd, uint64_t dst, const uint8_t *src, uint64_t len)
{
	bool by_page = false;

	while (len) {
		struct uffdio_copy c = { .dst = dst, .src = (uint64_t)(uintptr_t)src, .len = by_page ? MD_PAGE_SIZE : len };
		uint64_t k;

		if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
			k = c.len;
		else if (c.copy > 0)
			k = (uint64_t)c.copy;
		else if (errno == EEXIST || (errno == ENOENT && by_page))
			k = MD_PAGE_SIZE;
		else if (errno == ENOENT) {
			by_page = true;
			continue;
		} else if (errno == EINTR)
			continue;
		else
			return -errno;
		dst += k;
		src += k;
		len -= k;
	}
	return 0;
}

static int serve_piece(struct lazy_server *s, struct lazy_mm *m, struct restore_piece *pc)
{
	const uint8_t *base;
	uint64_t base_off;
	int r;

	r = restore_load_group(pc, 1, s->cur, s->buf, true, &base, &base_off);
	if (r < 0)
		return r;
	r = copy_in(m->uffd, pc->addr, base + (pc->off - base_off), pc->len);
	if (r < 0)
		return r;
	s->served += pc->len;
	pc->len = 0;
	return 0;
}

/* the fault at addr: its piece, or a page of zeroes where the image has no data */
static int serve_fault(struct lazy_server *s, struct lazy_mm *m, uint64_t addr)
{
	struct restore_piece *p = find_piece(m, addr);
	struct uffdio_range wake = { addr, MD_PAGE_SIZE };
	int r;

	if (p) {
		r = serve_piece(s, m, p);
	} else {
		struct uffdio_zeropage z = { .range = { addr, MD_PAGE_SIZE } };

		/* EEXIST: there already; ENOENT: not registered (moved or unmapped) any more */
		r = ioctl(m->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST && errno != ENOENT ? -errno : 0;
	}
	if (r == -EAGAIN) {
		uint64_t *a = realloc(m->retry, (m->n_retry + 1) * sizeof(*a));

		if (!a)
			return -ENOMEM;
		a[m->n_retry++] = addr;
		m->retry = a;
		return 0;
	}
	if (r >= 0)
		ioctl(m->uffd, UFFDIO_WAKE, &wake);
	return r;
}

/* faults put off while the address space was changing */
static int retry_faults(struct lazy_server *s, struct lazy_mm *m)
{
	size_t n = m->n_retry;

	m->n_retry = 0;
	for (size_t i = 0; i < n; i++) {
		int r = serve_fault(s, m, m->retry[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* only the pieces still missing, in order */
static void compact(struct lazy_mm *m)
{
	size_t n = 0;

	for (size_t k = 0; k < m->n; k++)
		if (m->pc[k].len)
			m->pc[n++] = m->pc[k];
	m->n = n;
	m->next = 0;
}

/* split the piece at index i at addr (inside it): two pieces */
static int split(struct lazy_mm *m, size_t i, uint64_t addr)
{
	struct restore_piece *a = realloc(m->pc, (m->n + 1) * sizeof(*a));
	uint64_t k;

	if (!a)
		return -ENOMEM;
	m->pc = a;
	memmove(&a[i + 1], &a[i], (m->n - i) * sizeof(*a));
	m->n++;
	k = addr - a[i].addr;
	a[i].len = k;
	a[i + 1].addr += k;
	a[i + 1].off += k;
	a[i + 1].len -= k;
	return 0;
}

/* pieces never straddle start or end */
static int cut_at(struct lazy_mm *m, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < m->n; i++) {
		struct restore_piece *p = &m->pc[i];
		int r = 0;

		if (p->addr < start && start < p->addr + p->len)
			r = split(m, i, start);
		else if (p->addr < end && end < p->addr + p->len)
			r = split(m, i, end);
		if (r < 0)
			return r;
	}
	return 0;
}

static int on_event(struct lazy_server *s, size_t i, const struct uffd_msg *msg)
{
	struct lazy_mm *m = &s->mm[i];
	int r;

	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		return serve_fault(s, m, msg->arg.pagefault.address & ~(uint64_t)(MD_PAGE_SIZE - 1));
	case UFFD_EVENT_FORK: {
		struct restore_piece *pc = malloc((m->n + 1) * sizeof(*pc));
		size_t n = 0;

		if (!pc) {
			close((int)msg->arg.fork.ufd);
			return -ENOMEM;
		}
		/* the child has what the parent had in; the rest it still misses */
		for (size_t k = 0; k < m->n; k++)
			if (m->pc[k].len)
				pc[n++] = m->pc[k];
		return add_mm(s, (int)msg->arg.fork.ufd, 0, pc, n);
	}
	case UFFD_EVENT_REMAP: {
		uint64_t from = msg->arg.remap.from, to = msg->arg.remap.to, len = msg->arg.remap.len;

		r = cut_at(m, from, from + len);
		if (r < 0)
			return r;
		/* pieces in or gone keep their place: drop them, or a moved one could land behind one */
		compact(m);
		for (size_t k = 0; k < m->n; k++)
			if (m->pc[k].addr >= from && m->pc[k].addr < from + len)
				m->pc[k].addr = m->pc[k].addr - from + to;
		qsort(m->pc, m->n, sizeof(*m->pc), cmp_addr);
		return 0;
	}
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP: {
		uint64_t start = msg->arg.remove.start, end = msg->arg.remove.end;

		/* dropped or unmapped: zeroes or nothing from now on, never the image's data */
		r = cut_at(m, start, end);
		if (r < 0)
			return r;
		for (size_t k = 0; k < m->n; k++)
			if (m->pc[k].addr >= start && m->pc[k].addr < end)
				m->pc[k].len = 0;
		compact(m);
		return 0;
	}
	default:
		return 0;
	}
}

/* every message waiting on mm i; -ESRCH when its address space is gone */
static int drain(struct lazy_server *s, size_t i)
{
	for (;;) {
		struct uffd_msg msg;
		ssize_t n = read(s->mm[i].uffd, &msg, sizeof(msg));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n != sizeof(msg))
			return n < 0 ? -errno : -EIO;
		r = on_event(s, i, &msg);
		if (r < 0)
			return r;
	}
}

/* the next missing piece of address space i, in (later if it is changing) */
static int prefetch(struct lazy_server *s, size_t i)
{
	struct lazy_mm *m = &s->mm[i];
	int r = pending(m) ? serve_piece(s, m, &m->pc[m->next]) : 0;

	return r == -EAGAIN ? 0 : r;
}

/* a chunk we cannot serve: the tree must not run on what it would find instead */
static void kill_all(struct lazy_server *s)
{
	for (size_t k = 0; k < s->rc->n; k++)
		if (!s->rc->procs[k].p.zombie)
			kill(s->rc->procs[k].p.pid, SIGKILL);
	for (size_t i = 0; i < s->n_mm; i++)
		if (s->mm[i].pid)
			kill(s->mm[i].pid, SIGKILL);
}

int restore_lazy_serve(struct restore_ctx *rc, int sock)
{
	struct lazy_server s = { .rc = rc, .sock = sock };
	_cleanup_free_ struct pollfd *pfd = NULL;
	size_t cap = 0;
	int r = 0;

	s.buf = malloc(MD_PAGES_CHUNK);
	if (!s.buf || image_pages_cursor_new(&s.cur) < 0)
		return log_err(-ENOMEM, "lazy server: out of memory");
	while (!s.done || s.n_mm) {
		size_t n = 0;
		bool busy = false;
		int ready;

		if (cap < s.n_mm + 1) {
			struct pollfd *a = realloc(pfd, (s.n_mm + 1) * sizeof(*a));

			if (!a) {
				r = -ENOMEM;
				break;
			}
			pfd = a;
			cap = s.n_mm + 1;
		}
		for (size_t i = 0; i < s.n_mm; i++) {
			pfd[n++] = (struct pollfd){ .fd = s.mm[i].uffd, .events = POLLIN };
			busy |= pending(&s.mm[i]) || s.mm[i].n_retry;
		}
		if (s.sock >= 0)
			pfd[n++] = (struct pollfd){ .fd = s.sock, .events = POLLIN };
		ready = poll(pfd, n, busy ? 0 : -1);
		if (ready < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (s.sock >= 0 && ready > 0 && pfd[n - 1].revents) {
			r = recv_proc(&s);
			if (r < 0)
				break;
		}
		/* faults first, then a piece in the background; in either, a gone address space is dropped */
		for (size_t i = s.n_mm; i-- > 0;) {
			r = i < n && ready > 0 && pfd[i].revents ? drain(&s, i) : 0;
			if (r >= 0 && s.mm[i].n_retry)
				r = retry_faults(&s, &s.mm[i]);
			if (r >= 0 && ready <= 0)
				r = prefetch(&s, i);
			if (r == -ESRCH || (r >= 0 && s.done && !pending(&s.mm[i]))) {
				drop_mm(&s, i);
				r = 0;
			}
			if (r < 0)
				break;
		}
		if (r < 0)
			break;
	}
	if (r < 0 && r != -EPIPE) {
		log_err(r, "lazy restore: cannot fill the restored tree's memory; killing it");
		kill_all(&s);
	}
	log_debug("lazy server: %llu bytes served", (unsigned long long)s.served);
	for (size_t i = s.n_mm; i-- > 0;)
		drop_mm(&s, i);
	image_pages_cursor_free(s.cur);
	free(s.buf);
	return r;
}
