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
/* the name of a POSIX message queue, the first found (NULL: none; free() it): 0 or -errno */
int ipcns_first_mqueue(char **ret);

/* kernel/KIND_next_id ("sem", "msg", "shm"): the id the next object of that kind gets: 0 or -errno */
int ipcns_choose_id(const char *kind, int id);
/*
 * The semaphore sets and message queues of ns, under their ids, keys,
 * owners and modes, made in the thread's IPC namespace (a new one: an id
 * or key in use fails): 0, or -errno with *what naming the one that failed
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
