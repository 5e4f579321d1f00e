/*
 * The fds of every process outside the dumped tree, for the checks that
 * something of the tree (a pipe, a FIFO, a connection) is not held there
 * too: one walk over /proc, each fd by its link. What a link means is the
 * caller's.
 */
#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/model.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int dump_walk_outside_fds(const struct md_proc *procs, size_t n,
			  int (*fn)(pid_t pid, int fd, const char *link, void *arg), void *arg)
{
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	struct dirent *de;

	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		_cleanup_closedir_ DIR *fds = NULL;
		pid_t pid = (pid_t)atoi(de->d_name);
		struct dirent *fe;
		char path[64];

		if (pid <= 0 || pid == getpid() || md_find_proc(procs, n, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char link[PATH_MAX], lpath[64 + sizeof(fe->d_name)];
			ssize_t k;
			int r;

			snprintf(lpath, sizeof(lpath), "%s/%s", path, fe->d_name);
			k = readlink(lpath, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			r = fn(pid, atoi(fe->d_name), link, arg);
			if (r)
				return r;
		}
	}
	return 0;
}
