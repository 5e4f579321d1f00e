/*
 * /proc/PID/status -> struct proc_status: names, ids, signal masks and
 * seccomp; -> struct md_creds: credentials. Only the fields memdump needs;
 * the rest are skipped.
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"

#include "memdump/model.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_num(const char *s, int base, uint64_t *ret, const char **ret_end)
{
	char *end;
	unsigned long long v;

	s += strspn(s, " \t");
	if (*s == '-' || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s)
		return -EINVAL;
	*ret = v;
	if (ret_end)
		*ret_end = end;
	return 0;
}

/* "Key:" at the start of line -> the value after it, or NULL */
static const char *value_of(const char *line, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) || line[n] != ':')
		return NULL;
	return line + n + 1;
}

static int parse_ids(const char *v, uint32_t ids[4])
{
	for (int i = 0; i < 4; i++) {
		uint64_t x;

		if (parse_num(v, 10, &x, &v) < 0 || x > UINT32_MAX)
			return -EINVAL;
		ids[i] = x;
	}
	return 0;
}

enum {
	SEEN_NAME = 1 << 0,
	SEEN_STATE = 1 << 1,
	SEEN_TGID = 1 << 2,
	SEEN_PID = 1 << 3,
	SEEN_PPID = 1 << 4,
};

int proc_parse_status(const char *buf, struct proc_status *ret)
{
	struct proc_status st = { .umask = ~0u };
	unsigned seen = 0;
	const char *line = buf;

	if (!buf)
		return -EINVAL;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		_cleanup_free_ char *l = strndup(line, len);
		const char *v;
		uint64_t x;

		if (!l)
			return -ENOMEM;

		if ((v = value_of(l, "Name"))) {
			/* the name may hold blanks: only the tab after ':' separates */
			if (*v == '\t')
				v++;
			snprintf(st.name, sizeof(st.name), "%s", v);
			seen |= SEEN_NAME;
		} else if ((v = value_of(l, "State"))) {
			v += strspn(v, " \t");
			if (!*v)
				return -EINVAL;
			st.state = *v;
			seen |= SEEN_STATE;
		} else if ((v = value_of(l, "Tgid"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.tgid = x;
			seen |= SEEN_TGID;
		} else if ((v = value_of(l, "Pid"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.pid = x;
			seen |= SEEN_PID;
		} else if ((v = value_of(l, "PPid"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.ppid = x;
			seen |= SEEN_PPID;
		} else if ((v = value_of(l, "TracerPid"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.tracer = x;
		} else if ((v = value_of(l, "Umask"))) {
			if (parse_num(v, 8, &x, NULL) < 0)
				return -EINVAL;
			st.umask = x;
		} else if ((v = value_of(l, "SigPnd"))) {
			if (parse_num(v, 16, &st.sigpnd, NULL) < 0)
				return -EINVAL;
		} else if ((v = value_of(l, "ShdPnd"))) {
			if (parse_num(v, 16, &st.shdpnd, NULL) < 0)
				return -EINVAL;
		} else if ((v = value_of(l, "SigBlk"))) {
			if (parse_num(v, 16, &st.sigblk, NULL) < 0)
				return -EINVAL;
		} else if ((v = value_of(l, "SigIgn"))) {
			if (parse_num(v, 16, &st.sigign, NULL) < 0)
				return -EINVAL;
		} else if ((v = value_of(l, "SigCgt"))) {
			if (parse_num(v, 16, &st.sigcgt, NULL) < 0)
				return -EINVAL;
		} else if ((v = value_of(l, "Seccomp"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.seccomp = x;
		} else if ((v = value_of(l, "Seccomp_filters"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.seccomp_filters = x;
		} else if ((v = value_of(l, "NoNewPrivs"))) {
			if (parse_num(v, 10, &x, NULL) < 0 || x > 1)
				return -EINVAL;
			st.no_new_privs = x;
		} else if ((v = value_of(l, "Threads"))) {
			if (parse_num(v, 10, &x, NULL) < 0)
				return -EINVAL;
			st.threads = x;
		} else if ((v = value_of(l, "NSpid"))) {
			/* one pid per nested namespace; the last is the innermost */
			while (parse_num(v, 10, &x, &v) == 0) {
				st.nspid_last = x;
				st.nspid_n++;
			}
		}

		line += len;
		if (*line == '\n')
			line++;
	}

	if ((seen & (SEEN_NAME | SEEN_STATE | SEEN_TGID | SEEN_PID | SEEN_PPID)) !=
	    (SEEN_NAME | SEEN_STATE | SEEN_TGID | SEEN_PID | SEEN_PPID))
		return -EINVAL;
	if (st.nspid_last == 0)
		st.nspid_last = st.pid;

	*ret = st;
	return 0;
}

/* "Groups:\t4 24 27 \n": ids separated by blanks, possibly none */
static int parse_groups(const char *v, struct md_creds *c)
{
	uint32_t *g = NULL;
	size_t n = 0, cap = 0;
	uint64_t x;

	while (v[strspn(v, " \t")]) {
		if (parse_num(v, 10, &x, &v) < 0 || x > UINT32_MAX || n == MD_NGROUPS_MAX) {
			free(g);
			return -EINVAL;
		}
		if (n == cap) {
			uint32_t *ng = realloc(g, (cap = cap ? 2 * cap : 32) * sizeof(*g));

			if (!ng) {
				free(g);
				return -ENOMEM;
			}
			g = ng;
		}
		g[n++] = x;
	}
	free(c->groups);
	c->groups = g;
	c->n_groups = n;
	return 0;
}

enum {
	SEEN_UID = 1 << 0,
	SEEN_GID = 1 << 1,
	SEEN_GROUPS = 1 << 2,
	SEEN_CAPINH = 1 << 3,
	SEEN_CAPPRM = 1 << 4,
	SEEN_CAPEFF = 1 << 5,
	SEEN_CAPBND = 1 << 6,
	SEEN_CAPAMB = 1 << 7,
	SEEN_CREDS = (1 << 8) - 1,
};

int proc_parse_creds(const char *buf, struct md_creds *ret)
{
	static const struct {
		const char *key;
		size_t off;
	} caps[] = {
		{ "CapInh", offsetof(struct md_creds, cap_inh) }, { "CapPrm", offsetof(struct md_creds, cap_prm) },
		{ "CapEff", offsetof(struct md_creds, cap_eff) }, { "CapBnd", offsetof(struct md_creds, cap_bnd) },
		{ "CapAmb", offsetof(struct md_creds, cap_amb) },
	};
	struct md_creds c = {};
	unsigned seen = 0;
	int r = -EINVAL;

	if (!buf)
		return -EINVAL;
	for (const char *line = buf; *line;) {
		size_t len = strcspn(line, "\n");
		_cleanup_free_ char *l = strndup(line, len);
		const char *v;

		if (!l) {
			r = -ENOMEM;
			goto fail;
		}
		if ((v = value_of(l, "Uid"))) {
			if (parse_ids(v, c.uid) < 0)
				goto fail;
			seen |= SEEN_UID;
		} else if ((v = value_of(l, "Gid"))) {
			if (parse_ids(v, c.gid) < 0)
				goto fail;
			seen |= SEEN_GID;
		} else if ((v = value_of(l, "Groups"))) {
			r = parse_groups(v, &c);
			if (r < 0)
				goto fail;
			r = -EINVAL;
			seen |= SEEN_GROUPS;
		}
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			if (!(v = value_of(l, caps[i].key)))
				continue;
			if (parse_num(v, 16, (uint64_t *)((char *)&c + caps[i].off), NULL) < 0)
				goto fail;
			seen |= SEEN_CAPINH << i;
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	if (seen != SEEN_CREDS)
		goto fail;
	*ret = c;
	return 0;
fail:
	free(c.groups);
	return r;
}

int proc_read_status(pid_t pid, pid_t tid, struct proc_status *ret)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (tid)
		r = proc_read_filef(&buf, NULL, "/proc/%d/task/%d/status", pid, tid);
	else
		r = proc_read_filef(&buf, NULL, "/proc/%d/status", pid);
	if (r < 0)
		return r;
	return proc_parse_status(buf, ret);
}
