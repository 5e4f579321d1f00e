#pragma once
/*
 * An IPC namespace, the calling thread's (src/proc/ipcns.c): read for a
 * dump, made again for a restore. Every call works on the namespace the
 * calling thread is in (setns(CLONE_NEWIPC) is a thread's own).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memdump/model.h"

/* every sysctl of md_ipc_sysctl_names, in its order (sorted), as read: 0 or -errno */
int ipcns_read_sysctls(struct md_sysctl **ret, size_t *ret_n);
/* every SysV semaphore set and message queue (with its messages), by id: 0 or -errno */
int ipcns_read_objects(struct md_ipcns *ns);

struct ipcns_shm {
	int32_t id;
	uint64_t size;
	uint64_t nattch;
};
/* every SysV shm segment: 0 or -errno */
int ipcns_read_shm(struct ipcns_shm **ret, size_t *ret_n);
/* the namespace's mqueue file system, mounted nowhere: an fd on its root, or -errno */
int ipcns_mqueue_mount(void);

/* what read() of a POSIX message queue tells */
struct ipcns_mq_info {
	uint64_t qsize;		/* bytes queued */
	bool notify;		/* a process is registered for a notification (mq_notify()) */
	int notify_pid;		/* it, in the caller's PID namespace; 0: none, or one the caller
				 * does not see */
};
/* of the queue fd is on: 0 or -errno */
int ipcns_mqueue_info(int fd, struct ipcns_mq_info *ret);
/*
 * Every POSIX message queue, by name, into ns->mqs (none before; sorted),
 * with its messages, and the st_dev of their file system. First each queue
 * is looked at, and check(ns, dev, arg) (if given) may refuse what it found
 * (its nonzero return is returned); then each queue's messages are taken
 * out and put back at once, in the order taken, which is the queue's:
 * nobody else may send or receive meanwhile. 0, or -errno with *failed
 * naming the queue that failed (free() it): -EBUSY, a process is
 * registered for its notification; -EFBIG, the queues hold over
 * MD_MSG_BYTES_MAX bytes or MD_MSGS_MAX messages; -EIO, another sender or
 * receiver got in the way, and the queue may have lost messages.
 */
int ipcns_read_mqueues(struct md_ipcns *ns, uint64_t *dev, char **failed,
		       int (*check)(const struct md_ipcns *ns, uint64_t dev, void *arg), void *arg);

/* kernel/KIND_next_id ("sem", "msg", "shm"): the id the next object of that kind gets: 0 or -errno */
int ipcns_choose_id(const char *kind, int id);
/*
 * The semaphore sets and message queues of ns, under their ids, keys,
 * owners and modes, and its POSIX message queues under their names, made
 * in the thread's IPC namespace (a new one: an id, key or name in use
 * fails): 0, or -errno with *what naming the one that failed
 */
int ipcns_make_objects(const struct md_ipcns *ns, char *what, size_t len);
/*
 * Before anything is made: each limit among the sysctls s (kernel/shm*,
 * msg*, sem) at least as high as s has it, field by field, so that what a
 * namespace that raised them holds can be made; ipcns_write_sysctls()
 * sets them as they were after. 0, or -errno with *failed naming one.
 */
int ipcns_raise_limits(const struct md_sysctl *s, size_t n, const char **failed);
/* the sysctls s, in order: 0, or -errno with *failed naming the one the kernel refused */
int ipcns_write_sysctls(const struct md_sysctl *s, size_t n, const char **failed);
