/*
 * --shell-job: tree_shell_job_groups() then restore_plan_tree(): the
 * root's group, and whoever shared it, become memdump's.
 */
#include <criterion/criterion.h>

#include "restore/internal.h"

#define N(pid, ppid, pgid, sid) { pid, ppid, pgid, sid }

static struct tree_plan plan[8];
static char err[256];

Test(tty, job_leading_its_group_joins_ours)
{
	/* a job of shell 50: root 100 leads group 100 with child 101; 102 has a group of its own */
	struct tree_node n[] = { N(100, 50, 100, 50), N(101, 100, 100, 50), N(102, 100, 102, 50) };

	tree_shell_job_groups(n, 3);
	cr_assert_eq(restore_plan_tree(n, 3, plan, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(plan[0].group, TREE_GROUP_OUTER);
	cr_expect_not(plan[0].setsid);
	cr_expect_eq(plan[1].group, TREE_GROUP_OUTER);
	cr_expect_eq(plan[2].group, TREE_GROUP_OWN);
}

Test(tty, without_shell_job_the_root_keeps_its_group)
{
	struct tree_node n[] = { N(100, 50, 100, 50), N(101, 100, 100, 50) };

	cr_assert_eq(restore_plan_tree(n, 2, plan, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(plan[0].group, TREE_GROUP_OWN);
	cr_expect_eq(plan[1].group, 0);
}

Test(tty, job_in_the_shells_group)
{
	/* started by a shell without job control: group 50 is the shell's, outside the tree */
	struct tree_node n[] = { N(100, 50, 50, 50) };

	tree_shell_job_groups(n, 1);
	cr_assert_eq(restore_plan_tree(n, 1, plan, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(plan[0].group, TREE_GROUP_OUTER);
}

Test(tty, session_leader_is_left_alone)
{
	struct tree_node n[] = { N(100, 1, 100, 100), N(101, 100, 100, 100) };

	tree_shell_job_groups(n, 2);
	cr_expect_eq(n[0].pgid, 100);
	cr_expect_eq(n[1].pgid, 100);
	cr_assert_eq(restore_plan_tree(n, 2, plan, err, sizeof(err)), 0, "%s", err);
	cr_expect(plan[0].setsid);
}
