/*
 * /proc/PID/stat and /proc/PID/task/TID/stat -> struct proc_stat: ids,
 * state, thread count and the mm fields PR_SET_MM_MAP needs back.
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* fields after "pid (comm)": field 3 (state) up to 52 (exit_code) */
#define STAT_FIRST 3
#define STAT_LAST 52

static int parse_s64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int proc_parse_stat(const char *buf, struct proc_stat *ret)
{
	const char *open, *close, *p;
	char fields[STAT_LAST + 1][24] = {};
	struct proc_stat st = {};
	uint64_t u[STAT_LAST + 1] = {};
	int64_t s[STAT_LAST + 1] = {};
	size_t comm_len;
	int64_t pid;
	int i;

	if (!buf)
		return -EINVAL;
	open = strchr(buf, '(');
	/* comm may itself contain ") " and "(", so split on the LAST ')' */
	close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return -EINVAL;

	{
		char pidbuf[24];
		size_t n = open - buf;

		/* "PID (" */
		if (n < 2 || n > sizeof(pidbuf) || buf[n - 1] != ' ')
			return -EINVAL;
		memcpy(pidbuf, buf, n - 1);
		pidbuf[n - 1] = '\0';
		if (parse_s64(pidbuf, &pid) < 0 || pid <= 0)
			return -EINVAL;
	}

	comm_len = close - open - 1;
	if (comm_len >= sizeof(st.comm))
		comm_len = sizeof(st.comm) - 1;
	memcpy(st.comm, open + 1, comm_len);

	p = close + 1;
	for (i = STAT_FIRST; i <= STAT_LAST; i++) {
		size_t n;

		if (*p != ' ')
			return -EINVAL;
		p++;
		n = strcspn(p, " \n");
		if (n == 0 || n >= sizeof(fields[i]))
			return -EINVAL;
		memcpy(fields[i], p, n);
		p += n;
	}
	/* later kernels may append fields: ignore them */

	if (strlen(fields[3]) != 1)
		return -EINVAL;
	st.state = fields[3][0];

	/* most fields are unsigned; a few (tty_nr, nice, exit_signal...) may be negative */
	for (i = 4; i <= STAT_LAST; i++) {
		if (parse_u64(fields[i], &u[i]) == 0)
			s[i] = (int64_t)u[i];
		else if (parse_s64(fields[i], &s[i]) < 0)
			return -EINVAL;
	}

	st.pid = pid;
	st.ppid = s[4];
	st.pgrp = s[5];
	st.session = s[6];
	st.tty_nr = (uint32_t)s[7];
	st.tpgid = (pid_t)s[8];
	st.flags = u[9];
	st.num_threads = s[20];
	st.start_time = u[22];
	st.mm.start_code = u[26];
	st.mm.end_code = u[27];
	st.startstack = u[28];
	/* a thread (not a leader) shows -1 here */
	st.exit_signal = (uint32_t)s[38];
	st.mm.start_data = u[45];
	st.mm.end_data = u[46];
	st.mm.start_brk = u[47];
	st.mm.arg_start = u[48];
	st.mm.arg_end = u[49];
	st.mm.env_start = u[50];
	st.mm.env_end = u[51];
	st.exit_code = (int)s[52];

	*ret = st;
	return 0;
}

dev_t proc_tty_dev(uint32_t tty_nr)
{
	return makedev((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
}

int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (tid)
		r = proc_read_filef(&buf, NULL, "/proc/%d/task/%d/stat", pid, tid);
	else
		r = proc_read_filef(&buf, NULL, "/proc/%d/stat", pid);
	if (r < 0)
		return r;
	return proc_parse_stat(buf, ret);
}
