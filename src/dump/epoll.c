/*
 * Which open file description each epoll item watches. fdinfo gives the
 * fd number the item was added with; kcmp(KCMP_EPOLL_TFD) says whether
 * that fd of the process still holds the same file. An item whose file
 * is at that number in no process holding the epoll fd (moved by dup2()
 * and close(), or left to a child after fork()) is looked for in every
 * fd of the tree on the same inode. The items themselves come from
 * collect_fd() (files.c); restore adds them back (restore/epoll.c).
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Item k of epoll fd e in p: the ofd at fd tfd if that fd holds the file
 * the item watches, else 0. toff tells apart items added with the same
 * number (the fd was closed and reused); fdinfo and kcmp() count them in
 * the same order. kcmp() walks the items in the kernel: it is not called
 * where fdinfo's inode and device settle it, for a socket at tfd, whose
 * inode has one file and whose st_ino is that inode's number.
 */
static int item_ofd(const struct md_proc *p, const struct md_fd *e, size_t k, uint32_t toff, uint64_t *ret)
{
	const struct md_epoll_item *it = &e->epoll[k];
	struct kcmp_epoll_slot slot = { .efd = (uint32_t)e->fd, .tfd = (uint32_t)it->tfd, .toff = toff };
	const struct md_fd *t = md_proc_fd(p, it->tfd);
	long r;

	*ret = 0;
	if (!t)
		return 0;
	if (it->file_known && md_fd_is_sock(t)) {
		if (it->ino != t->ino)
			return 0;
		if (it->dev == t->dev) {
			*ret = t->ofd;
			return 0;
		}
	}
	r = syscall(SYS_kcmp, p->pid, p->pid, KCMP_EPOLL_TFD, (unsigned long)it->tfd, (unsigned long)&slot);
	if (r < 0)
		return log_err(-errno, "cannot compare fd %d of %d with the file epoll fd %d watches", it->tfd, p->pid,
			       e->fd);
	if (r == 0)
		*ret = t->ofd;
	return 0;
}

/* item k's place among the items of e on its fd number, for each k */
static int cmp_item(const void *a, const void *b, void *arg)
{
	const struct md_fd *e = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int tx = e->epoll[x].tfd, ty = e->epoll[y].tfd;

	if (tx != ty)
		return (tx > ty) - (tx < ty);
	return (x > y) - (x < y);
}

static int link_items(const struct md_proc *p, struct md_fd *e)
{
	_cleanup_free_ size_t *order = calloc(e->n_epoll ? e->n_epoll : 1, sizeof(*order));
	_cleanup_free_ uint32_t *toff = calloc(e->n_epoll ? e->n_epoll : 1, sizeof(*toff));
	int r;

	if (!order || !toff)
		return -ENOMEM;
	for (size_t k = 0; k < e->n_epoll; k++)
		order[k] = k;
	qsort_r(order, e->n_epoll, sizeof(*order), cmp_item, e);
	for (size_t i = 1; i < e->n_epoll; i++)
		if (e->epoll[order[i]].tfd == e->epoll[order[i - 1]].tfd)
			toff[order[i]] = toff[order[i - 1]] + 1;
	for (size_t k = 0; k < e->n_epoll; k++) {
		e->epoll[k].toff = toff[k];
		r = item_ofd(p, e, k, toff[k], &e->epoll[k].ofd);
		if (r < 0)
			return r;
	}
	return 0;
}

struct epoll_ref {
	struct md_fd *e;
	const struct md_proc *p;
	size_t pos;		/* place in the tree */
};

static int cmp_epoll_ref(const void *a, const void *b)
{
	const struct epoll_ref *x = a, *y = b;

	if (x->e->ofd != y->e->ofd)
		return x->e->ofd < y->e->ofd ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* an fd of the tree, found by the inode of its file */
struct fd_at {
	const struct md_proc *p;
	const struct md_fd *f;
};

static int cmp_fd_at(const void *a, const void *b)
{
	const struct md_fd *x = ((const struct fd_at *)a)->f, *y = ((const struct fd_at *)b)->f;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

struct fd_index {
	struct fd_at *at;
	size_t n;
};

static int index_fds(const struct md_proc *procs, size_t n, struct fd_index *ix)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += procs[i].n_fds;
	ix->at = calloc(total ? total : 1, sizeof(*ix->at));
	if (!ix->at)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++)
			ix->at[ix->n++] = (struct fd_at){ &procs[i], &procs[i].fds[j] };
	qsort(ix->at, ix->n, sizeof(*ix->at), cmp_fd_at);
	return 0;
}

/*
 * The fd of the tree holding the file item k of epoll fd e (in h)
 * watches, looked for among those on its inode: *ret, or NULL. A socket's
 * inode has one file; for others kcmp() compares, each call walking the
 * epoll's items: eventfds, timerfds, signalfds and epoll fds all share
 * the one anonymous inode, so a moved item among many of those costs a
 * kcmp() for each.
 */
static int find_watched(const struct fd_index *ix, const struct md_proc *h, const struct md_fd *e, size_t k,
			const struct fd_at **ret)
{
	const struct md_epoll_item *it = &e->epoll[k];
	struct kcmp_epoll_slot slot = { .efd = (uint32_t)e->fd, .tfd = (uint32_t)it->tfd, .toff = it->toff };
	struct md_fd kf = { .dev = it->dev, .ino = it->ino };
	struct fd_at key = { .f = &kf };
	size_t lo = 0, hi = ix->n;

	*ret = NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_fd_at(&ix->at[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < ix->n && !cmp_fd_at(&ix->at[i], &key); i++) {
		const struct fd_at *c = &ix->at[i];
		long r;

		if (md_fd_is_sock(c->f)) {
			*ret = c;
			return 0;
		}
		r = syscall(SYS_kcmp, c->p->pid, h->pid, KCMP_EPOLL_TFD, (unsigned long)c->f->fd, (unsigned long)&slot);
		if (r < 0)
			return log_err(-errno, "cannot compare fd %d of %d with the file epoll fd %d of %d watches",
				       c->f->fd, c->p->pid, e->fd, h->pid);
		if (r == 0) {
			*ret = c;
			return 0;
		}
	}
	return 0;
}

/*
 * Item k of the epoll description of the holders refs[0..n), which none
 * has at the item's number: its file found elsewhere in the tree (the
 * index made on first use), and kept where any process can add it back.
 */
static int link_moved(const struct md_proc *procs, size_t n_procs, struct fd_index *ix, const struct epoll_ref *refs,
		      size_t k)
{
	struct md_fd *e = refs[0].e;
	struct md_epoll_item *it = &e->epoll[k];
	const struct fd_at *w = NULL;
	int r;

	if (it->file_known) {
		if (!ix->at && (r = index_fds(procs, n_procs, ix)) < 0)
			return r;
		r = find_watched(ix, refs[0].p, e, k, &w);
		if (r < 0)
			return r;
	}
	if (w && md_epoll_any_adder(w->f->kind)) {
		it->ofd = w->f->ofd;
		return 0;
	}
	if (w)
		return log_refuse("fd %d of %d is an epoll fd watching fd %d of %d (a signalfd, a device or a pidfd), "
				  "added as fd %d: no process of the tree holds both at that number, which the "
				  "restore needs to add it back (keep the watched file open at fd %d)",
				  e->fd, refs[0].p->pid, w->f->fd, w->p->pid, it->tfd, it->tfd);
	return log_refuse("fd %d of %d is an epoll fd watching a file added as fd %d, which no process of "
			  "the tree holds any more; not supported (close the epoll fd, or keep the watched "
			  "file open)", e->fd, refs[0].p->pid, it->tfd);
}

int dump_link_epoll(struct md_proc *procs, size_t n)
{
	_cleanup_free_ struct epoll_ref *refs = NULL;
	struct fd_index ix = { 0 };
	size_t n_refs = 0, pos = 0;
	int err = 0, r;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			struct md_fd *e = &procs[i].fds[j];

			if (e->kind != MD_FD_EPOLL)
				continue;
			r = link_items(&procs[i], e);
			if (r < 0)
				return r;
			n_refs++;
		}
	if (!n_refs)
		return 0;
	/*
	 * The holders of one epoll description are neighbours in refs, the
	 * first in the tree first: an item none has at its number is looked
	 * for in the tree, and kept on the first.
	 */
	refs = calloc(n_refs, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n_refs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++)
			if (procs[i].fds[j].kind == MD_FD_EPOLL)
				refs[n_refs++] = (struct epoll_ref){ &procs[i].fds[j], &procs[i], pos };
	qsort(refs, n_refs, sizeof(*refs), cmp_epoll_ref);
	/* every refusal told, the first other error returned at once */
	for (size_t i = 0, end; i < n_refs; i = end) {
		const struct md_fd *e = refs[i].e;

		for (end = i + 1; end < n_refs && refs[end].e->ofd == e->ofd; end++)
			;
		for (size_t k = 0; k < e->n_epoll; k++) {
			bool found = false;

			for (size_t h = i; h < end && !found; h++)
				found = k < refs[h].e->n_epoll && refs[h].e->epoll[k].ofd;
			r = found ? 0 : link_moved(procs, n, &ix, &refs[i], k);
			if (r == -ENOTSUP)
				err = r;
			else if (r < 0) {
				free(ix.at);
				return r;
			}
		}
	}
	free(ix.at);
	return err;
}
