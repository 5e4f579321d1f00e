#pragma once
/*
 * The dump stage: collect -> plan -> copy -> write for one frozen process.
 * dump_run() (src/dump/dump.c) drives it; the pieces below are separate so
 * that each can be tested alone.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "memdump/image.h"	/* struct md_compress */
#include "memdump/netlock.h"	/* MD_NET_LOCK_NAME_MAX */

struct md_proc;
struct md_socks;
struct md_vma;
struct md_pty;
struct md_pagemap;
struct md_shm;
struct md_pipe;
struct md_fd;
struct md_sock_queue;
struct kfeat;

struct xfer;

struct dump_opts {
	pid_t pid;
	const char *dir;
	const char *ps_addr;	/* --page-server --address: pages (and the image) go there */
	uint16_t ps_port;
	bool leave_running;
	bool pre_dump;		/* copy memory while the tree runs, track it for the next dump */
	bool track_mem;		/* dump -R: keep tracking for a next incremental dump */
	const char *prev_dir;	/* --prev-images-dir, relative to dir unless absolute */
	struct md_compress compress;	/* --compress: how pages files are stored */
	bool shell_job;		/* --shell-job: the tree may have a shell's terminal (tty.c) */
	uint64_t ghost_limit;	/* --ghost-limit: largest file deleted while open whose data is kept */
	bool tcp_established;	/* --tcp-established: dump established TCP connections (tcp.c) */
	bool skip_in_flight;	/* --skip-in-flight: leave out TCP connections no listener accepted yet */
};

#define DUMP_GHOST_LIMIT_DEFAULT (1ULL << 20)

int dump_run(const struct dump_opts *o);

/*
 * Where a dump writes: its image directory, except that pages files go to
 * a page server instead when xfer is set (the rest follows at the end).
 */
struct dump_out {
	int dirfd;
	struct xfer *xfer;
	struct md_compress compress;	/* how its pages files are stored */
};
/* a new pages file there (src/dump/copy.c) */
int dump_pages_create(const struct dump_out *out, const char *name, struct image_pages_writer **ret);

/*
 * What /proc (and prlimit/readlink) show, no ptrace needed beyond the
 * target being frozen: comm, ids, umask, cwd, exe, mm fields, auxv,
 * rlimits, personality, and the fd table (src/dump/files.c). An fd of a
 * kind we cannot restore fails with a one-line message naming the fd and
 * its kind (logged here) and -ENOTSUP; a deleted directory likewise. A
 * deleted regular file gets md_fd.ghost (size, owner) for dump_ghosts().
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
 * Then, for each epoll item, the ofd it watches if the holder has that file
 * at the item's fd number; an item no holder has so is refused (-ENOTSUP,
 * logged). Called by dump_link_fds() (src/dump/epoll.c).
 */
int dump_link_epoll(struct md_proc *procs, size_t n);
/*
 * Whether every pidfd of the n_live processes (the first of procs) names
 * one of all n (zombies after them) or one gone: -ENOTSUP for each that
 * does not, logged.
 */
int dump_link_pidfds(const struct md_proc *procs, size_t n_live, size_t n);
/*
 * Controlling terminals of the live processes procs[0..n) (src/dump/tty.c).
 * One of a session outside the tree (a shell's) is refused (-ENOTSUP,
 * logged, suggesting --shell-job) unless shell_job: then it is recorded in
 * md_proc.tty_nr and every fd on it gets md_fd.ctty. Then the tree's ptys
 * (dump_ptys()); one of a session inside the tree must be such a pty, the
 * same for every member (else refused). *ret (malloc'ed): the ptys, each
 * with the session inside the tree it is the terminal of.
 */
int dump_ttys(struct md_proc *procs, size_t n, bool shell_job, struct md_pty **ret, size_t *ret_n);
/*
 * Pseudo-terminals (src/dump/pty.c): fds on /dev/ptmx become
 * MD_FD_PTY_MASTER, fds on /dev/pts/N (not md_fd.ctty) MD_FD_PTY_SLAVE,
 * and *ret (malloc'ed) every pty whose master the tree holds, with its
 * settings and the session the kernel says it is the terminal of. Refused
 * (-ENOTSUP, logged): a slave whose master the tree does not hold, locks
 * on a pty, two ptys of one index.
 */
int dump_ptys(struct md_proc *procs, size_t n, struct md_pty **ret, size_t *ret_n);
/* whether rdev is a pty slave's (/dev/pts/N), and its N */
bool dump_pty_slave(dev_t rdev);
uint32_t dump_pty_index(dev_t rdev);
/* the terminal (its device) fd of pid, on /dev/tty, is on; -ENOTSUP (logged) if hung up */
int dump_tty_real_dev(pid_t pid, int fd, dev_t *ret);
/*
 * An inotify fd (kind set): its watches, each with its path found from
 * fdinfo's file handle; a watch whose path cannot be found is refused
 * (-ENOTSUP, logged with the fd). src/dump/inotify.c
 */
int dump_inotify_fd(pid_t pid, int fd, const char *fdinfo, struct md_fd *ret);
/*
 * Files deleted while open (md_fd.ghost) or mapped (md_vma.ghost,
 * md_proc.mapped) across the tree, and a deleted exe among them
 * (md_proc.exe_ghost): one id per file (dev, inode), its data extents
 * found with SEEK_DATA/SEEK_HOLE and written to pages-ghost-ID.img. A file
 * larger than limit bytes is refused (-EFBIG, logged with the fd or
 * mapping, path, size and --ghost-limit); a deleted mapping that is no
 * regular file, or whose file has another name, too (-ENOTSUP).
 * src/dump/ghost.c
 */
int dump_ghosts(struct md_proc *procs, size_t n, const struct dump_out *out, uint64_t limit);
/*
 * Every pipe and FIFO the fds of procs hold, once, with its unread bytes
 * (peeked, never taken); the fds of a FIFO get its id (pipe_id, numbered
 * from 1 per dump). Refused (-ENOTSUP, logged with the fd): a pipe or FIFO
 * also held outside the tree, a FIFO with bytes no fd of the tree reads.
 * *ret is malloc'ed (src/dump/pipes.c).
 */
int dump_pipes(struct md_proc *procs, size_t n, struct md_pipe **ret, size_t *ret_n);

/*
 * Sockets (src/dump/sockets.c). dump_collect_socket(): socket fd of pid,
 * sockfs inode ino, as the socket answers through a pidfd_getfd() copy
 * (family, type, options, addresses); sets ret->kind and ret->sock, or
 * -ENOTSUP (logged) for a family we do not restore. dump_sockets(): across
 * the tree, with sock_diag: state, peers, names, backlogs; refuses
 * (-ENOTSUP, one line naming the fd) what restore could not make again
 * (a peer outside the tree, connections not accepted of a TCP listener,
 * or of a unix one from outside the tree or from a closed socket (both
 * left out with DUMP_SOCK_SKIP_IN_FLIGHT), established TCP without
 * DUMP_SOCK_TCP_ESTABLISHED, fds in flight...); the data queued in unix
 * sockets, peeked and left in place, one md_sock_queue per socket with
 * data (*ret malloc'ed).
 */
int dump_collect_socket(pid_t pid, int fd, uint64_t ino, struct md_fd *ret);
enum {
	DUMP_SOCK_TCP_ESTABLISHED = 1 << 0,	/* --tcp-established */
	DUMP_SOCK_SKIP_IN_FLIGHT = 1 << 1,	/* --skip-in-flight */
	DUMP_SOCK_TREE_RUNS = 1 << 2,		/* -R, pre-dump: the tree runs on after the dump */
};
int dump_sockets(const struct md_socks *socks, struct md_proc *procs, size_t n, unsigned flags,
		 struct md_sock_queue **ret, size_t *ret_n);

/*
 * Established TCP connections (src/dump/tcp.c). dump_tcp(): locks the
 * network for every established TCP socket of the frozen tree (table named
 * after root and now_ns), reads each one's state into t->streams in repair
 * mode, and takes it out again. dump_tcp_finish(): with tree_gone (about
 * to be killed), puts the sockets back in repair mode (they close without
 * a word) and leaves the lock for the restore; otherwise takes the lock
 * away, before the tree may run. Meanwhile a guard process undoes them if
 * memdump ends without a word (SIGKILL): dump_tcp_unguard(), once the
 * tree is killed or thawed, ends it (or, if finish failed, lets it undo).
 * dump_tcp_release() frees (after finish, and after the tree is killed or
 * thawed: it unblocks the signals that dump_tcp() blocked, and unguards).
 */
struct dump_tcp {
	struct md_tcp_stream *streams;
	const struct md_fd **files;	/* each stream's first fd (in the procs' fds), */
	pid_t *pids;			/* of this process */
	int *fds;			/* our copies of them */
	size_t n;
	size_t n_read;			/* the first n_read were read (in repair mode, out of it again) */
	char lock[MD_NET_LOCK_NAME_MAX];
	bool locked;
	bool masked;			/* md_hold_signals() until release: */
	sigset_t oldmask;		/* the mask before */
	pid_t guard;			/* > 0: the guard (tcp.c), told through guard_fd */
	int guard_fd;
	bool settled;			/* dump_tcp_finish() did all it had to */
};
int dump_tcp(const struct md_socks *socks, const struct md_proc *procs, size_t n, pid_t root, uint64_t now_ns,
	     struct dump_tcp *t);
int dump_tcp_finish(struct dump_tcp *t, bool tree_gone);
void dump_tcp_unguard(struct dump_tcp *t);
void dump_tcp_release(struct dump_tcp *t);

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
 * The same for a process that runs (pre-dump): memory it unmapped
 * meanwhile reads as zeroes instead of failing (any other read error still
 * fails). Memory mapped there again is not under tracking, so the next
 * dump copies it whole.
 */
int dump_copy_pages_running(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
			    struct image_pages_writer *w);

/*
 * Shared memory objects (memfd, shared anon, SysV segments): the distinct
 * objects of p's VMAs and memfd fds, each dumped once into shm-ID.img and
 * pages-shm-ID.img (sysvshm-, pages-sysvshm-), data found with
 * SEEK_DATA/SEEK_HOLE on /proc/PID/map_files/START-END or /proc/PID/fd/N
 * (src/dump/shm.c). Sets vma.shm_id / fd.shm_id. An object already in
 * *ids was dumped for another process and is skipped; the ids written are
 * appended to *ids (the caller frees its arrays).
 */
struct dump_shm_ids {
	uint64_t *shm, *sysv;
	size_t n_shm, n_sysv;
};
int dump_shm_objects(pid_t pid, struct md_proc *p, const struct dump_out *out, struct dump_shm_ids *ids);
/*
 * The SysV segments shm_ids (n of them) of the tree's own IPC namespace,
 * which memdump's thread is in, that no VMA of the tree brought into ids:
 * each is attached by memdump, read only, and dumped. One another process
 * has attached is refused (-ENOTSUP, logged).
 */
int dump_sysv_unattached(const int32_t *shm_ids, size_t n, const struct dump_out *out, struct dump_shm_ids *ids);

/*
 * Dirty tracking between dumps. Soft-dirty bits where the kernel has them
 * (src/dump/softdirty.c); else userfaultfd write-protection in async mode
 * (src/dump/track.c), created by each process itself (a remote syscall),
 * read and re-armed with PAGEMAP_SCAN, held between memdump runs by a
 * helper process recorded in track.img.
 */
struct md_range;
struct md_track;

struct dump_track {
	pid_t pid;
	uint64_t start_time;
	bool armed;			/* tracked for the next dump */
	uint64_t token;			/* soft-dirty: the id of this arming */
	int uffd;			/* uffd-wp: ours, -1: not tracked */
	struct md_range *tracked;	/* ranges whose written pages since the previous image are known */
	size_t n_tracked;
	struct md_range *written;	/* of those, the pages written */
	size_t n_written;
};

struct track_session {
	const struct md_track *prev;	/* track.img of the previous image, or NULL */
	int *taken;			/* per prev->procs: its userfaultfd, taken from the helper, or -1 */
};

/*
 * Take every userfaultfd of the previous image's helper and stop it (warns
 * once if it is gone or there was no tracking).
 */
int track_begin(const struct md_track *prev, struct track_session *s);
/*
 * Track p (frozen): take its userfaultfd back from the previous helper or
 * (arm) make one; read the pages written since the previous image in VMAs
 * tracked since then (same VMA in prev_p); with arm, register and protect
 * every other VMA that can be. Untrackable memory is only warned about.
 */
int track_proc(struct track_session *s, const struct md_proc *p, const struct md_proc *prev_p, bool arm,
	       struct dump_track *t);
void track_proc_release(struct dump_track *t);
/* a new helper holding the uffds of t[0..n); its pid and start time */
int track_spawn_helper(const struct dump_track *t, size_t n, pid_t *ret_pid, uint64_t *ret_start);
/* close the trackers taken and not handed to a process */
void track_end(struct track_session *s);

/*
 * The same with soft-dirty bits (src/dump/softdirty.c), where the kernel
 * has them: read the pages written since prev (track.img of the previous
 * image) armed p, then (arm) clear its bits for the next dump.
 */
int softdirty_proc(const struct md_track *prev, const struct md_proc *p, const struct md_proc *prev_p, bool arm,
		   struct dump_track *t);
