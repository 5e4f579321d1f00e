/* Pages files: streamed writer, header and checksum checks of the reader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_pages, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* Writes n synthetic pages in uneven pieces (the writer must not care). */
static void write_pages(const char *name, uint64_t n)
{
	struct image_pages_writer *w;
	uint8_t *buf = malloc(n * 4096 + 1);
	size_t off = 0, step = 1000;

	for (uint64_t i = 0; i < n; i++)
		synth_page(buf + i * 4096, i);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	while (off < n * 4096) {
		size_t l = n * 4096 - off < step ? n * 4096 - off : step;

		cr_assert_eq(image_pages_write(w, buf + off, l), 0);
		off += l;
		step = step * 3 + 1;
	}
	cr_assert_eq(image_pages_finish(w), 0);
	free(buf);
}

Test(image_pages, names)
{
	char buf[64];

	image_pages_name(buf, sizeof(buf), MD_PAGES_PROC, 42);
	cr_assert_str_eq(buf, "pages-42.img");
	image_pages_name(buf, sizeof(buf), MD_PAGES_SHM, 9876543210ULL);
	cr_assert_str_eq(buf, "pages-shm-9876543210.img");
	image_pages_name(buf, sizeof(buf), MD_PAGES_SYSV, 32769);
	cr_assert_str_eq(buf, "pages-sysvshm-32769.img");
}

Test(image_pages, roundtrip_verified)
{
	uint8_t page[4096], want[4096];
	struct stat st;
	int fd;

	/* More than one verify chunk (1 MiB). */
	write_pages("pages-1.img", 300);
	cr_assert_eq(image_pages_open(dirfd, "pages-1.img", 300, true, &fd), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, MD_PAGES_HEADER_SIZE + 300 * 4096);
	for (uint64_t i = 0; i < 300; i += 37) {
		cr_assert_eq(pread(fd, page, 4096, MD_PAGES_HEADER_SIZE + i * 4096), 4096);
		synth_page(want, i);
		cr_assert_eq(memcmp(page, want, 4096), 0, "page %llu differs", (unsigned long long)i);
	}
	close(fd);
}

Test(image_pages, empty_file)
{
	int fd;

	write_pages("pages-2.img", 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-2.img", 0, true, &fd), 0);
	close(fd);
}

Test(image_pages, wrong_page_count_refused)
{
	int fd = -1;

	write_pages("pages-3.img", 4);
	cr_assert_eq(image_pages_open(dirfd, "pages-3.img", 5, false, &fd), -EINVAL);
	cr_assert_eq(image_pages_open(dirfd, "pages-3.img", 3, false, &fd), -EINVAL);
}

Test(image_pages, file_size_mismatch_refused)
{
	int fd = -1, wfd;

	write_pages("pages-4.img", 4);
	wfd = openat(dirfd, "pages-4.img", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(wfd, 0);
	cr_assert_eq(ftruncate(wfd, MD_PAGES_HEADER_SIZE + 3 * 4096), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4.img", 4, false, &fd), -EINVAL);
	cr_assert_eq(ftruncate(wfd, MD_PAGES_HEADER_SIZE + 5 * 4096), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4.img", 4, false, &fd), -EINVAL);
	close(wfd);
}

Test(image_pages, flipped_byte_refused_only_when_verifying)
{
	int fd = -1, wfd;
	uint8_t b;

	write_pages("pages-5.img", 8);
	wfd = openat(dirfd, "pages-5.img", O_RDWR | O_CLOEXEC);
	cr_assert_eq(pread(wfd, &b, 1, MD_PAGES_HEADER_SIZE + 5 * 4096 + 17), 1);
	b ^= 0x40;
	cr_assert_eq(pwrite(wfd, &b, 1, MD_PAGES_HEADER_SIZE + 5 * 4096 + 17), 1);
	close(wfd);
	cr_assert_eq(image_pages_open(dirfd, "pages-5.img", 8, true, &fd), -EINVAL);
	cr_assert_eq(image_pages_open(dirfd, "pages-5.img", 8, false, &fd), 0);
	close(fd);
}

Test(image_pages, aborted_file_refused)
{
	struct image_pages_writer *w;
	uint8_t page[4096];
	int fd = -1;

	synth_page(page, 1);
	cr_assert_eq(image_pages_create(dirfd, "pages-6.img", &w), 0);
	cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	image_pages_abort(w);
	cr_assert_eq(image_pages_open(dirfd, "pages-6.img", 1, false, &fd), -EINVAL);
}

Test(image_pages, partial_page_refused_by_writer)
{
	struct image_pages_writer *w;
	uint8_t half[2048] = {1};
	int fd = -1;

	cr_assert_eq(image_pages_create(dirfd, "pages-7.img", &w), 0);
	cr_assert_eq(image_pages_write(w, half, sizeof(half)), 0);
	cr_assert_eq(image_pages_finish(w), -EINVAL);
	/* Nothing that could pass for an image is left behind. */
	cr_assert_eq(image_pages_open(dirfd, "pages-7.img", 0, false, &fd), -ENOENT);
}

Test(image_pages, metadata_file_is_not_pages)
{
	struct md_pagemap pm = {0};
	int fd = -1;

	cr_assert_eq(image_write_pagemap(dirfd, 8, &pm), 0);
	cr_assert_eq(image_pages_open(dirfd, "pagemap-8.img", 0, true, &fd), -EINVAL);
}
