/*
 * The image directory: opened once, every image is openat()ed in it.
 * A new dump refuses a directory that already holds something, so two
 * dumps never mix their files.
 */
#include "memdump/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/log.h"

bool image_file_name(const char *name)
{
	size_t l = strlen(name);

	return l > 4 && name[0] != '.' && !strchr(name, '/') && !strcmp(name + l - 4, ".img");
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int dir_is_empty(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		close(fd);
		return r;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return 0;
	}
	if (errno)
		return -errno;
	return 1;
}

int image_dir_open(const char *path, bool create, int *ret_dirfd)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (create) {
		r = mkdir_p(path);
		if (r < 0)
			return log_err(r, "cannot create image directory '%s'", path);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open image directory '%s'", path);
	if (create) {
		r = dir_is_empty(fd);
		if (r < 0)
			return log_err(r, "cannot read image directory '%s'", path);
		if (r == 0) {
			log_msg(LOG_ERR, "directory '%s' is not empty", path);
			return -EEXIST;
		}
	}
	*ret_dirfd = TAKE_FD(fd);
	return 0;
}
