/*
 * Epoll interest lists. memdump makes each epoll instance empty with the
 * other files (files.c). The kernel keys an item by its file and the fd
 * number it was added with, and nothing else of the process that added
 * it is kept, but for one kind of file: a signalfd polls the signals of
 * whoever polls it, and an item on it must be added by its process.
 * So, once every file is open and before any process exists, a forked
 * helper puts each watched file at its item's number in an fd table of
 * its own and adds the item (restore_epoll_fill()); the items on other
 * files are added by a remote epoll_ctl() in the first restored process
 * that holds the epoll fd and the watched file at that number, once its
 * fds are in place (restore_epoll_add()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

static struct restore_epoll *find_epoll(const struct restore_ctx *rc, uint64_t ofd)
{
	for (size_t i = 0; i < rc->n_epolls; i++)
		if (rc->epolls[i].ofd == ofd)
			return &rc->epolls[i];
	return NULL;
}

/*
 * Whether the epoll description ep watches, through at most depth levels,
 * only what epoll_ctl() would take: files that can be polled, no loop, no
 * deeper nesting than the kernel allows.
 */
static int check_items(const struct restore_ctx *rc, const struct restore_epoll *ep, int depth)
{
	const struct md_fd *e = find_ofd(rc, ep->ofd);

	if (depth > EPOLL_NESTS_MAX)
		return log_err(-EINVAL, "image: fd %d is an epoll fd nested too deep, or in a loop", e->fd);
	for (size_t k = 0; k < ep->n; k++) {
		const struct md_epoll_item *it = &e->epoll[k];
		const struct md_fd *t = ep->watched[k] ? find_ofd(rc, ep->watched[k]) : NULL;
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
			r = check_items(rc, find_epoll(rc, t->ofd), depth + 1);
			if (r < 0)
				return r;
		}
	}
	return 0;
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
			if (e->n_epoll && (!(ep->added = calloc(e->n_epoll, sizeof(*ep->added))) ||
					   !(ep->watched = calloc(e->n_epoll, sizeof(*ep->watched))) ||
					   !(ep->by_holder = calloc(e->n_epoll, sizeof(*ep->by_holder)))))
				return -ENOMEM;
		}
	}
	/*
	 * Every item can be added back: by the helper, its file being of the
	 * image and of a kind it may add, or by a process holding the epoll fd
	 * and that file at the item's number (by_holder). A holder that has
	 * not got the file at that number does not know it: the others may.
	 */
	for (size_t i = 0; i < rc->n; i++) {
		const struct md_proc *p = &rc->procs[i].p;

		for (size_t j = 0; j < p->n_fds; j++) {
			const struct md_fd *e = &p->fds[j];
			struct restore_epoll *ep = e->kind == MD_FD_EPOLL ? find_epoll(rc, e->ofd) : NULL;

			for (size_t k = 0; ep && k < e->n_epoll; k++) {
				uint64_t ofd = e->epoll[k].ofd;

				if (ofd && ep->watched[k] && ofd != ep->watched[k])
					return log_err(-EINVAL, "image: fd %d of %d is an epoll fd whose item %zu "
								"watches another file than in another process", e->fd,
						       p->pid, k);
				if (ofd)
					ep->watched[k] = ofd;
				ep->by_holder[k] = ep->by_holder[k] || can_add(p, e, k);
			}
		}
	}
	for (size_t x = 0; x < rc->n_epolls; x++) {
		struct restore_epoll *ep = &rc->epolls[x];
		const struct md_fd *e = find_ofd(rc, ep->ofd);

		for (size_t k = 0; k < ep->n; k++) {
			const struct md_fd *t = ep->watched[k] ? find_ofd(rc, ep->watched[k]) : NULL;

			if (!ep->by_holder[k] && !(t && md_epoll_any_adder(t->kind)))
				return log_err(-EINVAL, "image: epoll fd %d watches fd %d, which no process of the "
							"image holds with the right file",
					       e->fd, e->epoll[k].tfd);
		}
	}
	for (size_t x = 0; x < rc->n_epolls; x++) {
		int r = check_items(rc, &rc->epolls[x], 1);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the helper ---- */

/* one item for the helper: the watched file, ours, goes to number tfd and is added to ep, ours */
struct fill_item {
	int ep, file, tfd;
	struct epoll_event ev;
	size_t x, k;		/* for the parent: item k of rc->epolls[x] */
};

/*
 * What the helper tells, in memory shared with it: each item added or
 * not; an item it could not put at its number is skipped (the first such
 * error kept); an epoll_ctl() that fails ends it (failed: that item).
 */
struct fill_report {
	int place_err;		/* errno of the first file it could not put at its number */
	int ctl_err;		/* errno of epoll_ctl(), for item failed */
	size_t failed;
	bool added[];		/* by item */
};

struct fill_plan {
	struct fill_item *items;
	size_t n;
	int *keep;		/* our fds the helper needs, ascending, each once */
	size_t n_keep;
	int *moved;		/* by our fd number: where the helper has it */
	int *taken;		/* the numbers items take, ascending, each once */
	size_t n_taken;
	struct fill_report *report;
	size_t report_len;
};

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static bool is_taken(const struct fill_plan *pl, int fd)
{
	return pl->n_taken && bsearch(&fd, pl->taken, pl->n_taken, sizeof(fd), cmp_int);
}

/*
 * The helper: it closes all but the files it needs, moves those on a
 * number an item takes to a free one no item takes, then puts each file
 * at its item's number and adds it. System calls and bsearch() only, on
 * the plan the parent made: nothing here allocates or takes a lock.
 */
static int fill_child(void *arg)
{
	struct fill_plan *pl = arg;
	struct rlimit rl;
	int prev = -1, next = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < pl->n_keep; prev = pl->keep[i++])
		if (pl->keep[i] > prev + 1)
			syscall(SYS_close_range, prev + 1, pl->keep[i] - 1, 0);
	syscall(SYS_close_range, prev + 1, ~0U, 0);
	for (size_t i = 0; i < pl->n_keep; i++) {
		int fd = pl->keep[i];

		if (!is_taken(pl, fd))
			continue;
		while (is_taken(pl, next) || fcntl(next, F_GETFD) >= 0)
			next++;
		/* no room: nothing can be put at its number without losing a file */
		if (dup2(fd, next) < 0) {
			pl->report->place_err = errno;
			return 1;
		}
		pl->moved[fd] = next;
	}
	for (size_t i = 0; i < pl->n; i++) {
		struct fill_item *it = &pl->items[i];

		if (dup2(pl->moved[it->file], it->tfd) < 0) {
			if (!pl->report->place_err)
				pl->report->place_err = errno;
			continue;
		}
		if (epoll_ctl(pl->moved[it->ep], EPOLL_CTL_ADD, it->tfd, &it->ev) < 0) {
			pl->report->ctl_err = errno;
			pl->report->failed = i;
			return 1;
		}
		pl->report->added[i] = true;
	}
	return 0;
}

/* v[0..*n) sorted, each once */
static void sort_unique(int *v, size_t *n)
{
	size_t j = 0;

	if (*n)
		qsort(v, *n, sizeof(*v), cmp_int);
	for (size_t i = 0; i < *n; i++)
		if (!j || v[j - 1] != v[i])
			v[j++] = v[i];
	*n = j;
}

/* our fd for description ofd, opened by restore_open_files() */
static int our_fd(const struct restore_ctx *rc, uint64_t ofd)
{
	const struct restore_ofd *o = restore_find_ofd(rc, ofd);

	return o && o->file >= 0 ? rc->files[o->file].fd : -1;
}

/* the plan's items, the numbers they take and the fds the helper keeps; the helper's report */
static int plan_fill(const struct restore_ctx *rc, struct fill_plan *pl)
{
	int max_ours = 0;

	for (size_t x = 0; x < rc->n_epolls; x++) {
		const struct restore_epoll *ep = &rc->epolls[x];
		const struct md_fd *e = find_ofd(rc, ep->ofd);

		for (size_t k = 0; k < ep->n; k++) {
			const struct md_fd *t = ep->watched[k] ? find_ofd(rc, ep->watched[k]) : NULL;
			struct fill_item *it = &pl->items[pl->n];

			if (!t || !md_epoll_any_adder(t->kind))
				continue;
			*it = (struct fill_item){ .ep = our_fd(rc, ep->ofd), .file = our_fd(rc, t->ofd),
						  .tfd = e->epoll[k].tfd, .x = x, .k = k };
			it->ev = (struct epoll_event){ .events = e->epoll[k].events, .data.u64 = e->epoll[k].data };
			if (it->ep < 0 || it->file < 0 || it->tfd < 0)
				return log_err(-EINVAL, "epoll fd %d: a file to add has not been opened", e->fd);
			pl->keep[pl->n_keep++] = it->ep;
			pl->keep[pl->n_keep++] = it->file;
			pl->taken[pl->n_taken++] = it->tfd;
			max_ours = it->ep > max_ours ? it->ep : max_ours;
			max_ours = it->file > max_ours ? it->file : max_ours;
			pl->n++;
		}
	}
	sort_unique(pl->keep, &pl->n_keep);
	sort_unique(pl->taken, &pl->n_taken);
	pl->moved = malloc(((size_t)max_ours + 1) * sizeof(*pl->moved));
	pl->report_len = sizeof(*pl->report) + pl->n * sizeof(pl->report->added[0]);
	pl->report = mmap(NULL, pl->report_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pl->report == MAP_FAILED)
		pl->report = NULL;
	if (!pl->moved || !pl->report)
		return -ENOMEM;
	for (int fd = 0; fd <= max_ours; fd++)
		pl->moved[fd] = fd;
	return 0;
}

/*
 * After the helper: its items marked added; one it could not place (no
 * room under the fd limit) is left to a process that holds the file at
 * its number, and where none does the restore fails here, before any
 * process exists.
 */
static int fill_done(struct restore_ctx *rc, const struct fill_plan *pl)
{
	const struct fill_report *rep = pl->report;

	if (rep->ctl_err) {
		const struct fill_item *it = &pl->items[rep->failed];

		return log_err(-rep->ctl_err, "cannot add fd %d to epoll fd %d (events %#x)", it->tfd,
			       find_ofd(rc, rc->epolls[it->x].ofd)->fd, it->ev.events);
	}
	for (size_t i = 0; i < pl->n; i++) {
		const struct fill_item *it = &pl->items[i];
		struct restore_epoll *ep = &rc->epolls[it->x];

		if (rep->added[i]) {
			ep->added[it->k] = true;
			continue;
		}
		if (!ep->by_holder[it->k])
			return log_err(-(rep->place_err ? rep->place_err : EIO),
				       "cannot put the file epoll fd %d watches at fd %d, its number in the tree, to "
				       "add it back", find_ofd(rc, ep->ofd)->fd, it->tfd);
		log_debug("epoll fd %d: fd %d left to the processes", find_ofd(rc, ep->ofd)->fd, it->tfd);
	}
	return 0;
}

int restore_epoll_fill(struct restore_ctx *rc)
{
	struct fill_plan pl = { 0 };
	size_t n = 0;
	int r;

	for (size_t x = 0; x < rc->n_epolls; x++)
		n += rc->epolls[x].n;
	if (!n)
		return 0;
	pl.items = calloc(n, sizeof(*pl.items));
	pl.keep = calloc(2 * n, sizeof(*pl.keep));
	pl.taken = calloc(n, sizeof(*pl.taken));
	r = pl.items && pl.keep && pl.taken ? plan_fill(rc, &pl) : -ENOMEM;
	if (r >= 0 && pl.n) {
		r = restore_in_child(fill_child, &pl);
		if (r < 0)
			log_err(r, "cannot add the epoll items in a helper");
		else
			r = fill_done(rc, &pl);
	}
	if (pl.report)
		munmap(pl.report, pl.report_len);
	free(pl.items);
	free(pl.keep);
	free(pl.moved);
	free(pl.taken);
	return r < 0 ? r : 0;
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
	for (size_t i = 0; i < rc->n_epolls; i++) {
		free(rc->epolls[i].added);
		free(rc->epolls[i].watched);
		free(rc->epolls[i].by_holder);
	}
	free(rc->epolls);
	rc->epolls = NULL;
	rc->n_epolls = 0;
}
