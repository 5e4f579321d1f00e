/*
 * dumpee_seccomp: a tree under seccomp, for test/e2e/run.sh.
 *
 *   R  the root, no_new_privs. Filter A (synced to T1 with TSYNC):
 *      getpgid(ARG_A) fails with EPROTO, and two syscalls kill the process:
 *      getitimer() (memdump's dump runs it in every process) and munmap()
 *      of 320 KiB (memdump's restore unmaps its scratch area so): a filter
 *      that judged memdump's own syscalls would kill the tree.
 *      T1  shares A.
 *      T2  A, then filter C of its own (SECCOMP_FILTER_FLAG_LOG):
 *          getpgid(ARG_C) fails with ENOTUNIQ.
 *   Q  forked by R after A: A, then filter E, synced to its thread Q1:
 *      getpgid(ARG_E) fails with EBADFD.
 *   S  forked by R first: no filter, no no_new_privs; its thread S1 is in
 *      strict mode, echoing bytes between two pipes.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one thing
 * first (nofilter: T2 skips C; nonnp: R skips no_new_privs; notsync: Q and
 * Q1 install E each; nostrict: S1 stays out of strict mode) and the check
 * must notice. -n adds a filter that hands getpgid(ARG_N) to a supervisor
 * (SECCOMP_RET_USER_NOTIF), whose fd is closed at once: a dump must refuse.
 *
 * The check, after a restore: every thread has its seccomp mode, number of
 * filters and no_new_privs (/proc/self/task/TID/status) and gets the
 * errors its filters give (and none of the others'); S1 echoes; Q's TSYNC
 * of one more filter works (Q1 shares Q's filters), R's fails naming T2
 * (T2's filters are not R's). Writes "OK" or "FAIL: <what>" to STATUS and
 * exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_seccomp"
#include "dumpee.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* above any pid_max: getpgid() of them fails with ESRCH unless a filter says otherwise */
#define ARG_A 999999901
#define ARG_C 999999902
#define ARG_E 999999903
#define ARG_N 999999904
#define SCRATCH_LEN (65536 + 65536 * 4)	/* RESTORE_SCRATCH_SIZE */

static volatile sig_atomic_t got_usr1;
static const char *corruption = "";
static int r_filters = 1;	/* R's: A, and N with -n */

/* results of the threads and children, shared with the children (MAP_SHARED) */
struct shared {
	char msg[4][256];	/* T1, T2, Q, S */
	volatile int ready[2];	/* Q, S */
};
static struct shared *sh;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static bool corrupt(const char *what)
{
	return !strcmp(corruption, what);
}

/* a filter: for each rule, nr (with args[arg] == val if arg >= 0) returns ret; anything else is allowed */
struct rule {
	int nr, arg;
	uint32_t val, ret;
};

static int install(const struct rule *rules, size_t n, unsigned int flags)
{
	struct sock_filter f[64];
	struct sock_fprog prog = { 0, f };
	size_t k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (size_t i = 0; i < n; i++) {
		bool a = rules[i].arg >= 0;

		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)rules[i].nr, 0, a ? 3 : 1);
		if (a) {
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							      offsetof(struct seccomp_data, args[rules[i].arg]));
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, rules[i].val, 0, 1);
		}
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, rules[i].ret);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static const struct rule rules_a[] = {
	{ SYS_getpgid, 0, ARG_A, SECCOMP_RET_ERRNO | EPROTO },
	{ SYS_getitimer, -1, 0, SECCOMP_RET_KILL_PROCESS },
	{ SYS_munmap, 1, SCRATCH_LEN, SECCOMP_RET_KILL_PROCESS },
};
static const struct rule rules_c[] = { { SYS_getpgid, 0, ARG_C, SECCOMP_RET_ERRNO | ENOTUNIQ } };
static const struct rule rules_e[] = { { SYS_getpgid, 0, ARG_E, SECCOMP_RET_ERRNO | EBADFD } };
static const struct rule rules_n[] = { { SYS_getpgid, 0, ARG_N, SECCOMP_RET_USER_NOTIF } };
static const struct rule allow[] = { { SYS_getpgid, 0, 1, SECCOMP_RET_ALLOW } };

#define INSTALL(r, flags) install(r, sizeof(r) / sizeof(r[0]), flags)

/* ---- checks ---- */

/* getpgid(arg) fails with want (ESRCH: no filter acts) */
static bool expect(char *msg, const char *who, uint32_t arg, int want)
{
	long r = syscall(SYS_getpgid, (long)arg);
	int e = r < 0 ? errno : 0;

	if (e == want)
		return true;
	snprintf(msg, 256, "%s: getpgid(%u) gave %ld, errno %d (%s), not errno %d", who, arg, r, e, strerror(e),
		 want);
	return false;
}

/* the status line of tid */
static bool status_of(char *msg, const char *who, pid_t tid, int mode, int filters, int nnp)
{
	char path[64], line[256];
	int m = -1, f = -1, n = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	fp = fopen(path, "r");
	if (!fp) {
		snprintf(msg, 256, "%s: cannot open %s", who, path);
		return false;
	}
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "Seccomp: %d", &m);
		sscanf(line, "Seccomp_filters: %d", &f);
		sscanf(line, "NoNewPrivs: %d", &n);
	}
	fclose(fp);
	if (m == mode && f == filters && n == nnp)
		return true;
	snprintf(msg, 256, "%s (tid %d): seccomp %d, %d filters, no_new_privs %d; expected %d, %d, %d", who,
		 (int)tid, m, f, n, mode, filters, nnp);
	return false;
}

/* ---- threads: each waits for a byte on its pipe, checks itself, answers on done ---- */

struct worker {
	const char *name;
	int go[2], done[2];
	pid_t tid;
	char *msg;
	bool (*setup)(struct worker *);
	bool (*check)(struct worker *);
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	if (w->setup && !w->setup(w))
		snprintf(w->msg, 256, "%s: setup failed: %s", w->name, strerror(errno));
	put_byte(w->done[1]);
	for (;;) {
		wait_byte(w->go[0]);
		if (!w->msg[0])
			w->check(w);
		put_byte(w->done[1]);
	}
	return NULL;
}

static void start_worker(struct worker *w)
{
	pthread_t t;

	if (pipe2(w->go, O_CLOEXEC) < 0 || pipe2(w->done, O_CLOEXEC) < 0)
		die_setup("pipe");
	if (pthread_create(&t, NULL, worker_main, w))
		die_setup("pthread_create");
	wait_byte(w->done[0]);
	if (w->msg[0]) {
		fprintf(stderr, DUMPEE_NAME ": %s\n", w->msg);
		exit(2);
	}
}

/* run w's check in w, its result in w->msg */
static void run_worker(struct worker *w)
{
	put_byte(w->go[1]);
	wait_byte(w->done[0]);
}

static bool t2_setup(struct worker *w)
{
	(void)w;
	return corrupt("nofilter") || INSTALL(rules_c, SECCOMP_FILTER_FLAG_LOG) == 0;
}

static bool t1_check(struct worker *w)
{
	return expect(w->msg, "T1", ARG_A, EPROTO) && expect(w->msg, "T1", ARG_C, ESRCH) &&
	       expect(w->msg, "T1", ARG_E, ESRCH);
}

static bool t2_check(struct worker *w)
{
	return expect(w->msg, "T2", ARG_A, EPROTO) && expect(w->msg, "T2", ARG_C, ENOTUNIQ);
}

static bool q1_setup(struct worker *w)
{
	(void)w;
	return !corrupt("notsync") || INSTALL(rules_e, 0) == 0;
}

static bool q1_check(struct worker *w)
{
	return expect(w->msg, "Q1", ARG_A, EPROTO) && expect(w->msg, "Q1", ARG_E, EBADFD);
}

static struct worker t1 = { .name = "T1", .check = t1_check };
static struct worker t2 = { .name = "T2", .setup = t2_setup, .check = t2_check };
static struct worker q1 = { .name = "Q1", .setup = q1_setup, .check = q1_check };

/* ---- the children: each waits for SIGUSR1, checks, puts its failure in sh and exits 0 or 1 ---- */

static void wait_usr1(const sigset_t *old)
{
	while (!got_usr1)
		sigsuspend(old);
}

static int q_main(const sigset_t *old)
{
	char *msg = sh->msg[2];
	long r;

	q1.msg = msg;
	start_worker(&q1);
	if ((corrupt("notsync") ? INSTALL(rules_e, 0) : INSTALL(rules_e, SECCOMP_FILTER_FLAG_TSYNC)) != 0)
		die_setup("filter E");
	sh->ready[0] = 1;
	wait_usr1(old);
	run_worker(&q1);
	if (msg[0])
		return 1;
	if (!status_of(msg, "Q", getpid(), 2, 2, 1) || !status_of(msg, "Q1", q1.tid, 2, 2, 1) ||
	    !expect(msg, "Q", ARG_A, EPROTO) || !expect(msg, "Q", ARG_E, EBADFD) || !expect(msg, "Q", ARG_C, ESRCH))
		return 1;
	r = INSTALL(allow, SECCOMP_FILTER_FLAG_TSYNC);
	if (r != 0) {
		snprintf(msg, 256, "Q: TSYNC of one more filter gave %ld (errno %d): Q1 does not share Q's filters", r,
			 r < 0 ? errno : 0);
		return 1;
	}
	return 0;
}

/* S1: strict mode; echoes a byte from in to out, forever */
static int s_in[2], s_out[2];
static volatile pid_t s1_tid;

static void *s1_main(void *arg)
{
	char c;

	(void)arg;
	s1_tid = (pid_t)syscall(SYS_gettid);
	if (!corrupt("nostrict"))
		syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
	c = 'r';
	syscall(SYS_write, s_out[1], &c, 1);
	for (;;) {
		if (syscall(SYS_read, s_in[0], &c, 1) == 1)
			syscall(SYS_write, s_out[1], &c, 1);
	}
	return NULL;
}

static int s_main(const sigset_t *old)
{
	char *msg = sh->msg[3], c;
	struct pollfd pfd;
	pthread_t t;
	sigset_t all, mine;

	/* S1 can take no signal in strict mode: it blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &mine);
	if (pipe2(s_in, O_CLOEXEC) < 0 || pipe2(s_out, O_CLOEXEC) < 0 || pthread_create(&t, NULL, s1_main, NULL))
		die_setup("S1");
	pthread_sigmask(SIG_SETMASK, &mine, NULL);
	wait_byte(s_out[0]);
	sh->ready[1] = 1;
	wait_usr1(old);

	if (!status_of(msg, "S", getpid(), 0, 0, 0) || !status_of(msg, "S1", s1_tid, 1, 0, 0) ||
	    !expect(msg, "S", ARG_A, ESRCH))
		return 1;
	c = 'e';
	if (write(s_in[1], &c, 1) != 1) {
		snprintf(msg, 256, "S: cannot write to S1");
		return 1;
	}
	pfd = (struct pollfd){ .fd = s_out[0], .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1 || read(s_out[0], &c, 1) != 1 || c != 'e') {
		snprintf(msg, 256, "S: S1 did not echo");
		return 1;
	}
	return 0;
}

/* ---- the root ---- */

static pid_t q_pid, s_pid;

static pid_t fork_child(int (*fn)(const sigset_t *), const sigset_t *old)
{
	pid_t pid = fork();

	if (pid < 0)
		die_setup("fork");
	if (pid == 0)
		_exit(fn(old));
	return pid;
}

static bool child_result(const char *who, pid_t *pid, const char *msg)
{
	int st;

	if (kill(*pid, SIGUSR1) < 0)
		return failf("cannot signal %s (%d): %s", who, (int)*pid, strerror(errno));
	if (waitpid(*pid, &st, 0) != *pid)
		return failf("cannot wait for %s (%d): %s", who, (int)*pid, strerror(errno));
	*pid = 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return true;
	if (msg[0])
		return failf("%s", msg);
	return failf("%s ended with status %#x", who, st);
}

static void end_child(pid_t pid)
{
	if (pid > 0 && kill(pid, SIGKILL) == 0)
		waitpid(pid, NULL, 0);
}

static bool check(void)
{
	char msg[256] = "";
	long r;

	run_worker(&t1);
	run_worker(&t2);
	if (t1.msg[0] || t2.msg[0])
		return failf("%s", t1.msg[0] ? t1.msg : t2.msg);
	if (!status_of(msg, "R", getpid(), 2, r_filters, 1) || !status_of(msg, "T1", t1.tid, 2, 1, 1) ||
	    !status_of(msg, "T2", t2.tid, 2, 2, 1) || !expect(msg, "R", ARG_A, EPROTO) ||
	    !expect(msg, "R", ARG_C, ESRCH))
		return failf("%s", msg);
	r = INSTALL(allow, SECCOMP_FILTER_FLAG_TSYNC);
	if (r != t2.tid)
		return failf("R: TSYNC of one more filter gave %ld, not T2's tid %d", r, (int)t2.tid);
	return child_result("Q", &q_pid, sh->msg[2]) && child_result("S", &s_pid, sh->msg[3]);
}

static void setup(const sigset_t *old, bool notify)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die_setup("mmap");
	t1.msg = sh->msg[0];
	t2.msg = sh->msg[1];
	s_pid = fork_child(s_main, old);
	if (!corrupt("nonnp") && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die_setup("no_new_privs");
	start_worker(&t1);
	if (INSTALL(rules_a, SECCOMP_FILTER_FLAG_TSYNC) != 0)
		die_setup("filter A");
	start_worker(&t2);
	q_pid = fork_child(q_main, old);
	if (notify) {
		int fd = INSTALL(rules_n, SECCOMP_FILTER_FLAG_NEW_LISTENER);

		if (fd < 0)
			die_setup("filter N");
		close(fd);
		r_filters = 2;
	}
	for (int ms = 0; !(sh->ready[0] && sh->ready[1]); ms++) {
		if (ms == 10000) {
			errno = ETIMEDOUT;
			die_setup("children");
		}
		usleep(1000);
	}
}

int main(int argc, char **argv)
{
	const char *mode = "wait";
	bool notify = false, ok;
	char buf[600];
	sigset_t set, old;
	int c;

	while ((c = getopt(argc, argv, "m:c:n")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			corruption = optarg;
			break;
		case 'n':
			notify = true;
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: " DUMPEE_NAME " [-m wait|selftest|corrupt] [-c WHAT] [-n] STATUS\n");
		return 2;
	}
	status_path = argv[optind];
	if (strcmp(mode, "corrupt"))
		corruption = "";

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup(&old, notify);
	if (!strcmp(mode, "wait")) {
		snprintf(buf, sizeof(buf), "READY %d", (int)getpid());
		write_status(buf);
		wait_usr1(&old);
	}
	ok = check();
	/* a check that failed early left children waiting */
	end_child(q_pid);
	end_child(s_pid);
	if (ok) {
		write_status("OK");
		return 0;
	}
	snprintf(buf, sizeof(buf), "FAIL: %s", failure);
	write_status(buf);
	return 1;
}
