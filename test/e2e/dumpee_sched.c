/*
 * dumpee_sched: a process whose threads are scheduled each their own way,
 * with process-wide settings, for test/e2e/run.sh. Started as root.
 *
 *   R   the leader: SCHED_OTHER at nice 7, I/O priority best-effort 6,
 *       timer slack 123456 ns, pinned to the last CPU (where there are
 *       two or more); oom_score_adj 321, a child subreaper, THP disabled
 *       except where advised (plainly disabled on kernels before 6.18),
 *       MDWE (not inherited), membarrier registrations for private and
 *       global expedited barriers, login uid 4321 (where the kernel has
 *       audit and lets root set it).
 *   T1  SCHED_FIFO priority 10, reset on fork (timer slack 0, as the
 *       kernel gives real-time threads).
 *   T2  SCHED_BATCH at nice -3, I/O priority idle, timer slack 777777 ns,
 *       pinned to CPU 0.
 *   T3  SCHED_IDLE, nice 5.
 *   T4  SCHED_DEADLINE 1 ms every 10 ms (left out, with a note on stderr,
 *       where the kernel admits no deadline thread).
 *   C   forked by R once R is set up: nice 2, THP enabled again,
 *       oom_score_adj 500, no MDWE, not a subreaper, R's membarrier
 *       registrations and login uid (a fork inherits both).
 *
 * Threads that are not pinned may run on every CPU R could at start: a
 * restore run under `taskset` must not pass its own CPUs on to them.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT leaves one thing
 * out of the setup and the check must notice it (nice, slack, ioprio, pin,
 * fifo, oom, subreaper, thp, mdwe, membarrier, childthp, childoom).
 *
 * The check, after a restore: each thread reads its own policy,
 * parameters, nice, I/O priority, timer slack, CPUs and login uid; R and C their
 * settings (and MDWE refuses a writable executable mapping in R, and
 * R's private expedited membarrier works). Writes "OK" or "FAIL: <what>"
 * to STATUS and exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_sched"
#include "dumpee.h"

#include <linux/ioprio.h>
#include <linux/membarrier.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* <linux/sched/types.h>, which clashes with glibc's struct sched_param in Debian 12 */
struct sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#define MDWE_WANT 3	/* PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT */
#define THP_EXCEPT_ADVISED 2
#define MB_GET_REGISTRATIONS (1 << 9)
#define MB_WANT (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)
#define LOGINUID 4321
#define CPU_WORDS 16

struct sched_want {
	const char *name;
	unsigned policy, flags, priority;
	int nice;
	uint64_t runtime, deadline, period;
	unsigned ioprio;
	unsigned long slack;	/* 0: real-time, the kernel's */
	int pin;		/* the CPU it is pinned to; -1: every CPU R had at start */
	const char *skip;	/* the corruption that leaves its policy out */
};

struct proc_want {
	int oom;
	bool subreaper;
	unsigned thp, mdwe, membarrier;
};

enum { R, T1, T2, T3, T4, NTASKS };

static struct sched_want want[NTASKS] = {
	[R] = { "R", SCHED_NORMAL, 0, 0, 7, 0, 0, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6), 123456, -1, NULL },
	[T1] = { "T1", SCHED_FIFO, SCHED_FLAG_RESET_ON_FORK, 10, 0, 0, 0, 0, 0, 0, -1, "fifo" },
	[T2] = { "T2", SCHED_BATCH, 0, 0, -3, 0, 0, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0), 777777, 0, NULL },
	[T3] = { "T3", SCHED_IDLE, 0, 0, 5, 0, 0, 0, 0, 50000, -1, NULL },
	[T4] = { "T4", SCHED_DEADLINE, 0, 0, 0, 1000000, 10000000, 10000000, 0, 0, -1, NULL },
};
static struct proc_want r_want = { 321, true, 1, MDWE_WANT, MB_WANT };
static struct proc_want c_want = { 500, false, 0, 0, MB_WANT };

static volatile sig_atomic_t got_usr1;
static const char *corruption = "";
static uint64_t all_cpus[CPU_WORDS];	/* R's at start */
static bool dl_ok = true, loginuid_ok;
static int ready_pipe[2], go_pipe[NTASKS][2], done_pipe[2], c_pipe[2];
static char *c_msg;	/* C's failure, shared */

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static bool corrupt(const char *what)
{
	return !strcmp(corruption, what);
}

static int gettid_(void)
{
	return (int)syscall(SYS_gettid);
}

static int set_pin(int cpu)
{
	uint64_t mask[CPU_WORDS];

	if (cpu < 0)
		memcpy(mask, all_cpus, sizeof(mask));
	else {
		memset(mask, 0, sizeof(mask));
		mask[cpu / 64] = 1ULL << (cpu % 64);
	}
	return (int)syscall(SYS_sched_setaffinity, 0, sizeof(mask), mask);
}

/* its own scheduling, set by the thread itself: CPUs, nice, I/O priority, slack, then the policy */
static void set_sched(const struct sched_want *w)
{
	struct sched_attr a = {
		.size = sizeof(a),
		.sched_policy = w->policy,
		.sched_flags = w->flags,
		.sched_nice = w->nice,
		.sched_priority = w->priority,
		.sched_runtime = w->runtime,
		.sched_deadline = w->deadline,
		.sched_period = w->period,
	};
	char what[64];

	snprintf(what, sizeof(what), "%s: set up", w->name);
	if (!(w->pin >= 0 && corrupt("pin")) && set_pin(w->pin) < 0)
		die_setup(what);
	if (w == &want[R] && corrupt("nice"))
		a.sched_nice = 0;
	else if (setpriority(PRIO_PROCESS, (id_t)gettid_(), w->nice) < 0)
		die_setup(what);
	if (w->ioprio && !corrupt("ioprio") && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, w->ioprio) < 0)
		die_setup(what);
	if (w->slack && !corrupt("slack") && prctl(PR_SET_TIMERSLACK, w->slack) < 0)
		die_setup(what);
	if (w->skip && corrupt(w->skip))
		return;
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) {
		if (w->policy != SCHED_DEADLINE)
			die_setup(what);
		fprintf(stderr, DUMPEE_NAME ": no deadline thread here (%s): T4 left out\n", strerror(errno));
		dl_ok = false;
	}
}

/* the kernel keeps one per thread: each thread reads its own */
static bool check_loginuid(const char *name, const char *path)
{
	char buf[64] = "";
	FILE *f;

	if (!loginuid_ok)
		return true;
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	if (f)
		fclose(f);
	if (strtol(buf, NULL, 10) != LOGINUID)
		return failf("%s: login uid %s, not %d", name, buf, LOGINUID);
	return true;
}

static bool check_sched(const struct sched_want *w)
{
	struct sched_attr a;
	uint64_t mask[CPU_WORDS], expect[CPU_WORDS];
	long v;

	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0)
		return failf("%s: sched_getattr: %s", w->name, strerror(errno));
	if (a.sched_policy != w->policy || (a.sched_flags & 7) != w->flags)
		return failf("%s: policy %u flags %#llx, not %u %#x", w->name, a.sched_policy,
			     (unsigned long long)a.sched_flags, w->policy, w->flags);
	if (w->policy == SCHED_FIFO && a.sched_priority != w->priority)
		return failf("%s: priority %u, not %u", w->name, a.sched_priority, w->priority);
	if (w->policy == SCHED_DEADLINE &&
	    (a.sched_runtime != w->runtime || a.sched_deadline != w->deadline || a.sched_period != w->period))
		return failf("%s: deadline %llu/%llu/%llu", w->name, (unsigned long long)a.sched_runtime,
			     (unsigned long long)a.sched_deadline, (unsigned long long)a.sched_period);
	errno = 0;
	v = getpriority(PRIO_PROCESS, (id_t)gettid_());
	if (v != w->nice)
		return failf("%s: nice %ld, not %d", w->name, v, w->nice);
	v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	if (v != (long)w->ioprio)
		return failf("%s: I/O priority %#lx, not %#x", w->name, v, w->ioprio);
	v = prctl(PR_GET_TIMERSLACK);
	if ((unsigned long)v != w->slack)
		return failf("%s: timer slack %ld, not %lu", w->name, v, w->slack);
	memset(mask, 0, sizeof(mask));
	if (syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask) < 0)
		return failf("%s: sched_getaffinity: %s", w->name, strerror(errno));
	memcpy(expect, all_cpus, sizeof(expect));
	if (w->pin >= 0) {
		memset(expect, 0, sizeof(expect));
		expect[w->pin / 64] = 1ULL << (w->pin % 64);
	}
	if (memcmp(mask, expect, sizeof(mask)))
		return failf("%s: CPUs %#llx, not %#llx", w->name, (unsigned long long)mask[0],
			     (unsigned long long)expect[0]);
	return check_loginuid(w->name, "/proc/thread-self/loginuid");
}

static bool check_proc(const char *name, const struct proc_want *w)
{
	FILE *f;
	int v = -1, oom = -2000;
	long r;

	f = fopen("/proc/self/oom_score_adj", "r");
	if (!f || fscanf(f, "%d", &oom) != 1)
		oom = -2000;
	if (f)
		fclose(f);
	if (oom != w->oom)
		return failf("%s: oom_score_adj %d, not %d", name, oom, w->oom);
	if (prctl(PR_GET_CHILD_SUBREAPER, &v) < 0 || (v != 0) != w->subreaper)
		return failf("%s: child subreaper %d, not %d", name, v, w->subreaper);
	r = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if ((w->thp ? (r & 1) != 1 || (unsigned long)r != w->thp : r != 0))
		return failf("%s: THP disabled %#lx, not %#x", name, r, w->thp);
	r = prctl(PR_GET_MDWE, 0, 0, 0, 0);
	if (r >= 0 ? (unsigned long)r != w->mdwe : w->mdwe != 0)
		return failf("%s: MDWE %ld, not %u", name, r, w->mdwe);
	r = syscall(SYS_membarrier, MB_GET_REGISTRATIONS, 0, 0);
	if (r >= 0 && (unsigned long)r != w->membarrier)
		return failf("%s: membarrier registrations %#lx, not %#x", name, r, w->membarrier);
	if (w->membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0)
		return failf("%s: private expedited membarrier: %s", name, strerror(errno));
	if (w->mdwe) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			return failf("%s: MDWE let a writable executable mapping be made", name);
	}
	return check_loginuid(name, "/proc/self/loginuid");
}

static void *thread_main(void *arg)
{
	int i = (int)(intptr_t)arg;

	set_sched(&want[i]);
	put_byte(ready_pipe[1]);
	wait_byte(go_pipe[i][0]);
	check_sched(&want[i]);
	put_byte(done_pipe[1]);
	for (;;)
		pause();
	return NULL;
}

/* first: threads and children take it over */
static void set_loginuid(void)
{
	char buf[16];
	FILE *f = fopen("/proc/self/loginuid", "w");

	snprintf(buf, sizeof(buf), "%d", LOGINUID);
	loginuid_ok = f && fputs(buf, f) >= 0 && fclose(f) == 0;
	if (!loginuid_ok)
		fprintf(stderr, DUMPEE_NAME ": cannot set the login uid (%s): not checked\n", strerror(errno));
}

static void set_proc(const struct proc_want *w, bool child)
{
	FILE *f;

	if (!corrupt(child ? "childoom" : "oom")) {
		f = fopen("/proc/self/oom_score_adj", "w");
		if (!f || fprintf(f, "%d\n", w->oom) < 0 || fclose(f) != 0)
			die_setup("oom_score_adj");
	}
	if (child) {
		if (!corrupt("childthp") && prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0) < 0)
			die_setup("C: THP");
		return;
	}
	if (!corrupt("subreaper") && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die_setup("subreaper");
	if (!corrupt("thp")) {
		if (prctl(PR_SET_THP_DISABLE, 1, THP_EXCEPT_ADVISED, 0, 0) == 0)
			r_want.thp = 1 | THP_EXCEPT_ADVISED;
		else if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
			die_setup("THP");
	}
	if ((syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) & MB_WANT) != MB_WANT)
		die_setup("membarrier: not supported");
	if (!corrupt("membarrier") &&
	    (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0 ||
	     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) < 0))
		die_setup("membarrier");
}

static void setup(void)
{
	pthread_t th;
	long ncpu;

	set_loginuid();
	if (syscall(SYS_sched_getaffinity, 0, sizeof(all_cpus), all_cpus) < 0)
		die_setup("sched_getaffinity");
	ncpu = __builtin_popcountll(all_cpus[0]);
	if (ncpu >= 2)
		want[R].pin = 63 - __builtin_clzll(all_cpus[0]);
	if (!(all_cpus[0] & 1))
		want[T2].pin = -1;	/* no CPU 0 to pin to */
	c_msg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c_msg == MAP_FAILED || pipe(ready_pipe) < 0 || pipe(done_pipe) < 0 || pipe(c_pipe) < 0)
		die_setup("pipes");
	for (int i = T1; i < NTASKS; i++) {
		if (pipe(go_pipe[i]) < 0 || pthread_create(&th, NULL, thread_main, (void *)(intptr_t)i))
			die_setup("threads");
		wait_byte(ready_pipe[0]);
	}
	set_sched(&want[R]);
	set_proc(&r_want, false);
	/* last: nothing after it may map executable memory */
	if (!corrupt("mdwe") && prctl(PR_SET_MDWE, MDWE_WANT, 0, 0, 0) < 0)
		die_setup("MDWE");
}

static pid_t start_child(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die_setup("fork");
	if (pid)
		return pid;
	struct sched_want cw = want[R];

	cw.name = "C";
	cw.nice = 2;
	cw.pin = want[R].pin;	/* inherited from R */
	set_sched(&cw);
	set_proc(&c_want, true);
	put_byte(ready_pipe[1]);
	wait_byte(c_pipe[0]);
	if (!check_sched(&cw) || !check_proc("C", &c_want))
		snprintf(c_msg, 4096, "%s", failure);
	_exit(c_msg[0] ? 1 : 0);
}

static bool check(pid_t c)
{
	int st;

	check_sched(&want[R]);
	check_proc("R", &r_want);
	for (int i = T1; i < NTASKS; i++) {
		if (i == T4 && !dl_ok)
			continue;
		put_byte(go_pipe[i][1]);
		wait_byte(done_pipe[0]);
	}
	put_byte(c_pipe[1]);
	if (waitpid(c, &st, 0) != c)
		return failf("C: waitpid: %s", strerror(errno));
	if (c_msg[0])
		return failf("%s", c_msg);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return failf("C ended with status %#x", st);
	return !failure[0];
}

int main(int argc, char **argv)
{
	const char *mode = dumpee_args(argc, argv, &corruption);
	char buf[64];
	sigset_t set, old;
	pid_t c;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup();
	c = start_child();
	wait_byte(ready_pipe[0]);
	if (!strcmp(mode, "wait")) {
		snprintf(buf, sizeof(buf), "READY %d", (int)getpid());
		write_status(buf);
		while (!got_usr1)
			sigsuspend(&old);
	}
	return dumpee_report(check(c));
}
