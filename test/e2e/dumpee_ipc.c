/*
 * dumpee_ipc: a process P in an IPC namespace of its own (it unshares one)
 * holding one of each SysV object, for test/e2e/run.sh, with two children
 * blocked on them.
 *
 *   semaphore set A  key 0x4d495301, 3 semaphores (1, 7, 32767), mode 0640, owner 1234:5678,
 *                    made by 4321:8765, operated on (sem_otime set)
 *   semaphore set B  private, 1 semaphore (5), mode 0600; child S waits in semop() for 6
 *   semaphore set C  private, 33000 semaphores (above a new namespace's SEMMSL), the last 9
 *   message queue Q  key 0x4d495302, mode 0620, owner 1234:8765, made by 4321:8765, msg_qbytes 12000,
 *                    four messages (type 1 "hello", type 2 8000 bytes, type 1 empty, type 3 "last")
 *   message queue W  private, empty; child M waits in msgrcv() for type 9
 *   segment U        key 0x4d495303, 3 pages + 10 bytes, written, attached by nobody
 *   segment T        private, 2 pages, written, attached by P (and S, M, R and G)
 *   POSIX queue J    "/dumpee_ipc_jobs", mq_maxmsg 15 (above a new namespace's msg_max), mq_msgsize 300,
 *                    mode 0640, owner 1234:5678, five messages (priorities 0, 7, 0, 7, 31000; one of
 *                    300 bytes, one empty); P holds it read-only and write-only non-blocking
 *   POSIX queue E    "/dumpee_ipc_empty", default limits, mode 0600, held by nobody
 *   POSIX queue K    "/dumpee_ipc_wake", empty; child R waits in mq_receive() on it
 *   POSIX queue F    "/dumpee_ipc_full", mq_maxmsg 1, full ("first"); child G waits in mq_send() on it
 *                    ("second"), P holds it read-only
 *   sysctls          kernel/msgmnb 20000, kernel/sem "40000 64000 32 64", kernel/shmmni 100,
 *                    fs/mqueue/msg_max 20 (-r: kernel/shm_rmid_forced 1 too)
 * Each kind had an object made and removed first, so that ids are not indexes.
 *
 * Modes: -m wait (default) writes "READY P" to STATUS and waits for SIGUSR1;
 * -m selftest checks at once; -m corrupt -c WHAT breaks one thing first
 * (semval, big, msg, owner, unattached, id, sysctl, pmsg, pmode, pfd), and the check must notice.
 * The check: every object under its id and key with its owner, creator, mode and
 * content (the messages received in order), U's bytes through an attach,
 * T's through P's, the sysctls, J's limits, owner and mode and its messages
 * received in order through P's fds, whose access modes and flags are
 * checked, E by name, F's two messages in order (G's comes in once P
 * took the first); then a type 9 message wakes M, a semop() S and a
 * message on K R, which must all end well with G. -n: P registers for J's
 * notification (for the refusal test); -e: S calls semop() again after EINTR (a freeze or a stop
 * gives it one; a restore runs the call again). P writes "OK" or "FAIL: <what>" to STATUS.
 */
#define DUMPEE_NAME "dumpee_ipc"
#include "dumpee.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#define PG 4096UL
#define KEY_A 0x4d495301
#define KEY_Q 0x4d495302
#define KEY_U 0x4d495303
#define U_SIZE (3 * PG + 10)
#define T_SIZE (2 * PG)
#define BIG 8000
#define QBYTES 12000
#define C_NSEMS 33000
#define CUID 4321
#define CGID 8765

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct msgbuf_big {
	long mtype;
	char mtext[BIG + 1];
};

static const char *corrupt;
static volatile sig_atomic_t go;
static int id_a, id_b, id_c, id_q, id_w, id_u, id_seg_t;
static uint8_t *t_mem;
static pid_t s_pid, m_pid, r_pid, g_pid;
static bool rmid_forced, retry;
static mqd_t jr, jw, kw, fr;

#define J_NAME "/dumpee_ipc_jobs"
#define E_NAME "/dumpee_ipc_empty"
#define K_NAME "/dumpee_ipc_wake"
#define F_NAME "/dumpee_ipc_full"
#define J_MSGSIZE 300
/* J's messages, as mq_receive() gives them: highest priority first, oldest first within one */
static const struct {
	unsigned prio;
	const char *text;	/* NULL: J_MSGSIZE bytes of pattern(, 'J') */
} j_msgs[] = { { 31000, "top" }, { 7, "two" }, { 7, "" }, { 0, "one" }, { 0, NULL } };

static const struct {
	const char *name, *value;
} sysctls[] = {
	{ "kernel/msgmnb", "20000" },
	{ "kernel/sem", "40000\t64000\t32\t64" },
	{ "kernel/shmmni", "100" },
	{ "fs/mqueue/msg_max", "20" },
};

static void on_usr1(int sig)
{
	go = 1;
}

static bool is(const char *what)
{
	return corrupt && !strcmp(corrupt, what);
}

static uint8_t pattern(uint64_t off, int seed)
{
	return (uint8_t)((off * 131 + (off >> 12) * 7 + (unsigned)seed) ^ 0x5a);
}

static void write_sysctl(const char *name, const char *value)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		die_setup(path);
	close(fd);
}

static void churn(void)
{
	int s = semget(IPC_PRIVATE, 1, 0600), q = msgget(IPC_PRIVATE, 0600), m = shmget(IPC_PRIVATE, PG, 0600);

	if (s < 0 || q < 0 || m < 0)
		die_setup("churn");
	semctl(s, 0, IPC_RMID);
	msgctl(q, IPC_RMID, NULL);
	shmctl(m, IPC_RMID, NULL);
}

static void send(int id, long type, const void *data, size_t len)
{
	struct msgbuf_big b = { .mtype = type };

	memcpy(b.mtext, data, len);
	if (msgsnd(id, &b, len, IPC_NOWAIT) < 0)
		die_setup("msgsnd");
}

/* semget() or msgget() (sem: 0) as the creator CUID:CGID */
static int make_as_creator(key_t key, int nsems, int mode)
{
	int id;

	if (setegid(CGID) < 0 || seteuid(CUID) < 0)
		die_setup("seteuid");
	id = nsems ? semget(key, nsems, IPC_CREAT | IPC_EXCL | mode) : msgget(key, IPC_CREAT | IPC_EXCL | mode);
	if (seteuid(0) < 0 || setegid(0) < 0)
		die_setup("seteuid back");
	return id;
}

static void setup(void)
{
	unsigned short a_vals[] = { 1, 7, 32767 }, b_val = 5;
	char big[BIG];
	struct semid_ds sd;
	struct msqid_ds md;
	uint8_t *u;

	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++)
		write_sysctl(sysctls[i].name, sysctls[i].value);
	churn();
	id_a = make_as_creator(KEY_A, 3, 0640);
	id_b = semget(IPC_PRIVATE, 1, 0600);
	id_c = semget(IPC_PRIVATE, C_NSEMS, 0600);
	if (id_a < 0 || id_b < 0 || id_c < 0 || semctl(id_a, 0, SETALL, (union semun){ .array = a_vals }) < 0 ||
	    semctl(id_b, 0, SETALL, (union semun){ .array = &b_val }) < 0 ||
	    semctl(id_c, C_NSEMS - 1, SETVAL, (union semun){ .val = 9 }) < 0 ||
	    semop(id_a, (struct sembuf[]){ { 1, 1, 0 }, { 1, -1, 0 } }, 2) < 0 ||
	    semctl(id_a, 0, IPC_STAT, (union semun){ .buf = &sd }) < 0)
		die_setup("semaphores");
	sd.sem_perm.uid = 1234;
	sd.sem_perm.gid = 5678;
	if (semctl(id_a, 0, IPC_SET, (union semun){ .buf = &sd }) < 0)
		die_setup("IPC_SET semaphores");

	id_q = make_as_creator(KEY_Q, 0, 0620);
	id_w = msgget(IPC_PRIVATE, 0600);
	if (id_q < 0 || id_w < 0)
		die_setup("msgget");
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)pattern(i, 'Q');
	send(id_q, 1, "hello", 5);
	send(id_q, 2, big, BIG);
	send(id_q, 1, "", 0);
	send(id_q, 3, "last", 4);
	if (msgctl(id_q, IPC_STAT, &md) < 0)
		die_setup("IPC_STAT queue");
	md.msg_perm.uid = 1234;
	md.msg_qbytes = QBYTES;
	if (msgctl(id_q, IPC_SET, &md) < 0)
		die_setup("IPC_SET queue");

	id_u = shmget(KEY_U, U_SIZE, IPC_CREAT | IPC_EXCL | 0604);
	id_seg_t = shmget(IPC_PRIVATE, T_SIZE, 0600);
	if (id_u < 0 || id_seg_t < 0)
		die_setup("shmget");
	u = shmat(id_u, NULL, 0);
	t_mem = shmat(id_seg_t, NULL, 0);
	if (u == (void *)-1 || t_mem == (void *)-1)
		die_setup("shmat");
	for (size_t i = 0; i < U_SIZE; i++)
		u[i] = pattern(i, 'U');
	for (size_t i = 0; i < T_SIZE; i++)
		t_mem[i] = pattern(i, 'T');
	shmdt(u);
	if (rmid_forced)
		write_sysctl("kernel/shm_rmid_forced", "1");
}

static void send_j(mqd_t q, size_t i)
{
	char buf[J_MSGSIZE];
	size_t len = j_msgs[i].text ? strlen(j_msgs[i].text) : J_MSGSIZE;

	for (size_t k = 0; k < len; k++)
		buf[k] = j_msgs[i].text ? j_msgs[i].text[k] : (char)pattern(k, 'J');
	if (mq_send(q, buf, len, j_msgs[i].prio) < 0)
		die_setup("mq_send");
}

/* after the sysctls: J's mq_maxmsg is above a new namespace's fs/mqueue/msg_max */
static void setup_posix(bool notify)
{
	struct mq_attr ja = { .mq_maxmsg = 15, .mq_msgsize = J_MSGSIZE };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	mqd_t e;

	jw = mq_open(J_NAME, O_CREAT | O_EXCL | O_WRONLY | O_NONBLOCK, 0600, &ja);
	jr = mq_open(J_NAME, O_RDONLY);
	e = mq_open(E_NAME, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
	kw = mq_open(K_NAME, O_CREAT | O_EXCL | O_WRONLY, 0600, NULL);
	fr = mq_open(F_NAME, O_CREAT | O_EXCL | O_RDONLY, 0600, &(struct mq_attr){ .mq_maxmsg = 1, .mq_msgsize = 16 });
	if (jw < 0 || jr < 0 || e < 0 || kw < 0 || fr < 0)
		die_setup("mq_open");
	close(e);
	/* oldest first within a priority: "one" before the long one, "two" before the empty one */
	send_j(jw, 3);
	send_j(jw, 1);
	send_j(jw, 4);
	send_j(jw, 2);
	send_j(jw, 0);
	if (fchown(jw, 1234, 5678) < 0 || fchmod(jw, 0640) < 0)
		die_setup("fchown J");
	if (notify && mq_notify(jr, &sev) < 0)
		die_setup("mq_notify");
}

/* G: sends "first" to F, which it fills, then "second", which waits for room */
static int child_g(void)
{
	mqd_t f = mq_open(F_NAME, O_WRONLY);

	if (f < 0 || mq_send(f, "first", 5, 0) < 0)
		return 3;
	while (mq_send(f, "second", 6, 0) < 0)
		if (errno != EINTR)
			return 4;
	return 0;
}

/* S: takes 6 from B, once P has added 1 to its 5 */
static int child_s(void)
{
	struct sembuf op = { 0, -6, 0 };
	int r;

	while ((r = semop(id_b, &op, 1)) < 0 && retry && errno == EINTR)
		;
	return r < 0 ? 3 : 0;
}

/* M: the type 9 message of W, "wake" */
static int child_m(void)
{
	struct msgbuf_big b;
	ssize_t n = msgrcv(id_w, &b, BIG, 9, 0);

	if (n != 4 || memcmp(b.mtext, "wake", 4))
		return 3;
	return 0;
}

/* R: the message of K, "wake" */
static int child_r(void)
{
	char buf[8192];
	mqd_t k = mq_open(K_NAME, O_RDONLY);
	ssize_t n = k < 0 ? -1 : mq_receive(k, buf, sizeof(buf), NULL);

	return n == 4 && !memcmp(buf, "wake", 4) ? 0 : 3;
}

static pid_t fork_into(int (*fn)(void))
{
	pid_t p = fork();

	if (p < 0)
		die_setup("fork");
	if (p == 0)
		_exit(fn());
	return p;
}

static void check_perm(const char *what, const struct ipc_perm *p, key_t key, unsigned mode, uid_t uid, gid_t gid)
{
	if (p->__key != key || (p->mode & 0777) != mode || p->uid != uid || p->gid != gid)
		failf("%s: key %#x mode %#o owner %u:%u; expected %#x %#o %u:%u", what, (unsigned)p->__key,
		      p->mode & 0777, p->uid, p->gid, (unsigned)key, mode, uid, gid);
}

static void check_sems(void)
{
	unsigned short v[3];
	struct semid_ds sd;

	if (semctl(id_a, 0, IPC_STAT, (union semun){ .buf = &sd }) < 0) {
		failf("A (%d): %s", id_a, strerror(errno));
		return;
	}
	check_perm("A", &sd.sem_perm, KEY_A, 0640, 1234, 5678);
	if (sd.sem_perm.cuid != CUID || sd.sem_perm.cgid != CGID || !sd.sem_otime)
		failf("A: made by %u:%u, last operated on at %ld", sd.sem_perm.cuid, sd.sem_perm.cgid,
		      (long)sd.sem_otime);
	if (sd.sem_nsems != 3 || semctl(id_a, 0, GETALL, (union semun){ .array = v }) < 0 || v[0] != 1 ||
	    v[1] != 7 || v[2] != 32767)
		failf("A: %lu semaphores, values %u %u %u", (unsigned long)sd.sem_nsems, v[0], v[1], v[2]);
	if (semctl(id_b, 0, IPC_STAT, (union semun){ .buf = &sd }) < 0) {
		failf("B (%d): %s", id_b, strerror(errno));
		return;
	}
	check_perm("B", &sd.sem_perm, IPC_PRIVATE, 0600, 0, 0);
	if (semctl(id_b, 0, GETVAL) != 5)
		failf("B: value %d, expected 5", semctl(id_b, 0, GETVAL));
	if (semctl(id_c, 0, IPC_STAT, (union semun){ .buf = &sd }) < 0 || sd.sem_nsems != C_NSEMS ||
	    semctl(id_c, C_NSEMS - 1, GETVAL) != 9 || semctl(id_c, 0, GETVAL) != 0)
		failf("C (%d): %lu semaphores, the last %d", id_c, (unsigned long)sd.sem_nsems,
		      semctl(id_c, C_NSEMS - 1, GETVAL));
}

static void check_msgs(void)
{
	static const struct {
		long type;
		size_t len;
	} want[] = { { 1, 5 }, { 2, BIG }, { 1, 0 }, { 3, 4 } };
	struct msgbuf_big b;
	struct msqid_ds md;

	if (msgctl(id_q, IPC_STAT, &md) < 0) {
		failf("Q (%d): %s", id_q, strerror(errno));
		return;
	}
	check_perm("Q", &md.msg_perm, KEY_Q, 0620, 1234, CGID);
	if (md.msg_perm.cuid != CUID || md.msg_perm.cgid != CGID)
		failf("Q: made by %u:%u", md.msg_perm.cuid, md.msg_perm.cgid);
	if (md.msg_qnum != 4 || md.msg_qbytes != QBYTES || md.__msg_cbytes != 5 + BIG + 4)
		failf("Q: %lu messages, %lu bytes, limit %lu", (unsigned long)md.msg_qnum,
		      (unsigned long)md.__msg_cbytes, (unsigned long)md.msg_qbytes);
	for (size_t i = 0; i < 4 && md.msg_qnum == 4; i++) {
		ssize_t n = msgrcv(id_q, &b, BIG, 0, IPC_NOWAIT);

		if (n != (ssize_t)want[i].len || b.mtype != want[i].type) {
			failf("Q: message %zu is type %ld, %zd bytes", i, b.mtype, n);
			return;
		}
		for (size_t k = 0; k < (size_t)n; k++)
			if ((uint8_t)b.mtext[k] != (i == 0 ? (uint8_t)"hello"[k] : i == 3 ? (uint8_t)"last"[k]
										 : pattern(k, 'Q'))) {
				failf("Q: message %zu differs at byte %zu", i, k);
				return;
			}
	}
	if (msgctl(id_w, IPC_STAT, &md) < 0)
		failf("W (%d): %s", id_w, strerror(errno));
	else
		check_perm("W", &md.msg_perm, IPC_PRIVATE, 0600, 0, 0);
}

static void check_segments(void)
{
	struct shmid_ds ds;
	uint8_t *u;

	if (shmctl(id_u, IPC_STAT, &ds) < 0) {
		failf("U (%d): %s", id_u, strerror(errno));
		return;
	}
	check_perm("U", &ds.shm_perm, KEY_U, 0604, 0, 0);
	if (ds.shm_segsz != U_SIZE || ds.shm_nattch != 0)
		failf("U: %zu bytes, %lu attaches", (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
	u = shmat(id_u, NULL, SHM_RDONLY);
	if (u == (void *)-1) {
		failf("U: shmat: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < 4 * PG; i++)
		if (u[i] != (i < U_SIZE ? pattern(i, 'U') : 0)) {
			failf("U: byte %zu is %#x", i, u[i]);
			break;
		}
	shmdt(u);
	for (size_t i = 0; i < T_SIZE; i++)
		if (t_mem[i] != pattern(i, 'T')) {
			failf("T: byte %zu is %#x", i, t_mem[i]);
			break;
		}
	if (shmctl(id_seg_t, IPC_STAT, &ds) < 0 || ds.shm_nattch != 5)
		failf("T (%d): %lu attaches, expected 5", id_seg_t, (unsigned long)ds.shm_nattch);
}

static void check_j_fds(void)
{
	struct mq_attr ar, aw;

	if (mq_getattr(jr, &ar) < 0 || mq_getattr(jw, &aw) < 0) {
		failf("J: mq_getattr: %s", strerror(errno));
		return;
	}
	if (ar.mq_maxmsg != 15 || ar.mq_msgsize != J_MSGSIZE || ar.mq_curmsgs != 5 || ar.mq_flags != 0)
		failf("J: %ld of %ld messages of %ld bytes, flags %#lx", ar.mq_curmsgs, ar.mq_maxmsg, ar.mq_msgsize,
		      ar.mq_flags);
	if (aw.mq_flags != O_NONBLOCK)
		failf("J's writer: flags %#lx", aw.mq_flags);
	if ((fcntl(jr, F_GETFL) & O_ACCMODE) != O_RDONLY || (fcntl(jw, F_GETFL) & O_ACCMODE) != O_WRONLY)
		failf("J: access modes %#o and %#o", fcntl(jr, F_GETFL) & O_ACCMODE, fcntl(jw, F_GETFL) & O_ACCMODE);
	if (mq_send(jr, "x", 1, 0) == 0 || errno != EBADF)
		failf("J: a send through the read-only fd did not fail with EBADF");
}

static void check_posix(void)
{
	char buf[8192];
	struct mq_attr a;
	struct stat st;
	unsigned prio;
	mqd_t e;

	if (fstat(jr, &st) < 0 || (st.st_mode & 07777) != 0640 || st.st_uid != 1234 || st.st_gid != 5678)
		failf("J: mode %#o owner %u:%u", st.st_mode & 07777, st.st_uid, st.st_gid);
	check_j_fds();
	for (size_t i = 0; i < sizeof(j_msgs) / sizeof(j_msgs[0]); i++) {
		ssize_t n = dumpee_mq_receive(jr, buf, sizeof(buf), &prio);
		size_t len = j_msgs[i].text ? strlen(j_msgs[i].text) : J_MSGSIZE;
		bool same = n == (ssize_t)len && prio == j_msgs[i].prio;

		for (size_t k = 0; same && k < len; k++)
			same = buf[k] == (j_msgs[i].text ? j_msgs[i].text[k] : (char)pattern(k, 'J'));
		if (!same) {
			failf("J: message %zu is %zd bytes of priority %u", i, n, prio);
			return;
		}
	}
	/* empty now, non-blocking for the writer */
	if (mq_send(jw, "again", 5, 3) < 0 || dumpee_mq_receive(jr, buf, sizeof(buf), &prio) != 5 || prio != 3)
		failf("J: a message sent after the restore did not come back");
	e = mq_open(E_NAME, O_RDONLY);
	if (e < 0) {
		failf("E: %s", strerror(errno));
		return;
	}
	if (mq_getattr(e, &a) < 0 || a.mq_maxmsg != 10 || a.mq_msgsize != 8192 || a.mq_curmsgs ||
	    fstat(e, &st) < 0 || (st.st_mode & 07777) != 0600)
		failf("E: %ld of %ld messages of %ld bytes, mode %#o", a.mq_curmsgs, a.mq_maxmsg, a.mq_msgsize,
		      st.st_mode & 07777);
	close(e);
}

/* G's second message comes in once the first is out (after the segments: G holds T till then) */
static void check_full(void)
{
	char buf[16];

	if (dumpee_mq_receive(fr, buf, sizeof(buf), NULL) != 5 || memcmp(buf, "first", 5) ||
	    dumpee_mq_receive(fr, buf, sizeof(buf), NULL) != 6 || memcmp(buf, "second", 6))
		failf("F: its messages are not \"first\" then \"second\"");
}

static void check_sysctls(void)
{
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		char path[96], buf[128] = "";
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/sys/%s", sysctls[i].name);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n > 0 && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		if (strcmp(buf, sysctls[i].value))
			failf("sysctl %s is '%s', expected '%s'", sysctls[i].name, buf, sysctls[i].value);
	}
}

static void wake_children(void)
{
	struct sembuf op = { 0, 1, 0 };
	int st;

	send(id_w, 9, "wake", 4);
	if (semop(id_b, &op, 1) < 0)
		failf("semop on B: %s", strerror(errno));
	if (mq_send(kw, "wake", 4, 0) < 0)
		failf("mq_send on K: %s", strerror(errno));
	if (waitpid(r_pid, &st, 0) != r_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("R (waiting in mq_receive()): status %#x", st);
	if (waitpid(g_pid, &st, 0) != g_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("G (waiting in mq_send()): status %#x", st);
	if (waitpid(m_pid, &st, 0) != m_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("M (waiting in msgrcv()): status %#x", st);
	if (waitpid(s_pid, &st, 0) != s_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("S (waiting in semop()): status %#x", st);
}

static void break_one(void)
{
	struct msgbuf_big b;
	struct msqid_ds md;

	if (is("semval"))
		semctl(id_a, 1, SETVAL, (union semun){ .val = 8 });
	if (is("big"))
		semctl(id_c, C_NSEMS - 1, SETVAL, (union semun){ .val = 0 });
	if (is("msg"))
		msgrcv(id_q, &b, BIG, 3, IPC_NOWAIT);
	if (is("owner") && msgctl(id_q, IPC_STAT, &md) == 0) {
		md.msg_perm.uid = 0;
		msgctl(id_q, IPC_SET, &md);
	}
	if (is("unattached"))
		shmctl(id_u, IPC_RMID, NULL);
	if (is("id"))
		id_a += 32768;
	if (is("sysctl"))
		write_sysctl("kernel/msgmnb", "20001");
	if (is("pmsg"))
		mq_receive(jr, (char *)b.mtext, sizeof(b.mtext), NULL);
	if (is("pmode"))
		fchmod(jr, 0644);
	if (is("pfd")) {
		/* the writer without O_NONBLOCK */
		struct mq_attr a = { .mq_flags = 0 };

		mq_setattr(jw, &a, NULL);
	}
}

int main(int argc, char **argv)
{
	const char *mode = "wait";
	struct sigaction sa = { .sa_handler = on_usr1 };
	char line[sizeof(failure) + 8];
	bool notify = false;
	int c;

	while ((c = getopt(argc, argv, "m:c:enr")) != -1) {
		if (c == 'm')
			mode = optarg;
		else if (c == 'c')
			corrupt = optarg;
		else if (c == 'n')
			notify = true;
		else if (c == 'r')
			rmid_forced = true;
		else if (c == 'e')
			retry = true;
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	status_path = argv[optind];
	sigaction(SIGUSR1, &sa, NULL);
	if (unshare(CLONE_NEWIPC) < 0)
		die_setup("unshare(CLONE_NEWIPC)");
	setup();
	setup_posix(notify);
	s_pid = fork_into(child_s);
	m_pid = fork_into(child_m);
	r_pid = fork_into(child_r);
	g_pid = fork_into(child_g);

	if (!strcmp(mode, "wait")) {
		snprintf(line, sizeof(line), "READY %d", getpid());
		write_status(line);
		while (!go)
			pause();
	} else if (strcmp(mode, "selftest") && strcmp(mode, "corrupt")) {
		goto usage;
	}
	break_one();
	check_sems();
	check_msgs();
	check_segments();
	check_sysctls();
	check_posix();
	check_full();
	wake_children();
	if (failure[0]) {
		kill(s_pid, SIGKILL);
		kill(m_pid, SIGKILL);
		kill(r_pid, SIGKILL);
		kill(g_pid, SIGKILL);
		while (wait(NULL) > 0 || errno == EINTR)
			;
		snprintf(line, sizeof(line), "FAIL: %s", failure);
		write_status(line);
		fprintf(stderr, "dumpee_ipc: %s\n", failure);
		return 1;
	}
	write_status("OK");
	return 0;
usage:
	fprintf(stderr, "usage: dumpee_ipc [-m wait|selftest|corrupt] [-c WHAT] [-e] [-n] [-r] STATUS\n");
	return 2;
}
