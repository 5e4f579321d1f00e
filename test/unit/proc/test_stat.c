/* proc_parse_stat(), proc_parse_status() and proc_parse_creds() on saved samples and odd names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/proc.h"

Test(proc_stat, saved_odd_comm)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_stat st;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.stat", &buf, NULL), 0);
	cr_assert_eq(proc_parse_stat(buf, &st), 0);
	cr_assert_str_eq(st.comm, "a) b (c");
	cr_assert_eq(st.pid, 5874);
	cr_assert_eq(st.state, 'S');
	cr_assert_eq(st.ppid, 1);
	cr_assert_eq(st.pgrp, 5863);
	cr_assert_eq(st.session, 2395);
	cr_assert_eq(st.flags, 4194304);
	cr_assert_eq(st.num_threads, 1);
	cr_assert_eq(st.start_time, 274548);
	cr_assert_eq(st.mm.start_code, 94714978050048ULL);
	cr_assert_eq(st.mm.end_code, 94714978051125ULL);
	cr_assert_eq(st.startstack, 140724090911536ULL);
	cr_assert_eq(st.exit_signal, 17);
	cr_assert_eq(st.mm.start_data, 94714978061776ULL);
	cr_assert_eq(st.mm.end_data, 94714978062472ULL);
	cr_assert_eq(st.mm.start_brk, 94715197272064ULL);
	cr_assert_eq(st.mm.arg_start, 140724090919577ULL);
	cr_assert_eq(st.mm.arg_end, 140724090919585ULL);
	cr_assert_eq(st.mm.env_start, 140724090919585ULL);
	cr_assert_eq(st.mm.env_end, 140724090920944ULL);
	cr_assert_eq(st.exit_code, 0);
}

Test(proc_stat, thread_exit_signal_is_minus_one)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_stat st;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/thread.stat", &buf, NULL), 0);
	cr_assert_eq(proc_parse_stat(buf, &st), 0);
	cr_assert_str_eq(st.comm, "thr");
	cr_assert_eq(st.pid, 6219);
	cr_assert_eq(st.num_threads, 2);
	cr_assert_eq((int32_t)st.exit_signal, -1);
}

Test(proc_stat, comm_with_parens_and_spaces)
{
	/* synthetic: comm ") ) (" and negative tty/nice fields */
	const char *line = "42 () ) () R 1 42 42 -1 -1 0 0 0 0 0 0 0 0 0 20 -5 3 0 1 2 3 4 5 6 7 0 0 "
			   "0 0 0 0 0 0 0 17 1 0 0 0 0 0 8 9 10 11 12 13 14 255\n";
	struct proc_stat st;

	cr_assert_eq(proc_parse_stat(line, &st), 0);
	cr_assert_str_eq(st.comm, ") ) (");
	cr_assert_eq(st.state, 'R');
	cr_assert_eq(st.num_threads, 3);
	cr_assert_eq(st.mm.start_code, 5);
	cr_assert_eq(st.mm.end_code, 6);
	cr_assert_eq(st.startstack, 7);
	cr_assert_eq(st.mm.start_data, 8);
	cr_assert_eq(st.mm.env_end, 14);
	cr_assert_eq(st.exit_code, 255);
}

Test(proc_stat, rejects_malformed)
{
	static const char *bad[] = {
		"",
		"42 (x",
		"42 x) S 1",
		"(x) S 1 2 3",
		"42 (x) S 1 2 3",	/* too few fields */
		"42 (x) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 2 3 4 5 6 7 0 0 0 0 0 0 0 0 0 "
		"17 1 0 0 0 0 0 8 9 10 11 12 13 14",	/* 51 fields */
		"42 (x) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 2 3 4 5 6 7 0 0 0 0 0 0 0 0 0 "
		"17 1 0 0 0 0 0 8 9 10 11 12 13 14 zz",	/* not a number */
		"42 (x) S  1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 2 3 4 5 6 7 0 0 0 0 0 0 0 0 0 "
		"17 1 0 0 0 0 0 8 9 10 11 12 13 14 0",	/* double blank */
	};
	struct proc_stat st = { .pid = 7 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(proc_parse_stat(bad[i], &st), -EINVAL, "accepted '%s'", bad[i]);
	cr_assert_eq(st.pid, 7);
}

Test(proc_stat, live_child_with_odd_name)
{
	int p[2];
	pid_t pid;
	char c;
	struct proc_stat st;
	struct proc_status status;
	int r1, r2;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "x) (y) z");
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);

	r1 = proc_read_stat(pid, 0, &st);
	r2 = proc_read_status(pid, 0, &status);
	/* before any assertion: a failing one must not leave the child behind */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	cr_assert_eq(r1, 0);
	cr_assert_eq(r2, 0);
	cr_assert_str_eq(st.comm, "x) (y) z");
	cr_assert_eq(st.pid, pid);
	cr_assert_eq(st.ppid, getpid());
	cr_assert_str_eq(status.name, "x) (y) z");
	cr_assert_eq(status.pid, pid);
	cr_assert_eq(status.ppid, getpid());
}

Test(proc_status, saved_odd_comm)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_status st;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.status", &buf, NULL), 0);
	cr_assert_eq(proc_parse_status(buf, &st), 0);
	cr_assert_str_eq(st.name, "a) b (c");
	cr_assert_eq(st.state, 'S');
	cr_assert_eq(st.tgid, 5874);
	cr_assert_eq(st.pid, 5874);
	cr_assert_eq(st.ppid, 1);
	cr_assert_eq(st.tracer, 0);
	cr_assert_eq(st.umask, 027);
	cr_assert_eq(st.sigpnd, 0);
	cr_assert_eq(st.shdpnd, 0);
	cr_assert_eq(st.sigblk, 1ULL << (SIGUSR1 - 1));
	cr_assert_eq(st.sigign, 0x806);
	cr_assert_eq(st.sigcgt, 0);
	cr_assert_eq(st.threads, 1);
	cr_assert_eq(st.seccomp, 0);
	cr_assert_eq(st.nspid_last, 5874);
}

Test(proc_status, synthetic_fields)
{
	const char *buf = "Name:\tmy prog\n"
			  "Umask:\t0777\n"
			  "State:\tT (stopped)\n"
			  "Tgid:\t100\n"
			  "Pid:\t101\n"
			  "PPid:\t99\n"
			  "TracerPid:\t4242\n"
			  "Uid:\t1000\t1001\t1002\t1003\n"
			  "Gid:\t2000\t2001\t2002\t2003\n"
			  "NSpid:\t101\t7\t1\n"
			  "Threads:\t4\n"
			  "NoNewPrivs:\t1\n"
			  "Seccomp:\t2\n"
			  "Seccomp_filters:\t3\n"
			  "SigPnd:\t0000000000000001\n"
			  "ShdPnd:\t8000000000000000\n"
			  "SigBlk:\tfffffffe7ffbfeff\n"
			  "SigIgn:\t0000000000001000\n"
			  "SigCgt:\t0000000180004002\n";
	struct proc_status st;

	cr_assert_eq(proc_parse_status(buf, &st), 0);
	cr_assert_str_eq(st.name, "my prog");
	cr_assert_eq(st.umask, 0777);
	cr_assert_eq(st.state, 'T');
	cr_assert_eq(st.tgid, 100);
	cr_assert_eq(st.pid, 101);
	cr_assert_eq(st.ppid, 99);
	cr_assert_eq(st.tracer, 4242);
	cr_assert_eq(st.nspid_last, 1);
	cr_assert_eq(st.nspid_n, 3);
	cr_assert_eq(st.threads, 4);
	cr_assert_eq(st.seccomp, 2);
	cr_assert_eq(st.seccomp_filters, 3);
	cr_assert(st.no_new_privs);
	cr_assert_eq(st.sigpnd, 1);
	cr_assert_eq(st.shdpnd, 0x8000000000000000ULL);
	cr_assert_eq(st.sigblk, 0xfffffffe7ffbfeffULL);
	cr_assert_eq(st.sigign, 0x1000);
	cr_assert_eq(st.sigcgt, 0x180004002ULL);
}

Test(proc_status, umask_absent_and_errors)
{
	struct proc_status st = {};

	cr_assert_eq(proc_parse_status("Name:\tx\nState:\tR\nTgid:\t1\nPid:\t1\nPPid:\t0\n", &st), 0);
	cr_assert_eq(st.umask, ~0u);
	cr_assert_eq(st.nspid_last, 1);

	st.pid = 77;
	/* no Pid line */
	cr_assert_eq(proc_parse_status("Name:\tx\nState:\tR\nTgid:\t1\nPPid:\t0\n", &st), -EINVAL);
	/* garbage number */
	cr_assert_eq(proc_parse_status("Name:\tx\nState:\tR\nTgid:\t1\nPid:\tq\nPPid:\t0\n", &st),
		     -EINVAL);
	/* a bad line after the required ones */
	cr_assert_eq(proc_parse_status("Name:\tx\nState:\tR\nTgid:\t1\nPid:\t1\nPPid:\t0\nThreads:\tz\n", &st),
		     -EINVAL);
	cr_assert_eq(st.pid, 77);
}

Test(proc_status, thread_sample)
{
	_cleanup_free_ char *buf = NULL;
	struct proc_status st;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/thread.status", &buf, NULL), 0);
	cr_assert_eq(proc_parse_status(buf, &st), 0);
	cr_assert_eq(st.tgid, 6217);
	cr_assert_eq(st.pid, 6219);
	cr_assert_neq(st.pid, st.tgid);
	cr_assert_eq(st.nspid_last, st.pid);
	cr_assert_eq(st.threads, 2);
}

/* tty_nr and tpgid: a process on /dev/pts/0, and one without a terminal */
Test(proc_stat, controlling_terminal)
{
	_cleanup_free_ char *buf = NULL, *buf2 = NULL;
	struct proc_stat st;

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/on_pty.stat", &buf, NULL), 0);
	cr_assert_eq(proc_parse_stat(buf, &st), 0);
	cr_expect_eq(st.tty_nr, 136 << 8);
	cr_expect_eq(st.tpgid, 23985);
	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.stat", &buf2, NULL), 0);
	cr_assert_eq(proc_parse_stat(buf2, &st), 0);
	cr_expect_eq(st.tty_nr, 0);
	cr_expect_eq(st.tpgid, -1);
}

Test(proc_creds, saved_root_without_groups)
{
	_cleanup_free_ char *buf = NULL;
	struct md_creds c = {};

	cr_assert_eq(proc_read_file(FIXTURES_DIR "/odd_comm.status", &buf, NULL), 0);
	cr_assert_eq(proc_parse_creds(buf, &c), 0);
	cr_expect_eq(c.n_groups, 0);
	cr_expect_null(c.groups);
	cr_expect_eq(c.cap_prm, 0x1fffeffffffULL);
	cr_expect_eq(c.cap_eff, 0x1fffeffffffULL);
	cr_expect_eq(c.cap_bnd, 0x1fffeffffffULL);
	cr_expect_eq(c.cap_inh | c.cap_amb | c.secbits, 0);
	cr_expect(md_creds_full_root(&c));
	free(c.groups);
}

#define CREDS_LINES                                                                                   \
	"Uid:\t4250\t4251\t4252\t4253\n"                                                              \
	"Gid:\t4261\t4262\t4263\t4264\n"                                                              \
	"Groups:\t4244 4245 4294967294 \n"                                                            \
	"CapInh:\t0000000000002400\n"                                                                 \
	"CapPrm:\t0000000000002481\n"                                                                 \
	"CapEff:\t0000000000000001\n"                                                                 \
	"CapBnd:\t000001fff6bfffff\n"

Test(proc_creds, synthetic)
{
	const char *buf = "Name:\tx\n" CREDS_LINES "CapAmb:\t0000000000000400\n";
	struct md_creds c = {};

	cr_assert_eq(proc_parse_creds(buf, &c), 0);
	cr_expect_eq(c.uid[0], 4250);
	cr_expect_eq(c.uid[3], 4253);
	cr_expect_eq(c.gid[0], 4261);
	cr_expect_eq(c.gid[3], 4264);
	cr_assert_eq(c.n_groups, 3);
	cr_expect_eq(c.groups[0], 4244);
	cr_expect_eq(c.groups[2], 4294967294u);
	cr_expect_eq(c.cap_inh, 0x2400);
	cr_expect_eq(c.cap_prm, 0x2481);
	cr_expect_eq(c.cap_eff, 0x1);
	cr_expect_eq(c.cap_bnd, 0x1fff6bfffffULL);
	cr_expect_eq(c.cap_amb, 0x400);
	cr_expect(!md_creds_full_root(&c));
	free(c.groups);
}

Test(proc_creds, malformed_refused)
{
	static const char *bad[] = {
		CREDS_LINES,					/* no CapAmb: a kernel before 4.3 */
		CREDS_LINES "CapAmb:\tzz\n",
		"Uid:\t1\t2\t3\n" CREDS_LINES "CapAmb:\t0\n",	/* three ids (the later line would do) */
		CREDS_LINES "Groups:\t1 x \nCapAmb:\t0\n",
		CREDS_LINES "Groups:\t-1 \nCapAmb:\t0\n",
		CREDS_LINES "Groups:\t4294967296 \nCapAmb:\t0\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct md_creds c = {};

		cr_expect_eq(proc_parse_creds(bad[i], &c), -EINVAL, "sample %zu was taken", i);
		cr_expect_null(c.groups, "sample %zu left groups", i);
	}
}
