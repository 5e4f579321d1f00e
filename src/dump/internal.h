#pragma once
/* Declarations shared by the files of src/dump/ only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memdump/model.h"
#include "memdump/timens.h"

struct md_regs;
struct md_thread;
struct md_proc;
struct md_siginfo;
struct user_regs_struct;
struct inject_ctx;
struct md_pagemap;
struct dump_out;
struct md_vma;
struct sock_filter;
struct proc_status;

/*
 * fn(pid, fd, link, arg) for every fd (its /proc link) of every process but
 * memdump and those of procs (outside.c); a nonzero return ends the walk
 * and is returned (-errno if /proc cannot be read).
 */
int dump_walk_outside_fds(const struct md_proc *procs, size_t n,
			  int (*fn)(pid_t pid, int fd, const char *link, void *arg), void *arg);

/*
 * A copy of fd of process pid, close-on-exec, or -errno (fdcopy.c); the
 * last pidfd stays open until dump_copy_fd_done().
 */
int dump_copy_fd(pid_t pid, int fd);
void dump_copy_fd_done(void);

/* the address (4 or 16 bytes), port and IPv6 scope (if scope) of a sockaddr_in or _in6 (sockets.c) */
struct sockaddr_storage;
void dump_take_inet_addr(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port, uint32_t *scope);
/* getsockopt() of an int (sockets.c): 0 or -errno */
int dump_sock_int(int sk, int level, int opt, int *ret);

/* sockopts.c: the options of new sockets, by kind, for one dump */
struct dump_sockopt_ref;
struct proc_mcast_group;
struct dump_sockopt_refs {
	size_t n;
	struct dump_sockopt_ref **r;	/* one per kind of socket (family, type, protocol) */
	/* mcast.c: the groups the interfaces joined, read at the first UDP socket */
	struct proc_mcast_group *groups;
	size_t n_groups;
	bool groups_read;
};
struct md_sock;
struct md_sockopts;
/* the options the process set on socket fd of pid (s read so far) into s->opts and s->sndbuf/rcvbuf; logs */
int dump_sockopts(struct dump_sockopt_refs *refs, pid_t pid, int fd, struct md_sock *s);
void dump_sockopt_refs_release(struct dump_sockopt_refs *refs);
/*
 * The multicast groups UDP socket sk (fd of pid, s) joined, with their
 * source filters, appended to *o (grown for them); logs.
 */
int dump_mcast(struct dump_sockopt_refs *refs, int sk, pid_t pid, int fd, const struct md_sock *s,
	       struct md_sockopts **o);

/* ptrace-visible state of a stopped thread; ret_shared non-NULL also reads the shared queue */
int dump_thread_state(pid_t pid, pid_t tid, struct md_thread *t, struct md_siginfo **ret_shared,
		      size_t *ret_n_shared);

/*
 * Each thread's seccomp state, no_new_privs and credentials from its
 * status file, read once (creds.c; securebits come from dump_remote_state):
 * before any remote syscall in p (its threads collected), as seccomp
 * filters are suspended here until the tree is let go.
 */
int dump_thread_status(struct md_proc *p);
/*
 * t's seccomp mode, no_new_privs and, in filter mode, filters into p; its
 * filters suspended (seccomp.c). A filter the restore could not bring
 * back is refused (-ENOTSUP, logged).
 */
int dump_seccomp_thread(struct md_proc *p, struct md_thread *t, const struct proc_status *st);
/* the filter in p->seccomp with that parent, flags and program, added if new: 1 + its index, or -ENOMEM */
int dump_seccomp_intern(struct md_proc *p, uint32_t parent, uint32_t flags, const struct sock_filter *insns,
			size_t n);

/* /proc/PID/map_files/START-END of v (shm.c): its file, open although no name may reach it */
void dump_map_files_path(char *buf, size_t len, pid_t pid, const struct md_vma *v);

/*
 * sigactions, itimers, limits, dumpable, prctl() settings, membarrier
 * registrations (process); sigaltstack, clear_child_tid, securebits, timer
 * slack (threads)
 */
int dump_remote_state(struct md_proc *p);
/* after it: scheduling of each thread, oom_score_adj and loginuid (attrs.c) */
int dump_attrs(struct md_proc *p);

/*
 * The POSIX timers of p (frozen, its threads collected): /proc/PID/timers
 * and a remote timer_gettime() each, through c and the scratch page at
 * scratch (timers.c). A timer the restore could not rebuild is refused
 * (-ENOTSUP, logged).
 */
int dump_posix_timers(struct md_proc *p, struct inject_ctx *c, uint64_t scratch);

/*
 * Which signal t takes first when it runs again (its own queue before the
 * shared one, lowest number first, unblocked, with a handler) and whether
 * that handler lets an interrupted syscall restart. Needs p->sigactions.
 */
int dump_pending_policy(const struct md_proc *p, const struct md_thread *t);
/* a stopped process SIGCONT reached while the dump held it: running, with what is pending now */
int dump_recheck_stop(struct md_proc *p);

/*
 * Settle t->regs (read raw) for the image: see inject_normalize_restart().
 * prev: the process in the previous image (pre-dump, dump -R), or NULL.
 * stopped: the process was stopped (SIGSTOP...) at the freeze: an EINTR
 * there came from that stop, which the process would see on SIGCONT too.
 */
void dump_settle_regs(const struct md_proc *p, struct md_thread *t, const struct md_proc *prev, bool stopped);

/*
 * The data of fd (size bytes) as whole pages, found by SEEK_DATA and
 * SEEK_HOLE: MD_PM_DATA entries, vaddr = offset. Holes a file system
 * reports stay holes; one that cannot tell (EINVAL) gives the whole file.
 * pagemap cannot tell swapped-out shmem pages from holes; SEEK_DATA can.
 * (shm.c, for deleted files too)
 */
int dump_file_data(int fd, uint64_t size, struct md_pagemap *ret);
/* pm's pages of fd into the new pages file name; logs a read error naming fd as what (image/ logs its own) */
int dump_file_pages(int fd, const struct md_pagemap *pm, const struct dump_out *out, const char *name,
		    const char *what);

struct stat;

/* the tree's UTS namespace, if not memdump's (ns.c) */
struct dump_uts {
	bool own;		/* the tree has one of its own: */
	char host[65];		/* its names, as uname() gives them */
	char domain[65];
};
struct dump_ns {
	bool pid_ns;		/* the root is init of a PID namespace of the tree's own */
	struct dump_uts uts;
	bool mnt_ns;		/* and in a mount namespace: memdump's with a /proc of that PID namespace */
	uint32_t proc_flags;	/* mnt_ns: that /proc's MS_* flags, */
	char *proc_opts;	/* its options ("rw,hidepid=2"; NULL: none shown), */
	dev_t proc_dev;		/* and its device */
	bool net_ns;		/* a network namespace of the tree's own (netns.c): */
	int net_fd;		/* it, open (with net_ns), memdump's (-1: not yet open), */
	int our_net_fd;
	bool lo_up;		/* its loopback device's state, */
	uint32_t lo_mtu;
	struct md_sysctl *sysctls;	/* and the sysctls set otherwise than in a new one */
	size_t n_sysctls;
	bool ipc_ns;		/* an IPC namespace of the tree's own (ipcns.c): */
	int ipc_fd;		/* it and memdump's, open (with ipc_ns), */
	int our_ipc_fd;
	struct md_ipcns ipc;	/* what ipcns.img keeps, */
	int32_t *ipc_shm_ids;	/* and its SysV shm segments, attached or not */
	size_t n_ipc_shm_ids;
	uint64_t mq_dev;	/* with ipc_ns: st_dev of its POSIX message queues */
	bool cgroup_ns;		/* a cgroup namespace of the tree's own, all of it at its root */
	bool time_ns;		/* a time namespace of the tree's own: its offsets and memdump's */
	struct timens_offsets time_tree;
	struct timens_offsets time_ours;
};
/*
 * Each thread of ft in memdump's namespaces (see ns.c) but the PID, UTS,
 * mount, network, IPC, time and cgroup ones, which all of the tree
 * shares: *ret says which (dump_ns_release() frees it). Refusals:
 * -ENOTSUP, logged.
 */
struct frozen_tree;
int dump_namespaces(const struct frozen_tree *ft, struct dump_ns *ret);
void dump_ns_release(struct dump_ns *ns);
/*
 * With ns->time_ns: the tree's CLOCK_MONOTONIC and CLOCK_BOOTTIME now, to
 * be read once every timer of the tree is (a restore arms each with the
 * time it had left then, from a clock that starts at these): 0, or
 * -ENOTSUP (logged) past what a restore can set.
 */
int dump_ns_clocks(const struct dump_ns *ns, uint64_t *monotonic_ns, uint64_t *boottime_ns);
/* a process outside ft (or a thread of it) in ns of kind name ("pid", "net"): its pid, 0, or -errno (logged) */
int dump_ns_outsider(const struct frozen_tree *ft, const char *name, const struct stat *ns);
/*
 * The tree's own network namespace net (netns.c): like a new one but for
 * what ns keeps (net_ns, net_fd, lo_up, lo_mtu, sysctls). Refusals:
 * -ENOTSUP, logged.
 */
int dump_own_netns(const struct frozen_tree *ft, const struct stat *net, struct dump_ns *ns);
/*
 * memdump's thread into the tree's network namespace (ns->net_ns), where
 * sock_diag, /proc/thread-self/net, the sockets it makes to compare
 * options with and the network lock all are the tree's; and back again.
 */
int dump_enter_netns(struct dump_ns *ns);
int dump_leave_netns(const struct dump_ns *ns);
/*
 * The tree's own IPC namespace ipc (ipcns.c): its semaphore sets, message
 * queues, sysctls and segments into ns (ipc_ns, ipc_fd, ipc, ipc_shm_ids;
 * its POSIX queues: dump_mqueues()). Refusals: -ENOTSUP, logged.
 */
int dump_own_ipcns(const struct frozen_tree *ft, const struct stat *ipc, struct dump_ns *ns);
/*
 * POSIX message queues, once the tree's fds are known (ipcns.c): those of
 * the tree's own IPC namespace into ns->ipc, with their messages (none
 * held outside the tree, none with a notification registered); each fd of
 * procs on a queue (MD_FD_MQUEUE) on one of the tree's namespace, which
 * the restore opens by name, and, in memdump's, with no process of the
 * tree registered for its notification. 0, or -ENOTSUP (logged).
 */
int dump_mqueues(struct dump_ns *ns, const struct md_proc *procs, size_t n);
/* memdump's thread into the tree's IPC namespace (ns->ipc_ns), where SysV ids are the tree's; and back */
int dump_enter_ipcns(struct dump_ns *ns);
int dump_leave_ipcns(const struct dump_ns *ns);
/*
 * No process outside ft (a thread of one neither) in ns, of kind name
 * ("net", "ipc"; what: "network namespace"), and no bind mount of it in
 * memdump's mount namespace (ip netns add): either would lose the tree.
 * 0, or -ENOTSUP (logged).
 */
int dump_ns_alone(const struct frozen_tree *ft, const char *name, const char *what, const struct stat *ns);
/* memdump's /proc is of its own PID namespace (before any pid is taken from it): 0, or -ENOTSUP (logged) */
int dump_check_proc(void);
/* no fd, mapping or working directory of procs on the tree's own /proc (ns->mnt_ns): 0, or -ENOTSUP */
int dump_ns_files(const struct dump_ns *ns, const struct md_proc *procs, size_t n);
/* a path under /proc: in a restored mount namespace of the tree's own, one of its new /proc */
bool dump_under_proc(const char *path);
/* whether path names the file st is of (same device and inode): restore opens it by that name */
bool dump_name_leads_to(const char *path, const struct stat *st);
