#pragma once
/*
 * The in-memory model of a checkpoint: plain structs that every stage
 * shares. dump/ fills them, image/ turns them into protobuf-c messages and
 * back, restore/ consumes them. Only image/ knows the on-disk encoding.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define MD_PAGE_SIZE 4096ULL
#define MD_NSIG 64		/* kernel signals 1..64 */
#define MD_RLIM_NLIMITS 16
#define MD_SIGINFO_SIZE 128	/* sizeof(siginfo_t) on x86_64 */
#define MD_CPU_WORDS 16		/* CPU masks: 1024 CPUs, as glibc's cpu_set_t */

/*
 * Whether st is a wait status waitpid() gives for a process that ended:
 * an exit code in bits 8 to 15, or a signal in bits 0 to 6 with 0x80 for
 * a core dumped.
 */
static inline bool md_wait_status_valid(uint32_t st)
{
	uint32_t sig = st & 0x7f;

	if (st > 0xffff)
		return false;
	return sig ? sig <= MD_NSIG && !(st >> 8) : !(st & 0x80);
}

/* bytes rounded up to whole pages */
static inline uint64_t md_page_round_up(uint64_t bytes)
{
	return (bytes + MD_PAGE_SIZE - 1) & ~(MD_PAGE_SIZE - 1);
}

/* VMA kind, from the maps line (path column and flags) */
enum md_vma_kind {
	MD_VMA_ANON = 1,	/* private or shared anonymous, [heap], [stack] */
	MD_VMA_FILE,		/* a regular file, private or shared */
	MD_VMA_MEMFD,		/* "/memfd:NAME (deleted)", object in vma.shm_id */
	MD_VMA_SHMEM,		/* shared anonymous ("/dev/zero (deleted)"), object in shm_id */
	MD_VMA_VDSO,		/* [vdso] */
	MD_VMA_VVAR,		/* [vvar] */
	MD_VMA_VVAR_VCLOCK,	/* [vvar_vclock] */
	MD_VMA_VSYSCALL,	/* [vsyscall] */
	MD_VMA_SYSV,		/* SysV shm ("/SYSV<key> (deleted)"), segment id in shm_id */
};

/* The VmFlags mnemonics of smaps, one bit each (see proc(5)). */
enum md_vmflag {
	MD_VMF_RD = 1ULL << 0,	MD_VMF_WR = 1ULL << 1,	MD_VMF_EX = 1ULL << 2,
	MD_VMF_SH = 1ULL << 3,	MD_VMF_MR = 1ULL << 4,	MD_VMF_MW = 1ULL << 5,
	MD_VMF_ME = 1ULL << 6,	MD_VMF_MS = 1ULL << 7,	MD_VMF_GD = 1ULL << 8,
	MD_VMF_PF = 1ULL << 9,	MD_VMF_LO = 1ULL << 10,	MD_VMF_IO = 1ULL << 11,
	MD_VMF_SR = 1ULL << 12,	MD_VMF_RR = 1ULL << 13,	MD_VMF_DC = 1ULL << 14,
	MD_VMF_DE = 1ULL << 15,	MD_VMF_AC = 1ULL << 16,	MD_VMF_NR = 1ULL << 17,
	MD_VMF_HT = 1ULL << 18,	MD_VMF_SF = 1ULL << 19,	MD_VMF_AR = 1ULL << 20,
	MD_VMF_WF = 1ULL << 21,	MD_VMF_DD = 1ULL << 22,	MD_VMF_SD = 1ULL << 23,
	MD_VMF_MM = 1ULL << 24,	MD_VMF_HG = 1ULL << 25,	MD_VMF_NH = 1ULL << 26,
	MD_VMF_MG = 1ULL << 27,	MD_VMF_UM = 1ULL << 28,	MD_VMF_UW = 1ULL << 29,
	MD_VMF_SS = 1ULL << 30,	MD_VMF_SL = 1ULL << 31,	MD_VMF_BT = 1ULL << 32,
	MD_VMF_MT = 1ULL << 33,	MD_VMF_DW = 1ULL << 34,	MD_VMF_NL = 1ULL << 35,
	MD_VMF_GU = 1ULL << 36,	/* guard regions present (6.15+) */
	MD_VMF_LF = 1ULL << 37,	/* lock on fault */
};

struct md_vma {
	uint64_t start;		/* first byte */
	uint64_t end;		/* one past the last byte */
	uint64_t pgoff;		/* file offset in bytes (maps column) */
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' in maps, MAP_SHARED */
	enum md_vma_kind kind;
	uint64_t vmflags;	/* enum md_vmflag bits from smaps */
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	char *path;		/* file path as in maps (without " (deleted)"), "[heap]", "[stack]" or NULL */
	bool deleted;		/* maps showed " (deleted)" */
	uint64_t shm_id;	/* MD_VMA_MEMFD/SHMEM: id of the object (its inode number);
				 * MD_VMA_SYSV: the segment's shmid (also its inode number) */
	uint64_t ghost;		/* MD_VMA_FILE deleted: id of its md_ghost (an fd's of this
				 * process, or in md_proc.mapped), 0: none */
};

/* mm fields from /proc/PID/stat (fields 26-28, 45-51) */
struct md_mm {
	uint64_t start_code, end_code;
	uint64_t start_data, end_data;
	uint64_t start_brk, brk;
	uint64_t start_stack;
	uint64_t arg_start, arg_end;
	uint64_t env_start, env_end;
};

/* x86_64 struct user_regs_struct, field by field */
struct md_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
	uint64_t fs_base, gs_base, ds, es, fs, gs;
};

struct md_rseq {
	uint64_t addr;		/* 0: not registered */
	uint32_t len;
	uint32_t flags;
	uint32_t sig;
};

struct md_sigaltstack {
	uint64_t sp;
	uint32_t flags;		/* SS_DISABLE, SS_AUTODISARM */
	uint64_t size;
};

/*
 * A thread's credentials: ids, supplementary groups, capability sets (bit
 * n: capability n) and securebits. Threads of a process may differ: the
 * kernel keeps them per thread; glibc keeps them in step.
 */
struct md_creds {
	uint32_t uid[4], gid[4];	/* real, effective, saved, file system */
	uint32_t *groups;		/* as getgroups() lists them */
	size_t n_groups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t secbits;		/* SECBIT_* of PR_GET_SECUREBITS */
};

/* SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU: a signal whose default action stops a process */
bool md_stop_signal(int sig);

/* at most NGROUPS_MAX supplementary groups */
#define MD_NGROUPS_MAX 65536

/* what a full root thread holds: ids 0, every capability of its bounding set, no more */
bool md_creds_full_root(const struct md_creds *c);
/* a and b are the same credentials, groups in the same order */
bool md_creds_same(const struct md_creds *a, const struct md_creds *b);
/* the same ids (real, effective, saved, fs) and groups, in the same order; capabilities aside */
bool md_creds_same_ids(const struct md_creds *a, const struct md_creds *b);

struct md_siginfo {
	uint8_t raw[MD_SIGINFO_SIZE];	/* kernel siginfo as PTRACE_PEEKSIGINFO returns it */
};
/* its si_signo, the first int of every siginfo */
int md_siginfo_signo(const struct md_siginfo *si);

/*
 * How a thread is scheduled: sched_getattr() and getpriority(), its CPUs
 * (sched_getaffinity()), I/O priority (ioprio_get()) and timer slack
 * (PR_GET_TIMERSLACK).
 */
struct md_sched {
	uint32_t policy;		/* SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5, DEADLINE 6, EXT 7 */
	uint32_t flags;			/* MD_SCHED_FLAGS: SCHED_FLAG_RESET_ON_FORK, _RECLAIM, _DL_OVERRUN */
	int32_t nice;			/* -20..19, whatever the policy (the fair classes' weight) */
	uint32_t priority;		/* FIFO, RR: 1..99; else 0 */
	uint64_t dl_runtime, dl_deadline, dl_period;	/* DEADLINE: ns; else 0 */
	uint32_t ioprio;		/* IOPRIO_PRIO_VALUE(class, data); 0 (class NONE): follows nice */
	uint64_t timer_slack_ns;	/* 0 only for FIFO, RR and DEADLINE threads */
	bool pinned;			/* its CPUs are not all of those its cpuset gives: cpus */
	uint64_t cpus[MD_CPU_WORDS];	/* pinned: bit n (word n / 64) is CPU n */
};

#define MD_SCHED_DEADLINE 6		/* the kernel's SCHED_DEADLINE, which glibc 2.36 does not name */
#define MD_SCHED_EXT 7			/* SCHED_EXT (6.12) */
#define MD_SCHED_FLAGS 7u		/* SCHED_FLAG_RESET_ON_FORK 1, _RECLAIM 2, _DL_OVERRUN 4 */
#define MD_TIMER_SLACK_DEFAULT 50000	/* ns: init's, which every process inherits */
/* sched is valid: a policy the kernel has, its own parameters and no others */
bool md_sched_valid(const struct md_sched *s);
/* what a thread that never changed any of it has: SCHED_OTHER, nice 0, no ioprio, default slack, all CPUs */
bool md_sched_default(const struct md_sched *s);

/*
 * Process-wide settings a process makes with prctl() and friends, and its
 * OOM-killer adjustment.
 */
struct md_attrs {
	int32_t oom_score_adj;		/* -1000..1000 */
	bool child_subreaper;		/* PR_SET_CHILD_SUBREAPER */
	uint32_t thp_disable;		/* PR_GET_THP_DISABLE: 0, or 1 | PR_THP_DISABLE_EXCEPT_ADVISED (2) */
	uint32_t mdwe;			/* PR_GET_MDWE: PR_MDWE_REFUSE_EXEC_GAIN 1, | PR_MDWE_NO_INHERIT 2 */
	uint32_t membarrier;		/* MEMBARRIER_CMD_GET_REGISTRATIONS: the REGISTER_* commands it made */
};

/* MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, _PRIVATE_EXPEDITED, _PRIVATE_EXPEDITED_SYNC_CORE, _RSEQ */
#define MD_MEMBARRIER_REGISTERED 0x154u
bool md_attrs_valid(const struct md_attrs *a);
bool md_attrs_default(const struct md_attrs *a);

struct md_thread {
	pid_t tid;
	pid_t ns_tid;		/* its id in the tree's own PID namespace (md_inventory.pid_ns), else 0 */
	char comm[16];
	struct md_regs regs;		/* restart-normalised, see dump/collect */
	uint8_t *xsave;			/* NT_X86_XSTATE area (standard format) */
	size_t xsave_size;
	uint64_t xfeatures;		/* XCR0 the dumping kernel reported (sw_reserved) */
	uint64_t sigmask;		/* blocked signals, bit n-1 = signal n */
	struct md_rseq rseq;
	struct md_sigaltstack altstack;
	uint64_t clear_child_tid;	/* set_tid_address() pointer */
	uint64_t robust_list;		/* set_robust_list() head, 0 if none */
	uint64_t robust_list_len;	/* its size in bytes */
	struct md_siginfo *pending;	/* thread-private queue */
	size_t n_pending;
	uint32_t seccomp_mode;		/* SECCOMP_MODE_DISABLED 0, _STRICT 1, _FILTER 2 */
	uint32_t seccomp_filter;	/* _FILTER: 1 + index of its newest filter in md_proc.seccomp */
	bool no_new_privs;		/* PR_SET_NO_NEW_PRIVS */
	bool has_creds;			/* creds are known (images before them: absent) */
	struct md_creds creds;
	bool has_sched;			/* sched is known (images before it: absent) */
	struct md_sched sched;
};

struct sock_filter;

/*
 * A seccomp filter of a process: its program, and the filter it was
 * installed on top of. Threads that inherited or synced (TSYNC) a filter
 * share it; a thread's filters are the chain from its newest one down.
 */
struct md_seccomp_filter {
	uint32_t parent;		/* 1 + index of the filter below it, always a lower one; 0: none */
	uint32_t flags;			/* SECCOMP_FILTER_FLAG_LOG */
	struct sock_filter *insns;	/* the BPF program */
	size_t n_insns;
};

struct md_sigaction {
	uint64_t handler;		/* SIG_DFL 0, SIG_IGN 1, or address */
	uint64_t flags;			/* SA_* as the kernel stores them */
	uint64_t restorer;
	uint64_t mask;
};

struct md_itimer {
	int64_t interval_sec, interval_usec;
	int64_t value_sec, value_usec;
};

/* A POSIX timer (timer_create), from /proc/PID/timers and timer_gettime() */
struct md_posix_timer {
	int32_t id;		/* the timer_t the process knows it by: kept */
	int32_t clockid;	/* as given to timer_create (CPU-time clocks are negative) */
	int32_t notify;		/* sigev_notify: SIGEV_SIGNAL, _NONE, _THREAD, | SIGEV_THREAD_ID */
	int32_t signo;
	pid_t notify_tid;	/* SIGEV_THREAD_ID: the thread signalled, else 0 */
	uint64_t sigval;	/* sigev_value */
	uint64_t value_ns;	/* time left at dump time, 0: disarmed */
	uint64_t interval_ns;	/* period, 0: one-shot */
	int32_t overrun;	/* timer_getoverrun() at dump time (shown, not restored) */
};

struct md_rlimit {
	uint64_t cur, max;		/* RLIM_INFINITY as ~0 */
};

enum md_fd_kind {
	MD_FD_REG = 1,		/* regular file by path */
	MD_FD_CHR,		/* character device by path */
	MD_FD_MEMFD,		/* memfd, content in shm object shm_id */
	MD_FD_DIR,		/* directory by path */
	MD_FD_PIPE,		/* one end of a pipe, the pipe in md_pipe pipe_id */
	MD_FD_EVENTFD,		/* eventfd: its counter */
	MD_FD_SIGNALFD,		/* signalfd: its mask */
	MD_FD_TIMERFD,		/* timerfd: clock, time left, period, expirations unread */
	MD_FD_EPOLL,		/* epoll instance: its interest list */
	MD_FD_INOTIFY = 10,	/* inotify instance: its watches, by path */
	MD_FD_UNIX_SOCKET = 11,	/* AF_UNIX socket: md_fd.sock, its queue in md_sock_queue */
	MD_FD_INET_SOCKET = 12,	/* AF_INET/AF_INET6 TCP or UDP socket: md_fd.sock */
	MD_FD_FIFO = 13,	/* named pipe by path, the pipe in md_pipe pipe_id (fifo) */
	MD_FD_PTY_MASTER = 14,	/* the master of a pseudo-terminal (/dev/ptmx): md_pty pty */
	MD_FD_PTY_SLAVE = 15,	/* its slave (/dev/pts/N), the master held in the tree: md_pty pty */
	MD_FD_NETLINK_SOCKET = 16,	/* AF_NETLINK socket: md_fd.sock */
	MD_FD_PIDFD = 17,	/* pidfd: the process of the tree it names (md_fd.pidfd_pid), or one gone */
	MD_FD_MQUEUE = 18,	/* POSIX message queue, path "/NAME" in the tree's IPC namespace */
};

/*
 * The flags an MD_FD_PIDFD may have: pidfd_open()'s O_RDWR and O_CLOEXEC,
 * and what F_SETFL sets (on a pidfd O_DIRECT cannot be). A thread's pidfd
 * has O_EXCL (PIDFD_THREAD) too: not restored.
 */
#define MD_PIDFD_FLAGS (O_RDWR | O_CLOEXEC | O_APPEND | O_NONBLOCK | O_ASYNC | O_NOATIME)

/* sk_shutdown bits, as unix_diag reports them */
enum md_sock_shut {
	MD_SOCK_SHUT_RD = 1,	/* RCV_SHUTDOWN */
	MD_SOCK_SHUT_WR = 2,	/* SEND_SHUTDOWN */
};

#define MD_SOCK_NAME_MAX 108	/* sizeof(sun_path) */
#define MD_NL_GROUP_WORDS 32	/* a netlink socket's groups: up to 1024 */
#define MD_NL_PROTOCOLS 32	/* netlink protocols are below (MAX_LINKS) */

/*
 * An interface name the kernel takes (dev_valid_name()): 1 to 15 bytes, not
 * "." or "..", no '/', ':' or white space; other bytes, UTF-8 or not, are
 * fine. s need not be NUL-terminated: n bytes.
 */
static inline bool md_ifname_valid(const char *s, size_t n)
{
	if (!n || n > 15 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!c || c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0)
			return false;
	}
	return true;
}

/*
 * A socket as the tree held it: what restore needs to make it again. Every
 * fd on one socket carries the same copy (a socket is one open file
 * description, so they also share md_fd.ofd).
 */
struct md_sock {
	uint64_t ino;		/* sockfs inode: the socket's id in the image */
	int family;		/* AF_UNIX, AF_INET, AF_INET6, AF_NETLINK */
	int type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET; netlink: SOCK_RAW, SOCK_DGRAM */
	int protocol;		/* IPPROTO_TCP, IPPROTO_UDP; 0 for unix; netlink: NETLINK_ROUTE... */
	int state;		/* TCP_* numbering, as sock_diag reports it (TCP_CLOSE: unconnected) */
	uint32_t backlog;	/* TCP_LISTEN: listen() backlog */
	uint32_t shutdown;	/* enum md_sock_shut */
	/* unix */
	uint64_t peer_ino;	/* the socket it is connected to (in the image), 0: none or closed */
	uint64_t pending_on;	/* its connect() waits in the backlog of this listener (in the image), 0: no */
	uint32_t pending_pos;	/* at this place in it, 0 first */
	char name[MD_SOCK_NAME_MAX];	/* bound name: an absolute path, or abstract (name[0] == 0) */
	uint32_t name_len;	/* bytes of name, 0: unbound */
	uint32_t path_mode;	/* the socket file's st_mode, uid and gid (a path name only) */
	uint32_t path_uid, path_gid;
	bool passcred;		/* SO_PASSCRED */
	/* any family */
	int32_t peek_off;	/* SO_PEEK_OFF, -1: off */
	uint32_t sndbuf, rcvbuf;	/* SO_SNDBUF, SO_RCVBUF as getsockopt() says them (doubled);
					 * inet: 0 unless the process fixed them (SO_BUF_LOCK) */
	/* inet: addresses in network byte order (4 or 16 bytes by family) */
	uint8_t addr[16];	/* getsockname() */
	uint16_t port;		/* host order; 0 with a zero address: not bound */
	uint8_t peer_addr[16];	/* UDP connect()ed: getpeername() */
	uint16_t peer_port;	/* 0: not connected */
	uint32_t scope_id;	/* IPv6 link-local scope of addr */
	bool reuseaddr;		/* SO_REUSEADDR */
	bool reuseport;		/* SO_REUSEPORT */
	bool v6only;		/* IPV6_V6ONLY */
	/* netlink (type SOCK_RAW or SOCK_DGRAM, protocol NETLINK_*) */
	uint32_t nl_portid;	/* bound to this port id, 0: not bound */
	uint32_t nl_dst_portid;	/* connect()ed to this port id and group (1-based), 0: none */
	uint32_t nl_dst_group;
	bool nl_all_nsid;	/* NETLINK_LISTEN_ALL_NSID (sock_diag's flags say it) */
	uint32_t nl_groups[MD_NL_GROUP_WORDS];	/* multicast groups joined: bit g-1 for group g */
	/*
	 * Any family: the options the process set (memdump/sockopts.h), NULL
	 * for none; owned by the md_fd (each fd on the socket has its copy)
	 */
	struct md_sockopts *opts;
};

/*
 * What sat unread in a unix socket at dump time, oldest first: packets
 * keep datagram (and seqpacket) boundaries; for a stream socket they are
 * just how the bytes were read. Restore sends them again from the peer.
 */
struct md_sock_queue {
	uint64_t ino;		/* the receiving socket */
	uint8_t *data;		/* every packet, back to back */
	size_t len;
	uint32_t *pkt_len;	/* bytes of each packet */
	size_t n_pkts;
};

/*
 * An established TCP connection as TCP repair reads it (dump
 * --tcp-established): restore makes the socket again in repair mode with
 * these sequence numbers, options and queues. Sequence numbers are those
 * after the queued bytes.
 */
struct md_tcp_stream {
	uint64_t ino;		/* the socket */
	uint32_t send_seq, recv_seq;	/* TCP_QUEUE_SEQ: write_seq, rcv_nxt */
	uint8_t *sendq;		/* sent and not acknowledged, then unsent bytes */
	size_t sendq_len;
	uint32_t unsent;	/* bytes at the end of sendq not sent yet */
	uint8_t *recvq;		/* received, not read */
	size_t recvq_len;
	uint32_t mss;		/* the mss clamp */
	uint32_t options;	/* TCPI_OPT_TIMESTAMPS, _SACK, _WSCALE */
	uint32_t snd_wscale, rcv_wscale;
	uint32_t timestamp;	/* TCP_TIMESTAMP (with TCPI_OPT_TIMESTAMPS) */
	bool has_window;	/* TCP_REPAIR_WINDOW: */
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
	bool nodelay, keepalive;
};

/*
 * One entry of an epoll interest list. The kernel keys it by (file, fd
 * number in the process that added it): tfd and the open file description
 * ofd it watches must both come back.
 */
struct md_epoll_item {
	int tfd;
	uint32_t events;	/* EPOLLIN..., EPOLLET, EPOLLONESHOT (a fired one-shot keeps no others) */
	uint64_t data;
	uint64_t ofd;		/* the description it watches; 0: not at fd tfd of this process */
	bool file_known;	/* dump only, never written: fdinfo's inode and device of the watched file */
	uint32_t toff;		/* dump only: its place among the items of its epoll fd on number tfd */
	uint64_t ino, dev;	/* dev as stat() gives it */
};

/* One watch of an inotify fd (fdinfo "inotify wd:..."), its inode found by path. */
struct md_inotify_watch {
	int32_t wd;		/* watch descriptor the process knows it by (> 0) */
	uint32_t mask;		/* IN_* events, IN_ONESHOT, IN_EXCL_UNLINK as the kernel keeps them */
	uint64_t ino;		/* inode at dump time */
	uint32_t sdev;		/* its super block's dev_t, kernel encoding (major << 20 | minor) */
	char *path;		/* where that inode was at dump time */
};

/* One range of a pagemap image: nr_pages pages starting at vaddr. */
enum md_pm_flags {
	MD_PM_DATA = 1 << 0,	/* data follows in the pages file, in pagemap order */
	MD_PM_ZERO = 1 << 1,	/* zero pages: restore as zeroes (touch/leave empty) */
	MD_PM_INHERIT = 1 << 2,	/* the parent process's page at this address, shared
				 * copy-on-write by fork: restored by forking, no data */
	MD_PM_PARENT = 1 << 3,	/* unchanged since the parent image (incremental dump):
				 * its data is in the parent image's pagemap and pages */
};

struct md_pagemap_entry {
	uint64_t vaddr;		/* page aligned; for shm objects and deleted files: offset in the file */
	uint64_t nr_pages;
	uint32_t flags;		/* enum md_pm_flags */
};

struct md_pagemap {
	struct md_pagemap_entry *entries;
	size_t n;
	uint64_t nr_data_pages;	/* sum of nr_pages over MD_PM_DATA entries */
};

/*
 * A regular file deleted while open or mapped ("ghost"): its data is in
 * the image (pages-ghost-ID.img, data's entries in order), restore makes
 * it again and deletes it once more. Every fd and VMA on the same file has
 * the same id. A directory removed while an fd or a cwd was on it is one
 * too, with size 0 and no data; restore makes it again empty.
 */
struct md_ghost {
	uint64_t id;		/* > 0, unique in the image */
	uint64_t size;		/* st_size, bytes */
	uint32_t uid, gid;	/* owner */
	struct md_pagemap data;	/* MD_PM_DATA entries, vaddr = offset in the file: pages-ghost-ID.img */
	/* md_proc.mapped only (an fd's ghost has md_fd's): */
	uint32_t mode;		/* st_mode */
	char *path;		/* where it was, absolute */
};

/* A lock an fd holds on its file, as its fdinfo "lock:" lines show it */
enum md_lock_kind {
	MD_LOCK_FLOCK = 1,	/* flock(): the open file description's */
	MD_LOCK_POSIX = 2,	/* fcntl(F_SETLK): the process's, on a byte range */
	MD_LOCK_OFD = 3,	/* fcntl(F_OFD_SETLK): the open file description's, on a byte range */
	MD_LOCK_OTHER = 4,	/* a lease, a delegation: dump only, refused */
};
#define MD_LOCK_EOF UINT64_MAX	/* md_file_lock.end: to the end of the file, however long */
#define MD_LOCKS_MAX 65536	/* locks one fd may hold in an image */

struct md_file_lock {
	uint8_t kind;		/* enum md_lock_kind */
	bool write;		/* LOCK_EX, F_WRLCK; else LOCK_SH, F_RDLCK */
	uint64_t start, end;	/* the bytes locked, end included (flock: 0, MD_LOCK_EOF) */
};

struct md_fd {
	int fd;
	enum md_fd_kind kind;
	char *path;
	uint32_t flags;		/* open flags from fdinfo (octal "flags:"), O_CLOEXEC included */
	uint64_t pos;
	uint32_t mode;		/* st_mode of the file at dump time */
	uint64_t shm_id;	/* MD_FD_MEMFD */
	int dup_of;		/* format 1 images only (read, never written): -1, or an
				 * earlier fd of this process sharing its open file description */
	uint64_t ofd;		/* open file description: fds with the same ofd, in any
				 * process of the image, share one (offset, flags) */
	uint64_t pipe_id;	/* MD_FD_PIPE: inode of the pipe; MD_FD_FIFO: of the FIFO */
	uint64_t count;		/* MD_FD_EVENTFD: counter; MD_FD_TIMERFD: expirations not read */
	bool semaphore;		/* MD_FD_EVENTFD: EFD_SEMAPHORE */
	uint64_t sigmask;	/* MD_FD_SIGNALFD: bit n-1 for signal n */
	struct {
		int32_t clockid;
		uint32_t settime_flags;	/* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
		uint64_t value_ns;	/* time left at dump time, 0: disarmed */
		uint64_t interval_ns;
	} timer;		/* MD_FD_TIMERFD */
	struct md_epoll_item *epoll;	/* MD_FD_EPOLL: its interest list, as fdinfo lists it */
	size_t n_epoll;
	uint64_t dev, ino;	/* dump only, never written: st_dev/st_ino of the open file */
	bool ctty;		/* MD_FD_CHR on the terminal of a shell job (--shell-job): restored
				 * on the restoring memdump's terminal, not by path */
	struct md_sock sock;	/* MD_FD_UNIX_SOCKET, MD_FD_INET_SOCKET, MD_FD_NETLINK_SOCKET */
	struct md_inotify_watch *watches;	/* MD_FD_INOTIFY, by wd */
	size_t n_watches;
	struct md_ghost *ghost;	/* MD_FD_REG deleted while open: its data; NULL otherwise */
	struct md_file_lock *locks;	/* MD_FD_REG, MD_FD_DIR, MD_FD_CHR: the locks it holds */
	size_t n_locks;
	uint32_t pty;		/* MD_FD_PTY_MASTER, MD_FD_PTY_SLAVE: the md_pty's index */
	pid_t pidfd_pid;	/* MD_FD_PIDFD: the process it names, a pid of the image; 0: one that
				 * had exited and been reaped */
	uint64_t pidfd_gone;	/* MD_FD_PIDFD on a process gone: pidfds with the same id named the
				 * same process (0: none other did) */
	bool pidfd_exit_known;	/* MD_FD_PIDFD on a process gone: its wait status is known, */
	uint16_t pidfd_exit;	/* this one (as waitpid() gives it) */
};

/*
 * A pseudo-terminal whose master an fd of the tree holds, by its index
 * (N of /dev/pts/N). Master and slave share one termios and window size.
 */
#define MD_PTY_NCC 19		/* termios2 c_cc[] on x86-64 (NCCS of the kernel) */
#define MD_PTY_MAX 1048576	/* indexes are below (devpts' own limit) */
struct md_pty {
	uint32_t index;
	uint32_t iflag, oflag, cflag, lflag;	/* termios2 */
	uint8_t line;
	uint8_t cc[MD_PTY_NCC];
	uint32_t ispeed, ospeed;
	uint16_t rows, cols, xpixel, ypixel;	/* TIOCGWINSZ */
	bool locked;		/* TIOCGPTLCK: the slave cannot be opened yet (no unlockpt()) */
	bool packet;		/* TIOCGPKT on the master */
	bool slave_excl;	/* TIOCGEXCL on the slave (TIOCEXCL) */
	bool hup;		/* the slave was opened and every fd on it closed since: master reads EIO */
	pid_t sid;		/* the controlling terminal of this session (its leader, in the tree); 0: none */
	pid_t fg_pgrp;		/* sid's foreground process group (a group of the tree); 0: the leader's */
	bool owner_known;	/* the next three are known (the dump saw /dev/pts/N) */
	uint32_t slave_uid, slave_gid;	/* owner of /dev/pts/N (grantpt(), a login's chown) */
	uint32_t slave_mode;	/* its permission bits (mesg y/n) */
};

static inline bool md_fd_is_sock(const struct md_fd *f)
{
	return f->kind == MD_FD_UNIX_SOCKET || f->kind == MD_FD_INET_SOCKET || f->kind == MD_FD_NETLINK_SOCKET;
}

/*
 * Whether an epoll item on a file of this kind may be added back by any
 * process with the file at the item's number (restore's helper does): its
 * poll reads nothing of the caller's. A signalfd's reads the caller's
 * signals, a device's driver may read anything, a pidfd's process is
 * made after the helper: an item on one of these is added back by a
 * process of the tree that holds it at that number.
 */
static inline bool md_epoll_any_adder(enum md_fd_kind kind)
{
	switch (kind) {
	case MD_FD_PIPE:
	case MD_FD_FIFO:
	case MD_FD_EVENTFD:
	case MD_FD_TIMERFD:
	case MD_FD_EPOLL:
	case MD_FD_INOTIFY:
	case MD_FD_UNIX_SOCKET:
	case MD_FD_INET_SOCKET:
	case MD_FD_NETLINK_SOCKET:
	case MD_FD_PTY_MASTER:
	case MD_FD_PTY_SLAVE:
		return true;
	default:
		return false;
	}
}

/* A pipe of the tree: its capacity and the bytes sitting in it at dump time. */
struct md_pipe {
	uint64_t id;		/* pipefs inode number; a FIFO's inode number */
	bool fifo;		/* a named pipe (FIFO), opened by path */
	uint32_t size;		/* capacity, F_GETPIPE_SZ */
	uint8_t *data;
	size_t len;
};

/*
 * A shared-memory object (memfd, shared anonymous or a SysV segment),
 * dumped once. SysV segments have their own id space (shmids) and files.
 */
struct md_shm {
	uint64_t id;		/* inode number; a SysV segment's shmid */
	char *name;		/* memfd name (without "memfd:"), NULL for shared anon */
	uint64_t size;		/* bytes */
	uint32_t seals;		/* F_GET_SEALS for memfd */
	uint32_t memfd_flags;	/* MFD_* we could infer (MFD_ALLOW_SEALING) */
	bool sysv;		/* a SysV segment: the fields below are valid */
	int32_t sysv_key;	/* IPC_PRIVATE (0) once removed */
	uint32_t sysv_mode;	/* shm_perm.mode: permissions, SHM_DEST, SHM_LOCKED */
	uint32_t sysv_uid, sysv_gid;	/* shm_perm.uid, .gid (the owner, not the creator) */
};

struct md_proc {
	pid_t pid, ppid, pgid, sid;
	pid_t ns_pid;		/* its pid in the tree's own PID namespace (md_inventory.pid_ns), else 0 */
	int exit_signal;	/* signal the parent gets when it ends (stat field 38) */
	int pdeathsig;		/* PR_GET_PDEATHSIG of the leader */
	int dumpable;		/* PR_GET_DUMPABLE: 0, 1 or 2 (SUID_DUMP_ROOT); -1: not known */
	int stop_sig;		/* stopped (group-stop) by SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU; 0: it ran */
	bool zombie;		/* dead, not yet reaped: only ids and exit_status are kept */
	int exit_status;	/* a zombie's wait status (stat field 52) */
	char comm[16];
	uint32_t umask;
	char *cwd;
	char *exe;
	struct md_mm mm;
	uint64_t *auxv;		/* pairs of (type, value), ending with AT_NULL 0 */
	size_t auxv_len;	/* number of uint64_t */
	uint64_t personality;

	struct md_vma *vmas;
	size_t n_vmas;

	struct md_thread *threads;	/* threads[0] is the thread-group leader */
	size_t n_threads;

	struct md_sigaction sigactions[MD_NSIG];	/* index n-1 for signal n */
	struct md_itimer itimers[3];			/* ITIMER_REAL, _VIRTUAL, _PROF */
	struct md_rlimit rlimits[MD_RLIM_NLIMITS];
	struct md_siginfo *shared_pending;
	size_t n_shared_pending;
	struct md_posix_timer *posix_timers;	/* ascending ids */
	size_t n_posix_timers;
	struct md_seccomp_filter *seccomp;	/* every filter of its threads, each after its parent */
	size_t n_seccomp;

	struct md_fd *fds;
	size_t n_fds;
	struct md_ghost *mapped;	/* deleted files it maps (md_vma.ghost) that no fd of it holds */
	size_t n_mapped;
	uint64_t exe_ghost;	/* the exe was deleted: the id of its md_ghost, 0: not one */
	uint64_t cwd_ghost;	/* the cwd was removed: the id of its md_ghost (a directory), 0: not one */

	uint64_t vdso_hash;	/* XXH3 of the [vdso] bytes: refuse another kernel's vDSO */
	uint32_t tty_nr;	/* --shell-job: its controlling terminal at dump time (stat field 7), 0: none */
	bool has_attrs;		/* attrs are known (images before them: absent) */
	struct md_attrs attrs;
	bool has_loginuid;	/* the kernel keeps audit login uids: loginuid is known */
	uint32_t loginuid;	/* /proc/PID/loginuid; 4294967295: not set */
};

#define MD_UTS_NAME_MAX 64	/* a host or domain name, in bytes (the kernel's __NEW_UTS_LEN) */
#define MD_PID_LIMIT (1 << 22)	/* pids and thread ids are below it (the kernel's PID_MAX_LIMIT) */
#define MD_PROC_OPTS_MAX 256	/* md_inventory.proc_opts, in bytes */
/* md_inventory.time_*_ns: a time namespace's clock may start at most here (the kernel's KTIME_SEC_MAX / 2 s) */
#define MD_TIMENS_CLOCK_MAX (4611686018ull * 1000000000ull + 999999999ull)
/* md_inventory.proc_flags: MS_RDONLY NOSUID NODEV NOEXEC NOATIME NODIRATIME RELATIME STRICTATIME */
#define MD_PROC_FLAGS (1u | 2u | 4u | 8u | 1024u | 2048u | (1u << 21) | (1u << 24))

/*
 * A sysctl of a namespace of the tree's own set otherwise than in a new
 * one: its path under /proc/sys/net ("ipv4/ping_group_range") for the
 * network namespace (md_inventory.net_sysctls), under /proc/sys for the
 * IPC one ("kernel/msgmnb", md_ipcns.sysctls), and its value as read,
 * without the final newline.
 */
struct md_sysctl {
	char *name;
	char *value;
};
#define MD_NET_SYSCTLS_MAX 4096		/* md_inventory.n_net_sysctls */
#define MD_NET_SYSCTL_NAME_MAX 255
#define MD_NET_SYSCTL_VALUE_MAX 4096
/* a name the restore may open under /proc/sys/net: components of [A-Za-z0-9_.:-], none "." or ".." */
bool md_net_sysctl_name_ok(const char *name);
/* frees s and the strings of its n sysctls */
void md_sysctls_free(struct md_sysctl *s, size_t n);
/*
 * The sysctls of a that b has with another value, both sorted by name,
 * into *ret (shallow: a's strings, not copied; NULL if none); those b
 * lacks (of a device or a module it has not) are not among them.
 */
int md_sysctl_diff(const struct md_sysctl *a, size_t na, const struct md_sysctl *b, size_t nb,
		   const struct md_sysctl ***ret, size_t *ret_n);

/*
 * The tree's own IPC namespace (md_inventory.ipc_ns, ipcns.img): its SysV
 * semaphore sets and message queues, and its sysctls set otherwise than
 * in a new namespace. Its SysV shm segments are md_shm, as in memdump's
 * namespace, attached or not. Ids, keys, owner (uid, gid), creator (cuid,
 * cgid: the kernel lets it in as it does the owner) and mode (permission
 * bits) are the kernel's; times and pids are not kept, but that a set
 * was operated on (sem_otime not 0: the mark semget(2) tells processes to
 * wait for).
 */
#define MD_IPC_SYSCTL_VALUE_MAX 64
#define MD_SEM_NSEMS_MAX 65535		/* semget()'s nsems is an int; SEMMSL bounds it lower */
#define MD_SEM_VALUE_MAX 32767		/* SEMVMX */
#define MD_IPC_OBJS_MAX 32768		/* per kind: IPCMNI */
#define MD_MSG_BYTES_MAX (64u << 20)	/* all queued messages together */
#define MD_MSGS_MAX (1u << 20)		/* all queued messages, counted */

struct md_semset {
	int32_t id;
	int32_t key;		/* IPC_PRIVATE: 0 */
	uint32_t mode;		/* permission bits */
	uint32_t uid, gid;
	uint16_t *values;
	uint32_t nsems;
	uint32_t cuid, cgid;	/* the creator */
	bool operated;		/* sem_otime was set */
};

struct md_msg {
	int64_t mtype;		/* > 0 */
	uint8_t *data;
	size_t len;
};

struct md_msgq {
	int32_t id;
	int32_t key;
	uint32_t mode;
	uint32_t uid, gid;
	uint64_t qbytes;	/* msg_qbytes: the queue's byte limit */
	struct md_msg *msgs;	/* oldest first */
	size_t n_msgs;
	uint32_t cuid, cgid;
};

/*
 * A POSIX message queue (mq_open()) of the tree's own IPC namespace, with
 * its messages in the order mq_receive() gives them: highest priority
 * first, oldest first within one. The kernel's limits: mq_maxmsg up to
 * HARD_MSGMAX, mq_msgsize up to HARD_MSGSIZEMAX, priorities below
 * MQ_PRIO_MAX.
 */
#define MD_MQ_MAXMSG_MAX 65536u
#define MD_MQ_MSGSIZE_MAX (16u << 20)
#define MD_MQ_PRIO_MAX 32768u

struct md_pmsg {
	uint32_t prio;
	uint8_t *data;
	size_t len;
};

struct md_posix_mq {
	char *name;		/* without the leading '/': md_mq_name_ok() */
	uint32_t mode;		/* permission bits */
	uint32_t uid, gid;
	uint64_t maxmsg, msgsize;
	struct md_pmsg *msgs;
	size_t n_msgs;
};

/* a queue's name as mq_open() takes it after its '/': no '/' in it, not "." or "..", NAME_MAX at most */
bool md_mq_name_ok(const char *name);

struct md_ipcns {
	struct md_sysctl *sysctls;	/* names under /proc/sys, md_ipc_sysctl_name_ok() */
	size_t n_sysctls;
	struct md_semset *sems;
	size_t n_sems;
	struct md_msgq *msgqs;
	size_t n_msgqs;
	struct md_posix_mq *mqs;	/* by name */
	size_t n_mqs;
};

/* a sysctl of the IPC namespace memdump keeps: "kernel/msgmnb", "fs/mqueue/msg_max", ... */
bool md_ipc_sysctl_name_ok(const char *name);
/* the names md_ipc_sysctl_name_ok() takes, sorted, NULL-terminated */
extern const char *const md_ipc_sysctl_names[];
void md_ipcns_release(struct md_ipcns *ns);

struct md_inventory {
	uint32_t format_version;
	pid_t root_pid;
	uint64_t dump_time_ns;	/* CLOCK_REALTIME when the tree was frozen */
	char *kernel_release;	/* uname -r */
	char *tool_version;
	uint64_t page_size;
	uint64_t xfeatures;	/* XCR0 of the dumping machine */
	pid_t *pids;		/* processes in the image, root first, parents before children */
	size_t n_pids;
	uint64_t *shm_ids;	/* shared-memory objects in the image */
	size_t n_shm_ids;
	uint64_t *sysv_shm_ids;	/* SysV segments in the image (shmids) */
	size_t n_sysv_shm_ids;
	bool pre_dump;		/* memory copied while the tree ran: only a parent image */
	/*
	 * The root is the first process (init) of a PID namespace of the tree's
	 * own, a child of the dumping memdump's: every process and thread has
	 * its pid there too (ns_pid, ns_tid). Other pids are memdump's view.
	 */
	bool pid_ns;
	/*
	 * With pid_ns: the tree had a mount namespace of its own, the dumping
	 * memdump's but for a /proc of its PID namespace mounted on top, with
	 * these MS_* flags and options (NULL: none).
	 */
	bool mnt_ns;
	uint32_t proc_flags;
	char *proc_opts;
	/* the tree's own UTS namespace: its host and domain names; NULL: the restoring memdump's */
	char *uts_host;
	char *uts_domain;
	/*
	 * The tree had a network namespace of its own, like a new one but for
	 * its loopback device's state and these sysctls: restore makes one.
	 */
	bool net_ns;
	bool lo_up;
	uint32_t lo_mtu;
	struct md_sysctl *net_sysctls;
	size_t n_net_sysctls;
	/* the tree had an IPC namespace of its own (ipcns.img): restore makes one */
	bool ipc_ns;
	/*
	 * The tree had a time namespace of its own, whose CLOCK_MONOTONIC and
	 * CLOCK_BOOTTIME read these once the dump had read the tree's timers:
	 * restore makes one whose clocks go on from there (at most
	 * MD_TIMENS_CLOCK_MAX).
	 */
	bool time_ns;
	uint64_t time_monotonic_ns;
	uint64_t time_boottime_ns;
	/* the tree had a cgroup namespace of its own, all of it at its root: restore makes one */
	bool cgroup_ns;
};

/* How the tree's memory is tracked for the next incremental dump (track.img). */
enum md_track_method {
	MD_TRACK_NONE = 0,
	MD_TRACK_SOFT_DIRTY = 1,
	MD_TRACK_UFFD_WP = 2,
};

struct md_track_proc {
	pid_t pid;
	uint64_t start_time;	/* stat field 22 */
	int uffd;		/* MD_TRACK_UFFD_WP: the helper's fd, -1 if none */
	uint64_t token;		/* MD_TRACK_SOFT_DIRTY: the id of this arming, 0 if none */
};

struct md_track {
	enum md_track_method method;
	pid_t helper_pid;	/* MD_TRACK_UFFD_WP: holds the userfaultfds */
	uint64_t helper_start_time;
	struct md_track_proc *procs;
	size_t n;
};

/* Lifecycle helpers (model.c) */
void md_proc_release(struct md_proc *p);
void md_thread_release(struct md_thread *t);
/*
 * The filters of a thread whose newest is leaf (1 + index, 0: none), oldest
 * first, as 0-based indices into p->seccomp: how many (at most cap are
 * stored in out), or -EINVAL for a parent that is not below its child.
 */
int md_seccomp_chain(const struct md_proc *p, uint32_t leaf, uint32_t *out, size_t cap);
/* the same program with the same flags (parents aside) */
bool md_seccomp_same(const struct md_seccomp_filter *a, const struct md_seccomp_filter *b);
/*
 * Whether a program may hand syscalls to a supervisor: it returns
 * SECCOMP_RET_USER_NOTIF, or an action it computed (BPF_RET | BPF_A),
 * which could be that. Its listener cannot come back with it.
 */
bool md_seccomp_notifies(const struct sock_filter *insns, size_t n);
void md_fd_release(struct md_fd *f);
/* the process of procs[0..n) with this pid, or NULL */
const struct md_proc *md_find_proc(const struct md_proc *procs, size_t n, pid_t pid);
/*
 * The sockets of procs[0..n), by inode: md_socks_find() gives the first
 * fd on socket ino in the order of procs and of their fds (and its
 * process in *ret_pid), or NULL. It points into procs, which must not move.
 */
struct md_socks {
	struct md_sock_ref {
		uint64_t ino;
		size_t pos;		/* place in procs, fd by fd */
		const struct md_fd *f;
		pid_t pid;
	} *refs;
	size_t n;
};
int md_socks_make(struct md_socks *s, const struct md_proc *procs, size_t n);
const struct md_fd *md_socks_find(const struct md_socks *s, uint64_t ino, pid_t *ret_pid);
/* socket ino's place in s->refs, or -1 */
ssize_t md_socks_slot(const struct md_socks *s, uint64_t ino);
void md_socks_release(struct md_socks *s);
/*
 * The sockets of s whose connect() waits in a listener's backlog
 * (pending_on), each by its first fd, sorted by listener and then place
 * in the backlog; *ret is the caller's to free().
 */
int md_socks_pending(const struct md_socks *s, const struct md_fd ***ret, size_t *ret_n);
/* where those waiting for listener start in such a sorted list p: an index, n if none does */
size_t md_pending_first(const struct md_fd *const *p, size_t n, uint64_t listener);
/*
 * Whether restore can send a unix socket's queue again: connected to a
 * peer of the tree that is connected back (it sends), or to one that closed
 * (not one that waits in a listener's backlog).
 */
bool md_sock_refillable(const struct md_socks *socks, const struct md_sock *s);
/* c is one of the fixed clocks a POSIX timer may run on (not a CPU-time clock of a pid) */
bool md_timer_clock_fixed(int32_t c);
/* nanoseconds as a timespec, and back (a negative time reads as 0) */
struct timespec md_ns_timespec(uint64_t ns);
uint64_t md_timespec_ns(const struct timespec *ts);
/* pipes by id, then FIFOs by id; the index of one in a sorted list, or -1 */
void md_pipes_sort(struct md_pipe *p, size_t n);
ssize_t md_pipes_find(const struct md_pipe *p, size_t n, bool fifo, uint64_t id);
/* p's fd number fd, or NULL (p->fds is sorted by number) */
const struct md_fd *md_proc_fd(const struct md_proc *p, int fd);
/* p's ghost with this id, an fd's or in p->mapped; NULL if none */
const struct md_ghost *md_proc_ghost(const struct md_proc *p, uint64_t id);
/* whether p's ghost with this id is a removed directory (an fd's by its kind, a mapped one by its mode) */
bool md_proc_ghost_is_dir(const struct md_proc *p, uint64_t id);
/* whether p holds a removed directory: as its cwd, by an fd or in p->mapped */
bool md_proc_ghost_dirs(const struct md_proc *p);
void md_pagemap_release(struct md_pagemap *pm);
void md_inventory_release(struct md_inventory *inv);
void md_shm_release(struct md_shm *s);
void md_pipe_release(struct md_pipe *p);
void md_sock_queue_release(struct md_sock_queue *q);
void md_tcp_stream_release(struct md_tcp_stream *t);
/*
 * TCP states (TCP_* as sock_diag numbers them) of a connection kept with an
 * md_tcp_stream: established, or closing on one side or both. fin_sent: the
 * socket sent its FIN (FIN_WAIT1/2, CLOSING, LAST_ACK); fin_received: the
 * peer's came in (CLOSE_WAIT, CLOSING, LAST_ACK).
 */
bool md_tcp_state_conn(int state);
bool md_tcp_state_fin_sent(int state);
bool md_tcp_state_fin_received(int state);
/* "ESTABLISHED", "SYN-SENT"... ("state N" past the table, in a static buffer) */
const char *md_tcp_state_name(int state);
/* whether f is a TCP connection kept with an md_tcp_stream (md_tcp_state_conn()) */
bool md_fd_tcp_conn(const struct md_fd *f);
void md_track_release(struct md_track *t);
/* a ghost's data map and path (not the struct itself); _free() also frees the struct */
void md_ghost_release(struct md_ghost *g);
void md_ghost_free(struct md_ghost *g);
/* An array of n VMAs (with their paths), as proc_read_smaps() returns it; NULL is fine. */
void md_vmas_free(struct md_vma *v, size_t n);
