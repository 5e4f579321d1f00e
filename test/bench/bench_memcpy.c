/*
 * bench_memcpy: memcpy bandwidth baseline for scripts/bench.sh. Copies
 * SIZE_MIB between two pre-faulted buffers three times and prints the best
 * time in seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t size = (size_t)atol(argc > 1 ? argv[1] : "1024") << 20;
	char *a = malloc(size), *b = malloc(size);
	double best = 1e9;

	if (!a || !b)
		return 1;
	memset(a, 1, size);
	memset(b, 2, size);
	for (int i = 0; i < 3; i++) {
		double t = now();

		memcpy(b, a, size);
		t = now() - t;
		if (t < best)
			best = t;
	}
	printf("%.4f %d\n", best, b[size / 2]);
	return 0;
}
