/*
 * Time namespaces (memdump/timens.h): their offsets read and written
 * where /proc has them, and a new one made whose clocks read given values.
 * All offsets are from the host's clocks, whatever namespace memdump is in:
 * the host's now are memdump's less its own namespace's offsets.
 */
#include "memdump/timens.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#define NS_PER_S 1000000000ll
/* seconds whose nanoseconds an int64_t holds, with a second to spare for the nanoseconds */
#define SEC_MAX (INT64_MAX / NS_PER_S - 1)

int timens_parse_offsets(const char *text, struct timens_offsets *ret)
{
	bool mono = false, boot = false;
	const char *line = text;

	while (*line) {
		long long sec, nsec;
		char clock[16];
		int end = 0;

		if (sscanf(line, "%15s %lld %lld%n", clock, &sec, &nsec, &end) != 3 || (line[end] && line[end] != '\n'))
			return -EINVAL;
		if (sec > SEC_MAX || sec < -SEC_MAX || nsec < 0 || nsec >= NS_PER_S)
			return -EINVAL;
		if (!strcmp(clock, "monotonic") && !mono) {
			ret->monotonic_ns = sec * NS_PER_S + nsec;
			mono = true;
		} else if (!strcmp(clock, "boottime") && !boot) {
			ret->boottime_ns = sec * NS_PER_S + nsec;
			boot = true;
		} else {
			return -EINVAL;
		}
		line += end + (line[end] == '\n');
	}
	return mono && boot ? 0 : -EINVAL;
}

/* ns as the kernel's timespec: seconds, maybe negative, and 0 to 999999999 nanoseconds */
static void split(int64_t ns, long long *sec, long long *nsec)
{
	*sec = ns / NS_PER_S;
	*nsec = ns % NS_PER_S;
	if (*nsec < 0) {
		*nsec += NS_PER_S;
		(*sec)--;
	}
}

int timens_format_offsets(const struct timens_offsets *off, char *buf, size_t len)
{
	long long ms, mn, bs, bn;
	int n;

	split(off->monotonic_ns, &ms, &mn);
	split(off->boottime_ns, &bs, &bn);
	n = snprintf(buf, len, "monotonic %lld %lld\nboottime %lld %lld\n", ms, mn, bs, bn);
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

int timens_read_offsets(pid_t pid, struct timens_offsets *ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	if (pid)
		r = proc_read_filef(&text, NULL, "/proc/%d/timens_offsets", pid);
	else
		r = proc_read_filef(&text, NULL, "/proc/self/timens_offsets");
	return r < 0 ? r : timens_parse_offsets(text, ret);
}

int timens_read_own(struct timens_offsets *ret)
{
	struct stat own, children;

	if (stat("/proc/self/ns/time", &own) < 0 || stat("/proc/self/ns/time_for_children", &children) < 0)
		return -errno;
	if (own.st_dev != children.st_dev || own.st_ino != children.st_ino)
		return -EBUSY;
	return timens_read_offsets(0, ret);
}

/* a clock that reads now in our namespace (offset ours) read in one with offset ns: 0, or -ERANGE */
static int moved(const struct timespec *now, int64_t ours, int64_t ns, int64_t *ret)
{
	int64_t host;

	if (__builtin_sub_overflow((int64_t)md_timespec_ns(now), ours, &host) || __builtin_add_overflow(host, ns, ret))
		return -ERANGE;
	return 0;
}

int timens_clocks(const struct timens_offsets *ns, const struct timens_offsets *ours, struct timens_offsets *ret)
{
	struct timespec mono, boot;
	int r;

	if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return -errno;
	r = moved(&mono, ours->monotonic_ns, ns->monotonic_ns, &ret->monotonic_ns);
	return r < 0 ? r : moved(&boot, ours->boottime_ns, ns->boottime_ns, &ret->boottime_ns);
}

int timens_make(uint64_t monotonic_ns, uint64_t boottime_ns)
{
	static const struct timens_offsets none;
	_cleanup_close_ int fd = -1;
	struct timens_offsets ours, host, off;
	char text[128];
	int len, r;
	ssize_t n;

	if (gettid() != getpid())
		return -EINVAL;
	if (monotonic_ns > INT64_MAX || boottime_ns > INT64_MAX)
		return -ERANGE;
	r = timens_read_own(&ours);
	if (r < 0)
		return r;
	if (unshare(CLONE_NEWTIME) < 0)
		return -errno;
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* as late as can be: the clocks run on from the moment the offsets are taken */
	r = timens_clocks(&none, &ours, &host);
	if (r >= 0 && (__builtin_sub_overflow((int64_t)monotonic_ns, host.monotonic_ns, &off.monotonic_ns) ||
		       __builtin_sub_overflow((int64_t)boottime_ns, host.boottime_ns, &off.boottime_ns)))
		r = -ERANGE;
	if (r >= 0)
		r = len = timens_format_offsets(&off, text, sizeof(text));
	if (r < 0)
		return r;
	/* both in one write: the kernel takes them together or not at all */
	n = write(fd, text, (size_t)len);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}
