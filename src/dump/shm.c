/*
 * Shared memory objects (memfd, shared anonymous) of one process, each
 * dumped once however many VMAs and fds refer to it: size, name, seals and
 * the data found by SEEK_DATA/SEEK_HOLE. Restoring the mappings is restore/'s.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "compat/mman.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEMFD_PREFIX "/memfd:"
#define SHM_BUF_SIZE (4u << 20)


/* Where to open an object, and what we know of it from the first reference. */
struct shm_ref {
	uint64_t id;
	const struct md_vma *vma;	/* open via map_files, or */
	const struct md_fd *fd;		/* via /proc/PID/fd/N */
	bool memfd;
	uint64_t min_size;		/* shared anon: the mapping must fit */
};

static int append_entry(struct md_pagemap *pm, size_t *cap, uint64_t start, uint64_t end)
{
	uint64_t nr = (end - start) / MD_PAGE_SIZE;
	struct md_pagemap_entry *last = pm->n ? &pm->entries[pm->n - 1] : NULL;

	if (last && last->vaddr + last->nr_pages * MD_PAGE_SIZE >= start) {
		uint64_t last_end = last->vaddr + last->nr_pages * MD_PAGE_SIZE;

		if (end > last_end)
			last->nr_pages += (end - last_end) / MD_PAGE_SIZE;
		return 0;
	}
	if (pm->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct md_pagemap_entry *ne = realloc(pm->entries, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		pm->entries = ne;
		*cap = nc;
	}
	pm->entries[pm->n++] = (struct md_pagemap_entry){ start, nr, MD_PM_DATA };
	return 0;
}

/*
 * The data extents of fd (size bytes) as page-aligned MD_PM_DATA entries,
 * vaddr = offset. pagemap cannot tell swapped-out shmem pages from holes;
 * SEEK_DATA can.
 */
static int find_data(int fd, uint64_t size, struct md_pagemap *ret)
{
	struct md_pagemap pm = {};
	uint64_t limit = (size + MD_PAGE_SIZE - 1) & ~(MD_PAGE_SIZE - 1);
	size_t cap = 0;
	off_t off = 0;
	int r;

	while ((uint64_t)off < size) {
		off_t d, h;
		uint64_t start, end;

		d = lseek(fd, off, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			goto out_errno;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			goto out_errno;

		start = (uint64_t)d & ~(MD_PAGE_SIZE - 1);
		end = ((uint64_t)h + MD_PAGE_SIZE - 1) & ~(MD_PAGE_SIZE - 1);
		if (end > limit)
			end = limit;
		if (end > start) {
			r = append_entry(&pm, &cap, start, end);
			if (r < 0) {
				md_pagemap_release(&pm);
				return r;
			}
		}
		if (h <= d)
			break;
		off = h;
	}

	for (size_t i = 0; i < pm.n; i++)
		pm.nr_data_pages += pm.entries[i].nr_pages;
	*ret = pm;
	return 0;

out_errno:
	r = -errno;
	md_pagemap_release(&pm);
	return r;
}

/* pread the data of pm's entries into a new pages-shm-ID.img; logs its errors (image/ its own). */
static int write_data(int fd, int dirfd, uint64_t id, const struct md_pagemap *pm)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct image_pages_writer *w = NULL;
	char name[64];
	int r;

	buf = malloc(SHM_BUF_SIZE);
	if (!buf)
		return -ENOMEM;

	image_pages_name(name, sizeof(name), true, id);
	r = image_pages_create(dirfd, name, &w);
	if (r < 0)
		return r;

	for (size_t i = 0; i < pm->n; i++) {
		uint64_t off = pm->entries[i].vaddr;
		uint64_t left = pm->entries[i].nr_pages * MD_PAGE_SIZE;

		while (left) {
			size_t want = left < SHM_BUF_SIZE ? left : SHM_BUF_SIZE, got = 0;

			while (got < want) {
				ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));

				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					r = log_err(-errno, "cannot read shared memory %llu",
						    (unsigned long long)id);
					goto out_abort;
				}
				/* the last page may reach past the end of the object */
				if (n == 0) {
					memset(buf + got, 0, want - got);
					break;
				}
				got += n;
			}
			r = image_pages_write(w, buf, want);
			if (r < 0)
				goto out_abort;
			off += want;
			left -= want;
		}
	}
	return image_pages_finish(w);

out_abort:
	image_pages_abort(w);
	return r;
}

static int dump_one(pid_t pid, const struct shm_ref *ref, int dirfd)
{
	_cleanup_close_ int fd = -1;
	struct md_shm shm = {};
	struct md_pagemap pm = {};
	char path[96];
	const char *link;
	struct stat st;
	int seals, r;

	if (ref->vma)
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
			 (unsigned long long)ref->vma->start, (unsigned long long)ref->vma->end);
	else
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, ref->fd->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open shared memory '%s'", path);
	if (fstat(fd, &st) < 0)
		return log_err(-errno, "cannot stat shared memory '%s'", path);
	if ((uint64_t)st.st_ino != ref->id)
		return log_err(-EINVAL, "'%s' is inode %llu, not %llu", path,
			       (unsigned long long)st.st_ino, (unsigned long long)ref->id);

	shm.id = ref->id;
	shm.size = st.st_size;
	if (!ref->memfd && shm.size < ref->min_size)
		shm.size = ref->min_size;

	link = ref->vma ? ref->vma->path : ref->fd->path;
	if (ref->memfd && link && strncmp(link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) == 0) {
		shm.name = strdup(link + strlen(MEMFD_PREFIX));
		if (!shm.name)
			return -ENOMEM;
	}

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 && errno != EINVAL) {
		r = log_err(-errno, "cannot read the seals of '%s'", path);
		goto out;
	}
	shm.seals = seals < 0 ? 0 : (uint32_t)seals;
	/*
	 * A memfd made without MFD_ALLOW_SEALING reads exactly F_SEAL_SEAL;
	 * with it, any other set. (One that sealed itself with only F_SEAL_SEAL
	 * restores the same either way.)
	 */
	if (ref->memfd && seals >= 0 && shm.seals != F_SEAL_SEAL)
		shm.memfd_flags |= MFD_ALLOW_SEALING;

	r = find_data(fd, shm.size, &pm);
	if (r < 0) {
		log_err(r, "cannot find the data of '%s'", path);
		goto out;
	}
	r = write_data(fd, dirfd, shm.id, &pm);
	if (r < 0)
		goto out;
	r = image_write_shm(dirfd, &shm, &pm);
out:
	md_shm_release(&shm);
	md_pagemap_release(&pm);
	return r;
}

static struct shm_ref *find_ref(struct shm_ref *refs, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].id == id)
			return &refs[i];
	return NULL;
}

int dump_shm_objects(pid_t pid, struct md_proc *p, int dirfd, uint64_t **ret_ids, size_t *ret_n)
{
	_cleanup_free_ struct shm_ref *refs = NULL;
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n = 0, n_ids = 0;
	int r;

	refs = calloc(p->n_vmas + p->n_fds + 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;

	/*
	 * Every memfd VMA, private ones too: their untouched pages come from
	 * the object. Shared anonymous memory is always a shared mapping.
	 */
	for (size_t i = 0; i < p->n_vmas; i++) {
		struct md_vma *v = &p->vmas[i];
		struct shm_ref *ref;

		if (v->kind != MD_VMA_MEMFD && v->kind != MD_VMA_SHMEM)
			continue;
		v->shm_id = v->inode;
		ref = find_ref(refs, n, v->shm_id);
		if (!ref) {
			ref = &refs[n++];
			*ref = (struct shm_ref){ .id = v->shm_id, .vma = v,
						 .memfd = v->kind == MD_VMA_MEMFD };
		}
		if (v->pgoff + (v->end - v->start) > ref->min_size)
			ref->min_size = v->pgoff + (v->end - v->start);
	}
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i];

		if (f->kind != MD_FD_MEMFD || find_ref(refs, n, f->shm_id))
			continue;
		refs[n++] = (struct shm_ref){ .id = f->shm_id, .fd = f, .memfd = true };
	}

	ids = calloc(n + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char name[64];

		/* another process of the tree shares it and dumped it already */
		image_pages_name(name, sizeof(name), true, refs[i].id);
		if (faccessat(dirfd, name, F_OK, 0) == 0)
			continue;
		r = dump_one(pid, &refs[i], dirfd);
		if (r < 0)
			return r;
		ids[n_ids++] = refs[i].id;
	}

	*ret_ids = TAKE_PTR(ids);
	*ret_n = n_ids;
	return 0;
}
