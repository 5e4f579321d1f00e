#pragma once
#include <sys/stat.h>
/*
 * Shared by the files of src/image/: the on-disk header, reading and
 * writing one protobuf message as a metadata file, and the one-line error
 * report every reader uses. Not for other stages.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "memdump/image.h"

/*
 * The fixed header of every image file, little-endian on disk (see
 * images/README.md for the diagram). Metadata files have a 64-byte header,
 * pages files a 4096-byte one so the data stays page aligned.
 */
#define MD_META_HEADER_SIZE 64
#define MD_HEADER_ENCODED_SIZE 40	/* bytes of the header that carry fields */
#define MD_META_MAX_PAYLOAD (1ULL << 30)	/* sanity bound for one message */

struct img_header {
	uint32_t version;	/* MD_FORMAT_VERSION of the writer */
	uint32_t kind;		/* enum md_image_kind */
	uint64_t payload_size;	/* bytes after the header */
	uint64_t checksum;	/* XXH3-64 (seed 0) of the payload */
	uint32_t header_size;	/* bytes before the payload: 64 or 4096 */
	uint32_t flags;		/* pages files of version 2: MD_PAGES_F_*; else 0 */
};

/* buf must hold header_size bytes; the bytes past the fields are zeroed. */
void img_header_encode(const struct img_header *h, uint8_t *buf, size_t len);
/* Decodes buf (at least MD_HEADER_ENCODED_SIZE bytes); no checks. */
bool img_header_decode(const uint8_t *buf, size_t len, struct img_header *ret);

/*
 * Checks magic, version, kind (want, or any if 0), header size and flags
 * of a header read from file 'name' of file_size bytes, and that the file
 * size matches header_size + payload_size. Logs and returns -EINVAL.
 */
int img_header_check(const char *name, const uint8_t *raw, size_t rawlen, uint64_t file_size,
		     uint32_t want, struct img_header *ret);

/* Logs "image 'name': reason" at LOG_ERR and returns -EINVAL. */
int img_invalid(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The reason of the last img_invalid() of this thread. */
const char *img_last_error(void);

const char *img_kind_name(uint32_t kind);
const ProtobufCMessageDescriptor *img_kind_descriptor(uint32_t kind);

/* Packs msg after a header of the given kind (and flags) into dirfd/name (mode 0600). */
int img_write_msg(int dirfd, const char *name, enum md_image_kind kind, const ProtobufCMessage *msg);
int img_write_msg_flags(int dirfd, const char *name, enum md_image_kind kind, uint32_t flags,
			const ProtobufCMessage *msg);

/*
 * Reads, validates (header, size, checksum) and unpacks dirfd/name.
 * Free *ret with protobuf_c_message_free_unpacked(). Logs every failure.
 */
/* Open an image file for reading: it must exist and be a regular file (logged otherwise). */
int img_open(int dirfd, const char *name, int *ret_fd, struct stat *ret_st);

int img_read_msg(int dirfd, const char *name, enum md_image_kind kind, ProtobufCMessage **ret);
/* the same for a file an image may lack: 0 (and *ret NULL) if it does, 1 once read, or -errno */
int img_read_msg_opt(int dirfd, const char *name, enum md_image_kind kind, ProtobufCMessage **ret);
/* the same, with the header's flags in *flags */
int img_read_msg_flags(int dirfd, const char *name, enum md_image_kind kind, uint32_t *flags, ProtobufCMessage **ret);

static inline void img_msg_freep(void *p)
{
	ProtobufCMessage **m = p;

	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_msg_ __attribute__((cleanup(img_msg_freep)))

static inline bool img_page_aligned(uint64_t v)
{
	return (v & 4095) == 0;
}

/*
 * fdextra.c: an Fd message's inotify watches and ghost record, and the
 * ghosts only mapped. prepare() points f[i] (one per p->fds[i]) and
 * m->mapped at messages it allocates, borrowing strings from p; release()
 * frees them once the message is written. read_fd_extras() fills f from s,
 * read_mapped_ghosts() p->mapped from m (after the fds, the VMAs and the
 * exe, whose ghost ids it resolves), checking them; both log and return
 * -EINVAL if bad.
 */
struct Md__Fd;
struct Md__FilesImage;
struct md_proc;
struct md_ghost;
struct md_fd;
struct image_files_extras {
	void **allocs;
	size_t n, cap;
};
int image_files_extras_prepare(const struct md_proc *p, struct Md__FilesImage *m, struct Md__Fd *f,
			       struct image_files_extras *ret);
void image_files_extras_release(struct image_files_extras *ex);
int image_read_fd_extras(const char *name, const struct Md__Fd *s, struct md_fd *f);
int image_read_mapped_ghosts(const char *name, const struct Md__FilesImage *m, struct md_proc *p);
