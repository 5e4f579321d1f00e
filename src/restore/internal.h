#pragma once
/*
 * State shared by the files of src/restore/: everything read from the
 * images (validated before anything is created), the files memdump opens
 * for the tree, and what the restorer learns while building each process.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "memdump/inject.h"
#include "memdump/kfeat.h"
#include "memdump/model.h"
#include "memdump/tree.h"

struct restore_shm {
	struct md_shm shm;
	struct md_pagemap pm;
	struct image_pages *pages;	/* its data, pagemap order */
	int fd;			/* the object, made by memdump before any process (-1 before);
				 * a SysV segment is found by its id, never by an fd */
	bool created;		/* a SysV segment this restore made (not one it reused) */
	bool removed;		/* ... and removed again (IPC_RMID) */
};

/* ---- one process ---- */

/* nr_pages pages at vaddr come from pages file p, at offset off of its data */
struct restore_src {
	uint64_t vaddr, nr_pages;
	struct image_pages *p;
	uint64_t off;
};

struct restore_proc {
	struct md_proc p;
	struct md_pagemap pm;
	struct image_pages *pages;
	struct restore_src *src;	/* where the DATA and PARENT pages come from, pagemap order */
	size_t n_src;
	struct image_pages **parent_pages;	/* pages files of parent images (incremental dumps) */
	size_t n_parent_pages;
	struct tree_plan plan;
	struct restore_proc *parent;	/* NULL for the root */

	pid_t pid;			/* 0 until created */
	struct inject_ctx ic;		/* remote syscalls in its leader */
	uint64_t scratch;		/* its scratch area, 0 if none */
	bool *vma_filled;		/* per VMA: restore writes pages into it */
	bool *vma_kept;			/* per VMA: arrives from the parent by fork, kept */
	bool *vma_lazy;			/* per VMA: filled by the lazy server (NULL: none is) */
	int *vma_fd;			/* per VMA: the fd it maps, in the process, or -1 */
	int exe_fd;			/* its exe for PR_SET_MM_MAP, in the process, or -1 */
	pid_t *attached;		/* its threads under our ptrace, leader first */
	size_t n_attached;
};

/* A pty of the image, made again (pty.c) */
struct restore_pty {
	struct md_pty t;
	int master;			/* ours: the master's one description; -1 before */
	int slave;			/* ours, O_RDWR: for a session, a hangup, TIOCEXCL; -1: not needed */
};

/* A file memdump opened for the tree, handed to processes over the socket. */
struct restore_file {
	uint64_t ofd;			/* the image's open file description (0: a file to map) */
	const char *path;		/* mappings: the file's path, borrowed from a VMA */
	int flags;			/* mappings: O_RDONLY or O_RDWR */
	int fd;				/* ours */
};

/* an open file description of the image: its first fd in the tree, and our file for it */
struct restore_ofd {
	uint64_t ofd;
	const struct md_fd *first;
	size_t pos;			/* first's place in the tree, process by process, fd by fd */
	int file;			/* in rc->files; -1: not opened yet */
};

/*
 * What the root reports through a MAP_SHARED page set up before clone3():
 * whether its setup in C worked. Everything after that is done by remote
 * syscalls.
 */
struct child_report {
	volatile int go;	/* set by memdump once it has seized the child */
	int status;		/* 0 or -errno */
	char msg[256];		/* what failed, for the one-line error */
};

/* an epoll description of the image: which of its items are added (epoll.c) */
struct restore_epoll {
	uint64_t ofd;
	size_t n;
	bool *added;
	uint64_t *watched;	/* the description each item watches, 0 where no holder knows it */
	bool *by_holder;	/* a process holds the epoll fd and the item's file at its number */
};

/* A file deleted while open or mapped, made again (ghost.c). */
struct restore_ghost {
	const struct md_ghost *g;	/* borrowed from the first fd or mapping on it */
	const char *path;		/* where it was (that fd's path, or the mapped record's) */
	uint32_t mode;
	struct image_pages *pages;	/* its data, extent order */
	int fd;				/* ours, O_RDONLY, once made; -1 before */
	int fd_rw;			/* ours, O_RDWR, for shared writable mappings; -1 if none */
	char holder[48];		/* "fd N of PID" or "a mapping of PID", for messages */
};

struct restore_ctx {
	int dirfd;
	struct md_inventory inv;
	struct md_ipcns ipc;		/* with inv.ipc_ns: ipcns.img */
	struct kfeat kf;		/* this kernel, probed once by check_host() */
	struct restore_proc *procs;	/* inventory order: parents before children */
	size_t n;
	struct restore_shm *shms;
	size_t n_shms;
	bool lazy;			/* --lazy-pages */
	bool thp_always;		/* restore_thp_always() of this host */
	bool seccomp;			/* a thread has seccomp or no_new_privs: suspend filters while ours */
	struct md_creds own_creds;	/* memdump's, what every new thread starts with */
	uint64_t cap_known;		/* capabilities this kernel knows */
	int lazy_sock;			/* to the lazy server (-1: none) */
	pid_t lazy_pid;
	bool sysv_done;			/* restore_sysv_finish() ran for a restored tree */
	struct restore_ofd *ofds;	/* by ofd: restore_index_ofds() */
	size_t n_ofds;
	struct md_socks socks;		/* the image's sockets by inode */
	struct md_pipe *pipes;		/* sorted (md_pipes_sort()) */
	size_t n_pipes;
	struct restore_pty *ptys;	/* ptys.img */
	size_t n_ptys;
	int *pipe_fds;			/* per pipe: read and write end, ours (-1: none) */
	int *pipe_file;			/* per pipe: a description of it in rc->files, or -1 */
	struct md_sock_queue *sockq;	/* sockets.img: data to queue in unix sockets again */
	size_t n_sockq;
	int *sock_ends;			/* per rc->socks: a socket made before its fd's turn (sockets.c) */
	const struct md_fd **pending;	/* connections waiting in a backlog (md_socks_pending()) */
	size_t n_pending;
	struct md_tcp_stream *tcp;	/* tcp-stream.img: established TCP connections (tcp.c) */
	size_t n_tcp;
	int *tcp_fds;			/* per connection: its socket while in repair mode (rc->files owns it), or -1 */
	char *net_lock;			/* the dump's network lock, NULL: none */
	bool tcp_established;		/* --tcp-established */
	int tcp_raw4, tcp_raw6;		/* raw sockets giving connections their peer's FIN (tcpclose.c), or -1 */

	struct restore_file *files;	/* the image's descriptions, as restore_find_ofd() finds them */
	size_t n_files;
	struct restore_file *map_files;	/* files to map, and executables: by path and flags */
	size_t n_map_files;
	struct restore_epoll *epolls;
	size_t n_epolls;
	struct restore_ghost *ghosts;	/* files deleted while open or mapped, by id */
	size_t n_ghosts;
	int sock;			/* our end of the socket fds travel through */
	int sock_remote;		/* its other end: this fd number in every new process */
	pid_t outer_pgid;		/* memdump's group: the root's outer one */

	bool shell_job;			/* --shell-job */
	int tty_fd;			/* --shell-job: our terminal (-1: none) */

	struct child_report *rep;	/* MAP_SHARED */
	uint64_t root_syscall_ip;	/* a syscall instruction in our (the root's first) vdso */
};

/* 64 KiB, and a list of NGROUPS_MAX supplementary groups (creds.c) */
#define RESTORE_SCRATCH_SIZE (64 * 1024 + MD_NGROUPS_MAX * 4)

/* the process of the image with that pid (memdump's view), NULL if none */
struct restore_proc *restore_find_proc(const struct restore_ctx *rc, pid_t pid);

/*
 * PID namespaces (md_inventory.pid_ns): the image's ids are memdump's; a
 * syscall the tree makes names a process or thread by the id it has in
 * its own namespace. restore_ns_id(): that id of a process's or thread's
 * (id itself without pid_ns; 0: none of the tree's). restore_thread_ns_id():
 * that of thread tid of p (0: not one of p's). restore_set_tid(): the
 * set_tid array of clone3() making it (innermost first), its length.
 */
pid_t restore_ns_id(const struct restore_ctx *rc, pid_t id);
pid_t restore_thread_ns_id(const struct md_proc *p, pid_t tid);
size_t restore_set_tid(pid_t id, pid_t ns_id, pid_t set_tid[2]);

/*
 * Remote syscalls in thread tid of rp (thread.c): *ret is the leader's
 * context, or own made ready for tid; restore_thread_end() puts own back
 * (if used) and returns r, or its own failure.
 */
int restore_thread_begin(struct restore_proc *rp, pid_t tid, struct inject_ctx *own, struct inject_ctx **ret);
int restore_thread_end(struct inject_ctx *own, struct inject_ctx *c, int r);

/* ---- seccomp (seccomp.c) ---- */
/* whether a thread of p has a seccomp mode or no_new_privs */
bool restore_has_seccomp(const struct md_proc *p);
/* how many filters (oldest first) all threads of p have in common: installed once, synced (TSYNC) */
size_t restore_seccomp_shared(const struct md_proc *p);
/* before any process: sets rc->seccomp; tries each filter program on this kernel */
int restore_check_seccomp(struct restore_ctx *rc);
/* filters, strict mode and no_new_privs of every thread of rp, by remote syscalls; uses the scratch area */
int restore_seccomp(struct restore_proc *rp);

/* ---- scheduling and process-wide settings (attrs.c) ---- */
/* before the memory goes in: THP disabled or not, as in the image */
int restore_thp(struct restore_proc *rp);
/* once the memory is in, before threads and children: the audit login uid; uses the scratch area */
int restore_loginuid(struct restore_proc *rp);
/* the process's settings; uses the scratch area */
int restore_attrs(struct restore_proc *rp);
/* last, from outside: every thread's scheduling */
int restore_sched(struct restore_proc *rp);

/* ---- credentials (creds.c) ---- */
/* before any process: reads ours into rc; refuses credentials we cannot give (logged) */
int restore_check_creds(struct restore_ctx *rc);
/* every thread's credentials, then dumpable, by remote syscalls; uses the scratch area */
int restore_creds(struct restore_ctx *rc, struct restore_proc *rp);

/* status flags F_SETFL takes; the access mode is fixed at open */
#define RESTORE_SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)
/*
 * the flags to open f's file again with: those the description keeps, less O_NOFOLLOW if via_link,
 * as open() refuses a /proc/self/fd link with it (ELOOP); mkstemp() leaves it on a temporary file,
 * and it has no effect once the file is open
 */
int restore_open_flags(const struct md_fd *f, bool via_link);
/* fd with f's status flags (RESTORE_SETFL_MASK), or closed and -errno */
int restore_set_fl(int fd, const struct md_fd *f);

/* child.c: runs in the new root process, never returns */
void restore_child_main(struct restore_ctx *rc) __attribute__((noreturn));

/* files.c: memdump's side (before any process) and handing fds over (remote) */
int restore_open_files(struct restore_ctx *rc);
/* then, once every process of the tree exists, the pidfds on them */
int restore_open_pidfds(struct restore_ctx *rc);
void restore_close_files(struct restore_ctx *rc);
/* install the fd table of rp, close what it inherited and should not have, cwd, umask */
int restore_install_files(struct restore_ctx *rc, struct restore_proc *rp);
/* send our fd into rp: its number there in *ret (close-on-exec) */
int restore_send_fd(struct restore_ctx *rc, struct restore_proc *rp, int fd, int *ret);
/* our fd on the image's open file description ofd, -1 if none */
int restore_ofd_fd(struct restore_ctx *rc, uint64_t ofd);
/*
 * rc->ofds from the image's fds (at read time); restore_find_ofd(): the
 * image's description ofd, or NULL.
 */
int restore_index_ofds(struct restore_ctx *rc);
struct restore_ofd *restore_find_ofd(const struct restore_ctx *rc, uint64_t ofd);
/* a new open file description of our fd's file, with flags (and O_CLOEXEC); -1 with errno */
int restore_reopen(int fd, int flags);
/* the fd memdump holds for VMA v of rp (a file or memfd mapping, shared anon object) */
int restore_vma_file(struct restore_ctx *rc, const struct md_vma *v);
struct image_pages;
/*
 * The DATA pages of pm (vaddr: offset in the file) from pages, in pagemap
 * order, into fd at their offsets, up to size bytes (the last page may
 * reach past the end: what lies there reads as zeroes anyway). For shm
 * objects and deleted files.
 */
int restore_fill_file(const struct md_pagemap *pm, struct image_pages *pages, int fd, uint64_t size);
int restore_open_pages(const struct restore_ctx *rc, int dirfd, const char *name, uint64_t expect_pages,
		       struct image_pages **ret);
/* the shm object the image calls id: a SysV segment's or another's, NULL if none */
const struct restore_shm *restore_find_shm(const struct restore_ctx *rc, bool sysv, uint64_t id);

/*
 * locks.c: restore_take_locks() takes the flock() and OFD locks on our open
 * file descriptions and checks that nobody holds one in the way of a POSIX
 * lock, before any process exists; restore_posix_locks() takes rp's POSIX
 * locks (its fds installed) by remote fcntl(). A lock held by another
 * process fails the restore, naming the file.
 */
int restore_take_locks(struct restore_ctx *rc);
int restore_posix_locks(struct restore_proc *rp);

/* epoll.c: interest lists */
/* index the image's epoll descriptions; refuse an item that cannot be added back */
int restore_check_epoll(struct restore_ctx *rc);
/* add, once every file is open and before any process, the items a helper can add */
int restore_epoll_fill(struct restore_ctx *rc);
/* add, in rp (its fds installed), the items left that it is the first able to add */
int restore_epoll_add(struct restore_ctx *rc, struct restore_proc *rp);
void restore_free_epoll(struct restore_ctx *rc);

/* helper.c: fn(arg) in a forked child; its exit status, -EIO if a signal ended it, or -errno */
int restore_in_child(int (*fn)(void *arg), void *arg);
/*
 * n pidfds in fds, each its own description, on one child that ended with
 * wait status status (-1: exit 0) and has been reaped: 0, or -errno and
 * none
 */
int restore_gone_pidfds(int *fds, size_t n, int status);

/* files.c: the index in rc->pipes of the pipe or FIFO of fd f, -1 if none */
int restore_find_pipe(const struct restore_ctx *rc, const struct md_fd *f);

/* sockets.c */
/*
 * sockets.img, and how the image's sockets fit together (before anything is made;
 * procs: rc->procs' md_proc, as an array); logs
 */
int restore_read_sockets(struct restore_ctx *rc, const struct md_proc *procs, const char *dir);
/* our socket for socket fd f (its pair, name, queue, options); logs what fails */
int restore_open_socket(struct restore_ctx *rc, const struct md_fd *f);
/* the ends still waiting, and the queues */
void restore_close_sockets(struct restore_ctx *rc);
/* the socket fd of the image on socket ino (and its process), NULL if none: in rc->socks */
const struct md_fd *restore_find_sock(const struct restore_ctx *rc, uint64_t ino, pid_t *ret_pid);

/*
 * sockopts.c: the options of socket s on fd, early (just made, before
 * bind()) or late (its queues in); what failed in what ("set X to V"),
 * -errno. restore_sock_buf(): a buffer size as getsockopt() said it.
 */
int restore_sockopts(int fd, const struct md_sock *s, bool late, char *what, size_t len);
void restore_sock_buf(int fd, int force, int plain, uint32_t bytes);

/*
 * The tree's own IPC namespace (ipcns.c): a new one for memdump's thread
 * with the semaphore sets and message queues, before the segments are
 * made; its sysctls after them.
 */
int restore_ipcns(struct restore_ctx *rc);
int restore_ipcns_sysctls(struct restore_ctx *rc);
/* the tree's own time namespace, for memdump's children from now on (timens.c): before any timer is armed */
int restore_timens(const struct restore_ctx *rc);
/* memdump into a new network namespace for the tree, if it had one of its own (netns.c) */
int restore_netns(struct restore_ctx *rc);

/*
 * tcp.c: established TCP connections. restore_read_tcp(): tcp-stream.img,
 * checked against the fds of procs, refused without --tcp-established;
 * restore_make_tcp(): the socket of f, established in repair mode, with
 * f's status flags (logs);
 * restore_tcp_finish(): once the tree is in place, before it runs: the
 * network lock goes, the sockets leave repair mode; restore_tcp_release()
 * frees.
 */
int restore_read_tcp(struct restore_ctx *rc, const struct md_proc *procs, const char *dir);
/* before the sockets are made: refuses connections in use here, then locks them (the dump's lock name) */
int restore_tcp_lock(struct restore_ctx *rc);
int restore_make_tcp(struct restore_ctx *rc, const struct md_fd *f);
/* "TCP connection A:P - B:Q" (IPv6: [A]:P) of s into buf, for messages */
#define RESTORE_TCP_NAME_MAX 128
const char *restore_tcp_name(char *buf, size_t len, const struct md_sock *s);
int restore_tcp_finish(struct restore_ctx *rc);
void restore_tcp_release(struct restore_ctx *rc);

/*
 * tcpclose.c: connections closing half way, restored established. _prepare(),
 * with restore_tcp_lock(): the raw sockets the peers' FINs need (logs);
 * restore_tcp_close(): fd, out of repair mode, back in s's state; what the
 * network no longer allows (the peer reset it, the FIN does not reach it)
 * costs that connection only: warned, never failed, as the lock is gone.
 * restore_tcp_segment(): an IP packet of g in buf (its length, 0: cap too small).
 */
struct restore_segment {
	int family;			/* AF_INET, AF_INET6 */
	uint8_t src[16], dst[16];	/* the IPv4 address in the first 4 bytes */
	uint16_t sport, dport, window;
	uint32_t seq, ack;
	uint8_t flags;			/* TCP header flags: FIN 0x01, ACK 0x10 */
};

int restore_tcp_close_prepare(struct restore_ctx *rc);
void restore_tcp_close(const struct restore_ctx *rc, int fd, const struct md_sock *s, const struct md_tcp_stream *t);
size_t restore_tcp_segment(uint8_t *buf, size_t cap, const struct restore_segment *g);

/* inotify.c: an inotify instance with f's watches under their wds; logs */
int restore_make_inotify(const struct md_fd *f);

/* ghost.c: files deleted while open or mapped */
/* every ghost of the image, its data file opened and checked; before anything is made */
int restore_read_ghosts(struct restore_ctx *rc, const char *dir);
/* make each again and delete it; logs */
int restore_make_ghosts(struct restore_ctx *rc);
/*
 * our fd on ghost id, -1 if none: read-only, as the kernel wants a new exe
 * with no writer; with write, the O_RDWR one ghost_open_rw() made
 */
int restore_ghost_fd(const struct restore_ctx *rc, uint64_t id, bool write);
/* an O_RDWR fd on ghost id for restore_ghost_fd(), once; logs */
int restore_ghost_open_rw(struct restore_ctx *rc, uint64_t id);
void restore_ghosts_close(struct restore_ctx *rc);
void restore_ghosts_release(struct restore_ctx *rc);

/* sysv.c: SysV segments */
/* make (or take back) segment s under its id, with its owner, mode and data; logs */
int restore_make_sysv(struct restore_shm *s);
/* how many of vmas[0..n) are one attach: contiguous in memory and in the segment */
size_t restore_sysv_attach_len(const struct md_vma *vmas, size_t n);
/* attach s once for vmas[0..n) (one attach) in rp, and give each piece its protection */
int restore_map_sysv(struct restore_proc *rp, const struct md_vma *vmas, size_t n, const struct restore_shm *s);
/*
 * The end of a restore: remove segments removed at dump time (ok), or
 * those made for nothing (!ok); each is removed at most once.
 */
void restore_sysv_finish(struct restore_ctx *rc, bool ok);

/* parent.c: the sources of rp's pages, through the chain of parent images */
int restore_plan_sources(struct restore_ctx *rc, struct restore_proc *rp, const char *dir);

/* mm.c: the VMA of rp a source lies in (pagemap entries lie in one), or n_vmas if none */
size_t restore_src_vma(const struct restore_proc *rp, const struct restore_src *s);
/*
 * Whether a fault in a VMA madvised neither way may get a huge page: THP
 * "always", for PMD-sized pages or any smaller size (mTHP), as mmfd (a
 * directory like /sys/kernel/mm) says. Where that cannot be read (mmfd
 * -1, a file unreadable), yes; with no transparent_hugepage there, no.
 */
bool restore_thp_always(int mmfd);
/*
 * Whether VMA i of rp is filled by UFFDIO_COPY (fill.c), which spares the
 * kernel zeroing each page before the data goes over it: a private
 * anonymous one that gets data, not kept from the parent (its pages are
 * there already), and faulting small pages anyway (thp: restore_thp_always()),
 * since userfaultfd fills small pages only and a huge-page region must
 * come back huge. A locked one is locked after the fill.
 */
bool restore_vma_copy_filled(const struct restore_proc *rp, size_t i, bool thp);

/* fill.c: page data into a process */
/* len bytes of data at off of pages file p (within one chunk) go to addr */
struct restore_piece {
	struct image_pages *p;
	uint64_t off, addr, len;
};
struct restore_pieces {
	struct restore_piece *pc;	/* grouped by file and chunk */
	size_t n;
};
/* the sources of src[] that want() (NULL: all), cut at chunk ends; free ret->pc */
int restore_pieces(const struct restore_src *src, size_t n, bool (*want)(const struct restore_src *, void *),
		   void *arg, struct restore_pieces *ret);
/* how many of pc[0..n) are in pc[0]'s chunk */
size_t restore_group_len(const struct restore_piece *pc, size_t n);
/*
 * The data of one group (pieces of one chunk): piece k's at
 * *base + (pc[k].off - *base_off). buf holds MD_PAGES_CHUNK bytes; with
 * check, the chunk is checked against its hash first. Returns 1 if the
 * data is in the file's mapping (image_pages_raw_done() when done), 0 if
 * in buf or c.
 */
struct image_pages_cursor;
int restore_load_group(const struct restore_piece *pc, size_t n, struct image_pages_cursor *c, uint8_t *buf,
		       bool check, const uint8_t **base, uint64_t *base_off);
/*
 * every piece into pid, on a thread per CPU (at most 4); check: each chunk
 * against its hash. uffd (-1: none): a userfaultfd of pid's on which every
 * piece's VMA is registered in missing mode, its pages all missing; they go
 * in by UFFDIO_COPY (one found there already by process_vm_writev()).
 * The bytes UFFDIO_COPY placed in *copied, if copied is not NULL.
 */
int restore_fill(pid_t pid, int uffd, const struct restore_pieces *ps, bool check, uint64_t *copied);

/* lazy.c: --lazy-pages */
/*
 * A userfaultfd made by rp with flags, ours (pidfd_getfd), closed in rp; not
 * yet through UFFDIO_API (lazy.c's, and mm.c's for filling). *ret is the fd,
 * or the error that kept us from one (the kernel's refusal, no pidfd),
 * which is not logged; the return value is a failed remote syscall's.
 */
int restore_take_uffd(struct restore_proc *rp, int flags, int *ret);
/* UFFDIO_REGISTER of start..end on uffd in missing mode; -errno */
int restore_uffd_register_missing(int uffd, uint64_t start, uint64_t end);
/* fork the lazy server; before any process exists */
int restore_lazy_start(struct restore_ctx *rc);
/* hand rp's lazy VMAs (if any) to the server; before its memory is filled */
int restore_lazy_register(struct restore_ctx *rc, struct restore_proc *rp);
/* whether the server fills the pages of s */
bool restore_src_lazy(const struct restore_proc *rp, const struct restore_src *s);
/* tell the server the tree runs: it exits once every page is in */
int restore_lazy_done(struct restore_ctx *rc);
/* the server's loop (in the forked copy); sock from restore */
int restore_lazy_serve(struct restore_ctx *rc, int sock);

/* mm.c */
/* a free range of size bytes: clear of p's VMAs and of the two ranges to avoid */
int restore_find_hole(const struct md_proc *p, uint64_t size, uint64_t avoid_start, uint64_t avoid_end,
		      uint64_t avoid2_start, uint64_t avoid2_end, uint64_t *ret);
int restore_mm(struct restore_ctx *rc, struct restore_proc *rp);

/* thread.c */
int restore_threads(struct restore_proc *rp);
int restore_signals(struct restore_ctx *rc, struct restore_proc *rp);
int restore_finish_threads(struct restore_ctx *rc, struct restore_proc *rp);

/* timers.c: POSIX timers */
#define RESTORE_TIMER_GAPS_MAX 65536	/* timers made and deleted to reach ids, without the prctl */
/* before anything exists: whether p's timer ids can be made here */
int restore_check_timers(const struct restore_ctx *rc, const struct md_proc *p);
/* make rp's timers with their ids, disarmed; after its threads exist */
int restore_make_timers(struct restore_ctx *rc, struct restore_proc *rp);
/* arm them with the time they had left; last thing before the process runs */
int restore_arm_timers(struct restore_proc *rp);

/* tty.c: --shell-job */
/*
 * Before anything exists: refuse an image with a shell's terminal without
 * --shell-job, and with it find ours (memdump's stdin, its controlling
 * terminal) or refuse. Logs.
 */
int restore_tty_prepare(struct restore_ctx *rc, const char *dir);
/* our terminal again for f, an fd that was on the shell's terminal (md_fd.ctty): fd or -errno */
int restore_tty_open(const struct restore_ctx *rc, const struct md_fd *f);

/* pty.c: the tree's pseudo-terminals */
/* ptys.img, checked against procs (rc->procs' md_proc, as an array); logs */
int restore_read_ptys(struct restore_ctx *rc, const struct md_proc *procs, const char *dir);
/* before any process: every pty at its index, with its settings; logs */
int restore_open_ptys(struct restore_ctx *rc);
/* a new fd of ours for f, an MD_FD_PTY_MASTER or MD_FD_PTY_SLAVE fd: fd or -errno */
int restore_pty_open(struct restore_ctx *rc, const struct md_fd *f);
/* once the tree's fds are open: lock and make exclusive the ptys that were; logs */
int restore_ptys_lock(struct restore_ctx *rc);
/* rp, just made a session leader: the terminal of its session, if it had one; logs */
int restore_pty_ctty(struct restore_ctx *rc, struct restore_proc *rp);
/* once every group exists: each terminal's foreground group; logs */
int restore_pty_fg(struct restore_ctx *rc);
void restore_close_ptys(struct restore_ctx *rc);

/* a remote syscall in rp's leader; logs on failure, returns the target's result in *ret */
int restore_rcall(struct restore_proc *rp, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t a4, uint64_t a5, uint64_t a6, int64_t *ret);
/* the same, but a negative target result is an error too */
int restore_rcall_ok(struct restore_proc *rp, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		     uint64_t a4, uint64_t a5, uint64_t a6);
/* copy a string (NUL included) into rp's scratch area at off */
int restore_put_string(struct restore_proc *rp, uint64_t off, const char *s);
