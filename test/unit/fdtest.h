#pragma once
/* Helpers on fds shared by the unit tests of several stages. */
#include <criterion/criterion.h>
#include <sys/stat.h>

/* the inode number of fd's file */
static inline ino_t ino_of(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}
