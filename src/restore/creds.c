/*
 * Credentials of restored threads: ids, supplementary groups, capability
 * sets and securebits, then the process's dumpable flag. Every process
 * starts with memdump's credentials, builds itself with them, and takes
 * its own at the very end (final_state), by remote syscalls in each
 * thread, while memdump's ptrace and its seccomp suspension still hold.
 *
 * A thread that ran as full root (ids 0, every capability of its bounding
 * set) gets memdump's credentials, its groups excepted: root on one host
 * is root on the other; but only the capabilities of its own bounding
 * set, so a root confined to fewer (a container's) stays confined. Images
 * from before credentials were kept leave every thread with memdump's, as
 * they always did.
 *
 * The order works around the kernel's rules. With SECBIT_NO_SETUID_FIXUP
 * the id changes leave the capability sets alone, so the thread keeps
 * CAP_SETPCAP for the bounding set, the ambient set and the securebits;
 * the last capset() lowers the sets to the image's. Lowering the ids
 * clears dumpable and the parent-death signal: both are set afterwards.
 *
 * A thread's arguments are written into the scratch area before its ids
 * change; another thread's, into a process that may be another user's
 * already: that takes CAP_SYS_PTRACE.
 *
 * Before any process exists, restore_check_creds() refuses a thread that
 * holds a capability memdump lacks, or credentials memdump may not give.
 * Bounding and inheritable capabilities memdump lacks are dropped with a
 * warning: no thread could gain them here anyway.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "memdump/cleanup.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"
#include "restore/internal.h"

#define SECBIT_NO_SETUID_FIXUP_ (1u << 2)	/* <linux/securebits.h> */
#define SECBIT_NO_CAP_AMBIENT_RAISE_ (1u << 6)
#define SECURE_LOCKS_ 0xaaau			/* each bit n + 1 locks bit n */

/* in the scratch area */
#define SCRATCH_CAPHDR 0
#define SCRATCH_CAPS_FIRST 64	/* struct kcap_data[2]: the inheritable set, the rest as they are */
#define SCRATCH_CAPS_LAST 128	/* the final sets */
#define SCRATCH_GROUPS 4096	/* up to MD_NGROUPS_MAX * 4 bytes */

/* to change ids, capabilities and securebits, to write into another user's process, to kill it */
#define NEEDED_CAPS                                                                                  \
	((1ull << CAP_SETUID) | (1ull << CAP_SETGID) | (1ull << CAP_SETPCAP) | (1ull << CAP_SYS_PTRACE) | \
	 (1ull << CAP_KILL))

/* capabilities this kernel knows: 0 .. /proc/sys/kernel/cap_last_cap */
static uint64_t known_caps(void)
{
	_cleanup_free_ char *buf = NULL;
	unsigned long last;

	if (proc_read_filef(&buf, NULL, "/proc/sys/kernel/cap_last_cap") < 0 || sscanf(buf, "%lu", &last) != 1)
		return ~0ull;
	return last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
}

/*
 * What t is to hold here (groups borrowed from t): the image's, less the
 * bounding and inheritable capabilities memdump lacks; memdump's own for
 * a full root thread, within its bounding set, with the image's groups.
 */
static void target(const struct restore_ctx *rc, const struct md_thread *t, struct md_creds *ret)
{
	const struct md_creds *own = &rc->own_creds;

	if (md_creds_full_root(&t->creds)) {
		*ret = *own;
		ret->cap_prm &= t->creds.cap_bnd;
		ret->cap_eff &= t->creds.cap_bnd;
		ret->cap_bnd &= t->creds.cap_bnd;
		ret->cap_amb &= t->creds.cap_bnd;
	} else {
		*ret = t->creds;
		ret->cap_bnd &= own->cap_bnd;
		ret->cap_inh &= own->cap_inh | own->cap_bnd;
		ret->cap_amb &= ret->cap_inh;
	}
	ret->groups = t->creds.groups;
	ret->n_groups = t->creds.n_groups;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* the kernel keeps groups sorted: so do we, to compare them with it */
static void sort_groups(struct md_creds *c)
{
	if (c->n_groups)
		qsort(c->groups, c->n_groups, sizeof(*c->groups), cmp_u32);
}

/* whether PR_SET_SECUREBITS may go from old to new: no locked bit changes, no lock goes */
static bool secbits_may(uint32_t old, uint32_t new)
{
	return !(((old & SECURE_LOCKS_) >> 1) & (old ^ new)) && !(old & SECURE_LOCKS_ & ~new);
}

/* the names <linux/capability.h> gives capabilities 0 to 40 (CAP_CHECKPOINT_RESTORE, 5.9, is the last) */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
	"AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

/* "CAP_CHOWN CAP_KILL ...", a newer kernel's capabilities by number */
static void cap_list(char *buf, size_t len, uint64_t caps)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 64 && at < len; i++) {
		if (!(caps & (1ull << i)))
			continue;
		if (i < sizeof(cap_names) / sizeof(cap_names[0]))
			at += (size_t)snprintf(buf + at, len - at, "%sCAP_%s", at ? " " : "", cap_names[i]);
		else
			at += (size_t)snprintf(buf + at, len - at, "%scapability %u", at ? " " : "", i);
	}
}

int restore_check_creds(struct restore_ctx *rc)
{
	_cleanup_free_ char *buf = NULL;
	struct md_creds *own = &rc->own_creds;
	uint64_t lost = 0;	/* what the first thread to lose capabilities loses, named once all pass */
	pid_t lost_tid = 0, lost_pid = 0;
	int r, sb;

	r = proc_read_filef(&buf, NULL, "/proc/self/status");
	if (r >= 0)
		r = proc_parse_creds(buf, own);
	if (r < 0)
		return log_err(r, "cannot read our own credentials");
	sb = prctl(PR_GET_SECUREBITS);
	if (sb < 0)
		return log_err(-errno, "cannot read our securebits");
	own->secbits = (uint32_t)sb;
	sort_groups(own);
	rc->cap_known = known_caps();

	for (size_t k = 0; k < rc->n; k++) {
		struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_threads; i++) {
			struct md_thread *t = &p->threads[i];
			const struct md_creds *c = &t->creds;
			struct md_creds want;
			char caps[1024];	/* 41 names fit */

			if (!t->has_creds)
				continue;
			sort_groups(&t->creds);
			target(rc, t, &want);
			if (!lost && !md_creds_full_root(c)) {
				lost = (c->cap_bnd & rc->cap_known & ~want.cap_bnd) | (c->cap_inh & ~want.cap_inh);
				lost_tid = t->tid;
				lost_pid = p->pid;
			}
			if (md_creds_same(&want, own))
				continue;
			if ((own->cap_eff & NEEDED_CAPS) != NEEDED_CAPS)
				return log_err(-EPERM, "thread %d of %d runs as uid %u gid %u: giving it its credentials "
						       "takes CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_PTRACE and "
						       "CAP_KILL", t->tid, p->pid, c->uid[1], c->gid[1]);
			if (!secbits_may(own->secbits, own->secbits | SECBIT_NO_SETUID_FIXUP_) ||
			    !secbits_may(own->secbits | SECBIT_NO_SETUID_FIXUP_, want.secbits))
				return log_err(-EPERM, "thread %d of %d has securebits %#x, which our locked ones (%#x) "
						       "do not allow", t->tid, p->pid, want.secbits, own->secbits);
			if (want.cap_prm & ~own->cap_prm) {
				cap_list(caps, sizeof(caps), want.cap_prm & ~own->cap_prm);
				return log_err(-EPERM, "thread %d of %d holds capabilities memdump lacks: %s", t->tid,
					       p->pid, caps);
			}
			if (want.cap_amb && (own->secbits & SECBIT_NO_CAP_AMBIENT_RAISE_))
				return log_err(-EPERM, "thread %d of %d has ambient capabilities, which our securebits "
						       "forbid to raise", t->tid, p->pid);
		}
	}
	if (lost) {
		char caps[1024];	/* 41 names fit */

		cap_list(caps, sizeof(caps), lost);
		log_warn("thread %d of %d (and maybe others): bounding and inheritable capabilities memdump lacks "
			 "are dropped: %s", lost_tid, lost_pid, caps);
	}
	return 0;
}

struct kcap_header {
	uint32_t version;
	int32_t pid;
};

struct kcap_data {
	uint32_t effective, permitted, inheritable;
};

/* one remote syscall in thread tid; what = NULL: its result is not checked */
static int call(struct inject_ctx *c, pid_t tid, const char *what, long nr, uint64_t a1, uint64_t a2,
		uint64_t a3)
{
	int64_t res;
	int r = inject_syscall(c, nr, a1, a2, a3, 0, 0, 0, &res);

	if (r < 0)
		return log_err(r, "remote syscall %ld in thread %d failed", nr, tid);
	if (what && res < 0)
		return log_err((int)res, "cannot %s in thread %d", what, tid);
	return 0;
}

static void cap_data(struct kcap_data d[2], uint64_t eff, uint64_t prm, uint64_t inh)
{
	for (int i = 0; i < 2; i++)
		d[i] = (struct kcap_data){ (uint32_t)(eff >> (32 * i)), (uint32_t)(prm >> (32 * i)),
					   (uint32_t)(inh >> (32 * i)) };
}

/* capset()'s header, both sets of data and the groups, into the scratch area */
static int put_args(struct restore_ctx *rc, struct restore_proc *rp, const struct md_creds *w)
{
	const struct md_creds *own = &rc->own_creds;
	struct kcap_header h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct kcap_data first[2], last[2];
	int r;

	cap_data(first, own->cap_eff, own->cap_prm, w->cap_inh);
	cap_data(last, w->cap_eff, w->cap_prm, w->cap_inh);
	r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_CAPHDR, &h, sizeof(h));
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_CAPS_FIRST, first, sizeof(first));
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_CAPS_LAST, last, sizeof(last));
	if (r >= 0 && w->n_groups)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_GROUPS, w->groups, w->n_groups * sizeof(*w->groups));
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	return 0;
}

/* the steps, in this order; see the top of the file. put_args() wrote what they take */
static int set_creds(struct restore_ctx *rc, struct restore_proc *rp, struct inject_ctx *c, pid_t tid,
		     const struct md_creds *w)
{
	const struct md_creds *own = &rc->own_creds;
	int64_t sb;
	int r;

	r = call(c, tid, "set securebits", SYS_prctl, PR_SET_SECUREBITS, own->secbits | SECBIT_NO_SETUID_FIXUP_, 0);
	if (r >= 0)
		r = call(c, tid, "set the supplementary groups", SYS_setgroups, w->n_groups,
			 rp->scratch + SCRATCH_GROUPS, 0);
	if (r >= 0)
		r = call(c, tid, "set the gids", SYS_setresgid, w->gid[0], w->gid[1], w->gid[2]);
	if (r >= 0)
		r = call(c, tid, NULL, SYS_setfsgid, w->gid[3], 0, 0);	/* says nothing: checked below */
	if (r >= 0)
		r = call(c, tid, "set the uids", SYS_setresuid, w->uid[0], w->uid[1], w->uid[2]);
	if (r >= 0)
		r = call(c, tid, NULL, SYS_setfsuid, w->uid[3], 0, 0);
	/* the inheritable set first: its bound is the bounding set as it is now */
	if (r >= 0)
		r = call(c, tid, "set the inheritable capabilities", SYS_capset, rp->scratch + SCRATCH_CAPHDR,
			 rp->scratch + SCRATCH_CAPS_FIRST, 0);
	for (int cap = 0; cap < 64 && r >= 0; cap++)
		if ((rc->cap_known & own->cap_bnd & ~w->cap_bnd) & (1ull << cap))
			r = call(c, tid, "lower the bounding set", SYS_prctl, PR_CAPBSET_DROP, (uint64_t)cap, 0);
	if (r >= 0)
		r = call(c, tid, "clear the ambient set", SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0);
	for (int cap = 0; cap < 64 && r >= 0; cap++)
		if (w->cap_amb & (1ull << cap))
			r = call(c, tid, "raise an ambient capability", SYS_prctl, PR_CAP_AMBIENT,
				 PR_CAP_AMBIENT_RAISE, (uint64_t)cap);
	if (r >= 0)
		r = call(c, tid, "set securebits", SYS_prctl, PR_SET_SECUREBITS, w->secbits, 0);
	if (r >= 0)
		r = call(c, tid, "set the capabilities", SYS_capset, rp->scratch + SCRATCH_CAPHDR,
			 rp->scratch + SCRATCH_CAPS_LAST, 0);
	if (r < 0)
		return r;
	/* not in the status file verify() reads */
	r = inject_syscall(c, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0, &sb);
	if (r < 0)
		return log_err(r, "remote syscall %d in thread %d failed", SYS_prctl, tid);
	if (sb != w->secbits)
		return log_err(-EIO, "thread %d has securebits %#llx, not %#x", tid, (long long)sb, w->secbits);
	return 0;
}

/* what the kernel says the thread holds now is what it should */
static int verify(const struct restore_proc *rp, pid_t tid, const struct md_creds *want)
{
	_cleanup_free_ char *buf = NULL;
	struct md_creds now = {};
	bool same;
	int r;

	r = proc_read_filef(&buf, NULL, "/proc/%d/task/%d/status", rp->pid, tid);
	if (r >= 0)
		r = proc_parse_creds(buf, &now);
	if (r < 0)
		return log_err(r, "cannot read the credentials of thread %d", tid);
	now.secbits = want->secbits;	/* not in the file: set_creds() read them back */
	same = md_creds_same(&now, want);
	free(now.groups);
	if (!same)
		return log_err(-EIO, "thread %d did not take the credentials of the image (uids %u %u %u %u, "
				     "gids %u %u %u %u)", tid, want->uid[0], want->uid[1], want->uid[2], want->uid[3],
			       want->gid[0], want->gid[1], want->gid[2], want->gid[3]);
	return 0;
}

static int restore_dumpable(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int64_t now;
	int r;

	if (p->dumpable < 0)
		return 0;
	r = restore_rcall(rp, "prctl(PR_GET_DUMPABLE)", SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0, 0, &now);
	if (r < 0)
		return r;
	if (now == p->dumpable)
		return 0;
	if (p->dumpable == 2)	/* SUID_DUMP_ROOT: only suid_dumpable gives it */
		log_warn("%d: was dumpable by root only (suid_dumpable 2): made not dumpable", p->pid);
	return restore_rcall_ok(rp, "prctl(PR_SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE, p->dumpable == 1, 0, 0, 0,
				0);
}

int restore_creds(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];
		struct inject_ctx own, *c;
		struct md_creds want;

		if (!t->has_creds)
			continue;
		target(rc, t, &want);
		if (md_creds_same(&want, &rc->own_creds))
			continue;
		r = put_args(rc, rp, &want);
		if (r < 0)
			return r;
		r = restore_thread_begin(rp, t->tid, &own, &c);
		if (r < 0)
			return r;
		r = set_creds(rc, rp, c, t->tid, &want);
		r = restore_thread_end(&own, c, r);
		if (r < 0)
			return r;
		r = verify(rp, t->tid, &want);
		if (r < 0)
			return r;
	}
	return restore_dumpable(rp);
}
