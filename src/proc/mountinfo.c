/*
 * /proc/PID/mountinfo -> struct proc_mount: id, device, root and mount
 * point of each mount (escapes undone). Which mount to use is the caller's.
 */
#include "memdump/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo */
static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static void mount_clear(struct proc_mount *m)
{
	free(m->root);
	free(m->mount_point);
	free(m->opts);
	free(m->fstype);
	free(m->source);
	free(m->super_opts);
	memset(m, 0, sizeof(*m));
}

void proc_mounts_free(struct proc_mount *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		mount_clear(&m[i]);
	free(m);
}

/* the next field of a line at *s (space separated), unescaped, in *ret: 0 (NULL at the line's end) or -ENOMEM */
static int field(const char **s, char **ret)
{
	size_t len;

	*ret = NULL;
	if (**s != ' ')
		return 0;
	(*s)++;
	len = strcspn(*s, " \n");
	if (!len)
		return 0;
	*ret = unescape(*s, len);
	*s += len;
	return *ret ? 0 : -ENOMEM;
}

/* after MOUNT_POINT: " OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTS" (what it lacks stays NULL) */
static int parse_rest(const char *s, struct proc_mount *m)
{
	const char *sep, *end = s + strcspn(s, "\n");
	int r;

	r = field(&s, &m->opts);
	if (r < 0)
		return r;
	sep = strstr(s, " - ");
	if (!sep || sep > end)
		return 0;
	/* the optional fields: shared:N, master:N, propagate_from:N, unbindable */
	for (const char *o = s; o < sep; o += strcspn(o + 1, " ") + 1)
		m->propagates = m->propagates || !strncmp(o, " shared:", 8) || !strncmp(o, " master:", 8);
	s = sep + 2;
	r = field(&s, &m->fstype);
	if (r >= 0)
		r = field(&s, &m->source);
	if (r >= 0)
		r = field(&s, &m->super_opts);
	return r;
}

/* "ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTS ... - FSTYPE SOURCE SUPER_OPTS" */
static int parse_mount(const char *l, struct proc_mount *m)
{
	int id, parent, off = 0;
	unsigned major, minor;
	const char *root, *mp;
	size_t rlen, mlen;

	if (sscanf(l, "%d %d %u:%u %n", &id, &parent, &major, &minor, &off) != 4 || !off)
		return -EINVAL;
	root = l + off;
	rlen = strcspn(root, " \n");
	if (root[rlen] != ' ')
		return -EINVAL;
	mp = root + rlen + 1;
	mlen = strcspn(mp, " \n");
	if (!rlen || !mlen)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->mnt_id = id;
	m->parent_id = parent;
	m->major = major;
	m->minor = minor;
	m->root = unescape(root, rlen);
	m->mount_point = unescape(mp, mlen);
	if (!m->root || !m->mount_point || parse_rest(mp + mlen, m) < 0) {
		mount_clear(m);
		return -ENOMEM;
	}
	return 0;
}

int proc_parse_mountinfo(const char *buf, struct proc_mount **ret, size_t *ret_n)
{
	struct proc_mount *m = NULL;
	size_t n = 0, cap = 0;

	if (!buf)
		return -EINVAL;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		int r;

		if (*l == '\n')
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 32;
			struct proc_mount *nm = realloc(m, nc * sizeof(*m));

			if (!nm) {
				proc_mounts_free(m, n);
				return -ENOMEM;
			}
			m = nm;
			cap = nc;
		}
		r = parse_mount(l, &m[n]);
		if (r < 0) {
			proc_mounts_free(m, n);
			return r;
		}
		n++;
	}
	*ret = m;
	*ret_n = n;
	return 0;
}
