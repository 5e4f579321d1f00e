#pragma once
/*
 * The dump stage: collect -> plan -> copy -> write for one frozen process.
 * dump_run() (src/dump/dump.c) drives it; the pieces below are separate so
 * that each can be tested alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct md_proc;
struct md_vma;
struct md_pagemap;
struct md_shm;
struct md_pipe;
struct kfeat;
struct image_pages_writer;

struct dump_opts {
	pid_t pid;
	const char *dir;
	bool leave_running;
};

int dump_run(const struct dump_opts *o);

/*
 * What /proc (and prlimit/readlink) show, no ptrace needed beyond the
 * target being frozen: comm, ids, umask, cwd, exe, mm fields, auxv,
 * rlimits, personality, and the fd table (src/dump/files.c). An fd of a
 * kind we cannot restore fails with a one-line message naming the fd and
 * its kind (logged here) and -ENOTSUP; a deleted regular file likewise.
 */
int dump_collect_proc(pid_t pid, struct md_proc *p);
int dump_collect_fds(pid_t pid, struct md_proc *p);
/* A dead, unreaped child: its ids and wait status only. */
int dump_collect_zombie(pid_t pid, struct md_proc *p);
/*
 * Across the tree: give fds that share an open file description (in one
 * process or several) the same md_fd.ofd, by kcmp() (src/dump/files.c).
 */
int dump_link_fds(struct md_proc *procs, size_t n);
/*
 * Every pipe the fds of procs hold, once, with its unread bytes (peeked,
 * never taken). A pipe with only one end in the tree is refused: -ENOTSUP,
 * logged with the fd. *ret is malloc'ed (src/dump/pipes.c).
 */
int dump_pipes(const struct md_proc *procs, size_t n, struct md_pipe **ret, size_t *ret_n);

/*
 * Plan one process: read pagemap (PAGEMAP_SCAN where kf says so) for every
 * VMA that may hold pages and build its pagemap (src/dump/pagemap.c).
 */
int dump_plan_proc(pid_t pid, const struct md_vma *vmas, size_t n, const struct kfeat *kf,
		   struct md_pagemap *ret);
/*
 * The same for a child whose parent (frozen, in the image) it was forked
 * from: pages still shared copy-on-write with the parent's twin VMA are
 * planned MD_PM_INHERIT, not copied (plan_mark_inherited()).
 */
int dump_plan_child(pid_t pid, const struct md_vma *vmas, size_t n, const struct kfeat *kf,
		    const struct md_proc *parent, struct md_pagemap *ret);

/*
 * Copy the MD_PM_DATA pages of pm out of pid into w, through /proc/PID/mem
 * into a 4 MiB buffer: it reads memory without PROT_READ too, and never
 * unshares a page shared copy-on-write (src/dump/copy.c).
 */
int dump_copy_pages(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
		    struct image_pages_writer *w);

/*
 * Shared memory objects (memfd, shared anon, SysV segments): the distinct
 * objects of p's VMAs and memfd fds, each dumped once into shm-ID.img and
 * pages-shm-ID.img (sysvshm-, pages-sysvshm-), data found with
 * SEEK_DATA/SEEK_HOLE on /proc/PID/map_files/START-END or /proc/PID/fd/N
 * (src/dump/shm.c). Sets vma.shm_id / fd.shm_id. An object whose files are
 * in dirfd already was dumped for another process and is skipped; the ids
 * written are appended to *ids (the caller frees its arrays).
 */
struct dump_shm_ids {
	uint64_t *shm, *sysv;
	size_t n_shm, n_sysv;
};
int dump_shm_objects(pid_t pid, struct md_proc *p, int dirfd, struct dump_shm_ids *ids);
