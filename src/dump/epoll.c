/*
 * Which open file description each epoll item watches. fdinfo gives the
 * fd number the item was added with; kcmp(KCMP_EPOLL_TFD) says whether
 * that fd of the process still holds the same file. The items themselves
 * come from collect_fd() (files.c); restore adds them back (restore/epoll.c).
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
		r = item_ofd(p, e, k, toff[k], &e->epoll[k].ofd);
		if (r < 0)
			return r;
	}
	return 0;
}

struct epoll_ref {
	const struct md_fd *e;
	pid_t pid;
	size_t pos;		/* place in the tree */
};

static int cmp_epoll_ref(const void *a, const void *b)
{
	const struct epoll_ref *x = a, *y = b;

	if (x->e->ofd != y->e->ofd)
		return x->e->ofd < y->e->ofd ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int dump_link_epoll(struct md_proc *procs, size_t n)
{
	_cleanup_free_ struct epoll_ref *refs = NULL;
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
	 * An item is added back by a process holding both the epoll fd and the
	 * watched file at the item's number; with none, it cannot come back.
	 * The holders of one epoll description are neighbours in refs, the
	 * first in the tree first.
	 */
	refs = calloc(n_refs, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n_refs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++)
			if (procs[i].fds[j].kind == MD_FD_EPOLL)
				refs[n_refs++] = (struct epoll_ref){ &procs[i].fds[j], procs[i].pid, pos };
	qsort(refs, n_refs, sizeof(*refs), cmp_epoll_ref);
	for (size_t i = 0, end; i < n_refs; i = end) {
		const struct md_fd *e = refs[i].e;

		for (end = i + 1; end < n_refs && refs[end].e->ofd == e->ofd; end++)
			;
		for (size_t k = 0; k < e->n_epoll; k++) {
			bool found = false;

			for (size_t h = i; h < end && !found; h++)
				found = k < refs[h].e->n_epoll && refs[h].e->epoll[k].ofd;
			if (found)
				continue;
			log_msg(LOG_ERR,
				"fd %d of %d is an epoll fd watching a file added as fd %d, which no process of "
				"the tree holds at that number any more; not supported (close the epoll fd, or "
				"keep the watched file open at fd %d)",
				e->fd, refs[i].pid, e->epoll[k].tfd, e->epoll[k].tfd);
			err = -ENOTSUP;
		}
	}
	return err;
}
