/*
 * /proc/PID/cgroup: "ID:CONTROLLERS:PATH" per hierarchy (cgroup v2's is
 * "0::PATH"), each path relative to the reader's cgroup namespace root.
 */
#include "memdump/proc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int proc_parse_cgroup_root(const char *buf, char *off, size_t len)
{
	const char *line = buf;
	size_t n = 0;

	while (*line) {
		const char *end = strchrnul(line, '\n'), *a = memchr(line, ':', (size_t)(end - line)), *b;

		b = a ? memchr(a + 1, ':', (size_t)(end - a - 1)) : NULL;
		if (!b)
			return -EINVAL;
		if (end - b - 1 != 1 || b[1] != '/') {
			snprintf(off, len, "%.*s", (int)(end - line), line);
			return 0;
		}
		n++;
		line = *end ? end + 1 : end;
	}
	return n ? 1 : -EINVAL;
}
