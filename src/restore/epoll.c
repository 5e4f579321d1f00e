/*
 * Epoll interest lists. memdump makes each epoll instance empty with the
 * other files (files.c); its items are added by a remote epoll_ctl() in a
 * restored process, once its fds are in place, because the kernel keys an
 * item by its file and the fd number it was added with. Each item is added
 * once, by the first process that holds the epoll fd and the watched file
 * at that number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "memdump/inject.h"
#include "memdump/log.h"
#include "restore/internal.h"

/* whether p can add item k of epoll fd e: it holds the watched description at the item's number */
static bool can_add(const struct md_proc *p, const struct md_fd *e, size_t k)
{
	const struct md_epoll_item *it = &e->epoll[k];
	const struct md_fd *t = it->ofd ? md_proc_fd(p, it->tfd) : NULL;

	return t && t->ofd == it->ofd;
}

/* any fd of the image on description ofd, or NULL */
static const struct md_fd *find_ofd(const struct restore_ctx *rc, uint64_t ofd)
{
	const struct restore_ofd *o = restore_find_ofd(rc, ofd);

	return o ? o->first : NULL;
}

/* what epoll_ctl() takes: poll events, EPOLLRDHUP and the flag bits */
#define EPOLL_EVENTS_OK (0x3fffu | EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET)
#define EPOLL_NESTS_MAX 5	/* the kernel refuses deeper nesting (EP_MAX_NESTS 4) */

/*
 * Whether the epoll description e watches, through at most depth levels,
 * only what epoll_ctl() would take: files that can be polled, no loop, no
 * deeper nesting than the kernel allows.
 */
static int check_items(const struct restore_ctx *rc, const struct md_fd *e, int depth)
{
	if (depth > EPOLL_NESTS_MAX)
		return log_err(-EINVAL, "image: fd %d is an epoll fd nested too deep, or in a loop", e->fd);
	for (size_t k = 0; k < e->n_epoll; k++) {
		const struct md_epoll_item *it = &e->epoll[k];
		const struct md_fd *t = it->ofd ? find_ofd(rc, it->ofd) : NULL;
		int r;

		if (it->events & ~EPOLL_EVENTS_OK)
			return log_err(-EINVAL, "image: epoll fd %d watches fd %d for events %#x", e->fd, it->tfd,
				       it->events);
		if (!t)
			continue;
		if (t->ofd == e->ofd || t->kind == MD_FD_REG || t->kind == MD_FD_DIR || t->kind == MD_FD_MEMFD)
			return log_err(-EINVAL, "image: epoll fd %d watches fd %d, which cannot be polled", e->fd,
				       it->tfd);
		if (t->kind == MD_FD_EPOLL) {
			if (it->events & EPOLLEXCLUSIVE)
				return log_err(-EINVAL, "image: epoll fd %d watches epoll fd %d with EPOLLEXCLUSIVE",
					       e->fd, it->tfd);
			r = check_items(rc, t, depth + 1);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static struct restore_epoll *find_epoll(struct restore_ctx *rc, uint64_t ofd)
{
	for (size_t i = 0; i < rc->n_epolls; i++)
		if (rc->epolls[i].ofd == ofd)
			return &rc->epolls[i];
	return NULL;
}

int restore_check_epoll(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n; i++) {
		const struct md_proc *p = &rc->procs[i].p;

		for (size_t j = 0; j < p->n_fds; j++) {
			const struct md_fd *e = &p->fds[j];
			struct restore_epoll *ep;

			if (e->kind != MD_FD_EPOLL)
				continue;
			ep = find_epoll(rc, e->ofd);
			if (ep) {
				if (ep->n != e->n_epoll)
					return log_err(-EINVAL, "image: fd %d of %d is an epoll fd with %zu items, "
								"another fd of its description has %zu",
						       e->fd, p->pid, e->n_epoll, ep->n);
				continue;
			}
			ep = realloc(rc->epolls, (rc->n_epolls + 1) * sizeof(*ep));
			if (!ep)
				return -ENOMEM;
			rc->epolls = ep;
			ep = &rc->epolls[rc->n_epolls++];
			*ep = (struct restore_epoll){ .ofd = e->ofd, .n = e->n_epoll };
			if (e->n_epoll && !(ep->added = calloc(e->n_epoll, sizeof(*ep->added))))
				return -ENOMEM;
		}
	}
	/* every item has a process that can add it */
	for (size_t x = 0; x < rc->n_epolls; x++)
		for (size_t k = 0; k < rc->epolls[x].n; k++) {
			bool ok = false;
			int tfd = -1;

			for (size_t i = 0; i < rc->n && !ok; i++) {
				const struct md_proc *p = &rc->procs[i].p;

				for (size_t j = 0; j < p->n_fds && !ok; j++)
					if (p->fds[j].kind == MD_FD_EPOLL && p->fds[j].ofd == rc->epolls[x].ofd) {
						tfd = p->fds[j].epoll[k].tfd;
						ok = can_add(p, &p->fds[j], k);
					}
			}
			if (!ok)
				return log_err(-EINVAL, "image: epoll fd %d watches fd %d, which no process of the "
							"image holds with the right file",
					       find_ofd(rc, rc->epolls[x].ofd)->fd, tfd);
		}
	for (size_t x = 0; x < rc->n_epolls; x++) {
		int r = check_items(rc, find_ofd(rc, rc->epolls[x].ofd), 1);

		if (r < 0)
			return r;
	}
	return 0;
}

int restore_epoll_add(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	for (size_t j = 0; j < p->n_fds; j++) {
		const struct md_fd *e = &p->fds[j];
		struct restore_epoll *ep = e->kind == MD_FD_EPOLL ? find_epoll(rc, e->ofd) : NULL;

		for (size_t k = 0; ep && k < e->n_epoll; k++) {
			const struct md_epoll_item *it = &e->epoll[k];
			struct epoll_event ev = { .events = it->events, .data.u64 = it->data };

			if (ep->added[k] || !can_add(p, e, k))
				continue;
			r = inject_write_mem(rp->pid, rp->scratch, &ev, sizeof(ev));
			if (r < 0)
				return log_err(r, "cannot write to %d", rp->pid);
			r = restore_rcall_ok(rp, "epoll_ctl", SYS_epoll_ctl, (uint64_t)e->fd, EPOLL_CTL_ADD,
					     (uint64_t)it->tfd, rp->scratch, 0, 0);
			if (r < 0)
				return log_err(r, "cannot add fd %d to epoll fd %d of %d (events %#x)", it->tfd, e->fd,
					       p->pid, it->events);
			ep->added[k] = true;
		}
	}
	return 0;
}

void restore_free_epoll(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_epolls; i++)
		free(rc->epolls[i].added);
	free(rc->epolls);
	rc->epolls = NULL;
	rc->n_epolls = 0;
}
