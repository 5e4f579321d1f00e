/*
 * bench_heap: a benchmark target. Maps SIZE_MIB of anonymous memory, fills
 * the first half with random bytes and leaves the second half untouched,
 * writes "READY" to STATUS and sleeps until killed.
 *
 * Usage: bench_heap SIZE_MIB STATUS
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size;
	uint64_t *p, x = 0x9e3779b97f4a7c15ULL;
	FILE *f;

	if (argc != 3)
		return 2;
	/* an inherited pipe would make us undumpable */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	size = (size_t)atol(argv[1]) << 20;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < size / 2 / sizeof(*p); i++) {
		/* xorshift64: incompressible, cheap */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fputs("READY\n", f);
	fclose(f);
	for (;;)
		pause();
}
