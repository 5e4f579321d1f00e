/*
 * The calling thread's IPC namespace (memdump/ipcns.h): its sysctls, SysV
 * objects and POSIX message queues, read without changing them (but for
 * a POSIX queue's times), and made again. The objects are walked by index
 * (SEM_INFO gives the highest in use, SEM_STAT an index's id); a queue's
 * messages are copied in place (msgrcv() with MSG_COPY: the kernel's
 * checkpoint/restore interface), and POSIX queues are found on an mqueue
 * file system mounted nowhere (fsmount() of the namespace's own), so that
 * no mount is seen.
 *
 * A POSIX queue's messages can only be read by taking them out: they
 * are put back at once, in the order taken, which is the queue's.
 *
 * An id is chosen for the next object through the namespace's
 * kernel/{sem,msg}_next_id, which the kernel forgets once an object takes
 * it.
 */
#include "memdump/ipcns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/proc.h"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

static int read_sysctl(const char *name, char **ret)
{
	char *buf = NULL;
	size_t len;
	int r = proc_read_filef(&buf, &len, "/proc/sys/%s", name);

	if (r < 0)
		return r;
	while (len && (buf[len - 1] == '\n'))
		buf[--len] = '\0';
	*ret = buf;
	return 0;
}

int ipcns_read_sysctls(struct md_sysctl **ret, size_t *ret_n)
{
	struct md_sysctl *s;
	size_t n = 0;
	int r = 0;

	while (md_ipc_sysctl_names[n])
		n++;
	s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		s[i].name = strdup(md_ipc_sysctl_names[i]);
		r = s[i].name ? read_sysctl(s[i].name, &s[i].value) : -ENOMEM;
	}
	if (r < 0) {
		md_sysctls_free(s, n);
		return r;
	}
	*ret = s;
	*ret_n = n;
	return 0;
}

static int read_sems(struct md_ipcns *ns)
{
	struct seminfo info;
	int max = semctl(0, 0, SEM_INFO, (union semun){ .info = &info });

	if (max < 0)
		return -errno;
	ns->sems = calloc((size_t)max + 1, sizeof(*ns->sems));
	if (!ns->sems)
		return -ENOMEM;
	for (int idx = 0; idx <= max; idx++) {
		struct md_semset *s = &ns->sems[ns->n_sems];
		struct semid_ds ds;
		int id = semctl(idx, 0, SEM_STAT, (union semun){ .buf = &ds });

		if (id < 0 && (errno == EINVAL || errno == EIDRM))
			continue;	/* no set at this index */
		if (id < 0)
			return -errno;
		*s = (struct md_semset){ .id = id, .key = ds.sem_perm.__key, .mode = ds.sem_perm.mode & 0777,
					 .uid = ds.sem_perm.uid, .gid = ds.sem_perm.gid,
					 .nsems = (uint32_t)ds.sem_nsems, .cuid = ds.sem_perm.cuid,
					 .cgid = ds.sem_perm.cgid, .operated = ds.sem_otime != 0 };
		if (!s->nsems || s->nsems > MD_SEM_NSEMS_MAX)
			return -E2BIG;
		s->values = calloc(s->nsems, sizeof(*s->values));
		if (!s->values)
			return -ENOMEM;
		ns->n_sems++;
		if (semctl(id, 0, GETALL, (union semun){ .array = s->values }) < 0)
			return -errno;
	}
	return 0;
}

/*
 * The messages of queue s, cbytes of them together, copied oldest first.
 * MSG_COPY copies at most kernel/msgmax bytes: a message sent before the
 * limit was lowered cannot be read (-EMSGSIZE).
 */
static int read_msgs(struct md_msgq *s, size_t qnum, size_t cbytes, uint64_t *total, size_t *count)
{
	_cleanup_free_ struct {
		long mtype;
		char mtext[];
	} *buf = NULL;

	*count += qnum;
	if (*total + cbytes > MD_MSG_BYTES_MAX || *count > MD_MSGS_MAX)
		return -EFBIG;
	buf = malloc(sizeof(*buf) + cbytes + 1);
	if (!buf)
		return -ENOMEM;
	s->msgs = calloc(qnum + 1, sizeof(*s->msgs));
	if (!s->msgs)
		return -ENOMEM;
	for (size_t k = 0; k < qnum; k++) {
		ssize_t got = msgrcv(s->id, buf, cbytes, (long)k, IPC_NOWAIT | MSG_COPY);
		struct md_msg *m = &s->msgs[s->n_msgs];

		if (got < 0)
			return errno == EINVAL ? -EMSGSIZE : -errno;
		*total += (uint64_t)got;
		m->mtype = buf->mtype;
		m->len = (size_t)got;
		m->data = malloc(m->len + 1);
		if (!m->data)
			return -ENOMEM;
		memcpy(m->data, buf->mtext, m->len);
		s->n_msgs++;
	}
	return 0;
}

static int read_msgqs(struct md_ipcns *ns)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
	uint64_t total = 0;
	size_t count = 0;

	if (max < 0)
		return -errno;
	ns->msgqs = calloc((size_t)max + 1, sizeof(*ns->msgqs));
	if (!ns->msgqs)
		return -ENOMEM;
	for (int idx = 0; idx <= max; idx++) {
		struct md_msgq *s = &ns->msgqs[ns->n_msgqs];
		struct msqid_ds ds;
		int id = msgctl(idx, MSG_STAT, &ds), r;

		if (id < 0 && (errno == EINVAL || errno == EIDRM))
			continue;
		if (id < 0)
			return -errno;
		*s = (struct md_msgq){ .id = id, .key = ds.msg_perm.__key, .mode = ds.msg_perm.mode & 0777,
				       .uid = ds.msg_perm.uid, .gid = ds.msg_perm.gid, .qbytes = ds.msg_qbytes,
				       .cuid = ds.msg_perm.cuid, .cgid = ds.msg_perm.cgid };
		ns->n_msgqs++;
		/* msgmnb is an int: above it, only CAP_SYS_RESOURCE could set it again */
		if (s->qbytes > INT32_MAX)
			return -ERANGE;
		r = read_msgs(s, ds.msg_qnum, ds.__msg_cbytes, &total, &count);
		if (r < 0)
			return r;
	}
	return 0;
}

int ipcns_read_objects(struct md_ipcns *ns)
{
	int r = read_sems(ns);

	return r < 0 ? r : read_msgqs(ns);
}

int ipcns_read_shm(struct ipcns_shm **ret, size_t *ret_n)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	struct ipcns_shm *a;
	size_t n = 0;

	if (max < 0)
		return -errno;
	a = calloc((size_t)max + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (int idx = 0; idx <= max; idx++) {
		struct shmid_ds ds;
		int id = shmctl(idx, SHM_STAT, &ds);

		if (id < 0 && (errno == EINVAL || errno == EIDRM))
			continue;
		if (id < 0) {
			free(a);
			return -errno;
		}
		a[n++] = (struct ipcns_shm){ id, ds.shm_segsz, ds.shm_nattch };
	}
	*ret = a;
	*ret_n = n;
	return 0;
}

int ipcns_mqueue_mount(void)
{
	_cleanup_close_ int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	return mnt < 0 ? -errno : mnt;
}

int ipcns_mqueue_info(int fd, struct ipcns_mq_info *ret)
{
	char buf[160];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long long qsize;
	int notify, signo, pid;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (sscanf(buf, "QSIZE:%llu NOTIFY:%d SIGNO:%d NOTIFY_PID:%d", &qsize, &notify, &signo, &pid) != 4)
		return -EINVAL;
	/*
	 * A registration shows its pid, if the reader sees it, and its kind
	 * (SIGEV_SIGNAL 0, SIGEV_NONE 1, SIGEV_THREAD 2) or signal, but for
	 * a signal 0 of a process the reader does not see
	 */
	*ret = (struct ipcns_mq_info){ .qsize = qsize, .notify = pid || notify || signo, .notify_pid = pid };
	return 0;
}

/*
 * The messages of q (curmsgs, qsize bytes as looked at), taken out of fd
 * (O_NONBLOCK) and put back in the order taken, all memory at hand first:
 * only another sender or receiver can make it fail half way (-EIO).
 */
static int read_pmsgs(int fd, struct md_posix_mq *q, size_t curmsgs, size_t qsize)
{
	_cleanup_free_ uint8_t *buf = malloc(q->msgsize), *all = malloc(qsize + 1);
	_cleanup_free_ size_t *lens = calloc(curmsgs + 1, sizeof(*lens));
	_cleanup_free_ unsigned *prios = calloc(curmsgs + 1, sizeof(*prios));
	size_t taken = 0, at = 0;
	int r = 0;

	q->msgs = calloc(curmsgs + 1, sizeof(*q->msgs));
	if (!buf || !all || !lens || !prios || !q->msgs)
		return -ENOMEM;
	while (taken < curmsgs) {
		ssize_t n = mq_receive(fd, (char *)buf, q->msgsize, &prios[taken]);

		if (n < 0) {
			r = -EIO;	/* fewer than looked at: someone took one */
			break;
		}
		if ((size_t)n > qsize - at) {
			/* more than looked at: someone sent one; back as best it can, the order lost */
			mq_send(fd, (const char *)buf, (size_t)n, prios[taken]);
			r = -EIO;
			break;
		}
		memcpy(all + at, buf, (size_t)n);
		lens[taken++] = (size_t)n;
		at += (size_t)n;
	}
	at = 0;
	for (size_t k = 0; k < taken; at += lens[k++])
		if (mq_send(fd, (const char *)all + at, lens[k], prios[k]) < 0)
			return -EIO;
	if (r < 0)
		return r;
	/* the queue is as it was: copies for the image, whatever fails now */
	at = 0;
	for (size_t k = 0; k < taken; at += lens[k++]) {
		struct md_pmsg *g = &q->msgs[q->n_msgs];

		g->data = malloc(lens[k] + 1);
		if (!g->data)
			return -ENOMEM;
		memcpy(g->data, all + at, lens[k]);
		g->len = lens[k];
		g->prio = prios[k];
		q->n_msgs++;
	}
	return 0;
}

/* a queue's name and what it is, looked at (nothing taken): q, its messages' count and bytes */
static int look_mq(int mnt, const char *name, struct md_posix_mq *q, size_t *curmsgs, size_t *qsize)
{
	_cleanup_close_ int fd = openat(mnt, name, O_RDONLY | O_CLOEXEC);
	struct ipcns_mq_info info;
	struct mq_attr attr;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0 || mq_getattr(fd, &attr) < 0)
		return -errno;
	r = ipcns_mqueue_info(fd, &info);
	if (r < 0)
		return r;
	*q = (struct md_posix_mq){ .name = strdup(name), .mode = st.st_mode & 07777, .uid = st.st_uid,
				   .gid = st.st_gid, .maxmsg = (uint64_t)attr.mq_maxmsg,
				   .msgsize = (uint64_t)attr.mq_msgsize };
	if (!q->name)
		return -ENOMEM;
	/* the registration goes with a notification; its sigevent is nowhere to be read */
	if (info.notify)
		return -EBUSY;
	*curmsgs = (size_t)attr.mq_curmsgs;
	*qsize = (size_t)info.qsize;
	return 0;
}

static int cmp_mq(const void *a, const void *b)
{
	return strcmp(((const struct md_posix_mq *)a)->name, ((const struct md_posix_mq *)b)->name);
}

/* every queue's name and what it is into ns->mqs, sorted, and their messages' count and bytes in all */
static int look_mqs(int mnt, struct md_ipcns *ns, char **failed)
{
	_cleanup_closedir_ DIR *d = NULL;
	size_t cap = 0, msgs = 0, bytes = 0;
	struct dirent *de;
	int fd, r;

	fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		size_t curmsgs = 0, qsize = 0;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ns->n_mqs == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct md_posix_mq *m = reallocarray(ns->mqs, ncap, sizeof(*m));

			if (!m)
				return -ENOMEM;
			ns->mqs = m;
			cap = ncap;
		}
		ns->mqs[ns->n_mqs] = (struct md_posix_mq){ 0 };
		r = look_mq(mnt, de->d_name, &ns->mqs[ns->n_mqs], &curmsgs, &qsize);
		/* what it holds is freed with ns */
		if (ns->mqs[ns->n_mqs].name)
			ns->n_mqs++;
		msgs += curmsgs;
		bytes += qsize;
		if (r >= 0 && (bytes > MD_MSG_BYTES_MAX || msgs > MD_MSGS_MAX))
			r = -EFBIG;
		if (r < 0) {
			*failed = strdup(de->d_name);
			return r;
		}
	}
	if (errno)
		return -errno;
	if (ns->n_mqs)
		qsort(ns->mqs, ns->n_mqs, sizeof(*ns->mqs), cmp_mq);
	return 0;
}

/* the messages of q, which look_mq() looked at */
static int read_mq(int mnt, struct md_posix_mq *q)
{
	_cleanup_close_ int fd = openat(mnt, q->name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct ipcns_mq_info info;
	struct mq_attr attr;
	int r;

	if (fd < 0 || mq_getattr(fd, &attr) < 0)
		return -errno;
	/* its own -errno: a line it cannot parse sets no errno */
	r = ipcns_mqueue_info(fd, &info);
	if (r < 0)
		return r;
	if (!attr.mq_curmsgs)
		return 0;
	return read_pmsgs(fd, q, (size_t)attr.mq_curmsgs, (size_t)info.qsize);
}

int ipcns_read_mqueues(struct md_ipcns *ns, uint64_t *dev, char **failed,
		       int (*check)(const struct md_ipcns *ns, uint64_t dev, void *arg), void *arg)
{
	_cleanup_close_ int mnt = ipcns_mqueue_mount();
	struct stat st;
	int r;

	*failed = NULL;
	if (ns->n_mqs)
		return -EINVAL;
	if (mnt < 0)
		return mnt;
	if (fstat(mnt, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	r = look_mqs(mnt, ns, failed);
	if (r >= 0 && check)
		r = check(ns, *dev, arg);
	for (size_t i = 0; r == 0 && i < ns->n_mqs; i++) {
		r = read_mq(mnt, &ns->mqs[i]);
		if (r < 0)
			*failed = strdup(ns->mqs[i].name);
	}
	return r;
}

int ipcns_choose_id(const char *kind, int id)
{
	char path[64], buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", id);
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s_next_id", kind);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, (size_t)len) != len)
		return -errno;
	return 0;
}

/* an object made under the id chosen: id, or -errno; one under another id is removed again */
static int made(int got, int id, int (*rm)(int))
{
	if (got < 0)
		return -errno;
	if (got != id) {
		rm(got);
		return -EBUSY;
	}
	return 0;
}

static int rm_sem(int id)
{
	return semctl(id, 0, IPC_RMID);
}

static int rm_msg(int id)
{
	return msgctl(id, IPC_RMID, NULL);
}

/*
 * The creator of an object is whoever makes it: memdump's thread takes
 * its ids (effective ones) for the call, and its own back after. The
 * kernel lets the creator in as it does the owner. A change of ids takes
 * the dumpable flag, which the processes memdump forks would inherit:
 * set back too.
 */
static int as_creator(uid_t cuid, gid_t cgid, int (*mk)(const void *), const void *arg)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	int r, err, dumpable;

	if (cuid == euid && cgid == egid)
		return mk(arg);
	dumpable = prctl(PR_GET_DUMPABLE);

	if (setegid(cgid) < 0)
		return -errno;
	if (seteuid(cuid) < 0) {
		err = -errno;
		if (setegid(egid) < 0)
			abort();	/* memdump would go on with the wrong group */
		if (dumpable >= 0)
			prctl(PR_SET_DUMPABLE, dumpable);
		return err;
	}
	r = mk(arg);
	err = errno;
	if (seteuid(euid) < 0 || setegid(egid) < 0)
		abort();	/* memdump would go on without its privileges */
	if (dumpable >= 0)
		prctl(PR_SET_DUMPABLE, dumpable);
	errno = err;
	return r;
}

static int semget_of(const void *arg)
{
	const struct md_semset *s = arg;

	return semget(s->key, (int)s->nsems, IPC_CREAT | IPC_EXCL | (int)s->mode);
}

static int msgget_of(const void *arg)
{
	const struct md_msgq *q = arg;

	return msgget(q->key, IPC_CREAT | IPC_EXCL | (int)q->mode);
}

/* sem_otime set again, by an operation that changes nothing: +1 then -1, or -1 then +1 at SEMVMX */
static int mark_operated(const struct md_semset *s)
{
	struct sembuf up = { 0, 1, IPC_NOWAIT }, down = { 0, -1, IPC_NOWAIT };
	struct sembuf ops[2] = { up, down };

	if (s->values[0] >= MD_SEM_VALUE_MAX) {
		ops[0] = down;
		ops[1] = up;
	}
	return semop(s->id, ops, 2) < 0 ? -errno : 0;
}

static int make_sem(const struct md_semset *s)
{
	struct semid_ds ds;
	int r;

	r = ipcns_choose_id("sem", s->id);
	if (r < 0)
		return r;
	r = made(as_creator(s->cuid, s->cgid, semget_of, s), s->id, rm_sem);
	if (r < 0)
		return r;
	if (semctl(s->id, 0, SETALL, (union semun){ .array = s->values }) < 0 ||
	    semctl(s->id, 0, IPC_STAT, (union semun){ .buf = &ds }) < 0)
		return -errno;
	if (s->operated) {
		r = mark_operated(s);
		if (r < 0)
			return r;
	}
	ds.sem_perm.uid = s->uid;
	ds.sem_perm.gid = s->gid;
	ds.sem_perm.mode = s->mode;
	return semctl(s->id, 0, IPC_SET, (union semun){ .buf = &ds }) < 0 ? -errno : 0;
}

static int make_msgq(const struct md_msgq *q)
{
	_cleanup_free_ struct {
		long mtype;
		char mtext[];
	} *buf = NULL;
	struct msqid_ds ds;
	size_t max = 0;
	int r;

	for (size_t k = 0; k < q->n_msgs; k++)
		if (q->msgs[k].len > max)
			max = q->msgs[k].len;
	buf = malloc(sizeof(*buf) + max + 1);
	if (!buf)
		return -ENOMEM;
	r = ipcns_choose_id("msg", q->id);
	if (r < 0)
		return r;
	r = made(as_creator(q->cuid, q->cgid, msgget_of, q), q->id, rm_msg);
	if (r < 0)
		return r;
	for (size_t k = 0; k < q->n_msgs; k++) {
		buf->mtype = q->msgs[k].mtype;
		memcpy(buf->mtext, q->msgs[k].data, q->msgs[k].len);
		if (msgsnd(q->id, buf, q->msgs[k].len, IPC_NOWAIT) < 0)
			return -errno;
	}
	if (msgctl(q->id, IPC_STAT, &ds) < 0)
		return -errno;
	ds.msg_perm.uid = q->uid;
	ds.msg_perm.gid = q->gid;
	ds.msg_perm.mode = q->mode;
	ds.msg_qbytes = q->qbytes;
	return msgctl(q->id, IPC_SET, &ds) < 0 ? -errno : 0;
}

static int write_sysctl(const char *name, const char *value)
{
	_cleanup_close_ int fd = -1;
	char path[96];
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		return -errno;
	return 0;
}

int ipcns_write_sysctls(const struct md_sysctl *s, size_t n, const char **failed)
{
	*failed = NULL;
	for (size_t i = 0; i < n; i++) {
		int r = write_sysctl(s[i].name, s[i].value);

		if (r < 0) {
			*failed = s[i].name;
			return r;
		}
	}
	return 0;
}

/* the sysctls that limit what can be made: raised to the image's before anything is made */
static bool is_limit(const char *name)
{
	static const char *const limits[] = {
		"kernel/shmmax", "kernel/shmall", "kernel/shmmni", "kernel/msgmax",
		"kernel/msgmnb", "kernel/msgmni", "kernel/sem",
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (!strcmp(name, limits[i]))
			return true;
	return false;
}

/* "a b c" of want over "x y z" of have, each field the higher of the two, into buf */
static int higher(const char *want, const char *have, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	while (*want || *have) {
		char *ew, *eh;
		unsigned long long w = strtoull(want, &ew, 10), h = strtoull(have, &eh, 10);
		int n;

		if (ew == want && eh == have)
			break;
		n = snprintf(buf + at, len - at, "%s%llu", at ? "\t" : "", w > h ? w : h);
		if (n < 0 || (size_t)n >= len - at)
			return -EINVAL;
		at += (size_t)n;
		want = ew + strspn(ew, " \t");
		have = eh + strspn(eh, " \t");
	}
	return 0;
}

int ipcns_raise_limits(const struct md_sysctl *s, size_t n, const char **failed)
{
	*failed = NULL;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *have = NULL;
		char buf[MD_IPC_SYSCTL_VALUE_MAX * 2];
		int r;

		if (!is_limit(s[i].name))
			continue;
		r = read_sysctl(s[i].name, &have);
		if (r >= 0)
			r = higher(s[i].value, have, buf, sizeof(buf));
		if (r >= 0 && strcmp(buf, have))
			r = write_sysctl(s[i].name, buf);
		if (r < 0) {
			*failed = s[i].name;
			return r;
		}
	}
	return 0;
}

/* a sysctl raised to high while objects are made, then set back */
struct raised_limit {
	const char *name;
	const char *high;
};

/* each of l at its high value, what it was in was[] (freed by limits_back()): 0, or -errno naming it in what */
static int limits_raise(const struct raised_limit *l, size_t n, char **was, char *what, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		int r = read_sysctl(l[i].name, &was[i]);

		if (r >= 0)
			r = write_sysctl(l[i].name, l[i].high);
		if (r < 0) {
			snprintf(what, len, "%s", l[i].name);
			return r;
		}
	}
	return 0;
}

/*
 * each of l back to what was[] holds, whatever failed (was[] freed): 0, or
 * the first -errno, naming it in what unless failed (what names the failure
 * that came first)
 */
static int limits_back(const struct raised_limit *l, size_t n, char **was, bool failed, char *what, size_t len)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		int w = was[i] ? write_sysctl(l[i].name, was[i]) : 0;

		if (w < 0 && r >= 0) {
			r = w;
			if (!failed)
				snprintf(what, len, "%s", l[i].name);
		}
		free(was[i]);
		was[i] = NULL;
	}
	return r;
}

/*
 * Messages go in with the queue's limits out of the way: kernel/msgmax
 * and msgmnb (a new queue's msg_qbytes) at their highest meanwhile, then
 * back to what they were; the queue's own msg_qbytes is set after its
 * messages (a limit lowered below what it holds keeps them).
 */
static const struct raised_limit msg_limits[] = {
	{ "kernel/msgmax", "2147483647" },
	{ "kernel/msgmnb", "2147483647" },
};
#define N_MSG_LIMITS (sizeof(msg_limits) / sizeof(msg_limits[0]))

static int make_msgqs(const struct md_ipcns *ns, char *what, size_t len)
{
	char *was[N_MSG_LIMITS] = { 0 };
	int r, r2;

	r = limits_raise(msg_limits, N_MSG_LIMITS, was, what, len);
	for (size_t i = 0; i < ns->n_msgqs && r >= 0; i++) {
		r = make_msgq(&ns->msgqs[i]);
		if (r < 0)
			snprintf(what, len, "message queue %d (key %#x)", ns->msgqs[i].id, (unsigned)ns->msgqs[i].key);
	}
	r2 = limits_back(msg_limits, N_MSG_LIMITS, was, r < 0, what, len);
	return r < 0 ? r : r2;
}

/* q made by the calling process, which owns it (root chowns it to its owner) */
static int make_mq(const struct md_posix_mq *q, bool chown_it)
{
	struct mq_attr attr = { .mq_maxmsg = (long)q->maxmsg, .mq_msgsize = (long)q->msgsize };
	_cleanup_close_ int fd = -1;
	char path[NAME_MAX + 2];

	snprintf(path, sizeof(path), "/%s", q->name);
	fd = mq_open(path, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK | O_CLOEXEC, 0600, &attr);
	if (fd < 0)
		return -errno;
	for (size_t k = 0; k < q->n_msgs; k++)
		if (mq_send(fd, (const char *)q->msgs[k].data, q->msgs[k].len, q->msgs[k].prio) < 0)
			return -errno;
	/* the owner before the mode: a chown() takes set-id bits */
	if ((chown_it && fchown(fd, q->uid, q->gid) < 0) || fchmod(fd, q->mode) < 0)
		return -errno;
	return 0;
}

/*
 * q made by a process of its owner's: its bytes count against the owner's
 * per-user RLIMIT_MSGQUEUE budget, as they did before the dump, not
 * root's, which every queue of root's on the host shares. The child
 * (memdump may have threads: raw syscalls, its own thread only) reports
 * -errno as its exit status.
 */
static int make_mq_as_owner(const struct md_posix_mq *q)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	int status = 0;
	pid_t pid;

	if (!q->uid)
		return make_mq(q, true);
	/* ignored (inherited so), SIGCHLD would leave no child to wait for */
	sigaction(SIGCHLD, &dfl, &old);
	pid = fork();
	if (pid == 0) {
		int r = 0;

		if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, q->gid, q->gid, q->gid) < 0 ||
		    syscall(SYS_setresuid, q->uid, q->uid, q->uid) < 0)
			r = -errno;
		if (r >= 0)
			r = make_mq(q, false);
		_exit(r < 0 && -r < 256 ? -r : r < 0 ? EIO : 0);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = -1;
				break;
			}
	sigaction(SIGCHLD, &old, NULL);
	if (pid < 0)
		return -errno;
	if (status == -1 || !WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

/*
 * A POSIX queue's limits (fs/mqueue/msg_max, msgsize_max, queues_max)
 * are the kernel's hard ones meanwhile (a queue made before the tree
 * lowered them keeps its own), then back to what they were; memdump's
 * RLIMIT_MSGQUEUE, which the processes that make the queues inherit, is
 * unlimited meanwhile where it may be (CAP_SYS_RESOURCE), else at its hard
 * limit.
 */
static const struct raised_limit mq_limits[] = {
	{ "fs/mqueue/msg_max", "65536" },
	{ "fs/mqueue/msgsize_max", "16777216" },
	{ "fs/mqueue/queues_max", "2147483647" },
};
#define N_MQ_LIMITS (sizeof(mq_limits) / sizeof(mq_limits[0]))

static int make_mqs(const struct md_ipcns *ns, char *what, size_t len)
{
	char *was[N_MQ_LIMITS] = { 0 };
	struct rlimit rl, high = { RLIM_INFINITY, RLIM_INFINITY };
	int r, r2;

	if (getrlimit(RLIMIT_MSGQUEUE, &rl) < 0 ||
	    (setrlimit(RLIMIT_MSGQUEUE, &high) < 0 &&
	     setrlimit(RLIMIT_MSGQUEUE, &(struct rlimit){ rl.rlim_max, rl.rlim_max }) < 0)) {
		snprintf(what, len, "POSIX message queues (memdump's RLIMIT_MSGQUEUE)");
		return -errno;
	}
	r = limits_raise(mq_limits, N_MQ_LIMITS, was, what, len);
	for (size_t i = 0; i < ns->n_mqs && r >= 0; i++) {
		r = make_mq_as_owner(&ns->mqs[i]);
		if (r < 0)
			snprintf(what, len, "POSIX message queue '/%s'%s", ns->mqs[i].name,
				 r == -EMFILE ? " (over its owner's RLIMIT_MSGQUEUE, or out of fds)" : "");
	}
	r2 = limits_back(mq_limits, N_MQ_LIMITS, was, r < 0, what, len);
	if (setrlimit(RLIMIT_MSGQUEUE, &rl) < 0 && r2 >= 0) {
		r2 = -errno;
		if (r >= 0)
			snprintf(what, len, "memdump's RLIMIT_MSGQUEUE");
	}
	return r < 0 ? r : r2;
}

int ipcns_make_objects(const struct md_ipcns *ns, char *what, size_t len)
{
	int r = 0;

	for (size_t i = 0; i < ns->n_sems && r >= 0; i++) {
		r = make_sem(&ns->sems[i]);
		if (r < 0)
			snprintf(what, len, "semaphore set %d (key %#x)", ns->sems[i].id, (unsigned)ns->sems[i].key);
	}
	if (r >= 0 && ns->n_msgqs)
		r = make_msgqs(ns, what, len);
	if (r >= 0 && ns->n_mqs)
		r = make_mqs(ns, what, len);
	return r;
}
