/*
 * Pages files: the pipelined writer (raw, zstd and lz4), the index and chunk
 * checks of the reader, reading data back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/hash.h"
#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_pages, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* Writes n synthetic pages in uneven pieces (the writer must not care), stored as c says. */
static void write_pages_as(const char *name, uint64_t n, struct md_compress c)
{
	struct image_pages_writer *w;
	uint8_t *buf = malloc(n * 4096 + 1);
	size_t off = 0, step = 1000;

	for (uint64_t i = 0; i < n; i++)
		synth_page(buf + i * 4096, i);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(image_pages_compress(w, c), 0);
	while (off < n * 4096) {
		size_t l = n * 4096 - off < step ? n * 4096 - off : step;

		cr_assert_eq(image_pages_write(w, buf + off, l), 0);
		off += l;
		step = step * 3 + 1;
	}
	cr_assert_eq(image_pages_finish(w), 0);
	free(buf);
}

/* zstd at level (0: raw) */
static void write_pages_level(const char *name, uint64_t n, int level)
{
	write_pages_as(name, n, md_zstd(level));
}

static void write_pages(const char *name, uint64_t n)
{
	write_pages_level(name, n, 0);
}

static const struct md_compress lz4 = { MD_CODEC_LZ4, 0 };

/* Every page of an open file against synth_page(), through a cursor and in odd slices. */
static void check_pages(struct image_pages *p, uint64_t n)
{
	struct image_pages_cursor *c;
	uint8_t *got = malloc(n * 4096 + 1), want[4096];
	uint64_t off = 0, step = 4096;

	cr_assert_eq(image_pages_cursor_new(&c), 0);
	while (off < n * 4096) {
		uint64_t l = n * 4096 - off < step ? n * 4096 - off : step;

		cr_assert_eq(image_pages_read(p, c, off, got + off, l), 0);
		off += l;
		step = step * 5 + 4096;
	}
	for (uint64_t i = 0; i < n; i++) {
		synth_page(want, i);
		cr_assert_eq(memcmp(got + i * 4096, want, 4096), 0, "page %llu differs", (unsigned long long)i);
	}
	/* nothing past the data */
	cr_assert_eq(image_pages_read(p, c, n * 4096, got, 4096), -EINVAL);
	image_pages_cursor_free(c);
	free(got);
}

static void flip(const char *name, off_t at)
{
	flip_bits(name, at, 0x40);
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
	struct image_pages_stat st;
	struct image_pages *p;
	uint8_t page[4096], want[4096];

	/* more than one chunk, the last one partial */
	write_pages("pages-1.img", 600);
	cr_assert_eq(image_pages_open(dirfd, "pages-1.img", 600, true, &p), 0);
	image_pages_info(p, &st);
	cr_assert_eq(st.data_size, 600 * 4096);
	cr_assert_eq(st.stored_size, 600 * 4096);
	cr_assert_eq(st.n_chunks, 3);
	cr_assert(st.codec == MD_CODEC_NONE && st.chunk_hashes);
	check_pages(p, 600);
	/* raw data is page aligned where restore may pread it */
	for (uint64_t i = 0; i < 600; i += 37) {
		cr_assert_eq(pread(image_pages_fd(p), page, 4096, MD_PAGES_HEADER_SIZE + i * 4096), 4096);
		synth_page(want, i);
		cr_assert_eq(memcmp(page, want, 4096), 0, "page %llu differs", (unsigned long long)i);
	}
	image_pages_close(p);
}

/*
 * n pages written as c says read back the same, from a file of that codec
 * whose stored size is under data / den
 */
static void roundtrip(const char *name, uint64_t n, struct md_compress c, uint64_t den)
{
	struct image_pages_stat st;
	struct image_pages *p;

	write_pages_as(name, n, c);
	cr_assert_eq(image_pages_open(dirfd, name, n, true, &p), 0);
	image_pages_info(p, &st);
	cr_assert_eq(st.codec, c.codec);
	cr_assert_eq(st.n_chunks, (n * 4096 + MD_PAGES_CHUNK - 1) / MD_PAGES_CHUNK);
	cr_assert_lt(st.stored_size, st.data_size / den, "synthetic pages compress: %llu of %llu",
		     (unsigned long long)st.stored_size, (unsigned long long)st.data_size);
	check_pages(p, n);
	image_pages_close(p);
}

/* enough for every compressor thread and several slots, with a partial last chunk */
Test(image_pages, zstd_roundtrip_same_data)
{
	roundtrip("pages-11.img", 5000, md_zstd(3), 4);
}

/* zstd's fast levels (--compress=zstd:-N) are frames like any other */
Test(image_pages, zstd_fast_level_roundtrip)
{
	roundtrip("pages-15.img", 700, md_zstd(-5), 1);
}

/* lz4: blocks of their own */
Test(image_pages, lz4_roundtrip_same_data)
{
	roundtrip("pages-16.img", 5000, lz4, 2);
}

Test(image_pages, empty_file)
{
	struct image_pages *p;

	write_pages("pages-2.img", 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-2.img", 0, true, &p), 0);
	image_pages_close(p);
	write_pages_level("pages-12.img", 0, 1);
	cr_assert_eq(image_pages_open(dirfd, "pages-12.img", 0, true, &p), 0);
	image_pages_close(p);
	write_pages_as("pages-17.img", 0, lz4);
	cr_assert_eq(image_pages_open(dirfd, "pages-17.img", 0, true, &p), 0);
	image_pages_close(p);
}

Test(image_pages, wrong_page_count_refused)
{
	struct image_pages *p;

	write_pages("pages-3.img", 4);
	cr_assert_eq(image_pages_open(dirfd, "pages-3.img", 5, false, &p), -EINVAL);
	cr_assert_eq(image_pages_open(dirfd, "pages-3.img", 3, false, &p), -EINVAL);
}

Test(image_pages, file_size_mismatch_refused)
{
	struct image_pages *p;
	int wfd;

	write_pages("pages-4.img", 4);
	wfd = openat(dirfd, "pages-4.img", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(wfd, 0);
	cr_assert_eq(ftruncate(wfd, MD_PAGES_HEADER_SIZE + 3 * 4096), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4.img", 4, false, &p), -EINVAL);
	cr_assert_eq(ftruncate(wfd, MD_PAGES_HEADER_SIZE + 5 * 4096), 0);
	cr_assert_eq(image_pages_open(dirfd, "pages-4.img", 4, false, &p), -EINVAL);
	close(wfd);
}

Test(image_pages, flipped_data_refused_when_verifying_or_loading)
{
	struct image_pages_cursor *c;
	struct image_pages *p;
	const uint8_t *data;
	size_t len;

	write_pages("pages-5.img", 300);
	flip("pages-5.img", MD_PAGES_HEADER_SIZE + 280 * 4096 + 17);
	cr_assert_eq(image_pages_open(dirfd, "pages-5.img", 300, true, &p), -EINVAL);
	/* the index is fine: a lazy reader opens it and finds the bad chunk when it loads it */
	cr_assert_eq(image_pages_open(dirfd, "pages-5.img", 300, false, &p), 0);
	cr_assert_eq(image_pages_cursor_new(&c), 0);
	cr_assert_eq(image_pages_load(p, c, 0, true, &data, &len), 0);
	cr_assert_eq(len, MD_PAGES_CHUNK);
	cr_assert_eq(image_pages_load(p, c, 1, true, &data, &len), -EINVAL);
	cr_assert_eq(image_pages_verify(p), -EINVAL);
	image_pages_cursor_free(c);
	image_pages_close(p);
}

Test(image_pages, flipped_frame_refused)
{
	struct image_pages_cursor *c;
	struct image_pages *p;
	const uint8_t *data;
	size_t len;

	write_pages_level("pages-13.img", 600, 1);
	flip("pages-13.img", MD_PAGES_HEADER_SIZE + 40);
	cr_assert_eq(image_pages_open(dirfd, "pages-13.img", 600, true, &p), -EINVAL);
	cr_assert_eq(image_pages_open(dirfd, "pages-13.img", 600, false, &p), 0);
	cr_assert_eq(image_pages_cursor_new(&c), 0);
	/* the index's hash catches it; the frame has no checksum of its own for an unchecked load */
	cr_assert_eq(image_pages_load(p, c, 0, true, &data, &len), -EINVAL);
	cr_assert_eq(image_pages_load(p, c, 2, true, &data, &len), 0);
	cr_assert_eq(len, 600 * 4096 - 2 * MD_PAGES_CHUNK);
	image_pages_cursor_free(c);
	image_pages_close(p);
}

/* garbage: no codec's frame or block starts so */
static void make_garbage(uint8_t *block, uint32_t len)
{
	memset(block, 0xff, len);
}

/*
 * A valid LZ4 block of exactly len bytes: one run of literals (a token,
 * its length's extension bytes, the literals), decompressing to fewer
 * bytes than len, thus never to a full chunk's.
 */
static void make_short_lz4(uint8_t *block, uint32_t len)
{
	uint32_t n = len - 1, ext, at = 0;

	/* the literals' count n and its extension bytes fill len exactly */
	for (;; n--) {
		ext = n >= 15 ? (n - 15) / 255 + 1 : 0;
		if (1 + ext + n == len)
			break;
		cr_assert_gt(n, 15);
	}
	block[at++] = n >= 15 ? 0xf0 : (uint8_t)(n << 4);
	for (uint32_t left = n - 15; n >= 15; left -= 255) {
		block[at++] = (uint8_t)(left >= 255 ? 255 : left);
		if (left < 255)
			break;
	}
	memset(block + at, 'x', n);
	cr_assert_eq(at + n, len);
}

/*
 * Replaces chunk 0 of a compressed file with what make() makes of it, in its
 * length, and gives the index (and the header's checksum of it) that block's
 * hash: only the decompressor can tell.
 */
static void replace_chunk0_rehashed(const char *name, void (*make)(uint8_t *, uint32_t))
{
	int wfd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
	uint8_t hdr[64], ent[16], *junk, *idx;
	uint64_t index_off, n, payload;
	uint32_t len;

	cr_assert_geq(wfd, 0);
	cr_assert_eq(pread(wfd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	memcpy(&payload, hdr + 16, 8);
	memcpy(&n, hdr + 52, 4);
	n &= 0xffffffffu;
	memcpy(&index_off, hdr + 56, 8);
	cr_assert_eq(pread(wfd, ent, sizeof(ent), (off_t)index_off), (ssize_t)sizeof(ent));
	memcpy(&len, ent + 8, 4);
	junk = malloc(len);
	cr_assert_eq(pread(wfd, junk, len, MD_PAGES_HEADER_SIZE), (ssize_t)len);
	make(junk, len);
	cr_assert_eq(pwrite(wfd, junk, len, MD_PAGES_HEADER_SIZE), (ssize_t)len);
	{
		uint64_t h = XXH3_64bits(junk, len);

		memcpy(ent, &h, 8);
	}
	cr_assert_eq(pwrite(wfd, ent, 8, (off_t)index_off), 8);
	idx = malloc(n * 16);
	cr_assert_eq(pread(wfd, idx, n * 16, (off_t)index_off), (ssize_t)(n * 16));
	{
		uint64_t h = XXH3_64bits(idx, n * 16);

		cr_assert_eq(MD_PAGES_HEADER_SIZE + payload, index_off + n * 16);
		cr_assert_eq(pwrite(wfd, &h, 8, 24), 8);
	}
	free(idx);
	free(junk);
	close(wfd);
}

/*
 * name, 600 pages stored as c, with chunk 0 replaced by make's bytes and
 * hashed to match: the file opens, chunk 0 is refused whether checked or
 * not, and chunk 1 still loads whole.
 */
static void expect_chunk0_refused(const char *name, struct md_compress c, void (*make)(uint8_t *, uint32_t))
{
	struct image_pages_cursor *cur;
	struct image_pages *p;
	const uint8_t *data;
	size_t len;

	write_pages_as(name, 600, c);
	replace_chunk0_rehashed(name, make);
	cr_assert_eq(image_pages_open(dirfd, name, 600, true, &p), 0);
	cr_assert_eq(image_pages_cursor_new(&cur), 0);
	cr_assert_eq(image_pages_load(p, cur, 0, true, &data, &len), -EINVAL);
	cr_assert_eq(image_pages_load(p, cur, 0, false, &data, &len), -EINVAL);
	cr_assert_eq(image_pages_load(p, cur, 1, true, &data, &len), 0);
	cr_assert_eq(len, MD_PAGES_CHUNK);
	image_pages_cursor_free(cur);
	image_pages_close(p);
}

/* A block that passes its hash but is not LZ4 is refused, not read. */
Test(image_pages, lz4_bad_block_refused)
{
	struct image_pages *p;

	write_pages_as("pages-18.img", 600, lz4);
	flip("pages-18.img", MD_PAGES_HEADER_SIZE + 40);
	cr_assert_eq(image_pages_open(dirfd, "pages-18.img", 600, true, &p), -EINVAL);
	expect_chunk0_refused("pages-18.img", lz4, make_garbage);
}

/* LZ4 records no length: a valid block that fills less than its chunk is refused */
Test(image_pages, lz4_short_block_refused)
{
	expect_chunk0_refused("pages-20.img", lz4, make_short_lz4);
}

/* zstd's frame checksum is not what refuses garbage that passes the chunk's hash */
Test(image_pages, zstd_bad_frame_refused)
{
	expect_chunk0_refused("pages-19.img", md_zstd(1), make_garbage);
}

/* Frame_Header_Descriptor, after the 4-byte magic: bit 2 is zstd's Content_Checksum_flag */
static bool chunk0_has_checksum(int fd)
{
	uint8_t frame[5];

	cr_assert_eq(pread(fd, frame, sizeof(frame), MD_PAGES_HEADER_SIZE), (ssize_t)sizeof(frame));
	cr_assert_eq(frame[0] | frame[1] << 8 | frame[2] << 16 | (uint32_t)frame[3] << 24, 0xFD2FB528u);
	return frame[4] & 0x04;
}

/* The index's hash of each stored chunk covers a frame: zstd's XXH64 of its content would only cost time. */
Test(image_pages, zstd_frames_without_checksum)
{
	int fd;

	write_pages_level("pages-21.img", 600, 1);
	fd = openat(dirfd, "pages-21.img", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_not(chunk0_has_checksum(fd));
	close(fd);
}

/* the last byte of a zstd frame with a content checksum: of that checksum */
static void flip_last_byte(uint8_t *block, uint32_t len)
{
	block[len - 1] ^= 0x01;
}

/* An older memdump's frames have zstd's checksum: it is still checked, with the index's hash made to match. */
Test(image_pages, zstd_older_frame_checksum_checked)
{
	static const char name[] = "pages-shm-778.img";
	struct image_pages_cursor *cur;
	struct image_pages *p;
	const uint8_t *data;
	uint8_t buf[65536];
	ssize_t n;
	size_t len;
	int in = open(GOLDEN_DIR "/v2/pages-shm-778.img", O_RDONLY | O_CLOEXEC);
	int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	cr_assert(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	close(out);
	in = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	cr_assert(chunk0_has_checksum(in));
	close(in);
	replace_chunk0_rehashed(name, flip_last_byte);
	cr_assert_eq(image_pages_open(dirfd, name, 3, true, &p), 0);
	cr_assert_eq(image_pages_cursor_new(&cur), 0);
	cr_assert_eq(image_pages_load(p, cur, 0, true, &data, &len), -EINVAL);
	cr_assert_eq(image_pages_load(p, cur, 0, false, &data, &len), -EINVAL);
	/* put back, it loads */
	image_pages_cursor_free(cur);
	image_pages_close(p);
	replace_chunk0_rehashed(name, flip_last_byte);
	cr_assert_eq(image_pages_open(dirfd, name, 3, true, &p), 0);
	cr_assert_eq(image_pages_cursor_new(&cur), 0);
	cr_assert_eq(image_pages_load(p, cur, 0, true, &data, &len), 0);
	cr_assert_eq(len, 3 * 4096);
	image_pages_cursor_free(cur);
	image_pages_close(p);
}

Test(image_pages, bad_index_or_header_refused)
{
	struct image_pages *p;
	struct stat st;

	write_pages_level("pages-14.img", 600, 1);
	cr_assert_eq(fstatat(dirfd, "pages-14.img", &st, 0), 0);
	/* a chunk's stored length, in the index */
	flip("pages-14.img", st.st_size - 16 + 8);
	cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), -EINVAL);
	flip("pages-14.img", st.st_size - 16 + 8);
	cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), 0);
	image_pages_close(p);
	/* the data size, the chunk size, the number of chunks, the index offset */
	for (off_t at = 40; at < 64; at += 8) {
		flip("pages-14.img", at + 1);
		cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), -EINVAL, "field at %d",
			     (int)at);
		flip("pages-14.img", at + 1);
	}
	/* an unknown flag */
	flip("pages-14.img", 36 + 2);
	cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), -EINVAL);
	flip("pages-14.img", 36 + 2);
	cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), 0);
	image_pages_close(p);
	/* zstd and lz4 at once (the file is zstd: flags 3, and 4 added) */
	flip_bits("pages-14.img", 36, MD_PAGES_F_LZ4);
	cr_assert_eq(image_pages_open(dirfd, "pages-14.img", 600, false, &p), -EINVAL);
}

Test(image_pages, aborted_file_refused)
{
	struct image_pages_writer *w;
	struct image_pages *p;
	uint8_t page[4096];

	synth_page(page, 1);
	cr_assert_eq(image_pages_create(dirfd, "pages-6.img", &w), 0);
	cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	image_pages_abort(w);
	cr_assert_eq(image_pages_open(dirfd, "pages-6.img", 1, false, &p), -EINVAL);
}

Test(image_pages, partial_page_refused_by_writer)
{
	struct image_pages_writer *w;
	struct image_pages *p;
	uint8_t half[2048] = {1};

	cr_assert_eq(image_pages_create(dirfd, "pages-7.img", &w), 0);
	cr_assert_eq(image_pages_write(w, half, sizeof(half)), 0);
	cr_assert_eq(image_pages_finish(w), -EINVAL);
	/* Nothing that could pass for an image is left behind. */
	cr_assert_eq(image_pages_open(dirfd, "pages-7.img", 0, false, &p), -ENOENT);
}

Test(image_pages, bad_level_refused)
{
	struct image_pages_writer *w;
	uint8_t page[4096] = {0};

	cr_assert_eq(image_pages_create(dirfd, "pages-9.img", &w), 0);
	cr_assert_eq(image_pages_compress(w, md_zstd(MD_ZSTD_MIN_LEVEL - 1)), -EINVAL);
	cr_assert_eq(image_pages_compress(w, md_zstd(MD_ZSTD_MAX_LEVEL + 1)), -EINVAL);
	cr_assert_eq(image_pages_compress(w, md_zstd(1000)), -EINVAL);
	cr_assert_eq(image_pages_compress(w, ((struct md_compress){ MD_CODEC_ZSTD, 0 })), -EINVAL);
	cr_assert_eq(image_pages_compress(w, ((struct md_compress){ MD_CODEC_LZ4, 1 })), -EINVAL);
	cr_assert_eq(image_pages_compress(w, ((struct md_compress){ (enum md_codec)7, 0 })), -EINVAL);
	cr_assert(image_compress_valid(md_zstd(0)));	/* none */
	cr_assert(image_compress_valid(md_zstd(-1)));
	cr_assert(image_compress_valid(md_zstd(MD_ZSTD_MIN_LEVEL)));
	cr_assert(image_compress_valid(md_zstd(MD_ZSTD_MAX_LEVEL)));
	cr_assert(image_compress_valid(lz4));
	cr_assert_eq(image_pages_write(w, page, sizeof(page)), 0);
	/* not once data went in */
	cr_assert_eq(image_pages_compress(w, md_zstd(1)), -EINVAL);
	cr_assert_eq(image_pages_compress(w, lz4), -EINVAL);
	image_pages_abort(w);
}

Test(image_pages, metadata_file_is_not_pages)
{
	struct md_pagemap pm = {0};
	struct image_pages *p;

	cr_assert_eq(image_write_pagemap(dirfd, 8, &pm), 0);
	cr_assert_eq(image_pages_open(dirfd, "pagemap-8.img", 0, true, &p), -EINVAL);
}
