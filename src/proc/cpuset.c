/*
 * CPU lists ("0-3,8,10-11", as cpuset files and sysfs write them) and the
 * CPUs a task's cpuset gives it: those an unpinned task may run on.
 */
#include "memdump/proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"

static int cpu_number(const char **s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*s, &end, 10);
	if (errno || v >= MD_CPU_WORDS * 64)
		return -ERANGE;
	*s = end;
	*ret = (unsigned)v;
	return 0;
}

int proc_parse_cpulist(const char *s, uint64_t *cpus)
{
	memset(cpus, 0, MD_CPU_WORDS * sizeof(*cpus));
	while (*s && *s != '\n') {
		unsigned lo, hi;
		int r = cpu_number(&s, &lo);

		if (r < 0)
			return r;
		hi = lo;
		if (*s == '-') {
			s++;
			r = cpu_number(&s, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			cpus[c / 64] |= 1ULL << (c % 64);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -EINVAL;
	}
	return 0;
}

static int read_cpulist(const char *path, uint64_t *cpus)
{
	_cleanup_free_ char *buf = NULL;
	int r = proc_read_filef(&buf, NULL, "%s", path);

	return r < 0 ? r : proc_parse_cpulist(buf, cpus);
}

int proc_cpuset_path(pid_t pid, char **ret)
{
	char *path = NULL;
	size_t len;
	int r;

	r = proc_read_filef(&path, NULL, "/proc/%d/cpuset", pid);
	if (r == -ENOENT && access("/proc/self/cpuset", F_OK) < 0) {	/* no cpusets in this kernel */
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	}
	if (r < 0)
		return r;
	len = strcspn(path, "\n");
	path[len] = 0;
	if (path[0] != '/' || strstr(path, "/../") || len > PATH_MAX) {
		free(path);
		return -EINVAL;
	}
	*ret = path;
	return 0;
}

/*
 * cgroup v2 shows cpuset.cpus.effective where the controller is on, which
 * may be above the task's own cgroup; v1 shows cpuset.effective_cpus in
 * every cgroup of its hierarchy. Neither mounted: the CPUs online.
 */
int proc_cpuset_effective(const char *cpuset, uint64_t *cpus)
{
	char file[PATH_MAX + 64], path[PATH_MAX + 1];
	size_t len = strlen(cpuset);
	int r = -ENOENT;

	if (len > PATH_MAX)
		return -EINVAL;
	memcpy(path, cpuset, len + 1);
	if (len) {
		snprintf(file, sizeof(file), "/sys/fs/cgroup/cpuset%s/cpuset.effective_cpus", len > 1 ? path : "");
		r = read_cpulist(file, cpus);
	}
	while (len && r == -ENOENT) {
		snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cpuset.cpus.effective", len > 1 ? path : "");
		r = read_cpulist(file, cpus);
		if (r != -ENOENT || len <= 1)
			break;
		while (len > 1 && path[len - 1] != '/')
			len--;
		path[len > 1 ? len - 1 : 1] = 0;
		len = strlen(path);
	}
	return r == -ENOENT ? read_cpulist("/sys/devices/system/cpu/online", cpus) : r;
}
