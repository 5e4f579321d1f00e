/*
 * Dirty tracking between dumps with userfaultfd write-protection in async
 * mode: the kernel drops the protection of a page on its first write and
 * PAGEMAP_SCAN (PAGE_IS_WRITTEN, PM_SCAN_WP_MATCHING) reports the written
 * pages and protects them again in one call.
 *
 * A userfaultfd tracks the mm of the process that created it, so each
 * process creates its own, by a remote syscall; memdump takes a copy with
 * pidfd_getfd() and closes the process's fd at once, so the process never
 * sees it. memdump itself exits between dumps: the copies are handed to a
 * small helper process ("memdump-track") that only holds them, and exits
 * when every tracked process has ended, or when the next dump retires it.
 * The next dump takes the fds back from the helper (pidfd_getfd) by the
 * numbers track.img records. When the last fd of a userfaultfd closes the
 * kernel drops every protection at once: the process runs on as if it had
 * never been tracked, and a restored process is a new one, never tracked.
 *
 * Each round has a helper of its own. A round takes every fd back from the
 * previous helper and stops it before it reads or re-arms anything: from
 * then on the previous image is no base for tracking (re-arming changes
 * what the tracker's state means), and if this memdump dies half-way its
 * copies close and the tracking simply ends. An image whose helper is gone
 * is no base: the next dump copies everything.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"
#include "compat/fs.h"
#include "compat/pidfd.h"
#include "compat/userfaultfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELPER_COMM "memdump-track"
#define SCAN_VEC 512

/*
 * PAGEMAP_SCAN over [start, end) of pid: the written pages go to *written
 * (when not NULL), and every page is write-protected again. -EPERM: the
 * range is not under an async uffd-wp (any more).
 */
static int scan_rearm(int pagemap_fd, uint64_t start, uint64_t end, struct md_range **written, size_t *n_written)
{
	struct page_region vec[SCAN_VEC];

	while (start < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		uint64_t next;
		int n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);

		if (n < 0)
			return -errno;
		next = arg.walk_end;
		for (int i = 0; i < n; i++) {
			if (written) {
				int r = plan_range_add(written, n_written, vec[i].start, vec[i].end);

				if (r < 0)
					return r;
			}
			/* kernel-facts: walk_end may point back into what was returned */
			if (vec[i].end > next)
				next = vec[i].end;
		}
		if (next <= start)
			break;
		start = next;
	}
	return 0;
}

/* a new userfaultfd in pid, made by pid (remote syscall), ours through pidfd_getfd(); -errno */
static int create_uffd(pid_t pid, int pidfd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	struct inject_ctx c;
	uint64_t ip;
	int r, r2, fd = -1;

	r = inject_find_syscall(pid, &ip);
	if (r < 0)
		return r;
	r = inject_init(&c, pid, ip);
	/* user-mode faults only: allowed to any process, and async wp needs no more */
	if (r >= 0)
		r = inject_take_userfaultfd(&c, pidfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, &fd);
	r2 = inject_fini(&c);
	if (r >= 0)
		r = r2 < 0 ? r2 : fd < 0 ? fd : 0;
	if (r >= 0 && ioctl(fd, UFFDIO_API, &api) < 0)
		r = -errno;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

/* the helper of a previous image, if it is still that process: a pidfd, else -1 */
static int open_helper(const struct md_track *prev)
{
	struct proc_stat st;
	int pidfd;

	if (prev->helper_pid <= 0)
		return -1;
	pidfd = md_pidfd_open(prev->helper_pid);
	if (pidfd < 0)
		return -1;
	if (proc_read_stat(prev->helper_pid, 0, &st) < 0 || st.start_time != prev->helper_start_time ||
	    strcmp(st.comm, HELPER_COMM)) {
		close(pidfd);
		return -1;
	}
	return pidfd;
}

int track_begin(const struct md_track *prev, struct track_session *s)
{
	int helper;

	*s = (struct track_session){ .prev = prev };
	if (!prev)
		return 0;
	if (prev->method != MD_TRACK_UFFD_WP) {
		log_warn("the previous dump did not track memory: everything is copied again");
		return 0;
	}
	helper = open_helper(prev);
	if (helper < 0) {
		log_warn("the previous dump's tracker (pid %d) is gone: everything is copied again", prev->helper_pid);
		return 0;
	}
	/* every tracker ours, then the helper stopped: see the top of the file */
	s->taken = calloc(prev->n + 1, sizeof(*s->taken));
	if (!s->taken) {
		close(helper);
		return -ENOMEM;
	}
	for (size_t i = 0; i < prev->n; i++) {
		s->taken[i] = prev->procs[i].uffd >= 0 ? md_pidfd_getfd(helper, prev->procs[i].uffd) : -1;
		if (prev->procs[i].uffd >= 0 && s->taken[i] < 0)
			log_warn("cannot take the tracker of %d back: %s", prev->procs[i].pid, strerror(errno));
	}
	if (md_pidfd_send_signal(helper, SIGTERM) < 0)
		log_warn("cannot stop the previous memory tracker %d: %s", prev->helper_pid, strerror(errno));
	else
		log_debug("took over from the previous memory tracker %d", prev->helper_pid);
	close(helper);
	return 0;
}

int track_proc(struct track_session *s, const struct md_proc *p, const struct md_proc *prev_p, bool arm,
	       struct dump_track *t)
{
	_cleanup_close_ int pagemap_fd = -1, pidfd = -1;
	bool was = false;	/* tracked by the previous round */
	struct proc_stat st;
	char path[64];
	size_t untracked_kb = 0;
	int r;

	*t = (struct dump_track){ .pid = p->pid, .uffd = -1 };
	r = proc_read_stat(p->pid, 0, &st);
	if (r < 0)
		return log_err(r, "cannot read the start time of %d", p->pid);
	t->start_time = st.start_time;

	for (size_t i = 0; s->taken && i < s->prev->n; i++)
		if (s->prev->procs[i].pid == p->pid && s->prev->procs[i].start_time == t->start_time &&
		    s->taken[i] >= 0) {
			t->uffd = s->taken[i];
			s->taken[i] = -1;
			was = true;
		}
	if (t->uffd < 0 && !arm)
		return 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", p->pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		return log_err(-errno, "cannot open '%s'", path);
	if (t->uffd < 0) {
		pidfd = md_pidfd_open(p->pid);
		if (pidfd < 0)
			return log_err(-errno, "cannot open a pidfd for %d", p->pid);
		t->uffd = create_uffd(p->pid, pidfd);
		if (t->uffd < 0) {
			log_warn("cannot track the memory of %d (%s): its next dump copies everything", p->pid,
				 strerror(-t->uffd));
			t->uffd = -1;
			return 0;
		}
	}

	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		struct uffdio_register reg = {
			.range = { .start = v->start, .len = v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		if (!plan_vma_wants_pages(v))
			continue;
		/*
		 * Under our protection since the previous image: its written
		 * pages are known. Registering with our uffd again succeeds only
		 * for our own (EBUSY for the process's own userfaultfd), and
		 * changes nothing else.
		 */
		if (was && (v->vmflags & MD_VMF_UW) && ioctl(t->uffd, UFFDIO_REGISTER, &reg) == 0) {
			size_t before = t->n_written;

			r = scan_rearm(pagemap_fd, v->start, v->end, &t->written, &t->n_written);
			if (r == 0) {
				r = plan_tracked_since(v, prev_p, &t->tracked, &t->n_tracked);
				if (r < 0)
					return r;
				continue;
			}
			if (r != -EPERM)
				return log_err(r, "cannot read the written pages of %d at %#llx", p->pid,
					       (unsigned long long)v->start);
			t->n_written = before;
		}
		if (!arm)
			continue;
		/* under a userfaultfd that is not ours (the process's own): never touch its protection */
		if (v->vmflags & MD_VMF_UW) {
			untracked_kb += (v->end - v->start) / 1024;
			continue;
		}
		/* new, changed or not tracked: copied whole now, tracked from here on */
		if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) < 0) {
			if (v->kind == MD_VMA_ANON)
				untracked_kb += (v->end - v->start) / 1024;
			log_debug("cannot track %#llx-%#llx of %d: %s", (unsigned long long)v->start,
				  (unsigned long long)v->end, p->pid, strerror(errno));
			continue;
		}
		r = scan_rearm(pagemap_fd, v->start, v->end, NULL, NULL);
		if (r < 0 && r != -EPERM)
			return log_err(r, "cannot protect %#llx-%#llx of %d", (unsigned long long)v->start,
				       (unsigned long long)v->end, p->pid);
		if (r == -EPERM)
			untracked_kb += (v->end - v->start) / 1024;
	}
	if (untracked_kb)
		log_warn("%zu KiB of anonymous memory of %d cannot be tracked (userfaultfd in use?): copied whole "
			 "every time", untracked_kb, p->pid);
	t->armed = arm;
	return 0;
}

void track_proc_release(struct dump_track *t)
{
	if (t->uffd >= 0)
		close(t->uffd);
	free(t->tracked);
	free(t->written);
	*t = (struct dump_track){ .uffd = -1 };
}

/* The helper: holds the fds it was born with until every tracked process has ended, or SIGTERM. */
/* the fds the helper keeps: the trackers and the ready pipe */
struct helper_fds {
	const struct dump_track *t;
	size_t n;
	int ready_fd;
};

static bool helper_keeps(int fd, void *arg)
{
	const struct helper_fds *h = arg;

	for (size_t i = 0; i < h->n; i++)
		if (fd == h->t[i].uffd)
			return true;
	return fd == h->ready_fd;
}

static void helper_main(const struct dump_track *t, size_t n, int ready_fd)
{
	struct pollfd *pfd = calloc(n + 1, sizeof(*pfd));
	size_t alive = 0;
	sigset_t none;
	int null;

	setsid();
	prctl(PR_SET_NAME, HELPER_COMM);
	prctl(PR_SET_PDEATHSIG, 0);
	if (chdir("/") < 0)
		_exit(1);
	null = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3 && null >= 0; i++)
		dup2(null, i);
	/* nothing but the trackers, stdio and the ready pipe, however many fds memdump had */
	proc_close_fds(helper_keeps, &(struct helper_fds){ t, n, ready_fd });
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t i = 0; pfd && i < n; i++) {
		pfd[alive].fd = t[i].uffd >= 0 ? md_pidfd_open(t[i].pid) : -1;
		pfd[alive].events = POLLIN;
		if (pfd[alive].fd >= 0)
			alive++;
	}
	/* ready, and our pid is final (we are the grandchild): tell memdump */
	{
		pid_t self = getpid();

		if (write(ready_fd, &self, sizeof(self)) != sizeof(self))
			_exit(1);
	}
	close(ready_fd);
	while (alive) {
		if (poll(pfd, alive, -1) < 0)
			continue;
		for (size_t i = 0; i < alive;) {
			if (pfd[i].revents) {
				close(pfd[i].fd);
				pfd[i] = pfd[--alive];
			} else {
				i++;
			}
		}
	}
	_exit(0);
}

int track_spawn_helper(const struct dump_track *t, size_t n, pid_t *ret_pid, uint64_t *ret_start)
{
	struct proc_stat st;
	int p[2], status;
	pid_t child, helper = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (child == 0) {
		pid_t g;

		/* the helper is our grandchild: reparented away from memdump at once */
		close(p[0]);
		g = fork();
		if (g == 0)
			helper_main(t, n, p[1]);
		_exit(g < 0);
	}
	close(p[1]);
	if (read(p[0], &helper, sizeof(helper)) != sizeof(helper))
		helper = -1;
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (helper <= 0)
		return log_err(-ECHILD, "the memory tracker did not start");
	if (proc_read_stat(helper, 0, &st) < 0) {
		kill(helper, SIGKILL);
		return log_err(-ECHILD, "the memory tracker %d died at once", helper);
	}
	*ret_pid = helper;
	*ret_start = st.start_time;
	return 0;
}

void track_end(struct track_session *s)
{
	for (size_t i = 0; s->taken && i < s->prev->n; i++)
		if (s->taken[i] >= 0)
			close(s->taken[i]);
	free(s->taken);
	s->taken = NULL;
}
