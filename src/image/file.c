/*
 * Image file framing: the fixed header, and one protobuf message per
 * metadata file, validated on the way in. What the messages mean is left to
 * the per-kind files (inventory.c, proc.c, pagemap.c).
 */
#include "image/internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/hash.h"
#include "memdump/log.h"

#include "core.pb-c.h"
#include "files.pb-c.h"
#include "inventory.pb-c.h"
#include "ipcns.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pipes.pb-c.h"
#include "ptys.pb-c.h"
#include "shm.pb-c.h"
#include "track.pb-c.h"

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

void img_header_encode(const struct img_header *h, uint8_t *buf, size_t len)
{
	memset(buf, 0, len);
	memcpy(buf, MD_IMAGE_MAGIC, 8);
	put32(buf + 8, h->version);
	put32(buf + 12, h->kind);
	put64(buf + 16, h->payload_size);
	put64(buf + 24, h->checksum);
	put32(buf + 32, h->header_size);
	put32(buf + 36, h->flags);
}

bool img_header_decode(const uint8_t *buf, size_t len, struct img_header *ret)
{
	if (len < MD_HEADER_ENCODED_SIZE)
		return false;
	ret->version = get32(buf + 8);
	ret->kind = get32(buf + 12);
	ret->payload_size = get64(buf + 16);
	ret->checksum = get64(buf + 24);
	ret->header_size = get32(buf + 32);
	ret->flags = get32(buf + 36);
	return true;
}

/* The last reason given by img_invalid(), for 'memdump show' to print. */
static __thread char last_error[512];

const char *img_last_error(void)
{
	return last_error;
}

int img_invalid(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "image '%s': %s", name, last_error);
	return -EINVAL;
}

const char *img_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[MD_IMG_INVENTORY] = "inventory", [MD_IMG_CORE] = "core", [MD_IMG_MM] = "mm",
		[MD_IMG_FILES] = "files",	  [MD_IMG_PAGEMAP] = "pagemap", [MD_IMG_PAGES] = "pages",
		[MD_IMG_SHM] = "shm", [MD_IMG_PIPES] = "pipes", [MD_IMG_TRACK] = "track",
		[MD_IMG_SOCKETS] = "sockets", [MD_IMG_TCP] = "tcp-stream", [MD_IMG_PTYS] = "ptys",
		[MD_IMG_IPCNS] = "ipcns",
	};

	if (kind < ARRAY_SIZE(names) && names[kind])
		return names[kind];
	return NULL;
}

const ProtobufCMessageDescriptor *img_kind_descriptor(uint32_t kind)
{
	switch (kind) {
	case MD_IMG_INVENTORY:
		return &md__inventory_image__descriptor;
	case MD_IMG_CORE:
		return &md__core_image__descriptor;
	case MD_IMG_MM:
		return &md__mm_image__descriptor;
	case MD_IMG_FILES:
		return &md__files_image__descriptor;
	case MD_IMG_PAGEMAP:
		return &md__pagemap_image__descriptor;
	case MD_IMG_SHM:
		return &md__shm_image__descriptor;
	case MD_IMG_PIPES:
		return &md__pipes_image__descriptor;
	case MD_IMG_TRACK:
		return &md__track_image__descriptor;
	case MD_IMG_SOCKETS:
		return &md__sockets_image__descriptor;
	case MD_IMG_TCP:
		return &md__tcp_streams_image__descriptor;
	case MD_IMG_PTYS:
		return &md__ptys_image__descriptor;
	case MD_IMG_IPCNS:
		return &md__ipc_ns_image__descriptor;
	default:
		return NULL;
	}
}

int img_header_check(const char *name, const uint8_t *raw, size_t rawlen, uint64_t file_size,
		     uint32_t want, struct img_header *ret)
{
	struct img_header h;
	uint32_t hsize;

	if (rawlen < MD_HEADER_ENCODED_SIZE || file_size < MD_HEADER_ENCODED_SIZE)
		return img_invalid(name, "truncated header (%llu bytes)", (unsigned long long)file_size);
	if (memcmp(raw, MD_IMAGE_MAGIC, 8) != 0)
		return img_invalid(name, "bad magic, not a memdump image");
	img_header_decode(raw, rawlen, &h);
	/* Every later version reads every earlier one; a newer one we cannot know. */
	if (h.version < 1 || h.version > MD_FORMAT_VERSION)
		return img_invalid(name, "unsupported format version %u (this memdump reads 1 to %u)",
				   h.version, MD_FORMAT_VERSION);
	if (!img_kind_name(h.kind))
		return img_invalid(name, "unknown image kind %u", h.kind);
	if (want && h.kind != want)
		return img_invalid(name, "is a '%s' image where '%s' was expected", img_kind_name(h.kind),
				   img_kind_name(want));
	hsize = h.kind == MD_IMG_PAGES ? MD_PAGES_HEADER_SIZE : MD_META_HEADER_SIZE;
	if (h.header_size != hsize)
		return img_invalid(name, "bad header size %u (expected %u)", h.header_size, hsize);
	/* only pages files of version 2, mm, files, core, inventory and ipcns files have flags */
	if (h.flags & ~(h.kind == MD_IMG_PAGES && h.version >= 2 ? MD_PAGES_F_INDEX | MD_PAGES_F_ZSTD | MD_PAGES_F_LZ4
			: h.kind == MD_IMG_MM				 ? MD_MM_F_GHOSTS
			: h.kind == MD_IMG_FILES			 ? MD_FILES_F_ALL
			: h.kind == MD_IMG_CORE				 ? MD_CORE_F_ALL
			: h.kind == MD_IMG_INVENTORY			 ? MD_INVENTORY_F_ALL
			: h.kind == MD_IMG_IPCNS			 ? MD_IPCNS_F_POSIX_MQ
									 : 0))
		return img_invalid(name, "unknown header flags 0x%x", h.flags);
	if ((h.flags & MD_PAGES_F_ZSTD) && (h.flags & MD_PAGES_F_LZ4))
		return img_invalid(name, "header flags 0x%x name two codecs", h.flags);
	if (h.payload_size > UINT64_MAX - hsize)
		return img_invalid(name, "bad payload size %llu", (unsigned long long)h.payload_size);
	if (file_size < hsize + h.payload_size)
		return img_invalid(name, "truncated: %llu bytes, header says %llu",
				   (unsigned long long)file_size,
				   (unsigned long long)(hsize + h.payload_size));
	if (file_size > hsize + h.payload_size)
		return img_invalid(name, "size mismatch: %llu bytes, header says %llu",
				   (unsigned long long)file_size,
				   (unsigned long long)(hsize + h.payload_size));
	*ret = h;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int img_write_msg_flags(int dirfd, const char *name, enum md_image_kind kind, uint32_t flags,
			const ProtobufCMessage *msg)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct img_header h = {
		.version = MD_FORMAT_VERSION, .kind = kind, .header_size = MD_META_HEADER_SIZE, .flags = flags,
	};
	size_t len;
	int r;

	len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(MD_META_HEADER_SIZE + len);
	if (!buf)
		return log_err(-ENOMEM, "cannot write image '%s'", name);
	protobuf_c_message_pack(msg, buf + MD_META_HEADER_SIZE);
	h.payload_size = len;
	h.checksum = XXH3_64bits(buf + MD_META_HEADER_SIZE, len);
	img_header_encode(&h, buf, MD_META_HEADER_SIZE);

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_err(-errno, "cannot create image '%s'", name);
	r = write_all(fd, buf, MD_META_HEADER_SIZE + len);
	if (r >= 0 && close(TAKE_FD(fd)) < 0)
		r = -errno;
	if (r < 0) {
		/* A short file would fail validation, but leave nothing half-written behind. */
		unlinkat(dirfd, name, 0);
		return log_err(r, "cannot write image '%s'", name);
	}
	return 0;
}

int img_write_msg(int dirfd, const char *name, enum md_image_kind kind, const ProtobufCMessage *msg)
{
	return img_write_msg_flags(dirfd, name, kind, 0, msg);
}

static int read_all(int fd, void *buf, size_t len, size_t *ret_n)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	*ret_n = done;
	return 0;
}

int img_open(int dirfd, const char *name, int *ret_fd, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open image '%s'", name);
	if (fstat(fd, ret_st) < 0)
		return log_err(-errno, "cannot stat image '%s'", name);
	if (!S_ISREG(ret_st->st_mode))
		return img_invalid(name, "not a regular file");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int img_read_msg_flags(int dirfd, const char *name, enum md_image_kind kind, uint32_t *flags, ProtobufCMessage **ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	const ProtobufCMessageDescriptor *desc = img_kind_descriptor(kind);
	ProtobufCMessage *m;
	struct img_header h;
	struct stat st;
	size_t n = 0;
	int r;

	r = img_open(dirfd, name, &fd, &st);
	if (r < 0)
		return r;
	if ((uint64_t)st.st_size > MD_META_HEADER_SIZE + MD_META_MAX_PAYLOAD)
		return img_invalid(name, "too large for a metadata image (%lld bytes)",
				   (long long)st.st_size);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	r = read_all(fd, buf, st.st_size, &n);
	if (r < 0)
		return log_err(r, "cannot read image '%s'", name);

	r = img_header_check(name, buf, n, n, kind, &h);
	if (r < 0)
		return r;
	if (XXH3_64bits(buf + h.header_size, h.payload_size) != h.checksum)
		return img_invalid(name, "checksum mismatch");
	/* protobuf-c also refuses messages that lack a required field. */
	m = protobuf_c_message_unpack(desc, NULL, h.payload_size, buf + h.header_size);
	if (!m)
		return img_invalid(name, "cannot decode '%s' message (corrupt or missing a required field)",
				   img_kind_name(kind));
	*ret = m;
	*flags = h.flags;
	return 0;
}

int img_read_msg_opt(int dirfd, const char *name, enum md_image_kind kind, ProtobufCMessage **ret)
{
	int r;

	*ret = NULL;
	if (faccessat(dirfd, name, F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = img_read_msg(dirfd, name, kind, ret);
	return r < 0 ? r : 1;
}

int img_read_msg(int dirfd, const char *name, enum md_image_kind kind, ProtobufCMessage **ret)
{
	uint32_t flags;

	return img_read_msg_flags(dirfd, name, kind, &flags, ret);
}
