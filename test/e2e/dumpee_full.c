/*
 * dumpee_full: an end-to-end dumpee that sets up most of the state memdump claims to
 * restore (memory of every kind, threads with TLS, signals, timers, files, rseq, signal stacks...),
 * remembers what it expects, and on SIGUSR1 checks all of it and reports to a status file.
 *
 * Usage: dumpee_full [-m wait|selftest|corrupt] [-c WHAT] [-p] [-u] [-T SECS] STATUS TMPDIR
 *   -m wait      (default) write "READY <pid>" to STATUS, then wait for SIGUSR1 and check
 *   -m selftest  check right after setup, no dump involved: must report OK
 *   -m corrupt   break one piece of state (-c WHAT, default "anon") and check: must FAIL
 *   -p           also hold a pipe with 5 unread bytes in it, both ends at fds 104 and 105, and at
 *                fd 110 both again (opened O_RDWR through /proc/self/fd); and at fd 111 a pipe
 *                held by that O_RDWR fd alone, with 2 unread bytes
 *   -u           also hold fds memdump does not dump: a userfaultfd at fd 108 and a
 *                packet socket at fd 109
 *   -T SECS      give up (exit 3) when no SIGUSR1 arrives within SECS (default 300)
 * STATUS gets "OK" or "FAIL: <what>" lines (replaced atomically by rename); exit 0 on OK,
 * 1 on FAIL, 2 on a setup error. TMPDIR must exist; files are created in it.
 *
 * The checks must not change the address space before comparing it: no malloc, no stdio,
 * no opendir() after setup (the maps snapshot would see a grown heap).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define MiB (1024UL * 1024UL)

#define NTHREADS 4
#define ANON_PAGES 1024			/* 4 MiB */
#define PROTNONE_PAGES 16
#define RO_PAGES 8
#define GROWSDOWN_PAGES 8
#define PRIVFILE_PAGES 32
#define SHFILE_PAGES 16
#define MEMFD_SIZE (1 * MiB)
#define SHANON_PAGES 16			/* shared anonymous; the last 4 pages never touched */
#define HUGE_SIZE (4 * MiB)
#define HUGE_ALIGN (2 * MiB)
#define FILE_OFFSET 12345
#define NOFILE_SOFT 777
#define FD_OFFSET 100			/* fixed fd numbers: memdump must keep them */
#define FD_APPEND 101
#define FD_MEMFD 102
#define FD_CLOEXEC_FILE 103
#define FD_PIPE_R 104
#define FD_PIPE_W 105
#define FD_PIPE_RW 110			/* the pipe again, O_RDWR */
#define FD_PIPE_ONLY_RW 111		/* another pipe, held O_RDWR only */
#define FD_UNKNOWN 108
#define FD_UNKNOWN_SOCK 109
#define FD_DUP 107			/* dup of FD_OFFSET: one open file description */
#define FD_SEALED 106			/* a sealed memfd, mapped read-only */
#define SEALED_LEN (2 * PAGE - 100)	/* its size: the last page only partly in the file */
#define SEALED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define MAPS_MAX (64 * 1024)

/* ---- the state it sets up and what it expects ------------------------------------- */

static const char *status_path;
static char tmpdir[PATH_MAX];
static char cwd_expected[PATH_MAX];
static char offset_path[PATH_MAX + 32], append_path[PATH_MAX + 32];
static pid_t pid_expected;
static char comm_expected[32];		/* /proc/self/comm of the main thread */

static uint8_t *sealed_map, *shanon;
static uint8_t *anon, *protnone, *ro, *growsdown, *privfile, *shfile, *memfd_map, *huge;
static bool have_growsdown;
static const unsigned privfile_cow[] = { 1, 2, 7, 20, 31 };	/* pages written (CoW'd) */

static char maps_snapshot[MAPS_MAX];
static size_t maps_snapshot_len;

static volatile sig_atomic_t got_usr1;
static volatile unsigned long alarms;
static bool hold_pipe;
static bool hold_unknown;

/* per-thread state, written by the thread itself */
struct worker {
	pthread_t th;
	int idx;
	pid_t tid;			/* gettid() at start */
	volatile unsigned long counter;	/* advanced by the thread's loop */
	volatile int check_gen;		/* main asks: run your checks for this generation */
	volatile int done_gen;		/* thread answers */
	char fail[256];			/* empty: thread checks passed */
	volatile int corrupt_tls;	/* corrupt mode: 1 asks the thread to break its TLS, 2 done */
	stack_t altstack;		/* as set up (a sanitizer runtime may give every thread one) */
};
static struct worker workers[NTHREADS];
static volatile int stop_workers;

static __thread uint64_t tls_magic;
static __thread char tls_buf[64];
static uint8_t altstack_mem[64 * 1024] __attribute__((aligned(16)));
static stack_t main_altstack;		/* the main thread's, as it started (none, or a sanitizer's) */
static uint8_t main_altstack_mem[16 * 1024] __attribute__((aligned(16)));

/* ---- result collection without malloc or stdio ------------------------------------- */

static char result[16384];
static size_t result_len;
static int nfail;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;
	int n;

	nfail++;
	if (result_len + 8 >= sizeof(result))
		return;
	n = snprintf(result + result_len, sizeof(result) - result_len, "FAIL: ");
	result_len += n;
	va_start(ap, fmt);
	n = vsnprintf(result + result_len, sizeof(result) - result_len - 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		result_len += (size_t)n < sizeof(result) - result_len - 1 ? (size_t)n :
			      sizeof(result) - result_len - 2;
	result[result_len++] = '\n';
	result[result_len] = '\0';
}

/* Replace STATUS atomically so a reader never sees half a report. */
static int write_status(const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text), off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", status_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -errno;
		}
		off += n;
	}
	close(fd);
	if (rename(tmp, status_path) < 0)
		return -errno;
	return 0;
}

static void die_setup(const char *what)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "FAIL: setup: %s: %s\n", what, strerror(errno));
	write_status(buf);
	fputs(buf, stderr);
	exit(2);
}

/* ---- patterns --------------------------------------------------------------------- */

/* A different byte for every (region, page, offset): a misplaced page cannot pass. */
static inline uint8_t pat(unsigned region, size_t page, size_t off)
{
	uint32_t x = region * 2654435761u ^ (uint32_t)page * 40503u ^ (uint32_t)off * 2246822519u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (uint8_t)x;
}

/* Fill pages [first, first + pages) of the region starting at base. */
static void fill_pages(uint8_t *base, size_t first, size_t pages, unsigned region)
{
	for (size_t pg = first; pg < first + pages; pg++)
		for (size_t o = 0; o < PAGE; o++)
			base[pg * PAGE + o] = pat(region, pg, o);
}

static void fill(uint8_t *p, size_t pages, unsigned region)
{
	fill_pages(p, 0, pages, region);
}

/* Compare one page against the pattern; report the first bad byte. */
static bool check_page(const char *name, const uint8_t *p, unsigned region, size_t pg, bool zero)
{
	for (size_t o = 0; o < PAGE; o++) {
		uint8_t want = zero ? 0 : pat(region, pg, o);

		if (p[o] != want) {
			failf("%s: page %zu byte %zu is 0x%02x, expected 0x%02x", name, pg, o, p[o],
			      want);
			return false;
		}
	}
	return true;
}

enum region_id {
	R_ANON = 1, R_PROTNONE, R_RO, R_GROWSDOWN, R_PRIVFILE_FILE, R_PRIVFILE_COW, R_SHFILE,
	R_MEMFD, R_HUGE, R_OFFSETFILE, R_SHANON,
};

/* anon: every 4th page is left untouched and must read as zero */
static bool anon_page_untouched(size_t pg)
{
	return pg % 4 == 3;
}

static bool privfile_page_cowed(size_t pg)
{
	for (size_t i = 0; i < sizeof(privfile_cow) / sizeof(privfile_cow[0]); i++)
		if (privfile_cow[i] == pg)
			return true;
	return false;
}

/* ---- helpers ------------------------------------------------------------------------- */

static pid_t my_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
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

/* read() a whole /proc file into buf (NUL-terminated), no stdio */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
		if (len == size - 1)
			break;
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

/* Create PATH with `pages` pages of pattern `region`. */
static int make_pattern_file(const char *path, size_t pages, unsigned region)
{
	static uint8_t buf[PAGE];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die_setup(path);
	for (size_t pg = 0; pg < pages; pg++) {
		for (size_t o = 0; o < PAGE; o++)
			buf[o] = pat(region, pg, o);
		write_all_fd(fd, buf, PAGE);
	}
	return fd;
}

/* Move fd to a fixed number so the check can also see the number survived. */
static void move_fd(int fd, int to)
{
	if (fd == to)
		return;
	if (dup3(fd, to, fcntl(fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0) < 0)
		die_setup("dup3");
	close(fd);
}

static struct rseq *my_rseq(void)
{
	if (__rseq_size == 0)
		return NULL;
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/*
 * The kernel rewrites cpu_id of the registered rseq area whenever the thread comes back
 * to user space after being scheduled. A bogus value must be replaced after a sleep;
 * if it is not, the kernel does not know our area (rseq was not restored).
 */
static bool check_rseq(const char *who, char *fail, size_t faillen)
{
	struct rseq *rs = my_rseq();

	if (!rs)
		return true;	/* glibc did not register rseq (tunable off): nothing to check */
	for (int i = 0; i < 50; i++) {
		rs->cpu_id = 0xdeadbeef;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		sleep_ms(1);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (rs->cpu_id != 0xdeadbeef) {
			if ((long)rs->cpu_id >= sysconf(_SC_NPROCESSORS_CONF)) {
				snprintf(fail, faillen, "%s: rseq cpu_id %u is not a cpu", who,
					 rs->cpu_id);
				return false;
			}
			return true;
		}
	}
	snprintf(fail, faillen, "%s: rseq area at %p not updated by the kernel (cpu_id stays bogus)",
		 who, (void *)rs);
	return false;
}

/* ---- threads -------------------------------------------------------------------------- */

static void worker_check(struct worker *w)
{
	char name[16], want[16];
	char expect_buf[64];
	stack_t ss;

	w->fail[0] = '\0';
	if (my_gettid() != w->tid) {
		snprintf(w->fail, sizeof(w->fail), "thread %d: gettid() %d, expected %d", w->idx,
			 my_gettid(), w->tid);
		return;
	}
	if (tls_magic != 0x1000u + (uint64_t)w->idx * 0x10001u) {
		snprintf(w->fail, sizeof(w->fail), "thread %d: __thread tls_magic is %#llx", w->idx,
			 (unsigned long long)tls_magic);
		return;
	}
	memset(expect_buf, 'a' + w->idx, sizeof(expect_buf));
	if (memcmp(tls_buf, expect_buf, sizeof(tls_buf))) {
		snprintf(w->fail, sizeof(w->fail), "thread %d: __thread tls_buf changed", w->idx);
		return;
	}
	snprintf(want, sizeof(want), "worker%d", w->idx);
	if (pthread_getname_np(pthread_self(), name, sizeof(name)) || strcmp(name, want)) {
		snprintf(w->fail, sizeof(w->fail), "thread %d: comm is '%s', expected '%s'", w->idx,
			 name, want);
		return;
	}
	if (sigaltstack(NULL, &ss) < 0) {
		snprintf(w->fail, sizeof(w->fail), "thread %d: sigaltstack: %s", w->idx,
			 strerror(errno));
		return;
	}
	if (ss.ss_sp != w->altstack.ss_sp || ss.ss_size != w->altstack.ss_size ||
	    ss.ss_flags != w->altstack.ss_flags) {
		snprintf(w->fail, sizeof(w->fail),
			 "thread %d: sigaltstack is sp=%p size=%zu flags=%#x, expected sp=%p size=%zu flags=%#x",
			 w->idx, ss.ss_sp, ss.ss_size, ss.ss_flags, w->altstack.ss_sp,
			 w->altstack.ss_size, w->altstack.ss_flags);
		return;
	}
	snprintf(name, sizeof(name), "thread %d", w->idx);
	check_rseq(name, w->fail, sizeof(w->fail));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	w->tid = my_gettid();
	tls_magic = 0x1000u + (uint64_t)w->idx * 0x10001u;
	memset(tls_buf, 'a' + w->idx, sizeof(tls_buf));
	snprintf(name, sizeof(name), "worker%d", w->idx);
	pthread_setname_np(pthread_self(), name);
	if (w->idx == 0) {
		stack_t ss = { .ss_sp = altstack_mem, .ss_size = sizeof(altstack_mem) };

		if (sigaltstack(&ss, NULL) < 0)
			die_setup("sigaltstack");
	}
	if (sigaltstack(NULL, &w->altstack) < 0)
		die_setup("sigaltstack query");
	while (!stop_workers) {
		w->counter++;
		if (w->corrupt_tls == 1) {
			tls_buf[7] ^= 1;
			w->corrupt_tls = 2;
		}
		if (w->check_gen != w->done_gen) {
			int gen = w->check_gen;

			worker_check(w);
			__atomic_store_n(&w->done_gen, gen, __ATOMIC_RELEASE);
		}
		sleep_ms(2 + w->idx);
	}
	return NULL;
}

/* ---- signals -------------------------------------------------------------------------- */

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void on_alrm(int sig)
{
	(void)sig;
	alarms++;
}

/* ---- maps snapshot --------------------------------------------------------------------- */

/*
 * Compare address range, permissions, offset and path of every line; dev and inode may
 * legitimately differ (a memfd is a new inode after restore).
 */
struct maps_line {
	const char *range, *perms, *off, *path;
	size_t range_len, perms_len, off_len, path_len;
};

static const char *next_field(const char *p, const char *eol, const char **ret, size_t *ret_len)
{
	while (p < eol && *p == ' ')
		p++;
	*ret = p;
	while (p < eol && *p != ' ')
		p++;
	*ret_len = p - *ret;
	return p;
}

static void parse_maps_line(const char *line, const char *eol, struct maps_line *m)
{
	const char *dev, *ino;
	size_t dev_len, ino_len;
	const char *p = line;

	p = next_field(p, eol, &m->range, &m->range_len);
	p = next_field(p, eol, &m->perms, &m->perms_len);
	p = next_field(p, eol, &m->off, &m->off_len);
	p = next_field(p, eol, &dev, &dev_len);
	p = next_field(p, eol, &ino, &ino_len);
	while (p < eol && *p == ' ')
		p++;
	m->path = p;
	m->path_len = eol - p;
}

static bool field_eq(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

static void check_maps(void)
{
	static char now[MAPS_MAX];
	const char *a = maps_snapshot, *b = now;
	const char *aend, *bend;
	ssize_t n = read_file("/proc/self/maps", now, sizeof(now));
	int line = 0;

	if (n < 0) {
		failf("maps: cannot read /proc/self/maps: %s", strerror(-n));
		return;
	}
	aend = a + maps_snapshot_len;
	bend = b + n;
	while (a < aend || b < bend) {
		const char *ea = memchr(a, '\n', aend - a), *eb = memchr(b, '\n', bend - b);
		struct maps_line ma, mb;

		line++;
		if (!ea)
			ea = aend;
		if (!eb)
			eb = bend;
		if (a >= aend) {
			failf("maps: extra line %d now: %.*s", line, (int)(eb - b), b);
			return;
		}
		if (b >= bend) {
			failf("maps: line %d is gone: %.*s", line, (int)(ea - a), a);
			return;
		}
		parse_maps_line(a, ea, &ma);
		parse_maps_line(b, eb, &mb);
		if (!field_eq(ma.range, ma.range_len, mb.range, mb.range_len) ||
		    !field_eq(ma.perms, ma.perms_len, mb.perms, mb.perms_len) ||
		    !field_eq(ma.off, ma.off_len, mb.off, mb.off_len) ||
		    !field_eq(ma.path, ma.path_len, mb.path, mb.path_len)) {
			failf("maps: line %d was '%.*s', now '%.*s'", line, (int)(ea - a), a,
			      (int)(eb - b), b);
			return;
		}
		a = ea + 1;
		b = eb + 1;
	}
}

/* VmFlags of the VMA starting at addr, from smaps (static buffer: no malloc) */
static bool smaps_has_flag(uintptr_t addr, const char *flag, bool *ret)
{
	static char buf[1024 * 1024];
	char head[32];
	ssize_t n = read_file("/proc/self/smaps", buf, sizeof(buf));
	char *p, *vf, *eol;

	if (n < 0)
		return false;
	snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, head, strlen(head)))
			break;
	if (!p)
		return false;
	vf = strstr(p, "VmFlags:");
	if (!vf)
		return false;
	eol = strchr(vf, '\n');
	if (eol)
		*eol = '\0';
	for (char *t = vf + 8; *t;) {
		while (*t == ' ')
			t++;
		if (!strncmp(t, flag, 2) && (t[2] == ' ' || t[2] == '\0')) {
			*ret = true;
			return true;
		}
		while (*t && *t != ' ')
			t++;
	}
	*ret = false;
	return true;
}

/* the "AnonHugePages:" of the VMA at addr, in kB; -1 if not found */
static long smaps_anon_huge_kb(uintptr_t addr)
{
	static char buf[1024 * 1024];
	char head[32], *p, *f;
	ssize_t n = read_file("/proc/self/smaps", buf, sizeof(buf));

	if (n < 0)
		return -1;
	snprintf(head, sizeof(head), "%lx-", (unsigned long)addr);
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, head, strlen(head)))
			break;
	if (!p || !(f = strstr(p, "AnonHugePages:")))
		return -1;
	return strtol(f + strlen("AnonHugePages:"), NULL, 10);
}

/* huge pages the hugepage region had when it was set up (the kernel may give none) */
static long huge_kb_at_setup;

/* ---- setup ------------------------------------------------------------------------------ */

static void *map_or_die(size_t len, int prot, int flags, int fd, const char *what)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		die_setup(what);
	return p;
}

static void setup_memory(void)
{
	char path[PATH_MAX + 32];
	int fd;

	/* private anonymous RW; every 4th page untouched, one page only read (zero page) */
	anon = map_or_die(ANON_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, "mmap anon");
	for (size_t pg = 0; pg < ANON_PAGES; pg++)
		if (!anon_page_untouched(pg))
			fill_pages(anon, pg, 1, R_ANON);
	(void)*(volatile uint8_t *)(anon + 3 * PAGE);

	/* data, then PROT_NONE */
	protnone = map_or_die(PROTNONE_PAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap protnone");
	fill(protnone, PROTNONE_PAGES, R_PROTNONE);
	if (mprotect(protnone, PROTNONE_PAGES * PAGE, PROT_NONE) < 0)
		die_setup("mprotect none");

	/* data, then read-only */
	ro = map_or_die(RO_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			"mmap ro");
	fill(ro, RO_PAGES, R_RO);
	if (mprotect(ro, RO_PAGES * PAGE, PROT_READ) < 0)
		die_setup("mprotect ro");

	/* MAP_GROWSDOWN: touch only the top pages, as a stack would */
	growsdown = mmap(NULL, GROWSDOWN_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	if (growsdown != MAP_FAILED) {
		have_growsdown = true;
		fill_pages(growsdown, GROWSDOWN_PAGES - 2, 2, R_GROWSDOWN);
	}

	/* private file mapping: some pages CoW'd, the others still the file's */
	snprintf(path, sizeof(path), "%s/private.dat", tmpdir);
	fd = make_pattern_file(path, PRIVFILE_PAGES, R_PRIVFILE_FILE);
	privfile = map_or_die(PRIVFILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
			      "mmap private file");
	close(fd);
	for (size_t pg = 0; pg < PRIVFILE_PAGES; pg++) {
		if (privfile_page_cowed(pg))
			fill_pages(privfile, pg, 1, R_PRIVFILE_COW);
		else
			(void)*(volatile uint8_t *)(privfile + pg * PAGE + 17);
	}

	/* shared file mapping, written through the mapping */
	snprintf(path, sizeof(path), "%s/shared.dat", tmpdir);
	fd = make_pattern_file(path, SHFILE_PAGES, 0);
	shfile = map_or_die(SHFILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			    "mmap shared file");
	close(fd);
	fill(shfile, SHFILE_PAGES, R_SHFILE);

	/* memfd, mapped shared, fd kept open at FD_MEMFD; the last quarter is a hole */
	fd = memfd_create("dumpee-memfd", MFD_CLOEXEC);
	if (fd < 0)
		die_setup("memfd_create");
	if (ftruncate(fd, MEMFD_SIZE) < 0)
		die_setup("ftruncate memfd");
	move_fd(fd, FD_MEMFD);
	memfd_map = map_or_die(MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FD_MEMFD,
			       "mmap memfd");
	fill(memfd_map, MEMFD_SIZE / PAGE * 3 / 4, R_MEMFD);

	/* shared anonymous memory (a shmem object with no name) */
	shanon = map_or_die(SHANON_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
			    "mmap shared anonymous");
	fill(shanon, SHANON_PAGES - 4, R_SHANON);

	/* a memfd written, then sealed against writes and size changes, mapped read-only */
	fd = memfd_create("dumpee-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		die_setup("memfd_create sealed");
	for (size_t i = 0; i < SEALED_LEN; i++)
		if (pwrite(fd, &(uint8_t){ (uint8_t)(i * 7 + 3) }, 1, (off_t)i) != 1)
			die_setup("pwrite sealed memfd");
	if (fcntl(fd, F_ADD_SEALS, SEALED_SEALS) < 0)
		die_setup("F_ADD_SEALS");
	move_fd(fd, FD_SEALED);
	sealed_map = map_or_die(2 * PAGE, PROT_READ, MAP_SHARED, FD_SEALED, "mmap sealed memfd");

	/* 4 MiB, 2 MiB aligned, MADV_HUGEPAGE: trim a larger mapping to alignment */
	{
		uint8_t *raw = map_or_die(HUGE_SIZE + HUGE_ALIGN, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap huge");
		uintptr_t start = ((uintptr_t)raw + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
		size_t head = start - (uintptr_t)raw;

		if (head)
			munmap(raw, head);
		if (HUGE_ALIGN - head)
			munmap((uint8_t *)start + HUGE_SIZE, HUGE_ALIGN - head);
		huge = (uint8_t *)start;
		if (madvise(huge, HUGE_SIZE, MADV_HUGEPAGE) < 0)
			die_setup("madvise hugepage");
		fill(huge, HUGE_SIZE / PAGE, R_HUGE);
		huge_kb_at_setup = smaps_anon_huge_kb((uintptr_t)huge);
	}
}

static void setup_files(void)
{
	int fd;

	/* regular file, positioned at FILE_OFFSET */
	snprintf(offset_path, sizeof(offset_path), "%s/offset.dat", tmpdir);
	fd = make_pattern_file(offset_path, 5, R_OFFSETFILE);
	if (lseek(fd, FILE_OFFSET, SEEK_SET) != FILE_OFFSET)
		die_setup("lseek");
	if (fcntl(fd, F_SETFD, 0) < 0)	/* this one without O_CLOEXEC */
		die_setup("fcntl F_SETFD");
	move_fd(fd, FD_OFFSET);
	if (dup2(FD_OFFSET, FD_DUP) != FD_DUP)
		die_setup("dup2");

	/* O_APPEND, write-only */
	snprintf(append_path, sizeof(append_path), "%s/append.log", tmpdir);
	fd = open(append_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die_setup(append_path);
	write_all_fd(fd, "before\n", 7);
	move_fd(fd, FD_APPEND);

	/* a read-only O_CLOEXEC file */
	fd = open(offset_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_setup(offset_path);
	move_fd(fd, FD_CLOEXEC_FILE);

	if (hold_pipe) {
		char path[64];
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			die_setup("pipe2");
		move_fd(p[0], FD_PIPE_R);
		move_fd(p[1], FD_PIPE_W);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", FD_PIPE_R);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die_setup("open the pipe O_RDWR");
		move_fd(fd, FD_PIPE_RW);
		if (pipe2(p, O_CLOEXEC) < 0)
			die_setup("pipe2");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || write(p[1], "rw", 2) != 2)
			die_setup("open the second pipe O_RDWR");
		close(p[0]);
		close(p[1]);
		move_fd(fd, FD_PIPE_ONLY_RW);
		/* in flight at the dump: the restored pipe must still hold it */
		if (write(FD_PIPE_W, "hello", 5) != 5)
			die_setup("write to the pipe");
	}
	if (hold_unknown) {
		int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
		/* a packet socket: a family memdump does not restore */
		int nl = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || nl < 0)
			die_setup("userfaultfd or packet socket");
		move_fd(fd, FD_UNKNOWN);
		move_fd(nl, FD_UNKNOWN_SOCK);
	}
}

static void setup_signals(void)
{
	struct sigaction sa = { 0 };
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
	sigset_t set;
	union sigval v = { .sival_int = 4242 };

	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die_setup("sigaction usr1");
	sa.sa_handler = on_alrm;
	sigaddset(&sa.sa_mask, SIGUSR1);	/* a mask worth restoring */
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die_setup("sigaction alrm");

	/* SIGUSR2 and SIGRTMIN+1 blocked (threads inherit it) and left pending */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die_setup("sigprocmask");
	/* thread-directed, to the main thread's own queue (raise() may use kill()) */
	if (syscall(SYS_tgkill, getpid(), my_gettid(), SIGUSR2) < 0)
		die_setup("tgkill");
	if (sigqueue(getpid(), SIGRTMIN + 1, v) < 0)	/* process-wide queue, with a value */
		die_setup("sigqueue");

	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die_setup("setitimer");
}

static void setup_misc(void)
{
	struct rlimit rl;
	char path[PATH_MAX + 8];

	if (read_file("/proc/self/comm", comm_expected, sizeof(comm_expected)) < 0)
		die_setup("read comm");
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die_setup("getrlimit");
	rl.rlim_cur = NOFILE_SOFT;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die_setup("setrlimit");

	snprintf(path, sizeof(path), "%s/cwd", tmpdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die_setup("mkdir cwd");
	if (chdir(path) < 0)
		die_setup("chdir");
	if (!getcwd(cwd_expected, sizeof(cwd_expected)))
		die_setup("getcwd");
}

/* ---- checks ----------------------------------------------------------------------------- */

static void check_memory(void)
{
	static uint8_t buf[PROTNONE_PAGES * PAGE];
	ssize_t n;
	int fd;

	for (size_t pg = 0; pg < ANON_PAGES; pg++)
		if (!check_page("anon", anon + pg * PAGE, R_ANON, pg,
				anon_page_untouched(pg)))
			break;

	/* PROT_NONE: read through /proc/self/mem (FOLL_FORCE), leaving the VMA alone */
	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		failf("protnone: cannot open /proc/self/mem: %s", strerror(errno));
	} else {
		n = pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)protnone);
		if (n != (ssize_t)sizeof(buf))
			failf("protnone: read %zd of %zu bytes: %s", n, sizeof(buf),
			      strerror(errno));
		else
			for (size_t pg = 0; pg < PROTNONE_PAGES; pg++)
				if (!check_page("protnone", buf + pg * PAGE, R_PROTNONE, pg, false))
					break;
		close(fd);
	}

	for (size_t pg = 0; pg < RO_PAGES; pg++)
		if (!check_page("readonly", ro + pg * PAGE, R_RO, pg, false))
			break;

	if (have_growsdown) {
		for (size_t pg = 0; pg < GROWSDOWN_PAGES - 2; pg++)
			if (!check_page("growsdown", growsdown + pg * PAGE, 0, pg, true))
				break;
		for (size_t pg = 0; pg < 2; pg++)
			if (!check_page("growsdown", growsdown + (GROWSDOWN_PAGES - 2 + pg) * PAGE,
					R_GROWSDOWN, GROWSDOWN_PAGES - 2 + pg, false))
				break;
	}

	for (size_t pg = 0; pg < PRIVFILE_PAGES; pg++) {
		bool ok = privfile_page_cowed(pg) ?
			check_page("private file (CoW'd page)", privfile + pg * PAGE,
				   R_PRIVFILE_COW, pg, false) :
			check_page("private file (file page)", privfile + pg * PAGE,
				   R_PRIVFILE_FILE, pg, false);
		if (!ok)
			break;
	}

	for (size_t pg = 0; pg < SHFILE_PAGES; pg++)
		if (!check_page("shared file", shfile + pg * PAGE, R_SHFILE, pg, false))
			break;

	for (size_t pg = 0; pg < SHANON_PAGES; pg++)
		if (!check_page("shared anonymous", shanon + pg * PAGE, R_SHANON, pg, pg >= SHANON_PAGES - 4))
			break;
	for (size_t pg = 0; pg < MEMFD_SIZE / PAGE; pg++)
		if (!check_page("memfd mapping", memfd_map + pg * PAGE, R_MEMFD, pg,
				pg >= MEMFD_SIZE / PAGE * 3 / 4))
			break;

	for (size_t pg = 0; pg < HUGE_SIZE / PAGE; pg++)
		if (!check_page("hugepage region", huge + pg * PAGE, R_HUGE, pg, false))
			break;
}

static void check_fd_path(int fd, const char *want)
{
	char link[64], got[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, got, sizeof(got) - 1);
	if (n < 0) {
		failf("fd %d: not open (%s)", fd, strerror(errno));
		return;
	}
	got[n] = '\0';
	if (strcmp(got, want))
		failf("fd %d: is '%s', expected '%s'", fd, got, want);
}

static void check_files(void)
{
	static uint8_t buf[PAGE];
	struct stat st = { 0 };
	off_t off;
	int fl;

	check_fd_path(FD_OFFSET, offset_path);
	off = lseek(FD_OFFSET, 0, SEEK_CUR);
	if (off != FILE_OFFSET)
		failf("fd %d: offset %lld, expected %d", FD_OFFSET, (long long)off, FILE_OFFSET);
	/* FD_DUP shares FD_OFFSET's description: moving one moves the other */
	if (lseek(FD_DUP, 0, SEEK_CUR) != off || lseek(FD_DUP, 777, SEEK_SET) != 777 ||
	    lseek(FD_OFFSET, 0, SEEK_CUR) != 777)
		failf("fd %d and fd %d no longer share one open file description", FD_OFFSET, FD_DUP);
	lseek(FD_OFFSET, off, SEEK_SET);
	fl = fcntl(FD_OFFSET, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		failf("fd %d: flags %#x, expected O_RDWR", FD_OFFSET, fl);
	fl = fcntl(FD_OFFSET, F_GETFD);
	if (fl != 0)
		failf("fd %d: fd flags %#x, expected no FD_CLOEXEC", FD_OFFSET, fl);

	check_fd_path(FD_APPEND, append_path);
	fl = fcntl(FD_APPEND, F_GETFL);
	if (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) != O_WRONLY)
		failf("fd %d: flags %#x, expected O_WRONLY|O_APPEND", FD_APPEND, fl);
	if (fcntl(FD_APPEND, F_GETFD) != FD_CLOEXEC)
		failf("fd %d: FD_CLOEXEC lost", FD_APPEND);

	check_fd_path(FD_CLOEXEC_FILE, offset_path);
	fl = fcntl(FD_CLOEXEC_FILE, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
		failf("fd %d: flags %#x, expected O_RDONLY", FD_CLOEXEC_FILE, fl);
	if (fcntl(FD_CLOEXEC_FILE, F_GETFD) != FD_CLOEXEC)
		failf("fd %d: FD_CLOEXEC lost", FD_CLOEXEC_FILE);
	if (lseek(FD_CLOEXEC_FILE, 0, SEEK_CUR) != 0)
		failf("fd %d: offset is not 0", FD_CLOEXEC_FILE);

	/* memfd: same object as the mapping, content through the fd too */
	check_fd_path(FD_MEMFD, "/memfd:dumpee-memfd (deleted)");
	off = lseek(FD_MEMFD, 0, SEEK_END);
	if (off != (off_t)MEMFD_SIZE)
		failf("memfd: size %lld, expected %lu", (long long)off, MEMFD_SIZE);
	for (size_t pg = 0; pg < MEMFD_SIZE / PAGE; pg += 17) {
		if (pread(FD_MEMFD, buf, PAGE, pg * PAGE) != (ssize_t)PAGE) {
			failf("memfd: pread page %zu: %s", pg, strerror(errno));
			break;
		}
		if (!check_page("memfd via fd", buf, R_MEMFD, pg, pg >= MEMFD_SIZE / PAGE * 3 / 4))
			break;
	}
	/* a write through the fd must show in the mapping: one object, not two copies */
	buf[0] = 0x5a;
	if (pwrite(FD_MEMFD, buf, 1, MEMFD_SIZE - PAGE) != 1 || memfd_map[MEMFD_SIZE - PAGE] != 0x5a)
		failf("memfd: fd and mapping are not the same object");

	/* the sealed memfd: same seals, same size, same bytes, zeroes after its end */
	if (fcntl(FD_SEALED, F_GET_SEALS) != SEALED_SEALS)
		failf("sealed memfd: seals %#x, expected %#x", fcntl(FD_SEALED, F_GET_SEALS), SEALED_SEALS);
	if (fstat(FD_SEALED, &st) < 0 || st.st_size != (off_t)SEALED_LEN)
		failf("sealed memfd: size %lld, expected %lu", (long long)st.st_size, (unsigned long)SEALED_LEN);
	for (size_t i = 0; i < 2 * PAGE; i++)
		if (sealed_map[i] != (i < SEALED_LEN ? (uint8_t)(i * 7 + 3) : 0)) {
			failf("sealed memfd: byte %zu is %#x", i, sealed_map[i]);
			break;
		}

	if (hold_pipe) {
		char buf[8] = "";

		if (read(FD_PIPE_R, buf, 5) != 5 || memcmp(buf, "hello", 5))
			failf("pipe: the 5 bytes in flight are gone or changed ('%.5s')", buf);
		else if (write(FD_PIPE_W, "x", 1) != 1 || read(FD_PIPE_R, buf, 1) != 1 || buf[0] != 'x')
			failf("pipe: does not work any more");
		else if ((fcntl(FD_PIPE_RW, F_GETFL) & O_ACCMODE) != O_RDWR)
			failf("pipe: fd %d is no longer O_RDWR (flags %#x)", FD_PIPE_RW, fcntl(FD_PIPE_RW, F_GETFL));
		else if (write(FD_PIPE_RW, "y", 1) != 1 || read(FD_PIPE_R, buf, 1) != 1 || buf[0] != 'y' ||
			 write(FD_PIPE_W, "z", 1) != 1 || read(FD_PIPE_RW, buf, 1) != 1 || buf[0] != 'z')
			failf("pipe: its O_RDWR fd %d does not read and write the same pipe", FD_PIPE_RW);
		else if ((fcntl(FD_PIPE_ONLY_RW, F_GETFL) & O_ACCMODE) != O_RDWR ||
			 read(FD_PIPE_ONLY_RW, buf, 2) != 2 || memcmp(buf, "rw", 2) ||
			 write(FD_PIPE_ONLY_RW, "q", 1) != 1 || read(FD_PIPE_ONLY_RW, buf, 1) != 1 || buf[0] != 'q')
			failf("pipe: fd %d, the only one on its pipe, O_RDWR, lost its bytes or an end", FD_PIPE_ONLY_RW);
	}
}

static void check_signals(void)
{
	sigset_t pend, blocked;
	siginfo_t si;
	struct timespec zero = { 0, 0 };
	struct itimerval it;
	unsigned long a0;
	uint64_t t0;

	if (!got_usr1)
		failf("signals: SIGUSR1 handler did not run");

	if (sigprocmask(SIG_BLOCK, NULL, &blocked) < 0 || !sigismember(&blocked, SIGUSR2) ||
	    !sigismember(&blocked, SIGRTMIN + 1))
		failf("signals: SIGUSR2/SIGRTMIN+1 no longer blocked");
	if (sigismember(&blocked, SIGALRM) || sigismember(&blocked, SIGUSR1))
		failf("signals: SIGALRM or SIGUSR1 became blocked");
	if (sigpending(&pend) < 0 || !sigismember(&pend, SIGUSR2))
		failf("signals: SIGUSR2 no longer pending");
	else if (!sigismember(&pend, SIGRTMIN + 1))
		failf("signals: SIGRTMIN+1 no longer pending");

	/* which queue: SIGUSR2 the main thread's own, SIGRTMIN+1 the process's */
	{
		static char st[4096];
		unsigned long long sigpnd = 0, shdpnd = 0;
		const char *p;

		if (read_file("/proc/self/status", st, sizeof(st)) > 0) {
			p = strstr(st, "\nSigPnd:");
			if (p)
				sigpnd = strtoull(p + 8, NULL, 16);
			p = strstr(st, "\nShdPnd:");
			if (p)
				shdpnd = strtoull(p + 8, NULL, 16);
		}
		if (!(sigpnd & (1ULL << (SIGUSR2 - 1))))
			failf("signals: SIGUSR2 not in the main thread's queue (SigPnd %llx)", sigpnd);
		if (!(shdpnd & (1ULL << (SIGRTMIN + 1 - 1))))
			failf("signals: SIGRTMIN+1 not in the process queue (ShdPnd %llx)", shdpnd);
	}

	/* consuming them shows the siginfo survived too */
	{
		sigset_t one;

		sigemptyset(&one);
		sigaddset(&one, SIGUSR2);
		if (sigtimedwait(&one, &si, &zero) != SIGUSR2)
			failf("signals: cannot take pending SIGUSR2");
		else if (si.si_code > 0 || si.si_pid != pid_expected)
			failf("signals: SIGUSR2 siginfo code %d pid %d, expected one sent by %d",
			      si.si_code, si.si_pid, pid_expected);
		sigemptyset(&one);
		sigaddset(&one, SIGRTMIN + 1);
		if (sigtimedwait(&one, &si, &zero) != SIGRTMIN + 1)
			failf("signals: cannot take pending SIGRTMIN+1");
		else if (si.si_code != SI_QUEUE || si.si_value.sival_int != 4242)
			failf("signals: SIGRTMIN+1 siginfo code %d value %d, expected SI_QUEUE 4242",
			      si.si_code, si.si_value.sival_int);
	}

	/* the sigaction of SIGALRM kept its mask and flags */
	{
		struct sigaction sa;

		if (sigaction(SIGALRM, NULL, &sa) < 0 || sa.sa_handler != on_alrm ||
		    !(sa.sa_flags & SA_RESTART) || !sigismember(&sa.sa_mask, SIGUSR1))
			failf("signals: SIGALRM sigaction changed");
	}

	/* the itimer: still 10 ms, and the handler keeps counting */
	if (getitimer(ITIMER_REAL, &it) < 0 || it.it_interval.tv_sec != 0 ||
	    it.it_interval.tv_usec != 10000)
		failf("itimer: interval is %ld.%06ld, expected 0.010000",
		      (long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec);
	a0 = alarms;
	t0 = now_ms();
	while (alarms < a0 + 5 && now_ms() - t0 < 2000)
		sleep_ms(10);
	if (alarms < a0 + 5)
		failf("itimer: SIGALRM counter went from %lu to %lu in 2 s", a0, alarms);
}

static void check_threads(void)
{
	static char dbuf[8192];
	unsigned long before[NTHREADS];
	pid_t seen[NTHREADS + 2];
	int nseen = 0, gen;
	uint64_t t0;
	int dfd;

	if (getpid() != pid_expected)
		failf("pid: getpid() %d, expected %d", getpid(), pid_expected);
	if (my_gettid() != pid_expected)
		failf("pid: main thread gettid() %d, expected %d", my_gettid(), pid_expected);

	/* /proc/self/task lists exactly our tids (getdents64: opendir() would malloc) */
	dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		long n;

		while ((n = syscall(SYS_getdents64, dfd, dbuf, sizeof(dbuf))) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(dbuf + off);

				if (d->d_name[0] != '.' && nseen < NTHREADS + 2)
					seen[nseen++] = atoi(d->d_name);
				off += d->d_reclen;
			}
		}
		close(dfd);
	}
	if (nseen != NTHREADS + 1)
		failf("threads: /proc/self/task has %d entries, expected %d", nseen, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++) {
		bool found = false;

		for (int j = 0; j < nseen; j++)
			found |= seen[j] == workers[i].tid;
		if (!found)
			failf("threads: tid %d (thread %d) is gone", workers[i].tid, i);
	}

	/* each thread runs its own checks (tid, TLS, name, altstack, rseq) */
	for (int i = 0; i < NTHREADS; i++)
		before[i] = workers[i].counter;
	gen = workers[0].check_gen + 1;
	for (int i = 0; i < NTHREADS; i++)
		workers[i].check_gen = gen;
	t0 = now_ms();
	for (int i = 0; i < NTHREADS; i++) {
		while (__atomic_load_n(&workers[i].done_gen, __ATOMIC_ACQUIRE) != gen &&
		       now_ms() - t0 < 5000)
			sleep_ms(5);
		if (workers[i].done_gen != gen)
			failf("threads: thread %d (tid %d) did not answer in 5 s", i, workers[i].tid);
		else if (workers[i].fail[0])
			failf("%s", workers[i].fail);
		else if (workers[i].counter == before[i])
			failf("threads: thread %d counter did not advance", i);
	}

	{
		char fail[256] = "";
		stack_t ss;

		if (!check_rseq("main thread", fail, sizeof(fail)))
			failf("%s", fail);
		/* a signal stack it did not have is one to crash on (a root forked from memdump gets memdump's) */
		if (sigaltstack(NULL, &ss) < 0 || ss.ss_sp != main_altstack.ss_sp ||
		    ss.ss_size != main_altstack.ss_size || ss.ss_flags != main_altstack.ss_flags)
			failf("main thread: sigaltstack is sp=%p size=%zu flags=%#x, expected sp=%p size=%zu flags=%#x",
			      ss.ss_sp, ss.ss_size, ss.ss_flags, main_altstack.ss_sp, main_altstack.ss_size,
			      main_altstack.ss_flags);
	}
}

static void check_misc(void)
{
	struct rlimit rl;
	char cwd[PATH_MAX];

	{
		char comm[32];

		if (read_file("/proc/self/comm", comm, sizeof(comm)) < 0 || strcmp(comm, comm_expected))
			failf("comm: main thread is '%.*s', expected '%.*s'", (int)strcspn(comm, "\n"),
			      comm, (int)strcspn(comm_expected, "\n"), comm_expected);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != NOFILE_SOFT)
		failf("rlimit: RLIMIT_NOFILE soft %llu, expected %d", (unsigned long long)rl.rlim_cur,
		      NOFILE_SOFT);
	if (!getcwd(cwd, sizeof(cwd)))
		failf("cwd: getcwd: %s", strerror(errno));
	else if (strcmp(cwd, cwd_expected))
		failf("cwd: is '%s', expected '%s'", cwd, cwd_expected);
}

static void check_hugepage_flag(void)
{
	bool hg;

	if (!smaps_has_flag((uintptr_t)huge, "hg", &hg))
		failf("hugepage region: not found in smaps");
	else if (!hg)
		failf("hugepage region: VmFlags lost 'hg' (MADV_HUGEPAGE)");
	/* backed by huge pages again where it was before (and the kernel can) */
	if (smaps_anon_huge_kb((uintptr_t)huge) < huge_kb_at_setup)
		failf("hugepage region: AnonHugePages %ld kB, it had %ld kB", smaps_anon_huge_kb((uintptr_t)huge),
		      huge_kb_at_setup);
}

/* ---- eventfds, signalfd, timerfds ------------------------------------------------------- */

enum { FD_EV_SEM = 140, FD_EV_BIG, FD_SIG, FD_TM_PERIODIC, FD_TM_OFF, FD_TM_ABS, FD_TM_TICKS };
#define EV_BIG 0x123456789ULL
#define SIG_FD_SIGNAL (SIGRTMIN + 5)

static void place(int fd, int at)
{
	if (fd < 0 || dup3(fd, at, O_CLOEXEC) < 0 || close(fd) < 0)
		die_setup("anon fd");
}

/* before the threads start: they inherit the block of SIG_FD_SIGNAL */
static void setup_anon_fds(void)
{
	struct itimerspec periodic = { { 0, 50000000 }, { 0, 50000000 } };
	struct itimerspec once = { { 0, 0 }, { 0, 1000000 } };
	struct itimerspec abs = { { 0, 0 }, { time(NULL) + 3600, 0 } };
	uint64_t big = EV_BIG, n;
	sigset_t set;
	int fd;

	place(eventfd(7, EFD_SEMAPHORE | EFD_NONBLOCK), FD_EV_SEM);
	fd = eventfd(0, EFD_NONBLOCK);
	if (fd < 0 || write(fd, &big, sizeof(big)) != sizeof(big))
		die_setup("eventfd");
	place(fd, FD_EV_BIG);
	if (fcntl(FD_EV_BIG, F_SETFD, 0) < 0)	/* this one survives exec */
		die_setup("fcntl");

	sigemptyset(&set);
	sigaddset(&set, SIG_FD_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die_setup("sigprocmask");
	place(signalfd(-1, &set, SFD_NONBLOCK), FD_SIG);

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (fd < 0 || timerfd_settime(fd, 0, &periodic, NULL) < 0)
		die_setup("timerfd");
	place(fd, FD_TM_PERIODIC);
	place(timerfd_create(CLOCK_BOOTTIME, 0), FD_TM_OFF);
	fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME, &abs, NULL) < 0)
		die_setup("timerfd");
	place(fd, FD_TM_ABS);
	/* one expiration, not read: it must still be there to read after a restore */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (fd < 0 || timerfd_settime(fd, 0, &once, NULL) < 0)
		die_setup("timerfd");
	place(fd, FD_TM_TICKS);
	sleep_ms(5);
	/* the periodic timer ran: throw away what it counted so far */
	if (read(FD_TM_PERIODIC, &n, sizeof(n)) < 0 && errno != EAGAIN)
		die_setup("read timerfd");
}

/* "key: value" of /proc/self/fdinfo/FD into buf, "" if missing */
static void fdinfo_line(int fd, const char *key, char *buf, size_t len)
{
	static char info[4096];
	char path[64];
	const char *l;
	int r;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	r = read_file(path, info, sizeof(info));
	if (r < 0)
		return;
	for (l = info; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, strlen(key)) && l[strlen(key)] == ':') {
			snprintf(buf, len, "%.*s", (int)strcspn(l, "\n"), l);
			return;
		}
}

static void check_anon_fds(void)
{
	struct signalfd_siginfo si;
	struct itimerspec it;
	char line[128];
	uint64_t n;
	int fl;

	for (int i = 0; i < 7; i++)
		if (read(FD_EV_SEM, &n, sizeof(n)) != sizeof(n) || n != 1) {
			failf("eventfd %d: read %d of 7 failed or gave %llu (semaphore)", FD_EV_SEM, i + 1,
			      (unsigned long long)n);
			break;
		}
	if (read(FD_EV_SEM, &n, sizeof(n)) >= 0 || errno != EAGAIN)
		failf("eventfd %d: more than 7, or blocking", FD_EV_SEM);
	if (read(FD_EV_BIG, &n, sizeof(n)) != sizeof(n) || n != EV_BIG)
		failf("eventfd %d: counter %#llx, want %#llx", FD_EV_BIG, (unsigned long long)n, EV_BIG);
	fl = fcntl(FD_EV_BIG, F_GETFD);
	if (fl < 0 || fl & FD_CLOEXEC || !(fcntl(FD_EV_SEM, F_GETFD) & FD_CLOEXEC))
		failf("eventfds: close-on-exec flags changed");

	fdinfo_line(FD_SIG, "sigmask", line, sizeof(line));
	if (strcmp(line, "sigmask:\t0000004000000000"))	/* SIGRTMIN + 5 = 39: bit 38 */
		failf("signalfd %d: '%s'", FD_SIG, line);
	if (syscall(SYS_tgkill, getpid(), my_gettid(), SIG_FD_SIGNAL) < 0 ||
	    read(FD_SIG, &si, sizeof(si)) != sizeof(si) || (int)si.ssi_signo != SIG_FD_SIGNAL)
		failf("signalfd %d: does not read signal %d", FD_SIG, SIG_FD_SIGNAL);

	fdinfo_line(FD_TM_PERIODIC, "it_interval", line, sizeof(line));
	if (strcmp(line, "it_interval: (0, 50000000)"))
		failf("timerfd %d: '%s'", FD_TM_PERIODIC, line);
	sleep_ms(60);
	if (read(FD_TM_PERIODIC, &n, sizeof(n)) != sizeof(n) || n < 1)
		failf("timerfd %d: did not expire again", FD_TM_PERIODIC);
	fdinfo_line(FD_TM_OFF, "clockid", line, sizeof(line));
	if (strcmp(line, "clockid: 7") || timerfd_gettime(FD_TM_OFF, &it) < 0 || it.it_value.tv_sec ||
	    it.it_value.tv_nsec || !(fcntl(FD_TM_OFF, F_GETFL) >= 0) || fcntl(FD_TM_OFF, F_GETFL) & O_NONBLOCK)
		failf("timerfd %d: not a disarmed blocking CLOCK_BOOTTIME timer ('%s')", FD_TM_OFF, line);
	fdinfo_line(FD_TM_ABS, "settime flags", line, sizeof(line));
	if (strcmp(line, "settime flags: 01") || timerfd_gettime(FD_TM_ABS, &it) < 0 ||
	    it.it_value.tv_sec < 3000 || it.it_value.tv_sec > 3600)
		failf("timerfd %d: not absolute, or not due in an hour ('%s', %lld s)", FD_TM_ABS, line,
		      (long long)it.it_value.tv_sec);
	if (read(FD_TM_TICKS, &n, sizeof(n)) != sizeof(n) || n != 1)
		failf("timerfd %d: %llu expirations to read, want 1", FD_TM_TICKS, (unsigned long long)n);
}

/* ---- epoll: an interest list, a fired one-shot item, an epoll fd inside another -------- */

enum { FD_EP = 147, FD_EP_NESTED, FD_EP_PIPE_R, FD_EP_PIPE_W, FD_EP_EV, FD_EP_MORE, FD_EP_WAS, FD_EP_NOW };
#define EP_EV_DATA 0xa1a1a1a1b2b2b2b2ULL
#define EP_SIG_DATA 0x5160
#define EP_MOVED_DATA 0x3c3c

static void ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die_setup("epoll_ctl");
}

/*
 * FD_EP watches a readable eventfd (level-triggered), the write end of a
 * pipe (one-shot, fired here) and its read end (edge-triggered, data
 * waiting); FD_EP_NESTED watches FD_EP.
 */
static void setup_epoll(void)
{
	struct epoll_event ev[8];
	int p[2], n;

	place(epoll_create1(0), FD_EP);
	if (fcntl(FD_EP, F_SETFD, 0) < 0)	/* this one survives exec */
		die_setup("fcntl");
	place(epoll_create1(EPOLL_CLOEXEC), FD_EP_NESTED);
	if (pipe(p) < 0)
		die_setup("pipe");
	place(p[0], FD_EP_PIPE_R);
	place(p[1], FD_EP_PIPE_W);
	place(eventfd(1, EFD_NONBLOCK), FD_EP_EV);
	ep_add(FD_EP, FD_EP_PIPE_W, EPOLLOUT | EPOLLONESHOT, FD_EP_PIPE_W);
	n = epoll_wait(FD_EP, ev, 8, 0);
	if (n != 1 || ev[0].data.u64 != FD_EP_PIPE_W)
		die_setup("epoll_wait: the one-shot item did not fire");
	if (write(FD_EP_PIPE_W, "e", 1) != 1)
		die_setup("write");
	ep_add(FD_EP, FD_EP_PIPE_R, EPOLLIN | EPOLLET, FD_EP_PIPE_R);
	ep_add(FD_EP, FD_EP_EV, EPOLLIN, EP_EV_DATA);
	ep_add(FD_EP_NESTED, FD_EP, EPOLLIN, FD_EP);
	/*
	 * FD_EP_MORE watches the signalfd, whose item only this process can add
	 * back (a signalfd polls its poller's signals), and an eventfd added as
	 * FD_EP_WAS and since moved to FD_EP_NOW: its item is still keyed by
	 * FD_EP_WAS, a number this process no longer has.
	 */
	place(epoll_create1(EPOLL_CLOEXEC), FD_EP_MORE);
	place(eventfd(0, EFD_NONBLOCK), FD_EP_WAS);
	ep_add(FD_EP_MORE, FD_SIG, EPOLLIN, EP_SIG_DATA);
	ep_add(FD_EP_MORE, FD_EP_WAS, EPOLLIN, EP_MOVED_DATA);
	if (dup2(FD_EP_WAS, FD_EP_NOW) < 0 || close(FD_EP_WAS) < 0)
		die_setup("dup2");
}

/* the ready items of ep now, as a bit per fd of FD_EP_* (eventfd: by its data) */
static unsigned ep_ready(int ep, uint32_t *events_of_ev)
{
	struct epoll_event ev[8];
	unsigned got = 0;
	int n = epoll_wait(ep, ev, 8, 0);

	for (int i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;

		if (d == EP_EV_DATA) {
			got |= 1u << (FD_EP_EV - FD_EP);
			*events_of_ev = ev[i].events;
		} else if (d >= FD_EP && d <= FD_EP_PIPE_W) {
			got |= 1u << (d - FD_EP);
		} else {
			got |= 1u << 31;	/* data we never gave */
		}
	}
	return got;
}

#define EPB(fd) (1u << ((fd) - FD_EP))

/* FD_EP_MORE: nothing ready; then a signal and a write make both its items ready */
static void check_epoll_more(void)
{
	struct epoll_event ev[4];
	struct signalfd_siginfo si;
	struct stat st;
	static char info[4096];
	char want[64], path[64];
	const char *l = NULL;
	bool sig = false, moved = false;
	uint64_t one = 1;
	int n;

	if (fstat(FD_EP_NOW, &st) < 0 || fcntl(FD_EP_WAS, F_GETFD) >= 0)
		failf("epoll %d: fd %d is gone or fd %d is open", FD_EP_MORE, FD_EP_NOW, FD_EP_WAS);
	/* fdinfo: "tfd: %8d events: ... ino:%lx" */
	snprintf(want, sizeof(want), "tfd: %8d ", FD_EP_WAS);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", FD_EP_MORE);
	if (read_file(path, info, sizeof(info)) < 0 || !(l = strstr(info, want)))
		failf("epoll %d: no item on fd %d", FD_EP_MORE, FD_EP_WAS);
	snprintf(want, sizeof(want), "ino:%lx ", (unsigned long)st.st_ino);
	if (l && (!strstr(l, want) || strstr(l, want) > strchr(l, '\n')))
		failf("epoll %d: the item on fd %d is '%.*s', want %s", FD_EP_MORE, FD_EP_WAS, (int)strcspn(l, "\n"), l,
		      want);
	n = epoll_wait(FD_EP_MORE, ev, 4, 0);
	if (n != 0)
		failf("epoll %d: %d item(s) ready before anything happened", FD_EP_MORE, n);
	if (syscall(SYS_tgkill, getpid(), my_gettid(), SIG_FD_SIGNAL) < 0 ||
	    write(FD_EP_NOW, &one, sizeof(one)) != sizeof(one))
		failf("epoll %d: cannot signal or write", FD_EP_MORE);
	n = epoll_wait(FD_EP_MORE, ev, 4, 0);
	for (int i = 0; i < n; i++) {
		sig |= ev[i].data.u64 == EP_SIG_DATA;
		moved |= ev[i].data.u64 == EP_MOVED_DATA;
	}
	if (n != 2 || !sig || !moved)
		failf("epoll %d: %d item(s) ready, the signalfd's %s, the moved eventfd's %s", FD_EP_MORE, n,
		      sig ? "among them" : "not", moved ? "among them" : "not");
	if (read(FD_SIG, &si, sizeof(si)) != sizeof(si) || read(FD_EP_NOW, &one, sizeof(one)) != sizeof(one))
		failf("epoll %d: cannot read the signal or the eventfd back", FD_EP_MORE);
}

static void check_epoll(void)
{
	struct epoll_event mod = { .events = EPOLLOUT, .data.u64 = FD_EP_PIPE_W };
	uint32_t evs = 0;
	unsigned got;

	/* the nested one first: reading FD_EP takes its edge-triggered item */
	got = ep_ready(FD_EP_NESTED, &evs);
	if (got != EPB(FD_EP))
		failf("epoll %d: ready items %#x, want only epoll %d", FD_EP_NESTED, got, FD_EP);
	got = ep_ready(FD_EP, &evs);
	if (got != (EPB(FD_EP_EV) | EPB(FD_EP_PIPE_R)) || evs != EPOLLIN)
		failf("epoll %d: ready items %#x (eventfd events %#x), want the eventfd and the pipe's read end",
		      FD_EP, got, evs);
	got = ep_ready(FD_EP, &evs);
	if (got != EPB(FD_EP_EV))
		failf("epoll %d: ready items %#x the second time, want the level-triggered eventfd only", FD_EP,
		      got);
	/* items are keyed by fd number: modify and delete them by theirs */
	if (epoll_ctl(FD_EP, EPOLL_CTL_MOD, FD_EP_PIPE_W, &mod) < 0)
		failf("epoll %d: EPOLL_CTL_MOD of fd %d: %s", FD_EP, FD_EP_PIPE_W, strerror(errno));
	else if (!(ep_ready(FD_EP, &evs) & EPB(FD_EP_PIPE_W)))
		failf("epoll %d: the re-armed one-shot item of fd %d is not ready", FD_EP, FD_EP_PIPE_W);
	if (epoll_ctl(FD_EP, EPOLL_CTL_DEL, FD_EP_EV, NULL) < 0)
		failf("epoll %d: EPOLL_CTL_DEL of fd %d: %s", FD_EP, FD_EP_EV, strerror(errno));
	if (epoll_ctl(FD_EP_NESTED, EPOLL_CTL_DEL, FD_EP, NULL) < 0)
		failf("epoll %d: EPOLL_CTL_DEL of fd %d: %s", FD_EP_NESTED, FD_EP, strerror(errno));
	if (!(fcntl(FD_EP_NESTED, F_GETFD) & FD_CLOEXEC) || fcntl(FD_EP, F_GETFD) & FD_CLOEXEC)
		failf("epoll fds: close-on-exec flags changed");
	check_epoll_more();
}

static int run_checks(void)
{
	/* first, before anything could disturb the address space */
	check_maps();
	check_memory();
	check_hugepage_flag();
	check_threads();
	check_files();
	check_signals();
	check_anon_fds();
	check_epoll();
	check_misc();

	if (!nfail) {
		write_status("OK\n");
		return 0;
	}
	write_status(result);
	fputs(result, stderr);
	return 1;
}

/* ---- deliberate corruption, to prove the checks can fail ---------------------------------- */

static int corrupt(const char *what)
{
	if (!strcmp(what, "anon")) {
		anon[5 * PAGE + 100] ^= 1;
	} else if (!strcmp(what, "eventfd")) {
		uint64_t n;

		if (read(FD_EV_SEM, &n, sizeof(n)) != sizeof(n))
			return -1;
	} else if (!strcmp(what, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = FD_EP_EV };

		if (epoll_ctl(FD_EP, EPOLL_CTL_MOD, FD_EP_EV, &ev) < 0)
			return -1;
	} else if (!strcmp(what, "anon-zero")) {
		anon[3 * PAGE + 5] = 1;
	} else if (!strcmp(what, "protnone")) {
		int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		uint8_t b;

		if (fd < 0 || pread(fd, &b, 1, (off_t)(uintptr_t)protnone + 9000) != 1)
			return -1;
		b ^= 0x80;
		if (pwrite(fd, &b, 1, (off_t)(uintptr_t)protnone + 9000) != 1)
			return -1;
		close(fd);
	} else if (!strcmp(what, "privfile")) {
		privfile[4 * PAGE + 1] ^= 1;		/* CoWs an untouched page */
	} else if (!strcmp(what, "shanon")) {
		shanon[3 * PAGE + 5] ^= 0x10;
	} else if (!strcmp(what, "memfd")) {
		memfd_map[MEMFD_SIZE - 1] = 1;		/* in the hole */
	} else if (!strcmp(what, "huge")) {
		huge[HUGE_SIZE - 1] ^= 1;
	} else if (!strcmp(what, "thp")) {
		/* same bytes, but the first huge page split into small ones */
		static uint8_t page[PAGE];

		memcpy(page, huge, PAGE);
		madvise(huge, PAGE, MADV_DONTNEED);
		memcpy(huge, page, PAGE);
	} else if (!strcmp(what, "offset")) {
		lseek(FD_OFFSET, 1, SEEK_CUR);
	} else if (!strcmp(what, "rlimit")) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur--;
		setrlimit(RLIMIT_NOFILE, &rl);
	} else if (!strcmp(what, "cwd")) {
		if (chdir("..") < 0)
			return -1;
	} else if (!strcmp(what, "comm")) {
		pthread_setname_np(pthread_self(), "renamed");
	} else if (!strcmp(what, "sigpending")) {
		sigset_t one;
		struct timespec zero = { 0, 0 };

		sigemptyset(&one);
		sigaddset(&one, SIGUSR2);
		sigtimedwait(&one, NULL, &zero);
	} else if (!strcmp(what, "maps")) {
		if (mprotect(protnone, PAGE, PROT_READ) < 0)
			return -1;
	} else if (!strcmp(what, "tls")) {
		uint64_t t0 = now_ms();

		workers[1].corrupt_tls = 1;	/* only the thread can reach its own TLS */
		while (workers[1].corrupt_tls != 2 && now_ms() - t0 < 5000)
			sleep_ms(1);
	} else if (!strcmp(what, "altstack")) {
		/* the main thread on a signal stack it did not have */
		stack_t ss = { .ss_sp = main_altstack_mem, .ss_size = sizeof(main_altstack_mem) };

		if (sigaltstack(&ss, NULL) < 0)
			return -1;
	} else if (!strcmp(what, "rseq")) {
		/* unregister main's rseq: the kernel stops updating the area */
		struct rseq *rs = my_rseq();

		/* the length must be the one glibc registered: 32 in older glibc, else __rseq_size */
		if (!rs || (syscall(SYS_rseq, rs, 32, 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG) < 0 &&
			    syscall(SYS_rseq, rs, __rseq_size, 1, RSEQ_SIG) < 0))
			return -1;
	} else if (!strcmp(what, "itimer")) {
		struct itimerval it = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &it, NULL);
	} else {
		fprintf(stderr, "dumpee_full: unknown corruption '%s'\n", what);
		return -1;
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: dumpee_full [-m wait|selftest|corrupt] [-c WHAT] [-p] [-T SECS] "
			"STATUS TMPDIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = "anon";
	long timeout_s = 300;
	char ready[64];
	uint64_t t0;
	int opt, r;

	while ((opt = getopt(argc, argv, "m:c:puT:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		case 'p':
			hold_pipe = true;
			break;
		case 'u':
			hold_unknown = true;
			break;
		case 'T':
			timeout_s = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (strcmp(mode, "wait") && strcmp(mode, "selftest") && strcmp(mode, "corrupt"))
		usage();
	status_path = argv[optind];
	if (status_path[0] != '/' || !realpath(argv[optind + 1], tmpdir)) {
		fprintf(stderr, "dumpee_full: STATUS must be absolute and TMPDIR must exist\n");
		return 2;
	}
	pid_expected = getpid();
	/* an inherited pipe from whoever started us would make every dump fail */
	syscall(SYS_close_range, 3U, ~0U, 0U);

	setup_memory();
	setup_files();
	setup_misc();
	if (sigaltstack(NULL, &main_altstack) < 0)
		die_setup("sigaltstack query");
	setup_signals();
	setup_anon_fds();
	setup_epoll();
	for (int i = 0; i < NTHREADS; i++) {
		workers[i].idx = i;
		if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]))
			die_setup("pthread_create");
	}
	t0 = now_ms();
	for (int i = 0; i < NTHREADS; i++)
		while (!workers[i].tid || !workers[i].counter) {
			if (now_ms() - t0 > 10000) {
				errno = ETIMEDOUT;
				die_setup("threads do not start");
			}
			sleep_ms(1);
		}
	/* the threads had their first round: their setup (sigaltstack, names) is done */
	sleep_ms(20);

	/* everything is mapped: from here on nothing may map or grow the heap */
	r = read_file("/proc/self/maps", maps_snapshot, sizeof(maps_snapshot));
	if (r < 0) {
		errno = -r;
		die_setup("read maps");
	}
	maps_snapshot_len = r;

	if (!strcmp(mode, "selftest")) {
		got_usr1 = 1;
		return run_checks();
	}
	if (!strcmp(mode, "corrupt")) {
		got_usr1 = 1;
		if (corrupt(what) < 0) {
			errno = EINVAL;
			die_setup("corrupt");
		}
		return run_checks();
	}

	snprintf(ready, sizeof(ready), "READY %d\n", pid_expected);
	if (write_status(ready) < 0)
		die_setup("write status");
	t0 = now_ms();
	while (!got_usr1) {
		if (now_ms() - t0 > (uint64_t)timeout_s * 1000) {
			write_status("FAIL: timeout: no SIGUSR1\n");
			return 3;
		}
		sleep_ms(10);
	}
	return run_checks();
}
