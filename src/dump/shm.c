/*
 * Shared memory objects (memfd, shared anonymous, SysV segments) of one
 * process, each dumped once however many VMAs and fds refer to it: size,
 * name, seals (a SysV segment: key, owner, mode) and the data found by
 * SEEK_DATA/SEEK_HOLE. Restoring the mappings is restore/'s.
 *
 * /proc/PID/map_files of a SysV mapping opens the segment's shmem file
 * itself (not the attach), which reads and seeks like any shmem file.
 */
#include "memdump/dump.h"
#include "dump/internal.h"
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
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MEMFD_PREFIX "/memfd:"
#define FILE_BUF_SIZE (4u << 20)

/* Where to open an object, and what we know of it from the first reference. */
struct shm_ref {
	uint64_t id;
	const struct md_vma *vma;	/* open via map_files, or */
	const struct md_fd *fd;		/* via /proc/PID/fd/N */
	bool memfd;
	bool sysv;			/* a SysV segment, id its shmid */
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

int dump_file_data(int fd, uint64_t size, struct md_pagemap *ret)
{
	struct md_pagemap pm = {};
	uint64_t limit = md_page_round_up(size);
	size_t cap = 0;
	off_t off = 0;
	int r;

	while ((uint64_t)off < size) {
		off_t d = lseek(fd, off, SEEK_DATA), h;
		uint64_t start, end;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0 && errno == EINVAL && off == 0) {
			d = 0;
			h = (off_t)size;
		} else if (d < 0) {
			goto out_errno;
		} else {
			h = lseek(fd, d, SEEK_HOLE);
			if (h < 0)
				goto out_errno;
		}
		start = (uint64_t)d & ~(MD_PAGE_SIZE - 1);
		end = md_page_round_up((uint64_t)h);
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

int dump_file_pages(int fd, const struct md_pagemap *pm, const struct dump_out *out, const char *name,
		    const char *what)
{
	_cleanup_free_ uint8_t *buf = malloc(FILE_BUF_SIZE);
	struct image_pages_writer *w = NULL;
	int r;

	if (!buf)
		return -ENOMEM;
	r = dump_pages_create(out, name, &w);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pm->n; i++) {
		uint64_t off = pm->entries[i].vaddr, left = pm->entries[i].nr_pages * MD_PAGE_SIZE;

		while (left) {
			size_t want = left < FILE_BUF_SIZE ? left : FILE_BUF_SIZE, got = 0;

			while (got < want) {
				ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));

				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					r = log_err(-errno, "cannot read %s", what);
					goto out_abort;
				}
				/* the last page may reach past the end of the file */
				if (n == 0) {
					memset(buf + got, 0, want - got);
					break;
				}
				got += (size_t)n;
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

#define HUGETLBFS_MAGIC 0x958458f6

/*
 * A SysV segment's key, owner and mode, from IPC_STAT by its id: the tree
 * is in memdump's IPC namespace, or memdump's thread in the tree's
 * (dump_enter_ipcns()), where the id names the segment, unless the
 * process attached it in another one and came back (the size check below
 * catches most of that). fd: the segment, open; on hugetlbfs (or its VMA
 * says huge pages) it is refused.
 */
static int sysv_attrs(pid_t pid, const struct md_vma *v, int fd, struct md_shm *shm)
{
	struct shmid_ds ds;
	struct statfs sfs;

	if ((v->vmflags & MD_VMF_HT) || (fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC))
		return log_refuse("SysV shared memory %llu of %d lives on huge pages (SHM_HUGETLB): "
				  "not supported yet", (unsigned long long)shm->id, pid);
	if (shm->id > INT32_MAX || shmctl((int)shm->id, IPC_STAT, &ds) < 0)
		return log_err(shm->id > INT32_MAX ? -EINVAL : -errno,
			       "cannot read SysV shared memory %llu of %d", (unsigned long long)shm->id, pid);
	/* the file is the segment: the same size, unless the id now names another one */
	if ((uint64_t)ds.shm_segsz != shm->size)
		return log_err(-ESTALE, "SysV shared memory %llu of %d is %zu bytes, its mapping %llu",
			       (unsigned long long)shm->id, pid, (size_t)ds.shm_segsz,
			       (unsigned long long)shm->size);
	shm->sysv = true;
	shm->sysv_key = ds.shm_perm.__key;
	shm->sysv_mode = ds.shm_perm.mode;
	shm->sysv_uid = ds.shm_perm.uid;
	shm->sysv_gid = ds.shm_perm.gid;
	return 0;
}

void dump_map_files_path(char *buf, size_t len, pid_t pid, const struct md_vma *v)
{
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
}

static int dump_one(pid_t pid, const struct shm_ref *ref, const struct dump_out *out)
{
	_cleanup_close_ int fd = -1;
	struct md_shm shm = {};
	struct md_pagemap pm = {};
	char path[96], name[64], what[64];
	const char *link;
	struct stat st;
	int seals, r;

	if (ref->vma)
		dump_map_files_path(path, sizeof(path), pid, ref->vma);
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
	if (ref->sysv) {
		r = sysv_attrs(pid, ref->vma, fd, &shm);
		if (r < 0)
			return r;
		/* no seals, no name: the segment is all its VMAs say */
		goto data;
	}
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

data:
	r = dump_file_data(fd, shm.size, &pm);
	if (r < 0) {
		log_err(r, "cannot find the data of '%s'", path);
		goto out;
	}
	image_pages_name(name, sizeof(name), shm.sysv ? MD_PAGES_SYSV : MD_PAGES_SHM, shm.id);
	snprintf(what, sizeof(what), "shared memory %llu", (unsigned long long)shm.id);
	r = dump_file_pages(fd, &pm, out, name, what);
	if (r < 0)
		goto out;
	r = image_write_shm(out->dirfd, &shm, &pm);
out:
	md_shm_release(&shm);
	md_pagemap_release(&pm);
	return r;
}

static struct shm_ref *find_ref(struct shm_ref *refs, size_t n, uint64_t id, bool sysv)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].id == id && refs[i].sysv == sysv)
			return &refs[i];
	return NULL;
}

static int add_id(uint64_t **ids, size_t *n, uint64_t id)
{
	uint64_t *a = realloc(*ids, (*n + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = id;
	*ids = a;
	return 0;
}

static bool dumped(const struct dump_shm_ids *ids, uint64_t id, bool sysv)
{
	const uint64_t *a = sysv ? ids->sysv : ids->shm;
	size_t n = sysv ? ids->n_sysv : ids->n_shm;

	for (size_t i = 0; i < n; i++)
		if (a[i] == id)
			return true;
	return false;
}

int dump_shm_objects(pid_t pid, struct md_proc *p, const struct dump_out *out, struct dump_shm_ids *ids)
{
	_cleanup_free_ struct shm_ref *refs = NULL;
	size_t n = 0;
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

		if (v->kind != MD_VMA_MEMFD && v->kind != MD_VMA_SHMEM && v->kind != MD_VMA_SYSV)
			continue;
		v->shm_id = v->inode;
		ref = find_ref(refs, n, v->shm_id, v->kind == MD_VMA_SYSV);
		if (!ref) {
			ref = &refs[n++];
			*ref = (struct shm_ref){ .id = v->shm_id, .vma = v, .memfd = v->kind == MD_VMA_MEMFD,
						 .sysv = v->kind == MD_VMA_SYSV };
		}
		if (v->pgoff + (v->end - v->start) > ref->min_size)
			ref->min_size = v->pgoff + (v->end - v->start);
	}
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i];

		if (f->kind != MD_FD_MEMFD || find_ref(refs, n, f->shm_id, false))
			continue;
		refs[n++] = (struct shm_ref){ .id = f->shm_id, .fd = f, .memfd = true };
	}

	for (size_t i = 0; i < n; i++) {
		/* another process of the tree shares it and dumped it already */
		if (dumped(ids, refs[i].id, refs[i].sysv))
			continue;
		r = dump_one(pid, &refs[i], out);
		if (r < 0)
			return r;
		r = refs[i].sysv ? add_id(&ids->sysv, &ids->n_sysv, refs[i].id)
				 : add_id(&ids->shm, &ids->n_shm, refs[i].id);
		if (r < 0)
			return r;
	}
	return 0;
}

/* segment id, attached nowhere in the tree: through an attach of memdump's own */
static int dump_unattached(int32_t id, const struct dump_out *out)
{
	struct md_vma v = { 0 };
	struct shm_ref ref = { .id = (uint64_t)id, .vma = &v, .sysv = true };
	struct shmid_ds ds;
	void *m;
	int r;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return log_err(-errno, "cannot read SysV shared memory %d", id);
	if (ds.shm_nattch)
		return log_refuse("SysV shared memory %d of the tree's IPC namespace is attached by %lu processes "
				  "outside the tree: not supported", id, (unsigned long)ds.shm_nattch);
	m = shmat(id, NULL, SHM_RDONLY);
	if (m == (void *)-1)
		return log_err(-errno, "cannot attach SysV shared memory %d to read it", id);
	v.start = (uint64_t)(uintptr_t)m;
	v.end = v.start + md_page_round_up(ds.shm_segsz);
	r = dump_one(getpid(), &ref, out);
	shmdt(m);
	return r;
}

int dump_sysv_unattached(const int32_t *shm_ids, size_t n, const struct dump_out *out, struct dump_shm_ids *ids)
{
	for (size_t i = 0; i < n; i++) {
		int r;

		if (dumped(ids, (uint64_t)shm_ids[i], true))
			continue;
		r = dump_unattached(shm_ids[i], out);
		if (r < 0)
			return r;
		r = add_id(&ids->sysv, &ids->n_sysv, (uint64_t)shm_ids[i]);
		if (r < 0)
			return r;
		log_debug("SysV shared memory %d: attached by no process", shm_ids[i]);
	}
	return 0;
}
