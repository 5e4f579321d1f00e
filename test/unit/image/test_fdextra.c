/*
 * files-PID.img with an inotify fd's watches, a deleted file's ghost record
 * and locks, and a deleted file only mapped, with mm-PID.img's references to them:
 * written and read back field by field, and images that say impossible
 * things refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_fdextra, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* synth_proc() and two more fds: inotify fd 40 with three watches, ghost fd 41 */
static void proc_with_extras(struct md_proc *p)
{
	struct md_fd *f;
	struct md_ghost *g;

	synth_proc(p, SYNTH_PID, 5);
	p->fds = realloc(p->fds, (p->n_fds + 2) * sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	f = &p->fds[p->n_fds];
	memset(f, 0, 2 * sizeof(*f));
	f[0] = (struct md_fd){ .fd = 40, .kind = MD_FD_INOTIFY, .flags = 02004000, .dup_of = -1, .ofd = 40,
			       .path = strdup("anon_inode:inotify"), .n_watches = 3 };
	f[0].watches = calloc(3, sizeof(*f[0].watches));
	cr_assert_not_null(f[0].watches);
	f[0].watches[0] = (struct md_inotify_watch){ 1, 0x308, 0xa860f0, 0xfe00000, strdup("/tmp/a") };
	f[0].watches[1] = (struct md_inotify_watch){ 3, 0x84000002, 0xa860f1, 0xfe00000, strdup("/tmp/b c") };
	f[0].watches[2] = (struct md_inotify_watch){ 70000, 0xfff, 1, 0x1b, strdup("/dev/shm") };
	f[1] = (struct md_fd){ .fd = 41, .kind = MD_FD_REG, .flags = 02, .pos = 12345, .mode = 0100640, .dup_of = -1,
			       .ofd = 41, .path = strdup("/tmp/gone") };
	g = calloc(1, sizeof(*g));
	cr_assert_not_null(g);
	*g = (struct md_ghost){ .id = 7, .size = 600 * 1024 + 1, .uid = 1000, .gid = 100,
				.data = { .n = 2, .nr_data_pages = 3 } };
	g->data.entries = calloc(2, sizeof(*g->data.entries));
	cr_assert_not_null(g->data.entries);
	g->data.entries[0] = (struct md_pagemap_entry){ 0, 2, MD_PM_DATA };
	g->data.entries[1] = (struct md_pagemap_entry){ 600 * 1024, 1, MD_PM_DATA };	/* the last byte's page */
	f[1].ghost = g;
	/* fd 41 holds a flock(), a POSIX read lock and an OFD write lock to the end */
	f[1].locks = calloc(3, sizeof(*f[1].locks));
	cr_assert_not_null(f[1].locks);
	f[1].locks[0] = (struct md_file_lock){ MD_LOCK_FLOCK, true, 0, MD_LOCK_EOF };
	f[1].locks[1] = (struct md_file_lock){ MD_LOCK_POSIX, false, 10, 109 };
	f[1].locks[2] = (struct md_file_lock){ MD_LOCK_OFD, true, 200, MD_LOCK_EOF };
	f[1].n_locks = 3;
	p->n_fds += 2;
}

/* proc_with_extras() whose file VMA (1) maps deleted file 8, only mapped, which is also its exe */
static void proc_with_mapped(struct md_proc *p)
{
	struct md_ghost *g;

	proc_with_extras(p);
	p->vmas[1].deleted = true;
	p->vmas[1].ghost = 8;
	p->exe_ghost = 8;
	p->mapped = calloc(1, sizeof(*p->mapped));
	cr_assert_not_null(p->mapped);
	p->n_mapped = 1;
	g = &p->mapped[0];
	*g = (struct md_ghost){ .id = 8, .size = 3 * 4096 + 5, .uid = 7, .gid = 8, .mode = 0100755,
				.path = strdup("/usr/lib/libgone.so"), .data = { .n = 1, .nr_data_pages = 4 } };
	g->data.entries = calloc(1, sizeof(*g->data.entries));
	cr_assert_not_null(g->data.entries);
	g->data.entries[0] = (struct md_pagemap_entry){ 0, 4, MD_PM_DATA };
}

/*
 * proc_with_mapped() with two removed directories: fd 42 on one (ghost 9),
 * and its cwd on another that no fd holds (ghost 10, in mapped)
 */
static void proc_with_dirs(struct md_proc *p)
{
	struct md_fd *f;

	proc_with_mapped(p);
	p->fds = realloc(p->fds, (p->n_fds + 1) * sizeof(*p->fds));
	p->mapped = realloc(p->mapped, 2 * sizeof(*p->mapped));
	cr_assert(p->fds && p->mapped);
	f = &p->fds[p->n_fds++];
	*f = (struct md_fd){ .fd = 42, .kind = MD_FD_DIR, .flags = O_RDONLY | O_DIRECTORY, .mode = 040700,
			     .dup_of = -1, .ofd = 42, .path = strdup("/tmp/gone.d") };
	f->ghost = calloc(1, sizeof(*f->ghost));
	cr_assert_not_null(f->ghost);
	*f->ghost = (struct md_ghost){ .id = 9, .uid = 5, .gid = 6 };
	f->ghost->data.entries = calloc(1, sizeof(*f->ghost->data.entries));
	p->mapped[1] = (struct md_ghost){ .id = 10, .uid = 7, .gid = 8, .mode = 040750, .path = strdup("/srv/work") };
	p->mapped[1].data.entries = calloc(1, sizeof(*p->mapped[1].data.entries));
	p->n_mapped = 2;
	free(p->cwd);
	p->cwd = strdup("/srv/work");
	p->cwd_ghost = 10;
}

Test(image_fdextra, removed_dirs_roundtrip)
{
	struct md_proc in, out;
	char files[64];

	snprintf(files, sizeof(files), "files-%d.img", SYNTH_PID);
	proc_with_dirs(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	cr_expect_eq(out.cwd_ghost, 10);
	cr_expect_str_eq(out.cwd, "/srv/work");
	cr_expect_eq(out.mapped[1].mode, 040750);
	cr_assert_not_null(out.fds[out.n_fds - 1].ghost);
	cr_expect_eq(out.fds[out.n_fds - 1].ghost->id, 9);
	cr_expect(md_proc_ghost_is_dir(&out, 9) && md_proc_ghost_is_dir(&out, 10) && !md_proc_ghost_is_dir(&out, 8));
	md_proc_release(&out);
	/* the files header's flag goes with them: older readers refuse it */
	flip_bits(files, 36, MD_FILES_F_GHOST_DIRS);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL,
		     "removed directories without the flag were read");
	/* the cwd alone needs it too */
	in.n_fds--;
	md_fd_release(&in.fds[in.n_fds]);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(files, 36, MD_FILES_F_GHOST_DIRS);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "a removed cwd without the flag was read");
	/* none: no flag, and another bit is unknown */
	in.cwd_ghost = 0;
	md_ghost_release(&in.mapped[1]);
	in.n_mapped = 1;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	flip_bits(files, 36, 2);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "an unknown files flag was read");
	md_proc_release(&in);
}

Test(image_fdextra, mapped_roundtrip)
{
	struct md_proc in, out;

	proc_with_mapped(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	cr_assert_eq(out.n_mapped, 1);
	cr_expect_eq(out.mapped[0].mode, 0100755);
	cr_expect_str_eq(out.mapped[0].path, "/usr/lib/libgone.so");
	cr_expect_eq(out.vmas[1].ghost, 8);
	cr_expect_eq(out.exe_ghost, 8);
	md_proc_release(&out);
	/* a VMA on the fd's ghost instead: no record of its own needed */
	in.vmas[1].ghost = 7;
	in.exe_ghost = 0;
	md_ghost_release(&in.mapped[0]);
	in.n_mapped = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	cr_expect_eq(out.vmas[1].ghost, 7);
	md_proc_release(&in);
	md_proc_release(&out);
}

Test(image_fdextra, roundtrip)
{
	struct md_proc in, out;
	const struct md_fd *f;

	proc_with_extras(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	f = &out.fds[out.n_fds - 2];
	cr_assert_eq(f[0].kind, MD_FD_INOTIFY);
	cr_assert_eq(f[0].n_watches, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct md_inotify_watch *a = &in.fds[in.n_fds - 2].watches[i], *b = &f[0].watches[i];

		cr_expect_eq(a->wd, b->wd);
		cr_expect_eq(a->mask, b->mask);
		cr_expect_eq(a->ino, b->ino);
		cr_expect_eq(a->sdev, b->sdev);
		cr_expect_str_eq(a->path, b->path);
	}
	cr_assert_null(f[0].ghost);
	cr_assert_eq(f[1].n_watches, 0);
	cr_assert_not_null(f[1].ghost);
	cr_expect_eq(f[1].ghost->id, 7);
	cr_expect_eq(f[1].ghost->size, 600 * 1024 + 1);
	cr_expect_eq(f[1].ghost->uid, 1000);
	cr_expect_eq(f[1].ghost->gid, 100);
	cr_expect_eq(f[1].ghost->data.nr_data_pages, 3);
	cr_assert_eq(f[1].ghost->data.n, 2);
	cr_expect_eq(f[1].ghost->data.entries[1].vaddr, 600 * 1024);
	cr_expect_eq(f[1].ghost->data.entries[1].nr_pages, 1);
	cr_expect_eq(f[1].ghost->data.entries[1].flags, MD_PM_DATA);
	cr_expect_eq(f[1].pos, 12345);
	cr_expect_str_eq(f[1].path, "/tmp/gone");
	cr_assert_eq(f[0].n_locks, 0);
	cr_assert_eq(f[1].n_locks, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct md_file_lock *a = &in.fds[in.n_fds - 1].locks[i], *b = &f[1].locks[i];

		cr_expect_eq(a->kind, b->kind, "lock %zu", i);
		cr_expect_eq(a->write, b->write, "lock %zu", i);
		cr_expect_eq(a->start, b->start, "lock %zu", i);
		cr_expect_eq(a->end, b->end, "lock %zu", i);
	}
	md_proc_release(&in);
	md_proc_release(&out);
}

/* each breakage of a good image (with a mapped deleted file) must be refused on read */
static void expect_refused_from(void (*make)(struct md_proc *), void (*breakit)(struct md_proc *), const char *what)
{
	struct md_proc in, out;

	make(&in);
	breakit(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "%s was read", what);
	md_proc_release(&in);
}

static void expect_refused(void (*breakit)(struct md_proc *), const char *what)
{
	expect_refused_from(proc_with_mapped, breakit, what);
}

static void extent_past_end(struct md_proc *p)
{
	p->fds[p->n_fds - 1].ghost->data.entries[1].nr_pages = 2;
}

static void extents_overlap(struct md_proc *p)
{
	p->fds[p->n_fds - 1].ghost->data.entries[1].vaddr = 4096;
}

static void extent_unaligned(struct md_proc *p)
{
	p->fds[p->n_fds - 1].ghost->data.entries[1].vaddr += 100;
}

static void ghost_id_zero(struct md_proc *p)
{
	p->fds[p->n_fds - 1].ghost->id = 0;
}

static void ghost_on_a_pipe(struct md_proc *p)
{
	p->fds[p->n_fds - 1].kind = MD_FD_PIPE;
	p->fds[p->n_fds - 1].pipe_id = 9;
}

static void lock_kind_zero(struct md_proc *p)
{
	p->fds[p->n_fds - 1].locks[1].kind = 0;
}

static void lock_kind_lease(struct md_proc *p)
{
	p->fds[p->n_fds - 1].locks[1].kind = MD_LOCK_OTHER;
}

static void lock_ends_before_start(struct md_proc *p)
{
	p->fds[p->n_fds - 1].locks[1].end = 9;
}

static void lock_end_past_off_max(struct md_proc *p)
{
	p->fds[p->n_fds - 1].locks[1].end = (uint64_t)INT64_MAX + 1;
}

static void flock_on_a_range(struct md_proc *p)
{
	p->fds[p->n_fds - 1].locks[0].end = 100;
}

static void write_lock_on_read_only_fd(struct md_proc *p)
{
	p->fds[p->n_fds - 1].flags = O_RDONLY;
}

static void read_lock_on_write_only_fd(struct md_proc *p)
{
	p->fds[p->n_fds - 1].flags = O_WRONLY;
	p->fds[p->n_fds - 1].locks[2].kind = MD_LOCK_FLOCK;
	p->fds[p->n_fds - 1].locks[2].start = 0;
}

static void lock_on_inotify_fd(struct md_proc *p)
{
	struct md_fd *f = &p->fds[p->n_fds - 2];

	f->locks = calloc(1, sizeof(*f->locks));
	cr_assert_not_null(f->locks);
	f->locks[0] = (struct md_file_lock){ MD_LOCK_FLOCK, true, 0, MD_LOCK_EOF };
	f->n_locks = 1;
}

static void watches_out_of_order(struct md_proc *p)
{
	p->fds[p->n_fds - 2].watches[1].wd = 1;
}

static void watch_relative_path(struct md_proc *p)
{
	p->fds[p->n_fds - 2].watches[2].path[0] = 'd';
}

static void watch_zero(struct md_proc *p)
{
	p->fds[p->n_fds - 2].watches[0].wd = 0;
}

static void vma_ghost_missing(struct md_proc *p)
{
	p->vmas[1].ghost = 9;
}

static void vma_ghost_on_anon(struct md_proc *p)
{
	p->vmas[0].ghost = 7;
}

static void vma_ghost_not_deleted(struct md_proc *p)
{
	p->vmas[1].deleted = false;
}

static void exe_ghost_missing(struct md_proc *p)
{
	p->exe_ghost = 9;
}

static void mapped_relative_path(struct md_proc *p)
{
	p->mapped[0].path[0] = 'u';
}

static void mapped_no_regular_file(struct md_proc *p)
{
	p->mapped[0].mode = 040755;
}

static void mapped_id_of_an_fd(struct md_proc *p)
{
	p->mapped[0].id = 7;
	p->vmas[1].ghost = 7;
	p->exe_ghost = 7;
}

static void mapped_extent_past_end(struct md_proc *p)
{
	p->mapped[0].data.entries[0].nr_pages = 5;
}

/* the mm header's flag, which older readers refuse, goes with every reference to a ghost */
Test(image_fdextra, mm_flag_with_ghosts)
{
	struct md_proc in, out;
	char mm[64];

	snprintf(mm, sizeof(mm), "mm-%d.img", SYNTH_PID);
	proc_with_mapped(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(mm, 36, MD_MM_F_GHOSTS);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "references without the flag were read");
	/* only the exe's reference: still needs it */
	in.vmas[1].ghost = 0;
	in.vmas[1].deleted = false;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	flip_bits(mm, 36, MD_MM_F_GHOSTS);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "an exe reference without the flag was read");
	/* another bit: unknown */
	flip_bits(mm, 36, MD_MM_F_GHOSTS | 2);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "an unknown mm flag was read");
	/* no reference: no flag written */
	in.exe_ghost = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(mm, 36, MD_MM_F_GHOSTS);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0, "the flag alone was refused");
	md_proc_release(&out);
	flip_bits(mm, 36, MD_MM_F_GHOSTS);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	md_proc_release(&in);
}

static void cwd_on_a_file(struct md_proc *p)
{
	p->cwd_ghost = 8;
}

static void cwd_ghost_missing(struct md_proc *p)
{
	p->cwd_ghost = 11;
}

static void cwd_ghost_without_path(struct md_proc *p)
{
	free(p->cwd);
	p->cwd = NULL;
}

static void vma_on_a_dir(struct md_proc *p)
{
	p->vmas[1].ghost = 10;
}

static void exe_on_a_dir(struct md_proc *p)
{
	p->exe_ghost = 9;
}

static void file_fd_of_dir_mode(struct md_proc *p)
{
	p->fds[p->n_fds - 2].mode = 040640;
}

static void dir_fd_of_file_mode(struct md_proc *p)
{
	p->fds[p->n_fds - 1].mode = 0100700;
}

static void dir_fd_with_data(struct md_proc *p)
{
	p->fds[p->n_fds - 1].ghost->size = 4096;
}

static void mapped_dir_with_data(struct md_proc *p)
{
	p->mapped[1].size = 1;
}

Test(image_fdextra, impossible_removed_dirs_refused)
{
	expect_refused_from(proc_with_dirs, cwd_on_a_file, "a cwd on a deleted regular file");
	expect_refused_from(proc_with_dirs, cwd_ghost_missing, "a cwd on a removed directory not there");
	expect_refused_from(proc_with_dirs, cwd_ghost_without_path, "a removed cwd without its path");
	expect_refused_from(proc_with_dirs, vma_on_a_dir, "a VMA on a removed directory");
	expect_refused_from(proc_with_dirs, exe_on_a_dir, "an exe that is a removed directory");
	expect_refused_from(proc_with_dirs, dir_fd_with_data, "a removed directory's fd with data");
	expect_refused_from(proc_with_dirs, file_fd_of_dir_mode, "a deleted file's fd with a directory's mode");
	expect_refused_from(proc_with_dirs, dir_fd_of_file_mode, "a removed directory's fd with a file's mode");
	expect_refused_from(proc_with_dirs, mapped_dir_with_data, "a removed directory with data");
}

/* a deleted file's VMA no memdump wrote: it would map whatever has the path now */
static void vma_deleted_without_ghost(struct md_proc *p)
{
	p->vmas[1].ghost = 0;
}

Test(image_fdextra, impossible_images_refused)
{
	expect_refused(vma_deleted_without_ghost, "a deleted file's VMA without its ghost");
	expect_refused(vma_ghost_missing, "a VMA on a deleted file that is not there");
	expect_refused(vma_ghost_on_anon, "an anonymous VMA on a deleted file");
	expect_refused(vma_ghost_not_deleted, "a VMA of a file not deleted on a deleted file");
	expect_refused(exe_ghost_missing, "an exe that is a deleted file not there");
	expect_refused(mapped_relative_path, "a mapped deleted file with a relative path");
	expect_refused(mapped_no_regular_file, "a mapped deleted file that is a directory");
	expect_refused(mapped_id_of_an_fd, "a mapped deleted file with an fd's id");
	expect_refused(mapped_extent_past_end, "a mapped deleted file's extent past its end");
	expect_refused(extent_past_end, "an extent past the file's end");
	expect_refused(extents_overlap, "overlapping extents");
	expect_refused(extent_unaligned, "an unaligned extent");
	expect_refused(ghost_id_zero, "ghost id 0");
	expect_refused(ghost_on_a_pipe, "a ghost on a pipe");
	expect_refused(watches_out_of_order, "watches out of order");
	expect_refused(watch_relative_path, "a relative watch path");
	expect_refused(watch_zero, "watch descriptor 0");
	expect_refused(lock_kind_zero, "a lock of kind 0");
	expect_refused(lock_kind_lease, "a lease");
	expect_refused(lock_ends_before_start, "a lock ending before it starts");
	expect_refused(lock_end_past_off_max, "a lock ending past the largest offset");
	expect_refused(flock_on_a_range, "a flock() on a byte range");
	expect_refused(write_lock_on_read_only_fd, "a write lock through a read-only fd");
	expect_refused(read_lock_on_write_only_fd, "a read lock through a write-only fd");
	expect_refused(lock_on_inotify_fd, "a lock on an inotify fd");
}
