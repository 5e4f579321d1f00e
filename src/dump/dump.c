/*
 * The dump driver for one process: freeze, collect, plan, copy, write,
 * then kill or thaw. On any failure the process is thawed exactly as it
 * was and the files written so far are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/dump.h"
#include "memdump/freeze.h"
#include "memdump/image.h"
#include "memdump/inject.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#ifndef MEMDUMP_VERSION
#define MEMDUMP_VERSION "0.1.0"
#endif

static int collect_vdso_hash(struct md_proc *p)
{
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		_cleanup_free_ void *buf = NULL;
		int r;

		if (v->kind != MD_VMA_VDSO)
			continue;
		buf = malloc(v->end - v->start);
		if (!buf)
			return -ENOMEM;
		r = inject_read_mem(p->pid, v->start, buf, v->end - v->start);
		if (r < 0)
			return log_err(r, "cannot read the vdso of %d", p->pid);
		p->vdso_hash = XXH3_64bits(buf, v->end - v->start);
	}
	return 0;
}

/*
 * A seccomp filter would judge our remote syscalls (and may kill the
 * process for one), and the image could not carry it: a restored process
 * would run unsandboxed. Refuse before touching anything.
 */
static int check_seccomp(pid_t pid, pid_t tid)
{
	struct proc_status st;
	int r;

	r = proc_read_status(pid, tid, &st);
	if (r < 0)
		return log_err(r, "cannot read the status of thread %d", tid);
	if (st.seccomp != 0)
		return log_err(-ENOTSUP, "thread %d of %d runs under seccomp: not supported yet (memdump could "
					 "neither inject safely nor restore the filter)", tid, pid);
	return 0;
}

/* A file deleted while mapped cannot be mapped again by path: refuse, like deleted fds. */
static int check_mappings(const struct md_proc *p)
{
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];

		if (v->kind == MD_VMA_FILE && v->deleted)
			return log_err(-ENOTSUP, "mapping %#llx-%#llx of '%s' (deleted): the file was deleted "
						 "while mapped; not supported yet (restart the process to map the new file)",
				       (unsigned long long)v->start, (unsigned long long)v->end, v->path);
	}
	return 0;
}

static int collect_threads(const struct frozen *f, struct md_proc *p)
{
	p->threads = calloc(f->n, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		bool leader = i == 0;
		int r;

		p->n_threads++;
		r = dump_thread_state(f->pid, f->tids[i], &p->threads[i], leader ? &p->shared_pending : NULL,
				      leader ? &p->n_shared_pending : NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_pages(int dirfd, const struct md_proc *p, const struct md_pagemap *pm)
{
	struct image_pages_writer *w;
	char name[64];
	int r;

	image_pages_name(name, sizeof(name), false, (uint64_t)p->pid);
	r = image_pages_create(dirfd, name, &w);
	if (r < 0)
		return log_err(r, "cannot create '%s'", name);
	r = dump_copy_pages(p->pid, p->vmas, p->n_vmas, pm, w);
	if (r < 0) {
		image_pages_abort(w);
		return log_err(r, "cannot copy the memory of %d", p->pid);
	}
	r = image_pages_finish(w);
	if (r < 0)
		return log_err(r, "cannot write '%s'", name);
	return 0;
}

static int fill_inventory(struct md_inventory *inv, const struct md_proc *p, const struct kfeat *kf,
			  uint64_t *shm_ids, size_t n_shm)
{
	struct utsname u;
	struct timespec ts;

	inv->format_version = MD_FORMAT_VERSION;
	inv->root_pid = p->pid;
	clock_gettime(CLOCK_REALTIME, &ts);
	inv->dump_time_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uname(&u);
	inv->kernel_release = strdup(u.release);
	inv->tool_version = strdup(MEMDUMP_VERSION);
	inv->page_size = MD_PAGE_SIZE;
	inv->xfeatures = kf->xcr0;
	inv->pids = malloc(sizeof(pid_t));
	if (!inv->kernel_release || !inv->tool_version || !inv->pids)
		return -ENOMEM;
	inv->pids[0] = p->pid;
	inv->n_pids = 1;
	inv->shm_ids = shm_ids;
	inv->n_shm_ids = n_shm;
	return 0;
}

/* remove what a failed dump wrote: only our *.img files, never the directory */
static void remove_images(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	/* a dup shares the offset: image_dir_open() left it at the end */
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > 4 && !strcmp(de->d_name + l - 4, ".img"))
			unlinkat(dirfd, de->d_name, 0);
	}
}

int dump_run(const struct dump_opts *o)
{
	_cleanup_close_ int dirfd = -1;
	struct md_proc p = { .pid = o->pid };
	struct md_pagemap pm = { 0 };
	struct md_inventory inv = { 0 };
	struct frozen f = { 0 };
	struct kfeat kf;
	uint64_t *shm_ids = NULL;
	size_t n_shm = 0;
	int r;

	r = kfeat_probe(&kf);
	if (r < 0)
		return log_err(r, "cannot probe kernel features");
	r = image_dir_open(o->dir, true, &dirfd);
	if (r < 0)
		return r;

	r = check_seccomp(o->pid, o->pid);
	if (r < 0)
		return r;
	r = freeze_seize(o->pid, &f);
	if (r < 0)
		return r;
	for (size_t i = 1; i < f.n; i++) {
		r = check_seccomp(o->pid, f.tids[i]);
		if (r < 0)
			goto out_thaw;
	}

	/* from here on: every failure thaws the process as it was */
	r = dump_collect_proc(o->pid, &p);
	if (r < 0) {
		log_err(r, "cannot read the state of %d", o->pid);
		goto out_thaw;
	}
	r = dump_collect_fds(o->pid, &p);
	if (r < 0)
		goto out_thaw;	/* logged with the fd and its kind */
	r = proc_read_smaps(o->pid, &p.vmas, &p.n_vmas);
	if (r < 0) {
		log_err(r, "cannot read the mappings of %d", o->pid);
		goto out_thaw;
	}
	r = check_mappings(&p);
	if (r < 0)
		goto out_thaw;
	r = collect_vdso_hash(&p);
	if (r < 0)
		goto out_thaw;
	r = collect_threads(&f, &p);
	if (r < 0)
		goto out_thaw;
	/* after the VMA list: the scratch page it maps must not be in the image */
	r = dump_remote_state(&p);
	if (r < 0)
		goto out_thaw;
	for (size_t i = 0; i < p.n_threads; i++)
		dump_settle_regs(&p, &p.threads[i]);

	r = dump_shm_objects(o->pid, &p, dirfd, &shm_ids, &n_shm);
	if (r < 0) {
		log_err(r, "cannot dump the shared memory of %d", o->pid);
		goto out_thaw;
	}
	r = dump_plan_proc(o->pid, p.vmas, p.n_vmas, &kf, &pm);
	if (r < 0) {
		log_err(r, "cannot plan the memory of %d", o->pid);
		goto out_thaw;
	}
	r = write_pages(dirfd, &p, &pm);
	if (r < 0)
		goto out_thaw;
	r = image_write_pagemap(dirfd, p.pid, &pm);
	if (r < 0)
		goto out_thaw;
	r = image_write_proc(dirfd, &p);
	if (r < 0)
		goto out_thaw;
	r = fill_inventory(&inv, &p, &kf, shm_ids, n_shm);
	shm_ids = NULL;
	if (r < 0)
		goto out_thaw;
	/* the inventory last: a directory without one is not an image */
	r = image_write_inventory(dirfd, &inv);
	if (r < 0)
		goto out_thaw;
	if (fsync(dirfd) < 0)
		log_debug("fsync of the image directory failed");

	if (o->leave_running)
		r = freeze_thaw(&f);
	else
		r = freeze_kill(&f);
	log_info("dumped %d: %zu threads, %zu mappings, %llu pages", p.pid, p.n_threads, p.n_vmas,
		 (unsigned long long)pm.nr_data_pages);
	goto out;

out_thaw:
	freeze_thaw(&f);
	remove_images(dirfd);
out:
	freeze_release(&f);
	free(shm_ids);
	md_inventory_release(&inv);
	md_pagemap_release(&pm);
	md_proc_release(&p);
	return r;
}
