/*
 * Page data into a new process. The sources of its pages (parent.c) are cut
 * into pieces that each lie in one chunk of one pages file, and grouped by
 * chunk; threads take the groups in turn, read or decompress the chunk once
 * and write its pieces with one process_vm_writev(), or with UFFDIO_COPY
 * where the caller registered the pieces' VMAs with a userfaultfd (mm.c):
 * the kernel then allocates each page and copies into it, instead of
 * faulting in a zeroed page to copy over. Chunks are independent (zstd
 * frames or LZ4 blocks of their own), so decompression runs on every
 * thread. The lazy restore (lazy.c) serves the same pieces through
 * userfaultfd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "compat/userfaultfd.h"

#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/parallel.h"
#include "memdump/progress.h"
#include "restore/internal.h"

#define MAX_FILL_THREADS 4
#define GROUP_IOV 512		/* pieces per process_vm_writev(): a chunk holds at most 256 pages */

static int cmp_piece(const void *a, const void *b)
{
	const struct restore_piece *x = a, *y = b;

	if (x->p != y->p)
		return (uintptr_t)x->p < (uintptr_t)y->p ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

int restore_pieces(const struct restore_src *src, size_t n, bool (*want)(const struct restore_src *, void *),
		   void *arg, struct restore_pieces *ret)
{
	struct restore_pieces ps = { 0 };
	size_t cap = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t off = src[i].off, addr = src[i].vaddr, left = src[i].nr_pages * MD_PAGE_SIZE;

		if (want && !want(&src[i], arg))
			continue;
		while (left) {
			uint64_t k = MD_PAGES_CHUNK - off % MD_PAGES_CHUNK;

			if (k > left)
				k = left;
			if (ps.n == cap) {
				size_t nc = cap ? 2 * cap : 256;
				struct restore_piece *a = realloc(ps.pc, nc * sizeof(*a));

				if (!a) {
					free(ps.pc);
					return -ENOMEM;
				}
				ps.pc = a;
				cap = nc;
			}
			ps.pc[ps.n++] = (struct restore_piece){ src[i].p, off, addr, k };
			off += k;
			addr += k;
			left -= k;
		}
	}
	if (ps.n)
		qsort(ps.pc, ps.n, sizeof(*ps.pc), cmp_piece);
	*ret = ps;
	return 0;
}

size_t restore_group_len(const struct restore_piece *pc, size_t n)
{
	size_t k = 1;

	while (k < n && pc[k].p == pc[0].p && pc[k].off / MD_PAGES_CHUNK == pc[0].off / MD_PAGES_CHUNK)
		k++;
	return k;
}

int restore_load_group(const struct restore_piece *pc, size_t n, struct image_pages_cursor *c, uint8_t *buf,
		       bool check, const uint8_t **base, uint64_t *base_off)
{
	struct image_pages_stat st;
	uint64_t lo = pc[0].off, hi = pc[n - 1].off + pc[n - 1].len;
	size_t len;
	int r;

	image_pages_info(pc[0].p, &st);
	/* raw data already checked: in place if mapped, or read only the span the pieces need */
	if (!st.codec && !(check && st.chunk_hashes)) {
		*base = image_pages_raw(pc[0].p, lo, hi - lo);
		*base_off = lo;
		if (*base)
			return 1;
		r = image_pages_read(pc[0].p, NULL, lo, buf, hi - lo);
		*base = buf;
		*base_off = lo;
		return r;
	}
	*base_off = lo - lo % MD_PAGES_CHUNK;
	return image_pages_load(pc[0].p, c, (uint32_t)(lo / MD_PAGES_CHUNK), check, base, &len);
}

/* One group's pieces into pid; a short write (it stops at a remote iovec's end) goes on after it. */
static int write_group(pid_t pid, const struct restore_piece *pc, size_t n, const uint8_t *base, uint64_t base_off)
{
	struct iovec l[GROUP_IOV], rv[GROUP_IOV];

	for (size_t i = 0; i < n; i += GROUP_IOV) {
		size_t m = n - i < GROUP_IOV ? n - i : GROUP_IOV, total = 0, first = 0;

		for (size_t k = 0; k < m; k++) {
			l[k] = (struct iovec){ (void *)(base + (pc[i + k].off - base_off)), pc[i + k].len };
			rv[k] = (struct iovec){ (void *)pc[i + k].addr, pc[i + k].len };
			total += pc[i + k].len;
		}
		while (total) {
			ssize_t w = process_vm_writev(pid, l + first, m - first, rv + first, m - first, 0);

			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			total -= (size_t)w;
			while (w) {
				size_t k = (size_t)w < rv[first].iov_len ? (size_t)w : rv[first].iov_len;

				l[first].iov_base = (uint8_t *)l[first].iov_base + k;
				l[first].iov_len -= k;
				rv[first].iov_base = (uint8_t *)rv[first].iov_base + k;
				rv[first].iov_len -= k;
				w -= (ssize_t)k;
				if (!rv[first].iov_len)
					first++;
			}
		}
	}
	return 0;
}

/*
 * UFFDIO_COPY of each piece into VMAs registered (missing mode) on uffd.
 * Each page must be missing: one that is there already (EEXIST) could only
 * hold something else, so it goes in by process_vm_writev() instead.
 */
static int copy_group(pid_t pid, int uffd, const struct restore_piece *pc, size_t n, const uint8_t *base,
		      uint64_t base_off, uint64_t *copied)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *src = base + (pc[i].off - base_off);
		uint64_t dst = pc[i].addr, left = pc[i].len;

		while (left) {
			struct uffdio_copy c = { .dst = dst, .src = (uint64_t)(uintptr_t)src, .len = left };
			uint64_t k;

			if (ioctl(uffd, UFFDIO_COPY, &c) == 0) {
				k = left;
				*copied += k;
			} else if (c.copy > 0) {
				k = (uint64_t)c.copy;
				*copied += k;
			} else if (errno == EINTR || errno == EAGAIN) {
				continue;
			} else if (errno == EEXIST) {
				struct restore_piece one = { pc[i].p, pc[i].off + (pc[i].len - left), dst, MD_PAGE_SIZE };
				int r = write_group(pid, &one, 1, base, base_off);

				if (r < 0)
					return r;
				k = MD_PAGE_SIZE;
			} else {
				return -errno;
			}
			dst += k;
			src += k;
			left -= k;
		}
	}
	return 0;
}

struct fill_job {
	pid_t pid;
	int uffd;
	bool check;
	const struct restore_piece *pc;
	size_t n;
	pthread_mutex_t lock;
	size_t next;		/* first piece of the next group nobody took */
	int err;
	uint64_t copied;	/* by UFFDIO_COPY, bytes */
};

static void *fill_main(void *arg)
{
	struct fill_job *j = arg;
	struct image_pages_cursor *c = NULL;
	uint8_t *buf = malloc(MD_PAGES_CHUNK);
	int r = buf ? image_pages_cursor_new(&c) : -ENOMEM;
	uint64_t copied = 0;

	for (;;) {
		const uint8_t *base;
		uint64_t base_off;
		size_t at, len;

		pthread_mutex_lock(&j->lock);
		if (r < 0 && !j->err)
			j->err = r;
		at = j->next;
		len = at < j->n && !j->err ? restore_group_len(j->pc + at, j->n - at) : 0;
		j->next += len;
		pthread_mutex_unlock(&j->lock);
		if (!len)
			break;
		r = restore_load_group(j->pc + at, len, c, buf, j->check, &base, &base_off);
		if (r >= 0) {
			bool mapped = r > 0;

			r = j->uffd >= 0 ? copy_group(j->pid, j->uffd, j->pc + at, len, base, base_off, &copied)
					 : write_group(j->pid, j->pc + at, len, base, base_off);
			if (mapped)
				image_pages_raw_done(j->pc[at].p, base_off,
						     j->pc[at + len - 1].off + j->pc[at + len - 1].len - base_off);
		}
		if (r >= 0) {
			uint64_t bytes = 0;

			for (size_t k = 0; k < len; k++)
				bytes += j->pc[at + k].len;
			progress_add(bytes);
		}
	}
	pthread_mutex_lock(&j->lock);
	j->copied += copied;
	pthread_mutex_unlock(&j->lock);
	image_pages_cursor_free(c);
	free(buf);
	return NULL;
}

int restore_fill(pid_t pid, int uffd, const struct restore_pieces *ps, bool check, uint64_t *copied)
{
	struct fill_job j = { .pid = pid, .uffd = uffd, .check = check, .pc = ps->pc, .n = ps->n };

	pthread_mutex_init(&j.lock, NULL);
	/* a few chunks are not worth a thread */
	md_parallel(ps->n < 16 ? 1 : md_cpus(MAX_FILL_THREADS), fill_main, &j);
	pthread_mutex_destroy(&j.lock);
	if (copied)
		*copied = j.copied;
	return j.err;
}
