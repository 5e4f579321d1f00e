#pragma once
/*
 * Image files: the only stage that knows protobuf-c and zstd.
 * Every file starts with a header (magic, format version, kind, payload
 * size, XXH3-64 of the payload); metadata files hold one protobuf message,
 * pages files page data after a 4096-byte header.
 *
 * Files of an image directory (see images/README.md):
 *   inventory.img         struct md_inventory
 *   core-PID.img          threads, sigactions, itimers, rlimits, pending signals
 *   mm-PID.img            VMAs, mm fields, auxv, exe, vdso hash
 *   files-PID.img         fds, cwd, umask
 *   pagemap-PID.img       struct md_pagemap of the process
 *   pages-PID.img         the data of its MD_PM_DATA entries, in order
 *   shm-ID.img            struct md_shm + its pagemap (vaddr = offset in object)
 *   pages-shm-ID.img      the data of that pagemap
 *   sysvshm-ID.img        the same for SysV segment ID (md_shm.sysv set)
 *   pages-sysvshm-ID.img
 *   pages-ghost-ID.img    the data of a file deleted while open or mapped (md_ghost in files-PID.img)
 *   pipes.img             every pipe of the tree and its unread bytes (if any pipe)
 *   sockets.img           unread data of the tree's unix sockets (if any)
 *   tcp-stream.img        established TCP connections, and the network lock (if any)
 *   ipcns.img             the tree's own IPC namespace: semaphores, message queues, sysctls (if any)
 *   track.img             struct md_track: dirty tracking for the next dump (if any)
 *   parent                symlink to the parent image of an incremental dump (if any)
 *
 * Readers validate as they read (magic, version, kind, size, checksum) and
 * log one line naming the file and what is wrong; they return -EINVAL (bad
 * content) or -errno (I/O).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct md_inventory;
struct md_proc;
struct md_socks;
struct md_pagemap;
struct md_shm;
struct md_pipe;
struct md_pty;
struct md_track;
struct md_sock_queue;
struct md_tcp_stream;

#define MD_IMAGE_MAGIC "MEMDUMP\0"	/* 8 bytes */
#define MD_FORMAT_VERSION 2	/* 2: pages files in indexed chunks, optionally zstd */
#define MD_PAGES_HEADER_SIZE 4096
#define MD_PAGES_CHUNK (1u << 20)	/* data bytes per chunk of a pages file */
#define MD_PAGES_F_INDEX 1u		/* header flags of a version 2 pages file */
#define MD_PAGES_F_ZSTD 2u
#define MD_PAGES_F_LZ4 4u
/*
 * header flag of an mm file: a VMA or the exe is a deleted file the files
 * image holds (Vma.ghost, MmImage.exe_ghost). Readers before it refuse the
 * flag: they would map whatever file has that path now.
 */
#define MD_MM_F_GHOSTS 1u
/*
 * header flag of a files image: a directory was removed while an fd or the
 * cwd was on it (Fd.ghost of an FD_DIR, FilesImage.cwd_ghost). Readers
 * before it refuse the flag: they would go to whatever has that path now.
 */
#define MD_FILES_F_GHOST_DIRS 1u
#define MD_FILES_F_ALL MD_FILES_F_GHOST_DIRS
/*
 * header flag of a core file: a thread runs under seccomp or with
 * no_new_privs (Thread.seccomp_mode, .no_new_privs). Readers before it
 * refuse the flag: they would restore the process without its sandbox.
 */
#define MD_CORE_F_SECCOMP 1u
/*
 * header flag of a core file: a thread's credentials are not full root's
 * (Thread.creds). Readers before it refuse the flag: they would restore
 * the process as root.
 */
#define MD_CORE_F_CREDS 2u
/*
 * header flag of a core file: the process was stopped (CoreImage.stop_signo).
 * Readers before it refuse the flag: they would let it run.
 */
#define MD_CORE_F_STOPPED 4u
/*
 * header flag of a core file: a thread is scheduled otherwise than a new
 * one (Thread.sched), or a process-wide setting is not 0 (oom_score_adj,
 * child_subreaper, thp_disable, mdwe, membarrier). Readers before it
 * refuse the flag: they would restore the process without them. The
 * login uid is not under it: every process of a login session has one.
 */
#define MD_CORE_F_ATTRS 8u
#define MD_CORE_F_ALL (MD_CORE_F_SECCOMP | MD_CORE_F_CREDS | MD_CORE_F_STOPPED | MD_CORE_F_ATTRS)
/*
 * header flag of the inventory: the tree has namespaces of its own
 * (InventoryImage.pid_ns, .uts_hostname). Readers before it refuse the
 * flag: they would restore the tree in theirs, with other pids or names.
 */
#define MD_INVENTORY_F_NS 1u
/*
 * header flag of the inventory: the tree has a network namespace of its
 * own (InventoryImage.net_ns). Readers before it refuse the flag: they
 * would restore the tree in theirs, with the host's network.
 */
#define MD_INVENTORY_F_NETNS 2u
/*
 * header flag of the inventory: the tree has an IPC namespace of its own
 * (InventoryImage.ipc_ns, ipcns.img). Readers before it refuse the flag:
 * they would restore the tree in theirs, without its semaphores, message
 * queues and unattached segments.
 */
#define MD_INVENTORY_F_IPCNS 4u
/*
 * header flag of the inventory: the tree has a time namespace of its own
 * (InventoryImage.time_ns). Readers before it refuse the flag: they would
 * restore the tree in theirs, its clocks jumping (back, on another host).
 */
#define MD_INVENTORY_F_TIMENS 8u
/*
 * header flag of the inventory: the tree has a cgroup namespace of its own
 * (InventoryImage.cgroup_ns). Readers before it refuse the flag: they
 * would restore the tree in theirs, seeing other cgroup paths.
 */
#define MD_INVENTORY_F_CGROUPNS 16u
#define MD_INVENTORY_F_ALL (MD_INVENTORY_F_NS | MD_INVENTORY_F_NETNS | MD_INVENTORY_F_IPCNS | MD_INVENTORY_F_TIMENS | \
			    MD_INVENTORY_F_CGROUPNS)
/*
 * header flag of ipcns.img: the namespace has POSIX message queues
 * (IpcNsImage.mqs). Readers before it refuse the flag: they would restore
 * the tree without them.
 */
#define MD_IPCNS_F_POSIX_MQ 1u

enum md_image_kind {
	MD_IMG_INVENTORY = 1,
	MD_IMG_CORE = 2,
	MD_IMG_MM = 3,
	MD_IMG_FILES = 4,
	MD_IMG_PAGEMAP = 5,
	MD_IMG_PAGES = 6,
	MD_IMG_SHM = 7,
	MD_IMG_PIPES = 8,
	MD_IMG_TRACK = 9,
	MD_IMG_SOCKETS = 10,
	MD_IMG_TCP = 11,
	MD_IMG_PTYS = 12,
	MD_IMG_IPCNS = 13,
};

/* Whether name is that of an image file: "*.img", no '/', not starting with '.'. */
bool image_file_name(const char *name);

/* Open (and with create, mkdir -p) an image directory; with create it must be empty. */
int image_dir_open(const char *path, bool create, int *ret_dirfd);

int image_write_inventory(int dirfd, const struct md_inventory *inv);
int image_read_inventory(int dirfd, struct md_inventory *ret);

/* core-, mm- and files-PID.img; a zombie has only core-PID.img */
int image_write_proc(int dirfd, const struct md_proc *p);
int image_read_proc(int dirfd, pid_t pid, struct md_proc *ret);

int image_write_pagemap(int dirfd, pid_t pid, const struct md_pagemap *pm);
int image_read_pagemap(int dirfd, pid_t pid, struct md_pagemap *ret);

/*
 * ptys.img (src/image/ptys.c); a missing file reads as no ptys. Read
 * checks each pty (index, flags); image_check_ptys() that the fds and
 * sessions of the image fit them (pure; err gets a one-line reason,
 * -EINVAL): every pty fd's pty is there, with an fd on its master, each
 * master's fds share one description, a terminal's session is led by a
 * process of the image whose group or another of that session is the
 * foreground one.
 */
int image_write_ptys(int dirfd, const struct md_pty *t, size_t n);
int image_read_ptys(int dirfd, struct md_pty **ret, size_t *ret_n);
int image_check_ptys(const struct md_proc *procs, size_t n, const struct md_pty *t, size_t nt, char *err,
		     size_t errlen);

/*
 * ipcns.img (src/image/ipcns.c), there only with md_inventory.ipc_ns.
 * Read checks sysctl names (md_ipc_sysctl_name_ok()) and values, ids and
 * keys (no two alike of a kind), sizes and semaphore values.
 */
struct md_ipcns;
int image_write_ipcns(int dirfd, const struct md_ipcns *ns);
int image_read_ipcns(int dirfd, struct md_ipcns *ret);

/* pipes.img; a missing file reads as no pipes; read sorted (md_pipes_sort()), none twice */
int image_write_pipes(int dirfd, const struct md_pipe *pipes, size_t n);
int image_read_pipes(int dirfd, struct md_pipe **ret, size_t *ret_n);

/*
 * sockets.img (src/image/sockets.c); a missing file reads as no queues.
 * Reading checks each queue on its own (one socket named once, packets
 * that fit); how queues and fds fit together is image_check_sockets().
 */
int image_write_sockets(int dirfd, const struct md_sock_queue *q, size_t n);
int image_read_sockets(int dirfd, struct md_sock_queue **ret, size_t *ret_n);
/* the queue of socket ino in q[0..n), as image_read_sockets() sorts them by inode; NULL if none */
const struct md_sock_queue *image_find_queue(const struct md_sock_queue *q, size_t n, uint64_t ino);
/*
 * The sockets of a whole image (pure; err gets a one-line reason, -EINVAL;
 * or -ENOMEM): every fd on one socket agrees with the others (same
 * description, same state), a unix peer is a socket of the image (and a
 * stream peer is connected back), a connection waiting in a backlog waits
 * in a listening socket of the image, alone at its place, a queue belongs
 * to a unix socket restore can refill (one with a peer end), names and
 * addresses are well formed. socks: the sockets of procs (md_socks_make()).
 */
int image_check_sockets(const struct md_socks *socks, const struct md_proc *procs, size_t n,
			const struct md_sock_queue *q, size_t nq, char *err, size_t errlen);

/*
 * tcp-stream.img (src/image/tcp.c); a missing file reads as no connections
 * and no lock. net_lock: the nftables table holding their packets, or NULL.
 * image_check_tcp(): every established TCP socket of the fds has its state
 * and every state a socket (logs nothing; err gets a one-line reason,
 * -EINVAL; or -ENOMEM); socks as for image_check_sockets().
 */
int image_write_tcp(int dirfd, const struct md_tcp_stream *t, size_t n, const char *net_lock);
int image_read_tcp(int dirfd, struct md_tcp_stream **ret, size_t *ret_n, char **ret_lock);
int image_check_tcp(const struct md_socks *socks, const struct md_proc *procs, size_t n, const struct md_tcp_stream *t,
		    size_t nt, char *err, size_t errlen);

/* shm-ID.img, or sysvshm-ID.img for a SysV segment (s->sysv) */
/* track.img; a missing file reads as MD_TRACK_NONE */
int image_write_track(int dirfd, const struct md_track *t);
int image_read_track(int dirfd, struct md_track *ret);

int image_write_shm(int dirfd, const struct md_shm *s, const struct md_pagemap *pm);
int image_read_shm(int dirfd, bool sysv, uint64_t id, struct md_shm *ret, struct md_pagemap *ret_pm);

/*
 * Pages files, streamed. name is "pages-PID.img", "pages-shm-ID.img",
 * "pages-sysvshm-ID.img" or "pages-ghost-ID.img" (image_pages_name() builds it). The writer
 * compresses (if asked), hashes and writes on threads of its own while the
 * caller fills its buffers, and writes the index and header on finish.
 */
enum md_pages_of {
	MD_PAGES_PROC,		/* a process, id = pid */
	MD_PAGES_SHM,		/* a memfd or shared anonymous object, id = inode */
	MD_PAGES_SYSV,		/* a SysV segment, id = shmid */
	MD_PAGES_GHOST,		/* a file deleted while open or mapped, id = md_ghost.id */
};
struct image_pages_writer;
void image_pages_name(char *buf, size_t len, enum md_pages_of of, uint64_t id);
int image_pages_create(int dirfd, const char *name, struct image_pages_writer **ret);
/* the same file sent to a page server as it is written (memdump/xfer.h) */
struct xfer;
int image_pages_create_remote(struct xfer *x, const char *name, struct image_pages_writer **ret);
/*
 * How a pages file's chunks are stored (--compress); chosen before any data.
 * zstd: level is zstd's; negative levels are its fast ones (zstd --fast=N
 * is level -N), and the bounds keep the choice to levels whose window fits
 * a chunk (19) and to a sane fast end. lz4 (level 0): LZ4's default block
 * compressor, which restores about twice as fast as zstd for a larger file.
 */
enum md_codec { MD_CODEC_NONE, MD_CODEC_ZSTD, MD_CODEC_LZ4 };
struct md_compress {
	enum md_codec codec;
	int level;
};
#define MD_ZSTD_MIN_LEVEL (-100)
#define MD_ZSTD_MAX_LEVEL 19
/* zstd at level, or none for level 0 */
static inline struct md_compress md_zstd(int level)
{
	return (struct md_compress){ level ? MD_CODEC_ZSTD : MD_CODEC_NONE, level };
}
bool image_compress_valid(struct md_compress c);
const char *image_codec_name(enum md_codec codec);
int image_pages_compress(struct image_pages_writer *w, struct md_compress c);
/*
 * Zero-copy filling: reserve gives the free part of the writer's current
 * buffer (waits for one; fails with the pipeline's first error), commit
 * says how much of it now holds data. write() copies through the same.
 */
int image_pages_reserve(struct image_pages_writer *w, void **buf, size_t *len);
void image_pages_commit(struct image_pages_writer *w, size_t len);
/*
 * For several fillers: a whole buffer (IMAGE_PAGES_SLOT bytes) whose place
 * in the file is taken when it is got; put it back with how much it holds,
 * which must be all of it except in the last one got. Not to be mixed with
 * reserve/commit on one writer.
 */
#define IMAGE_PAGES_SLOT (4u << 20)
struct image_pages_slot;
int image_pages_get(struct image_pages_writer *w, struct image_pages_slot **ret, void **buf);
void image_pages_put(struct image_pages_writer *w, struct image_pages_slot *s, size_t len);
int image_pages_write(struct image_pages_writer *w, const void *buf, size_t len);
int image_pages_finish(struct image_pages_writer *w);	/* writes index and header, fsync-free, frees w */
void image_pages_abort(struct image_pages_writer *w);	/* frees w, leaves the file */

/*
 * Reader: image_pages_open() checks the header, the index, the size
 * against expect_pages and (verify) the checksum of every chunk. Data is
 * addressed by its offset in the data stream (page n of the file at
 * n * 4096). A cursor holds one decompressed chunk (of any codec), and
 * once it has met a zstd file a zstd context: one per thread. A raw
 * file's data chunk i is at image_pages_fd() offset MD_PAGES_HEADER_SIZE +
 * i * MD_PAGES_CHUNK, page aligned.
 */
struct image_pages;
struct image_pages_cursor;
struct image_pages_stat {
	uint64_t data_size;	/* bytes of page data */
	uint64_t stored_size;	/* bytes they take in the file */
	uint32_t n_chunks;
	enum md_codec codec;	/* MD_CODEC_NONE: chunk i at MD_PAGES_HEADER_SIZE + i * MD_PAGES_CHUNK */
	bool chunk_hashes;	/* each chunk can be checked alone (version 2) */
};
#define MD_PAGES_ANY UINT64_MAX	/* expect_pages: whatever it holds (memdump show) */
int image_pages_open(int dirfd, const char *name, uint64_t expect_pages, bool verify, struct image_pages **ret);
void image_pages_close(struct image_pages *p);
int image_pages_verify(struct image_pages *p);
void image_pages_info(const struct image_pages *p, struct image_pages_stat *ret);
int image_pages_fd(const struct image_pages *p);
/*
 * The raw data [off, off + len) in place, in the file's mapping: NULL if
 * compressed or unmapped. For the kernel to read (process_vm_writev()):
 * touched in user space, a file cut short meanwhile raises SIGBUS.
 */
const uint8_t *image_pages_raw(const struct image_pages *p, uint64_t off, size_t len);
/* done with what image_pages_raw() gave: out of memdump's RSS (the page cache keeps it) */
void image_pages_raw_done(const struct image_pages *p, uint64_t off, size_t len);
int image_pages_cursor_new(struct image_pages_cursor **ret);
void image_pages_cursor_free(struct image_pages_cursor *c);
/* chunk's data (in c, valid until its next use); check: against its own hash first */
int image_pages_load(struct image_pages *p, struct image_pages_cursor *c, uint32_t chunk, bool check,
		     const uint8_t **data, size_t *len);
/* len bytes of data at off into buf; without c (NULL), one is made for the call if needed */
int image_pages_read(struct image_pages *p, struct image_pages_cursor *c, uint64_t off, void *buf, size_t len);

/* Cross-reference checks on a read process (pure; err gets a one-line reason). */
int image_check_proc(const struct md_proc *p, const struct md_pagemap *pm, char *err, size_t errlen);
/*
 * The processes' and threads' ids in the tree's own PID namespace (pid_ns:
 * the inventory's): one each, the root's 1, none twice; none without pid_ns.
 */
int image_check_pidns(bool pid_ns, const struct md_proc *procs, size_t n, char *err, size_t errlen);

/*
 * Every pidfd of the tree that names a process (md_fd.pidfd_pid) names one
 * of procs; pidfds on one process gone (md_fd.pidfd_gone) tell one status.
 */
int image_check_pidfds(const struct md_proc *procs, size_t n, char *err, size_t errlen);

/* memdump show: a directory (every image) or one file, as JSON on out. */
int image_show(const char *path, FILE *out);
