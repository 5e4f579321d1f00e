/*
 * bench_heap: a benchmark target. Maps SIZE_MIB of anonymous memory, fills
 * the first half with random bytes and leaves the second half untouched;
 * then, in mappings of their own, 64 MiB of repetitive log-like text
 * (compressible, but not zero) and 16 MiB advised MADV_HUGEPAGE, 2 MiB
 * aligned and written, so that it is THP-backed where the kernel can.
 * Writes "READY" to STATUS and sleeps until killed. Whether the THP region
 * really got huge pages is for the caller to check (AnonHugePages).
 *
 * Usage: bench_heap SIZE_MIB STATUS
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEXT_SIZE (64UL << 20)
#define THP_SIZE (16UL << 20)
#define THP_ALIGN (2UL << 20)

/* xorshift64: incompressible, cheap */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Lines as a server log has them: a few templates, a counter, small numbers
 * that vary. Compresses well (zstd several times over) without being a
 * run of one byte that any scheme squeezes to nothing.
 */
static int fill_text(char *p, size_t size)
{
	static const char *const path[] = { "/api/v1/items", "/api/v1/users", "/healthz", "/static/app.js" };
	static const char *const lvl[] = { "INFO", "INFO", "INFO", "WARN", "DEBUG" };
	size_t off = 0;
	uint64_t x = 0x2545f4914f6cdd1dULL;

	for (unsigned long n = 0; off < size; n++) {
		char line[192];
		uint64_t r = next_rand(&x);
		int len = snprintf(line, sizeof(line),
				   "2026-11-23T%02lu:%02lu:%02lu.%03lu Z %-5s [worker-%lu] req=%lu GET %s/%lu "
				   "status=%d bytes=%lu ms=%lu\n",
				   n / 3600000 % 24, n / 60000 % 60, n / 1000 % 60, n % 1000, lvl[r % 5],
				   (unsigned long)(r >> 8) % 8, n, path[(r >> 12) % 4], n % 5000,
				   (r >> 16) % 16 ? 200 : 404, (unsigned long)(r >> 20) % 9000 + 100,
				   (unsigned long)(r >> 40) % 250);

		if (len < 0)
			return -1;
		if ((size_t)len > size - off)
			len = (int)(size - off);
		memcpy(p + off, line, (size_t)len);
		off += (size_t)len;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t size;
	uint64_t *p, *h, x = 0x9e3779b97f4a7c15ULL;
	uintptr_t a;
	char *text;
	FILE *f;

	if (argc != 3)
		return 2;
	/* an inherited pipe would make us undumpable */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	size = (size_t)atol(argv[1]) << 20;
	p = map_anon(size);
	if (!p)
		return 1;
	for (size_t i = 0; i < size / 2 / sizeof(*p); i++)
		p[i] = next_rand(&x);

	text = map_anon(TEXT_SIZE);
	if (!text || fill_text(text, TEXT_SIZE) < 0)
		return 1;

	/* a huge page needs a 2 MiB aligned 2 MiB range inside one VMA */
	h = map_anon(THP_SIZE + THP_ALIGN);
	if (!h)
		return 1;
	a = ((uintptr_t)h + THP_ALIGN - 1) & ~(THP_ALIGN - 1);
	if (madvise((void *)a, THP_SIZE, MADV_HUGEPAGE) < 0)
		return 1;
	h = (uint64_t *)a;
	for (size_t i = 0; i < THP_SIZE / sizeof(*h); i++)
		h[i] = next_rand(&x);

	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fputs("READY\n", f);
	fclose(f);
	for (;;)
		pause();
}
