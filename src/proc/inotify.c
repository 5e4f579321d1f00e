/*
 * The "inotify wd:..." lines of an inotify fd's fdinfo (fs/notify/fdinfo.c)
 * -> one struct proc_inotify_watch each, file handle included. Finding the
 * watched inode's path from the handle is dump/'s.
 */
#include "memdump/proc.h"
#include "proc/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_PREFIX "inotify wd:"

/* "key:HEX" at *s (after spaces); *s moves past it */
static int take_hex(const char **s, const char *key, uint64_t max, uint64_t *ret)
{
	size_t n = strlen(key);
	const char *p = *s + strspn(*s, " ");
	uint64_t v = 0;
	int d, digits = 0;

	if (strncmp(p, key, n) || p[n] != ':')
		return -EINVAL;
	p += n + 1;
	while ((d = proc_hexval(*p)) >= 0) {
		if (v > (max - (uint64_t)d) / 16)
			return -EINVAL;
		v = v * 16 + (uint64_t)d;
		p++;
		digits++;
	}
	if (!digits || (*p != ' ' && *p != '\n' && *p != '\0'))
		return -EINVAL;
	*s = p;
	*ret = v;
	return 0;
}

/*
 * One line after "inotify ": "wd:%x ino:%lx sdev:%x mask:%x
 * ignored_mask:%x" and, where the file system can make one, "fhandle-bytes:%x
 * fhandle-type:%x f_handle:%02x...".
 */
static int parse_watch(const char *l, struct proc_inotify_watch *w)
{
	const char *p = l + strlen("inotify ");
	uint64_t v;

	memset(w, 0, sizeof(*w));
	if (take_hex(&p, "wd", INT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	w->wd = (int32_t)v;
	if (take_hex(&p, "ino", UINT64_MAX, &w->ino) < 0 || take_hex(&p, "sdev", UINT32_MAX, &v) < 0)
		return -EINVAL;
	w->sdev = (uint32_t)v;
	if (take_hex(&p, "mask", UINT32_MAX, &v) < 0)
		return -EINVAL;
	w->mask = (uint32_t)v;
	if (take_hex(&p, "ignored_mask", UINT32_MAX, &v) < 0)
		return -EINVAL;
	w->ignored_mask = (uint32_t)v;
	p += strspn(p, " ");
	if (*p == '\n' || *p == '\0')
		return 0;	/* no handle: the file system cannot encode one */
	if (take_hex(&p, "fhandle-bytes", PROC_FHANDLE_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	w->fh_bytes = (uint32_t)v;
	if (take_hex(&p, "fhandle-type", INT32_MAX, &v) < 0)
		return -EINVAL;
	w->fh_type = (int32_t)v;
	p += strspn(p, " ");
	if (strncmp(p, "f_handle:", 9))
		return -EINVAL;
	p += 9;
	for (uint32_t i = 0; i < w->fh_bytes; i++) {
		int hi = proc_hexval(p[2 * i]), lo = hi < 0 ? -1 : proc_hexval(p[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		w->fh[i] = (uint8_t)(hi << 4 | lo);
	}
	p += 2 * w->fh_bytes;
	if (*p != '\n' && *p != '\0' && *p != ' ')
		return -EINVAL;
	w->has_fh = true;
	return 0;
}

int proc_parse_inotify(const char *buf, struct proc_inotify_watch **ret, size_t *ret_n)
{
	struct proc_inotify_watch *w = NULL;
	size_t n = 0, cap = 0;

	if (!buf)
		return -EINVAL;
	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, WATCH_PREFIX, strlen(WATCH_PREFIX)))
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			struct proc_inotify_watch *nw = realloc(w, nc * sizeof(*w));

			if (!nw) {
				free(w);
				return -ENOMEM;
			}
			w = nw;
			cap = nc;
		}
		if (parse_watch(l, &w[n]) < 0) {
			free(w);
			return -EINVAL;
		}
		n++;
	}
	*ret = w;
	*ret_n = n;
	return 0;
}
