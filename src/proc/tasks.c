/*
 * The thread ids of a process from /proc/PID/task, and its children from
 * the ppid of every process, sorted. Keeping the lists current while tasks
 * come and go is the seizing loop's job (freeze/).
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* the numeric entries of a /proc directory for which keep() says so, sorted */
static int list_numeric(const char *path, bool (*keep)(pid_t id, const void *arg), const void *arg, pid_t **ret,
			size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	d = opendir(path);
	if (!d)
		return -errno;

	for (;;) {
		char *end;
		long t;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return -errno;
			break;
		}
		t = strtol(de->d_name, &end, 10);
		if (*end || end == de->d_name || t <= 0)
			continue;	/* "." and ".." */
		if (keep && !keep((pid_t)t, arg))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			pid_t *nt = realloc(tids, nc * sizeof(*nt));

			if (!nt)
				return -ENOMEM;
			tids = nt;
			cap = nc;
		}
		tids[n++] = (pid_t)t;
	}

	/* none at all (a process without children): tids is NULL, which qsort() must not get */
	if (n)
		qsort(tids, n, sizeof(*tids), cmp_pid);
	*ret = TAKE_PTR(tids);
	*ret_n = n;
	return 0;
}

int proc_list_tasks(pid_t pid, pid_t **ret, size_t *ret_n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	return list_numeric(path, NULL, NULL, ret, ret_n);
}

struct parents {
	const pid_t *pids;
	size_t n;
};

static bool is_child_of(pid_t pid, const void *arg)
{
	const struct parents *pa = arg;
	struct proc_stat st;

	/* a process gone meanwhile is nobody's child any more */
	if (proc_read_stat(pid, 0, &st) < 0)
		return false;
	for (size_t i = 0; i < pa->n; i++)
		if (st.ppid == pa->pids[i])
			return true;
	return false;
}

/*
 * /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, which kernels
 * often lack: the ppid of every process says the same, always. One pass
 * over /proc serves any number of parents.
 */
int proc_list_children(const pid_t *parents, size_t n, pid_t **ret, size_t *ret_n)
{
	struct parents pa = { parents, n };

	return list_numeric("/proc", is_child_of, &pa, ret, ret_n);
}
