/*
 * /proc/PID/fdinfo/N -> struct proc_fdinfo: position, open flags, mount and
 * inode; and the lines eventfds, signalfds, timerfds, pidfds and epoll fds add.
 */
#include "memdump/proc.h"
#include "memdump/model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

static int parse_field(const char *buf, const char *key, int base, uint64_t *ret)
{
	size_t n = strlen(key);
	const char *l = buf;
	char *end;

	/* key at the start of a line, then ':' */
	for (;;) {
		if (!strncmp(l, key, n) && l[n] == ':')
			break;
		l = strchr(l, '\n');
		if (!l)
			return -ENOENT;
		l++;
	}
	l += n + 1;
	l += strspn(l, " \t");
	if (*l == '-' || *l == '\0')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(l, &end, base);
	if (errno || end == l || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

int proc_parse_fdinfo(const char *buf, struct proc_fdinfo *ret)
{
	struct proc_fdinfo fi = { .mnt_id = -1 };
	uint64_t x;
	int r;

	if (!buf)
		return -EINVAL;

	if (parse_field(buf, "pos", 10, &fi.pos) < 0)
		return -EINVAL;
	/* flags are printed in octal, like open(2)'s O_* constants */
	if (parse_field(buf, "flags", 8, &x) < 0 || x > UINT32_MAX)
		return -EINVAL;
	fi.flags = x;

	r = parse_field(buf, "mnt_id", 10, &x);
	if (r == 0)
		fi.mnt_id = (int)x;
	else if (r != -ENOENT)
		return -EINVAL;
	/* "ino:" only since 5.14 */
	r = parse_field(buf, "ino", 10, &fi.ino);
	if (r < 0 && r != -ENOENT)
		return -EINVAL;

	*ret = fi;
	return 0;
}

int proc_parse_eventfd(const char *buf, struct proc_eventfd *ret)
{
	struct proc_eventfd e = { 0 };
	uint64_t x;
	int r;

	/* "%16llx": hex, padded with spaces */
	if (!buf || parse_field(buf, "eventfd-count", 16, &e.count) < 0)
		return -EINVAL;
	r = parse_field(buf, "eventfd-semaphore", 10, &x);
	if (r == 0) {
		e.semaphore = x != 0;
		e.semaphore_known = true;
	} else if (r != -ENOENT) {
		return -EINVAL;
	}
	*ret = e;
	return 0;
}

int proc_parse_signalfd(const char *buf, uint64_t *ret_sigmask)
{
	/* 16 hex digits, signal 1 the lowest bit, as in /proc/PID/status */
	if (!buf || parse_field(buf, "sigmask", 16, ret_sigmask) < 0)
		return -EINVAL;
	return 0;
}

int proc_parse_pidfd(const char *buf, pid_t *ret_pid)
{
	const char *l = buf;
	char *end;
	long v;

	for (; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "Pid:", 4))
			break;
	if (!l)
		return -EINVAL;
	l += 4;
	l += strspn(l, " \t");
	/* strtol() would skip a newline to the next line's number */
	if (*l != '-' && (*l < '0' || *l > '9'))
		return -EINVAL;
	errno = 0;
	v = strtol(l, &end, 10);
	if (errno || end == l || (*end != '\n' && *end != '\0') || v < -1 || v > INT32_MAX)
		return -EINVAL;
	*ret_pid = (pid_t)v;
	return 0;
}

/* "key: (SECONDS, NANOSECONDS)" -> nanoseconds */
static int parse_time(const char *buf, const char *key, uint64_t *ret)
{
	size_t n = strlen(key);
	uint64_t sec, nsec;
	char tail;

	for (const char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, n) || l[n] != ':')
			continue;
		if (sscanf(l + n + 1, " (%" SCNu64 ", %" SCNu64 "%c", &sec, &nsec, &tail) != 3 || tail != ')' ||
		    nsec >= 1000000000ULL || sec > UINT64_MAX / 1000000000ULL - 1)
			return -EINVAL;
		*ret = sec * 1000000000ULL + nsec;
		return 0;
	}
	return -EINVAL;
}

int proc_parse_timerfd(const char *buf, struct proc_timerfd *ret)
{
	struct proc_timerfd t = { 0 };
	uint64_t clk, fl;

	if (!buf || parse_field(buf, "clockid", 10, &clk) < 0 || clk > INT32_MAX ||
	    parse_field(buf, "ticks", 10, &t.ticks) < 0 || parse_field(buf, "settime flags", 8, &fl) < 0 ||
	    fl > UINT32_MAX || parse_time(buf, "it_value", &t.value_ns) < 0 ||
	    parse_time(buf, "it_interval", &t.interval_ns) < 0)
		return -EINVAL;
	t.clockid = (int)clk;
	t.settime_flags = (uint32_t)fl;
	*ret = t;
	return 0;
}

/*
 * fs/eventpoll.c prints one line per watched file:
 * "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x", sdev
 * the kernel's dev_t (20 bits of minor). The file itself is found by
 * kcmp(); its inode and device spare most of those calls.
 */
int proc_parse_epoll(const char *buf, struct md_epoll_item **ret, size_t *ret_n)
{
	struct md_epoll_item *items = NULL;
	size_t n = 0, cap = 0;

	if (!buf)
		return -EINVAL;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long long data, ino;
		unsigned events, sdev;
		long long pos;
		int tfd, end = 0;
		/* sscanf() takes the length of what it reads: one line, not the rest of the buffer */
		char line[256];
		size_t len = strcspn(l, "\n");

		if (strncmp(l, "tfd:", 4))
			continue;
		len = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
		memcpy(line, l, len);
		line[len] = '\0';
		if (sscanf(line, "tfd: %d events: %x data: %llx%n", &tfd, &events, &data, &end) != 3 || !end ||
		    (line[end] != ' ' && line[end] != '\0') || tfd < 0) {
			free(items);
			return -EINVAL;
		}
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct md_epoll_item *ni = realloc(items, nc * sizeof(*ni));

			if (!ni) {
				free(items);
				return -ENOMEM;
			}
			items = ni;
			cap = nc;
		}
		items[n] = (struct md_epoll_item){ .tfd = tfd, .events = events, .data = data };
		if (sscanf(line + end, " pos:%lld ino:%llx sdev:%x", &pos, &ino, &sdev) == 3) {
			items[n].file_known = true;
			items[n].ino = ino;
			items[n].dev = makedev(sdev >> 20, sdev & 0xfffff);
		}
		n++;
	}
	*ret = items;
	*ret_n = n;
	return 0;
}

/*
 * One "lock:" line: "lock:\t1: POSIX  ADVISORY  WRITE 7402 fe:00:10977624 10 109",
 * "FLOCK  ADVISORY  WRITE ... 0 EOF", "OFDLCK ADVISORY  READ  -1 ... 5 EOF";
 * a lease's "LEASE  ACTIVE    READ ..." and the like come back as MD_LOCK_OTHER.
 */
static int parse_lock(const char *l, struct md_file_lock *ret)
{
	char kind[16], how[16], type[16], dev[64], start[32], end[32];
	unsigned long long a, b;
	char *e;
	int n = 0;

	memset(ret, 0, sizeof(*ret));
	if (sscanf(l, "lock:\t%*d: %15s", kind) != 1)
		return -EINVAL;
	if (!strcmp(kind, "FLOCK"))
		ret->kind = MD_LOCK_FLOCK;
	else if (!strcmp(kind, "POSIX"))
		ret->kind = MD_LOCK_POSIX;
	else if (!strcmp(kind, "OFDLCK"))
		ret->kind = MD_LOCK_OFD;
	else {
		ret->kind = MD_LOCK_OTHER;
		return 0;
	}
	if (sscanf(l, "lock:\t%*d: %15s %15s %15s %*d %63s %31s %31s%n", kind, how, type, dev, start, end, &n) != 6 ||
	    !n || (l[n] != '\n' && l[n] != '\0'))
		return -EINVAL;
	if (strcmp(how, "ADVISORY") || (strcmp(type, "READ") && strcmp(type, "WRITE")))
		return -EINVAL;
	ret->write = !strcmp(type, "WRITE");
	errno = 0;
	a = strtoull(start, &e, 10);
	if (errno || *e || start[0] == '-' || a >= INT64_MAX)
		return -EINVAL;
	/* the kernel prints its last offset (OFFSET_MAX) as "EOF" */
	if (!strcmp(end, "EOF"))
		b = MD_LOCK_EOF;
	else {
		b = strtoull(end, &e, 10);
		if (errno || *e || end[0] == '-' || b < a || b >= INT64_MAX)
			return -EINVAL;
	}
	if (ret->kind == MD_LOCK_FLOCK && (a || b != MD_LOCK_EOF))
		return -EINVAL;
	ret->start = a;
	ret->end = b;
	return 0;
}

int proc_parse_locks(const char *buf, struct md_file_lock **ret, size_t *ret_n)
{
	struct md_file_lock *locks = NULL;
	size_t n = 0;

	if (!buf)
		return -EINVAL;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		struct md_file_lock *grown;

		if (strncmp(l, "lock:", 5))
			continue;
		grown = realloc(locks, (n + 1) * sizeof(*locks));
		if (!grown) {
			free(locks);
			return -ENOMEM;
		}
		locks = grown;
		if (parse_lock(l, &locks[n++]) < 0) {
			free(locks);
			return -EINVAL;
		}
	}
	*ret = locks;
	*ret_n = n;
	return 0;
}
