/*
 * dumpee_sysv: a parent P and a child C sharing SysV shared memory, for
 * test/e2e/run.sh.
 *
 *   A  keyed segment (key 0x4d44 << 16 | pid), 4 pages + 100 bytes, page 3
 *      never written (a hole), mode 0640:
 *      P attaches it whole (rw), pages 1-2 of it read-only (an attach
 *      whose first and last pages were unmapped), and whole once more,
 *      split in three VMAs by mprotect() of page 1; C inherits all three
 *      and attaches it whole once more on its own.
 *   B  private 64 MiB segment with three pages written, removed (IPC_RMID)
 *      while P and C keep it attached.
 *
 * Modes: -m wait (default) writes "READY P C ID_A ID_B KEY_A" to STATUS and
 * waits for SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks
 * one thing first (content, private, partial, rmid, nattch), and the check
 * must notice. The check, after a restore:
 *   - every attach is at its old address, with its size, offset, name
 *     (/SYSV<key>), id (inode) and access (a read-only attach lacks "mw");
 *   - the bytes are there in every attach, in both processes;
 *   - the memory is shared: P writes, C sees it through its own attach and
 *     the read-only one, C writes into B, P sees it;
 *   - IPC_STAT: A has its key, mode and 11 attaches; B is still removed,
 *     with 2 attaches;
 *   - the split attach is still one: shmdt() of its first page detaches
 *     all three pieces.
 * P writes "OK" or "FAIL: <process>: <what>" to STATUS, removes A, exits.
 *
 * -m take KEY makes an 8 KiB segment with KEY (ipcmk cannot choose keys),
 * prints its id and exits; -m scribble ID writes 0xff over every page of
 * segment ID.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define PG 4096UL
#define A_SIZE (4 * PG + 100)
#define A_PAGES 5
#define A_HOLE (3 * PG)		/* one page nobody wrote */
#define B_SIZE (64UL << 20)
#define B_RESULT (4000 * PG)	/* where C leaves its verdict for P */
#define A_NATTCH 11		/* P: 1 + 1 + 3 (split), C: the same + its own */
#define A_NATTCH_P 5
#define B_NATTCH 2

static const uint64_t b_pages[] = { 0, 100, B_SIZE / PG - 1 };

static const char *status_path, *corrupt_what;
static volatile sig_atomic_t got_usr1;
static int id_a, id_b;
static key_t key_a;
static uint8_t *a_rw, *a_ro, *b_rw, *c_own;	/* a_ro: pages 1-2 of a read-only attach */
static uint8_t *a_split;			/* an attach split by mprotect() of its page 1 */
static bool is_child;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void die_setup(const char *what)
{
	fprintf(stderr, "dumpee_sysv: %s: %s\n", what, strerror(errno));
	if (id_a > 0)
		shmctl(id_a, IPC_RMID, NULL);
	exit(2);
}

static uint8_t pattern(uint64_t off, int seed)
{
	if (seed == 'A' && off >= A_HOLE && off < A_HOLE + PG)
		return 0;
	return (uint8_t)((off * 131 + (off >> 12) * 7 + (unsigned)seed) ^ 0x5a);
}

static char verdict[512];

static bool failf(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (verdict[0])
		return false;
	n = snprintf(verdict, sizeof(verdict), "FAIL: %s: ", is_child ? "C" : "P");
	va_start(ap, fmt);
	vsnprintf(verdict + n, sizeof(verdict) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* the maps line starting at addr: its end, offset, access and inode; false if none */
static bool find_vma(const void *addr, unsigned long *end, unsigned long *pgoff, char perms[5], unsigned long *ino,
		     char *name, size_t namelen, bool *may_write)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool found = false, in = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, off, inode;
		char p[5], path[256] = "";

		if (sscanf(line, "%lx-%lx %4s %lx %*s %lu %255[^\n]", &s, &e, p, &off, &inode, path) >= 5) {
			in = s == (unsigned long)addr;
			if (in) {
				found = true;
				*end = e;
				*pgoff = off;
				*ino = inode;
				memcpy(perms, p, 5);
				snprintf(name, namelen, "%s", path);
			}
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8))
			*may_write = strstr(line, " mw") != NULL;
	}
	fclose(f);
	return found;
}

/* may_write: attached without SHM_RDONLY ("mw"), whatever mprotect() made of it since */
static bool check_attach(const char *what, const void *addr, unsigned long len, unsigned long pgoff, int id,
			 key_t key, const char *perms, bool may_write)
{
	unsigned long end, off, ino;
	char p[5], name[256], want[32];
	bool mw = false;

	if (!find_vma(addr, &end, &off, p, &ino, name, sizeof(name), &mw))
		return failf("%s: no mapping at %p", what, addr);
	snprintf(want, sizeof(want), "/SYSV%08x (deleted)", (unsigned)key);
	if (end - (unsigned long)addr != len || off != pgoff || ino != (unsigned long)id || strcmp(p, perms) ||
	    strcmp(name, want) || mw != may_write)
		return failf("%s: %p-%#lx %s off %#lx inode %lu '%s'%s; want %#lx long, %s off %#lx inode %d '%s'",
			     what, addr, end, p, off, ino, name, mw ? " mw" : "", len, perms, pgoff, id, want);
	return true;
}

static bool check_bytes(const char *what, const uint8_t *m, uint64_t from, uint64_t to, int seed)
{
	for (uint64_t off = from; off < to; off++) {
		uint8_t want = pattern(off, seed);

		/* P's write after the restore, checked on its own */
		if (off >= 2 * PG && off < 2 * PG + 8)
			continue;
		if (m[off - from] != want)
			return failf("%s: byte %#lx is %#x, want %#x", what, (unsigned long)off, m[off - from], want);
	}
	return true;
}

static bool check_stat(int id, const char *what, key_t key, unsigned mode, unsigned long nattch, bool removed)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds) < 0)
		return failf("%s: IPC_STAT: %s", what, strerror(errno));
	if (ds.shm_perm.__key != key || (ds.shm_perm.mode & 0777) != mode || ds.shm_nattch != nattch ||
	    !!(ds.shm_perm.mode & SHM_DEST) != removed)
		return failf("%s: key 0x%x mode %o nattch %lu; want key 0x%x mode %o%s nattch %lu", what,
			     (unsigned)ds.shm_perm.__key, ds.shm_perm.mode, (unsigned long)ds.shm_nattch, (unsigned)key,
			     mode, removed ? " +SHM_DEST" : "", nattch);
	return true;
}

/* what both processes check: their attaches and the bytes in them */
static bool check_common(void)
{
	if (!check_attach("A", a_rw, A_PAGES * PG, 0, id_a, key_a, "rw-s", true) ||
	    !check_attach("A split, first piece", a_split, PG, 0, id_a, key_a, "rw-s", true) ||
	    !check_attach("A split, second piece", a_split + PG, PG, PG, id_a, key_a, "r--s", true) ||
	    !check_attach("A split, third piece", a_split + 2 * PG, (A_PAGES - 2) * PG, 2 * PG, id_a, key_a, "rw-s", true) ||
	    !check_attach("A read-only part", a_ro, 2 * PG, PG, id_a, key_a, "r--s", false) ||
	    !check_attach("B", b_rw, B_SIZE, 0, id_b, 0, "rw-s", true))
		return false;
	if (!check_bytes("A", a_rw, 0, A_SIZE, 'A') || !check_bytes("A read-only part", a_ro, PG, 3 * PG, 'A'))
		return false;
	for (uint64_t off = A_SIZE; off < A_PAGES * PG; off++)
		if (a_rw[off])
			return failf("A: byte %#lx past the end is %#x", (unsigned long)off, a_rw[off]);
	for (size_t i = 0; i < sizeof(b_pages) / sizeof(b_pages[0]); i++)
		if (!check_bytes("B", b_rw + b_pages[i] * PG, b_pages[i] * PG, (b_pages[i] + 1) * PG, 'B'))
			return false;
	for (uint64_t pg = 1; pg < 64; pg++)
		if (b_rw[pg * PG + 17] && pg != 100)
			return failf("B: page %lu is not zero", (unsigned long)pg);
	return true;
}

static void write_status(const char *s)
{
	int fd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) < 0 || write(fd, "\n", 1) < 0)
		exit(3);
	close(fd);
}

static void wait_usr1(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!got_usr1)
		sigsuspend(&none);
}

/* C: inherited attaches plus its own; checks when P says so, leaves its verdict in B */
static void child_main(void)
{
	bool ok;

	is_child = true;
	c_own = shmat(id_a, NULL, 0);
	if (c_own == (void *)-1)
		_exit(2);
	wait_usr1();
	ok = check_common() && check_attach("A (C's own)", c_own, A_PAGES * PG, 0, id_a, key_a, "rw-s", true);
	/* P wrote this just before telling us: one segment, seen through every attach */
	if (ok && (memcmp(c_own + 2 * PG, "P-AFTER", 8) || memcmp(a_ro + PG, "P-AFTER", 8)))
		ok = failf("A: P's write is not seen through C's attaches");
	if (ok)
		memcpy(b_rw + B_RESULT, "C-OK", 5);
	else
		snprintf((char *)b_rw + B_RESULT, PG, "%s", verdict);
	_exit(ok ? 0 : 1);
}

static void corrupt(pid_t c)
{
	if (!strcmp(corrupt_what, "content")) {
		a_rw[PG + 5] ^= 1;
	} else if (!strcmp(corrupt_what, "private")) {
		/* A in P as a private copy: same bytes, no longer shared */
		uint8_t copy[A_PAGES * PG];

		memcpy(copy, a_rw, sizeof(copy));
		if (mmap(a_rw, sizeof(copy), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			die_setup("mmap");
		memcpy(a_rw, copy, sizeof(copy));
	} else if (!strcmp(corrupt_what, "partial")) {
		/* the read-only part attached whole instead */
		munmap(a_ro, 2 * PG);
		if (shmat(id_a, a_ro - PG, SHM_RDONLY | SHM_REMAP) == (void *)-1)
			die_setup("shmat");
	} else if (!strcmp(corrupt_what, "rmid")) {
		shmctl(id_a, IPC_RMID, NULL);
	} else if (!strcmp(corrupt_what, "split")) {
		/*
		 * The same three pieces from two attaches, as a restore attaching
		 * each VMA on its own would make them: maps cannot tell, shmdt() can.
		 */
		uint8_t *x;

		munmap(a_split, A_PAGES * PG);
		if (shmat(id_a, a_split, 0) != a_split || munmap(a_split, 2 * PG) < 0)
			die_setup("shmat");
		x = shmat(id_a, NULL, 0);
		if (x == (void *)-1 || mremap(x, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a_split) != a_split ||
		    munmap(x, A_PAGES * PG) < 0 || mprotect(a_split + PG, PG, PROT_READ) < 0)
			die_setup("shmat");
	} else if (!strcmp(corrupt_what, "nattch")) {
		if (shmat(id_a, NULL, SHM_RDONLY) == (void *)-1)
			die_setup("shmat");
	}
	(void)c;
}

static int parent_check(pid_t c)
{
	int st;
	bool ok;

	if (corrupt_what)
		corrupt(c);
	ok = check_common() && check_stat(id_a, "A", key_a, 0640, A_NATTCH, false) &&
	     check_stat(id_b, "B", IPC_PRIVATE, 0600, B_NATTCH, true);
	memcpy(a_rw + 2 * PG, "P-AFTER", 8);
	kill(c, SIGUSR1);
	if (waitpid(c, &st, 0) != c)
		ok = failf("cannot wait for C: %s", strerror(errno));
	else if (ok && strcmp((char *)b_rw + B_RESULT, "C-OK"))
		ok = failf("C says: %.400s", b_rw[B_RESULT] ? (char *)b_rw + B_RESULT : "nothing");
	/* one attach in three pieces: shmdt() of its start takes them all */
	if (ok && check_stat(id_a, "A without C", key_a, 0640, A_NATTCH_P, false)) {
		unsigned long end, off, ino;
		char p[5], name[256];
		bool mw;

		if (shmdt(a_split) < 0)
			ok = failf("A split: shmdt: %s", strerror(errno));
		else if (find_vma(a_split + 2 * PG, &end, &off, p, &ino, name, sizeof(name), &mw))
			ok = failf("A split: shmdt() left its third piece mapped: not one attach");
		else
			ok = check_stat(id_a, "A after shmdt", key_a, 0640, A_NATTCH_P - 3, false);
	} else {
		ok = false;
	}
	shmctl(id_a, IPC_RMID, NULL);
	write_status(ok ? "OK" : verdict);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	const char *mode = "wait";
	char ready[128];
	uint8_t *ro;
	pid_t c;
	int opt;

	syscall(SYS_close_range, 3U, ~0U, 0U);
	while ((opt = getopt(argc, argv, "m:c:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 'c')
			corrupt_what = optarg;
		else
			return 2;
	}
	if (argc - optind != 1 || (strcmp(mode, "take") && strcmp(mode, "scribble") && argv[optind][0] != '/') ||
	    (strcmp(mode, "wait") && strcmp(mode, "selftest") && strcmp(mode, "corrupt") && strcmp(mode, "take") &&
	     strcmp(mode, "scribble")) ||
	    (!strcmp(mode, "corrupt")) != (corrupt_what != NULL)) {
		fprintf(stderr, "usage: dumpee_sysv [-m wait|selftest|corrupt -c WHAT] /STATUS | -m take KEY | -m scribble ID\n");
		return 2;
	}
	if (!strcmp(mode, "scribble")) {
		int id = atoi(argv[optind]);
		struct shmid_ds ds;
		uint8_t *m;

		if (shmctl(id, IPC_STAT, &ds) < 0 || (m = shmat(id, NULL, 0)) == (void *)-1)
			die_setup("shmat");
		memset(m, 0xff, (ds.shm_segsz + PG - 1) & ~(PG - 1));
		shmdt(m);
		return 0;
	}
	if (!strcmp(mode, "take")) {
		int id = shmget((key_t)strtoul(argv[optind], NULL, 0), 8192, IPC_CREAT | IPC_EXCL | 0600);

		if (id < 0)
			die_setup("shmget");
		printf("%d\n", id);
		return 0;
	}
	status_path = argv[optind];
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die_setup("sigaction");
	{
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
	}

	key_a = (key_t)(0x4d440000u | ((unsigned)getpid() & 0xffff));
	id_a = shmget(key_a, A_SIZE, IPC_CREAT | IPC_EXCL | 0640);
	if (id_a < 0)
		die_setup("shmget A");
	a_rw = shmat(id_a, NULL, 0);
	ro = shmat(id_a, NULL, SHM_RDONLY);
	if (a_rw == (void *)-1 || ro == (void *)-1)
		die_setup("shmat A");
	for (uint64_t off = 0; off < A_SIZE; off++)
		if (off < A_HOLE || off >= A_HOLE + PG)
			a_rw[off] = pattern(off, 'A');
	/* keep pages 1-2 of the read-only attach */
	if (munmap(ro, PG) < 0 || munmap(ro + 3 * PG, 2 * PG) < 0)
		die_setup("munmap");
	a_ro = ro + PG;
	a_split = shmat(id_a, NULL, 0);
	if (a_split == (void *)-1 || mprotect(a_split + PG, PG, PROT_READ) < 0)
		die_setup("shmat A split");

	id_b = shmget(IPC_PRIVATE, B_SIZE, IPC_CREAT | 0600);
	if (id_b < 0)
		die_setup("shmget B");
	b_rw = shmat(id_b, NULL, 0);
	shmctl(id_b, IPC_RMID, NULL);
	if (b_rw == (void *)-1)
		die_setup("shmat B");
	for (size_t i = 0; i < sizeof(b_pages) / sizeof(b_pages[0]); i++)
		for (uint64_t off = b_pages[i] * PG; off < (b_pages[i] + 1) * PG; off++)
			b_rw[off] = pattern(off, 'B');

	c = fork();
	if (c < 0)
		die_setup("fork");
	if (c == 0)
		child_main();
	/* C has its own attach once A counts 5 */
	for (int i = 0; i < 1000; i++) {
		struct shmid_ds ds;

		if (shmctl(id_a, IPC_STAT, &ds) == 0 && ds.shm_nattch == A_NATTCH)
			break;
		usleep(1000);
	}
	if (!strcmp(mode, "wait")) {
		snprintf(ready, sizeof(ready), "READY %d %d %d %d 0x%x", getpid(), c, id_a, id_b, (unsigned)key_a);
		write_status(ready);
		wait_usr1();
	}
	return parent_check(c);
}
