/*
 * Whole-file readers for /proc: files there report st_size 0, so read until
 * EOF into a growing buffer. Parsing is left to the proc_parse_*() functions.
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int proc_read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 4096;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;

	for (;;) {
		ssize_t n;

		/* keep one byte for the terminating NUL */
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';

	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int proc_read_filef(char **ret, size_t *ret_len, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;

	return proc_read_file(path, ret, ret_len);
}

bool proc_path_deleted(const char *path)
{
	size_t l = strlen(path), sl = strlen(PROC_DELETED_SUFFIX);

	return l > sl && strcmp(path + l - sl, PROC_DELETED_SUFFIX) == 0;
}

int proc_close_fds(bool (*keep)(int fd, void *arg), void *arg)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && !keep(fd, arg))
			close(fd);
	}
	return 0;
}
