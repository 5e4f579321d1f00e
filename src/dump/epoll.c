/*
 * Which open file description each epoll item watches. fdinfo gives the
 * fd number the item was added with; kcmp(KCMP_EPOLL_TFD) says whether
 * that fd of the process still holds the same file. The items themselves
 * come from collect_fd() (files.c); restore adds them back (restore/epoll.c).
 */
#include "memdump/dump.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Item k of epoll fd e in p: the ofd at fd tfd if that fd holds the file
 * the item watches, else 0. toff tells apart items added with the same
 * number (the fd was closed and reused); fdinfo and kcmp() count them in
 * the same order.
 */
static int item_ofd(const struct md_proc *p, const struct md_fd *e, size_t k, uint64_t *ret)
{
	const struct md_epoll_item *it = &e->epoll[k];
	struct kcmp_epoll_slot slot = { .efd = (uint32_t)e->fd, .tfd = (uint32_t)it->tfd };
	const struct md_fd *t = md_proc_fd(p, it->tfd);
	long r;

	*ret = 0;
	for (size_t j = 0; j < k; j++)
		slot.toff += e->epoll[j].tfd == it->tfd;
	if (!t)
		return 0;
	r = syscall(SYS_kcmp, p->pid, p->pid, KCMP_EPOLL_TFD, (unsigned long)it->tfd, (unsigned long)&slot);
	if (r < 0)
		return log_err(-errno, "cannot compare fd %d of %d with the file epoll fd %d watches", it->tfd, p->pid,
			       e->fd);
	if (r == 0)
		*ret = t->ofd;
	return 0;
}

/* whether e is the first fd of the tree on its epoll description */
static bool first_holder(const struct md_proc *procs, size_t n, const struct md_fd *e)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			if (&procs[i].fds[j] == e)
				return true;
			if (procs[i].fds[j].ofd == e->ofd)
				return false;
		}
	return false;
}

/* whether some holder of epoll description ofd has item k at its own fd tfd */
static bool item_found(const struct md_proc *procs, size_t n, uint64_t ofd, size_t k)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *e = &procs[i].fds[j];

			if (e->kind == MD_FD_EPOLL && e->ofd == ofd && k < e->n_epoll && e->epoll[k].ofd)
				return true;
		}
	return false;
}

int dump_link_epoll(struct md_proc *procs, size_t n)
{
	int err = 0, r;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			struct md_fd *e = &procs[i].fds[j];

			if (e->kind != MD_FD_EPOLL)
				continue;
			for (size_t k = 0; k < e->n_epoll; k++) {
				r = item_ofd(&procs[i], e, k, &e->epoll[k].ofd);
				if (r < 0)
					return r;
			}
		}
	/*
	 * An item is added back by a process holding both the epoll fd and the
	 * watched file at the item's number; with none, it cannot come back.
	 */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *e = &procs[i].fds[j];

			if (e->kind != MD_FD_EPOLL || !first_holder(procs, n, e))
				continue;
			for (size_t k = 0; k < e->n_epoll; k++) {
				if (item_found(procs, n, e->ofd, k))
					continue;
				log_msg(LOG_ERR,
					"fd %d of %d is an epoll fd watching a file added as fd %d, which no process of "
					"the tree holds at that number any more; not supported (close the epoll fd, or "
					"keep the watched file open at fd %d)",
					e->fd, procs[i].pid, e->epoll[k].tfd, e->epoll[k].tfd);
				err = -ENOTSUP;
			}
		}
	return err;
}
