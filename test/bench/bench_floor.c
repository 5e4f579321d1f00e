/*
 * bench_floor: the floor a dumper is measured against. One thread reads
 * /proc/PID/pagemap for every private writable mapping, copies the present
 * pages with process_vm_readv in 4 MiB chunks and write()s them to OUT.
 * No freezing, no metadata, no zero-page detection beyond "present".
 * Prints the bytes copied.
 *
 * Usage: bench_floor PID OUT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK (4u << 20)
#define PG 4096ULL

static char buf[CHUNK];
static struct iovec riov[CHUNK / PG];

int main(int argc, char **argv)
{
	char path[64], line[512];
	unsigned long long total = 0;
	int pid, pm, out;
	FILE *maps;

	if (argc != 3)
		return 2;
	pid = atoi(argv[1]);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm = open(path, O_RDONLY);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (!maps || pm < 0 || out < 0)
		return 1;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long s, e;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) != 3 || perms[1] != 'w' || perms[3] != 'p')
			continue;
		for (unsigned long long a = s; a < e; a += CHUNK) {
			unsigned long long end = a + CHUNK < e ? a + CHUNK : e, n = (end - a) / PG;
			uint64_t ent[CHUNK / PG];
			size_t nr = 0, used = 0;
			struct iovec l;

			if (pread(pm, ent, n * 8, (off_t)(a / PG * 8)) != (ssize_t)(n * 8))
				break;
			for (unsigned long long i = 0; i < n; i++)
				if (ent[i] >> 63) {
					riov[nr].iov_base = (void *)(a + i * PG);
					riov[nr].iov_len = PG;
					nr++;
					used += PG;
				}
			if (!nr)
				continue;
			l.iov_base = buf;
			l.iov_len = used;
			if (process_vm_readv(pid, &l, 1, riov, nr, 0) != (ssize_t)used)
				return 1;
			if (write(out, buf, used) != (ssize_t)used)
				return 1;
			total += used;
		}
	}
	printf("%llu\n", total);
	return 0;
}
