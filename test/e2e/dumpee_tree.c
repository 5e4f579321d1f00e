/*
 * dumpee_tree: an end-to-end dumpee that is a whole process tree. The root P forks
 *
 *	P ─┬─ C1 ── G	P leads its own process group; C1 rewrites the first 32 MiB of
 *	   │		the inherited heap; G is a grandchild
 *	   ├─ C2	its own process group (setpgid), PR_SET_PDEATHSIG SIGUSR2
 *	   ├─ C3	its own session (setsid), holds both ends of a pipe with data in it
 *	   └─ Z		exits at once with 42; P leaves it a zombie until the check
 *
 * with 2 threads in every live process, a 256 MiB private heap shared copy-on-write, a
 * shared anonymous region and a memfd written by everybody, and pipes with data in flight
 * (P -> C1 -> G). On SIGUSR1 P asks every process to check itself, collects the verdicts
 * and reports to STATUS.
 *
 * Usage: dumpee_tree [-m wait|selftest|corrupt] [-c WHAT] [-s] [-T SECS] STATUS DATADIR
 *   -m wait      (default) write "READY P C1 C2 C3 G Z" and "SWAP <kB>" to STATUS, then
 *                wait for SIGUSR1 (to P only) and check
 *   -m selftest  check right after setup, no dump involved: must report OK
 *   -m corrupt   break one thing (-c WHAT) and check: must report it; WHAT is one of
 *                heap (in P) heap-c1 shanon memfd pipe (A) pgid (C2) sid (G) ppid (G)
 *                zombie threads (P)
 *   -s           page half of the heap and of the shared region out to swap before forking
 *   -T SECS      give up (exit 3) when no SIGUSR1 arrives within SECS (default 300)
 * STATUS is replaced atomically; the final report is "OK" or lines "FAIL: <what>: <who>:
 * <detail>". Exit 0 on OK, 1 on FAIL, 2 on a setup error. The tree runs in DATADIR.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

#define HEAP_SIZE (256 * MiB)		/* private anonymous, filled by P before forking */
#define C1_REWRITE (32 * MiB)		/* C1 rewrites this much at the start: private to it */
#define SHANON_SIZE (4 * MiB)		/* MAP_SHARED|MAP_ANONYMOUS */
#define MEMFD_SIZE (4 * MiB)
#define SLOT_SIZE (64 * 1024)		/* each process's own slice of shanon and the memfd */
#define MEMFD_POS 12345			/* file position of the memfd's (shared) description */
#define EXIT_Z 42

/* fixed fd numbers: the restore must keep them, in the right process */
#define FD_MEMFD 20			/* every process: one description, inherited */
#define FD_A_R 30			/* pipe A: P writes, C1 reads (O_NONBLOCK) */
#define FD_A_W 31
#define FD_B_R 32			/* pipe B: C1 writes (FD_CLOEXEC), G reads */
#define FD_B_W 33
#define FD_C_R 34			/* pipe C: both ends in C3, write end O_NONBLOCK */
#define FD_C_W 35

#define A_LEN 3000			/* bytes in flight in each pipe at dump time */
#define B_LEN 2000
#define C_LEN 1000
#define POST_LEN 100			/* written into each pipe once the check starts */

#define SEED_HEAP_P 0x1001
#define SEED_HEAP_C1 0x1002
#define SEED_SHANON 0x2000		/* background of the region; slot i: SEED_SH_SLOT + i */
#define SEED_SH_SLOT 0x2100
#define SEED_MEMFD 0x3000
#define SEED_MFD_SLOT 0x3100
#define SEED_A 0x4001
#define SEED_B 0x4002
#define SEED_C 0x4003
#define SEED_POST 0x80			/* added to a pipe's seed for the post-check message */
#define MARK(gen, i) (0x4d41524b00000000ULL | (uint64_t)(gen) << 8 | (uint64_t)(i))

#define READY_TIMEOUT_MS 30000		/* setup of the whole tree */
#define VERDICT_TIMEOUT_MS 25000	/* P waits this long for the children's verdicts */
#define G_TIMEOUT_MS 15000		/* C1 waits this long for G's */
#define PIPE_TIMEOUT_MS 3000

enum { P, C1, C2, C3, G, Z, NPROC };
static const char *const names[NPROC] = { "P", "C1", "C2", "C3", "G", "Z" };

/* ---- state shared by the whole tree: the first slice of the shared anonymous region --- */

struct slot {
	volatile pid_t pid;
	volatile uint32_t done;		/* the check generation this process answered */
	volatile int nfail;
	char fail[4096];		/* its FAIL lines, or its setup error */
};

struct ctl {
	volatile uint32_t gen;		/* futex: P bumps it to ask everybody to check */
	volatile uint32_t ready;	/* children that finished their setup */
	volatile uint32_t setup_failed;
	struct slot slot[NPROC];
};
_Static_assert(sizeof(struct ctl) <= SLOT_SIZE, "the control block fits its slice");

static struct ctl *ctl;
static uint8_t *heap, *shanon, *memfd_map;

/* ---- what this process is and expects (set before the dump, compared after) ---------- */

static int me = P;
static pid_t pids[NPROC];		/* P knows all of them; a child its own and its parents' */
static pid_t root_pgid;			/* P's, inherited by C1 and G */
static pid_t expect_ppid, expect_pgid, expect_sid;
static int expect_pdeathsig;
static char cwd_expected[PATH_MAX];

struct fd_expect {
	int fd;
	int fl;				/* F_GETFL & FL_MASK */
	int cloexec;			/* F_GETFD & FD_CLOEXEC */
	char link[PATH_MAX];		/* readlink of /proc/self/fd/N: exact, or a prefix */
	bool prefix;
};
#define FL_MASK (O_ACCMODE | O_NONBLOCK | O_APPEND)
static struct fd_expect fds[8];
static int nfds;

static const char *status_path;
static const char *corrupt_what;	/* NULL unless -m corrupt */
static long timeout_s = 300;
static volatile sig_atomic_t got_usr1;

/* ---- result collection --------------------------------------------------------------- */

static char result[16384];
static size_t result_len;
static int nfail;

static void append_text(const char *s)
{
	size_t n = strlen(s), room = sizeof(result) - 1 - result_len;

	if (n > room)
		n = room;
	memcpy(result + result_len, s, n);
	result_len += n;
	result[result_len] = '\0';
}

/* One line "FAIL: WHAT: WHO: detail" */
static void failf(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(const char *what, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	nfail++;
	n = snprintf(line, sizeof(line), "FAIL: %s: %s: ", what, names[me]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	append_text(line);
}

/* Replace STATUS atomically so a reader never sees half a report. */
static int write_status(const char *text)
{
	char tmp[PATH_MAX + 32];
	size_t len = strlen(text), off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", status_path, getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -errno;
		}
		off += n;
	}
	close(fd);
	if (rename(tmp, status_path) < 0)
		return -errno;
	return 0;
}

/*
 * A setup error: P reports it to STATUS and exits; a child leaves it in its slot for P
 * (several writers of STATUS would race) and exits. The children die with P through
 * their parent-death signal, so nothing is left behind.
 */
static void die_setup(const char *what)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "FAIL: setup: %s: %s: %s\n", names[me], what, strerror(errno));
	fputs(buf, stderr);
	if (me == P) {
		write_status(buf);
		exit(2);
	}
	snprintf(ctl->slot[me].fail, sizeof(ctl->slot[me].fail), "%s", buf);
	__atomic_store_n(&ctl->setup_failed, 1, __ATOMIC_RELEASE);
	_exit(2);
}

/* ---- helpers -------------------------------------------------------------------------- */

static pid_t my_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static long futex(volatile uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* read() a whole /proc file into buf (NUL-terminated) */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

static void write_all_fd(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_setup("write");
		}
		p += n;
		len -= n;
	}
}

/* Move fd to a fixed number so the check can see the number survived. */
static void move_fd(int fd, int to)
{
	if (fd == to)
		return;
	if (dup3(fd, to, fcntl(fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0) < 0)
		die_setup("dup3");
	close(fd);
}

/* Numeric entries of a /proc directory (getdents64; skip the directory's own fd). */
static int list_dir(const char *path, int *out, int max)
{
	static char dbuf[8192];
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	long r;

	if (dfd < 0)
		return -errno;
	while ((r = syscall(SYS_getdents64, dfd, dbuf, sizeof(dbuf))) > 0) {
		for (long off = 0; off < r;) {
			struct dirent64 *d = (struct dirent64 *)(dbuf + off);
			int v = atoi(d->d_name);

			off += d->d_reclen;
			if (d->d_name[0] == '.' || (v == dfd && !strcmp(path, "/proc/self/fd")))
				continue;
			if (n < max)
				out[n++] = v;
		}
	}
	close(dfd);
	return n;
}

/* ---- patterns --------------------------------------------------------------------------- */

/* splitmix64 of the word index: fast, and a misplaced page or word cannot pass */
static inline uint64_t pat64(uint64_t seed, uint64_t word)
{
	uint64_t z = (seed << 40) + (word + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fill bytes [off, off + len) of a region (offsets multiples of 8, relative to its start). */
static void fill_range(uint8_t *base, size_t off, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)base;

	for (size_t i = off / 8; i < (off + len) / 8; i++)
		w[i] = pat64(seed, i);
}

static bool check_range(const char *what, const char *region, const uint8_t *base, size_t off,
			size_t len, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)base;

	for (size_t i = off / 8; i < (off + len) / 8; i++) {
		if (w[i] != pat64(seed, i)) {
			failf(what, "%s: 8 bytes at offset %#zx are %#018llx, expected %#018llx",
			      region, i * 8, (unsigned long long)w[i],
			      (unsigned long long)pat64(seed, i));
			return false;
		}
	}
	return true;
}

static void pattern_bytes(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(pat64(seed, k / 8) >> (k % 8 * 8));
}

static size_t slot_off(int i)
{
	return (size_t)(i + 1) * SLOT_SIZE;
}

/*
 * shanon and the memfd: [0, SLOT_SIZE) is not pattern (the control block, the check
 * markers), slot i of process i holds its own pattern, the rest P's background.
 */
static void check_layout(const char *what, const uint8_t *base, size_t size, uint64_t bg_seed,
			 uint64_t slot_seed)
{
	char region[64];
	size_t off = SLOT_SIZE;

	for (int i = 0; i < NPROC; i++) {
		check_range(what, what, base, off, slot_off(i) - off, bg_seed);
		snprintf(region, sizeof(region), "%s's slot", names[i]);
		check_range(what, region, base, slot_off(i), SLOT_SIZE, slot_seed + i);
		off = slot_off(i) + SLOT_SIZE;
	}
	check_range(what, what, base, off, size - off, bg_seed);
}

/* ---- the second thread of every process ------------------------------------------------- */

static pthread_t th;
static pid_t th_tid;
static volatile uint32_t th_ping;	/* futex: the main thread bumps it to ask for a sign */
static volatile uint32_t th_pong;	/* the thread copies th_ping here */
static volatile int th_stop;

/* Blocked in FUTEX_WAIT with no timeout (so at dump time too) until pinged. */
static void *second_thread(void *arg)
{
	(void)arg;
	__atomic_store_n(&th_tid, my_gettid(), __ATOMIC_RELEASE);
	for (;;) {
		uint32_t ping = __atomic_load_n(&th_ping, __ATOMIC_ACQUIRE);

		if (th_stop)
			return NULL;
		if (ping != th_pong)
			__atomic_store_n(&th_pong, ping, __ATOMIC_RELEASE);
		futex(&th_ping, FUTEX_WAIT_PRIVATE, ping, NULL);
	}
}

static void start_thread(void)
{
	uint64_t t0 = now_ms();

	if (pthread_create(&th, NULL, second_thread, NULL))
		die_setup("pthread_create");
	while (!__atomic_load_n(&th_tid, __ATOMIC_ACQUIRE)) {
		if (now_ms() - t0 > 10000) {
			errno = ETIMEDOUT;
			die_setup("the second thread does not start");
		}
		sleep_ms(1);
	}
}

/* Ask the second thread for a sign of life; true if it answered within 5 s. */
static bool ping_thread(void)
{
	uint32_t ping = __atomic_add_fetch(&th_ping, 1, __ATOMIC_RELEASE);
	uint64_t t0 = now_ms();

	futex(&th_ping, FUTEX_WAKE_PRIVATE, 1, NULL);
	while (__atomic_load_n(&th_pong, __ATOMIC_ACQUIRE) != ping) {
		if (now_ms() - t0 > 5000)
			return false;
		sleep_ms(1);
	}
	return true;
}

static void stop_thread(void)
{
	th_stop = 1;
	__atomic_add_fetch(&th_ping, 1, __ATOMIC_RELEASE);
	futex(&th_ping, FUTEX_WAKE_PRIVATE, 1, NULL);
	pthread_join(th, NULL);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void *map_or_die(size_t len, int flags, int fd, const char *what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		die_setup(what);
	return p;
}

static void expect_fd(int fd, int fl, int cloexec, const char *link, bool prefix)
{
	struct fd_expect *e = &fds[nfds++];

	e->fd = fd;
	e->fl = fl;
	e->cloexec = cloexec;
	e->prefix = prefix;
	snprintf(e->link, sizeof(e->link), "%s", link);
}

/* stdio as the launcher gave it: regular files in the harness, whatever they are */
static void expect_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		char path[64], link[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			die_setup("stdin, stdout and stderr must be open");
		link[n] = '\0';
		expect_fd(fd, fcntl(fd, F_GETFL) & FL_MASK, fcntl(fd, F_GETFD) & FD_CLOEXEC, link,
			  false);
	}
}

static void setup_memory(bool swap)
{
	int fd;

	heap = map_or_die(HEAP_SIZE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap heap");
	fill_range(heap, 0, HEAP_SIZE, SEED_HEAP_P);
	shanon = map_or_die(SHANON_SIZE, MAP_SHARED | MAP_ANONYMOUS, -1, "mmap shanon");
	ctl = (struct ctl *)shanon;
	fill_range(shanon, SLOT_SIZE, SHANON_SIZE - SLOT_SIZE, SEED_SHANON);

	fd = memfd_create("dumpee_tree", MFD_CLOEXEC);
	if (fd < 0)
		die_setup("memfd_create");
	move_fd(fd, FD_MEMFD);
	if (ftruncate(FD_MEMFD, MEMFD_SIZE) < 0)
		die_setup("ftruncate memfd");
	memfd_map = map_or_die(MEMFD_SIZE, MAP_SHARED, FD_MEMFD, "mmap memfd");
	fill_range(memfd_map, SLOT_SIZE, MEMFD_SIZE - SLOT_SIZE, SEED_MEMFD);
	if (lseek(FD_MEMFD, MEMFD_POS, SEEK_SET) != MEMFD_POS)
		die_setup("lseek memfd");
	expect_fd(FD_MEMFD, O_RDWR, FD_CLOEXEC, "/memfd:dumpee_tree", true);

	/*
	 * Now, before any fork: the kernel's MADV_PAGEOUT skips pages mapped by more than one
	 * process. The children inherit the swap entries; nobody touches these halves until
	 * the check. Failure is not fatal: the harness skips when nothing went to swap.
	 */
	if (swap) {
		madvise(heap + HEAP_SIZE / 2, HEAP_SIZE / 2, MADV_PAGEOUT);
		madvise(shanon + SHANON_SIZE / 2, SHANON_SIZE / 2, MADV_PAGEOUT);
	}
}

/* Every process writes its own slot of shanon and of the memfd. */
static void write_slots(void)
{
	fill_range(shanon, slot_off(me), SLOT_SIZE, SEED_SH_SLOT + me);
	fill_range(memfd_map, slot_off(me), SLOT_SIZE, SEED_MFD_SLOT + me);
}

static void make_pipe(int rfd, int wfd)
{
	int p[2];

	if (pipe2(p, 0) < 0)
		die_setup("pipe2");
	move_fd(p[0], rfd);
	move_fd(p[1], wfd);
}

static void fill_pipe(int fd, size_t len, uint64_t seed)
{
	static uint8_t buf[4096];

	pattern_bytes(buf, len, seed);
	write_all_fd(fd, buf, len);
}

/* First thing in a child: die with the parent, and make sure it has not died already. */
static void become(int who, int pdeathsig, pid_t parent)
{
	me = who;
	pids[me] = getpid();
	expect_ppid = parent;
	expect_pdeathsig = pdeathsig;
	nfds = 4;			/* stdio and the memfd, inherited */
	result_len = 0;
	result[0] = '\0';
	if (pdeathsig && prctl(PR_SET_PDEATHSIG, pdeathsig) < 0)
		die_setup("PR_SET_PDEATHSIG");
	if (pdeathsig && getppid() != parent)
		_exit(2);
}

static void report_ready(void)
{
	ctl->slot[me].pid = getpid();
	__atomic_add_fetch(&ctl->ready, 1, __ATOMIC_RELEASE);
}

static bool corrupting(const char *what)
{
	return corrupt_what && !strcmp(corrupt_what, what);
}

/* ---- the checks, run by every process on itself ----------------------------------------- */

static void check_ids(void)
{
	int sig = -1;

	if (getpid() != pids[me])
		failf("pid", "getpid() is %d, expected %d", getpid(), pids[me]);
	/* P's parent is whoever restored it; its children's parents are what matters */
	if (me != P && getppid() != expect_ppid)
		failf("ppid", "parent is %d, expected %d", getppid(), expect_ppid);
	if (getsid(0) != expect_sid)
		failf("sid", "session is %d, expected %d", getsid(0), expect_sid);
	if (getpgid(0) != expect_pgid)
		failf("pgid", "process group is %d, expected %d", getpgid(0), expect_pgid);
	if (prctl(PR_GET_PDEATHSIG, &sig) < 0 || sig != expect_pdeathsig)
		failf("pdeathsig", "parent-death signal is %d, expected %d", sig, expect_pdeathsig);
}

static void check_cwd(void)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		failf("cwd", "getcwd: %s", strerror(errno));
	else if (strcmp(cwd, cwd_expected))
		failf("cwd", "is '%s', expected '%s'", cwd, cwd_expected);
}

static void check_threads(void)
{
	int tids[8], n = list_dir("/proc/self/task", tids, 8);
	bool found = false;

	for (int i = 0; i < n; i++)
		found |= tids[i] == th_tid;
	if (n != 2)
		failf("threads", "/proc/self/task has %d entries, expected 2", n);
	else if (!found)
		failf("threads", "the second thread's tid %d is gone", th_tid);
	else if (!ping_thread())
		failf("threads", "the second thread (tid %d) did not answer within 5 s", th_tid);
}

static const struct fd_expect *fd_expected(int fd)
{
	for (int i = 0; i < nfds; i++)
		if (fds[i].fd == fd)
			return &fds[i];
	return NULL;
}

static void check_one_fd(const struct fd_expect *e)
{
	char path[64], link[PATH_MAX];
	ssize_t n;
	int fl = fcntl(e->fd, F_GETFL), fdfl = fcntl(e->fd, F_GETFD);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n < 0 ? 0 : n] = '\0';
	if (n < 0 || fl < 0 || fdfl < 0) {
		failf("fds", "fd %d (%s) is missing", e->fd, e->link);
		return;
	}
	if (e->prefix ? strncmp(link, e->link, strlen(e->link)) : strcmp(link, e->link))
		failf("fds", "fd %d is '%s', expected '%s%s'", e->fd, link, e->link,
		      e->prefix ? "...": "");
	if ((fl & FL_MASK) != e->fl)
		failf("fds", "fd %d (%s) has flags %#o, expected %#o", e->fd, link, fl & FL_MASK,
		      e->fl);
	if ((fdfl & FD_CLOEXEC) != e->cloexec)
		failf("fds", "fd %d (%s) has FD_CLOEXEC %d, expected %d", e->fd, link,
		      fdfl & FD_CLOEXEC, e->cloexec);
}

/* exactly the expected fds, at the expected numbers, with the expected flags */
static void check_fds(void)
{
	int open_fds[64], n = list_dir("/proc/self/fd", open_fds, 64);

	if (n < 0) {
		failf("fds", "cannot list /proc/self/fd: %s", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++)
		if (!fd_expected(open_fds[i]))
			failf("fds", "unexpected fd %d is open", open_fds[i]);
	for (int i = 0; i < nfds; i++)
		check_one_fd(&fds[i]);
}

static void check_heap(void)
{
	if (me == C1) {
		check_range("heap", "heap (C1's rewritten part)", heap, 0, C1_REWRITE, SEED_HEAP_C1);
		check_range("heap", "heap", heap, C1_REWRITE, HEAP_SIZE - C1_REWRITE, SEED_HEAP_P);
	} else {
		check_range("heap", "heap", heap, 0, HEAP_SIZE, SEED_HEAP_P);
	}
}

/* Contents of shanon and the memfd, seen through the mappings and through the fd. */
static void check_shared(void)
{
	static uint8_t buf[SLOT_SIZE];
	struct stat st = { 0 };
	off_t pos = lseek(FD_MEMFD, 0, SEEK_CUR);

	check_layout("shanon", shanon, SHANON_SIZE, SEED_SHANON, SEED_SH_SLOT);
	check_layout("memfd", memfd_map, MEMFD_SIZE, SEED_MEMFD, SEED_MFD_SLOT);
	if (fstat(FD_MEMFD, &st) < 0 || st.st_size != (off_t)MEMFD_SIZE)
		failf("memfd", "fd %d: size %lld, expected %lu", FD_MEMFD, (long long)st.st_size,
		      MEMFD_SIZE);
	if (pos != MEMFD_POS)
		failf("memfd", "fd %d: file position %lld, expected %d", FD_MEMFD, (long long)pos,
		      MEMFD_POS);
	if (pread(FD_MEMFD, buf, SLOT_SIZE, slot_off(me)) != SLOT_SIZE ||
	    memcmp(buf, memfd_map + slot_off(me), SLOT_SIZE))
		failf("memfd", "fd %d and the mapping differ in %s's slot", FD_MEMFD, names[me]);
}

/*
 * Each process leaves a mark in the memfd through its mapping and through its fd: P
 * sees them all only if every process holds the one same memfd.
 */
static void write_marks(uint32_t gen)
{
	uint64_t *w = (uint64_t *)memfd_map, m = MARK(gen, me);

	w[me] = m;
	if (pwrite(FD_MEMFD, &m, sizeof(m), (16 + me) * sizeof(m)) != sizeof(m))
		failf("memfd", "pwrite fd %d: %s", FD_MEMFD, strerror(errno));
}

static void check_marks(uint32_t gen)
{
	const uint64_t *w = (const uint64_t *)memfd_map;

	for (int i = P; i <= G; i++) {
		if (w[i] != MARK(gen, i))
			failf("memfd", "%s's mark written through its mapping is %#llx, expected %#llx",
			      names[i], (unsigned long long)w[i], (unsigned long long)MARK(gen, i));
		if (w[16 + i] != MARK(gen, i))
			failf("memfd", "%s's mark written through its fd is %#llx, expected %#llx",
			      names[i], (unsigned long long)w[16 + i],
			      (unsigned long long)MARK(gen, i));
	}
}

/* Read up to len bytes, waiting at most PIPE_TIMEOUT_MS; stops at the first wrong byte. */
static size_t read_expected(int fd, const uint8_t *want, size_t len, size_t *bad)
{
	static uint8_t buf[8192];
	uint64_t t0 = now_ms();
	size_t got = 0;

	*bad = SIZE_MAX;
	while (got < len && now_ms() - t0 < PIPE_TIMEOUT_MS) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, buf, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;	/* EOF: the write end is gone */
		for (ssize_t k = 0; k < n; k++)
			if (buf[k] != want[got + k]) {
				*bad = got + k;
				return got + n;
			}
		got += n;
	}
	return got;
}

/*
 * A pipe holds exactly len bytes from before the dump, then the POST_LEN bytes its writer
 * added after the check started (which proves both ends are the same pipe), and no more;
 * and its write end is still open somewhere.
 */
static void check_pipe(const char *name, int fd, size_t len, uint64_t seed)
{
	static uint8_t want[8192];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got, bad;

	pattern_bytes(want, len, seed);
	pattern_bytes(want + len, POST_LEN, seed + SEED_POST);
	got = read_expected(fd, want, len + POST_LEN, &bad);
	if (bad != SIZE_MAX) {
		failf("pipe", "%s (fd %d): byte %zu differs (%zu bytes in flight before the check)",
		      name, fd, bad, len);
		return;
	}
	if (got != len + POST_LEN) {
		failf("pipe", "%s (fd %d): read %zu bytes, expected %zu in flight + %d", name, fd,
		      got, len, POST_LEN);
		return;
	}
	if (poll(&pfd, 1, 0) > 0) {
		if (pfd.revents & POLLIN)
			failf("pipe", "%s (fd %d): more data than expected", name, fd);
		else if (pfd.revents & POLLHUP)
			failf("pipe", "%s (fd %d): no write end is open", name, fd);
	}
}

static void write_post(int fd, uint64_t seed)
{
	uint8_t buf[POST_LEN];

	pattern_bytes(buf, POST_LEN, seed + SEED_POST);
	if (write(fd, buf, POST_LEN) != POST_LEN)
		failf("pipe", "write to fd %d: %s", fd, strerror(errno));
}

static void check_pipes(void)
{
	if (me == C1)
		check_pipe("pipe A from P", FD_A_R, A_LEN, SEED_A);
	else if (me == G)
		check_pipe("pipe B from C1", FD_B_R, B_LEN, SEED_B);
	else if (me == C3)
		check_pipe("pipe C inside C3", FD_C_R, C_LEN, SEED_C);
}

static void check_self(void)
{
	check_ids();
	check_cwd();
	check_threads();
	check_fds();
	check_pipes();
	check_heap();
}

/* ---- children ---------------------------------------------------------------------------- */

/* Wait for P to bump the generation (timed waits: a restore may drop a futex wake). */
static uint32_t wait_for_check(void)
{
	struct timespec ts = { 0, 100 * 1000000L };
	uint64_t t0 = now_ms();
	uint32_t gen;

	while (!(gen = __atomic_load_n(&ctl->gen, __ATOMIC_ACQUIRE))) {
		if (now_ms() - t0 > (uint64_t)(timeout_s + 60) * 1000)
			_exit(3);
		futex(&ctl->gen, FUTEX_WAIT, 0, &ts);
	}
	return gen;
}

/* waitpid with a time limit; a child that does not exit in time is killed. */
static bool reap(pid_t pid, int *status, long timeout_ms)
{
	uint64_t t0 = now_ms();
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0 && now_ms() - t0 < (uint64_t)timeout_ms)
		sleep_ms(5);
	if (r == 0) {
		kill(pid, SIGKILL);
		r = waitpid(pid, status, 0);
		if (r == pid)
			errno = ETIMEDOUT;
		return false;
	}
	return r == pid;
}

/* Wait for a descendant's verdict in its slot. */
static bool verdict(int who, uint32_t gen, uint64_t t0, long timeout_ms)
{
	while (__atomic_load_n(&ctl->slot[who].done, __ATOMIC_ACQUIRE) != gen) {
		if (now_ms() - t0 > (uint64_t)timeout_ms)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* A child's exit status agrees with its verdict: 0 if it found nothing wrong, else 1. */
static void reap_child(int who, long timeout_ms)
{
	int st = 0, want = ctl->slot[who].nfail ? 1 : 0;

	if (!reap(pids[who], &st, timeout_ms))
		failf(who == G ? "ppid" : "exit", "%s (pid %d): waitpid: %s", names[who],
		      pids[who], strerror(errno));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != want)
		failf("exit", "%s (pid %d): wait status %#x, expected exit %d", names[who],
		      pids[who], st, want);
}

/* C1 answers for G's exit as P does for its children. */
static void collect_g(uint32_t gen)
{
	if (!verdict(G, gen, now_ms(), G_TIMEOUT_MS))
		failf("verdict", "G (pid %d) gave no verdict within %d s", pids[G],
		      G_TIMEOUT_MS / 1000);
	reap_child(G, 5000);
}

static void corrupt_child(void)
{
	uint8_t b;

	if (me == C1 && corrupting("heap-c1"))
		heap[100 * MiB + 777] ^= 1;
	else if (me == C1 && corrupting("pipe") && read(FD_A_R, &b, 1) != 1)
		failf("setup", "cannot read one byte from pipe A");
	else if (me == C2 && corrupting("pgid") && setpgid(0, root_pgid) < 0)
		failf("setup", "setpgid(0, %d): %s", root_pgid, strerror(errno));
	else if (me == G && corrupting("sid") && setsid() < 0)
		failf("setup", "setsid: %s", strerror(errno));
}

/* After setup: wait for the check, run it, leave the verdict in the slot for P, exit. */
static void __attribute__((noreturn)) child_check(void)
{
	uint32_t gen = wait_for_check();
	struct slot *s = &ctl->slot[me];

	if (me == C1)
		write_post(FD_B_W, SEED_B);	/* before anything else: G is waiting for it */
	if (me == C3)
		write_post(FD_C_W, SEED_C);
	corrupt_child();
	write_marks(gen);
	check_self();
	check_shared();
	if (me == C1)
		collect_g(gen);
	/* P shows these lines as they are; a cut one is still a FAIL */
	memcpy(s->fail, result, result_len < sizeof(s->fail) ? result_len + 1 : sizeof(s->fail));
	if (result_len >= sizeof(s->fail)) {
		s->fail[sizeof(s->fail) - 2] = '\n';
		s->fail[sizeof(s->fail) - 1] = '\0';
	}
	s->nfail = nfail;
	__atomic_store_n(&s->done, gen, __ATOMIC_RELEASE);
	_exit(nfail ? 1 : 0);
}

static void __attribute__((noreturn)) run_g(pid_t c1)
{
	/* with -c ppid, G's parent has exited: it must not die with it */
	become(G, corrupting("ppid") ? 0 : SIGKILL, c1);
	close(FD_A_R);
	close(FD_B_W);
	expect_fd(FD_B_R, O_RDONLY, 0, "pipe:[", true);
	write_slots();
	start_thread();
	report_ready();
	child_check();
}

/* -c ppid: G is forked by a short-lived middle process, so its parent is not C1 */
static pid_t fork_g(void)
{
	pid_t pid, mid;
	int st;

	if (!corrupting("ppid")) {
		pid = fork();
		if (pid == 0)
			run_g(pids[C1]);
		return pid;
	}
	mid = fork();
	if (mid == 0) {
		pid = fork();
		if (pid == 0)
			run_g(pids[C1]);
		_exit(pid < 0 ? 2 : 0);
	}
	if (mid < 0 || waitpid(mid, &st, 0) != mid || st)
		return -1;
	return 0;	/* G's pid comes from its slot */
}

/* -c ppid: C1 learns G's pid from its slot once G is ready */
static pid_t g_from_slot(void)
{
	uint64_t t0 = now_ms();

	while (!__atomic_load_n(&ctl->slot[G].pid, __ATOMIC_ACQUIRE)) {
		if (now_ms() - t0 > READY_TIMEOUT_MS) {
			errno = ETIMEDOUT;
			die_setup("G does not get ready");
		}
		sleep_ms(1);
	}
	return ctl->slot[G].pid;
}

static void __attribute__((noreturn)) run_c1(void)
{
	become(C1, SIGKILL, pids[P]);
	close(FD_A_W);
	expect_fd(FD_A_R, O_RDONLY | O_NONBLOCK, 0, "pipe:[", true);
	expect_fd(FD_B_W, O_WRONLY, FD_CLOEXEC, "pipe:[", true);
	make_pipe(FD_B_R, FD_B_W);
	pids[G] = fork_g();
	if (pids[G] < 0)
		die_setup("fork G");
	close(FD_B_R);
	if (fcntl(FD_A_R, F_SETFL, O_NONBLOCK) < 0 || fcntl(FD_B_W, F_SETFD, FD_CLOEXEC) < 0)
		die_setup("fcntl");
	fill_pipe(FD_B_W, B_LEN, SEED_B);
	write_slots();
	/* after forking G: G keeps seeing P's pattern there, shared with everybody but C1 */
	fill_range(heap, 0, C1_REWRITE, SEED_HEAP_C1);
	start_thread();
	report_ready();
	if (!pids[G])
		pids[G] = g_from_slot();
	child_check();
}

static void __attribute__((noreturn)) run_c2(void)
{
	become(C2, SIGUSR2, pids[P]);
	close(FD_A_W);
	if (setpgid(0, 0) < 0)
		die_setup("setpgid");
	expect_pgid = getpid();
	write_slots();
	start_thread();
	report_ready();
	child_check();
}

static void __attribute__((noreturn)) run_c3(void)
{
	become(C3, SIGKILL, pids[P]);
	close(FD_A_W);
	if (setsid() < 0)
		die_setup("setsid");
	expect_pgid = expect_sid = getpid();
	expect_fd(FD_C_R, O_RDONLY, 0, "pipe:[", true);
	expect_fd(FD_C_W, O_WRONLY | O_NONBLOCK, 0, "pipe:[", true);
	make_pipe(FD_C_R, FD_C_W);
	if (fcntl(FD_C_W, F_SETFL, O_NONBLOCK) < 0)
		die_setup("fcntl");
	fill_pipe(FD_C_W, C_LEN, SEED_C);
	write_slots();
	start_thread();
	report_ready();
	child_check();
}

static void __attribute__((noreturn)) run_z(void)
{
	me = Z;
	close(FD_A_W);
	write_slots();
	report_ready();
	_exit(EXIT_Z);
}

static pid_t fork_child(void (*run)(void))
{
	pid_t pid = fork();

	if (pid < 0)
		die_setup("fork");
	if (pid == 0)
		run();
	return pid;
}

/* ---- the root ------------------------------------------------------------------------- */

static void wait_ready(void)
{
	uint64_t t0 = now_ms();

	while (__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) != NPROC - 1) {
		if (ctl->setup_failed || now_ms() - t0 > READY_TIMEOUT_MS) {
			for (int i = C1; i < NPROC; i++)
				append_text(ctl->slot[i].fail);
			write_status(result[0] ? result : "FAIL: setup: the tree did not get ready\n");
			fputs(result, stderr);
			exit(2);
		}
		sleep_ms(1);
	}
	pids[G] = ctl->slot[G].pid;
}

static void setup_tree(bool swap)
{
	/*
	 * P leads a process group of its own, so that every group of the tree belongs to the
	 * tree: the launcher's group is not ours to restore (memdump runs under timeout(1),
	 * which makes a group of its own). The session is the launcher's: only it is inherited.
	 */
	if (getpgid(0) != getpid() && setpgid(0, 0) < 0)
		die_setup("setpgid");
	root_pgid = expect_pgid = getpgid(0);
	expect_sid = getsid(0);
	if (prctl(PR_GET_PDEATHSIG, &expect_pdeathsig) < 0)
		die_setup("PR_GET_PDEATHSIG");
	expect_stdio();
	setup_memory(swap);
	write_slots();
	make_pipe(FD_A_R, FD_A_W);
	fill_pipe(FD_A_W, A_LEN, SEED_A);
	expect_fd(FD_A_W, O_WRONLY, 0, "pipe:[", true);

	pids[C1] = fork_child(run_c1);
	close(FD_A_R);
	pids[C2] = fork_child(run_c2);
	pids[C3] = fork_child(run_c3);
	pids[Z] = fork_child(run_z);
	/* only now: forking a single-threaded process is the simple case */
	start_thread();
	wait_ready();
}

/* Z: a zombie child of P that exited with 42, reaped only now */
static void check_zombie(void)
{
	char path[64], buf[512], state = '?';
	const char *p;
	int ppid = 0, st;
	ssize_t n;
	pid_t r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pids[Z]);
	n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		failf("zombie", "Z (pid %d): %s: %s", pids[Z], path, strerror(-n));
	else if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %c %d", &state, &ppid) != 2 ||
		 state != 'Z' || ppid != getpid())
		failf("zombie", "Z (pid %d) is in state %c with parent %d, expected Z and %d",
		      pids[Z], state, ppid, getpid());
	r = waitpid(pids[Z], &st, WNOHANG);
	if (r != pids[Z])
		failf("zombie", "Z (pid %d): waitpid returned %d: %s", pids[Z], r,
		      r < 0 ? strerror(errno) : "not exited");
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != EXIT_Z)
		failf("zombie", "Z (pid %d): wait status %#x, expected exit %d", pids[Z], st, EXIT_Z);
}

static void corrupt_root(void)
{
	uint8_t b;
	int st;

	if (corrupting("heap")) {
		heap[200 * MiB + 12345] ^= 1;
	} else if (corrupting("shanon")) {
		shanon[slot_off(C3) + 1000] ^= 0x10;
	} else if (corrupting("memfd")) {
		if (pread(FD_MEMFD, &b, 1, slot_off(G) + 5000) == 1) {
			b ^= 0x20;
			if (pwrite(FD_MEMFD, &b, 1, slot_off(G) + 5000) != 1)
				failf("setup", "pwrite memfd: %s", strerror(errno));
		}
	} else if (corrupting("zombie")) {
		waitpid(pids[Z], &st, 0);
	} else if (corrupting("threads")) {
		stop_thread();
	}
}

/* The whole check, from P: ask everybody, check itself, collect, report. */
static int root_check(void)
{
	static const int kids[] = { C1, C2, C3 };
	uint32_t gen = ctl->gen + 1;
	uint64_t t0;

	if (corrupt_what)
		corrupt_root();
	write_post(FD_A_W, SEED_A);	/* C1 finds it behind the bytes from before the dump */
	write_marks(gen);
	__atomic_store_n(&ctl->gen, gen, __ATOMIC_RELEASE);
	futex(&ctl->gen, FUTEX_WAKE, INT_MAX, NULL);
	check_self();

	t0 = now_ms();
	for (int i = C1; i <= G; i++)
		if (!verdict(i, gen, t0, VERDICT_TIMEOUT_MS))
			failf("verdict", "%s (pid %d) gave no verdict within %d s", names[i],
			      pids[i], VERDICT_TIMEOUT_MS / 1000);
	for (unsigned i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		reap_child(kids[i], 10000);
	check_zombie();
	/* last: every process has written and checked by now */
	check_shared();
	check_marks(gen);

	for (int i = C1; i <= G; i++) {
		append_text(ctl->slot[i].fail);
		nfail += ctl->slot[i].nfail;
	}
	if (!nfail) {
		write_status("OK\n");
		return 0;
	}
	write_status(result);
	fputs(result, stderr);
	return 1;
}

/* kB of P's anonymous memory in swap */
static long vm_swap_kb(void)
{
	static char buf[8192];
	const char *p;

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "VmSwap:")))
		return -1;
	return atol(p + strlen("VmSwap:"));
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void wait_for_usr1(void)
{
	uint64_t t0 = now_ms();

	while (!got_usr1) {
		if (now_ms() - t0 > (uint64_t)timeout_s * 1000) {
			write_status("FAIL: timeout: no SIGUSR1\n");
			exit(3);
		}
		sleep_ms(10);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: dumpee_tree [-m wait|selftest|corrupt] [-c WHAT] [-s] [-T SECS] "
			"STATUS DATADIR\n");
	exit(2);
}

static bool known_corruption(const char *what)
{
	static const char *const all[] = { "heap", "heap-c1", "shanon", "memfd", "pipe", "pgid",
					   "sid", "ppid", "zombie", "threads" };

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(what, all[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	const char *mode = "wait", *what = "heap";
	bool swap = false;
	char ready[256];
	int opt;

	/* an inherited pipe from whoever started us would make every dump fail */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	while ((opt = getopt(argc, argv, "m:c:sT:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		case 's':
			swap = true;
			break;
		case 'T':
			timeout_s = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || !known_corruption(what))
		usage();
	if (strcmp(mode, "wait") && strcmp(mode, "selftest") && strcmp(mode, "corrupt"))
		usage();
	if (!strcmp(mode, "corrupt"))
		corrupt_what = what;
	status_path = argv[optind];
	if (status_path[0] != '/' || !realpath(argv[optind + 1], cwd_expected) ||
	    chdir(cwd_expected) < 0) {
		fprintf(stderr, "dumpee_tree: STATUS must be absolute and DATADIR must exist\n");
		return 2;
	}
	pids[P] = getpid();
	/* Z must stay a zombie: SIGCHLD ignored would have the kernel reap it at once */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die_setup("sigaction");

	setup_tree(swap);
	if (!strcmp(mode, "wait")) {
		snprintf(ready, sizeof(ready), "READY %d %d %d %d %d %d\nSWAP %ld\n", pids[P],
			 pids[C1], pids[C2], pids[C3], pids[G], pids[Z], vm_swap_kb());
		if (write_status(ready) < 0)
			die_setup("write status");
		wait_for_usr1();
	}
	return root_check();
}
