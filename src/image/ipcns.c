/*
 * ipcns.img: the tree's own IPC namespace (md_inventory.ipc_ns), its SysV
 * semaphore sets and message queues and the sysctls it set otherwise than
 * a new namespace. Read checks what a restore would write: sysctl names
 * from memdump's list only, ids and keys unique per kind, semaphore values
 * within SEMVMX, message types positive and sizes bounded, POSIX queue
 * names mq_open() takes, sorted and unique, with owners, limits and
 * messages the kernel's own could hold.
 */
#include "memdump/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "ipcns.pb-c.h"

#define IPCNS_NAME "ipcns.img"

/* the POSIX queues of ns into m (q, qp, ms, msp: arrays the caller frees, NULL if none) */
static int pack_mqs(const struct md_ipcns *ns, Md__IpcNsImage *m, Md__PosixMq **q, Md__PosixMq ***qp,
		    Md__PosixMsg **ms, Md__PosixMsg ***msp)
{
	size_t n_msgs = 0, k = 0;

	for (size_t i = 0; i < ns->n_mqs; i++)
		n_msgs += ns->mqs[i].n_msgs;
	*q = calloc(ns->n_mqs + 1, sizeof(**q));
	*qp = calloc(ns->n_mqs + 1, sizeof(**qp));
	*ms = calloc(n_msgs + 1, sizeof(**ms));
	*msp = calloc(n_msgs + 1, sizeof(**msp));
	if (!*q || !*qp || !*ms || !*msp)
		return -ENOMEM;
	for (size_t i = 0; i < ns->n_mqs; i++) {
		const struct md_posix_mq *s = &ns->mqs[i];
		Md__PosixMq *d = &(*q)[i];

		md__posix_mq__init(d);
		d->name = s->name;
		d->mode = s->mode;
		d->uid = s->uid;
		d->gid = s->gid;
		d->maxmsg = s->maxmsg;
		d->msgsize = s->msgsize;
		d->msgs = &(*msp)[k];
		d->n_msgs = s->n_msgs;
		for (size_t j = 0; j < s->n_msgs; j++, k++) {
			md__posix_msg__init(&(*ms)[k]);
			(*ms)[k].prio = s->msgs[j].prio;
			(*ms)[k].data.data = s->msgs[j].data;
			(*ms)[k].data.len = s->msgs[j].len;
			(*msp)[k] = &(*ms)[k];
		}
		(*qp)[i] = d;
	}
	m->n_mqs = ns->n_mqs;
	m->mqs = *qp;
	return 0;
}

int image_write_ipcns(int dirfd, const struct md_ipcns *ns)
{
	Md__IpcNsImage m = MD__IPC_NS_IMAGE__INIT;
	Md__IpcSysctl *sc, **scp;
	Md__SemSet *se, **sep;
	Md__MsgQueue *q, **qp;
	Md__SysvMsg *ms = NULL, **msp = NULL;
	Md__PosixMq *pq = NULL, **pqp = NULL;
	Md__PosixMsg *pm = NULL, **pmp = NULL;
	uint32_t **vals;
	size_t n_msgs = 0, k = 0;
	int r = -ENOMEM;

	for (size_t i = 0; i < ns->n_msgqs; i++)
		n_msgs += ns->msgqs[i].n_msgs;
	sc = calloc(ns->n_sysctls + 1, sizeof(*sc));
	scp = calloc(ns->n_sysctls + 1, sizeof(*scp));
	se = calloc(ns->n_sems + 1, sizeof(*se));
	sep = calloc(ns->n_sems + 1, sizeof(*sep));
	q = calloc(ns->n_msgqs + 1, sizeof(*q));
	qp = calloc(ns->n_msgqs + 1, sizeof(*qp));
	ms = calloc(n_msgs + 1, sizeof(*ms));
	msp = calloc(n_msgs + 1, sizeof(*msp));
	vals = calloc(ns->n_sems + 1, sizeof(*vals));
	if (!sc || !scp || !se || !sep || !q || !qp || !ms || !msp || !vals)
		goto out;
	for (size_t i = 0; i < ns->n_sysctls; i++) {
		md__ipc_sysctl__init(&sc[i]);
		sc[i].name = ns->sysctls[i].name;
		sc[i].value = ns->sysctls[i].value;
		scp[i] = &sc[i];
	}
	for (size_t i = 0; i < ns->n_sems; i++) {
		const struct md_semset *s = &ns->sems[i];

		md__sem_set__init(&se[i]);
		se[i].id = s->id;
		se[i].key = s->key;
		se[i].mode = s->mode;
		se[i].uid = s->uid;
		se[i].gid = s->gid;
		se[i].has_cuid = se[i].has_cgid = se[i].has_operated = true;
		se[i].cuid = s->cuid;
		se[i].cgid = s->cgid;
		se[i].operated = s->operated;
		if (!(vals[i] = calloc(s->nsems + 1, sizeof(**vals))))
			goto out;
		for (uint32_t v = 0; v < s->nsems; v++)
			vals[i][v] = s->values[v];
		se[i].n_values = s->nsems;
		se[i].values = vals[i];
		sep[i] = &se[i];
	}
	for (size_t i = 0; i < ns->n_msgqs; i++) {
		const struct md_msgq *s = &ns->msgqs[i];

		md__msg_queue__init(&q[i]);
		q[i].id = s->id;
		q[i].key = s->key;
		q[i].mode = s->mode;
		q[i].uid = s->uid;
		q[i].gid = s->gid;
		q[i].qbytes = s->qbytes;
		q[i].has_cuid = q[i].has_cgid = true;
		q[i].cuid = s->cuid;
		q[i].cgid = s->cgid;
		q[i].msgs = &msp[k];
		q[i].n_msgs = s->n_msgs;
		for (size_t j = 0; j < s->n_msgs; j++, k++) {
			md__sysv_msg__init(&ms[k]);
			ms[k].mtype = s->msgs[j].mtype;
			ms[k].data.data = s->msgs[j].data;
			ms[k].data.len = s->msgs[j].len;
			msp[k] = &ms[k];
		}
		qp[i] = &q[i];
	}
	m.n_sysctls = ns->n_sysctls;
	m.sysctls = scp;
	m.n_sems = ns->n_sems;
	m.sems = sep;
	m.n_msgqs = ns->n_msgqs;
	m.msgqs = qp;
	if (pack_mqs(ns, &m, &pq, &pqp, &pm, &pmp) < 0)
		goto out;
	r = img_write_msg_flags(dirfd, IPCNS_NAME, MD_IMG_IPCNS, ns->n_mqs ? MD_IPCNS_F_POSIX_MQ : 0, &m.base);
out:
	free(pq);
	free(pqp);
	free(pm);
	free(pmp);
	for (size_t i = 0; vals && i < ns->n_sems; i++)
		free(vals[i]);
	free(vals);
	free(sc);
	free(scp);
	free(se);
	free(sep);
	free(q);
	free(qp);
	free(ms);
	free(msp);
	return r == -ENOMEM ? log_err(r, "cannot write image '%s'", IPCNS_NAME) : r;
}

/* the POSIX queues against what mq_open() and mq_send() take: 0, or img_invalid() */
static int check_mqs(const Md__IpcNsImage *m)
{
	uint64_t bytes = 0, msgs = 0;

	if (m->n_mqs > MD_IPC_OBJS_MAX)
		return img_invalid(IPCNS_NAME, "%zu POSIX message queues: too many", m->n_mqs);
	for (size_t i = 0; i < m->n_mqs; i++) {
		const Md__PosixMq *q = m->mqs[i];

		if (!md_mq_name_ok(q->name))
			return img_invalid(IPCNS_NAME, "POSIX message queue name '%.64s'", q->name);
		/* sorted: each name once */
		if (i && strcmp(m->mqs[i - 1]->name, q->name) >= 0)
			return img_invalid(IPCNS_NAME, "POSIX message queue '/%s' after '/%s': not sorted, or twice",
					   q->name, m->mqs[i - 1]->name);
		if (q->mode > 07777 || !q->maxmsg || q->maxmsg > MD_MQ_MAXMSG_MAX || !q->msgsize ||
		    q->msgsize > MD_MQ_MSGSIZE_MAX || q->n_msgs > q->maxmsg)
			return img_invalid(IPCNS_NAME, "POSIX message queue '/%s': mode %#o, %zu of %llu messages of "
					   "%llu bytes", q->name, q->mode, q->n_msgs, (unsigned long long)q->maxmsg,
					   (unsigned long long)q->msgsize);
		/* -1 is no id: chown() would leave the queue root's */
		if (q->uid == UINT32_MAX || q->gid == UINT32_MAX)
			return img_invalid(IPCNS_NAME, "POSIX message queue '/%s' owned by %u:%u", q->name, q->uid,
					   q->gid);
		msgs += q->n_msgs;
		if (msgs > MD_MSGS_MAX)
			return img_invalid(IPCNS_NAME, "over %u POSIX messages", MD_MSGS_MAX);
		for (size_t k = 0; k < q->n_msgs; k++) {
			const Md__PosixMsg *g = q->msgs[k];

			if (g->prio >= MD_MQ_PRIO_MAX || g->data.len > q->msgsize)
				return img_invalid(IPCNS_NAME, "message %zu of POSIX queue '/%s': priority %u, "
						   "%zu bytes", k, q->name, g->prio, g->data.len);
			/* as mq_receive() gives them: a higher priority never after a lower one */
			if (k && g->prio > q->msgs[k - 1]->prio)
				return img_invalid(IPCNS_NAME, "message %zu of POSIX queue '/%s' comes after one of a "
						   "lower priority", k, q->name);
			bytes += g->data.len;
			if (bytes > MD_MSG_BYTES_MAX)
				return img_invalid(IPCNS_NAME, "POSIX messages of over %u bytes", MD_MSG_BYTES_MAX);
		}
	}
	return 0;
}

/* the image's objects against what a restore needs: 0, or img_invalid() */
static int check(const Md__IpcNsImage *m)
{
	uint64_t bytes = 0, msgs = 0;

	if (m->n_sysctls > 64 || m->n_sems > MD_IPC_OBJS_MAX || m->n_msgqs > MD_IPC_OBJS_MAX)
		return img_invalid(IPCNS_NAME, "%zu sysctls, %zu semaphore sets, %zu message queues: too many",
				   m->n_sysctls, m->n_sems, m->n_msgqs);
	for (size_t i = 0; i < m->n_sysctls; i++) {
		const Md__IpcSysctl *c = m->sysctls[i];
		size_t len = strlen(c->value);

		/* names from a list: the restore opens nothing else under /proc/sys */
		if (!md_ipc_sysctl_name_ok(c->name))
			return img_invalid(IPCNS_NAME, "'%.64s' is no IPC sysctl memdump keeps", c->name);
		if (!len || len > MD_IPC_SYSCTL_VALUE_MAX || strspn(c->value, "0123456789- \t") != len)
			return img_invalid(IPCNS_NAME, "sysctl %s has value '%.64s'", c->name, c->value);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->sysctls[j]->name, c->name))
				return img_invalid(IPCNS_NAME, "sysctl %s appears twice", c->name);
	}
	for (size_t i = 0; i < m->n_sems; i++) {
		const Md__SemSet *s = m->sems[i];

		if (s->id < 0 || !s->n_values || s->n_values > MD_SEM_NSEMS_MAX || s->mode > 0777)
			return img_invalid(IPCNS_NAME, "semaphore set %d: %zu semaphores, mode %#o", s->id, s->n_values,
					   s->mode);
		for (size_t v = 0; v < s->n_values; v++)
			if (s->values[v] > MD_SEM_VALUE_MAX)
				return img_invalid(IPCNS_NAME, "semaphore %zu of set %d has value %u", v, s->id,
						   s->values[v]);
		for (size_t j = 0; j < i; j++)
			if (m->sems[j]->id == s->id || (s->key && m->sems[j]->key == s->key))
				return img_invalid(IPCNS_NAME, "two semaphore sets with id %d or key %#x", s->id,
						   (unsigned)s->key);
	}
	for (size_t i = 0; i < m->n_msgqs; i++) {
		const Md__MsgQueue *q = m->msgqs[i];

		if (q->id < 0 || q->mode > 0777 || q->qbytes > INT32_MAX)
			return img_invalid(IPCNS_NAME, "message queue %d: mode %#o, %llu bytes", q->id, q->mode,
					   (unsigned long long)q->qbytes);
		msgs += q->n_msgs;
		if (msgs > MD_MSGS_MAX)
			return img_invalid(IPCNS_NAME, "over %u messages", MD_MSGS_MAX);
		for (size_t k = 0; k < q->n_msgs; k++) {
			if (q->msgs[k]->mtype <= 0)
				return img_invalid(IPCNS_NAME, "message %zu of queue %d has type %lld", k, q->id,
						   (long long)q->msgs[k]->mtype);
			bytes += q->msgs[k]->data.len;
			if (bytes > MD_MSG_BYTES_MAX)
				return img_invalid(IPCNS_NAME, "messages of over %u bytes", MD_MSG_BYTES_MAX);
		}
		for (size_t j = 0; j < i; j++)
			if (m->msgqs[j]->id == q->id || (q->key && m->msgqs[j]->key == q->key))
				return img_invalid(IPCNS_NAME, "two message queues with id %d or key %#x", q->id,
						   (unsigned)q->key);
	}
	return check_mqs(m);
}

static int unpack_mqs(const Md__IpcNsImage *m, struct md_ipcns *ns)
{
	ns->mqs = calloc(m->n_mqs + 1, sizeof(*ns->mqs));
	if (!ns->mqs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_mqs; i++) {
		const Md__PosixMq *q = m->mqs[i];
		struct md_posix_mq *d = &ns->mqs[ns->n_mqs++];

		*d = (struct md_posix_mq){ .name = strdup(q->name), .mode = q->mode, .uid = q->uid, .gid = q->gid,
					   .maxmsg = q->maxmsg, .msgsize = q->msgsize };
		d->msgs = calloc(q->n_msgs + 1, sizeof(*d->msgs));
		if (!d->name || !d->msgs)
			return -ENOMEM;
		for (size_t k = 0; k < q->n_msgs; k++) {
			struct md_pmsg *g = &d->msgs[d->n_msgs++];

			g->prio = q->msgs[k]->prio;
			g->len = q->msgs[k]->data.len;
			if (!(g->data = malloc(g->len + 1)))
				return -ENOMEM;
			if (g->len)	/* protobuf-c gives no buffer for empty bytes */
				memcpy(g->data, q->msgs[k]->data.data, g->len);
		}
	}
	return 0;
}

int image_read_ipcns(int dirfd, struct md_ipcns *ret)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	struct md_ipcns ns = { 0 };
	const Md__IpcNsImage *m;
	uint32_t flags;
	int r;

	*ret = ns;
	r = img_read_msg_flags(dirfd, IPCNS_NAME, MD_IMG_IPCNS, &flags, &raw);
	if (r < 0)
		return r;
	m = (const Md__IpcNsImage *)raw;
	r = check(m);
	if (r < 0)
		return r;
	if (m->n_mqs && !(flags & MD_IPCNS_F_POSIX_MQ))
		return img_invalid(IPCNS_NAME, "holds POSIX message queues without header flag %#x",
				   MD_IPCNS_F_POSIX_MQ);
	ns.sysctls = calloc(m->n_sysctls + 1, sizeof(*ns.sysctls));
	ns.sems = calloc(m->n_sems + 1, sizeof(*ns.sems));
	ns.msgqs = calloc(m->n_msgqs + 1, sizeof(*ns.msgqs));
	if (!ns.sysctls || !ns.sems || !ns.msgqs)
		goto oom;
	for (size_t i = 0; i < m->n_sysctls; i++) {
		struct md_sysctl *c = &ns.sysctls[ns.n_sysctls++];

		c->name = strdup(m->sysctls[i]->name);
		c->value = strdup(m->sysctls[i]->value);
		if (!c->name || !c->value)
			goto oom;
	}
	for (size_t i = 0; i < m->n_sems; i++) {
		const Md__SemSet *s = m->sems[i];
		struct md_semset *d = &ns.sems[ns.n_sems++];

		*d = (struct md_semset){ s->id,	  s->key,  s->mode, s->uid, s->gid, NULL, (uint32_t)s->n_values,
					 s->cuid, s->cgid, s->has_operated && s->operated };
		if (!(d->values = calloc(s->n_values, sizeof(*d->values))))
			goto oom;
		for (size_t v = 0; v < s->n_values; v++)
			d->values[v] = (uint16_t)s->values[v];
	}
	for (size_t i = 0; i < m->n_msgqs; i++) {
		const Md__MsgQueue *q = m->msgqs[i];
		struct md_msgq *d = &ns.msgqs[ns.n_msgqs++];

		*d = (struct md_msgq){ q->id, q->key, q->mode, q->uid, q->gid, q->qbytes, NULL, 0, q->cuid, q->cgid };
		if (!(d->msgs = calloc(q->n_msgs + 1, sizeof(*d->msgs))))
			goto oom;
		for (size_t k = 0; k < q->n_msgs; k++) {
			struct md_msg *g = &d->msgs[d->n_msgs++];

			g->mtype = q->msgs[k]->mtype;
			g->len = q->msgs[k]->data.len;
			if (!(g->data = malloc(g->len + 1)))
				goto oom;
			if (g->len)	/* protobuf-c gives no buffer for empty bytes */
				memcpy(g->data, q->msgs[k]->data.data, g->len);
		}
	}
	if (unpack_mqs(m, &ns) < 0)
		goto oom;
	*ret = ns;
	return 0;
oom:
	md_ipcns_release(&ns);
	return log_err(-ENOMEM, "cannot read image '%s'", IPCNS_NAME);
}
