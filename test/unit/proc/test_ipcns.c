/*
 * An IPC namespace read and made again (memdump/ipcns.h), in new
 * namespaces of the test's own (each test runs in a process of its own):
 * objects made here are read back with their ids, keys, owners, values and
 * messages; made again in another new namespace from what was read, they
 * read the same; POSIX message queues read and made; the sysctl comparison.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/ipcns.h"
#include "memdump/proc.h"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void new_ns(void)
{
	if (unshare(CLONE_NEWIPC) < 0)
		cr_skip_test("cannot make an IPC namespace here: %s", strerror(errno));
}

static void send(int id, long type, const char *text)
{
	struct {
		long mtype;
		char mtext[64];
	} b = { .mtype = type };

	memcpy(b.mtext, text, strlen(text));
	cr_assert_eq(msgsnd(id, &b, strlen(text), IPC_NOWAIT), 0, "msgsnd: %s", strerror(errno));
}

static const struct md_semset *sem_by_id(const struct md_ipcns *ns, int id)
{
	for (size_t i = 0; i < ns->n_sems; i++)
		if (ns->sems[i].id == id)
			return &ns->sems[i];
	return NULL;
}

static const struct md_msgq *msgq_by_id(const struct md_ipcns *ns, int id)
{
	for (size_t i = 0; i < ns->n_msgqs; i++)
		if (ns->msgqs[i].id == id)
			return &ns->msgqs[i];
	return NULL;
}

static void assert_same(const struct md_ipcns *a, const struct md_ipcns *b)
{
	cr_assert_eq(a->n_sems, b->n_sems);
	cr_assert_eq(a->n_msgqs, b->n_msgqs);
	for (size_t i = 0; i < a->n_sems; i++) {
		const struct md_semset *x = &a->sems[i], *y = sem_by_id(b, x->id);

		cr_assert_not_null(y, "semaphore set %d is missing", x->id);
		cr_assert(x->key == y->key && x->mode == y->mode && x->uid == y->uid && x->gid == y->gid &&
			  x->nsems == y->nsems && x->cuid == y->cuid && x->cgid == y->cgid &&
			  x->operated == y->operated,
			  "semaphore set %d differs", x->id);
		cr_assert_arr_eq(x->values, y->values, x->nsems * sizeof(*x->values));
	}
	for (size_t i = 0; i < a->n_msgqs; i++) {
		const struct md_msgq *x = &a->msgqs[i], *y = msgq_by_id(b, x->id);

		cr_assert_not_null(y, "message queue %d is missing", x->id);
		cr_assert(x->key == y->key && x->mode == y->mode && x->uid == y->uid && x->gid == y->gid &&
			  x->qbytes == y->qbytes && x->n_msgs == y->n_msgs && x->cuid == y->cuid && x->cgid == y->cgid,
			  "message queue %d differs", x->id);
		for (size_t k = 0; k < x->n_msgs; k++) {
			cr_assert(x->msgs[k].mtype == y->msgs[k].mtype && x->msgs[k].len == y->msgs[k].len);
			cr_assert_arr_eq(x->msgs[k].data, y->msgs[k].data, x->msgs[k].len);
		}
	}
}

Test(ipcns, read_and_make_again)
{
	unsigned short vals[] = { 3, 0, 32767 };
	struct md_ipcns got = { 0 }, again = { 0 };
	struct ipcns_shm *shm;
	struct semid_ds sd;
	struct msqid_ds md;
	char what[96];
	int sem, q, empty, seg;
	size_t n;

	new_ns();
	/* made and removed: the next ids are not indexes */
	cr_assert_eq(semctl(semget(IPC_PRIVATE, 1, 0600), 0, IPC_RMID), 0);
	cr_assert_eq(msgctl(msgget(IPC_PRIVATE, 0600), IPC_RMID, NULL), 0);
	/* made by another user: the creator is kept */
	cr_assert_eq(setegid(8765), 0);
	cr_assert_eq(seteuid(4321), 0);
	sem = semget(0x1234, 3, IPC_CREAT | 0640);
	q = msgget(0x5678, IPC_CREAT | 0620);
	cr_assert_eq(seteuid(0), 0);
	cr_assert_eq(setegid(0), 0);
	empty = msgget(IPC_PRIVATE, 0600);
	seg = shmget(0x9abc, 10000, IPC_CREAT | 0600);
	cr_assert(sem > 0 && q > 0 && empty >= 0 && seg >= 0);
	cr_assert_eq(semctl(sem, 0, SETALL, (union semun){ .array = vals }), 0);
	cr_assert_eq(semctl(sem, 0, IPC_STAT, (union semun){ .buf = &sd }), 0);
	sd.sem_perm.uid = 1234;
	cr_assert_eq(semctl(sem, 0, IPC_SET, (union semun){ .buf = &sd }), 0);
	/* operated on: sem_otime set */
	cr_assert_eq(semop(sem, (struct sembuf[]){ { 2, -1, 0 }, { 2, 1, 0 } }, 2), 0);
	send(q, 4, "first");
	send(q, 1, "");
	send(q, 4, "third");
	cr_assert_eq(msgctl(q, IPC_STAT, &md), 0);
	md.msg_qbytes = 100;	/* under what the new namespace's msgmnb gives */
	md.msg_perm.gid = 77;
	cr_assert_eq(msgctl(q, IPC_SET, &md), 0);

	cr_assert_eq(ipcns_read_objects(&got), 0);
	cr_assert_eq(got.n_sems, 1);
	cr_assert_eq(got.n_msgqs, 2);
	cr_assert(got.sems[0].id == sem && got.sems[0].key == 0x1234 && got.sems[0].mode == 0640 &&
		  got.sems[0].uid == 1234 && got.sems[0].nsems == 3 && got.sems[0].cuid == 4321 &&
		  got.sems[0].cgid == 8765 && got.sems[0].operated);
	cr_assert(msgq_by_id(&got, q) && msgq_by_id(&got, q)->cuid == 4321 && msgq_by_id(&got, q)->cgid == 8765);
	cr_assert_eq(geteuid(), 0);
	cr_assert_arr_eq(got.sems[0].values, vals, sizeof(vals));
	cr_assert_not_null(msgq_by_id(&got, q));
	cr_assert_eq(msgq_by_id(&got, q)->n_msgs, 3);
	cr_assert(msgq_by_id(&got, q)->qbytes == 100 && msgq_by_id(&got, q)->gid == 77);
	cr_assert(msgq_by_id(&got, q)->msgs[0].mtype == 4 && msgq_by_id(&got, q)->msgs[0].len == 5);
	cr_assert_arr_eq(msgq_by_id(&got, q)->msgs[2].data, "third", 5);
	cr_assert_eq(msgq_by_id(&got, q)->msgs[1].len, 0);
	/* read in place: the messages are still queued */
	cr_assert_eq(msgctl(q, IPC_STAT, &md), 0);
	cr_assert_eq(md.msg_qnum, 3);
	cr_assert_eq(ipcns_read_shm(&shm, &n), 0);
	cr_assert(n == 1 && shm[0].id == seg && shm[0].size == 10000 && shm[0].nattch == 0);
	free(shm);

	/* a new namespace, the objects made from what was read: the same again */
	new_ns();
	cr_assert_eq(ipcns_make_objects(&got, what, sizeof(what)), 0, "%s: %s", what, strerror(errno));
	cr_assert_eq(ipcns_read_objects(&again), 0);
	assert_same(&got, &again);
	md_ipcns_release(&again);
	/* the limits raised for the messages are back */
	{
		struct md_sysctl *s;
		size_t ns;

		cr_assert_eq(ipcns_read_sysctls(&s, &ns), 0);
		for (size_t i = 0; i < ns; i++)
			if (!strcmp(s[i].name, "kernel/msgmnb") || !strcmp(s[i].name, "kernel/msgmax"))
				cr_assert_neq(strcmp(s[i].value, "2147483647"), 0, "%s left at %s", s[i].name,
					      s[i].value);
		md_sysctls_free(s, ns);
	}
	/* an id taken: refused, named */
	cr_assert_lt(ipcns_make_objects(&got, what, sizeof(what)), 0);
	cr_assert(strstr(what, "semaphore set") != NULL, "%s", what);
	md_ipcns_release(&got);
}

static void mq_put(mqd_t mq, unsigned prio, const char *text)
{
	cr_assert_eq(mq_send(mq, text, strlen(text), prio), 0, "mq_send: %s", strerror(errno));
}

static void assert_same_mqs(const struct md_ipcns *a, const struct md_ipcns *b)
{
	cr_assert_eq(a->n_mqs, b->n_mqs);
	for (size_t i = 0; i < a->n_mqs; i++) {
		const struct md_posix_mq *x = &a->mqs[i], *y = &b->mqs[i];

		cr_assert_str_eq(x->name, y->name);
		cr_assert_eq(x->mode, y->mode, "/%s: mode %#o, %#o", x->name, x->mode, y->mode);
		cr_assert_eq(x->uid, y->uid);
		cr_assert_eq(x->gid, y->gid);
		cr_assert_eq(x->maxmsg, y->maxmsg);
		cr_assert_eq(x->msgsize, y->msgsize);
		cr_assert_eq(x->n_msgs, y->n_msgs);
		for (size_t k = 0; k < x->n_msgs; k++) {
			cr_assert_eq(x->msgs[k].prio, y->msgs[k].prio);
			cr_assert_eq(x->msgs[k].len, y->msgs[k].len);
			cr_assert_eq(memcmp(x->msgs[k].data, y->msgs[k].data, x->msgs[k].len), 0);
		}
	}
}

static void write_value(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	close(fd);
}

/*
 * POSIX queues read with their messages in mq_receive()'s order, and left
 * as they were; made again in a new namespace, past limits lowered since,
 * they read the same; a notification registered is refused, named
 */
Test(ipcns, posix_queues)
{
	static const char *const order[] = { "top", "two", "", "one", "three" };
	struct mq_attr attr = { .mq_maxmsg = 5, .mq_msgsize = 64 };
	struct md_ipcns got = { 0 }, again = { 0 };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	uint64_t dev = 0, dev2 = 0;
	char *failed = NULL, what[96], buf[64], *v;
	unsigned prio;
	size_t len;
	mqd_t a, b;
	int ready[2];
	pid_t child;

	new_ns();
	cr_assert_eq(ipcns_read_mqueues(&got, &dev, &failed, NULL, NULL), 0);
	cr_assert_eq(got.n_mqs, 0);
	cr_assert_neq(dev, 0);
	a = mq_open("/md-a", O_CREAT | O_RDWR | O_NONBLOCK, 0640, &attr);
	cr_assert_neq(a, (mqd_t)-1, "mq_open: %s", strerror(errno));
	cr_assert_eq(fchown(a, 1234, 5678), 0);
	mq_put(a, 0, "one");
	mq_put(a, 7, "two");
	mq_put(a, 0, "three");
	mq_put(a, 7, "");
	mq_put(a, 31000, "top");
	b = mq_open("/md-b", O_CREAT | O_RDWR, 0600, NULL);
	cr_assert_neq(b, (mqd_t)-1, "mq_open: %s", strerror(errno));
	/* lowered below what md-a has: the restore must still make it */
	write_value("/proc/sys/fs/mqueue/msg_max", "3");
	write_value("/proc/sys/fs/mqueue/msgsize_max", "128");

	cr_assert_eq(ipcns_read_mqueues(&got, &dev2, &failed, NULL, NULL), 0, "%s: %s", failed, strerror(errno));
	cr_assert_eq(dev2, dev);
	cr_assert_eq(got.n_mqs, 2);
	cr_assert_str_eq(got.mqs[0].name, "md-a");
	cr_assert_str_eq(got.mqs[1].name, "md-b");
	cr_assert_eq(got.mqs[0].mode, 0640);
	cr_assert_eq(got.mqs[0].uid, 1234);
	cr_assert_eq(got.mqs[0].gid, 5678);
	cr_assert_eq(got.mqs[0].maxmsg, 5);
	cr_assert_eq(got.mqs[0].msgsize, 64);
	cr_assert_eq(got.mqs[1].n_msgs, 0);
	cr_assert_eq(got.mqs[0].n_msgs, 5);
	for (size_t k = 0; k < 5; k++) {
		cr_assert_eq(got.mqs[0].msgs[k].len, strlen(order[k]));
		cr_assert_eq(memcmp(got.mqs[0].msgs[k].data, order[k], strlen(order[k])), 0, "message %zu", k);
	}
	cr_assert_eq(got.mqs[0].msgs[0].prio, 31000);
	/* the queue as it was: read again, the same */
	cr_assert_eq(ipcns_read_mqueues(&again, &dev2, &failed, NULL, NULL), 0);
	assert_same_mqs(&got, &again);
	md_ipcns_release(&again);

	/*
	 * a notification registered (by another process: a close by the owner
	 * ends it): refused, named, and left registered
	 */
	cr_assert_eq(pipe(ready), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (!child) {
		if (mq_notify(b, &sev) < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(ready[0], buf, 1), 1);
	cr_assert_eq(ipcns_read_mqueues(&again, &dev2, &failed, NULL, NULL), -EBUSY);
	cr_assert_str_eq(failed, "md-b");
	free(failed);
	md_ipcns_release(&again);
	cr_assert_eq(mq_notify(b, &sev), -1, "the registration went");
	cr_assert_eq(errno, EBUSY);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* a new namespace, the queues made from what was read: the same again */
	new_ns();
	cr_assert_eq(ipcns_make_objects(&got, what, sizeof(what)), 0, "%s: %s", what, strerror(errno));
	cr_assert_eq(ipcns_read_mqueues(&again, &dev2, &failed, NULL, NULL), 0);
	assert_same_mqs(&got, &again);
	md_ipcns_release(&again);
	/* the limits raised meanwhile are back */
	cr_assert_eq(proc_read_file("/proc/sys/fs/mqueue/msg_max", &v, &len), 0);
	cr_assert_str_eq(v, "10\n");
	free(v);
	/* and the queue works: the first out is the highest priority */
	a = mq_open("/md-a", O_RDONLY);
	cr_assert_neq(a, (mqd_t)-1, "mq_open: %s", strerror(errno));
	cr_assert_eq(mq_receive(a, buf, sizeof(buf), &prio), 3);
	cr_assert_eq(prio, 31000);
	/* a name taken: refused, named */
	cr_assert_lt(ipcns_make_objects(&got, what, sizeof(what)), 0);
	cr_assert(strstr(what, "POSIX message queue '/md-a'") != NULL, "%s", what);
	md_ipcns_release(&got);
}

/*
 * Each queue made by a process of its owner's: two queues whose bytes
 * together are over one user's RLIMIT_MSGQUEUE budget (819200 by default),
 * each within its owner's, made past a new namespace's msg_max by owners
 * without CAP_SYS_RESOURCE
 */
Test(ipcns, posix_queues_per_owner)
{
	struct md_posix_mq q[2] = {
		{ (char *)"md-u1", 0640, 4101, 4102, 60, 8192, NULL, 0 },
		{ (char *)"md-u2", 0604, 4103, 4104, 60, 8192, NULL, 0 },
	};
	struct md_pmsg m = { 3, (uint8_t *)"hi", 2 };
	struct md_ipcns ns = { .mqs = q, .n_mqs = 2 }, got = { 0 };
	char what[96] = "", *failed = NULL;
	uint64_t dev;

	q[1].msgs = &m;
	q[1].n_msgs = 1;
	new_ns();
	cr_assert_eq(ipcns_make_objects(&ns, what, sizeof(what)), 0, "%s: %s", what, strerror(errno));
	cr_assert_eq(ipcns_read_mqueues(&got, &dev, &failed, NULL, NULL), 0);
	cr_assert_eq(got.n_mqs, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_str_eq(got.mqs[i].name, q[i].name);
		cr_assert_eq(got.mqs[i].uid, q[i].uid);
		cr_assert_eq(got.mqs[i].gid, q[i].gid);
		cr_assert_eq(got.mqs[i].mode, q[i].mode, "/%s: mode %#o", q[i].name, got.mqs[i].mode);
		cr_assert_eq(got.mqs[i].maxmsg, 60);
	}
	cr_assert_eq(got.mqs[1].n_msgs, 1);
	cr_assert_eq(got.mqs[1].msgs[0].prio, 3);
	md_ipcns_release(&got);
}

Test(ipcns, sysctls_compared)
{
	struct md_sysctl *a, *b;
	const struct md_sysctl **d;
	size_t na, nb, nd;
	int fd;

	new_ns();
	cr_assert_eq(ipcns_read_sysctls(&a, &na), 0);
	cr_assert_gt(na, 10);
	fd = open("/proc/sys/kernel/msgmnb", O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "20000", 5), 5);
	close(fd);
	cr_assert_eq(ipcns_read_sysctls(&b, &nb), 0);
	/* read sorted, as md_sysctl_diff() needs them */
	for (size_t i = 1; i < na; i++)
		cr_assert_lt(strcmp(a[i - 1].name, a[i].name), 0, "%s before %s", a[i - 1].name, a[i].name);
	cr_assert_eq(md_sysctl_diff(b, nb, a, na, &d, &nd), 0);
	cr_assert_eq(nd, 1);
	cr_assert_str_eq(d[0]->name, "kernel/msgmnb");
	cr_assert_str_eq(d[0]->value, "20000");
	free(d);
	cr_assert_eq(md_sysctl_diff(a, na, a, na, &d, &nd), 0);
	cr_assert_eq(nd, 0);
	free(d);
	md_sysctls_free(a, na);
	md_sysctls_free(b, nb);
}

/* a namespace that raised a limit: what it holds is made again once the image's limits are raised */
Test(ipcns, raised_limits)
{
	static const struct md_sysctl sysctls[] = {
		{ (char *)"kernel/sem", (char *)"40000\t64000\t32\t64" },
		{ (char *)"kernel/msgmnb", (char *)"100" },
	};
	struct md_semset big = { .id = 5, .key = 0, .mode = 0600, .nsems = 33000 };
	struct md_ipcns ns = { .sems = &big, .n_sems = 1 };
	const char *failed;
	char what[96], *v;
	size_t len;

	new_ns();
	big.values = calloc(big.nsems, sizeof(*big.values));
	cr_assert_not_null(big.values);
	big.values[32999] = 9;
	/* a new namespace's SEMMSL (32000) is below what the set needs */
	cr_assert_lt(ipcns_make_objects(&ns, what, sizeof(what)), 0);
	cr_assert_eq(ipcns_raise_limits(sysctls, 2, &failed), 0, "%s", failed);
	cr_assert_eq(proc_read_file("/proc/sys/kernel/sem", &v, &len), 0);
	cr_assert_str_eq(v, "40000\t1024000000\t500\t32000\n", "field by field the higher: %s", v);
	free(v);
	/* msgmnb is no higher in the image: left alone */
	cr_assert_eq(proc_read_file("/proc/sys/kernel/msgmnb", &v, &len), 0);
	cr_assert_str_eq(v, "16384\n");
	free(v);
	cr_assert_eq(ipcns_make_objects(&ns, what, sizeof(what)), 0, "%s: %s", what, strerror(errno));
	cr_assert_eq(semctl(5, 32999, GETVAL), 9);
	cr_assert_eq(ipcns_write_sysctls(sysctls, 2, &failed), 0);
	cr_assert_eq(proc_read_file("/proc/sys/kernel/sem", &v, &len), 0);
	cr_assert_str_eq(v, "40000\t64000\t32\t64\n");
	free(v);
	free(big.values);
}
