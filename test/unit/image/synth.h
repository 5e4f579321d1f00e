#pragma once
/*
 * Synthetic image content for the image tests: every field of the model
 * set to a distinct non-zero value derived from a seed, and field-by-field
 * comparisons. test_golden.c also builds images/golden/v1 from these, so
 * what they produce for a given seed must not change.
 */
#include <criterion/criterion.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memdump/model.h"

#define SYNTH_PID 4242

/* Distinct values: each call returns the next one, mixed with the seed. */
struct synth {
	uint64_t next;
};

static inline uint64_t sv(struct synth *s)
{
	return s->next++;
}

static inline void synth_siginfo(struct synth *s, struct md_siginfo *si)
{
	for (int i = 0; i < MD_SIGINFO_SIZE; i++)
		si->raw[i] = (uint8_t)(sv(s) | 1);
}

static inline char *synth_str(struct synth *s, const char *what)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "/%s/%llu", what, (unsigned long long)sv(s));
	return strdup(buf);
}

/* pid's process: threads pid and pid+1, three VMAs, three fds. */
static inline void synth_proc(struct md_proc *p, pid_t pid, uint64_t seed)
{
	struct synth s = { .next = seed * 1000 + 1 };
	uint64_t base = 0x400000 + seed * 0x100000;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = sv(&s);
	p->pgid = sv(&s);
	p->sid = sv(&s);
	strcpy(p->comm, "synthproc");
	p->umask = 022;
	p->cwd = synth_str(&s, "cwd");
	p->exe = synth_str(&s, "exe");
	p->mm.start_code = sv(&s);
	p->mm.end_code = sv(&s);
	p->mm.start_data = sv(&s);
	p->mm.end_data = sv(&s);
	p->mm.start_brk = sv(&s);
	p->mm.brk = sv(&s);
	p->mm.start_stack = sv(&s);
	p->mm.arg_start = sv(&s);
	p->mm.arg_end = sv(&s);
	p->mm.env_start = sv(&s);
	p->mm.env_end = sv(&s);
	p->auxv_len = 4;
	p->auxv = calloc(4, sizeof(uint64_t));
	p->auxv[0] = 6;		/* AT_PAGESZ */
	p->auxv[1] = 4096;
	p->auxv[2] = 0;
	p->auxv[3] = 0;
	p->personality = sv(&s);
	p->vdso_hash = 0xfedcba9876543210ULL ^ seed;

	p->n_vmas = 3;
	p->vmas = calloc(3, sizeof(*p->vmas));
	for (int i = 0; i < 3; i++) {
		struct md_vma *v = &p->vmas[i];

		v->start = base + i * 0x10000;
		v->end = v->start + 0x8000;
		v->pgoff = sv(&s) * 4096;
		v->prot = 1 + i;
		v->shared = i == 2;
		v->kind = i == 0 ? MD_VMA_ANON : i == 1 ? MD_VMA_FILE : MD_VMA_MEMFD;
		v->vmflags = MD_VMF_RD | MD_VMF_MR | (uint64_t)i << 40;
		v->dev_major = sv(&s);
		v->dev_minor = sv(&s);
		v->inode = sv(&s);
		v->path = synth_str(&s, "vma");
		v->deleted = i != 1;
		v->shm_id = sv(&s);
	}

	p->n_threads = 2;
	p->threads = calloc(2, sizeof(*p->threads));
	for (int i = 0; i < 2; i++) {
		struct md_thread *t = &p->threads[i];
		uint64_t *r = (uint64_t *)&t->regs;

		t->tid = pid + i;
		snprintf(t->comm, sizeof(t->comm), "thread-%d", i);
		for (size_t k = 0; k < sizeof(t->regs) / sizeof(uint64_t); k++)
			r[k] = sv(&s) | (uint64_t)k << 48;
		t->xsave_size = 64 + i * 8;
		t->xsave = malloc(t->xsave_size);
		for (size_t k = 0; k < t->xsave_size; k++)
			t->xsave[k] = (uint8_t)sv(&s);
		t->xfeatures = sv(&s);
		t->sigmask = sv(&s) << 32;
		t->sigmask |= sv(&s);
		t->rseq.addr = sv(&s);
		t->rseq.len = sv(&s);
		t->rseq.flags = sv(&s);
		t->rseq.sig = sv(&s);
		t->altstack.sp = sv(&s);
		t->altstack.flags = sv(&s);
		t->altstack.size = sv(&s);
		t->clear_child_tid = sv(&s);
		/* added after golden v1: derived, so the sv() sequence (and v1's content) is unchanged */
		t->robust_list = t->clear_child_tid ^ 0x5a5aULL;
		t->robust_list_len = 24;
		t->n_pending = 1 + i;
		t->pending = calloc(t->n_pending, sizeof(*t->pending));
		for (size_t k = 0; k < t->n_pending; k++)
			synth_siginfo(&s, &t->pending[k]);
	}
	for (int i = 0; i < MD_NSIG; i++) {
		p->sigactions[i].handler = sv(&s);
		p->sigactions[i].flags = sv(&s);
		p->sigactions[i].restorer = sv(&s);
		p->sigactions[i].mask = sv(&s);
	}
	for (int i = 0; i < 3; i++) {
		p->itimers[i].interval_sec = sv(&s);
		p->itimers[i].interval_usec = -(int64_t)sv(&s);
		p->itimers[i].value_sec = sv(&s);
		p->itimers[i].value_usec = sv(&s);
	}
	for (int i = 0; i < MD_RLIM_NLIMITS; i++) {
		p->rlimits[i].cur = sv(&s);
		p->rlimits[i].max = i == 0 ? ~0ULL : sv(&s);
	}
	p->n_shared_pending = 2;
	p->shared_pending = calloc(2, sizeof(*p->shared_pending));
	synth_siginfo(&s, &p->shared_pending[0]);
	synth_siginfo(&s, &p->shared_pending[1]);

	p->n_fds = 3;
	p->fds = calloc(3, sizeof(*p->fds));
	for (int i = 0; i < 3; i++) {
		struct md_fd *f = &p->fds[i];

		f->fd = i * 3 + 1;
		f->kind = (enum md_fd_kind)(i + 1);
		f->path = synth_str(&s, "fd");
		f->flags = sv(&s);
		f->pos = sv(&s);
		f->mode = sv(&s);
		f->shm_id = sv(&s);
		/* added after golden v1: not from sv(), so v1's content is unchanged */
		f->dup_of = i == 2 ? p->fds[0].fd : -1;
	}
}

/* A pagemap that fits synth_proc(pid, seed): one data and one zero range per VMA. */
static inline void synth_pagemap(struct md_pagemap *pm, const struct md_proc *p)
{
	memset(pm, 0, sizeof(*pm));
	pm->n = p->n_vmas * 2;
	pm->entries = calloc(pm->n, sizeof(*pm->entries));
	for (size_t i = 0; i < p->n_vmas; i++) {
		/* shared mappings never hold data of their own: their object does */
		uint32_t f = p->vmas[i].shared ? MD_PM_ZERO : MD_PM_DATA;

		pm->entries[2 * i] = (struct md_pagemap_entry){ p->vmas[i].start, 1 + i, f };
		pm->entries[2 * i + 1] =
			(struct md_pagemap_entry){ p->vmas[i].start + 0x4000, 2, MD_PM_ZERO };
		if (f == MD_PM_DATA)
			pm->nr_data_pages += 1 + i;
	}
}

static inline void synth_inventory(struct md_inventory *inv, uint64_t seed)
{
	memset(inv, 0, sizeof(*inv));
	inv->format_version = 1;
	inv->root_pid = SYNTH_PID;
	inv->dump_time_ns = 1700000000123456789ULL + seed;
	inv->kernel_release = strdup("6.18.0-synth");
	inv->tool_version = strdup("0.1.0");
	inv->page_size = 4096;
	inv->xfeatures = 0x2e7 + seed;
	inv->n_pids = 2;
	inv->pids = calloc(2, sizeof(pid_t));
	inv->pids[0] = SYNTH_PID;
	inv->pids[1] = SYNTH_PID + 10;
	inv->n_shm_ids = 1;
	inv->shm_ids = calloc(1, sizeof(uint64_t));
	inv->shm_ids[0] = 777 + seed;
}

static inline void synth_shm(struct md_shm *s, struct md_pagemap *pm, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->id = 777 + seed;
	s->name = strdup("synth-memfd");
	s->size = 3 * 4096 + 100;
	s->seals = 0x8 | 0x1;
	s->memfd_flags = 2;
	memset(pm, 0, sizeof(*pm));
	pm->n = 2;
	pm->entries = calloc(2, sizeof(*pm->entries));
	pm->entries[0] = (struct md_pagemap_entry){ 0, 1, MD_PM_DATA };
	pm->entries[1] = (struct md_pagemap_entry){ 2 * 4096, 2, MD_PM_DATA };
	pm->nr_data_pages = 3;
}

/* Page n of a synthetic pages file: every byte depends on n and offset. */
static inline void synth_page(uint8_t *buf, uint64_t n)
{
	for (int i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(n * 31 + i * 7 + (i >> 8));
}

/* memcmp() that accepts NULL pointers when n is 0 */
static inline bool mem_eq(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static inline void assert_str_eq_null(const char *a, const char *b)
{
	if (!a || !b)
		cr_assert(a == b, "one string is NULL");
	else
		cr_assert_str_eq(a, b);
}

static inline void assert_sched_eq(const struct md_sched *a, const struct md_sched *b)
{
	cr_assert_eq(a->policy, b->policy);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->nice, b->nice);
	cr_assert_eq(a->priority, b->priority);
	cr_assert_eq(a->dl_runtime, b->dl_runtime);
	cr_assert_eq(a->dl_deadline, b->dl_deadline);
	cr_assert_eq(a->dl_period, b->dl_period);
	cr_assert_eq(a->ioprio, b->ioprio);
	cr_assert_eq(a->timer_slack_ns, b->timer_slack_ns);
	cr_assert_eq(a->pinned, b->pinned);
	cr_assert_eq(memcmp(a->cpus, b->cpus, sizeof(a->cpus)), 0, "CPU masks differ");
}

static inline void assert_proc_eq(const struct md_proc *a, const struct md_proc *b)
{
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->ppid, b->ppid);
	cr_assert_eq(a->pgid, b->pgid);
	cr_assert_eq(a->sid, b->sid);
	cr_assert_eq(a->ns_pid, b->ns_pid);
	cr_assert_str_eq(a->comm, b->comm);
	cr_assert_eq(a->umask, b->umask);
	assert_str_eq_null(a->cwd, b->cwd);
	assert_str_eq_null(a->exe, b->exe);
	cr_assert_eq(memcmp(&a->mm, &b->mm, sizeof(a->mm)), 0, "mm fields differ");
	cr_assert_eq(a->auxv_len, b->auxv_len);
	cr_assert(mem_eq(a->auxv, b->auxv, a->auxv_len * sizeof(uint64_t)));
	cr_assert_eq(a->personality, b->personality);
	cr_assert_eq(a->vdso_hash, b->vdso_hash);
	cr_assert_eq(a->stop_sig, b->stop_sig);

	cr_assert_eq(a->n_vmas, b->n_vmas);
	for (size_t i = 0; i < a->n_vmas; i++) {
		const struct md_vma *x = &a->vmas[i], *y = &b->vmas[i];

		cr_assert_eq(x->start, y->start);
		cr_assert_eq(x->end, y->end);
		cr_assert_eq(x->pgoff, y->pgoff);
		cr_assert_eq(x->prot, y->prot);
		cr_assert_eq(x->shared, y->shared);
		cr_assert_eq(x->kind, y->kind);
		cr_assert_eq(x->vmflags, y->vmflags);
		cr_assert_eq(x->dev_major, y->dev_major);
		cr_assert_eq(x->dev_minor, y->dev_minor);
		cr_assert_eq(x->inode, y->inode);
		assert_str_eq_null(x->path, y->path);
		cr_assert_eq(x->deleted, y->deleted);
		cr_assert_eq(x->shm_id, y->shm_id);
		cr_assert_eq(x->ghost, y->ghost);
	}
	cr_assert_eq(a->exe_ghost, b->exe_ghost);
	cr_assert_eq(a->cwd_ghost, b->cwd_ghost);
	cr_assert_eq(a->n_mapped, b->n_mapped);
	for (size_t i = 0; i < a->n_mapped; i++) {
		const struct md_ghost *x = &a->mapped[i], *y = &b->mapped[i];

		cr_assert(x->id == y->id && x->size == y->size && x->uid == y->uid && x->gid == y->gid &&
			  x->mode == y->mode, "mapped deleted file %zu differs", i);
		assert_str_eq_null(x->path, y->path);
		cr_assert_eq(x->data.n, y->data.n);
		cr_assert_eq(x->data.nr_data_pages, y->data.nr_data_pages);
		cr_assert(mem_eq(x->data.entries, y->data.entries, x->data.n * sizeof(*x->data.entries)));
	}

	cr_assert_eq(a->n_seccomp, b->n_seccomp);
	for (size_t i = 0; i < a->n_seccomp; i++) {
		const struct md_seccomp_filter *x = &a->seccomp[i], *y = &b->seccomp[i];

		cr_assert(x->parent == y->parent && x->flags == y->flags && x->n_insns == y->n_insns,
			  "seccomp filter %zu differs", i);
		cr_assert(mem_eq(x->insns, y->insns, x->n_insns * sizeof(*x->insns)), "seccomp filter %zu differs", i);
	}

	cr_assert_eq(a->n_threads, b->n_threads);
	for (size_t i = 0; i < a->n_threads; i++) {
		const struct md_thread *x = &a->threads[i], *y = &b->threads[i];

		cr_assert_eq(x->tid, y->tid);
		cr_assert_eq(x->ns_tid, y->ns_tid);
		cr_assert_str_eq(x->comm, y->comm);
		cr_assert_eq(memcmp(&x->regs, &y->regs, sizeof(x->regs)), 0, "regs differ");
		cr_assert_eq(x->xsave_size, y->xsave_size);
		cr_assert(mem_eq(x->xsave, y->xsave, x->xsave_size));
		cr_assert_eq(x->xfeatures, y->xfeatures);
		cr_assert_eq(x->sigmask, y->sigmask);
		cr_assert_eq(x->seccomp_mode, y->seccomp_mode, "thread %zu", i);
		cr_assert_eq(x->seccomp_filter, y->seccomp_filter, "thread %zu", i);
		cr_assert_eq(x->no_new_privs, y->no_new_privs, "thread %zu", i);
		cr_assert_eq(x->has_creds, y->has_creds, "thread %zu", i);
		if (x->has_creds)
			cr_assert(md_creds_same(&x->creds, &y->creds), "thread %zu: credentials differ", i);
		cr_assert_eq(x->has_sched, y->has_sched, "thread %zu", i);
		if (x->has_sched)
			assert_sched_eq(&x->sched, &y->sched);
		cr_assert_eq(x->rseq.addr, y->rseq.addr);
		cr_assert_eq(x->rseq.len, y->rseq.len);
		cr_assert_eq(x->rseq.flags, y->rseq.flags);
		cr_assert_eq(x->rseq.sig, y->rseq.sig);
		cr_assert_eq(x->altstack.sp, y->altstack.sp);
		cr_assert_eq(x->altstack.flags, y->altstack.flags);
		cr_assert_eq(x->altstack.size, y->altstack.size);
		cr_assert_eq(x->clear_child_tid, y->clear_child_tid);
		cr_assert_eq(x->robust_list, y->robust_list);
		cr_assert_eq(x->robust_list_len, y->robust_list_len);
		cr_assert_eq(x->n_pending, y->n_pending);
		cr_assert(mem_eq(x->pending, y->pending, x->n_pending * sizeof(*x->pending)));
	}
	for (int i = 0; i < MD_NSIG; i++) {
		cr_assert_eq(a->sigactions[i].handler, b->sigactions[i].handler);
		cr_assert_eq(a->sigactions[i].flags, b->sigactions[i].flags);
		cr_assert_eq(a->sigactions[i].restorer, b->sigactions[i].restorer);
		cr_assert_eq(a->sigactions[i].mask, b->sigactions[i].mask);
	}
	cr_assert_eq(memcmp(a->itimers, b->itimers, sizeof(a->itimers)), 0, "itimers differ");
	cr_assert_eq(a->has_attrs, b->has_attrs);
	if (a->has_attrs) {
		cr_assert_eq(a->attrs.oom_score_adj, b->attrs.oom_score_adj);
		cr_assert_eq(a->attrs.child_subreaper, b->attrs.child_subreaper);
		cr_assert_eq(a->attrs.thp_disable, b->attrs.thp_disable);
		cr_assert_eq(a->attrs.mdwe, b->attrs.mdwe);
		cr_assert_eq(a->attrs.membarrier, b->attrs.membarrier);
	}
	cr_assert_eq(a->has_loginuid, b->has_loginuid);
	cr_assert_eq(a->loginuid, b->loginuid);
	cr_assert_eq(memcmp(a->rlimits, b->rlimits, sizeof(a->rlimits)), 0, "rlimits differ");
	cr_assert_eq(a->n_shared_pending, b->n_shared_pending);
	cr_assert(mem_eq(a->shared_pending, b->shared_pending,
			 a->n_shared_pending * sizeof(*a->shared_pending)));

	cr_assert_eq(a->n_fds, b->n_fds);
	for (size_t i = 0; i < a->n_fds; i++) {
		const struct md_fd *x = &a->fds[i], *y = &b->fds[i];

		cr_assert_eq(x->fd, y->fd);
		cr_assert_eq(x->kind, y->kind);
		assert_str_eq_null(x->path, y->path);
		cr_assert_eq(x->flags, y->flags);
		cr_assert_eq(x->pos, y->pos);
		cr_assert_eq(x->mode, y->mode);
		cr_assert_eq(x->shm_id, y->shm_id);
		cr_assert_eq(x->dup_of, y->dup_of);
		cr_assert_eq(x->pty, y->pty);
		cr_assert_eq(x->n_epoll, y->n_epoll);
		for (size_t k = 0; k < x->n_epoll; k++)
			cr_assert(!memcmp(&x->epoll[k], &y->epoll[k], sizeof(x->epoll[k])), "epoll item %zu differs",
				  k);
	}
}

static inline void assert_pagemap_eq(const struct md_pagemap *a, const struct md_pagemap *b)
{
	cr_assert_eq(a->n, b->n);
	cr_assert_eq(a->nr_data_pages, b->nr_data_pages);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_eq(a->entries[i].vaddr, b->entries[i].vaddr);
		cr_assert_eq(a->entries[i].nr_pages, b->entries[i].nr_pages);
		cr_assert_eq(a->entries[i].flags, b->entries[i].flags);
	}
}

static inline void assert_inventory_eq(const struct md_inventory *a, const struct md_inventory *b)
{
	cr_assert_eq(a->format_version, b->format_version);
	cr_assert_eq(a->root_pid, b->root_pid);
	cr_assert_eq(a->dump_time_ns, b->dump_time_ns);
	assert_str_eq_null(a->kernel_release, b->kernel_release);
	assert_str_eq_null(a->tool_version, b->tool_version);
	cr_assert_eq(a->page_size, b->page_size);
	cr_assert_eq(a->xfeatures, b->xfeatures);
	cr_assert_eq(a->n_pids, b->n_pids);
	for (size_t i = 0; i < a->n_pids; i++)
		cr_assert_eq(a->pids[i], b->pids[i]);
	cr_assert_eq(a->n_shm_ids, b->n_shm_ids);
	for (size_t i = 0; i < a->n_shm_ids; i++)
		cr_assert_eq(a->shm_ids[i], b->shm_ids[i]);
	cr_assert_eq(a->pid_ns, b->pid_ns);
	assert_str_eq_null(a->uts_host, b->uts_host);
	assert_str_eq_null(a->uts_domain, b->uts_domain);
	cr_assert_eq(a->net_ns, b->net_ns);
	cr_assert_eq(a->lo_up, b->lo_up);
	cr_assert_eq(a->lo_mtu, b->lo_mtu);
	cr_assert_eq(a->ipc_ns, b->ipc_ns);
	cr_assert_eq(a->time_ns, b->time_ns);
	cr_assert_eq(a->time_monotonic_ns, b->time_monotonic_ns);
	cr_assert_eq(a->time_boottime_ns, b->time_boottime_ns);
	cr_assert_eq(a->cgroup_ns, b->cgroup_ns);
	cr_assert_eq(a->n_net_sysctls, b->n_net_sysctls);
	for (size_t i = 0; i < a->n_net_sysctls; i++) {
		cr_assert_str_eq(a->net_sysctls[i].name, b->net_sysctls[i].name);
		cr_assert_str_eq(a->net_sysctls[i].value, b->net_sysctls[i].value);
	}
}

static inline void assert_shm_eq(const struct md_shm *a, const struct md_shm *b)
{
	cr_assert_eq(a->id, b->id);
	assert_str_eq_null(a->name, b->name);
	cr_assert_eq(a->size, b->size);
	cr_assert_eq(a->seals, b->seals);
	cr_assert_eq(a->memfd_flags, b->memfd_flags);
	cr_assert_eq(a->sysv, b->sysv);
	cr_assert_eq(a->sysv_key, b->sysv_key);
	cr_assert_eq(a->sysv_mode, b->sysv_mode);
	cr_assert_eq(a->sysv_uid, b->sysv_uid);
	cr_assert_eq(a->sysv_gid, b->sysv_gid);
}

/* A fresh empty directory under /tmp; the caller removes it with rm_tree(). */
static inline char *make_tmpdir(void)
{
	char *d = strdup("/tmp/memdump-image-test-XXXXXX");

	cr_assert_not_null(mkdtemp(d));
	return d;
}

static inline void rm_tree(char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	cr_assert_eq(system(cmd), 0);
	free(d);
}
