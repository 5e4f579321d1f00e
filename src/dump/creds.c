/*
 * What each thread's status file tells about it: its seccomp state
 * (seccomp.c takes it from there) and its credentials, read once per
 * thread. The kernel keeps credentials per thread; glibc's setuid() and
 * friends keep a process's threads in step, a raw syscall does not, so
 * each thread's are kept. Securebits are not in the file: remote.c asks.
 */
#include <errno.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

int dump_thread_status(struct md_proc *p)
{
	for (size_t i = 0; i < p->n_threads; i++) {
		struct md_thread *t = &p->threads[i];
		_cleanup_free_ char *buf = NULL;
		struct proc_status st;
		int r;

		r = proc_read_filef(&buf, NULL, "/proc/%d/task/%d/status", p->pid, t->tid);
		if (r < 0)
			return log_err(r, "cannot read the status of thread %d of %d", t->tid, p->pid);
		r = proc_parse_status(buf, &st);
		if (r < 0)
			return log_err(r, "cannot parse the status of thread %d of %d", t->tid, p->pid);
		/* a thread that called unshare(CLONE_FS); the restore gives the process one umask */
		if (st.umask != ~0u && st.umask != p->umask)
			return log_refuse("thread %d of %d has another umask than its process (unshare(CLONE_FS)): "
					  "not supported", t->tid, p->pid);
		r = dump_seccomp_thread(p, t, &st);
		if (r < 0)
			return r;
		r = proc_parse_creds(buf, &t->creds);
		if (r < 0)
			return log_err(r, "cannot parse the credentials in the status of thread %d of %d", t->tid,
				       p->pid);
		t->has_creds = true;
		t->ns_tid = st.nspid_n == 2 ? st.nspid_last : 0;
	}
	return 0;
}
