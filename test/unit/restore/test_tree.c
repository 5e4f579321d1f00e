/*
 * restore_plan_tree(): who forks whom, who calls setsid() when, and which
 * group each process joins, on made-up trees.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "restore/internal.h"

#define N(pid, ppid, pgid, sid) { pid, ppid, pgid, sid }

static struct tree_plan plan[16];
static char err[256];

static int run(const struct tree_node *n, size_t cnt)
{
	err[0] = '\0';
	return restore_plan_tree(n, cnt, plan, err, sizeof(err));
}

Test(tree, single_process_in_an_outer_session)
{
	struct tree_node n[] = { N(100, 1, 50, 40) };

	cr_assert_eq(run(n, 1), 0, "%s", err);
	cr_expect_eq(plan[0].parent, -1);
	cr_expect_not(plan[0].setsid);
	cr_expect_eq(plan[0].group, TREE_GROUP_OUTER);
}

Test(tree, root_leads_its_group_and_session)
{
	struct tree_node n[] = { N(100, 1, 100, 100), N(101, 100, 100, 100) };

	cr_assert_eq(run(n, 2), 0, "%s", err);
	cr_expect(plan[0].setsid);
	cr_expect_eq(plan[0].group, TREE_GROUP_OWN);
	cr_expect_eq(plan[1].parent, 0);
	cr_expect_not(plan[1].setsid);
	cr_expect_not(plan[1].early);
	cr_expect_eq(plan[1].group, 0);
}

/* the tree: a child in its own group, one in its own session, a grandchild, a zombie */
Test(tree, groups_sessions_and_a_grandchild)
{
	struct tree_node n[] = {
		N(100, 1, 50, 40),	/* root, in the shell's group and session */
		N(101, 100, 50, 40),	/* C1 */
		N(102, 100, 102, 40),	/* C2: own group */
		N(103, 100, 103, 103),	/* C3: own session */
		N(104, 100, 50, 40),	/* Z */
		N(105, 101, 50, 40),	/* G, child of C1 */
		N(106, 103, 106, 103),	/* in C3's session, its own group */
		N(107, 103, 106, 103),	/* in that group */
	};

	cr_assert_eq(run(n, 8), 0, "%s", err);
	cr_expect_eq(plan[1].group, TREE_GROUP_OUTER);
	cr_expect_eq(plan[2].group, TREE_GROUP_OWN);
	cr_expect_not(plan[2].setsid);
	cr_expect(plan[3].setsid);
	cr_expect_eq(plan[3].group, TREE_GROUP_OWN);
	cr_expect_eq(plan[5].parent, 1);
	cr_expect_eq(plan[6].group, TREE_GROUP_OWN);
	cr_expect_eq(plan[7].group, 6);
	for (int i = 1; i < 8; i++)
		cr_expect_not(plan[i].early, "process %d", i);
}

/* a child forked before its parent's setsid() keeps the old session, grandchildren too */
Test(tree, grandchild_of_a_later_session_leader)
{
	struct tree_node n[] = { N(100, 1, 100, 100), N(101, 100, 101, 101), N(102, 101, 102, 100) };

	cr_assert_eq(run(n, 3), 0, "%s", err);
	cr_expect(plan[1].setsid);
	cr_expect(plan[2].early);
	cr_expect_eq(plan[2].group, TREE_GROUP_OWN);
}

/* a daemon that forked, then called setsid(): its child stays in the old session */
Test(tree, child_forked_before_the_parents_setsid)
{
	struct tree_node n[] = { N(100, 1, 100, 100), N(101, 100, 50, 40), N(102, 100, 100, 100) };

	cr_assert_eq(run(n, 3), 0, "%s", err);
	cr_expect(plan[0].setsid);
	cr_expect(plan[1].early);
	cr_expect_eq(plan[1].group, TREE_GROUP_OUTER);
	cr_expect_not(plan[2].early);
}

Test(tree, impossible_trees_are_refused)
{
	/* a group whose leader is gone (not in the tree, not the root's) */
	struct tree_node g[] = { N(100, 1, 50, 40), N(101, 100, 77, 40) };
	/* a session the child cannot have from its parent: its uncle's */
	struct tree_node s[] = { N(100, 1, 100, 100), N(101, 100, 101, 101), N(103, 100, 103, 103),
				 N(102, 101, 103, 103) };
	/* a group in another session */
	struct tree_node x[] = { N(100, 1, 100, 100), N(101, 100, 101, 101), N(102, 101, 100, 101) };
	/* a parent after its child */
	struct tree_node o[] = { N(100, 1, 50, 40), N(102, 101, 50, 40), N(101, 100, 50, 40) };
	/* two outer sessions */
	struct tree_node t[] = { N(100, 1, 50, 40), N(101, 100, 51, 41) };

	cr_expect_eq(run(g, 2), -ENOTSUP);
	cr_expect_neq(err[0], '\0');
	cr_expect_eq(run(s, 4), -ENOTSUP);
	cr_expect_eq(run(x, 3), -ENOTSUP);
	cr_expect_eq(run(o, 3), -ENOTSUP);
	cr_expect_eq(run(t, 2), -ENOTSUP);
}
