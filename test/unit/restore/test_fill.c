/*
 * restore_fill(): the same memory, dumped uncompressed, with zstd and with
 * lz4, restored into live processes from each image must come back with
 * the same bytes, whether chunks are checked as they are read (lazy) or
 * were checked when opened (raw data then comes straight from the file's
 * mapping), and whether pages go in by process_vm_writev() or by
 * UFFDIO_COPY.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "compat/userfaultfd.h"
#include "memdump/image.h"
#include "memdump/model.h"
#include "restore/internal.h"

#define PG 4096UL
/* 7 MiB and a bit: several chunks, and a last one not full */
#define DATA_PAGES 1800UL
/* the pages file's data goes to two regions, in pieces not in file order */
#define R1_PAGES 1100UL
#define R2_PAGES 700UL

static char dir[PATH_MAX];
static int dirfd = -1;
static uint8_t *data;		/* what the image holds */

/* random, repeated text and zero pages, as a real heap: zstd must not store it raw */
static void make_data(void)
{
	static const char text[] = "GET /api/v1/items?id=%d 200 OK user=ada latency_ms=12\n";
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	data = malloc(DATA_PAGES * PG);
	cr_assert_not_null(data);
	for (size_t i = 0; i < DATA_PAGES; i++) {
		uint8_t *p = data + i * PG;

		if (i % 3 == 0) {
			for (size_t k = 0; k < PG; k += 8) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				memcpy(p + k, &x, 8);
			}
		} else if (i % 3 == 1) {
			for (size_t k = 0; k < PG; k++)
				p[k] = (uint8_t)text[(k + i) % (sizeof(text) - 1)];
		} else {
			memset(p, 0, PG);
		}
	}
}

static void write_image(const char *name, struct md_compress c)
{
	struct image_pages_writer *w;
	size_t off = 0, step = 5000;

	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(image_pages_compress(w, c), 0);
	while (off < DATA_PAGES * PG) {
		size_t l = DATA_PAGES * PG - off < step ? DATA_PAGES * PG - off : step;

		cr_assert_eq(image_pages_write(w, data + off, l), 0);
		off += l;
		step = step * 2 + 4096;
	}
	cr_assert_eq(image_pages_finish(w), 0);
}

static void setup(void)
{
	char t[] = "/tmp/md-fill-XXXXXX";

	cr_assert_not_null(mkdtemp(t));
	snprintf(dir, sizeof(dir), "%s", t);
	cr_assert_eq(image_dir_open(dir, false, &dirfd), 0);
	make_data();
	write_image("pages-1.img", md_zstd(0));
	write_image("pages-2.img", md_zstd(1));
	write_image("pages-3.img", (struct md_compress){ MD_CODEC_LZ4, 0 });
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	free(data);
	if (dirfd >= 0)
		close(dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(restore_fill, .init = setup, .fini = teardown);

/*
 * A process whose two regions (untouched: zeroes) wait at r1 and r2 to be
 * filled. With uffd, it registers both with a userfaultfd of its own,
 * which we take (t.uffd), after touching one page of r1: UFFDIO_COPY finds
 * that one there.
 */
struct target {
	pid_t pid;
	uint8_t *r1, *r2;
	int uffd;
};

#define TOUCHED_PAGE 5

static int child_uffd(const struct target *t)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0)
		return -1;
	t->r1[TOUCHED_PAGE * PG] = 0xab;
	for (int i = 0; i < 2; i++) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)(i ? t->r2 : t->r1), (i ? R2_PAGES : R1_PAGES) * PG },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
			return -1;
	}
	return fd;
}

static void stop_target(struct target *t);

static struct target start_target(bool uffd)
{
	struct target t = { .uffd = -1 };
	pid_t me = getpid();
	int pfd[2], fd;

	t.r1 = mmap(NULL, R1_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t.r2 = mmap(NULL, R2_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(t.r1 != MAP_FAILED && t.r2 != MAP_FAILED);
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	t.pid = fork();
	cr_assert_geq(t.pid, 0);
	if (t.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* the test may have ended before prctl(): then nobody would kill us */
		if (getppid() != me)
			_exit(0);
		fd = uffd ? child_uffd(&t) : 0;
		if (write(pfd[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], &fd, sizeof(fd)), (ssize_t)sizeof(fd));
	close(pfd[0]);
	if (uffd) {
		int pidfd = md_pidfd_open(t.pid);

		if (fd < 0) {
			stop_target(&t);
			cr_skip_test("the target could not register a userfaultfd: UFFDIO_COPY not tested");
		}
		cr_assert_geq(pidfd, 0);
		t.uffd = md_pidfd_getfd(pidfd, fd);
		cr_assert_geq(t.uffd, 0);
		close(pidfd);
	}
	/* ours stay untouched; the child has its own copies of the mappings */
	return t;
}

static void stop_target(struct target *t)
{
	if (t->uffd >= 0)
		close(t->uffd);
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	munmap(t->r1, R1_PAGES * PG);
	munmap(t->r2, R2_PAGES * PG);
}

/*
 * Where each page of the file goes: r2 gets file pages [0, 700), r1 gets
 * [700, 1800) starting 300 pages in and wrapping to its start, so pieces
 * begin and end inside chunks and the sources are not in address order.
 */
static size_t sources(const struct target *t, struct image_pages *p, struct restore_src *s)
{
	s[0] = (struct restore_src){ (uintptr_t)t->r2, R2_PAGES, p, 0 };
	s[1] = (struct restore_src){ (uintptr_t)t->r1 + 300 * PG, R1_PAGES - 300, p, R2_PAGES * PG };
	s[2] = (struct restore_src){ (uintptr_t)t->r1, 300, p, (R2_PAGES + R1_PAGES - 300) * PG };
	return 3;
}

static void read_target(const struct target *t, uint8_t *r1, uint8_t *r2)
{
	struct iovec l[2] = { { r1, R1_PAGES * PG }, { r2, R2_PAGES * PG } };
	struct iovec r[2] = { { t->r1, R1_PAGES * PG }, { t->r2, R2_PAGES * PG } };

	cr_assert_eq(process_vm_readv(t->pid, l, 2, r, 2, 0), (ssize_t)((R1_PAGES + R2_PAGES) * PG));
}

/* Restore the image name into a new target; its regions' bytes into r1 and r2. */
static void restore_into(const char *name, bool check, bool uffd, uint8_t *r1, uint8_t *r2)
{
	struct target t = start_target(uffd);
	struct restore_src src[3];
	struct restore_pieces ps;
	struct image_pages *p;
	uint64_t copied = 1;

	/* check at open (restore), or chunk by chunk as read (lazy) */
	cr_assert_eq(image_pages_open(dirfd, name, DATA_PAGES, !check, &p), 0);
	cr_assert_eq(restore_pieces(src, sources(&t, p, src), NULL, NULL, &ps), 0);
	cr_assert_eq(restore_fill(t.pid, t.uffd, &ps, check, &copied), 0);
	/* all but the page found there by UFFDIO_COPY (it counts only what it placed) */
	cr_expect_eq(copied, t.uffd >= 0 ? (DATA_PAGES - 1) * PG : 0, "%llu bytes by UFFDIO_COPY",
		     (unsigned long long)copied);
	read_target(&t, r1, r2);
	free(ps.pc);
	image_pages_close(p);
	stop_target(&t);
}

static void expect_data(const uint8_t *r1, const uint8_t *r2)
{
	cr_expect_eq(memcmp(r2, data, R2_PAGES * PG), 0, "the second region differs");
	cr_expect_eq(memcmp(r1 + 300 * PG, data + R2_PAGES * PG, (R1_PAGES - 300) * PG), 0,
		     "the first region differs after its 300th page");
	cr_expect_eq(memcmp(r1, data + (R2_PAGES + R1_PAGES - 300) * PG, 300 * PG), 0,
		     "the first region's first 300 pages differ");
}

Test(restore_fill, compressed_and_raw_restore_the_same_bytes)
{
	static const char *const names[] = { "pages-1.img", "pages-2.img", "pages-3.img" };
	static const enum md_codec codecs[] = { MD_CODEC_NONE, MD_CODEC_ZSTD, MD_CODEC_LZ4 };
	struct image_pages_stat st[3];
	struct image_pages *p;
	uint8_t *raw[2], *z[2];

	/* the files really differ: one raw, one zstd, one lz4 */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(image_pages_open(dirfd, names[i], DATA_PAGES, true, &p), 0);
		image_pages_info(p, &st[i]);
		image_pages_close(p);
		cr_assert_eq(st[i].codec, codecs[i], "%s", names[i]);
	}
	cr_assert_lt(st[1].stored_size, st[0].stored_size * 3 / 4);
	cr_assert_lt(st[2].stored_size, st[0].stored_size * 3 / 4);

	for (int check = 0; check < 2; check++) {
		for (int k = 1; k < 3; k++) {
			bool uffd = k == 2;	/* once each way, lz4 by UFFDIO_COPY */

			for (int i = 0; i < 2; i++) {
				raw[i] = malloc(R1_PAGES * PG + R2_PAGES * PG);
				z[i] = malloc(R1_PAGES * PG + R2_PAGES * PG);
				cr_assert(raw[i] && z[i]);
			}
			restore_into(names[0], check, !uffd, raw[0], raw[1]);
			restore_into(names[k], check, uffd, z[0], z[1]);
			cr_expect_eq(memcmp(raw[0], z[0], R1_PAGES * PG), 0, "%s, check=%d: first regions differ",
				     names[k], check);
			cr_expect_eq(memcmp(raw[1], z[1], R2_PAGES * PG), 0, "%s, check=%d: second regions differ",
				     names[k], check);
			expect_data(raw[0], raw[1]);
			for (int i = 0; i < 2; i++) {
				free(raw[i]);
				free(z[i]);
			}
		}
	}
}

/* the raw file cannot be checked chunk by chunk once a byte changed: the fill fails */
Test(restore_fill, checked_fill_refuses_a_changed_chunk)
{
	struct target t;
	struct restore_src src[3];
	struct restore_pieces ps;
	struct image_pages *p;
	int fd = openat(dirfd, "pages-1.img", O_RDWR);
	uint8_t b;

	cr_assert_geq(fd, 0);
	/* a byte of chunk 3's data */
	cr_assert_eq(pread(fd, &b, 1, MD_PAGES_HEADER_SIZE + 3 * MD_PAGES_CHUNK + 77), 1);
	b ^= 0x40;
	cr_assert_eq(pwrite(fd, &b, 1, MD_PAGES_HEADER_SIZE + 3 * MD_PAGES_CHUNK + 77), 1);
	close(fd);

	t = start_target(false);
	cr_assert_eq(image_pages_open(dirfd, "pages-1.img", DATA_PAGES, false, &p), 0);
	cr_assert_eq(restore_pieces(src, sources(&t, p, src), NULL, NULL, &ps), 0);
	cr_expect_lt(restore_fill(t.pid, -1, &ps, true, NULL), 0);
	free(ps.pc);
	image_pages_close(p);
	stop_target(&t);
	/* and a check at open finds it too */
	cr_expect_lt(image_pages_open(dirfd, "pages-1.img", DATA_PAGES, true, &p), 0);
}
