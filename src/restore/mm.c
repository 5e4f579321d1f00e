/*
 * Rebuilding the address space of the new process by remote syscalls:
 * unmap everything memdump left in it, move [vvar]/[vvar_vclock]/[vdso]
 * to their dumped addresses, map every VMA, fill its pages, give it its
 * final protection and madvise state, and set the mm fields with
 * PR_SET_MM_MAP. Threads and per-thread state are thread.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat/mman.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/proc.h"
#include "restore/internal.h"

#define FILL_BUF_SIZE (4u << 20)
#define FILL_MAX_IOV 1024

static bool vma_is_special(const struct md_vma *v)
{
	return v->kind == MD_VMA_VDSO || v->kind == MD_VMA_VVAR || v->kind == MD_VMA_VVAR_VCLOCK ||
	       v->kind == MD_VMA_VSYSCALL;
}

static bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

int restore_find_hole(const struct md_proc *p, uint64_t size, uint64_t avoid_start, uint64_t avoid_end,
		      uint64_t *ret)
{
	/* below the usual mmap area, away from the heap; 1 GiB steps */
	for (uint64_t a = 0x200000000ULL; a < 0x7f0000000000ULL; a += 1ULL << 30) {
		bool ok = !overlaps(a, a + size, avoid_start, avoid_end);

		for (size_t i = 0; ok && i < p->n_vmas; i++)
			if (overlaps(a, a + size, p->vmas[i].start, p->vmas[i].end))
				ok = false;
		if (ok) {
			*ret = a;
			return 0;
		}
	}
	return -ENOMEM;
}

/* the special mappings of the new process as they are now (a copy of memdump's) */
struct specials {
	struct md_vma v[4];
	size_t n;
	uint64_t lo, hi;	/* span of [vvar]..[vdso] */
};

static int read_specials(pid_t pid, struct specials *sp, struct md_vma **ret_all, size_t *ret_n)
{
	struct md_vma *all = NULL;
	size_t n = 0;
	int r;

	r = proc_read_smaps(pid, &all, &n);
	if (r < 0)
		return r;
	memset(sp, 0, sizeof(*sp));
	sp->lo = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct md_vma *v = &all[i];

		if (v->kind != MD_VMA_VDSO && v->kind != MD_VMA_VVAR && v->kind != MD_VMA_VVAR_VCLOCK)
			continue;
		if (sp->n == ARRAY_SIZE(sp->v))
			break;
		sp->v[sp->n] = *v;
		sp->v[sp->n].path = NULL;
		sp->n++;
		if (v->start < sp->lo)
			sp->lo = v->start;
		if (v->end > sp->hi)
			sp->hi = v->end;
	}
	*ret_all = all;
	*ret_n = n;
	return 0;
}

static const struct md_vma *image_special(const struct md_proc *p, enum md_vma_kind k)
{
	for (size_t i = 0; i < p->n_vmas; i++)
		if (p->vmas[i].kind == k)
			return &p->vmas[i];
	return NULL;
}

/*
 * Move the special mappings to where the image had them. If the two
 * layouts overlap, everything goes through a hole first. The syscall
 * instruction we run on moves with [vdso]: follow it.
 */
static int move_specials(struct restore_ctx *rc, struct specials *sp)
{
	uint64_t hole, span = sp->hi - sp->lo;
	bool via_hole = false;
	int r;

	for (size_t i = 0; i < sp->n; i++) {
		const struct md_vma *dst = image_special(&rc->p, sp->v[i].kind);

		if (dst && overlaps(dst->start, dst->end, sp->lo, sp->hi))
			via_hole = true;
	}
	if (via_hole) {
		r = restore_find_hole(&rc->p, span, sp->lo, sp->hi, &hole);
		if (r < 0)
			return log_err(r, "no room to move the vdso");
		for (size_t i = 0; i < sp->n; i++) {
			struct md_vma *v = &sp->v[i];
			uint64_t to = hole + (v->start - sp->lo);

			r = restore_rcall_ok(rc, "mremap of a vdso mapping", SYS_mremap, v->start, v->end - v->start,
					     v->end - v->start, MREMAP_MAYMOVE | MREMAP_FIXED, to, 0);
			if (r < 0)
				return r;
			if (v->kind == MD_VMA_VDSO)
				rc->ic.syscall_ip = rc->ic.syscall_ip - v->start + to;
			v->end = to + (v->end - v->start);
			v->start = to;
		}
	}
	for (size_t i = 0; i < sp->n; i++) {
		struct md_vma *v = &sp->v[i];
		const struct md_vma *dst = image_special(&rc->p, v->kind);

		if (!dst) {
			/* we run our syscalls on it: an image without one could map over it */
			if (v->kind == MD_VMA_VDSO)
				return log_err(-ENOTSUP, "the image has no [vdso]; not supported");
			/* the process never knew this one: drop it */
			r = restore_rcall_ok(rc, "munmap of a vvar mapping", SYS_munmap, v->start, v->end - v->start,
					     0, 0, 0, 0);
			if (r < 0)
				return r;
			continue;
		}
		if (dst->start == v->start)
			continue;
		r = restore_rcall_ok(rc, "mremap of a vdso mapping", SYS_mremap, v->start, v->end - v->start,
				     v->end - v->start, MREMAP_MAYMOVE | MREMAP_FIXED, dst->start, 0);
		if (r < 0)
			return r;
		if (v->kind == MD_VMA_VDSO)
			rc->ic.syscall_ip = rc->ic.syscall_ip - v->start + dst->start;
		v->end = dst->start + (v->end - v->start);
		v->start = dst->start;
	}
	return 0;
}

static int teardown(struct restore_ctx *rc)
{
	struct md_vma *all = NULL;
	struct specials sp;
	size_t n = 0;
	int r;

	r = read_specials(rc->pid, &sp, &all, &n);
	if (r < 0)
		return log_err(r, "cannot read the mappings of %d", rc->pid);
	for (size_t i = 0; i < n; i++) {
		if (vma_is_special(&all[i]))
			continue;
		r = restore_rcall_ok(rc, "munmap", SYS_munmap, all[i].start, all[i].end - all[i].start, 0, 0, 0, 0);
		if (r < 0)
			goto out;
	}
	r = move_specials(rc, &sp);
out:
	md_vmas_free(all, n);
	return r;
}

/*
 * Which VMAs get pages written into them: those holding DATA entries, and
 * shared anonymous ones (filled through the mapping). Only these are
 * mapped writable while we fill: a private writable mapping is charged
 * against the commit limit for good, and a huge PROT_NONE reservation
 * must not be.
 */
static int mark_filled(struct restore_ctx *rc)
{
	const struct md_proc *p = &rc->p;
	size_t e = 0;

	rc->vma_filled = calloc(p->n_vmas + 1, sizeof(bool));
	if (!rc->vma_filled)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];

		if (v->kind == MD_VMA_SHMEM) {
			rc->vma_filled[i] = true;
			continue;
		}
		/* entries and VMAs are both sorted (checked when read) */
		while (e < rc->pm.n && rc->pm.entries[e].vaddr < v->start)
			e++;
		for (size_t k = e; k < rc->pm.n && rc->pm.entries[k].vaddr < v->end; k++)
			if (rc->pm.entries[k].flags & MD_PM_DATA) {
				rc->vma_filled[i] = true;
				break;
			}
	}
	return 0;
}

static bool vma_gets_data(const struct restore_ctx *rc, size_t idx)
{
	return rc->vma_filled[idx];
}

static int map_vma(struct restore_ctx *rc, size_t idx)
{
	const struct md_vma *v = &rc->p.vmas[idx];
	uint64_t prot = v->prot, flags = MAP_FIXED, fd = (uint64_t)-1, off = 0;

	if (vma_gets_data(rc, idx))
		prot |= PROT_READ | PROT_WRITE;
	flags |= v->shared ? MAP_SHARED : MAP_PRIVATE;
	if (v->vmflags & MD_VMF_GD)
		flags |= MAP_GROWSDOWN;
	if (v->vmflags & MD_VMF_NR)
		flags |= MAP_NORESERVE;
	switch (v->kind) {
	case MD_VMA_ANON:
	case MD_VMA_SHMEM:
		flags |= MAP_ANONYMOUS;
		break;
	case MD_VMA_FILE:
	case MD_VMA_MEMFD:
		fd = (uint64_t)(int64_t)rc->rep->vma_fd[idx];
		off = v->pgoff;
		break;
	default:
		return 0;
	}
	return restore_rcall_ok(rc, "mmap", SYS_mmap, v->start, v->end - v->start, prot, flags, fd, off);
}

static int madvise_vma(struct restore_ctx *rc, const struct md_vma *v)
{
	static const struct {
		uint64_t flag;
		int advice;
	} adv[] = {
		{ MD_VMF_HG, MADV_HUGEPAGE },	  { MD_VMF_NH, MADV_NOHUGEPAGE }, { MD_VMF_DC, MADV_DONTFORK },
		{ MD_VMF_WF, MADV_WIPEONFORK },	  { MD_VMF_DD, MADV_DONTDUMP },	  { MD_VMF_MG, MADV_MERGEABLE },
		{ MD_VMF_SR, MADV_SEQUENTIAL },	  { MD_VMF_RR, MADV_RANDOM },
	};
	int64_t res;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(adv); i++) {
		if (!(v->vmflags & adv[i].flag))
			continue;
		r = restore_rcall(rc, "madvise", SYS_madvise, v->start, v->end - v->start, (uint64_t)adv[i].advice, 0,
				  0, 0, &res);
		if (r < 0)
			return r;
		if (res < 0)
			log_warn("madvise(%d) of %#llx-%#llx failed: %s", adv[i].advice, (unsigned long long)v->start,
				 (unsigned long long)v->end, strerror((int)-res));
	}
	return 0;
}

/* write the DATA pages of pm into the new process; to_addr maps an entry's vaddr to an address */
struct fill {
	pid_t pid;
	int fd;
	uint64_t file_off;
	char *buf;
	size_t used;
	struct iovec riov[FILL_MAX_IOV];
	size_t nr;
};

static int fill_flush(struct fill *f)
{
	struct iovec l = { f->buf, f->used };
	size_t done = 0;

	if (!f->used)
		return 0;
	if (pread(f->fd, f->buf, f->used, (off_t)f->file_off) != (ssize_t)f->used)
		return -EIO;
	/* a short write stops at the end of a remote iovec: resume after it */
	while (done < f->used) {
		ssize_t n = process_vm_writev(f->pid, &l, 1, f->riov, f->nr, 0);
		size_t left;

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
		l.iov_base = (char *)l.iov_base + n;
		l.iov_len -= (size_t)n;
		left = (size_t)n;
		while (left) {
			size_t k = left < f->riov[0].iov_len ? left : f->riov[0].iov_len;

			f->riov[0].iov_base = (char *)f->riov[0].iov_base + k;
			f->riov[0].iov_len -= k;
			left -= k;
			if (!f->riov[0].iov_len) {
				memmove(f->riov, f->riov + 1, (f->nr - 1) * sizeof(f->riov[0]));
				f->nr--;
			}
		}
	}
	f->file_off += f->used;
	f->used = 0;
	f->nr = 0;
	return 0;
}

static int fill_add(struct fill *f, uint64_t addr, uint64_t len)
{
	while (len) {
		size_t room = FILL_BUF_SIZE - f->used, k = len < room ? len : room;
		int r;

		if (f->nr == FILL_MAX_IOV || !room) {
			r = fill_flush(f);
			if (r < 0)
				return r;
			continue;
		}
		f->riov[f->nr].iov_base = (void *)addr;
		f->riov[f->nr].iov_len = k;
		f->nr++;
		f->used += k;
		addr += k;
		len -= k;
	}
	return 0;
}

static int fill_pages(struct restore_ctx *rc)
{
	_cleanup_free_ char *buf = malloc(FILL_BUF_SIZE);
	struct fill f = { .pid = rc->pid, .fd = rc->pages_fd, .file_off = MD_PAGES_HEADER_SIZE, .buf = buf };
	int r;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < rc->pm.n; i++) {
		const struct md_pagemap_entry *e = &rc->pm.entries[i];

		if (!(e->flags & MD_PM_DATA))
			continue;
		r = fill_add(&f, e->vaddr, e->nr_pages * MD_PAGE_SIZE);
		if (r < 0)
			return log_err(r, "cannot fill memory of %d", rc->pid);
	}
	r = fill_flush(&f);
	if (r < 0)
		return log_err(r, "cannot fill memory of %d", rc->pid);

	/* shared anonymous objects: through every mapping of them (one process for now) */
	for (size_t s = 0; s < rc->n_shms; s++) {
		const struct restore_shm *sh = &rc->shms[s];

		for (size_t i = 0; i < rc->p.n_vmas; i++) {
			const struct md_vma *v = &rc->p.vmas[i];
			struct fill g = { .pid = rc->pid, .fd = sh->pages_fd, .file_off = MD_PAGES_HEADER_SIZE, .buf = buf };

			if (v->kind != MD_VMA_SHMEM || v->shm_id != sh->shm.id)
				continue;
			for (size_t j = 0; j < sh->pm.n; j++) {
				const struct md_pagemap_entry *e = &sh->pm.entries[j];
				uint64_t len = e->nr_pages * MD_PAGE_SIZE;

				if (!(e->flags & MD_PM_DATA))
					continue;
				/* the part of the object this mapping shows */
				if (e->vaddr + len <= v->pgoff || e->vaddr >= v->pgoff + (v->end - v->start)) {
					r = fill_flush(&g);
					g.file_off += len;
					if (r < 0)
						return log_err(r, "cannot fill shared memory of %d", rc->pid);
					continue;
				}
				/* partial overlap: copy the overlapping pages only */
				uint64_t lo = e->vaddr > v->pgoff ? e->vaddr : v->pgoff;
				uint64_t hi = e->vaddr + len < v->pgoff + (v->end - v->start) ? e->vaddr + len
											: v->pgoff + (v->end - v->start);
				r = fill_flush(&g);
				if (r < 0)
					return log_err(r, "cannot fill shared memory of %d", rc->pid);
				g.file_off += lo - e->vaddr;
				r = fill_add(&g, v->start + (lo - v->pgoff), hi - lo);
				if (!r)
					r = fill_flush(&g);
				if (r < 0)
					return log_err(r, "cannot fill shared memory of %d", rc->pid);
				g.file_off += e->vaddr + len - hi;
			}
		}
	}
	return 0;
}

static int set_mm_map(struct restore_ctx *rc)
{
	const struct md_proc *p = &rc->p;
	struct prctl_mm_map m = {
		.start_code = p->mm.start_code,
		.end_code = p->mm.end_code,
		.start_data = p->mm.start_data,
		.end_data = p->mm.end_data,
		.start_brk = p->mm.start_brk,
		.brk = p->mm.brk,
		.start_stack = p->mm.start_stack,
		.arg_start = p->mm.arg_start,
		.arg_end = p->mm.arg_end,
		.env_start = p->mm.env_start,
		.env_end = p->mm.env_end,
		.auxv_size = (uint32_t)(p->auxv_len * sizeof(uint64_t)),
		.exe_fd = (uint32_t)rc->rep->exe_fd,
	};
	uint64_t auxv_addr = rc->scratch + 1024;
	int r;

	if (m.auxv_size > RESTORE_SCRATCH_SIZE - 1024)
		return log_err(-E2BIG, "auxv of %zu entries is too large", p->auxv_len);
	m.auxv = (__u64 *)auxv_addr;
	r = inject_write_mem(rc->pid, auxv_addr, p->auxv, m.auxv_size);
	if (r >= 0)
		r = inject_write_mem(rc->pid, rc->scratch, &m, sizeof(m));
	if (r < 0)
		return log_err(r, "cannot write to the new process");
	r = restore_rcall_ok(rc, "prctl(PR_SET_MM_MAP)", SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, rc->scratch, sizeof(m), 0,
			     0);
	if (r < 0)
		return r;
	return 0;
}

int restore_mm(struct restore_ctx *rc)
{
	const struct md_proc *p = &rc->p;
	uint64_t hole;
	int r;

	r = mark_filled(rc);
	if (r < 0)
		return r;
	r = teardown(rc);
	if (r < 0)
		return r;

	r = restore_find_hole(p, RESTORE_SCRATCH_SIZE, 0, 0, &hole);
	if (r < 0)
		return log_err(r, "no room for a scratch area");
	r = restore_rcall_ok(rc, "mmap of the scratch area", SYS_mmap, hole, RESTORE_SCRATCH_SIZE,
			     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0);
	if (r < 0)
		return r;
	rc->scratch = hole;

	for (size_t i = 0; i < p->n_vmas; i++) {
		r = map_vma(rc, i);
		if (r < 0)
			return log_err(r, "cannot map %#llx-%#llx", (unsigned long long)p->vmas[i].start,
				       (unsigned long long)p->vmas[i].end);
		/* before the data goes in: THP and friends apply from the first fault */
		r = madvise_vma(rc, &p->vmas[i]);
		if (r < 0)
			return r;
	}
	r = fill_pages(rc);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		int64_t res;

		if (vma_is_special(v))
			continue;
		if (vma_gets_data(rc, i) && v->prot != (PROT_READ | PROT_WRITE)) {
			r = restore_rcall_ok(rc, "mprotect", SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0);
			if (r < 0)
				return r;
		}
		if (v->vmflags & MD_VMF_LO) {
			r = restore_rcall(rc, "mlock", SYS_mlock, v->start, v->end - v->start, 0, 0, 0, 0, &res);
			if (r < 0)
				return r;
			if (res < 0)
				log_warn("cannot lock %#llx-%#llx: %s", (unsigned long long)v->start,
					 (unsigned long long)v->end, strerror((int)-res));
		}
	}
	r = set_mm_map(rc);
	if (r < 0)
		return r;

	/* the fds the child opened for us are not the process's own */
	for (size_t i = 0; i < p->n_vmas; i++)
		if (rc->rep->vma_fd[i] >= 0) {
			r = restore_rcall_ok(rc, "close", SYS_close, (uint64_t)rc->rep->vma_fd[i], 0, 0, 0, 0, 0);
			if (r < 0)
				return r;
		}
	if (rc->rep->exe_fd >= 0)
		return restore_rcall_ok(rc, "close", SYS_close, (uint64_t)rc->rep->exe_fd, 0, 0, 0, 0, 0);
	return 0;
}
