/*
 * /proc/PID/timers -> the POSIX timers of a process: id, signal and value,
 * how it notifies (and which thread), clock. What /proc does not show (the
 * time left, the period) is read by the dump with remote timer_gettime().
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"
#include "memdump/model.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the line at *pos must start with key; its value (after "key: ") goes to *ret, *pos moves on */
static int take_line(const char **pos, const char *key, char *ret, size_t len)
{
	const char *l = *pos, *end;
	size_t kl = strlen(key), n;

	if (strncmp(l, key, kl) != 0 || l[kl] != ':' || l[kl + 1] != ' ')
		return -EINVAL;
	l += kl + 2;
	end = strchr(l, '\n');
	n = end ? (size_t)(end - l) : strlen(l);
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(ret, l, n);
	ret[n] = '\0';
	*pos = end ? end + 1 : l + n;
	return 0;
}

static int parse_int(const char *s, int base, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "signal/pid.123", "none/pid.123", "signal/tid.124" (fs/proc/base.c show_timer()) */
static int parse_notify(const char *s, struct md_posix_timer *t)
{
	static const char *const names[] = { [SIGEV_SIGNAL] = "signal", [SIGEV_NONE] = "none",
					     [SIGEV_THREAD] = "thread" };
	const char *slash = strchr(s, '/'), *dot;
	int64_t id;

	if (!slash)
		return -EINVAL;
	t->notify = -1;
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (names[i] && strlen(names[i]) == (size_t)(slash - s) && !strncmp(s, names[i], slash - s))
			t->notify = i;
	if (t->notify < 0)
		return -EINVAL;
	dot = strchr(slash, '.');
	if (!dot || parse_int(dot + 1, 10, 0, INT32_MAX, &id) < 0)
		return -EINVAL;
	if (dot - slash == 4 && !strncmp(slash, "/tid", 4)) {
		t->notify |= SIGEV_THREAD_ID;
		t->notify_tid = (pid_t)id;
	} else if (dot - slash != 4 || strncmp(slash, "/pid", 4) != 0) {
		return -EINVAL;
	}
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct md_posix_timer *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int proc_parse_timers(const char *buf, struct md_posix_timer **ret, size_t *ret_n)
{
	_cleanup_free_ struct md_posix_timer *t = NULL;
	const char *pos = buf;
	size_t n = 0, cap = 0;
	char v[64];

	if (!buf)
		return -EINVAL;
	while (*pos) {
		struct md_posix_timer *cur;
		int64_t x;
		char *slash;

		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct md_posix_timer *nt = realloc(t, nc * sizeof(*t));

			if (!nt)
				return -ENOMEM;
			t = nt;
			cap = nc;
		}
		cur = &t[n];
		memset(cur, 0, sizeof(*cur));
		if (take_line(&pos, "ID", v, sizeof(v)) < 0 || parse_int(v, 10, 0, INT32_MAX, &x) < 0)
			return -EINVAL;
		cur->id = (int32_t)x;
		/* "signal: %d/%px": the number, then sigev_value as a bare hex pointer */
		if (take_line(&pos, "signal", v, sizeof(v)) < 0 || !(slash = strchr(v, '/')))
			return -EINVAL;
		*slash = '\0';
		if (parse_int(v, 10, 0, INT32_MAX, &x) < 0)
			return -EINVAL;
		cur->signo = (int32_t)x;
		errno = 0;
		{
			char *end;

			if (slash[1] == '-' || slash[1] == '\0')
				return -EINVAL;
			cur->sigval = strtoull(slash + 1, &end, 16);
			if (errno || *end)
				return -EINVAL;
		}
		if (take_line(&pos, "notify", v, sizeof(v)) < 0 || parse_notify(v, cur) < 0)
			return -EINVAL;
		if (take_line(&pos, "ClockID", v, sizeof(v)) < 0 || parse_int(v, 10, INT32_MIN, INT32_MAX, &x) < 0)
			return -EINVAL;
		cur->clockid = (int32_t)x;
		n++;
	}
	if (n)
		qsort(t, n, sizeof(*t), cmp_id);
	for (size_t i = 1; i < n; i++)
		if (t[i].id == t[i - 1].id)
			return -EINVAL;
	*ret = n ? TAKE_PTR(t) : NULL;
	*ret_n = n;
	return 0;
}

int proc_read_timers(pid_t pid, struct md_posix_timer **ret, size_t *ret_n)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	r = proc_read_filef(&buf, NULL, "/proc/%d/timers", pid);
	if (r < 0)
		return r;
	return proc_parse_timers(buf, ret, ret_n);
}
