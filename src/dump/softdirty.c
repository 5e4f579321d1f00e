/*
 * Dirty tracking with soft-dirty bits, on kernels with
 * CONFIG_MEM_SOFT_DIRTY: writing "4" to /proc/PID/clear_refs clears the
 * bit of every page of the process and write-protects them; the kernel
 * sets it again on the next write to a page (and for every page of a VMA
 * made since), and pagemap shows it as bit 55, swapped pages included.
 *
 * The bits are the process's own, and every arming clears them: an image
 * is a base for the next dump only while no later arming happened, even
 * one whose dump then failed, or one of another chain. So each arming gets
 * a random id, written to /run/memdump/soft-dirty/PID (with the start time)
 * before the bits are cleared and to track.img after; a dump reads the
 * bits only when the two still agree. Whoever else writes 4 to the
 * process's clear_refs (another checkpoint tool) takes the bits away
 * unseen, as it would from CRIU. The other method, userfaultfd
 * write-protection, is track.c's.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PME_CHUNK 65536		/* pagemap entries per pread: 256 MiB of memory */
#define STATE_DIR "/run/memdump/soft-dirty"

/* the soft-dirty pages of [start, end) of pagemap_fd, appended to *written */
static int read_dirty(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *buf, struct md_range **written,
		      size_t *n_written)
{
	while (start < end) {
		size_t n = (end - start) / MD_PAGE_SIZE;
		ssize_t got;
		int r;

		if (n > PME_CHUNK)
			n = PME_CHUNK;
		got = pread(pagemap_fd, buf, n * sizeof(*buf), (off_t)(start / MD_PAGE_SIZE * sizeof(*buf)));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < (ssize_t)sizeof(*buf))
			return got < 0 ? -errno : -EIO;
		n = (size_t)got / sizeof(*buf);
		r = plan_soft_dirty_ranges(buf, n, start, written, n_written);
		if (r < 0)
			return r;
		start += n * MD_PAGE_SIZE;
	}
	return 0;
}

/* the last arming of pid (with its start time): its id, 0 if none is known */
static uint64_t last_arming(pid_t pid, uint64_t start_time)
{
	unsigned long long st = 0, token = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), STATE_DIR "/%d", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &st, &token) != 2 || st != start_time)
		token = 0;
	fclose(f);
	return token;
}

/* a new arming of pid: its id, recorded before any bit is cleared; 0 if it cannot be */
static uint64_t new_arming(pid_t pid, uint64_t start_time)
{
	char path[64], tmp[80], line[64];
	uint64_t token = 0;
	int fd, len;

	if (getrandom(&token, sizeof(token), 0) != sizeof(token) || !token)
		return 0;
	if ((mkdir("/run/memdump", 0700) < 0 && errno != EEXIST) || (mkdir(STATE_DIR, 0700) < 0 && errno != EEXIST))
		return 0;
	snprintf(path, sizeof(path), STATE_DIR "/%d", pid);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, getpid());
	len = snprintf(line, sizeof(line), "%llu %llu\n", (unsigned long long)start_time, (unsigned long long)token);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, line, len) != len || close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return 0;
	}
	return token;
}

/* prev armed this very process, and nothing armed it since */
static bool armed_before(const struct md_track *prev, pid_t pid, uint64_t start_time)
{
	for (size_t i = 0; prev && prev->method == MD_TRACK_SOFT_DIRTY && i < prev->n; i++)
		if (prev->procs[i].pid == pid && prev->procs[i].start_time == start_time)
			return prev->procs[i].token && prev->procs[i].token == last_arming(pid, start_time);
	return false;
}

int softdirty_proc(const struct md_track *prev, const struct md_proc *p, const struct md_proc *prev_p, bool arm,
		   struct dump_track *t)
{
	_cleanup_close_ int pagemap_fd = -1, refs_fd = -1;
	_cleanup_free_ uint64_t *buf = NULL;
	struct proc_stat st;
	char path[64];
	int r;

	*t = (struct dump_track){ .pid = p->pid, .uffd = -1 };
	r = proc_read_stat(p->pid, 0, &st);
	if (r < 0)
		return log_err(r, "cannot read the start time of %d", p->pid);
	t->start_time = st.start_time;

	/* first what was written since the previous round armed it, then arm again */
	if (armed_before(prev, p->pid, t->start_time) && prev_p) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", p->pid);
		pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
		buf = malloc(PME_CHUNK * sizeof(*buf));
		if (pagemap_fd < 0 || !buf)
			return log_err(pagemap_fd < 0 ? -errno : -ENOMEM, "cannot read '%s'", path);
		for (size_t i = 0; i < p->n_vmas; i++) {
			if (!plan_vma_wants_pages(&p->vmas[i]))
				continue;
			r = plan_tracked_since(&p->vmas[i], prev_p, &t->tracked, &t->n_tracked);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < t->n_tracked; i++) {
			r = read_dirty(pagemap_fd, t->tracked[i].start, t->tracked[i].end, buf, &t->written,
				       &t->n_written);
			if (r < 0)
				return log_err(r, "cannot read the soft-dirty bits of %d", p->pid);
		}
	}
	if (!arm)
		return 0;
	/* from here on no earlier image is a base for p, whatever happens to this dump */
	t->token = new_arming(p->pid, t->start_time);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", p->pid);
	if (t->token)
		refs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (!t->token || refs_fd < 0 || write(refs_fd, "4", 1) != 1) {
		log_warn("cannot %s of %d (%s): its next dump copies everything",
			 t->token ? "clear the soft-dirty bits" : "record the arming in " STATE_DIR, p->pid,
			 strerror(errno));
		return 0;
	}
	t->armed = true;
	return 0;
}
