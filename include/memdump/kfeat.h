#pragma once
/*
 * Kernel features memdump relies on, probed once by trying them (never by
 * version). ENOTTY/EINVAL/ENOSYS mean "absent".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "compat/userfaultfd.h"

/* what a lazy restore follows: fork, mremap, MADV_DONTNEED and munmap of memory it serves */
#define KFEAT_UFFD_LAZY (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | \
			 UFFD_FEATURE_EVENT_UNMAP)

struct kfeat {
	bool pagemap_scan;	/* PAGEMAP_SCAN ioctl on /proc/PID/pagemap */
	bool pagemap_pfn;	/* PFNs visible in pagemap (CAP_SYS_ADMIN) */
	uint64_t zero_pfn;	/* PFN of the shared zero page, 0 if unknown */
	bool soft_dirty;	/* clear_refs 4 makes bit 55 work */
	bool uffd_wp_async;	/* UFFD_FEATURE_WP_ASYNC | WP_UNPOPULATED */
	bool uffd_lazy;		/* userfaultfd for kernel faults too, with KFEAT_UFFD_LAZY events */
	bool clone3_set_tid;	/* clone3 with set_tid */
	bool rseq_config;	/* PTRACE_GET_RSEQ_CONFIGURATION */
	bool syscall_info;	/* PTRACE_GET_SYSCALL_INFO */
	bool pidfd_getfd;
	bool prctl_mm_map;	/* PR_SET_MM_MAP (PR_SET_MM_MAP_SIZE answers) */
	bool memfd;
	bool timerfd_set_ticks;	/* TFD_IOC_SET_TICKS: a timerfd's unread expirations come back */
	bool eventfd_semaphore;	/* fdinfo shows EFD_SEMAPHORE ("eventfd-semaphore:") */
	uint64_t xcr0;		/* XSAVE features enabled by the OS */
	uint32_t xsave_size;	/* bytes of the NT_X86_XSTATE regset */
	bool vvar_vclock;	/* [vvar_vclock] exists in this kernel's maps */
	bool shm_next_id;	/* we may choose SysV shm ids: restore of SysV segments */
	bool posix_timer_ids;	/* PR_TIMER_CREATE_RESTORE_IDS: timer_create() with a given id */
	/* only with kfeat_probe_all() (memdump check): */
	bool epoll_tfd;		/* fdinfo lists epoll items, kcmp(KCMP_EPOLL_TFD) finds their files */
	bool sock_diag_unix;	/* NETLINK_SOCK_DIAG answers for AF_UNIX (unix_diag) */
	bool sock_diag_inet;	/* ... and for TCP and UDP over IPv4 and IPv6 (inet_diag) */
	bool sock_diag_netlink;	/* ... and for AF_NETLINK (netlink_diag) */
	bool so_peek_off;	/* SO_PEEK_OFF walks a unix datagram queue with MSG_PEEK */
	bool tcp_repair;	/* TCP_REPAIR: established TCP connections (CAP_NET_ADMIN) */
	bool net_lock;		/* an nftables table can be made: the network lock */
	bool open_by_handle;	/* open_by_handle_at() opens what name_to_handle_at() named (CAP_DAC_READ_SEARCH) */
	bool inotify_fhandle;	/* inotify fdinfo shows a watch's file handle: the path of a watch can be found */
	bool seccomp_filters;	/* a tracee's filters suspended (PTRACE_O_SUSPEND_SECCOMP) and read */
	bool time_ns;		/* a time namespace made with offsets of ours (CAP_SYS_ADMIN, CAP_SYS_TIME) */
};

/* MEMDUMP_KFEAT_OFF=posix_timer_ids (comma-separated) takes those as absent: for tests */
int kfeat_probe(struct kfeat *ret);
/*
 * kfeat_probe() and what only `memdump check` reports (dump and restore
 * find these out where they need them, and fail there): closing the inotify
 * watch of one probe blocks for 7 to 18 ms here, and the others open
 * sockets, epoll fds and netlink requests that every dump and restore would
 * pay for nothing.
 */
int kfeat_probe_all(struct kfeat *ret);
/*
 * The dirty tracking incremental dumps use here (an enum md_track_method):
 * soft-dirty where it works, else userfaultfd write-protection in async
 * mode read with PAGEMAP_SCAN, else none.
 */
int kfeat_dirty_tracking(const struct kfeat *kf);
void kfeat_print(const struct kfeat *kf, FILE *out);
/* whether a child of ours can make a time namespace and set its offsets: a tree's own restored (fork()s) */
bool kfeat_probe_time_ns(void);
