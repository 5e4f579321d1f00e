/*
 * Pages files: a 4096-byte header, the page data in chunks of 1 MiB (raw,
 * or one zstd frame or one LZ4 block each), then an index with the stored
 * length and the XXH3-64 of every chunk. The header's checksum covers the
 * index, so one chunk can be checked on its own (lazy restore) and the
 * whole file by checking every chunk. Raw data stays page aligned at its
 * offset in the data stream, so restore may pread it directly. Version 1
 * files (raw data, no index, the header's checksum over all of it) are
 * still read.
 *
 * The writer is a pipeline. The caller fills 4 MiB slots
 * (image_pages_reserve() and image_pages_commit(), or image_pages_write();
 * several threads with image_pages_get() and image_pages_put());
 * compressor threads turn the chunks of a full slot into zstd frames or
 * LZ4 blocks; whoever made a chunk hashes it; one writer thread writes the
 * slots in order. Reading memory, compressing and writing thus overlap,
 * and the slots bound the memory used whatever the data's size.
 * The header (and with it a valid magic) is written last, so a file whose
 * writing failed never passes validation.
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lz4.h>
#include <zstd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/hash.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/parallel.h"
#include "memdump/xfer.h"

#define SLOT_SIZE IMAGE_PAGES_SLOT
#define SLOT_CHUNKS (SLOT_SIZE / MD_PAGES_CHUNK)
#define MAX_WORKERS 3
#define INDEX_ENTRY 16

/* pages-specific header fields after the common ones (version 2) */
#define H_DATA_SIZE 40		/* u64 bytes of page data (uncompressed) */
#define H_CHUNK_SIZE 48		/* u32 data bytes per chunk */
#define H_NR_CHUNKS 52		/* u32 */
#define H_INDEX_OFF 56		/* u64 file offset of the index */

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_COMPRESSING, SLOT_READY };

struct slot {
	enum slot_state state;
	uint64_t seq;
	uint8_t *buf;		/* SLOT_SIZE bytes of data */
	size_t len;
	uint8_t *out;		/* compressed: chunk k at out + k * bound */
	size_t out_len[SLOT_CHUNKS];
	uint64_t hash[SLOT_CHUNKS];	/* XXH3-64 of chunk k as stored, by whoever made it */
};

struct chunk_entry {
	uint64_t hash;
	uint32_t len;
};

struct image_pages_writer {
	int dirfd;
	int fd;
	struct xfer *xfer;	/* or a file of a page server */
	uint32_t xfer_id;
	char name[64];
	struct md_compress comp;	/* codec MD_CODEC_NONE: raw */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, closing;
	int err;		/* first error of any thread */
	pthread_t writer;
	pthread_t workers[MAX_WORKERS];
	size_t n_workers;
	struct slot *slots;
	size_t n_slots;
	struct slot *cur;	/* being filled by the caller */
	uint64_t next_seq, next_write;
	size_t bound;		/* stored_bound(comp.codec) */

	/* the writer thread's */
	uint64_t data_size, stored;
	struct chunk_entry *index;
	size_t n_index, cap_index;
};

/* the most a chunk takes as stored */
static size_t stored_bound(enum md_codec codec)
{
	switch (codec) {
	case MD_CODEC_ZSTD:
		return ZSTD_compressBound(MD_PAGES_CHUNK);
	case MD_CODEC_LZ4:
		return LZ4_COMPRESSBOUND(MD_PAGES_CHUNK);
	case MD_CODEC_NONE:
		break;
	}
	return MD_PAGES_CHUNK;
}

/* what a cursor's buffer for a stored chunk needs, whatever the file */
static size_t stored_bound_any(void)
{
	size_t z = stored_bound(MD_CODEC_ZSTD), l = stored_bound(MD_CODEC_LZ4);

	return z > l ? z : l;
}

/* a codec's header flag, and back: file_codec(codec_flag(c)) == c */
static uint32_t codec_flag(enum md_codec codec)
{
	return codec == MD_CODEC_ZSTD ? MD_PAGES_F_ZSTD : codec == MD_CODEC_LZ4 ? MD_PAGES_F_LZ4 : 0;
}

static enum md_codec file_codec(uint32_t flags)
{
	if (flags & MD_PAGES_F_ZSTD)
		return MD_CODEC_ZSTD;
	return flags & MD_PAGES_F_LZ4 ? MD_CODEC_LZ4 : MD_CODEC_NONE;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void image_pages_name(char *buf, size_t len, enum md_pages_of of, uint64_t id)
{
	static const char *const prefix[] = {
		[MD_PAGES_PROC] = "", [MD_PAGES_SHM] = "shm-", [MD_PAGES_SYSV] = "sysvshm-",
		[MD_PAGES_GHOST] = "ghost-",
	};

	snprintf(buf, len, "pages-%s%llu.img", prefix[of], (unsigned long long)id);
}

/* --- writing --------------------------------------------------------------------- */

static int store(struct image_pages_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (w->xfer) {
		int r = xfer_write(w->xfer, w->xfer_id, MD_PAGES_HEADER_SIZE + w->stored, buf, len);

		if (r >= 0)
			w->stored += len;
		return r;
	}
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_err(-errno, "cannot write image '%s'", w->name);
		}
		p += n;
		len -= n;
		w->stored += n;
	}
	return 0;
}

static int add_chunk(struct image_pages_writer *w, const void *stored, size_t len, size_t data_len, uint64_t hash)
{
	if (w->n_index == w->cap_index) {
		size_t nc = w->cap_index ? 2 * w->cap_index : 64;
		struct chunk_entry *n = realloc(w->index, nc * sizeof(*n));

		if (!n)
			return log_err(-ENOMEM, "cannot write image '%s'", w->name);
		w->index = n;
		w->cap_index = nc;
	}
	w->index[w->n_index++] = (struct chunk_entry){ hash, (uint32_t)len };
	w->data_size += data_len;
	return store(w, stored, len);
}

/* bytes of data in chunk k of len bytes (a slot's, a file's) */
static size_t chunk_len(uint64_t len, uint64_t k)
{
	return len - k * MD_PAGES_CHUNK < MD_PAGES_CHUNK ? len - k * MD_PAGES_CHUNK : MD_PAGES_CHUNK;
}

/*
 * A raw slot's chunk hashes, on the thread that filled it: the writer
 * thread only writes (it alone is sequential, and on two cores the hash
 * would take its time from the write).
 */
static void hash_raw(const struct image_pages_writer *w, struct slot *s)
{
	if (w->comp.codec)
		return;
	for (size_t k = 0; k * MD_PAGES_CHUNK < s->len; k++)
		s->hash[k] = XXH3_64bits(s->buf + k * MD_PAGES_CHUNK, chunk_len(s->len, k));
}

/* The writer thread's work on one slot: every chunk stored and indexed. */
static int store_slot(struct image_pages_writer *w, struct slot *s)
{
	for (size_t k = 0; k * MD_PAGES_CHUNK < s->len; k++) {
		size_t dlen = chunk_len(s->len, k);
		int r;

		if (w->comp.codec)
			r = add_chunk(w, s->out + k * w->bound, s->out_len[k], dlen, s->hash[k]);
		else
			r = add_chunk(w, s->buf + k * MD_PAGES_CHUNK, dlen, dlen, s->hash[k]);
		if (r < 0)
			return r;
	}
	return 0;
}

static struct slot *slot_by_seq(struct image_pages_writer *w, uint64_t seq, enum slot_state st)
{
	for (size_t i = 0; i < w->n_slots; i++)
		if (w->slots[i].state == st && w->slots[i].seq == seq)
			return &w->slots[i];
	return NULL;
}

static void *writer_main(void *arg)
{
	struct image_pages_writer *w = arg;
	enum slot_state want = w->comp.codec ? SLOT_READY : SLOT_QUEUED;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s = slot_by_seq(w, w->next_write, want);
		int r;

		if (w->err || (!s && w->closing && w->next_write == w->next_seq))
			break;
		if (!s) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		r = store_slot(w, s);
		pthread_mutex_lock(&w->lock);
		if (r < 0 && !w->err)
			w->err = r;
		s->state = SLOT_FREE;
		s->len = 0;
		w->next_write++;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* one chunk of len bytes into out (w->bound bytes): its stored length, or an error */
static ssize_t compress_chunk(const struct image_pages_writer *w, ZSTD_CCtx *cctx, uint8_t *out, const uint8_t *in,
			      size_t len)
{
	size_t n;
	int k;

	if (w->comp.codec == MD_CODEC_LZ4) {
		/* the bound always fits: 0 is LZ4's own failure */
		k = LZ4_compress_default((const char *)in, (char *)out, (int)len, (int)w->bound);
		if (k <= 0)
			return log_err(-EIO, "cannot compress data of image '%s' with lz4", w->name);
		return k;
	}
	n = ZSTD_compress2(cctx, out, w->bound, in, len);
	if (ZSTD_isError(n))
		return log_err(-EIO, "cannot compress data of image '%s': %s", w->name, ZSTD_getErrorName(n));
	return (ssize_t)n;
}

static void *worker_main(void *arg)
{
	struct image_pages_writer *w = arg;
	ZSTD_CCtx *cctx = NULL;
	int r = 0;

	if (w->comp.codec == MD_CODEC_ZSTD) {
		/*
		 * No content checksum in the frame: the index's XXH3 of the
		 * stored chunk is checked before anything is decompressed,
		 * and zstd's own XXH64 of the output cost 8% of the
		 * decompression time of CPython's pages.
		 */
		cctx = ZSTD_createCCtx();
		if (!cctx || ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, w->comp.level)))
			r = log_err(-ENOMEM, "cannot set up zstd for image '%s'", w->name);
	}
	pthread_mutex_lock(&w->lock);
	if (r < 0 && !w->err)
		w->err = r;
	for (;;) {
		struct slot *s = NULL;

		for (size_t i = 0; i < w->n_slots; i++)
			if (w->slots[i].state == SLOT_QUEUED && (!s || w->slots[i].seq < s->seq))
				s = &w->slots[i];
		if (w->err || (!s && w->closing))
			break;
		if (!s) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		s->state = SLOT_COMPRESSING;
		pthread_mutex_unlock(&w->lock);
		for (size_t k = 0; r >= 0 && k * MD_PAGES_CHUNK < s->len; k++) {
			uint8_t *out = s->out + k * w->bound;
			ssize_t n = compress_chunk(w, cctx, out, s->buf + k * MD_PAGES_CHUNK, chunk_len(s->len, k));

			if (n < 0) {
				r = (int)n;
			} else {
				s->out_len[k] = (size_t)n;
				s->hash[k] = XXH3_64bits(out, (size_t)n);
			}
		}
		pthread_mutex_lock(&w->lock);
		if (r < 0 && !w->err)
			w->err = r;
		s->state = SLOT_READY;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	ZSTD_freeCCtx(cctx);
	return NULL;
}

/* Stop every thread: with error set, at once; otherwise once all slots are stored. */
static void pipeline_stop(struct image_pages_writer *w, int error)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	if (error && !w->err)
		w->err = error;
	w->closing = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->n_workers; i++)
		pthread_join(w->workers[i], NULL);
	pthread_join(w->writer, NULL);
	w->started = false;
}

static int pipeline_start(struct image_pages_writer *w)
{
	int r;

	w->n_workers = w->comp.codec ? md_cpus(MAX_WORKERS) : 0;
	/*
	 * Raw: two being filled (the copier reads on two threads), one being
	 * written, one spare. Compressed: one being filled, one written, one
	 * per compressor and one spare (the compressors are the bottleneck).
	 */
	w->n_slots = w->n_workers ? w->n_workers + 3 : 4;
	w->bound = stored_bound(w->comp.codec);
	w->slots = calloc(w->n_slots, sizeof(*w->slots));
	if (!w->slots)
		return -ENOMEM;
	for (size_t i = 0; i < w->n_slots; i++) {
		w->slots[i].buf = malloc(SLOT_SIZE);
		w->slots[i].out = w->comp.codec ? malloc(SLOT_CHUNKS * w->bound) : NULL;
		if (!w->slots[i].buf || (w->comp.codec && !w->slots[i].out))
			return -ENOMEM;
	}
	r = -pthread_create(&w->writer, NULL, writer_main, w);
	if (r < 0)
		return r;
	w->started = true;
	for (size_t i = 0; i < w->n_workers; i++) {
		r = -pthread_create(&w->workers[i], NULL, worker_main, w);
		if (r < 0) {
			w->n_workers = i;
			pipeline_stop(w, r);
			return r;
		}
	}
	return 0;
}

static void writer_free(struct image_pages_writer *w)
{
	if (!w)
		return;
	pipeline_stop(w, -ECANCELED);
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; w->slots && i < w->n_slots; i++) {
		free(w->slots[i].buf);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->index);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
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
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	snprintf(w->name, sizeof(w->name), "%s", name);
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

bool image_compress_valid(struct md_compress c)
{
	switch (c.codec) {
	case MD_CODEC_NONE:
	case MD_CODEC_LZ4:
		return c.level == 0;
	case MD_CODEC_ZSTD:
		return c.level && c.level >= MD_ZSTD_MIN_LEVEL && c.level <= MD_ZSTD_MAX_LEVEL &&
		       c.level >= ZSTD_minCLevel() && c.level <= ZSTD_maxCLevel();
	}
	return false;
}

const char *image_codec_name(enum md_codec codec)
{
	switch (codec) {
	case MD_CODEC_NONE:
		return "none";
	case MD_CODEC_ZSTD:
		return "zstd";
	case MD_CODEC_LZ4:
		return "lz4";
	}
	return "?";
}

int image_pages_compress(struct image_pages_writer *w, struct md_compress c)
{
	if (w->started || w->next_seq)
		return log_err(-EINVAL, "image '%s': compression chosen after data", w->name);
	if (!image_compress_valid(c)) {
		if (c.codec == MD_CODEC_ZSTD)
			return log_err(-EINVAL, "zstd level %d is out of range (%d to %d, not 0)", c.level,
				       MD_ZSTD_MIN_LEVEL, MD_ZSTD_MAX_LEVEL);
		return log_err(-EINVAL, "%s takes no level (%d)", image_codec_name(c.codec), c.level);
	}
	w->comp = c;
	return 0;
}

/* A free slot, its place in the file taken now (locked; waits). */
static int get_slot(struct image_pages_writer *w, struct slot **ret)
{
	struct slot *s = NULL;

	while (!s && !w->err) {
		for (size_t i = 0; i < w->n_slots && !s; i++)
			if (w->slots[i].state == SLOT_FREE)
				s = &w->slots[i];
		if (!s)
			pthread_cond_wait(&w->cond, &w->lock);
	}
	if (w->err)
		return w->err;
	s->state = SLOT_FILLING;
	s->seq = w->next_seq++;
	s->len = 0;
	*ret = s;
	return 0;
}

static int ensure_started(struct image_pages_writer *w)
{
	int r = w->err;

	if (!r && !w->started) {
		r = pipeline_start(w);
		/* never started again: finish and abort see it too */
		if (r < 0)
			w->err = r;
	}
	return r < 0 ? log_err(r, "cannot write image '%s'", w->name) : 0;
}

int image_pages_get(struct image_pages_writer *w, struct image_pages_slot **ret, void **buf)
{
	struct slot *s = NULL;
	int r = ensure_started(w);

	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	r = get_slot(w, &s);
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		return r;
	*ret = (struct image_pages_slot *)s;
	*buf = s->buf;
	return 0;
}

/* Hand a filled slot to the pipeline (locked). */
static void queue(struct image_pages_writer *w, struct slot *s)
{
	s->state = SLOT_QUEUED;
	pthread_cond_broadcast(&w->cond);
}

void image_pages_put(struct image_pages_writer *w, struct image_pages_slot *slot, size_t len)
{
	struct slot *s = (struct slot *)slot;

	s->len = len;
	hash_raw(w, s);
	pthread_mutex_lock(&w->lock);
	queue(w, s);
	pthread_mutex_unlock(&w->lock);
}

int image_pages_reserve(struct image_pages_writer *w, void **buf, size_t *len)
{
	int r = ensure_started(w);

	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	if (!w->cur)
		r = get_slot(w, &w->cur);
	if (!r) {
		*buf = w->cur->buf + w->cur->len;
		*len = SLOT_SIZE - w->cur->len;
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

void image_pages_commit(struct image_pages_writer *w, size_t len)
{
	struct slot *s = w->cur;	/* the single filler's, until queued */

	s->len += len;
	if (s->len < SLOT_SIZE)
		return;
	hash_raw(w, s);
	pthread_mutex_lock(&w->lock);
	queue(w, s);
	w->cur = NULL;
	pthread_mutex_unlock(&w->lock);
}

int image_pages_write(struct image_pages_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		void *dst;
		size_t room;
		int r = image_pages_reserve(w, &dst, &room);

		if (r < 0)
			return r;
		if (room > len)
			room = len;
		memcpy(dst, p, room);
		image_pages_commit(w, room);
		p += room;
		len -= room;
	}
	return 0;
}

static int finish_pipeline(struct image_pages_writer *w)
{
	int r;

	if (!w->started)
		return w->err;
	if (w->cur)
		hash_raw(w, w->cur);
	pthread_mutex_lock(&w->lock);
	/* it has its place in the file: queued even if empty (the writer skips it) */
	if (w->cur)
		queue(w, w->cur);
	w->cur = NULL;
	pthread_mutex_unlock(&w->lock);
	pipeline_stop(w, 0);
	r = w->err;
	return r;
}

int image_pages_finish(struct image_pages_writer *w)
{
	_cleanup_free_ uint8_t *hdr = NULL, *idx = NULL;
	struct img_header h = {
		.version = MD_FORMAT_VERSION, .kind = MD_IMG_PAGES,
		.header_size = MD_PAGES_HEADER_SIZE, .flags = MD_PAGES_F_INDEX,
	};
	uint64_t index_off;
	ssize_t n;
	int r;

	r = finish_pipeline(w);
	if (r < 0)
		goto out_unlink;
	if (w->data_size % MD_PAGE_SIZE) {
		r = img_invalid(w->name, "%llu bytes of data is not a whole number of pages",
				(unsigned long long)w->data_size);
		goto out_unlink;
	}
	hdr = malloc(MD_PAGES_HEADER_SIZE);
	idx = calloc(w->n_index + 1, INDEX_ENTRY);
	if (!hdr || !idx) {
		r = log_err(-ENOMEM, "cannot write image '%s'", w->name);
		goto out_unlink;
	}
	for (size_t i = 0; i < w->n_index; i++) {
		put64(idx + i * INDEX_ENTRY, w->index[i].hash);
		put32(idx + i * INDEX_ENTRY + 8, w->index[i].len);
	}
	index_off = MD_PAGES_HEADER_SIZE + w->stored;
	r = w->n_index ? store(w, idx, w->n_index * INDEX_ENTRY) : 0;
	if (r < 0)
		goto out_unlink;
	h.flags |= codec_flag(w->comp.codec);
	h.payload_size = w->stored;
	h.checksum = XXH3_64bits(idx, w->n_index * INDEX_ENTRY);
	img_header_encode(&h, hdr, MD_PAGES_HEADER_SIZE);
	put64(hdr + H_DATA_SIZE, w->data_size);
	put32(hdr + H_CHUNK_SIZE, MD_PAGES_CHUNK);
	put32(hdr + H_NR_CHUNKS, (uint32_t)w->n_index);
	put64(hdr + H_INDEX_OFF, index_off);
	if (w->xfer) {
		/* a failure fails the dump, which makes the server drop the file */
		r = xfer_write(w->xfer, w->xfer_id, 0, hdr, MD_PAGES_HEADER_SIZE);
		if (r >= 0)
			r = xfer_close_file(w->xfer, w->xfer_id);
		writer_free(w);
		return r;
	}
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

/* --- reading --------------------------------------------------------------------- */

struct image_pages {
	int fd;
	char name[64];
	uint32_t version;
	enum md_codec codec;
	uint64_t data_size;
	uint32_t n_chunks;
	uint64_t *off;		/* file offset of chunk i; off[n_chunks] is the end */
	uint64_t *hash;		/* version 2: XXH3-64 of chunk i as stored */
	uint64_t checksum;	/* version 1: of all the data */
	size_t max_stored;
	/*
	 * The whole file mapped (NULL if it could not be), for checking and
	 * reading it without a copy. Only the checks before a restore creates
	 * anything touch it in user space (a file cut short meanwhile would
	 * kill memdump there with SIGBUS, before any process exists); the
	 * kernel reads it for process_vm_writev(), where a missing page is
	 * EFAULT.
	 */
	const uint8_t *map;	/* off[n_chunks] bytes */
};

struct image_pages_cursor {
	ZSTD_DCtx *dctx;
	uint8_t *stored;	/* a chunk as stored (compressed files), any codec's */
	uint8_t *data;		/* a chunk's data */
	const struct image_pages *p;
	uint32_t chunk;		/* which chunk data holds, if p */
	size_t len;
	bool checked;		/* against its hash */
};

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

static int read_error(const struct image_pages *p, int r)
{
	if (r == -ENODATA)
		return img_invalid(p->name, "truncated while reading");
	return log_err(r, "cannot read image '%s'", p->name);
}

void image_pages_close(struct image_pages *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	if (p->map)
		munmap((void *)p->map, p->off[p->n_chunks]);
	free(p->off);
	free(p->hash);
	free(p);
}

static size_t chunk_data_len(const struct image_pages *p, uint32_t i)
{
	return chunk_len(p->data_size, i);
}

/* Version 2: the index, checked against the header; the chunk table from it. */
static int read_index(struct image_pages *p, const uint8_t *hdr, const struct img_header *h)
{
	_cleanup_free_ uint8_t *idx = NULL;
	uint64_t index_off = get64(hdr + H_INDEX_OFF), end = MD_PAGES_HEADER_SIZE + h->payload_size, at;
	uint32_t chunk = get32(hdr + H_CHUNK_SIZE), n = get32(hdr + H_NR_CHUNKS);
	size_t len;
	int r;

	p->data_size = get64(hdr + H_DATA_SIZE);
	if (!(h->flags & MD_PAGES_F_INDEX))
		return img_invalid(p->name, "version %u pages file without an index", h->version);
	if (chunk != MD_PAGES_CHUNK)
		return img_invalid(p->name, "chunk size %u (this memdump reads %u)", chunk, MD_PAGES_CHUNK);
	if (p->data_size % MD_PAGE_SIZE ||
	    p->data_size / MD_PAGES_CHUNK + (p->data_size % MD_PAGES_CHUNK != 0) != n)
		return img_invalid(p->name, "%u chunks cannot hold %llu bytes of data", n,
				   (unsigned long long)p->data_size);
	if (index_off < MD_PAGES_HEADER_SIZE || index_off > end || (end - index_off) / INDEX_ENTRY != n ||
	    (end - index_off) % INDEX_ENTRY)
		return img_invalid(p->name, "bad index at %llu for %u chunks", (unsigned long long)index_off, n);
	len = (size_t)n * INDEX_ENTRY;
	idx = malloc(len + 1);
	p->off = calloc((size_t)n + 1, sizeof(*p->off));
	p->hash = calloc((size_t)n + 1, sizeof(*p->hash));
	if (!idx || !p->off || !p->hash)
		return log_err(-ENOMEM, "cannot read image '%s'", p->name);
	r = pread_all(p->fd, idx, len, index_off);
	if (r < 0)
		return read_error(p, r);
	if (XXH3_64bits(idx, len) != h->checksum)
		return img_invalid(p->name, "checksum mismatch in the index");
	at = MD_PAGES_HEADER_SIZE;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sl = get32(idx + i * INDEX_ENTRY + 8);
		size_t dl = chunk_data_len(p, i);

		/* raw chunks are stored as they are; a frame or block is never empty */
		if ((!p->codec && sl != dl) || !sl || sl > stored_bound(p->codec))
			return img_invalid(p->name, "chunk %u: bad stored length %u", i, sl);
		p->off[i] = at;
		p->hash[i] = get64(idx + i * INDEX_ENTRY);
		at += sl;
		if (sl > p->max_stored)
			p->max_stored = sl;
	}
	p->off[n] = at;
	if (at != index_off)
		return img_invalid(p->name, "chunks end at %llu, the index starts at %llu", (unsigned long long)at,
				   (unsigned long long)index_off);
	p->n_chunks = n;
	return 0;
}

/* Version 1: raw data, cut into chunks of the same size for the readers' sake. */
static int v1_chunks(struct image_pages *p, const struct img_header *h)
{
	p->data_size = h->payload_size;
	p->checksum = h->checksum;
	if (p->data_size % MD_PAGE_SIZE || p->data_size / MD_PAGES_CHUNK >= UINT32_MAX)
		return img_invalid(p->name, "%llu bytes of data is not a whole number of pages",
				   (unsigned long long)p->data_size);
	p->n_chunks = (uint32_t)((p->data_size + MD_PAGES_CHUNK - 1) / MD_PAGES_CHUNK);
	p->off = calloc((size_t)p->n_chunks + 1, sizeof(*p->off));
	if (!p->off)
		return log_err(-ENOMEM, "cannot read image '%s'", p->name);
	for (uint32_t i = 0; i <= p->n_chunks; i++)
		p->off[i] = MD_PAGES_HEADER_SIZE + (i < p->n_chunks ? (uint64_t)i * MD_PAGES_CHUNK : p->data_size);
	p->max_stored = MD_PAGES_CHUNK;
	return 0;
}

static int verify_v1(struct image_pages *p)
{
	_cleanup_free_ uint8_t *buf = malloc(MD_PAGES_CHUNK);
	XXH3_state_t *xxh = XXH3_createState();
	int r = 0;

	if (!buf || !xxh || XXH3_64bits_reset(xxh) != XXH_OK) {
		XXH3_freeState(xxh);
		return log_err(-ENOMEM, "cannot read image '%s'", p->name);
	}
	for (uint32_t i = 0; i < p->n_chunks && r >= 0; i++) {
		size_t len = p->off[i + 1] - p->off[i];

		r = pread_all(p->fd, buf, len, p->off[i]);
		if (r < 0)
			r = read_error(p, r);
		else
			XXH3_64bits_update(xxh, buf, len);
	}
	if (r >= 0 && XXH3_64bits_digest(xxh) != p->checksum)
		r = img_invalid(p->name, "checksum mismatch");
	XXH3_freeState(xxh);
	return r;
}

/*
 * Done with [off, off + len) of the file's mapping for now: the pages
 * leave our page tables (and our RSS), the page cache keeps them, and a
 * later read maps them again.
 */
static void unmap_pages(const struct image_pages *p, uint64_t off, size_t len)
{
	uint64_t start = off & ~(uint64_t)(MD_PAGE_SIZE - 1), end = off + len;

	if (p->map && end > start)
		madvise((void *)(p->map + start), end - start, MADV_DONTNEED);
}

void image_pages_raw_done(const struct image_pages *p, uint64_t off, size_t len)
{
	unmap_pages(p, MD_PAGES_HEADER_SIZE + off, len);
}

/* checking a file's chunks on a few threads: each takes the next */
struct verify_job {
	const struct image_pages *p;
	pthread_mutex_t lock;
	uint32_t next;
	uint32_t bad;		/* the first chunk that failed, n_chunks if none */
	int err;		/* its read error, 0 for a checksum mismatch */
};

static void *verify_main(void *arg)
{
	struct verify_job *j = arg;
	const struct image_pages *p = j->p;
	uint8_t *buf = p->map ? NULL : malloc(p->max_stored + 1);

	for (;;) {
		const uint8_t *data = buf;
		uint32_t i;
		size_t len;
		int r = buf || p->map ? 0 : -ENOMEM;
		bool stop;

		pthread_mutex_lock(&j->lock);
		i = j->next++;
		stop = i >= p->n_chunks || i > j->bad;	/* past a bad one: no need */
		pthread_mutex_unlock(&j->lock);
		if (stop)
			break;
		len = p->off[i + 1] - p->off[i];
		if (p->map)
			data = p->map + p->off[i];
		else if (r >= 0)
			r = pread_all(p->fd, buf, len, p->off[i]);
		if (r >= 0 && XXH3_64bits(data, len) == p->hash[i]) {
			unmap_pages(p, p->off[i], len);
			continue;
		}
		pthread_mutex_lock(&j->lock);
		if (i < j->bad) {
			j->bad = i;
			j->err = r;
		}
		pthread_mutex_unlock(&j->lock);
	}
	free(buf);
	return NULL;
}

int image_pages_verify(struct image_pages *p)
{
	struct verify_job j = { .p = p, .bad = p->n_chunks };

	if (p->version == 1)
		return verify_v1(p);
	pthread_mutex_init(&j.lock, NULL);
	/* a few chunks are not worth a thread */
	md_parallel(p->n_chunks < 16 ? 1 : md_cpus(4), verify_main, &j);
	pthread_mutex_destroy(&j.lock);
	if (j.bad == p->n_chunks)
		return 0;
	if (j.err)
		return j.err == -ENOMEM ? log_err(j.err, "cannot read image '%s'", p->name) : read_error(p, j.err);
	return img_invalid(p->name, "checksum mismatch in chunk %u", j.bad);
}

const uint8_t *image_pages_raw(const struct image_pages *p, uint64_t off, size_t len)
{
	if (!p->map || p->codec || off > p->data_size || len > p->data_size - off)
		return NULL;
	/* raw chunks follow the header back to back (versions 1 and 2) */
	return p->map + MD_PAGES_HEADER_SIZE + off;
}

int image_pages_open(int dirfd, const char *name, uint64_t expect_pages, bool verify, struct image_pages **ret)
{
	struct image_pages *p;
	uint8_t hdr[MD_PAGES_HEADER_SIZE];
	struct img_header h;
	struct stat st;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	snprintf(p->name, sizeof(p->name), "%s", name);
	r = img_open(dirfd, name, &p->fd, &st);
	if (r < 0)
		goto fail;
	r = pread_all(p->fd, hdr, sizeof(hdr), 0);
	if (r == -ENODATA)
		r = pread_all(p->fd, hdr, (size_t)st.st_size < sizeof(hdr) ? (size_t)st.st_size : sizeof(hdr), 0);
	if (r < 0) {
		r = log_err(r, "cannot read image '%s'", name);
		goto fail;
	}
	r = img_header_check(name, hdr, (size_t)st.st_size < sizeof(hdr) ? (size_t)st.st_size : sizeof(hdr),
			     st.st_size, MD_IMG_PAGES, &h);
	if (r < 0)
		goto fail;
	p->version = h.version;
	p->codec = file_codec(h.flags);
	r = h.version == 1 ? v1_chunks(p, &h) : read_index(p, hdr, &h);
	if (r < 0)
		goto fail;
	if (expect_pages != MD_PAGES_ANY &&
	    (expect_pages > UINT64_MAX / MD_PAGE_SIZE || p->data_size != expect_pages * MD_PAGE_SIZE)) {
		r = img_invalid(name, "holds %llu bytes of data, the pagemap says %llu pages",
				(unsigned long long)p->data_size, (unsigned long long)expect_pages);
		goto fail;
	}
	/* checked above: the chunks lie inside the file (without a mapping: pread) */
	if (p->off[p->n_chunks] > MD_PAGES_HEADER_SIZE) {
		void *m = mmap(NULL, p->off[p->n_chunks], PROT_READ, MAP_SHARED, p->fd, 0);

		if (m != MAP_FAILED)
			p->map = m;
	}
	if (verify) {
		r = image_pages_verify(p);
		if (r < 0)
			goto fail;
	}
	*ret = p;
	return 0;
fail:
	image_pages_close(p);
	return r;
}

void image_pages_info(const struct image_pages *p, struct image_pages_stat *ret)
{
	ret->data_size = p->data_size;
	ret->stored_size = p->off[p->n_chunks] - MD_PAGES_HEADER_SIZE;
	ret->n_chunks = p->n_chunks;
	ret->codec = p->codec;
	ret->chunk_hashes = p->version >= 2;
}

int image_pages_cursor_new(struct image_pages_cursor **ret)
{
	struct image_pages_cursor *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->data = malloc(MD_PAGES_CHUNK);
	if (!c->data) {
		image_pages_cursor_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void image_pages_cursor_free(struct image_pages_cursor *c)
{
	if (!c)
		return;
	ZSTD_freeDCtx(c->dctx);
	free(c->stored);
	free(c->data);
	free(c);
}

static void image_pages_cursor_freep(struct image_pages_cursor **c)
{
	image_pages_cursor_free(*c);
}

int image_pages_load(struct image_pages *p, struct image_pages_cursor *c, uint32_t chunk, bool check,
		     const uint8_t **data, size_t *len)
{
	size_t dl, sl;
	uint8_t *in;
	int r;

	if (chunk >= p->n_chunks)
		return log_err(-EINVAL, "image '%s' has no chunk %u", p->name, chunk);
	dl = chunk_data_len(p, chunk);
	if (c->p == p && c->chunk == chunk && (c->checked || !check)) {
		*data = c->data;
		*len = c->len;
		return 0;
	}
	c->p = NULL;
	/* what only a compressed file needs, made for the first */
	if ((p->codec && !c->stored && !(c->stored = malloc(stored_bound_any()))) ||
	    (p->codec == MD_CODEC_ZSTD && !c->dctx && !(c->dctx = ZSTD_createDCtx())))
		return log_err(-ENOMEM, "cannot read image '%s'", p->name);
	sl = p->off[chunk + 1] - p->off[chunk];
	in = p->codec ? c->stored : c->data;
	r = pread_all(p->fd, in, sl, p->off[chunk]);
	if (r < 0)
		return read_error(p, r);
	if (check && p->version >= 2 && XXH3_64bits(in, sl) != p->hash[chunk])
		return img_invalid(p->name, "checksum mismatch in chunk %u", chunk);
	if (p->codec == MD_CODEC_ZSTD) {
		size_t n = ZSTD_decompressDCtx(c->dctx, c->data, MD_PAGES_CHUNK, in, sl);

		if (ZSTD_isError(n))
			return img_invalid(p->name, "chunk %u: %s", chunk, ZSTD_getErrorName(n));
		if (n != dl)
			return img_invalid(p->name, "chunk %u holds %zu bytes, expected %zu", chunk, n, dl);
	} else if (p->codec == MD_CODEC_LZ4) {
		/* LZ4 knows no length: a block that does not fill dl exactly is corrupt */
		int n = LZ4_decompress_safe((const char *)in, (char *)c->data, (int)sl, (int)dl);

		if (n < 0)
			return img_invalid(p->name, "chunk %u: corrupt lz4 block", chunk);
		if ((size_t)n != dl)
			return img_invalid(p->name, "chunk %u holds %d bytes, expected %zu", chunk, n, dl);
	}
	c->p = p;
	c->chunk = chunk;
	c->len = dl;
	c->checked = check;
	*data = c->data;
	*len = dl;
	return 0;
}

int image_pages_read(struct image_pages *p, struct image_pages_cursor *c, uint64_t off, void *buf, size_t len)
{
	_cleanup_(image_pages_cursor_freep) struct image_pages_cursor *own = NULL;
	uint8_t *dst = buf;

	if (off > p->data_size || len > p->data_size - off)
		return log_err(-EINVAL, "image '%s': read past its %llu bytes of data", p->name,
			       (unsigned long long)p->data_size);
	while (len) {
		uint32_t chunk = (uint32_t)(off / MD_PAGES_CHUNK);	/* < n_chunks: off < data_size */
		size_t in = off % MD_PAGES_CHUNK, k, clen;
		const uint8_t *data;
		int r;

		/* raw data needs no staging */
		if (!p->codec) {
			k = MD_PAGES_CHUNK - in < len ? MD_PAGES_CHUNK - in : len;
			r = pread_all(p->fd, dst, k, p->off[chunk] + in);
			if (r < 0)
				return read_error(p, r);
		} else {
			if (!c && image_pages_cursor_new(&own) < 0)
				return log_err(-ENOMEM, "cannot read image '%s'", p->name);
			if (!c)
				c = own;
			r = image_pages_load(p, c, chunk, false, &data, &clen);
			if (r < 0)
				return r;
			k = clen - in < len ? clen - in : len;
			memcpy(dst, data + in, k);
		}
		dst += k;
		off += k;
		len -= k;
	}
	return 0;
}

int image_pages_fd(const struct image_pages *p)
{
	return p->fd;
}
