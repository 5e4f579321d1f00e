/*
 * Cross-reference checks of one read process: VMAs against each other,
 * pagemap entries against VMAs, threads and fds against duplicates; of
 * the tree, its PID namespace ids and its pidfds' processes. Pure:
 * reports in err, logs nothing; the caller names the process.
 */
#include "memdump/image.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Sorts v and finds a value present twice in it. */
static bool find_dup(int *v, size_t n, int *ret)
{
	qsort(v, n, sizeof(*v), cmp_int);
	for (size_t i = 1; i < n; i++)
		if (v[i] == v[i - 1]) {
			*ret = v[i];
			return true;
		}
	return false;
}

int image_check_proc(const struct md_proc *p, const struct md_pagemap *pm, char *err, size_t errlen)
{
	_cleanup_free_ int *ids = NULL;
	int dup;
	uint64_t data = 0;
	size_t v = 0;

	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *m = &p->vmas[i];

		if ((m->start | m->end) & (MD_PAGE_SIZE - 1))
			return fail(err, errlen, "vma %llx-%llx not page aligned",
				    (unsigned long long)m->start, (unsigned long long)m->end);
		if (m->start >= m->end)
			return fail(err, errlen, "vma %llx-%llx is empty or reversed",
				    (unsigned long long)m->start, (unsigned long long)m->end);
		if (i && m->start < p->vmas[i - 1].end)
			return fail(err, errlen, "vma %llx-%llx overlaps or precedes vma %llx-%llx",
				    (unsigned long long)m->start, (unsigned long long)m->end,
				    (unsigned long long)p->vmas[i - 1].start,
				    (unsigned long long)p->vmas[i - 1].end);
	}

	for (size_t i = 0; pm && i < pm->n; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];
		uint64_t end;

		if (e->vaddr & (MD_PAGE_SIZE - 1))
			return fail(err, errlen, "pagemap entry at %llx not page aligned",
				    (unsigned long long)e->vaddr);
		if (e->nr_pages == 0 || e->nr_pages > (UINT64_MAX - e->vaddr) / MD_PAGE_SIZE)
			return fail(err, errlen, "pagemap entry at %llx has bad length %llu pages",
				    (unsigned long long)e->vaddr, (unsigned long long)e->nr_pages);
		end = e->vaddr + e->nr_pages * MD_PAGE_SIZE;
		if (i && e->vaddr < pm->entries[i - 1].vaddr + pm->entries[i - 1].nr_pages * MD_PAGE_SIZE)
			return fail(err, errlen, "pagemap entry at %llx overlaps or precedes the one before",
				    (unsigned long long)e->vaddr);
		/* Both lists are sorted: the VMA cursor only moves forward. */
		while (v < p->n_vmas && p->vmas[v].end <= e->vaddr)
			v++;
		if (v == p->n_vmas || e->vaddr < p->vmas[v].start)
			return fail(err, errlen, "pagemap entry %llx-%llx is outside every vma",
				    (unsigned long long)e->vaddr, (unsigned long long)end);
		if (end > p->vmas[v].end)
			return fail(err, errlen, "pagemap entry %llx-%llx crosses the end of vma %llx-%llx",
				    (unsigned long long)e->vaddr, (unsigned long long)end,
				    (unsigned long long)p->vmas[v].start,
				    (unsigned long long)p->vmas[v].end);
		/*
		 * Restore writes data only into private memory: an entry in a
		 * shared file mapping would write into the file on disk.
		 */
		if (e->flags & (MD_PM_DATA | MD_PM_INHERIT | MD_PM_PARENT) &&
		    (p->vmas[v].shared || (p->vmas[v].kind != MD_VMA_ANON && p->vmas[v].kind != MD_VMA_FILE &&
					   p->vmas[v].kind != MD_VMA_MEMFD)))
			return fail(err, errlen, "pagemap entry %llx-%llx holds data for a vma that cannot take it",
				    (unsigned long long)e->vaddr, (unsigned long long)end);
		if (e->flags & MD_PM_DATA)
			data += e->nr_pages;
	}
	if (pm && data != pm->nr_data_pages)
		return fail(err, errlen, "pagemap says %llu data pages, its entries hold %llu",
			    (unsigned long long)pm->nr_data_pages, (unsigned long long)data);

	if (p->n_threads == 0)
		return fail(err, errlen, "process %d has no thread", (int)p->pid);
	if (p->threads[0].tid != p->pid)
		return fail(err, errlen, "first thread %d is not the leader %d", (int)p->threads[0].tid,
			    (int)p->pid);

	ids = calloc(p->n_threads ? p->n_threads : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_threads; i++)
		ids[i] = p->threads[i].tid;
	if (find_dup(ids, p->n_threads, &dup))
		return fail(err, errlen, "thread %d appears twice", dup);
	/* by number, as md_proc_fd() looks them up */
	for (size_t i = 1; i < p->n_fds; i++) {
		if (p->fds[i].fd == p->fds[i - 1].fd)
			return fail(err, errlen, "fd %d appears twice", p->fds[i].fd);
		if (p->fds[i].fd < p->fds[i - 1].fd)
			return fail(err, errlen, "fd %d comes after fd %d", p->fds[i].fd, p->fds[i - 1].fd);
	}
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i], *owner = md_proc_fd(p, f->dup_of);

		if (f->dup_of >= 0 && (!owner || owner >= f || owner->dup_of >= 0))
			return fail(err, errlen, "fd %d shares its file with fd %d, which is not an earlier owner",
				    f->fd, f->dup_of);
	}
	return 0;
}

int image_check_pidns(bool pid_ns, const struct md_proc *procs, size_t n, char *err, size_t errlen)
{
	_cleanup_free_ int *ids = NULL;
	size_t n_ids = 0, total = 0;
	int dup;

	for (size_t i = 0; i < n; i++) {
		const struct md_proc *p = &procs[i];

		total += 1 + p->n_threads;
		if (!pid_ns) {
			for (size_t k = 0; k < p->n_threads; k++)
				if (p->threads[k].ns_tid)
					return fail(err, errlen, "thread %d has an id in a PID namespace the inventory "
						    "does not have", p->threads[k].tid);
			if (p->ns_pid)
				return fail(err, errlen, "process %d has a pid in a PID namespace the inventory does "
					    "not have", p->pid);
			continue;
		}
		if (!p->ns_pid)
			return fail(err, errlen, "process %d has no pid in the tree's PID namespace", p->pid);
		if ((p->ns_pid == 1) != (i == 0))
			return fail(err, errlen, "process %d has pid %d in the tree's PID namespace, where the root "
				    "has 1", p->pid, p->ns_pid);
		for (size_t k = 0; k < p->n_threads; k++) {
			const struct md_thread *t = &p->threads[k];

			if (!t->ns_tid || (k == 0) != (t->ns_tid == p->ns_pid))
				return fail(err, errlen, "thread %d of %d has id %d in the tree's PID namespace, its "
					    "process %d", t->tid, p->pid, t->ns_tid, p->ns_pid);
		}
	}
	if (!pid_ns)
		return 0;
	/* pids and thread ids share one number space: each at most once */
	ids = calloc(total ? total : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ids[n_ids++] = procs[i].ns_pid;
		for (size_t k = 1; k < procs[i].n_threads; k++)
			ids[n_ids++] = procs[i].threads[k].ns_tid;
	}
	if (find_dup(ids, n_ids, &dup))
		return fail(err, errlen, "id %d is twice in the tree's PID namespace", dup);
	return 0;
}

/* pidfds on a process gone, by process (pidfd_gone) */
static int cmp_gone(const void *a, const void *b)
{
	const struct md_fd *x = *(const struct md_fd *const *)a, *y = *(const struct md_fd *const *)b;

	return (x->pidfd_gone > y->pidfd_gone) - (x->pidfd_gone < y->pidfd_gone);
}

int image_check_pidfds(const struct md_proc *procs, size_t n, char *err, size_t errlen)
{
	_cleanup_free_ const struct md_fd **gone = NULL;
	size_t total = 0, n_gone = 0;

	for (size_t i = 0; i < n; i++)
		total += procs[i].n_fds;
	gone = calloc(total ? total : 1, sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			if (f->kind != MD_FD_PIDFD)
				continue;
			if (!f->pidfd_pid && f->pidfd_gone && f->pidfd_exit_known)
				gone[n_gone++] = f;
			if (f->pidfd_pid && !md_find_proc(procs, n, f->pidfd_pid))
				return fail(err, errlen, "fd %d of %d is a pidfd of %d, no process of the image",
					    f->fd, procs[i].pid, f->pidfd_pid);
		}
	/* one process gone ended one way */
	if (n_gone)
		qsort(gone, n_gone, sizeof(*gone), cmp_gone);
	for (size_t i = 1; i < n_gone; i++)
		if (gone[i]->pidfd_gone == gone[i - 1]->pidfd_gone && gone[i]->pidfd_exit != gone[i - 1]->pidfd_exit)
			return fail(err, errlen, "fd %d is a pidfd on a process gone that ended with wait status %#x "
				    "and with %#x", gone[i]->fd, gone[i - 1]->pidfd_exit, gone[i]->pidfd_exit);
	return 0;
}
