/*
 * A network namespace of the tree's own (dump_own_netns()). memdump keeps
 * its loopback device's state and its sysctls, and the restore makes a new
 * namespace with them: the rest must be what a new one has. So the
 * namespace is read (memdump/netns.h) and what a restore would make of the
 * image is made here (replay()): a new namespace, its loopback set the
 * same and the sysctls written, must read the same. Any other link,
 * address, route, rule, next hop, neighbour, queueing discipline, address
 * label, IPsec policy or state, nftables or iptables table is refused,
 * named. The sysctls it left alone follow the restoring host, as in any
 * new namespace. A process outside the tree in the namespace (a thread of
 * one too), or a bind mount of it in memdump's mount namespace (ip netns
 * add), would lose the tree: refused. Not seen: an fd on the namespace,
 * or a bind mount of it in another mount namespace.
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
#include "memdump/log.h"
#include "memdump/netns.h"
#include "memdump/proc.h"

/* theirs (the tree's namespace, read) against fresh (a new one): 0, or -ENOTSUP (logged) */
static int compare(pid_t root, const struct netns_state *theirs, const struct netns_state *fresh)
{
	size_t i = 0, j = 0;

	while (i < theirs->n_lines || j < fresh->n_lines) {
		int c = i == theirs->n_lines ? 1 : j == fresh->n_lines ? -1 : strcmp(theirs->lines[i], fresh->lines[j]);

		if (c < 0)
			return log_refuse("the tree's network namespace (of %d) has what a new one has not: '%s': not "
					  "supported (memdump keeps only the loopback device's state and sysctls)",
					  root, theirs->lines[i]);
		if (c > 0)
			return log_refuse("the tree's network namespace (of %d) lacks what a new one has: '%s': not "
					  "supported (memdump keeps only the loopback device's state and sysctls)",
					  root, fresh->lines[j]);
		i++;
		j++;
	}
	return 0;
}

/* the sysctls of diff (n of them) after those of ns, copied: 0 or -ENOMEM */
static int keep_more(struct dump_ns *ns, const struct md_sysctl **diff, size_t n)
{
	struct md_sysctl *grown;

	if (ns->n_sysctls + n > MD_NET_SYSCTLS_MAX)
		return log_refuse("the tree's network namespace has more than %d sysctls to set: not supported",
				  MD_NET_SYSCTLS_MAX);
	grown = reallocarray(ns->sysctls, ns->n_sysctls + n, sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	ns->sysctls = grown;
	for (size_t i = 0; i < n; i++) {
		struct md_sysctl *k = &ns->sysctls[ns->n_sysctls];

		k->name = strdup(diff[i]->name);
		k->value = strdup(diff[i]->value);
		ns->n_sysctls++;
		if (!k->name || !k->value)
			return -ENOMEM;
		log_debug("network sysctl %s: '%s' (a new namespace has another value or none)", k->name, k->value);
	}
	return 0;
}

/*
 * What a restore would make of the image, made here: in a new namespace
 * the loopback is set and ns->sysctls written as the restore writes them
 * (netns_write_sysctls()), and the namespace read again. A sysctl that
 * then reads otherwise than in theirs (a new one's default; the value an
 * "all" sysctl wrote over a device's) is kept too, after the others, and
 * it all starts again in another new namespace, until one reads as the
 * tree's: then the lines must match, what a sysctl changes included (::1
 * goes with IPv6). A sysctl the new namespace refuses is refused.
 */
#define REPLAY_ROUNDS 4

static int replay(pid_t root, const struct netns_state *theirs, struct dump_ns *ns)
{
	const struct md_sysctl **diff = NULL;
	struct netns_state fresh = { 0 };
	const char *failed;
	size_t n = 0;
	int r = 0;

	for (int round = 0; round < REPLAY_ROUNDS; round++) {
		if (unshare(CLONE_NEWNET) < 0)
			return log_err(-errno, "cannot make a network namespace to compare the tree's with");
		r = netns_set_lo(theirs->lo_up, theirs->lo_mtu);
		if (r < 0)
			return log_err(r, "cannot set up the loopback device of a new network namespace");
		r = netns_write_sysctls(ns->sysctls, ns->n_sysctls, &failed);
		if (r < 0)
			return log_refuse("sysctl net/%s of the tree's network namespace cannot be set in a new one "
					  "(%s): not supported", failed, strerror(-r));
		r = netns_read(&fresh);
		if (r < 0)
			return log_err(r, "cannot read a new network namespace");
		r = md_sysctl_diff(theirs->sysctls, theirs->n_sysctls, fresh.sysctls, fresh.n_sysctls, &diff, &n);
		if (r >= 0 && !n) {
			r = compare(root, theirs, &fresh);
			netns_state_release(&fresh);
			return r;
		}
		if (r >= 0 && round < REPLAY_ROUNDS - 1)
			r = keep_more(ns, diff, n);
		else if (r >= 0)
			r = log_refuse("sysctl net/%s of the tree's network namespace cannot be set back to '%s' in a "
				       "new one: not supported", diff[0]->name, diff[0]->value);
		free(diff);
		netns_state_release(&fresh);
		if (r < 0)
			return r;
	}
	return r;
}

/*
 * The tree's namespace (fd) read, and replayed (replay()) from memdump's
 * thread, which then goes back to its own; the new namespaces go with
 * its last reference to them.
 */
static int read_and_replay(pid_t root, int fd, struct dump_ns *ns, struct netns_state *theirs)
{
	_cleanup_close_ int ours = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	if (ours < 0)
		return log_err(-errno, "cannot open memdump's network namespace");
	if (setns(fd, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot enter the tree's network namespace");
	r = netns_read(theirs);
	if (r < 0)
		log_err(r, "cannot read the tree's network namespace");
	else
		r = replay(root, theirs, ns);
	if (setns(ours, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot go back to memdump's network namespace");
	return r;
}

int dump_own_netns(const struct frozen_tree *ft, const struct stat *net, struct dump_ns *ns)
{
	struct netns_state theirs = { 0 };
	_cleanup_close_ int fd = -1;
	pid_t root = ft->procs[0].pid;
	char path[64];
	int r;

	r = dump_ns_alone(ft, "net", "network namespace", net);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open the network namespace of %d", root);
	r = read_and_replay(root, fd, ns, &theirs);
	if (r >= 0) {
		ns->net_ns = true;
		ns->net_fd = TAKE_FD(fd);
		ns->our_net_fd = -1;
		ns->lo_up = theirs.lo_up;
		ns->lo_mtu = theirs.lo_mtu;
	}
	netns_state_release(&theirs);
	return r;
}

int dump_enter_netns(struct dump_ns *ns)
{
	if (!ns->net_ns)
		return 0;
	if (ns->our_net_fd < 0 && (ns->our_net_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return log_err(-errno, "cannot open memdump's network namespace");
	if (setns(ns->net_fd, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot enter the tree's network namespace");
	return 0;
}

int dump_leave_netns(const struct dump_ns *ns)
{
	if (ns->net_ns && setns(ns->our_net_fd, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot go back to memdump's network namespace");
	return 0;
}

void dump_ns_release(struct dump_ns *ns)
{
	free(ns->proc_opts);
	if (ns->net_ns) {
		close(ns->net_fd);
		if (ns->our_net_fd >= 0)
			close(ns->our_net_fd);
	}
	md_sysctls_free(ns->sysctls, ns->n_sysctls);
	if (ns->ipc_ns) {
		close(ns->ipc_fd);
		close(ns->our_ipc_fd);
	}
	md_ipcns_release(&ns->ipc);
	free(ns->ipc_shm_ids);
	memset(ns, 0, sizeof(*ns));
}
