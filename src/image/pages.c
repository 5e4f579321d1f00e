/*
 * Pages files: a 4096-byte header, then raw page data, page aligned so
 * restore can pread or mmap it. The writer streams data and hashes it as it
 * goes; the header (and with it a valid magic) is written last, so a file
 * whose writing failed never passes validation. What the pages are is the
 * pagemap's business.
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/xfer.h"

#define VERIFY_CHUNK (1U << 20)

struct image_pages_writer {
	int dirfd;
	int fd;
	struct xfer *xfer;	/* or a file of a page server */
	uint32_t xfer_id;
	uint64_t size;		/* payload bytes written so far */
	XXH3_state_t *xxh;
	char name[64];
};

static void xxh3_freep(XXH3_state_t **s)
{
	XXH3_freeState(*s);
}

void image_pages_name(char *buf, size_t len, enum md_pages_of of, uint64_t id)
{
	static const char *const prefix[] = {
		[MD_PAGES_PROC] = "", [MD_PAGES_SHM] = "shm-", [MD_PAGES_SYSV] = "sysvshm-",
	};

	snprintf(buf, len, "pages-%s%llu.img", prefix[of], (unsigned long long)id);
}

static void writer_free(struct image_pages_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	XXH3_freeState(w->xxh);
	free(w);
}

static int writer_new(const char *name, struct image_pages_writer **ret)
{
	struct image_pages_writer *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return log_err(-ENOMEM, "cannot create image '%s'", name);
	w->fd = -1;
	w->dirfd = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->xxh = XXH3_createState();
	if (!w->xxh || XXH3_64bits_reset(w->xxh) != XXH_OK) {
		writer_free(w);
		return log_err(-ENOMEM, "cannot create image '%s'", name);
	}
	*ret = w;
	return 0;
}

int image_pages_create_remote(struct xfer *x, const char *name, struct image_pages_writer **ret)
{
	struct image_pages_writer *w;
	int r;

	r = writer_new(name, &w);
	if (r < 0)
		return r;
	w->xfer = x;
	r = xfer_open(x, name, &w->xfer_id);
	if (r < 0) {
		writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int image_pages_create(int dirfd, const char *name, struct image_pages_writer **ret)
{
	struct image_pages_writer *w;
	int r;

	r = writer_new(name, &w);
	if (r < 0)
		return r;
	w->dirfd = dirfd;
	w->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int r = -errno;

		writer_free(w);
		return log_err(r, "cannot create image '%s'", name);
	}
	/* The header stays a hole of zeroes (bad magic) until image_pages_finish(). */
	if (lseek(w->fd, MD_PAGES_HEADER_SIZE, SEEK_SET) < 0) {
		int r = -errno;

		unlinkat(dirfd, name, 0);
		writer_free(w);
		return log_err(r, "cannot create image '%s'", name);
	}
	*ret = w;
	return 0;
}

int image_pages_write(struct image_pages_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (XXH3_64bits_update(w->xxh, buf, len) != XXH_OK)
		return log_err(-EINVAL, "cannot hash data of image '%s'", w->name);
	w->size += len;
	if (w->xfer)
		return xfer_write(w->xfer, w->xfer_id, MD_PAGES_HEADER_SIZE + w->size - len, buf, len);
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_err(-errno, "cannot write image '%s'", w->name);
		}
		p += n;
		len -= n;
	}
	return 0;
}

int image_pages_finish(struct image_pages_writer *w)
{
	_cleanup_free_ uint8_t *hdr = NULL;
	struct img_header h = {
		.version = MD_FORMAT_VERSION, .kind = MD_IMG_PAGES,
		.payload_size = w->size, .checksum = XXH3_64bits_digest(w->xxh),
		.header_size = MD_PAGES_HEADER_SIZE,
	};
	ssize_t n;
	int r = 0;

	if (w->size % MD_PAGE_SIZE) {
		r = img_invalid(w->name, "%llu bytes of data is not a whole number of pages",
				(unsigned long long)w->size);
		goto out_unlink;
	}
	hdr = malloc(MD_PAGES_HEADER_SIZE);
	if (!hdr) {
		r = log_err(-ENOMEM, "cannot write image '%s'", w->name);
		goto out_unlink;
	}
	img_header_encode(&h, hdr, MD_PAGES_HEADER_SIZE);
	if (w->xfer) {
		/* a failure fails the dump, which makes the server drop the file */
		r = xfer_write(w->xfer, w->xfer_id, 0, hdr, MD_PAGES_HEADER_SIZE);
		if (r >= 0)
			r = xfer_close_file(w->xfer, w->xfer_id);
		writer_free(w);
		return r;
	}
	/* A data-less file still needs its header's 4096 bytes. */
	n = pwrite(w->fd, hdr, MD_PAGES_HEADER_SIZE, 0);
	if (n != MD_PAGES_HEADER_SIZE) {
		r = log_err(n < 0 ? -errno : -EIO, "cannot write header of image '%s'", w->name);
		goto out_unlink;
	}
	if (close(w->fd) < 0) {
		w->fd = -1;
		r = log_err(-errno, "cannot write image '%s'", w->name);
		goto out_unlink;
	}
	w->fd = -1;
	writer_free(w);
	return 0;

out_unlink:
	if (!w->xfer)
		unlinkat(w->dirfd, w->name, 0);
	writer_free(w);
	return r;
}

void image_pages_abort(struct image_pages_writer *w)
{
	writer_free(w);
}

int image_pages_open(int dirfd, const char *name, uint64_t expect_pages, bool verify, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct img_header h;
	struct stat st;
	ssize_t n;
	int r;

	r = img_open(dirfd, name, &fd, &st);
	if (r < 0)
		return r;
	buf = malloc(verify ? VERIFY_CHUNK : MD_PAGES_HEADER_SIZE);
	if (!buf)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	n = pread(fd, buf, MD_PAGES_HEADER_SIZE, 0);
	if (n < 0)
		return log_err(-errno, "cannot read image '%s'", name);
	r = img_header_check(name, buf, n, st.st_size, MD_IMG_PAGES, &h);
	if (r < 0)
		return r;
	if (expect_pages > UINT64_MAX / MD_PAGE_SIZE || h.payload_size != expect_pages * MD_PAGE_SIZE)
		return img_invalid(name, "holds %llu bytes of data, the pagemap says %llu pages",
				   (unsigned long long)h.payload_size, (unsigned long long)expect_pages);

	if (verify) {
		_cleanup_(xxh3_freep) XXH3_state_t *xxh = XXH3_createState();
		uint64_t off = 0;

		if (!xxh || XXH3_64bits_reset(xxh) != XXH_OK)
			return log_err(-ENOMEM, "cannot read image '%s'", name);
		while (off < h.payload_size) {
			size_t want = h.payload_size - off < VERIFY_CHUNK ? h.payload_size - off : VERIFY_CHUNK;

			n = pread(fd, buf, want, MD_PAGES_HEADER_SIZE + off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return log_err(-errno, "cannot read image '%s'", name);
			}
			if (n == 0)
				return img_invalid(name, "truncated while reading");
			XXH3_64bits_update(xxh, buf, n);
			off += n;
		}
		if (XXH3_64bits_digest(xxh) != h.checksum)
			return img_invalid(name, "checksum mismatch");
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}
