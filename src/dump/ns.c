/*
 * The tree's namespaces, against memdump's. The image holds what memdump
 * sees: pids, user and group ids, paths, and the restore puts the tree in
 * the restoring memdump's namespaces. A tree that saw other pids, ids or
 * files than memdump would come back seeing different ones, or with more
 * privilege than it had (a user namespace's root), so each thread must be
 * in memdump's user namespace and have memdump's root directory. The
 * rest of a thread's file system context, its working directory (here)
 * and umask (dump_thread_status()), must be its process's: the restore
 * gives each process one (a thread that called unshare(CLONE_FS) is
 * refused).
 *
 * Seven kinds may differ, each only as one namespace around the whole tree:
 * - PID: the root is the first process (init) of a PID namespace, a child
 *   of memdump's, that holds the tree and nothing else. The image has each
 *   process's and thread's id in it too (ns_pid, ns_tid: /proc's NSpid),
 *   and the restore makes a new one with the same ids at both levels.
 * - UTS: the image has its host and domain names; the restore makes a new
 *   one around the tree.
 * - mount, with a PID one: a copy of memdump's with a /proc of the tree's
 *   PID namespace on top (unshare --mount-proc); the restore makes a copy
 *   of its own and mounts a /proc there again. Files on that /proc are
 *   refused (dump_ns_files()): their paths name others in memdump's.
 * - network: one like a new one but for its loopback device's state and
 *   sysctls, which the image keeps (netns.c); the restore makes a new one.
 *   The host's (the kernel threads'), seen from a memdump in another one,
 *   is no namespace of the tree's own: a tree without sockets (sockets.c)
 *   moves to the restoring memdump's, as it does to another host.
 * - IPC: all it holds goes into the image (ipcns.c: semaphore sets,
 *   message queues, SysV and POSIX, segments attached or not, sysctls);
 *   the restore makes a new one with it.
 * - time, which every thread's children would get too: the image has the
 *   tree's clocks once its timers are read (dump_ns_clocks()); the restore
 *   makes a new one where they go on from there.
 * - cgroup, if the whole tree is at its root (check_own_cgroupns()): the
 *   restore makes a new one at memdump's cgroups.
 */
#include "dump/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/freeze.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

/* the namespaces that must be memdump's, as /proc/PID/task/TID/ns/ names them */
static const struct {
	const char *name;
	const char *what;
} same[] = {
	{ "user", "user namespace" },
};

#define N_SAME (sizeof(same) / sizeof(same[0]))

/* stat of /proc/self/ns/NAME or /proc/PID/task/TID/ns/NAME (pid 0: ours): 0, or -errno */
static int ns_stat(pid_t pid, pid_t tid, const char *name, struct stat *st)
{
	char path[96];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/%s", pid, tid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, st) < 0 ? -errno : 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* the host and domain names of pid's UTS namespace, from a child of ours that joins it */
static int read_uts(pid_t pid, struct dump_uts *u)
{
	_cleanup_close_ int ns = -1;
	struct utsname un;
	int pfd[2], status;
	ssize_t got;
	char path[64];
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return log_err(-errno, "cannot open the UTS namespace of %d", pid);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return log_err(-errno, "cannot read the UTS namespace of %d", pid);
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		if (setns(ns, CLONE_NEWUTS) < 0 || uname(&un) < 0 || write(pfd[1], &un, sizeof(un)) != sizeof(un))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (child < 0) {
		close(pfd[0]);
		return log_err(-errno, "cannot read the UTS namespace of %d", pid);
	}
	got = read(pfd[0], &un, sizeof(un));
	close(pfd[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(un))
		return log_err(-EIO, "cannot read the host name in the UTS namespace of %d", pid);
	/* uname() ends both with a NUL within their 65 bytes */
	snprintf(u->host, sizeof(u->host), "%s", un.nodename);
	snprintf(u->domain, sizeof(u->domain), "%s", un.domainname);
	return 0;
}

/* the namespaces a tree may have of its own: the root's, each thread's must be */
struct tree_ns {
	struct stat pid;
	struct stat uts;
	struct stat mnt;
	struct stat net;
	struct stat ipc;
	struct stat time;	/* st_ino 0: the kernel has no time namespaces */
	struct stat cgroup;	/* or no cgroup ones */
};

/* the working directory of thread tid of pid, stat()ed */
static int cwd_stat(pid_t pid, pid_t tid, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/cwd", pid, tid);
	if (stat(path, st) < 0)
		return log_err(-errno, "cannot read the working directory of %d (thread %d)", pid, tid);
	return 0;
}

/*
 * thread tid of pid: memdump's namespaces but those of tns, which must be
 * the root's, and its leader's working directory (cwd; its umask is
 * compared where the status files are read, dump_thread_status())
 */
static int check_thread(pid_t pid, pid_t tid, const struct stat *ours, const struct stat *root_dir,
			const struct tree_ns *tns, const struct stat *cwd)
{
	struct stat st;
	char path[64];
	int r;

	for (size_t k = 0; k < N_SAME; k++) {
		if (!ours[k].st_ino)
			continue;	/* memdump's kernel has none of this kind */
		/* ENOENT: none to show (the thread is held), which memdump has */
		r = ns_stat(pid, tid, same[k].name, &st);
		if (r < 0 && r != -ENOENT)
			return log_err(r, "cannot read the %s of %d (thread %d)", same[k].what, pid, tid);
		if (r == 0 && same_file(&st, &ours[k]))
			continue;
		return log_refuse("process %d (thread %d) is in another %s than memdump's: not supported", pid, tid,
				  same[k].what);
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/root", pid, tid);
	if (stat(path, &st) < 0)
		return log_err(-errno, "cannot read the root directory of %d (thread %d)", pid, tid);
	if (!same_file(&st, root_dir))
		return log_refuse("process %d (thread %d) has another root directory than memdump's (chroot): "
				  "not supported", pid, tid);
	if (tid != pid) {
		r = cwd_stat(pid, tid, &st);
		if (r < 0)
			return r;
		if (!same_file(&st, cwd))
			return log_refuse("thread %d of %d has another working directory than its process "
					  "(unshare(CLONE_FS)): not supported", tid, pid);
	}
	const struct {
		const char *name;
		const char *what;
		const struct stat *root;
	} own[] = {
		{ "uts", "UTS namespace", &tns->uts },
		{ "mnt", "mount namespace", &tns->mnt },
		{ "pid", "PID namespace", &tns->pid },
		{ "pid_for_children", "PID namespace for its children", &tns->pid },
		{ "net", "network namespace", &tns->net },
		{ "ipc", "IPC namespace", &tns->ipc },
		{ "cgroup", "cgroup namespace", &tns->cgroup },
		/* one the thread's children get too: the restore makes only one */
		{ "time", "time namespace", &tns->time },
		{ "time_for_children", "time namespace for its children", &tns->time },
	};
	for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
		if (!own[k].root->st_ino)
			continue;	/* a kind the kernel has not */
		/* ENOENT: a PID namespace for children without its init yet */
		r = ns_stat(pid, tid, own[k].name, &st);
		if (r < 0 && r != -ENOENT)
			return log_err(r, "cannot read the %s of %d (thread %d)", own[k].what, pid, tid);
		if (r < 0 || !same_file(&st, own[k].root))
			return log_refuse("process %d (thread %d) is in another %s than the tree's root: not supported "
					  "(only one around the whole tree is)", pid, tid, own[k].what);
	}
	return 0;
}

/* the number of ids in pid's NSpid line (1: /proc's PID namespace; 2: a child of it), and its last one */
static int nspid_of(pid_t pid, uint32_t *n, pid_t *last)
{
	struct proc_status st;
	int r;

	r = proc_read_status(pid, 0, &st);
	if (r < 0)
		return r;
	*n = st.nspid_n;
	*last = st.nspid_last;
	return 0;
}

int dump_ns_outsider(const struct frozen_tree *ft, const char *name, const struct stat *ns)
{
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	struct dirent *de;

	if (!proc)
		return log_err(-errno, "cannot read /proc");
	while ((de = readdir(proc))) {
		pid_t other = (pid_t)atoi(de->d_name), *tids;
		bool ours = false, in = false;
		struct stat st;
		size_t n;

		for (size_t i = 0; i < ft->n && !ours; i++)
			ours = ft->procs[i].pid == other;
		for (size_t i = 0; i < ft->n_zombies && !ours; i++)
			ours = ft->zombies[i] == other;
		/* gone meanwhile: none */
		if (other <= 0 || ours || proc_list_tasks(other, &tids, &n) < 0)
			continue;
		/*
		 * each thread: one may have entered it alone (setns() of a network
		 * namespace is the thread's); a zombie still shows its PID namespace
		 */
		for (size_t t = 0; t < n && !in; t++)
			in = ns_stat(other, tids[t], name, &st) == 0 && same_file(&st, ns);
		free(tids);
		if (in)
			return other;
	}
	return 0;
}

/* a bind mount of ns (of kind name) in memdump's mount namespace: its mount point, or NULL */
static int bind_mount(const char *name, const struct stat *ns, char **ret)
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
	snprintf(root, sizeof(root), "%s:[%llu]", name, (unsigned long long)ns->st_ino);
	for (size_t i = 0; i < n && r >= 0 && !*ret; i++)
		if (m[i].fstype && !strcmp(m[i].fstype, "nsfs") && m[i].root && !strcmp(m[i].root, root) &&
		    !(*ret = strdup(m[i].mount_point ? m[i].mount_point : "?")))
			r = -ENOMEM;
	proc_mounts_free(m, n);
	return r;
}

int dump_ns_alone(const struct frozen_tree *ft, const char *name, const char *what, const struct stat *ns)
{
	_cleanup_free_ char *point = NULL;
	int r;

	r = dump_ns_outsider(ft, name, ns);
	if (r > 0)
		return log_refuse("process %d is in the tree's %s but not in the tree: not supported (it would "
				  "lose the tree)", r, what);
	if (r < 0)
		return r;
	r = bind_mount(name, ns, &point);
	if (r < 0)
		return log_err(r, "cannot read memdump's mounts");
	if (point)
		return log_refuse("the tree's %s is bind-mounted on %s: not supported (a restore makes a new one)",
				  what, point);
	return 0;
}

/*
 * The root's PID namespace (pid) is not memdump's: it must be a child of
 * memdump's, the root its init, and no process outside the tree in it (one
 * that entered by setns(); the tree's end would kill it).
 */
static int check_own_pidns(const struct frozen_tree *ft, const struct stat *pid)
{
	pid_t root = ft->procs[0].pid, last;
	uint32_t n;
	int r;

	r = nspid_of(root, &n, &last);
	if (r < 0)
		return log_err(r, "cannot read the status of %d", root);
	if (n != 2)
		return log_refuse("the tree is in a PID namespace %u levels below memdump's: not supported (only one "
				  "level is)", n - 1);
	if (last != 1)
		return log_refuse("the tree is in another PID namespace than memdump's, where its root %d has pid %d: "
				  "not supported (the root must be that namespace's first process, pid 1)", root, last);
	r = dump_ns_outsider(ft, "pid", pid);
	if (r > 0)
		return log_refuse("process %d is in the tree's PID namespace but not in the tree (it entered it with "
				  "setns()): not supported", r);
	return r;
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/*
 * Mount i of m as text, after the mounts it is on (by parent id, up to the
 * namespace's root): two namespaces have the same layout when they have
 * the same such texts, whatever their ids and order. NULL: no memory, or a
 * parent loop.
 */
static const char *mount_text(const struct proc_mount *m, size_t n, char **text, size_t i, size_t depth)
{
	const char *under = "";
	size_t p;

	if (text[i] || depth > n)
		return text[i];
	for (p = 0; p < n && (m[p].mnt_id != m[i].parent_id || p == i); p++)
		;
	if (p < n && !(under = mount_text(m, n, text, p, depth + 1)))
		return NULL;
	if (asprintf(&text[i], "%s\n%u:%u %s %s %s %s %s %s", under, m[i].major, m[i].minor, or_dash(m[i].root),
		     or_dash(m[i].mount_point), or_dash(m[i].opts), or_dash(m[i].fstype), or_dash(m[i].source),
		     or_dash(m[i].super_opts)) < 0)
		text[i] = NULL;
	return text[i];
}

static int cmp_text(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* the texts of m's mounts but skip (n: none), sorted, in *ret (n or n - 1 of them) */
static int mount_texts(const struct proc_mount *m, size_t n, size_t skip, char ***ret, size_t *ret_n)
{
	char **text = calloc(n ? n : 1, sizeof(*text));
	size_t k = 0;

	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!mount_text(m, n, text, i, 0)) {
			for (size_t j = 0; j < n; j++)
				free(text[j]);
			free(text);
			return -ENOMEM;
		}
	for (size_t i = 0; i < n; i++)
		if (i == skip)
			free(text[i]);
		else
			text[k++] = text[i];
	qsort(text, k, sizeof(*text), cmp_text);
	*ret = text;
	*ret_n = k;
	return 0;
}

static void free_texts(char **t, size_t n)
{
	for (size_t i = 0; t && i < n; i++)
		free(t[i]);
	free(t);
}

/* the mount point a text ends with: its last line's third field, into buf */
static const char *text_point(const char *t, char *buf, size_t len)
{
	const char *l = strrchr(t, '\n');

	if (sscanf(l ? l + 1 : t, "%*s %*s %255s", buf) != 1 || len < 256)
		snprintf(buf, len, "?");
	return buf;
}

/* the tree's /proc: a proc mount on /proc with nothing mounted over it (n: none) */
static size_t tree_proc(const struct proc_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool covered = false;

		if (strcmp(or_dash(m[i].mount_point), "/proc") || strcmp(or_dash(m[i].fstype), "proc"))
			continue;
		for (size_t k = 0; k < n && !covered; k++)
			covered = k != i && m[k].parent_id == m[i].mnt_id && !strcmp(or_dash(m[k].mount_point), "/proc");
		if (!covered)
			return i;
	}
	return n;
}

/* the start time of the process a stat file (by path) describes: 0 if none */
static uint64_t start_time_at(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_stat st;

	return proc_read_filef(&buf, NULL, "%s", path) < 0 || proc_parse_stat(buf, &st) < 0 ? 0 : st.start_time;
}

/* "rw,nosuid,nodev,noexec,relatime" -> MS_* flags; -EINVAL for one mount(2) cannot take back */
static int mount_flags(const char *opts, uint32_t *ret)
{
	static const struct {
		const char *name;
		uint32_t flag;
	} known[] = {
		{ "rw", 0 }, { "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV },
		{ "noexec", MS_NOEXEC }, { "relatime", MS_RELATIME }, { "noatime", MS_NOATIME },
		{ "nodiratime", MS_NODIRATIME }, { "strictatime", MS_STRICTATIME },
	};
	const char *s = opts;

	*ret = 0;
	while (s && *s) {
		size_t len = strcspn(s, ","), k;

		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strlen(known[k].name) == len && !strncmp(s, known[k].name, len))
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return -EINVAL;
		*ret |= known[k].flag;
		s += len + (s[len] == ',');
	}
	return s ? 0 : -EINVAL;
}

/*
 * The root's mount namespace is not memdump's. Supported: that of `unshare
 * --pid --fork --mount-proc`, a private copy of memdump's with a /proc of
 * the tree's PID namespace on top of memdump's /proc, and nothing on it.
 * The layouts are compared as mount texts (mount_text()). The image keeps
 * that /proc's options; the restore makes a private copy of its own mount
 * namespace and mounts one again.
 */
static int check_own_mntns(pid_t root, struct dump_ns *ret)
{
	_cleanup_free_ char *mine = NULL, *theirs = NULL;
	struct proc_mount *a = NULL, *b = NULL;
	char **ta = NULL, **tb = NULL, point[256];
	size_t na = 0, nb = 0, nta = 0, ntb = 0, i = 0, proc;
	uint64_t start;
	char path[64];
	int r;

	if (!ret->pid_ns)
		return log_refuse("process %d is in another mount namespace than memdump's: not supported without a "
				  "PID namespace of the tree's own (if it sees memdump's /proc, run memdump in it: "
				  "nsenter -m -t %d memdump ...)", root, root);
	r = proc_read_filef(&mine, NULL, "/proc/self/mountinfo");
	if (r >= 0)
		r = proc_parse_mountinfo(mine, &a, &na);
	if (r >= 0)
		r = proc_read_filef(&theirs, NULL, "/proc/%d/mountinfo", root);
	if (r >= 0)
		r = proc_parse_mountinfo(theirs, &b, &nb);
	proc = tree_proc(b, nb);
	if (r >= 0)
		r = mount_texts(a, na, na, &ta, &nta);
	if (r >= 0)
		r = mount_texts(b, nb, proc, &tb, &ntb);
	if (r < 0) {
		r = log_err(r, "cannot read the mounts of %d and memdump", root);
		goto out;
	}
	if (proc == nb) {
		r = log_refuse("the tree is in another mount namespace than memdump's, without a /proc of its own: "
			       "not supported");
		goto out;
	}
	while (i < nta && i < ntb && !strcmp(ta[i], tb[i]))
		i++;
	if (i < nta || i < ntb) {
		bool ours = i < nta && (i == ntb || strcmp(ta[i], tb[i]) < 0);

		r = log_refuse("the tree's mount namespace differs from memdump's at '%s' (a mount %s has and %s has "
			       "not, or elsewhere): not supported (only a copy of memdump's with a /proc of the tree's "
			       "own on top, as unshare --mount-proc makes, is)",
			       text_point(ours ? ta[i] : tb[i], point, sizeof(point)), ours ? "memdump" : "the tree",
			       ours ? "the tree" : "memdump");
		goto out;
	}
	for (size_t k = 0; k < nb; k++)
		if (b[k].propagates) {
			r = log_refuse("the tree's mount on '%s' is shared or a slave: not supported (the restore makes "
				       "all private, as unshare does by default)", b[k].mount_point);
			goto out;
		}
	/* that /proc is of the tree's namespace: its pid 1 is the root */
	snprintf(path, sizeof(path), "/proc/%d/root/proc/1/stat", root);
	start = start_time_at(path);
	snprintf(path, sizeof(path), "/proc/%d/stat", root);
	if (!start || start != start_time_at(path)) {
		r = log_refuse("the tree's mount namespace has a /proc of another PID namespace than the tree's: "
			       "not supported");
		goto out;
	}
	if (mount_flags(b[proc].opts, &ret->proc_flags) < 0) {
		r = log_refuse("the tree's /proc is mounted with options '%s': not supported", b[proc].opts);
		goto out;
	}
	if (b[proc].super_opts && !(ret->proc_opts = strdup(b[proc].super_opts))) {
		r = -ENOMEM;
		goto out;
	}
	ret->proc_dev = makedev(b[proc].major, b[proc].minor);
	ret->mnt_ns = true;
	r = 0;
out:
	free_texts(ta, nta);
	free_texts(tb, ntb);
	proc_mounts_free(a, na);
	proc_mounts_free(b, nb);
	return r;
}

/*
 * The root's cgroup namespace is not memdump's. The image keeps no cgroup:
 * a restore puts every tree in the restoring memdump's cgroups. What the
 * tree sees comes back only if every thread sees itself at the
 * namespace's root in each hierarchy ("/" in /proc/self/cgroup, as after
 * `unshare --cgroup`): the restore makes a new namespace at memdump's
 * cgroups for the root, where the tree sees the same. memdump's thread
 * reads the tree's cgroup files from inside the namespace (their paths
 * are relative to the reader's) and goes back.
 */
static int check_own_cgroupns(const struct frozen_tree *ft)
{
	_cleanup_close_ int ours = open("/proc/thread-self/ns/cgroup", O_RDONLY | O_CLOEXEC), theirs = -1;
	pid_t root = ft->procs[0].pid, pid = 0, tid = 0;
	char path[64], off[128];
	int r = 1;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", root);
	theirs = open(path, O_RDONLY | O_CLOEXEC);
	if (ours < 0 || theirs < 0)
		return log_err(-errno, "cannot open the cgroup namespaces of %d and memdump", root);
	if (setns(theirs, CLONE_NEWCGROUP) < 0)
		return log_err(-errno, "cannot enter the cgroup namespace of %d", root);
	for (size_t i = 0; i < ft->n && r == 1; i++)
		for (size_t t = 0; t < ft->procs[i].n && r == 1; t++) {
			_cleanup_free_ char *text = NULL;

			pid = ft->procs[i].pid;
			tid = ft->procs[i].tids[t];
			r = proc_read_filef(&text, NULL, "/proc/%d/task/%d/cgroup", pid, tid);
			if (r >= 0)
				r = proc_parse_cgroup_root(text, off, sizeof(off));
		}
	/* memdump's paths, mounts and children are of its own namespace */
	if (setns(ours, CLONE_NEWCGROUP) < 0)
		return log_err(-errno, "cannot go back to memdump's cgroup namespace");
	if (r == 0)
		return log_refuse("process %d (thread %d) is not at the root of the tree's cgroup namespace ('%s'): "
				  "not supported (a restore puts the tree at a new one's root)", pid, tid, off);
	if (r < 0)
		return log_err(r, "cannot read the cgroups of %d (thread %d)", pid, tid);
	return 0;
}

/*
 * The root's time namespace is not memdump's: the image keeps the tree's
 * clocks (dump_ns_clocks()), from the offsets of both namespaces from the
 * host's. Nothing else is in a time namespace: processes outside the tree
 * in it lose nothing but the tree's clocks when the restore makes a new
 * one.
 */
static int dump_own_timens(pid_t root, struct dump_ns *ret)
{
	int r;

	/* /proc shows the namespace for a process's children: the root's is its own (check_thread()) */
	r = timens_read_offsets(root, &ret->time_tree);
	if (r < 0)
		return log_err(r, "cannot read the offsets of the time namespace of %d", root);
	r = timens_read_own(&ret->time_ours);
	if (r == -EBUSY)
		return log_refuse("memdump's children would be in another time namespace than memdump: not supported "
				  "with a tree in one of its own");
	if (r < 0)
		return log_err(r, "cannot read the offsets of memdump's time namespace");
	ret->time_ns = true;
	return 0;
}

int dump_ns_clocks(const struct dump_ns *ns, uint64_t *monotonic_ns, uint64_t *boottime_ns)
{
	struct timens_offsets now;
	int r = timens_clocks(&ns->time_tree, &ns->time_ours, &now);

	if (r < 0)
		return log_err(r, "cannot read the clocks of the tree's time namespace");
	/* as the kernel keeps them: from 0 to half its range */
	if (now.monotonic_ns < 0 || now.boottime_ns < 0 || (uint64_t)now.monotonic_ns > MD_TIMENS_CLOCK_MAX ||
	    (uint64_t)now.boottime_ns > MD_TIMENS_CLOCK_MAX)
		return log_refuse("the clocks of the tree's time namespace read %.0f and %.0f s: not supported (a "
				  "restore could set them to at most %llu s)", now.monotonic_ns / 1e9,
				  now.boottime_ns / 1e9, MD_TIMENS_CLOCK_MAX / 1000000000);
	*monotonic_ns = (uint64_t)now.monotonic_ns;
	*boottime_ns = (uint64_t)now.boottime_ns;
	return 0;
}

#define PF_KTHREAD 0x00200000	/* task flag (/proc/PID/stat field 9): a kernel thread */

/*
 * net is the host's network namespace, the initial one, which every kernel
 * thread is in: kthreadd's (pid 2), where /proc shows it (not from within
 * a PID namespace of a container)
 */
static bool host_netns(const struct stat *net)
{
	struct proc_stat ps;
	struct stat st;

	return proc_read_stat(2, 0, &ps) == 0 && (ps.flags & PF_KTHREAD) && ns_stat(2, 2, "net", &st) == 0 &&
	       same_file(&st, net);
}

int dump_namespaces(const struct frozen_tree *ft, struct dump_ns *ret)
{
	struct stat ours[N_SAME], root_dir, our_uts, our_pid, our_mnt, our_net, our_ipc, our_time, our_cgroup;
	pid_t root = ft->procs[0].pid, last;
	struct tree_ns tns;
	/* the kinds a tree may have of its own: the root's and memdump's */
	const struct {
		const char *name;
		const char *what;
		struct stat *tree, *ours;
		bool newer;	/* a kernel may lack it: then none to compare (st_ino 0) */
	} kinds[] = {
		{ "uts", "UTS namespace", &tns.uts, &our_uts, false },
		{ "pid", "PID namespace", &tns.pid, &our_pid, false },
		{ "mnt", "mount namespace", &tns.mnt, &our_mnt, false },
		{ "net", "network namespace", &tns.net, &our_net, false },
		{ "ipc", "IPC namespace", &tns.ipc, &our_ipc, false },
		{ "time", "time namespace", &tns.time, &our_time, true },
		{ "cgroup", "cgroup namespace", &tns.cgroup, &our_cgroup, true },
	};
	uint32_t n;
	int r;

	*ret = (struct dump_ns){ 0 };
	for (size_t k = 0; k < N_SAME; k++) {
		r = ns_stat(0, 0, same[k].name, &ours[k]);
		if (r == -ENOENT)
			ours[k].st_ino = 0;
		else if (r < 0)
			return log_err(r, "cannot read memdump's %s", same[k].what);
	}
	if (stat("/", &root_dir) < 0)
		return log_err(-errno, "cannot read memdump's root directory");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		r = ns_stat(root, root, kinds[k].name, kinds[k].tree);
		if (r >= 0)
			r = ns_stat(0, 0, kinds[k].name, kinds[k].ours);
		if (r == -ENOENT && kinds[k].newer && ns_stat(0, 0, kinds[k].name, kinds[k].ours) == -ENOENT) {
			kinds[k].tree->st_ino = kinds[k].ours->st_ino = 0;
			continue;
		}
		if (r < 0)
			return log_err(r, "cannot read the %s of %d", kinds[k].what, root);
	}
	for (size_t i = 0; i < ft->n; i++) {
		struct stat cwd;

		r = cwd_stat(ft->procs[i].pid, ft->procs[i].pid, &cwd);
		for (size_t t = 0; r >= 0 && t < ft->procs[i].n; t++)
			r = check_thread(ft->procs[i].pid, ft->procs[i].tids[t], ours, &root_dir, &tns, &cwd);
		if (r < 0)
			return r;
	}
	if (!same_file(&tns.pid, &our_pid)) {
		r = check_own_pidns(ft, &tns.pid);
		if (r < 0)
			return r;
		ret->pid_ns = true;
	}
	if (!same_file(&tns.mnt, &our_mnt)) {
		r = check_own_mntns(root, ret);
		if (r < 0)
			return r;
	}
	/* a zombie has no namespaces to show but its PID one, where NSpid tells its level */
	for (size_t i = 0; i < ft->n_zombies; i++) {
		pid_t z = ft->zombies[i];

		r = nspid_of(z, &n, &last);
		if (r < 0)
			return log_err(r, "cannot read the status of zombie %d", z);
		if (n > 1u + ret->pid_ns)
			return log_refuse("zombie %d is in another PID namespace than the tree's root: not supported", z);
	}
	/* the host's, seen from a memdump in another one: no namespace of the tree's own */
	if (!same_file(&tns.net, &our_net) && !host_netns(&tns.net)) {
		r = dump_own_netns(ft, &tns.net, ret);
		if (r < 0)
			return r;
	}
	if (!same_file(&tns.ipc, &our_ipc)) {
		r = dump_own_ipcns(ft, &tns.ipc, ret);
		if (r < 0)
			return r;
	}
	if (tns.cgroup.st_ino && !same_file(&tns.cgroup, &our_cgroup)) {
		r = check_own_cgroupns(ft);
		if (r < 0)
			return r;
		ret->cgroup_ns = true;
	}
	if (tns.time.st_ino && !same_file(&tns.time, &our_time)) {
		r = dump_own_timens(root, ret);
		if (r < 0)
			return r;
	}
	if (same_file(&tns.uts, &our_uts))
		return 0;
	ret->uts.own = true;
	return read_uts(root, &ret->uts);
}

int dump_check_proc(void)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_status st;
	int r;

	/*
	 * The pids /proc shows must be memdump's, for the tree's to be the
	 * ones it seizes: /proc/self is there (ENOENT: memdump is not in its
	 * namespace) and NSpid has one level, memdump's pid.
	 */
	r = proc_read_filef(&buf, NULL, "/proc/self/status");
	if (r >= 0)
		r = proc_parse_status(buf, &st);
	if (r < 0 && r != -ENOENT)
		return log_err(r, "cannot read memdump's status in /proc");
	if (r < 0 || st.nspid_n > 1 || st.nspid_last != getpid())
		return log_refuse("memdump's /proc is not of memdump's PID namespace: mount one that is");
	return 0;
}

bool dump_under_proc(const char *path)
{
	return path && !strncmp(path, "/proc", 5) && (!path[5] || path[5] == '/');
}

bool dump_name_leads_to(const char *path, const struct stat *st)
{
	struct stat by_name;

	return stat(path, &by_name) == 0 && by_name.st_dev == st->st_dev && by_name.st_ino == st->st_ino;
}

int dump_ns_files(const struct dump_ns *ns, const struct md_proc *procs, size_t n)
{
	for (size_t i = 0; ns->mnt_ns && i < n; i++) {
		const struct md_proc *p = &procs[i];

		if (p->zombie)
			continue;
		for (size_t k = 0; k < p->n_fds; k++)
			if (p->fds[k].dev == ns->proc_dev || dump_under_proc(p->fds[k].path))
				return log_refuse("fd %d of %d is a file of /proc (%s): not supported with a "
						  "/proc of the tree's own", p->fds[k].fd, p->pid, p->fds[k].path);
		for (size_t k = 0; k < p->n_vmas; k++)
			if ((makedev(p->vmas[k].dev_major, p->vmas[k].dev_minor) == ns->proc_dev && p->vmas[k].inode) ||
			    dump_under_proc(p->vmas[k].path))
				return log_refuse("%d maps a file of /proc (%s): not supported with a /proc of "
						  "the tree's own", p->pid, p->vmas[k].path);
		/* the restore goes there by path: in the new /proc, another directory */
		if (dump_under_proc(p->cwd))
			return log_refuse("the working directory of %d is in /proc (%s): not supported with a /proc of "
					  "the tree's own", p->pid, p->cwd);
	}
	return 0;
}
