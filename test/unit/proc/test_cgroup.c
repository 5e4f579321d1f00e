/*
 * /proc/PID/cgroup as read from inside a cgroup namespace: every
 * hierarchy at the namespace's root, or the first line that is not.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "memdump/proc.h"

/* as this machine shows it (cgroup v1 and v2 side by side), from inside `unshare --cgroup` */
static const char at_root[] = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/\n"
			      "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

Test(cgroup, all_at_root)
{
	char off[64] = "";

	cr_assert_eq(proc_parse_cgroup_root(at_root, off, sizeof(off)), 1);
	cr_assert_str_empty(off);
	/* cgroup v2 alone, no final newline */
	cr_assert_eq(proc_parse_cgroup_root("0::/", off, sizeof(off)), 1);
}

Test(cgroup, one_below_or_outside)
{
	char off[64];

	cr_assert_eq(proc_parse_cgroup_root("1:cpu:/\n0::/job/a\n", off, sizeof(off)), 0);
	cr_assert_str_eq(off, "0::/job/a");
	/* a cgroup outside the namespace's root shows as a path up from it */
	cr_assert_eq(proc_parse_cgroup_root("4:memory:/../x\n0::/\n", off, sizeof(off)), 0);
	cr_assert_str_eq(off, "4:memory:/../x");
	/* a path with a colon in it is still the third field */
	cr_assert_eq(proc_parse_cgroup_root("0::/a:b\n", off, sizeof(off)), 0);
	cr_assert_str_eq(off, "0::/a:b");
	/* cut to the buffer */
	cr_assert_eq(proc_parse_cgroup_root("0::/0123456789\n", off, 8), 0);
	cr_assert_str_eq(off, "0::/012");
}

Test(cgroup, malformed)
{
	char off[64];

	cr_assert_eq(proc_parse_cgroup_root("", off, sizeof(off)), -EINVAL);
	cr_assert_eq(proc_parse_cgroup_root("0:/\n", off, sizeof(off)), -EINVAL);
	cr_assert_eq(proc_parse_cgroup_root("0::/\ngarbage\n", off, sizeof(off)), -EINVAL);
}
