/*
 * A network namespace of the tree's own (dump_own_netns()). memdump keeps
 * its loopback device's state and its sysctls, and the restore makes a new
 * namespace with them: the rest must be what a new one has. So the
 * namespace is read (memdump/netns.h) and compared with one made here and
 * then, its loopback set the same: any other link, address, route, rule,
 * nftables or iptables table is refused, named. Sysctls are compared the
 * same way and those the tree's namespace has otherwise are kept: the
 * ones it left alone follow the restoring host, as for a new namespace.
 * A process outside the tree in the namespace, or a bind mount of it
 * (ip netns add), would lose the tree: refused.
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

/* a bind mount of the namespace (nsfs, "net:[INO]") in memdump's mount namespace: its mount point, or NULL */
static int find_bind_mount(const struct stat *net, char **ret)
{
	_cleanup_free_ char *text = NULL;
	struct proc_mount *m = NULL;
	char root[64];
	size_t n = 0;
	int r;

	*ret = NULL;
	r = proc_read_filef(&text, NULL, "/proc/self/mountinfo");
	if (r >= 0)
		r = proc_parse_mountinfo(text, &m, &n);
	if (r < 0)
		return r;
	snprintf(root, sizeof(root), "net:[%llu]", (unsigned long long)net->st_ino);
	for (size_t i = 0; i < n && r >= 0 && !*ret; i++)
		if (m[i].fstype && !strcmp(m[i].fstype, "nsfs") && m[i].root && !strcmp(m[i].root, root) &&
		    !(*ret = strdup(m[i].mount_point ? m[i].mount_point : "?")))
			r = -ENOMEM;
	proc_mounts_free(m, n);
	return r;
}

/* theirs (the tree's namespace, read) against fresh (a new one): 0, or -ENOTSUP (logged) */
static int compare(pid_t root, const struct netns_state *theirs, const struct netns_state *fresh)
{
	size_t i = 0, j = 0;

	while (i < theirs->n_lines || j < fresh->n_lines) {
		int c = i == theirs->n_lines ? 1 : j == fresh->n_lines ? -1 : strcmp(theirs->lines[i], fresh->lines[j]);

		if (c < 0)
			return log_refuse("the tree's network namespace (of %d) has what a new one has not: '%s': not "
					  "supported (memdump keeps only the loopback device's state and sysctls)", root,
					  theirs->lines[i]);
		if (c > 0)
			return log_refuse("the tree's network namespace (of %d) lacks what a new one has: '%s': not "
					  "supported (memdump keeps only the loopback device's state and sysctls)", root,
					  fresh->lines[j]);
		i++;
		j++;
	}
	return 0;
}

/* the tree's namespace (fd) and a new one, read from memdump's thread, which then goes back to its own */
static int read_both(int fd, struct netns_state *theirs, struct netns_state *fresh)
{
	_cleanup_close_ int ours = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int r, back;

	if (ours < 0)
		return log_err(-errno, "cannot open memdump's network namespace");
	if (setns(fd, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot enter the tree's network namespace");
	r = netns_read(theirs);
	if (r < 0)
		log_err(r, "cannot read the tree's network namespace");
	else if (unshare(CLONE_NEWNET) < 0)
		r = log_err(-errno, "cannot make a network namespace to compare the tree's with");
	else if ((r = netns_set_lo(theirs->lo_up, theirs->lo_mtu)) < 0)
		log_err(r, "cannot set up the loopback device of a new network namespace");
	else if ((r = netns_read(fresh)) < 0)
		log_err(r, "cannot read a new network namespace");
	/* the new one goes with our last reference to it */
	back = setns(ours, CLONE_NEWNET);
	if (back < 0)
		return log_err(-errno, "cannot go back to memdump's network namespace");
	return r;
}

static int keep_sysctls(const struct netns_state *theirs, const struct netns_state *fresh, struct dump_ns *ns)
{
	_cleanup_free_ const struct md_net_sysctl **diff = NULL;
	size_t n = 0;
	int r;

	r = netns_sysctl_diff(theirs->sysctls, theirs->n_sysctls, fresh->sysctls, fresh->n_sysctls, &diff, &n);
	if (r < 0)
		return r;
	if (n > MD_NET_SYSCTLS_MAX)
		return log_refuse("the tree's network namespace has %zu sysctls set otherwise than a new one: not "
				  "supported (at most %d)", n, MD_NET_SYSCTLS_MAX);
	if (n && !(ns->sysctls = calloc(n, sizeof(*ns->sysctls))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct md_net_sysctl *k = &ns->sysctls[ns->n_sysctls];

		k->name = strdup(diff[i]->name);
		k->value = strdup(diff[i]->value);
		ns->n_sysctls++;
		if (!k->name || !k->value)
			return -ENOMEM;
		log_debug("network sysctl %s: '%s' (a new namespace has another value or none)", k->name, k->value);
	}
	return 0;
}

int dump_own_netns(const struct frozen_tree *ft, const struct stat *net, struct dump_ns *ns)
{
	struct netns_state theirs = { 0 }, fresh = { 0 };
	_cleanup_free_ char *point = NULL;
	_cleanup_close_ int fd = -1;
	pid_t root = ft->procs[0].pid;
	char path[64];
	int r;

	r = dump_ns_outsider(ft, "net", net);
	if (r > 0)
		return log_refuse("process %d is in the tree's network namespace but not in the tree: not supported "
				  "(it would lose the tree)", r);
	if (r < 0)
		return r;
	r = find_bind_mount(net, &point);
	if (r < 0)
		return log_err(r, "cannot read memdump's mounts");
	if (point)
		return log_refuse("the tree's network namespace is bind-mounted on %s (ip netns add): not supported "
				  "(a restore makes a new one)", point);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open the network namespace of %d", root);
	r = read_both(fd, &theirs, &fresh);
	if (r >= 0)
		r = compare(root, &theirs, &fresh);
	if (r >= 0)
		r = keep_sysctls(&theirs, &fresh, ns);
	if (r >= 0) {
		ns->net_ns = true;
		ns->net_fd = TAKE_FD(fd);
		ns->lo_up = theirs.lo_up;
		ns->lo_mtu = theirs.lo_mtu;
	}
	netns_state_release(&theirs);
	netns_state_release(&fresh);
	return r;
}

int dump_enter_netns(const struct dump_ns *ns)
{
	if (ns->net_ns && setns(ns->net_fd, CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot enter the tree's network namespace");
	return 0;
}

void dump_ns_release(struct dump_ns *ns)
{
	free(ns->proc_opts);
	if (ns->net_ns)
		close(ns->net_fd);
	for (size_t i = 0; i < ns->n_sysctls; i++) {
		free(ns->sysctls[i].name);
		free(ns->sysctls[i].value);
	}
	free(ns->sysctls);
	memset(ns, 0, sizeof(*ns));
}
