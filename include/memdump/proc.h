#pragma once
/*
 * /proc readers and their pure parsers. Each proc_parse_*() takes a buffer
 * and fills a plain struct; each proc_read_*() reads the file and calls the
 * parser. Parsers stay quiet and return -EINVAL on malformed input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct md_vma;
struct md_creds;
struct md_mm;
struct md_posix_timer;

/* One line of /proc/PID/maps (no trailing newline needed). Allocates ret->path. */
int proc_parse_maps_line(const char *line, struct md_vma *ret);
/* The whole smaps text: VMAs with VmFlags filled in. *ret is malloc'ed. */
int proc_parse_smaps(const char *buf, struct md_vma **ret, size_t *ret_n);
/* "VmFlags: rd wr mr mw me ac sd" -> enum md_vmflag bits (unknown ones ignored). */
uint64_t proc_parse_vmflags(const char *s);
int proc_read_smaps(pid_t pid, struct md_vma **ret, size_t *ret_n);

/* /proc/PID/stat: comm may hold spaces and ')' */
struct proc_stat {
	pid_t pid;
	char comm[16];
	char state;
	pid_t ppid, pgrp, session;
	uint32_t tty_nr;	/* field 7: the controlling terminal, (minor & 0xff) | major << 8 | (minor & ~0xff) << 12 */
	pid_t tpgid;		/* field 8: its foreground process group, -1 if none */
	uint64_t flags;
	int64_t num_threads;
	uint64_t start_time;	/* field 22, clock ticks since boot: with the pid, names one process */
	uint64_t startstack;
	struct {
		uint64_t start_code, end_code, start_data, end_data, start_brk;
		uint64_t arg_start, arg_end, env_start, env_end;
	} mm;
	uint32_t exit_signal;
	int exit_code;
};
int proc_parse_stat(const char *buf, struct proc_stat *ret);
int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *ret);	/* tid 0: the process */
/* tty_nr as the st_rdev of the terminal's device file */
dev_t proc_tty_dev(uint32_t tty_nr);

/* /proc/PID/status: the few fields we need */
struct proc_status {
	char name[64];
	char state;
	pid_t tgid, pid, ppid;
	pid_t tracer;		/* TracerPid: 0 when not traced */
	uint32_t umask;		/* ~0u when absent */
	uint64_t sigpnd, shdpnd, sigblk, sigign, sigcgt;
	int64_t threads;
	uint32_t seccomp;	/* 0 off, 1 strict, 2 filter; 0 when absent */
	uint32_t seccomp_filters;	/* filters in force (Seccomp_filters, 5.9+); 0 when absent */
	bool no_new_privs;	/* NoNewPrivs */
	pid_t nspid_last;	/* last NSpid entry: the pid in its own PID namespace */
	uint32_t nspid_n;	/* NSpid entries: 2 in a child of /proc's namespace (0: no NSpid line) */
};
int proc_parse_status(const char *buf, struct proc_status *ret);
int proc_read_status(pid_t pid, pid_t tid, struct proc_status *ret);
/*
 * The credentials in a status text: Uid, Gid, Groups and the Cap* lines,
 * all required (securebits are not there: ret->secbits is 0). Allocates
 * ret->groups.
 */
int proc_parse_creds(const char *buf, struct md_creds *ret);

/* what /proc adds to the link or map path of a file deleted since it was opened */
#define PROC_DELETED_SUFFIX " (deleted)"
/* whether a /proc link or map path ends with PROC_DELETED_SUFFIX */
bool proc_path_deleted(const char *path);

/*
 * Every fd of the calling process above stdio but those keep(fd, arg)
 * says to keep closed, as /proc/self/fd lists them (a child that must hold
 * nothing else of its parent's): 0, or -errno if the list cannot be read
 */
int proc_close_fds(bool (*keep)(int fd, void *arg), void *arg);

/* /proc/PID/fdinfo/N: pos, flags (octal), mnt_id, ino */
struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags;
	int mnt_id;
	uint64_t ino;
};
int proc_parse_fdinfo(const char *buf, struct proc_fdinfo *ret);

/* The lines fdinfo adds for anonymous-inode objects (fs/eventfd.c, signalfd.c, timerfd.c). */
struct proc_eventfd {
	uint64_t count;
	bool semaphore;		/* EFD_SEMAPHORE */
	bool semaphore_known;	/* fdinfo says ("eventfd-semaphore:", 6.7 on) */
};
int proc_parse_eventfd(const char *buf, struct proc_eventfd *ret);
int proc_parse_signalfd(const char *buf, uint64_t *ret_sigmask);	/* bit n-1: signal n */
/*
 * A pidfd's process (kernel/pid.c pidfd_show_fdinfo()): "Pid:" its pid in
 * /proc's PID namespace, -1 once it has exited and been reaped, 0 when it
 * is in no namespace /proc sees.
 */
int proc_parse_pidfd(const char *buf, pid_t *ret_pid);
struct proc_timerfd {
	int clockid;
	uint64_t ticks;			/* expirations not read yet */
	uint32_t settime_flags;		/* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	uint64_t value_ns, interval_ns;	/* time left (0: disarmed), period */
};
int proc_parse_timerfd(const char *buf, struct proc_timerfd *ret);
/*
 * The "lock:" lines of an fdinfo (fs/locks.c lock_get_status()): the locks
 * the fd holds; leases and delegations as MD_LOCK_OTHER. *ret malloc'ed,
 * NULL if none.
 */
struct md_file_lock;
int proc_parse_locks(const char *buf, struct md_file_lock **ret, size_t *ret_n);
/* an epoll fd's "tfd:" lines, in order (ofd 0); *ret malloc'ed, NULL if none */
struct md_epoll_item;
int proc_parse_epoll(const char *buf, struct md_epoll_item **ret, size_t *ret_n);

/*
 * /proc/PID/timers: id, signal, sigev_value, notify (and its thread), clock
 * of each POSIX timer, sorted by id; the times are left 0. *ret is malloc'ed
 * (NULL when there is none).
 */
int proc_parse_timers(const char *buf, struct md_posix_timer **ret, size_t *ret_n);
int proc_read_timers(pid_t pid, struct md_posix_timer **ret, size_t *ret_n);

/*
 * The watches of an inotify fd (fs/notify/fdinfo.c), in fdinfo's order
 * (newest first). fh_* only where the file system could encode a handle
 * (has_fh). *ret is malloc'ed (NULL with no watch). src/proc/inotify.c
 */
#define PROC_FHANDLE_MAX 128	/* MAX_HANDLE_SZ */
struct proc_inotify_watch {
	int32_t wd;
	uint64_t ino;
	uint32_t sdev;		/* kernel dev_t: major << 20 | minor */
	uint32_t mask;
	uint32_t ignored_mask;
	bool has_fh;
	uint32_t fh_bytes;
	int32_t fh_type;
	uint8_t fh[PROC_FHANDLE_MAX];
};
int proc_parse_inotify(const char *buf, struct proc_inotify_watch **ret, size_t *ret_n);

/* /proc/PID/mountinfo, one entry per mount (src/proc/mountinfo.c) */
struct proc_mount {
	int mnt_id;
	int parent_id;		/* the mount it is on (the namespace's root: one not listed) */
	bool propagates;	/* shared or a slave (optional fields shared:N, master:N) */
	unsigned major, minor;	/* st_dev of its files */
	char *root;		/* the directory of the file system mounted there */
	char *mount_point;	/* where, in the reader's root */
	char *opts;		/* the mount's options ("rw,nosuid,relatime"), as shown */
	char *fstype;		/* after the separator: file system type, */
	char *source;		/* source, */
	char *super_opts;	/* and the file system's options, as shown (NULL if the line ends early) */
};
int proc_parse_mountinfo(const char *buf, struct proc_mount **ret, size_t *ret_n);
void proc_mounts_free(struct proc_mount *m, size_t n);

/*
 * A multicast group an interface has joined for its sockets (and itself),
 * one line of /proc/net/igmp or /proc/net/igmp6 (src/proc/igmp.c).
 */
struct proc_mcast_group {
	int family;		/* AF_INET, AF_INET6 */
	uint8_t group[16];	/* network byte order, 4 or 16 bytes */
	uint32_t ifindex;
	char ifname[16];	/* IFNAMSIZ */
};
/*
 * Whether the text of /proc/net/netfilter/nfnetlink_log or _queue has an
 * nflog group or NFQUEUE queue bound to netlink port portid; and the same
 * of both files (*ret; a file missing has none), -errno (src/proc/nfnetlink.c).
 */
bool proc_nfnl_port_bound(const char *buf, uint32_t portid);
int proc_nfnl_port_used(uint32_t portid, bool *ret);

/* Append the groups of the text of /proc/net/igmp (or igmp6) to *ret, *ret_n of them. */
int proc_parse_igmp(const char *buf, struct proc_mcast_group **ret, size_t *ret_n);
int proc_parse_igmp6(const char *buf, struct proc_mcast_group **ret, size_t *ret_n);
/* Both files of the caller's network namespace; one that is missing (no IPv6) has none. */
int proc_read_mcast_groups(struct proc_mcast_group **ret, size_t *ret_n);

/*
 * /proc/PID/cgroup (or task/TID/cgroup), whose paths are relative to the
 * reader's cgroup namespace: 1 if every hierarchy has the task at that
 * namespace's root ("/"), 0 if not (the first other line, without its
 * newline, into off), -EINVAL if malformed.
 */
int proc_parse_cgroup_root(const char *buf, char *off, size_t len);

/*
 * A CPU list ("0-3,8\n") into a mask of MD_CPU_WORDS words, bit n of word
 * n / 64 being CPU n; -ERANGE for a CPU past the mask.
 */
int proc_parse_cpulist(const char *s, uint64_t *cpus);
/* pid's cpuset (/proc/PID/cpuset, without the newline; "" in a kernel without cpusets), malloc'ed */
int proc_cpuset_path(pid_t pid, char **ret);
/* The CPUs that cpuset gives its tasks (effective ones), or those online where no cpuset is mounted. */
int proc_cpuset_effective(const char *cpuset, uint64_t *cpus);

/* /proc/PID/task: sorted tids. *ret is malloc'ed. */
int proc_list_tasks(pid_t pid, pid_t **ret, size_t *ret_n);
/* Processes whose parent is one of parents[0..n) (zombies included), sorted. *ret is malloc'ed. */
int proc_list_children(const pid_t *parents, size_t n, pid_t **ret, size_t *ret_n);

/* Whole small file into a NUL-terminated malloc'ed buffer. */
int proc_read_file(const char *path, char **ret, size_t *ret_len);
int proc_read_filef(char **ret, size_t *ret_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PME_PRESENT (1ULL << 63)
#define PME_SWAP (1ULL << 62)
#define PME_FILE (1ULL << 61)	/* file-page or shared-anon */
#define PME_GUARD (1ULL << 58)
#define PME_UFFD_WP (1ULL << 57)
#define PME_EXCLUSIVE (1ULL << 56)
#define PME_SOFT_DIRTY (1ULL << 55)
#define PME_PFN_MASK ((1ULL << 55) - 1)
/*
 * A swap entry's low 5 bits are its type. The top type is the kernel's PTE
 * marker (SWP_PTE_MARKER), never a swap area: a uffd-wp marker on a page
 * never populated reads 0x420000000000003f, and holds no data.
 */
#define PME_SWAP_TYPE_MASK 0x1fULL
#define PME_SWAP_TYPE_MARKER 0x1fULL

static inline bool pme_present(uint64_t e) { return e & PME_PRESENT; }
static inline bool pme_swapped(uint64_t e) { return e & PME_SWAP; }
static inline bool pme_file(uint64_t e) { return e & PME_FILE; }
static inline uint64_t pme_pfn(uint64_t e) { return (e & PME_PRESENT) ? (e & PME_PFN_MASK) : 0; }

/* pread the pagemap entries for [start, end) into ret (one uint64 per page). */
int proc_pagemap_read(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *ret);
