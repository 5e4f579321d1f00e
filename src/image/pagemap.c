/*
 * pagemap-PID.img and shm-ID.img: the map of which pages have data in the
 * matching pages file. Entries are checked to be sorted, page aligned and
 * to add up to nr_data_pages; whether they fall inside VMAs is for
 * image_check_proc().
 */
#include "memdump/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "pagemap.pb-c.h"
#include "shm.pb-c.h"

/*
 * Md__PagemapEntry and Md__ShmPagemapEntry are distinct generated types
 * with the same fields; this copies either into the model.
 */
#define PM_FROM_MSG(dst, src, n)                                                                      \
	do {                                                                                          \
		for (size_t _i = 0; _i < (n); _i++) {                                                 \
			(dst)[_i].vaddr = (src)[_i]->vaddr;                                           \
			(dst)[_i].nr_pages = (src)[_i]->nr_pages;                                     \
			(dst)[_i].flags = (src)[_i]->flags;                                           \
		}                                                                                     \
	} while (0)

/* Entries sorted, aligned, non-empty, known flags, nr_data_pages adds up. */
static int pm_validate(const char *name, const struct md_pagemap_entry *e, size_t n,
		       uint64_t nr_data_pages, uint64_t limit, uint32_t allowed)
{
	uint64_t data = 0, prev_end = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t end;

		if (!img_page_aligned(e[i].vaddr))
			return img_invalid(name, "pagemap entry %zu at %llx not page aligned", i,
					   (unsigned long long)e[i].vaddr);
		if (e[i].vaddr >= limit || e[i].nr_pages == 0 ||
		    e[i].nr_pages > (limit - e[i].vaddr) / MD_PAGE_SIZE)
			return img_invalid(name, "pagemap entry %zu at %llx: bad length %llu pages", i,
					   (unsigned long long)e[i].vaddr,
					   (unsigned long long)e[i].nr_pages);
		/* exactly one flag of the allowed ones */
		if (e[i].flags & ~allowed || !e[i].flags || e[i].flags & (e[i].flags - 1))
			return img_invalid(name, "pagemap entry %zu has bad flags 0x%x", i, e[i].flags);
		if (i && e[i].vaddr < prev_end)
			return img_invalid(name, "pagemap entry %zu at %llx overlaps or precedes the one before",
					   i, (unsigned long long)e[i].vaddr);
		end = e[i].vaddr + e[i].nr_pages * MD_PAGE_SIZE;
		prev_end = end;
		if (e[i].flags & MD_PM_DATA)
			data += e[i].nr_pages;
	}
	if (data != nr_data_pages)
		return img_invalid(name, "nr_data_pages %llu but the data entries hold %llu pages",
				   (unsigned long long)nr_data_pages, (unsigned long long)data);
	return 0;
}

int image_write_pagemap(int dirfd, pid_t pid, const struct md_pagemap *pm)
{
	Md__PagemapImage m = MD__PAGEMAP_IMAGE__INIT;
	_cleanup_free_ Md__PagemapEntry *e = NULL;
	_cleanup_free_ Md__PagemapEntry **ep = NULL;
	char name[64];

	snprintf(name, sizeof(name), "pagemap-%d.img", (int)pid);
	e = calloc(pm->n ? pm->n : 1, sizeof(*e));
	ep = calloc(pm->n ? pm->n : 1, sizeof(*ep));
	if (!e || !ep)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < pm->n; i++) {
		md__pagemap_entry__init(&e[i]);
		e[i].vaddr = pm->entries[i].vaddr;
		e[i].nr_pages = pm->entries[i].nr_pages;
		e[i].flags = pm->entries[i].flags;
		ep[i] = &e[i];
	}
	m.pid = pid;
	m.nr_data_pages = pm->nr_data_pages;
	m.n_entries = pm->n;
	m.entries = ep;
	return img_write_msg(dirfd, name, MD_IMG_PAGEMAP, &m.base);
}

int image_read_pagemap(int dirfd, pid_t pid, struct md_pagemap *ret)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	_cleanup_free_ struct md_pagemap_entry *e = NULL;
	Md__PagemapImage *m;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "pagemap-%d.img", (int)pid);
	r = img_read_msg(dirfd, name, MD_IMG_PAGEMAP, &raw);
	if (r < 0)
		return r;
	m = (Md__PagemapImage *)raw;
	if (m->pid != pid)
		return img_invalid(name, "holds pid %d", m->pid);
	e = calloc(m->n_entries ? m->n_entries : 1, sizeof(*e));
	if (!e)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	PM_FROM_MSG(e, m->entries, m->n_entries);
	/* x86_64 user addresses stay below 2^57 even with 5-level paging. */
	r = pm_validate(name, e, m->n_entries, m->nr_data_pages, 1ULL << 57,
			MD_PM_DATA | MD_PM_ZERO | MD_PM_INHERIT | MD_PM_PARENT);
	if (r < 0)
		return r;
	ret->entries = TAKE_PTR(e);
	ret->n = m->n_entries;
	ret->nr_data_pages = m->nr_data_pages;
	return 0;
}

static void shm_name(char *buf, size_t len, bool sysv, uint64_t id)
{
	snprintf(buf, len, "%sshm-%llu.img", sysv ? "sysv" : "", (unsigned long long)id);
}

int image_write_shm(int dirfd, const struct md_shm *s, const struct md_pagemap *pm)
{
	Md__ShmImage m = MD__SHM_IMAGE__INIT;
	Md__SysvShm sysv = MD__SYSV_SHM__INIT;
	_cleanup_free_ Md__ShmPagemapEntry *e = NULL;
	_cleanup_free_ Md__ShmPagemapEntry **ep = NULL;
	char name[64];

	shm_name(name, sizeof(name), s->sysv, s->id);
	e = calloc(pm->n ? pm->n : 1, sizeof(*e));
	ep = calloc(pm->n ? pm->n : 1, sizeof(*ep));
	if (!e || !ep)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	for (size_t i = 0; i < pm->n; i++) {
		md__shm_pagemap_entry__init(&e[i]);
		e[i].vaddr = pm->entries[i].vaddr;
		e[i].nr_pages = pm->entries[i].nr_pages;
		e[i].flags = pm->entries[i].flags;
		ep[i] = &e[i];
	}
	m.id = s->id;
	m.name = s->name;
	m.size = s->size;
	m.seals = s->seals;
	m.memfd_flags = s->memfd_flags;
	m.nr_data_pages = pm->nr_data_pages;
	m.n_entries = pm->n;
	m.entries = ep;
	if (s->sysv) {
		sysv.key = s->sysv_key;
		sysv.mode = s->sysv_mode;
		sysv.uid = s->sysv_uid;
		sysv.gid = s->sysv_gid;
		m.sysv = &sysv;
	}
	return img_write_msg(dirfd, name, MD_IMG_SHM, &m.base);
}

int image_read_shm(int dirfd, bool sysv, uint64_t id, struct md_shm *ret, struct md_pagemap *ret_pm)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	_cleanup_free_ struct md_pagemap_entry *e = NULL;
	_cleanup_free_ char *sname = NULL;
	Md__ShmImage *m;
	uint64_t limit;
	char name[64];
	int r;

	shm_name(name, sizeof(name), sysv, id);
	r = img_read_msg(dirfd, name, MD_IMG_SHM, &raw);
	if (r < 0)
		return r;
	m = (Md__ShmImage *)raw;
	if (m->id != id)
		return img_invalid(name, "holds object %llu", (unsigned long long)m->id);
	if (!m->sysv != !sysv)
		return img_invalid(name, sysv ? "lacks the SysV segment's ids" : "holds a SysV segment");
	if (sysv && (m->size == 0 || m->name || m->seals || m->memfd_flags))
		return img_invalid(name, "is not a valid SysV segment");
	if (m->size > UINT64_MAX - MD_PAGE_SIZE)
		return img_invalid(name, "bad size %llu", (unsigned long long)m->size);
	e = calloc(m->n_entries ? m->n_entries : 1, sizeof(*e));
	if (!e)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	PM_FROM_MSG(e, m->entries, m->n_entries);
	/* Entries are offsets in the object: they must end within its last page. */
	limit = md_page_round_up(m->size);
	r = pm_validate(name, e, m->n_entries, m->nr_data_pages, limit, MD_PM_DATA | MD_PM_ZERO);
	if (r < 0)
		return r;
	if (m->name && !(sname = strdup(m->name)))
		return log_err(-ENOMEM, "cannot read image '%s'", name);

	*ret = (struct md_shm){
		.id = m->id,
		.name = TAKE_PTR(sname),
		.size = m->size,
		.seals = m->seals,
		.memfd_flags = m->memfd_flags,
	};
	if (m->sysv) {
		ret->sysv = true;
		ret->sysv_key = m->sysv->key;
		ret->sysv_mode = m->sysv->mode;
		ret->sysv_uid = m->sysv->uid;
		ret->sysv_gid = m->sysv->gid;
	}
	ret_pm->entries = TAKE_PTR(e);
	ret_pm->n = m->n_entries;
	ret_pm->nr_data_pages = m->nr_data_pages;
	return 0;
}
