/*
 * bench_floor: the floor a dumper is measured against. One thread reads
 * /proc/PID/pagemap for every private mapping and copies the present,
 * anonymous, non-zero pages (what memdump must copy: not page-cache pages
 * of private file mappings, not the shared zero page) with
 * process_vm_readv() in 4 MiB chunks, write()ing each chunk to OUT.
 * No freezing, no metadata, no fsync. Prints the bytes copied.
 *
 * A chunk is written 1 MiB per write(), as memdump writes its images: a
 * write of 2 MiB or more at an aligned offset makes the page cache
 * allocate 2 MiB folios, and on a VM with free page reporting (this
 * Firecracker one) free 2 MiB blocks are the ones handed back to the host:
 * every page of them then costs a host fault. 4 MiB writes take 0.4 to
 * 1.7 s for 592 MiB here, 1 MiB writes 0.13 s.
 *
 * Mappings process_vm_readv() cannot read are left out: unreadable ones
 * (PROT_NONE holds no data in our targets) and the kernel's [vvar],
 * [vdso] and [vsyscall]. Needs root: without CAP_SYS_ADMIN pagemap hides
 * PFNs, and the zero page could not be told from data.
 *
 * Usage: bench_floor PID OUT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PG 4096ULL
#define CHUNK (4u << 20)		/* bytes per process_vm_readv() */
#define WRITE_SIZE (1u << 20)		/* bytes per write() */
#define PM_BATCH (64 * 1024)		/* pagemap entries per pread(): 256 MiB of address space */
#define PM_PRESENT (1ULL << 63)
#define PM_FILE (1ULL << 61)		/* page-cache (or shared anonymous) page */
#define PM_PFN_MASK ((1ULL << 55) - 1)

struct copier {
	pid_t pid;
	int out;
	char *buf;
	size_t used;			/* bytes the iovecs below cover */
	struct iovec riov[IOV_MAX];
	int nr;
	unsigned long long total;
};

/* read the pages gathered so far into buf and write them out */
static int flush(struct copier *c)
{
	struct iovec l = { c->buf, c->used };

	if (!c->used)
		return 0;
	if (process_vm_readv(c->pid, &l, 1, c->riov, c->nr, 0) != (ssize_t)c->used) {
		perror("bench_floor: process_vm_readv");
		return -1;
	}
	for (size_t off = 0; off < c->used; off += WRITE_SIZE) {
		size_t len = c->used - off < WRITE_SIZE ? c->used - off : WRITE_SIZE;

		if (write(c->out, c->buf + off, len) != (ssize_t)len) {
			perror("bench_floor: write");
			return -1;
		}
	}
	c->total += c->used;
	c->used = 0;
	c->nr = 0;
	return 0;
}

static int add_page(struct copier *c, unsigned long long addr)
{
	struct iovec *last = c->nr ? &c->riov[c->nr - 1] : NULL;

	if (last && (char *)last->iov_base + last->iov_len == (char *)addr) {
		last->iov_len += PG;
	} else {
		if (c->nr == IOV_MAX && flush(c) < 0)
			return -1;
		c->riov[c->nr].iov_base = (void *)addr;
		c->riov[c->nr].iov_len = PG;
		c->nr++;
	}
	c->used += PG;
	return c->used == CHUNK ? flush(c) : 0;
}

/*
 * Reading untouched private anonymous memory maps the shared zero page:
 * two read-touched pages with the same PFN can only be it (as memdump's
 * kfeat probe finds it).
 */
static uint64_t zero_pfn(void)
{
	volatile char *m = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e[2] = { 0, 0 };
	int fd;

	if (m == MAP_FAILED)
		return 0;
	(void)m[0];
	(void)m[PG];
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, e, sizeof(e), (off_t)((uintptr_t)m / PG * 8)) != sizeof(e))
			e[0] = e[1] = 0;
		close(fd);
	}
	munmap((void *)m, 2 * PG);
	return (e[0] & PM_PFN_MASK) == (e[1] & PM_PFN_MASK) ? e[0] & PM_PFN_MASK : 0;
}

static int copy_range(struct copier *c, int pm, unsigned long long s, unsigned long long e, uint64_t zpfn)
{
	static uint64_t ent[PM_BATCH];

	for (unsigned long long a = s; a < e; a += PM_BATCH * PG) {
		unsigned long long n = (e - a) / PG < PM_BATCH ? (e - a) / PG : PM_BATCH;

		if (pread(pm, ent, n * 8, (off_t)(a / PG * 8)) != (ssize_t)(n * 8)) {
			perror("bench_floor: pagemap");
			return -1;
		}
		for (unsigned long long i = 0; i < n; i++) {
			uint64_t v = ent[i];

			if (!(v & PM_PRESENT) || (v & PM_FILE) || (v & PM_PFN_MASK) == zpfn)
				continue;
			if (add_page(c, a + i * PG) < 0)
				return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct copier c;
	char path[64], *line = NULL;
	size_t cap = 0;
	uint64_t zpfn;
	FILE *maps;
	int pm;

	if (argc != 3) {
		fputs("usage: bench_floor PID OUT\n", stderr);
		return 2;
	}
	zpfn = zero_pfn();
	if (!zpfn) {
		fputs("bench_floor: no PFNs in pagemap (not root?)\n", stderr);
		return 1;
	}
	c.pid = atoi(argv[1]);
	snprintf(path, sizeof(path), "/proc/%d/maps", c.pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", c.pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	c.out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	c.buf = malloc(CHUNK);
	if (!maps || pm < 0 || c.out < 0 || !c.buf) {
		perror("bench_floor");
		return 1;
	}
	while (getline(&line, &cap, maps) > 0) {
		unsigned long long s, e;
		char perms[8];
		int name = 0;

		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &s, &e, perms, &name) != 3)
			continue;
		if (perms[0] != 'r' || perms[3] != 'p' || (name && !strncmp(line + name, "[v", 2)))
			continue;
		if (copy_range(&c, pm, s, e, zpfn) < 0)
			return 1;
	}
	if (flush(&c) < 0)
		return 1;
	printf("%llu\n", c.total);
	return 0;
}
