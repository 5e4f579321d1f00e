#pragma once
/*
 * State shared by the files of src/restore/: everything read from the
 * images (validated before anything is created) and what the restorer
 * learnt while building the new process.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memdump/inject.h"
#include "memdump/kfeat.h"
#include "memdump/model.h"

struct restore_shm {
	struct md_shm shm;
	struct md_pagemap pm;
	int pages_fd;		/* data at MD_PAGES_HEADER_SIZE, pagemap order */
};

/*
 * What the child reports to memdump through a MAP_SHARED page set up
 * before clone3(): its verdict and the numbers of the fds it opened for
 * memdump's use (mapping files, the exe), all above the restored fd table.
 */
struct child_report {
	volatile int go;	/* set by memdump once it has seized the child */
	int status;		/* 0 or -errno */
	char msg[256];		/* what failed, for the one-line error */
	int exe_fd;		/* -1 if none */
	int vma_fd[];		/* per VMA: fd to mmap, or -1 */
};

struct restore_ctx {
	int dirfd;
	struct md_inventory inv;
	struct md_proc p;
	struct md_pagemap pm;
	int pages_fd;
	struct restore_shm *shms;
	size_t n_shms;
	struct kfeat kf;		/* this kernel, probed once by check_host() */

	struct child_report *rep;	/* MAP_SHARED, rep_size bytes */
	size_t rep_size;
	pid_t pid;			/* the new process, 0 before clone3 */
	struct inject_ctx ic;		/* remote syscalls in the leader */
	uint64_t scratch;		/* scratch page in the new process */
	bool *vma_filled;		/* per VMA: restore writes pages into it */
	pid_t *attached;		/* threads under our ptrace, leader first */
	size_t n_attached;
};

#define RESTORE_SCRATCH_SIZE (64 * 1024)

/* child.c: runs in the new process, never returns */
void restore_child_main(struct restore_ctx *rc) __attribute__((noreturn));

/* mm.c */
int restore_find_hole(const struct md_proc *p, uint64_t size, uint64_t avoid_start, uint64_t avoid_end,
		      uint64_t *ret);
int restore_mm(struct restore_ctx *rc);

/* thread.c */
int restore_threads(struct restore_ctx *rc);
int restore_finish_threads(struct restore_ctx *rc);

/* a remote syscall in the leader; logs on failure, returns the target's result in *ret */
int restore_rcall(struct restore_ctx *rc, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, uint64_t a6, int64_t *ret);
/* the same, but a negative target result is an error too */
int restore_rcall_ok(struct restore_ctx *rc, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		     uint64_t a4, uint64_t a5, uint64_t a6);
