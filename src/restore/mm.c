/*
 * Rebuilding the address space of the new process by remote syscalls:
 * unmap everything memdump left in it, move [vvar]/[vvar_vclock]/[vdso]
 * to their dumped addresses, map every VMA, fill its pages, give it its
 * final protection and madvise state, and set the mm fields with
 * PR_SET_MM_MAP. Threads and per-thread state are thread.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat/mman.h"
#include "compat/userfaultfd.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/proc.h"
#include "restore/internal.h"

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
		      uint64_t avoid2_start, uint64_t avoid2_end, uint64_t *ret)
{
	/* below the usual mmap area, away from the heap; 1 GiB steps */
	for (uint64_t a = 0x200000000ULL; a < 0x7f0000000000ULL; a += 1ULL << 30) {
		bool ok = !overlaps(a, a + size, avoid_start, avoid_end) && !overlaps(a, a + size, avoid2_start, avoid2_end);

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
static int move_specials(struct restore_proc *rp, struct specials *sp)
{
	uint64_t hole, span = sp->hi - sp->lo;
	bool via_hole = false;
	int r;

	/* a forked child has them in place already */
	for (size_t i = 0; i < sp->n; i++) {
		const struct md_vma *dst = image_special(&rp->p, sp->v[i].kind);

		if (dst && dst->start != sp->v[i].start && overlaps(dst->start, dst->end, sp->lo, sp->hi))
			via_hole = true;
	}
	if (via_hole) {
		/* clear of the image, where they are, and the scratch area (a child's, taken over) */
		r = restore_find_hole(&rp->p, span, sp->lo, sp->hi, rp->scratch,
				      rp->scratch ? rp->scratch + RESTORE_SCRATCH_SIZE : 0, &hole);
		if (r < 0)
			return log_err(r, "no room to move the vdso");
		for (size_t i = 0; i < sp->n; i++) {
			struct md_vma *v = &sp->v[i];
			uint64_t to = hole + (v->start - sp->lo);

			r = restore_rcall_ok(rp, "mremap of a vdso mapping", SYS_mremap, v->start, v->end - v->start,
					     v->end - v->start, MREMAP_MAYMOVE | MREMAP_FIXED, to, 0);
			if (r < 0)
				return r;
			if (v->kind == MD_VMA_VDSO)
				rp->ic.syscall_ip = rp->ic.syscall_ip - v->start + to;
			v->end = to + (v->end - v->start);
			v->start = to;
		}
	}
	for (size_t i = 0; i < sp->n; i++) {
		struct md_vma *v = &sp->v[i];
		const struct md_vma *dst = image_special(&rp->p, v->kind);

		if (!dst) {
			/* we run our syscalls on it: an image without one could map over it */
			if (v->kind == MD_VMA_VDSO)
				return log_refuse("the image has no [vdso]; not supported");
			/* the process never knew this one: drop it */
			r = restore_rcall_ok(rp, "munmap of a vvar mapping", SYS_munmap, v->start, v->end - v->start,
					     0, 0, 0, 0);
			if (r < 0)
				return r;
			continue;
		}
		if (dst->start == v->start)
			continue;
		r = restore_rcall_ok(rp, "mremap of a vdso mapping", SYS_mremap, v->start, v->end - v->start,
				     v->end - v->start, MREMAP_MAYMOVE | MREMAP_FIXED, dst->start, 0);
		if (r < 0)
			return r;
		if (v->kind == MD_VMA_VDSO)
			rp->ic.syscall_ip = rp->ic.syscall_ip - v->start + dst->start;
		v->end = dst->start + (v->end - v->start);
		v->start = dst->start;
	}
	return 0;
}

static bool in_scratch(const struct restore_proc *rp, uint64_t a)
{
	return rp->scratch && a >= rp->scratch && a < rp->scratch + RESTORE_SCRATCH_SIZE;
}

/*
 * Unmap what the new process has and the image does not: everything of
 * memdump's in the root; in a forked child, all but the VMAs it keeps from
 * its parent and the scratch area it took over. Then the vDSO family.
 */
static int teardown(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	struct md_vma *all = NULL;
	struct specials sp;
	size_t n = 0;
	int r;

	r = read_specials(rp->pid, &sp, &all, &n);
	if (r < 0)
		return log_err(r, "cannot read the mappings of %d", rp->pid);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = all[i].start;

		if (vma_is_special(&all[i]))
			continue;
		/* the gaps between kept VMAs and the scratch area, in page steps of whole runs */
		while (a < all[i].end) {
			uint64_t b = all[i].end, keep_end = 0;

			/* kept from a on: skip to the end of what keeps it */
			if (in_scratch(rp, a))
				keep_end = rp->scratch + RESTORE_SCRATCH_SIZE;
			for (size_t k = 0; !keep_end && k < p->n_vmas; k++)
				if (rp->vma_kept[k] && a >= p->vmas[k].start && a < p->vmas[k].end)
					keep_end = p->vmas[k].end;
			if (keep_end) {
				a = keep_end < b ? keep_end : b;
				continue;
			}
			/* up to the next kept start */
			for (size_t k = 0; k < p->n_vmas; k++)
				if (rp->vma_kept[k] && p->vmas[k].start > a && p->vmas[k].start < b)
					b = p->vmas[k].start;
			if (rp->scratch > a && rp->scratch < b)
				b = rp->scratch;
			log_debug("%d: unmap %#llx-%#llx", rp->pid, (unsigned long long)a, (unsigned long long)b);
			r = restore_rcall_ok(rp, "munmap", SYS_munmap, a, b - a, 0, 0, 0, 0);
			if (r < 0)
				goto out;
			a = b;
		}
	}
	r = move_specials(rp, &sp);
out:
	md_vmas_free(all, n);
	return r;
}

/*
 * Which VMAs get pages written into them: those holding DATA entries.
 * Only these are mapped writable while we fill: a private writable
 * mapping is charged against the commit limit for good, and a huge
 * PROT_NONE reservation must not be. And which VMAs a forked child keeps
 * from its parent: those holding INHERIT entries.
 */
static int mark_filled(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	size_t e = 0;

	rp->vma_filled = calloc(p->n_vmas + 1, sizeof(bool));
	rp->vma_kept = calloc(p->n_vmas + 1, sizeof(bool));
	if (!rp->vma_filled || !rp->vma_kept)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];

		/* entries and VMAs are both sorted (checked when read) */
		while (e < rp->pm.n && rp->pm.entries[e].vaddr < v->start)
			e++;
		for (size_t k = e; k < rp->pm.n && rp->pm.entries[k].vaddr < v->end; k++) {
			/* in a parent image or ours, data is written in */
			if (rp->pm.entries[k].flags & (MD_PM_DATA | MD_PM_PARENT))
				rp->vma_filled[i] = true;
			/* the parent's pages: keep the VMA fork brought (checked to be its twin) */
			if (rp->pm.entries[k].flags & MD_PM_INHERIT)
				rp->vma_kept[i] = true;
		}
	}
	return 0;
}

static bool vma_gets_data(const struct restore_proc *rp, size_t idx)
{
	return rp->vma_filled[idx];
}

static int map_vma(const struct restore_ctx *rc, struct restore_proc *rp, size_t idx)
{
	const struct md_vma *v = &rp->p.vmas[idx];
	uint64_t prot = v->prot, flags = MAP_FIXED, fd = (uint64_t)-1, off = 0;

	if (rp->vma_kept[idx])
		return restore_rcall_ok(rp, "mprotect", SYS_mprotect, v->start, v->end - v->start,
					vma_gets_data(rp, idx) ? PROT_READ | PROT_WRITE : v->prot, 0, 0, 0);

	if (vma_gets_data(rp, idx))
		prot |= PROT_READ | PROT_WRITE;
	flags |= v->shared ? MAP_SHARED : MAP_PRIVATE;
	if (v->vmflags & MD_VMF_GD)
		flags |= MAP_GROWSDOWN;
	if (v->vmflags & MD_VMF_NR)
		flags |= MAP_NORESERVE;
	switch (v->kind) {
	case MD_VMA_ANON:
		flags |= MAP_ANONYMOUS;
		break;
	case MD_VMA_FILE:
	case MD_VMA_MEMFD:
	case MD_VMA_SHMEM:
		fd = (uint64_t)(int64_t)rp->vma_fd[idx];
		off = v->pgoff;
		break;
	case MD_VMA_SYSV:
		/* a later piece of one attach: mapped with the first */
		if (idx > 0 && restore_sysv_attach_len(&rp->p.vmas[idx - 1], 2) == 2)
			return 0;
		/* the segment was checked to exist when the images were read */
		return restore_map_sysv(rp, v, restore_sysv_attach_len(v, rp->p.n_vmas - idx),
					restore_find_shm(rc, true, v->shm_id));
	default:
		return 0;
	}
	return restore_rcall_ok(rp, "mmap", SYS_mmap, v->start, v->end - v->start, prot, flags, fd, off);
}

static int madvise_vma(struct restore_proc *rp, const struct md_vma *v)
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
		r = restore_rcall(rp, "madvise", SYS_madvise, v->start, v->end - v->start, (uint64_t)adv[i].advice, 0,
				  0, 0, &res);
		if (r < 0)
			return r;
		if (res < 0)
			log_warn("madvise(%d) of %#llx-%#llx failed: %s", adv[i].advice, (unsigned long long)v->start,
				 (unsigned long long)v->end, strerror((int)-res));
	}
	return 0;
}

size_t restore_src_vma(const struct restore_proc *rp, const struct restore_src *s)
{
	size_t lo = 0, hi = rp->p.n_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct md_vma *v = &rp->p.vmas[mid];

		if (s->vaddr < v->start)
			hi = mid;
		else if (s->vaddr >= v->end)
			lo = mid + 1;
		else
			return mid;
	}
	return rp->p.n_vmas;
}

/*
 * 1 if a THP "enabled" file (at path under dirfd) selects "[always]", 0 if
 * not or if there is no such file (a size only shmem has: hugepages-8kB),
 * -1 if it cannot be read
 */
static int thp_selects_always(int dirfd, const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	char buf[128];
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -1;
	}
	if (!fgets(buf, sizeof(buf), f))
		return -1;
	return strstr(buf, "[always]") != NULL;
}

bool restore_thp_always(int mmfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r, fd;

	if (mmfd < 0)
		return true;
	r = thp_selects_always(mmfd, "transparent_hugepage/enabled");
	if (r)
		return true;
	fd = openat(mmfd, "transparent_hugepage", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;	/* none: no THP in this kernel */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];

		if (strncmp(de->d_name, "hugepages-", 10) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/enabled", de->d_name);
		if (thp_selects_always(dirfd(d), path))	/* unreadable too */
			return true;
	}
	return false;
}

bool restore_vma_copy_filled(const struct restore_proc *rp, size_t i, bool thp)
{
	const struct md_vma *v = &rp->p.vmas[i];

	return v->kind == MD_VMA_ANON && !v->shared && rp->vma_filled[i] && !rp->vma_kept[i] &&
	       !(v->vmflags & MD_VMF_HG) && (!thp || (v->vmflags & MD_VMF_NH));
}

/*
 * A userfaultfd with rp's copy-filled VMAs registered, or -1 where there is
 * none to register or the kernel will not give or register one (the pages
 * then go in by process_vm_writev()). Nobody serves its faults: rp is
 * stopped while it is open, and it is closed, which unregisters every
 * VMA, before rp runs a single syscall. It traps user-mode faults only,
 * which needs no privilege (vm.unprivileged_userfaultfd).
 */
static int fill_uffd(struct restore_proc *rp, bool thp, int *ret)
{
	_cleanup_close_ int uffd = -1;
	struct uffdio_api api = { .api = UFFD_API };
	size_t n = 0;
	int r;

	*ret = -1;
	for (size_t i = 0; i < rp->p.n_vmas; i++)
		n += restore_vma_copy_filled(rp, i, thp);
	if (!n)
		return 0;
	r = restore_take_uffd(rp, O_CLOEXEC | UFFD_USER_MODE_ONLY, &uffd);
	if (r < 0)
		return r;
	if (uffd < 0) {
		log_debug("%d: no userfaultfd of its (%s): pages go in by process_vm_writev()", rp->pid,
			  strerror(-uffd));
		return 0;
	}
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		log_debug("%d: userfaultfd refuses UFFDIO_API (%s): pages go in by process_vm_writev()", rp->pid,
			  strerror(errno));
		return 0;
	}
	for (size_t i = 0; i < rp->p.n_vmas; i++) {
		const struct md_vma *v = &rp->p.vmas[i];

		if (!restore_vma_copy_filled(rp, i, thp))
			continue;
		/* closing it unregisters those done */
		r = restore_uffd_register_missing(uffd, v->start, v->end);
		if (r < 0) {
			log_debug("%d: cannot register %#llx-%#llx with a userfaultfd (%s): pages go in by "
				  "process_vm_writev()", rp->pid, (unsigned long long)v->start,
				  (unsigned long long)v->end, strerror(-r));
			return 0;
		}
	}
	*ret = uffd;
	uffd = -1;
	return 0;
}

/* which of rp's sources one fill takes; never the lazy ones */
enum fill_which {
	FILL_ALL,
	FILL_COPY,	/* those of copy-filled VMAs, by UFFDIO_COPY */
	FILL_REST,	/* the others, after FILL_COPY */
};

struct fill_part {
	struct restore_proc *rp;
	bool thp;
	enum fill_which which;
};

static bool src_in_part(const struct restore_src *s, void *arg)
{
	const struct fill_part *f = arg;
	size_t i;
	bool by_copy;

	if (restore_src_lazy(f->rp, s))
		return false;
	if (f->which == FILL_ALL)
		return true;
	i = restore_src_vma(f->rp, s);
	by_copy = i < f->rp->p.n_vmas && restore_vma_copy_filled(f->rp, i, f->thp);
	return by_copy == (f->which == FILL_COPY);
}

/*
 * DATA pages from our pages file, PARENT ones from the parent images'; in
 * *bytes how many, in *copied how many of them by UFFDIO_COPY
 */
static int fill_part(struct restore_proc *rp, int uffd, bool thp, enum fill_which which, bool check,
		     uint64_t *bytes, uint64_t *copied)
{
	struct fill_part f = { rp, thp, which };
	struct restore_pieces ps;
	int r;

	*bytes = 0;
	r = restore_pieces(rp->src, rp->n_src, src_in_part, &f, &ps);
	if (r >= 0)
		r = restore_fill(rp->pid, uffd, &ps, check, copied);
	for (size_t i = 0; r >= 0 && i < ps.n; i++)
		*bytes += ps.pc[i].len;
	free(ps.pc);
	if (r < 0)
		return log_err(r, "cannot fill memory of %d", rp->pid);
	return 0;
}

static int fill_pages(const struct restore_ctx *rc, struct restore_proc *rp)
{
	uint64_t copied = 0, bytes[2] = { 0, 0 };
	int uffd = -1, r;

	/* the lazy server's userfaultfd has rp's lazy VMAs; a lazy restore leaves the rest as it was */
	if (!rc->lazy) {
		r = fill_uffd(rp, rc->thp_always, &uffd);
		if (r < 0)
			return r;
	}
	if (uffd >= 0) {
		r = fill_part(rp, uffd, rc->thp_always, FILL_COPY, false, &bytes[0], &copied);
		close(uffd);
		if (r < 0)
			return r;
	}
	/* lazy: not checked when opened */
	r = fill_part(rp, -1, rc->thp_always, uffd >= 0 ? FILL_REST : FILL_ALL, rc->lazy, &bytes[1], NULL);
	if (r < 0)
		return r;
	log_debug("%d: %llu pages in by UFFDIO_COPY, %llu by process_vm_writev()", rp->pid,
		  (unsigned long long)(copied / MD_PAGE_SIZE),
		  (unsigned long long)((bytes[0] + bytes[1] - copied) / MD_PAGE_SIZE));
	return 0;
}

static int set_mm_map(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
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
		.exe_fd = (uint32_t)rp->exe_fd,
	};
	uint64_t auxv_addr = rp->scratch + 1024;
	int r;

	if (m.auxv_size > RESTORE_SCRATCH_SIZE - 1024)
		return log_err(-E2BIG, "auxv of %zu entries is too large", p->auxv_len);
	m.auxv = (__u64 *)auxv_addr;
	r = inject_write_mem(rp->pid, auxv_addr, p->auxv, m.auxv_size);
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch, &m, sizeof(m));
	if (r < 0)
		return log_err(r, "cannot write to the new process");
	r = restore_rcall_ok(rp, "prctl(PR_SET_MM_MAP)", SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, rp->scratch, sizeof(m), 0,
			     0);
	if (r < 0)
		return r;
	return 0;
}

/*
 * Pages of a kept VMA that are not the parent's must not show the
 * parent's data: drop them (private anonymous memory reads as zero again,
 * a private file mapping as the file) before this process's own data goes in.
 */
static int zap_not_inherited(struct restore_proc *rp, const struct md_vma *v)
{
	uint64_t a = v->start;
	int r;

	for (size_t k = 0; k <= rp->pm.n; k++) {
		const struct md_pagemap_entry *e = k < rp->pm.n ? &rp->pm.entries[k] : NULL;
		uint64_t b = e ? e->vaddr : v->end;

		if (e && (!(e->flags & MD_PM_INHERIT) || e->vaddr + e->nr_pages * MD_PAGE_SIZE <= v->start ||
			  e->vaddr >= v->end))
			continue;
		if (b > a) {
			r = restore_rcall_ok(rp, "madvise(MADV_DONTNEED)", SYS_madvise, a, b - a, MADV_DONTNEED, 0, 0,
					     0);
			if (r < 0)
				return r;
		}
		if (!e)
			break;
		a = e->vaddr + e->nr_pages * MD_PAGE_SIZE;
	}
	return 0;
}

/* the fds of the files rp maps, and of its exe, sent into it; -1 where none */
static int send_map_fds(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	rp->vma_fd = malloc((p->n_vmas + 1) * sizeof(int));
	if (!rp->vma_fd)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_vmas; i++) {
		int ours = restore_vma_file(rc, &p->vmas[i]);

		rp->vma_fd[i] = -1;
		if (ours < 0 || rp->vma_kept[i])
			continue;
		/* one fd per file serves all its VMAs */
		for (size_t k = 0; k < i; k++)
			if (rp->vma_fd[k] >= 0 && restore_vma_file(rc, &p->vmas[k]) == ours)
				rp->vma_fd[i] = rp->vma_fd[k];
		if (rp->vma_fd[i] >= 0)
			continue;
		r = restore_send_fd(rc, rp, ours, &rp->vma_fd[i]);
		if (r < 0)
			return r;
	}
	rp->exe_fd = -1;
	/*
	 * A forked child has its parent's exe already; the kernel refuses to
	 * replace an exe that is still mapped, which the same file is.
	 */
	if (p->exe && !(rp->parent && rp->parent->p.exe && !strcmp(rp->parent->p.exe, p->exe) &&
			rp->parent->p.exe_ghost == p->exe_ghost)) {
		struct md_vma exe = { .kind = MD_VMA_FILE, .path = p->exe, .ghost = p->exe_ghost };

		r = restore_send_fd(rc, rp, restore_vma_file(rc, &exe), &rp->exe_fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static int close_map_fds(struct restore_proc *rp)
{
	int r;

	for (size_t i = 0; i < rp->p.n_vmas; i++) {
		bool first = rp->vma_fd[i] >= 0;

		for (size_t k = 0; first && k < i; k++)
			first = rp->vma_fd[k] != rp->vma_fd[i];
		if (!first)
			continue;
		r = restore_rcall_ok(rp, "close", SYS_close, (uint64_t)rp->vma_fd[i], 0, 0, 0, 0, 0);
		if (r < 0)
			return r;
	}
	if (rp->exe_fd >= 0)
		return restore_rcall_ok(rp, "close", SYS_close, (uint64_t)rp->exe_fd, 0, 0, 0, 0, 0);
	return 0;
}

/*
 * A forked child takes over its parent's scratch area if it is out of the
 * way of the child's VMAs (teardown keeps it); otherwise, and in the root,
 * a new one is mapped once teardown has made room.
 */
static void adopt_scratch(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;

	rp->scratch = rp->parent ? rp->parent->scratch : 0;
	for (size_t i = 0; rp->scratch && i < p->n_vmas; i++)
		if (overlaps(rp->scratch, rp->scratch + RESTORE_SCRATCH_SIZE, p->vmas[i].start, p->vmas[i].end))
			rp->scratch = 0;
}

static int set_up_scratch(struct restore_proc *rp)
{
	uint64_t hole;
	int r;

	if (rp->scratch)
		return 0;
	r = restore_find_hole(&rp->p, RESTORE_SCRATCH_SIZE, 0, 0, 0, 0, &hole);
	if (r < 0)
		return log_err(r, "no room for a scratch area");
	r = restore_rcall_ok(rp, "mmap of the scratch area", SYS_mmap, hole, RESTORE_SCRATCH_SIZE,
			     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0);
	if (r < 0)
		return r;
	rp->scratch = hole;
	return 0;
}

int restore_mm(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	r = mark_filled(rp);
	if (r < 0)
		return r;
	/* before the address space is rebuilt: ADDR_NO_RANDOMIZE and friends shape mmap */
	r = restore_rcall_ok(rp, "personality", SYS_personality, p->personality, 0, 0, 0, 0, 0);
	if (r < 0)
		return r;
	r = restore_thp(rp);
	if (r < 0)
		return r;
	adopt_scratch(rp);
	r = teardown(rp);
	if (r < 0)
		return r;
	/* needed to receive fds */
	r = set_up_scratch(rp);
	if (r < 0)
		return r;
	r = send_map_fds(rc, rp);
	if (r < 0)
		return r;

	for (size_t i = 0; i < p->n_vmas; i++) {
		r = map_vma(rc, rp, i);
		if (r < 0)
			return log_err(r, "cannot map %#llx-%#llx in %d", (unsigned long long)p->vmas[i].start,
				       (unsigned long long)p->vmas[i].end, rp->pid);
		/* before the data goes in: THP and friends apply from the first fault */
		r = madvise_vma(rp, &p->vmas[i]);
		if (r < 0)
			return r;
		if (rp->vma_kept[i]) {
			r = zap_not_inherited(rp, &p->vmas[i]);
			if (r < 0)
				return r;
		}
	}
	if (rc->lazy) {
		r = restore_lazy_register(rc, rp);
		if (r < 0)
			return r;
	}
	r = fill_pages(rc, rp);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		int64_t res;

		if (vma_is_special(v))
			continue;
		if (vma_gets_data(rp, i) && v->prot != (PROT_READ | PROT_WRITE)) {
			r = restore_rcall_ok(rp, "mprotect", SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0);
			if (r < 0)
				return r;
		}
		if (v->vmflags & MD_VMF_LO) {
			r = restore_rcall(rp, "mlock", SYS_mlock, v->start, v->end - v->start, 0, 0, 0, 0, &res);
			if (r < 0)
				return r;
			if (res < 0)
				log_warn("cannot lock %#llx-%#llx: %s", (unsigned long long)v->start,
					 (unsigned long long)v->end, strerror((int)-res));
		}
	}
	r = set_mm_map(rp);
	if (r < 0)
		return r;
	/* the fds we sent for mmap are not the process's own */
	return close_map_fds(rp);
}
