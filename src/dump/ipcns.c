/*
 * An IPC namespace of the tree's own (dump_own_ipcns()). Everything in it
 * goes with the tree, so the image keeps all of it: the SysV semaphore
 * sets with their values, the message queues with their messages (ipcns.
 * img), the shared memory segments, attached or not (sysvshm-ID.img, as
 * in memdump's namespace), each under its id and key with its owner and
 * mode, the POSIX message queues with their messages, under their names,
 * and the sysctls set otherwise than in a new namespace. memdump's
 * thread reads them from inside (setns() of an IPC namespace is the
 * thread's own), and goes there again for the segments
 * (dump_enter_ipcns()).
 *
 * The POSIX queues are read once the tree's fds are known
 * (dump_mqueues()): their messages can only be taken out and put back, so
 * that a queue also held outside the tree is refused first.
 *
 * Refused: a POSIX queue held outside the tree or with a notification
 * registered (mq_notify(): the kernel shows the process and signal, not
 * the value it sends), a process outside the tree in
 * the namespace or a bind mount of it (they would lose the tree), and with
 * kernel.shm_rmid_forced a segment nobody has attached (memdump's look at
 * it would remove it). Not kept: semaphore adjustments (SEM_UNDO) of the
 * tree's processes, which the kernel does not show, and the ids a new
 * object would get (each kind's next one is the lowest free again).
 */
#include "dump/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/freeze.h"
#include "memdump/ipcns.h"
#include "memdump/log.h"

/* the sysctls of the tree's namespace (read) set otherwise than in a new one, made and read here */
static int fresh_diff(const struct md_sysctl *theirs, size_t n, struct md_ipcns *ipc)
{
	struct md_sysctl *fresh = NULL;
	const struct md_sysctl **diff = NULL;
	size_t n_fresh = 0, n_diff = 0;
	int r;

	if (unshare(CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot make an IPC namespace to compare the tree's with");
	r = ipcns_read_sysctls(&fresh, &n_fresh);
	if (r < 0)
		return log_err(r, "cannot read the sysctls of a new IPC namespace");
	r = md_sysctl_diff(theirs, n, fresh, n_fresh, &diff, &n_diff);
	if (r >= 0 && n_diff && !(ipc->sysctls = calloc(n_diff, sizeof(*ipc->sysctls))))
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n_diff; i++) {
		struct md_sysctl *k = &ipc->sysctls[ipc->n_sysctls++];

		k->name = strdup(diff[i]->name);
		k->value = strdup(diff[i]->value);
		if (!k->name || !k->value)
			r = -ENOMEM;
		else
			log_debug("IPC sysctl %s: '%s' (a new namespace has another value)", k->name, k->value);
	}
	free(diff);
	md_sysctls_free(fresh, n_fresh);
	return r;
}

/* the segments of the namespace (memdump's thread in it), each refused where it would be lost */
static int read_segments(pid_t root, bool rmid_forced, struct dump_ns *ns)
{
	struct ipcns_shm *shm = NULL;
	size_t n = 0;
	int r;

	r = ipcns_read_shm(&shm, &n);
	if (r < 0)
		return log_err(r, "cannot list the SysV shared memory of the tree's IPC namespace");
	ns->ipc_shm_ids = calloc(n + 1, sizeof(*ns->ipc_shm_ids));
	if (!ns->ipc_shm_ids) {
		free(shm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (rmid_forced && !shm[i].nattch)
			r = log_refuse("SysV shared memory %d of the tree's IPC namespace (of %d) is attached by no "
				       "process, with kernel.shm_rmid_forced set: not supported (memdump's look at it "
				       "would remove it)", shm[i].id, root);
		ns->ipc_shm_ids[ns->n_ipc_shm_ids++] = shm[i].id;
	}
	free(shm);
	return r;
}

static const char *sysctl_value(const struct md_sysctl *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return s[i].value;
	return "";
}

/* what the namespace (memdump's thread in it) holds, into ns; the thread then goes into a new one */
static int read_ns(pid_t root, struct dump_ns *ns)
{
	struct md_sysctl *theirs = NULL;
	size_t n = 0;
	int r;

	r = ipcns_read_sysctls(&theirs, &n);
	if (r < 0)
		return log_err(r, "cannot read the sysctls of the tree's IPC namespace");
	r = ipcns_read_objects(&ns->ipc);
	if (r == -EFBIG)
		r = log_refuse("the message queues of the tree's IPC namespace hold over %u bytes or %u messages: "
			       "not supported", MD_MSG_BYTES_MAX, MD_MSGS_MAX);
	else if (r == -ERANGE)
		r = log_refuse("a message queue of the tree's IPC namespace has a msg_qbytes over 2^31 - 1: not "
			       "supported (a restore could not set it)");
	else if (r == -EMSGSIZE)
		r = log_refuse("a message queue of the tree's IPC namespace holds a message larger than its "
			       "kernel.msgmax: not supported");
	else if (r < 0)
		r = log_err(r, "cannot read the semaphores and message queues of the tree's IPC namespace");
	if (r >= 0)
		r = read_segments(root, strcmp(sysctl_value(theirs, n, "kernel/shm_rmid_forced"), "0") != 0, ns);
	if (r >= 0)
		r = fresh_diff(theirs, n, &ns->ipc);
	md_sysctls_free(theirs, n);
	return r;
}

int dump_own_ipcns(const struct frozen_tree *ft, const struct stat *ipc, struct dump_ns *ns)
{
	_cleanup_close_ int fd = -1, ours = -1;
	pid_t root = ft->procs[0].pid;
	char path[64];
	int r;

	r = dump_ns_alone(ft, "ipc", "IPC namespace", ipc);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ours = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ours < 0)
		return log_err(-errno, "cannot open the IPC namespaces of %d and memdump", root);
	if (setns(fd, CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot enter the tree's IPC namespace");
	r = read_ns(root, ns);
	if (setns(ours, CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot go back to memdump's IPC namespace");
	if (r < 0)
		return r;
	log_debug("the tree's IPC namespace: %zu semaphore sets, %zu message queues, %zu segments, %zu sysctls",
		  ns->ipc.n_sems, ns->ipc.n_msgqs, ns->n_ipc_shm_ids, ns->ipc.n_sysctls);
	ns->ipc_ns = true;
	ns->ipc_fd = TAKE_FD(fd);
	ns->our_ipc_fd = TAKE_FD(ours);
	return 0;
}

int dump_enter_ipcns(struct dump_ns *ns)
{
	if (ns->ipc_ns && setns(ns->ipc_fd, CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot enter the tree's IPC namespace");
	return 0;
}

int dump_leave_ipcns(const struct dump_ns *ns)
{
	if (ns->ipc_ns && setns(ns->our_ipc_fd, CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot go back to memdump's IPC namespace");
	return 0;
}

/* the st_dev of the POSIX message queues of memdump's IPC namespace */
static int our_mq_dev(uint64_t *dev)
{
	_cleanup_close_ int mnt = ipcns_mqueue_mount();
	struct stat st;

	if (mnt < 0)
		return mnt;
	if (fstat(mnt, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	return 0;
}

static bool in_tree(const struct md_proc *procs, size_t n, pid_t pid)
{
	const struct md_proc *p = md_find_proc(procs, n, pid);

	return p && !p->zombie;
}

/* fd f of p, on a queue of memdump's namespace: none of procs registered for its notification */
static int check_notify(const struct md_proc *procs, size_t n, const struct md_proc *p, const struct md_fd *f)
{
	_cleanup_close_ int fd = -1;
	struct ipcns_mq_info info;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, f->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open fd %d of %d (POSIX message queue '%s')", f->fd, p->pid, f->path);
	r = ipcns_mqueue_info(fd, &info);
	if (r < 0)
		return log_err(r, "cannot read fd %d of %d (POSIX message queue '%s')", f->fd, p->pid, f->path);
	if (info.notify_pid && in_tree(procs, n, info.notify_pid))
		return log_refuse("fd %d of %d is POSIX message queue '%s', for whose notification %d is registered "
				  "(mq_notify()): not supported", f->fd, p->pid, f->path, info.notify_pid);
	return 0;
}

struct outside_mq {
	const struct md_ipcns *ipc;
	uint64_t dev;
	const struct md_proc *procs;
	size_t n;
	pid_t root;
};

static int cmp_mq_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct md_posix_mq *)elem)->name);
}

/* an fd outside the tree on one of its queues (named as one, on their file system): refused */
static int refuse_holder(pid_t pid, int fd, const char *link, void *arg)
{
	const struct outside_mq *o = arg;
	const char *base = strrchr(link, '/');
	char path[64];
	struct stat st;

	if (link[0] != '/' || !base ||
	    !bsearch(base + 1, o->ipc->mqs, o->ipc->n_mqs, sizeof(*o->ipc->mqs), cmp_mq_name))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || st.st_dev != o->dev)
		return 0;
	return log_refuse("POSIX message queue '/%s' of the tree's IPC namespace (of %d) is held by %d outside "
			  "the tree (fd %d): not supported (memdump's look at its messages would meet its calls)",
			  base + 1, o->root, pid, fd);
}

/*
 * What the queues are, looked at before any message is taken: none held
 * outside the tree, where a process could send or receive while memdump
 * takes the messages and puts them back
 */
static int check_holders(const struct md_ipcns *ipc, uint64_t dev, void *arg)
{
	struct outside_mq *o = arg;
	int r;

	if (!ipc->n_mqs)
		return 0;
	o->ipc = ipc;
	o->dev = dev;
	r = dump_walk_outside_fds(o->procs, o->n, refuse_holder, o);
	if (r < 0 && r != -ENOTSUP)
		return log_err(r, "cannot look for holders of the tree's POSIX message queues outside it");
	return r;
}

/* the POSIX queues of the tree's own namespace, their messages taken and put back (memdump's thread in it) */
static int read_mqueues(struct dump_ns *ns, const struct md_proc *procs, size_t n)
{
	struct outside_mq o = { .procs = procs, .n = n, .root = procs[0].pid };
	_cleanup_free_ char *mq = NULL;
	int r;

	/* the tree is frozen, alone in the namespace, and its queues held by nobody else */
	r = ipcns_read_mqueues(&ns->ipc, &ns->mq_dev, &mq, check_holders, &o);
	if (r == -ENOTSUP)
		return r;
	if (r == -EBUSY)
		return log_refuse("POSIX message queue '/%s' of the tree's IPC namespace (of %d) has a process "
				  "registered for its notification (mq_notify()): not supported", mq, o.root);
	if (r == -EFBIG)
		return log_refuse("the POSIX message queues of the tree's IPC namespace hold over %u bytes or %u "
				  "messages: not supported", MD_MSG_BYTES_MAX, MD_MSGS_MAX);
	if (r == -EIO)
		return log_err(r, "POSIX message queue '/%s' of the tree's IPC namespace changed while memdump took "
			       "its messages and put them back: someone outside the tree sent or received (it may "
			       "have lost messages)", mq);
	if (r < 0)
		return log_err(r, "cannot read POSIX message queue%s%s%s of the tree's IPC namespace", mq ? " '/" : "s",
			       mq ? mq : "", mq ? "'" : "");
	log_debug("the tree's IPC namespace: %zu POSIX message queues", ns->ipc.n_mqs);
	return 0;
}

int dump_mqueues(struct dump_ns *ns, const struct md_proc *procs, size_t n)
{
	bool have_dev = ns->ipc_ns;
	uint64_t dev = 0;
	int r, r2;

	if (ns->ipc_ns) {
		r = dump_enter_ipcns(ns);
		if (r < 0)
			return r;
		r = read_mqueues(ns, procs, n);
		r2 = dump_leave_ipcns(ns);
		if (r < 0 || r2 < 0)
			return r < 0 ? r : r2;
		dev = ns->mq_dev;
	}
	for (size_t i = 0; i < n; i++) {
		const struct md_proc *p = &procs[i];

		for (size_t k = 0; !p->zombie && k < p->n_fds; k++) {
			const struct md_fd *f = &p->fds[k];

			if (f->kind != MD_FD_MQUEUE)
				continue;
			if (!have_dev) {
				r = our_mq_dev(&dev);
				if (r < 0)
					return log_err(r, "cannot find memdump's POSIX message queues");
				have_dev = true;
			}
			if (f->dev != dev)
				return log_refuse("fd %d of %d is POSIX message queue '%s' of another IPC namespace "
						  "than the tree's: not supported", f->fd, p->pid, f->path);
			r = ns->ipc_ns ? 0 : check_notify(procs, n, p, f);
			if (r < 0)
				return r;
		}
	}
	return 0;
}
