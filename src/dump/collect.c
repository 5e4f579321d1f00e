/*
 * Per-process state that /proc and readlink show without ptrace: ids,
 * comm, umask, cwd, exe, mm fields, auxv, personality. VMAs, threads and
 * what only the process can tell (remote syscalls, remote.c) are collected
 * by the dump driver; the fd table by files.c.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* readlink() into a malloc'ed string; " (deleted)" is cut off. */
static int read_link(const char *path, char **ret)
{
	char buf[PATH_MAX + sizeof(PROC_DELETED_SUFFIX)];
	ssize_t n;
	char *s;

	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(buf) - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if (proc_path_deleted(buf))
		buf[n - strlen(PROC_DELETED_SUFFIX)] = '\0';

	s = strdup(buf);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/*
 * End of the [heap], from p->vmas if the driver filled them, else from maps.
 * After fork() the heap may be several VMAs (the part shared with the
 * parent has another anon_vma and does not merge): take the last end.
 */
static int find_heap_end(pid_t pid, const struct md_proc *p, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	char *line, *save = NULL;
	uint64_t end_max = 0;
	int r;

	if (p->n_vmas) {
		for (size_t i = 0; i < p->n_vmas; i++)
			if (p->vmas[i].path && strcmp(p->vmas[i].path, "[heap]") == 0 &&
			    p->vmas[i].end > end_max)
				end_max = p->vmas[i].end;
	} else {
		r = proc_read_filef(&buf, NULL, "/proc/%d/maps", pid);
		if (r < 0)
			return r;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			size_t l = strlen(line);
			uint64_t start, end;

			if (l < 6 || strcmp(line + l - 6, "[heap]") != 0)
				continue;
			if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) != 2)
				return -EINVAL;
			if (end > end_max)
				end_max = end;
		}
	}
	if (!end_max)
		return 0;
	*ret = end_max;
	return 1;
}

static int read_auxv(pid_t pid, struct md_proc *p)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t *auxv;
	size_t len, n;
	int r;

	r = proc_read_filef(&buf, &len, "/proc/%d/auxv", pid);
	if (r < 0)
		return r;

	/* keep pairs up to and including AT_NULL; add one if the kernel did not */
	n = len / sizeof(uint64_t) & ~(size_t)1;
	auxv = calloc(n + 2, sizeof(uint64_t));
	if (!auxv)
		return -ENOMEM;
	memcpy(auxv, buf, n * sizeof(uint64_t));
	for (size_t i = 0; i < n; i += 2) {
		if (auxv[i] == 0) {
			n = i;
			break;
		}
	}
	auxv[n] = 0;
	auxv[n + 1] = 0;

	free(p->auxv);
	p->auxv = auxv;
	p->auxv_len = n + 2;
	return 0;
}

static int read_personality(pid_t pid, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	char *end;
	int r;

	r = proc_read_filef(&buf, NULL, "/proc/%d/personality", pid);
	if (r < 0)
		return r;
	errno = 0;
	*ret = strtoull(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

int dump_collect_proc(pid_t pid, struct md_proc *p)
{
	struct proc_stat st;
	struct proc_status status;
	char path[64];
	uint64_t heap_end = 0;
	int r;

	r = proc_read_stat(pid, 0, &st);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/stat", pid);
	p->pid = pid;
	p->ppid = st.ppid;
	p->pgid = st.pgrp;
	p->sid = st.session;
	p->exit_signal = (int)st.exit_signal;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';

	p->mm.start_code = st.mm.start_code;
	p->mm.end_code = st.mm.end_code;
	p->mm.start_data = st.mm.start_data;
	p->mm.end_data = st.mm.end_data;
	p->mm.start_brk = st.mm.start_brk;
	p->mm.start_stack = st.startstack;
	p->mm.arg_start = st.mm.arg_start;
	p->mm.arg_end = st.mm.arg_end;
	p->mm.env_start = st.mm.env_start;
	p->mm.env_end = st.mm.env_end;

	/*
	 * /proc shows start_brk but not brk, and prctl() reads only our own.
	 * The [heap] VMA ends at brk rounded up to a page, which is what the
	 * restored heap must cover; without a heap brk == start_brk. The exact
	 * byte needs brk(0) in the target, which the driver may do and override.
	 */
	r = find_heap_end(pid, p, &heap_end);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/maps", pid);
	p->mm.brk = r > 0 && heap_end > p->mm.start_brk ? heap_end : p->mm.start_brk;

	r = proc_read_status(pid, 0, &status);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/status", pid);
	/* Umask: appeared in 4.7; ~0u means absent, keep the common default then */
	p->umask = status.umask == ~0u ? 022 : status.umask;
	/* in a PID namespace of the tree's own (dump_namespaces() allows one level below ours) */
	p->ns_pid = status.nspid_n == 2 ? status.nspid_last : 0;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	free(p->cwd);
	p->cwd = NULL;
	r = read_link(path, &p->cwd);
	if (r < 0)
		return log_err(r, "cannot read the cwd of %d", pid);

	/* a deleted exe keeps its old path: restore only needs it for /proc/PID/exe */
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	free(p->exe);
	p->exe = NULL;
	r = read_link(path, &p->exe);
	if (r < 0)
		return log_err(r, "cannot read the exe link of %d", pid);

	r = read_auxv(pid, p);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/auxv", pid);

	r = read_personality(pid, &p->personality);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/personality", pid);

	return 0;
}

int dump_collect_zombie(pid_t pid, struct md_proc *p)
{
	struct proc_status status;
	struct proc_stat st;
	int r;

	r = proc_read_stat(pid, 0, &st);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/stat", pid);
	r = proc_read_status(pid, 0, &status);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/status", pid);
	if (st.state != 'Z')
		return log_err(-EINVAL, "process %d was a zombie and is not any more", pid);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = st.ppid;
	p->pgid = st.pgrp;
	p->sid = st.session;
	p->exit_signal = (int)st.exit_signal;
	p->zombie = true;
	p->exit_status = st.exit_code;
	p->ns_pid = status.nspid_n == 2 ? status.nspid_last : 0;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	return 0;
}
