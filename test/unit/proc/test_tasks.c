/*
 * proc_list_tasks() and proc_list_children() on live processes: two
 * children, each with a child of its own, and a zombie.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/proc.h"

struct family {
	pid_t kids[2], grandkids[2], zombie;
};

/* a child that forks one child of its own, tells us its pid, and sleeps */
static pid_t spawn_parent(int report_fd)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pid_t g, me = getpid();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		g = fork();
		if (g == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			/* the parent may be killed before prctl(): then nobody would kill us */
			if (getppid() != me)
				_exit(0);
			for (;;)
				pause();
		}
		if (g < 0 || write(report_fd, &g, sizeof(g)) != sizeof(g))
			_exit(1);
		for (;;)
			pause();
	}
	return pid;
}

static void start_family(struct family *f)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	for (int i = 0; i < 2; i++) {
		f->kids[i] = spawn_parent(p[1]);
		cr_assert_eq(read(p[0], &f->grandkids[i], sizeof(pid_t)), sizeof(pid_t));
	}
	close(p[0]);
	close(p[1]);
	f->zombie = fork();
	cr_assert_geq(f->zombie, 0);
	if (f->zombie == 0)
		_exit(0);
	/* a zombie until we reap it */
	cr_assert_eq(waitid(P_PID, f->zombie, NULL, WEXITED | WNOWAIT), 0);
}

static void stop_family(struct family *f)
{
	for (int i = 0; i < 2; i++) {
		kill(f->kids[i], SIGKILL);
		waitpid(f->kids[i], NULL, 0);
	}
	waitpid(f->zombie, NULL, 0);
}

static bool has(const pid_t *l, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == pid)
			return true;
	return false;
}

Test(proc_tasks, children_of_one_parent)
{
	struct family f;
	pid_t self = getpid(), *l = NULL;
	size_t n = 0;

	start_family(&f);
	cr_assert_eq(proc_list_children(&self, 1, &l, &n), 0);
	cr_expect(has(l, n, f.kids[0]) && has(l, n, f.kids[1]), "children missing");
	cr_expect(has(l, n, f.zombie), "a zombie is a child too");
	cr_expect(!has(l, n, f.grandkids[0]) && !has(l, n, f.grandkids[1]), "grandchildren listed");
	for (size_t i = 1; i < n; i++)
		cr_expect_lt(l[i - 1], l[i], "not sorted");
	free(l);
	stop_family(&f);
}

Test(proc_tasks, children_of_a_generation)
{
	struct family f;
	pid_t *l = NULL;
	size_t n = 0;

	start_family(&f);
	cr_assert_eq(proc_list_children(f.kids, 2, &l, &n), 0);
	cr_expect_eq(n, 2, "%zu children of the two, want their 2", n);
	cr_expect(has(l, n, f.grandkids[0]) && has(l, n, f.grandkids[1]));
	free(l);

	/* parents without children: an empty list, no error */
	l = NULL;
	cr_assert_eq(proc_list_children(f.grandkids, 2, &l, &n), 0);
	cr_expect_eq(n, 0);
	free(l);
	stop_family(&f);
}

static void *sleeper(void *arg)
{
	pause();
	return arg;
}

Test(proc_tasks, tasks_of_self)
{
	pthread_t t;
	pid_t *l = NULL;
	size_t before = 0, n = 0;

	/* the test runner may have threads of its own */
	cr_assert_eq(proc_list_tasks(getpid(), &l, &before), 0);
	free(l);
	cr_assert_eq(pthread_create(&t, NULL, sleeper, NULL), 0);
	cr_assert_eq(proc_list_tasks(getpid(), &l, &n), 0);
	cr_expect_eq(n, before + 1);
	cr_expect(has(l, n, getpid()));
	free(l);
}
