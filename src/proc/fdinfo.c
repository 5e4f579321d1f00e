/*
 * /proc/PID/fdinfo/N -> struct proc_fdinfo: position, open flags, mount and
 * inode. Kind-specific lines (eventfd, inotify, locks...) are skipped.
 */
#include "memdump/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
