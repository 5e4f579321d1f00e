/*
 * dumpee_creds: a tree whose threads hold different credentials, for
 * test/e2e/run.sh. Started as root (with CAP_SETUID, CAP_SETGID and
 * CAP_SETPCAP). Each thread sets its own with raw syscalls: glibc's
 * wrappers would change every thread of the process.
 *
 *   R   the root: stays root, with supplementary groups 4299 4298; once P
 *       is forked, confined as a container's root is: MKNOD out of its
 *       bounding, permitted and effective sets. A restore must not give it
 *       back.
 *   P   forked by R:
 *       P0  its leader: uids 4242, gids 4243, groups 4244 4245, no
 *           capabilities (lost in the switch from root); dumpable set
 *           back to 1 once every thread is done.
 *       P1  a thread: uids 4250 4251 4252 (fs 4253), gids 4261 4262 4263
 *           (fs 4264), group 4260; permitted CHOWN SETUID NET_BIND_SERVICE
 *           NET_RAW, effective CHOWN, inheritable NET_BIND_SERVICE
 *           NET_RAW, ambient NET_BIND_SERVICE, SYS_BOOT and MKNOD out of
 *           its bounding set, securebits KEEP_CAPS NOROOT NOROOT_LOCKED.
 *   C   forked by P while P was root: uids 4270, gids 0, no groups, not
 *       dumpable, parent-death signal SIGUSR2, no_new_privs and a seccomp
 *       filter that fails setresuid(), setgroups() and capset() with
 *       EPERM: a restore that set credentials under the filter would fail.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT leaves one thing
 * out of the setup and the check must notice it (rootgroups, rootbnd,
 * groups, fsuid, bounding, ambient, secbits, dumpable, pdeathsig).
 *
 * The check, after a restore: every thread's Uid, Gid, Groups and Cap*
 * lines of /proc/self/task/TID/status and its securebits are as set up;
 * P is dumpable, C is not and has its parent-death signal; C's filter
 * still fails setresuid(). Writes "OK" or "FAIL: <what>" to STATUS and
 * exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_creds"
#include "dumpee.h"

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIT(c) (1ull << (c))
#define SB_NOROOT 0x1u			/* <linux/securebits.h> */
#define SB_NOROOT_LOCKED 0x2u
#define SB_NO_SETUID_FIXUP 0x4u
#define SB_KEEP_CAPS 0x10u

#define P1_PRM (BIT(CAP_CHOWN) | BIT(CAP_SETUID) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW))
#define P1_EFF BIT(CAP_CHOWN)
#define P1_INH (BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW))
#define P1_AMB BIT(CAP_NET_BIND_SERVICE)
#define P1_DROPPED (BIT(CAP_SYS_BOOT) | BIT(CAP_MKNOD))
#define P1_SECBITS (SB_KEEP_CAPS | SB_NOROOT | SB_NOROOT_LOCKED)

static const char *corruption = "";
static volatile sig_atomic_t got_usr1;

/* what each part found, shared across the tree (MAP_SHARED) */
struct shared {
	char msg[4][256];	/* R, P0, P1, C */
	volatile int ready[2];	/* P (with P1), C */
	uint64_t bnd0, prm0, eff0;	/* the sets R started with */
	pid_t p1_tid, c_pid;
};
static struct shared *sh;

struct want {
	uint32_t uid[4], gid[4];
	uint32_t groups[4];
	int n_groups;
	uint64_t inh, prm, eff, bnd, amb;
	uint32_t secbits;
};

static bool corrupt(const char *what)
{
	return !strcmp(corruption, what);
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void wait_usr1(const sigset_t *old)
{
	while (!got_usr1)
		sigsuspend(old);
}

static long capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	for (int i = 0; i < 2; i++)
		d[i] = (struct __user_cap_data_struct){ (uint32_t)(eff >> (32 * i)), (uint32_t)(prm >> (32 * i)),
							(uint32_t)(inh >> (32 * i)) };
	return syscall(SYS_capset, &h, d);
}

static long capget3(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	long r = syscall(SYS_capget, &h, d);

	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return r;
}

/* the calling thread's credentials are w: its status file and its securebits */
static bool check_self(char *msg, const char *who, const struct want *w)
{
	char path[64], line[512], groups[256] = "", want_groups[256] = "";
	uint32_t uid[4] = { 0 }, gid[4] = { 0 };
	unsigned long long inh = 1, prm = 1, eff = 1, bnd = 1, amb = 1;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int sb, at = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f) {
		snprintf(msg, 256, "%s: cannot open %s", who, path);
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Uid: %u %u %u %u", &uid[0], &uid[1], &uid[2], &uid[3]);
		sscanf(line, "Gid: %u %u %u %u", &gid[0], &gid[1], &gid[2], &gid[3]);
		sscanf(line, "CapInh: %llx", &inh);
		sscanf(line, "CapPrm: %llx", &prm);
		sscanf(line, "CapEff: %llx", &eff);
		sscanf(line, "CapBnd: %llx", &bnd);
		sscanf(line, "CapAmb: %llx", &amb);
		if (!strncmp(line, "Groups:", 7)) {
			/* "Groups:\t4298 4299 \n", "Groups:\t \n": a blank after the ids */
			snprintf(groups, sizeof(groups), "%s", line + 7 + strspn(line + 7, "\t"));
			groups[strcspn(groups, "\n")] = '\0';
			if (groups[0] && groups[strlen(groups) - 1] == ' ')
				groups[strlen(groups) - 1] = '\0';
		}
	}
	fclose(f);
	for (int i = 0; i < w->n_groups; i++)
		at += snprintf(want_groups + at, sizeof(want_groups) - at, "%s%u", i ? " " : "", w->groups[i]);
	sb = prctl(PR_GET_SECUREBITS);
	if (memcmp(uid, w->uid, sizeof(uid)) || memcmp(gid, w->gid, sizeof(gid))) {
		snprintf(msg, 256, "%s: uids %u %u %u %u gids %u %u %u %u, expected %u %u %u %u / %u %u %u %u", who,
			 uid[0], uid[1], uid[2], uid[3], gid[0], gid[1], gid[2], gid[3], w->uid[0], w->uid[1],
			 w->uid[2], w->uid[3], w->gid[0], w->gid[1], w->gid[2], w->gid[3]);
		return false;
	}
	if (strcmp(groups, want_groups)) {
		snprintf(msg, 256, "%s: groups '%s', expected '%s'", who, groups, want_groups);
		return false;
	}
	if (inh != w->inh || prm != w->prm || eff != w->eff || bnd != w->bnd || amb != w->amb) {
		snprintf(msg, 256, "%s: caps inh %llx prm %llx eff %llx bnd %llx amb %llx, expected %llx %llx %llx %llx %llx",
			 who, inh, prm, eff, bnd, amb, (unsigned long long)w->inh, (unsigned long long)w->prm,
			 (unsigned long long)w->eff, (unsigned long long)w->bnd, (unsigned long long)w->amb);
		return false;
	}
	if (sb < 0 || (uint32_t)sb != w->secbits) {
		snprintf(msg, 256, "%s: securebits %#x, expected %#x", who, sb, w->secbits);
		return false;
	}
	return true;
}

/* ---- C ---- */

static int c_main(const sigset_t *old)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setresuid, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setgroups, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_capset, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct want w = { .uid = { 4270, 4270, 4270, 4270 }, .bnd = sh->bnd0 };
	char *msg = sh->msg[3];
	int sig = -1, d;

	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, 0, 0, 0) < 0 ||
	    syscall(SYS_setresuid, 4270, 4270, 4270) < 0)
		die_setup("C: credentials");
	prctl(PR_SET_DUMPABLE, 0);
	if (!corrupt("pdeathsig") && prctl(PR_SET_PDEATHSIG, SIGUSR2) < 0)
		die_setup("C: pdeathsig");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		die_setup("C: seccomp");
	sh->ready[1] = 1;
	wait_usr1(old);

	if (!check_self(msg, "C", &w))
		return 1;
	d = prctl(PR_GET_DUMPABLE);
	prctl(PR_GET_PDEATHSIG, &sig);
	if (d != 0 || sig != SIGUSR2) {
		snprintf(msg, 256, "C: dumpable %d, parent-death signal %d; expected 0 and %d", d, sig, SIGUSR2);
		return 1;
	}
	if (syscall(SYS_setresuid, -1, -1, -1) != -1 || errno != EPERM) {
		snprintf(msg, 256, "C: setresuid(-1, -1, -1) is not failed by its seccomp filter");
		return 1;
	}
	return 0;
}

/* ---- P ---- */

static int p1_go[2], p1_done[2];

static bool p1_setup(void)
{
	uint64_t eff, prm;

	if (!corrupt("bounding") &&
	    (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT) < 0 || prctl(PR_CAPBSET_DROP, CAP_MKNOD) < 0))
		return false;
	if (capget3(&eff, &prm) < 0 || capset3(eff, prm, P1_INH) < 0)
		return false;
	if (!corrupt("ambient") && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0)
		return false;
	if (prctl(PR_SET_SECUREBITS, SB_NO_SETUID_FIXUP) < 0)
		return false;
	{
		uint32_t g = 4260;

		if (syscall(SYS_setgroups, 1, &g) < 0)
			return false;
	}
	if (syscall(SYS_setresgid, 4261, 4262, 4263) < 0)
		return false;
	syscall(SYS_setfsgid, 4264);
	if (syscall(SYS_setresuid, 4250, 4251, 4252) < 0)
		return false;
	if (!corrupt("fsuid"))
		syscall(SYS_setfsuid, 4253);
	if (prctl(PR_SET_SECUREBITS, corrupt("secbits") ? 0 : P1_SECBITS) < 0)
		return false;
	return capset3(P1_EFF, P1_PRM, P1_INH) == 0;
}

static void *p1_main(void *arg)
{
	struct want w = {
		.uid = { 4250, 4251, 4252, 4253 }, .gid = { 4261, 4262, 4263, 4264 }, .groups = { 4260 }, .n_groups = 1,
		.inh = P1_INH, .prm = P1_PRM, .eff = P1_EFF, .bnd = sh->bnd0 & ~P1_DROPPED, .amb = P1_AMB,
		.secbits = P1_SECBITS,
	};

	(void)arg;
	sh->p1_tid = (pid_t)syscall(SYS_gettid);
	if (!p1_setup())
		snprintf(sh->msg[2], 256, "P1: setup failed: %s", strerror(errno));
	put_byte(p1_done[1]);
	wait_byte(p1_go[0]);
	if (!sh->msg[2][0])
		check_self(sh->msg[2], "P1", &w);
	put_byte(p1_done[1]);
	return NULL;
}

static int p_main(const sigset_t *old)
{
	struct want w = {
		.uid = { 4242, 4242, 4242, 4242 }, .gid = { 4243, 4243, 4243, 4243 }, .groups = { 4244, 4245 },
		.n_groups = 2, .bnd = sh->bnd0,
	};
	uint32_t g[2] = { 4244, 4245 };
	char *msg = sh->msg[1];
	pthread_t t;
	pid_t c;
	int st, d;

	c = fork();
	if (c < 0)
		die_setup("fork C");
	if (c == 0)
		_exit(c_main(old));
	sh->c_pid = c;
	if (pipe(p1_go) < 0 || pipe(p1_done) < 0 || pthread_create(&t, NULL, p1_main, NULL))
		die_setup("P1");
	wait_byte(p1_done[0]);
	if ((!corrupt("groups") && syscall(SYS_setgroups, 2, g) < 0) || syscall(SYS_setresgid, 4243, 4243, 4243) < 0 ||
	    syscall(SYS_setresuid, 4242, 4242, 4242) < 0)
		die_setup("P0: credentials");
	/* the switch from root made P not dumpable */
	if (!corrupt("dumpable"))
		prctl(PR_SET_DUMPABLE, 1);
	sh->ready[0] = 1;
	wait_usr1(old);

	put_byte(p1_go[1]);
	wait_byte(p1_done[0]);
	if (!check_self(msg, "P0", &w))
		return 1;
	d = prctl(PR_GET_DUMPABLE);
	if (d != 1) {
		snprintf(msg, 256, "P: dumpable %d, expected 1", d);
		return 1;
	}
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(msg, 256, "C ended with status %#x", st);
		return 1;
	}
	return sh->msg[2][0] ? 1 : 0;
}

/* ---- R ---- */

static bool read_bnd(uint64_t *ret)
{
	char line[256];
	unsigned long long v;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %llx", &v) == 1) {
			*ret = v;
			found = true;
		}
	fclose(f);
	return found;
}

static pid_t p_pid;

static bool check(void)
{
	struct want w = {
		.groups = { 4298, 4299 }, .n_groups = 2, .prm = sh->prm0 & ~BIT(CAP_MKNOD),
		.eff = sh->eff0 & ~BIT(CAP_MKNOD), .bnd = sh->bnd0 & ~BIT(CAP_MKNOD),
	};
	int st;

	if (!check_self(sh->msg[0], "R", &w))
		return failf("%s", sh->msg[0]);
	if (kill(sh->c_pid, SIGUSR1) < 0 || kill(p_pid, SIGUSR1) < 0)
		return failf("cannot signal P or C: %s", strerror(errno));
	if (waitpid(p_pid, &st, 0) != p_pid)
		return failf("cannot wait for P: %s", strerror(errno));
	p_pid = 0;
	/* the first failure: P reports C's and P1's failures as its own */
	for (int i = 3; i > 0; i--)
		if (sh->msg[i][0])
			return failf("%s", sh->msg[i]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return failf("P ended with status %#x", st);
	return true;
}

static void setup(const sigset_t *old)
{
	uint32_t g[2] = { 4299, 4298 };

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die_setup("mmap");
	if (getuid() != 0 || !read_bnd(&sh->bnd0) || capget3(&sh->eff0, &sh->prm0) < 0)
		die_setup("not root");
	if (!corrupt("rootgroups") && syscall(SYS_setgroups, 2, g) < 0)
		die_setup("R: setgroups");
	p_pid = fork();
	if (p_pid < 0)
		die_setup("fork P");
	if (p_pid == 0)
		_exit(p_main(old));
	for (int ms = 0; !(sh->ready[0] && sh->ready[1]); ms++) {
		if (ms == 10000) {
			errno = ETIMEDOUT;
			die_setup("P and C");
		}
		usleep(1000);
	}
	if (!corrupt("rootbnd") &&
	    (prctl(PR_CAPBSET_DROP, CAP_MKNOD) < 0 ||
	     capset3(sh->eff0 & ~BIT(CAP_MKNOD), sh->prm0 & ~BIT(CAP_MKNOD), 0) < 0))
		die_setup("R: confine");
}

int main(int argc, char **argv)
{
	const char *mode = dumpee_args(argc, argv, &corruption);
	char buf[64];
	sigset_t set, old;
	bool ok;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup(&old);
	if (!strcmp(mode, "wait")) {
		snprintf(buf, sizeof(buf), "READY %d", (int)getpid());
		write_status(buf);
		wait_usr1(&old);
	}
	ok = check();
	if (p_pid > 0 && kill(p_pid, SIGKILL) == 0)
		waitpid(p_pid, NULL, 0);
	if (sh->c_pid > 0)
		kill(sh->c_pid, SIGKILL);
	return dumpee_report(ok);
}
