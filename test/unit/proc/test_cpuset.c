/*
 * CPU lists as cpuset files and sysfs write them, and the CPUs this
 * process's cpuset gives it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memdump/model.h"
#include "memdump/proc.h"

Test(proc_cpuset, lists)
{
	uint64_t m[MD_CPU_WORDS];

	cr_assert_eq(proc_parse_cpulist("0-3,8,10-11\n", m), 0);
	cr_expect_eq(m[0], 0xd0full);
	cr_expect_eq(m[1], 0);
	cr_assert_eq(proc_parse_cpulist("63-65", m), 0);
	cr_expect_eq(m[0], 1ull << 63);
	cr_expect_eq(m[1], 3);
	cr_assert_eq(proc_parse_cpulist("1023", m), 0);
	cr_expect_eq(m[MD_CPU_WORDS - 1], 1ull << 63);
	cr_assert_eq(proc_parse_cpulist("\n", m), 0, "an empty cpuset");
	for (int i = 0; i < MD_CPU_WORDS; i++)
		cr_expect_eq(m[i], 0);
}

Test(proc_cpuset, malformed)
{
	static const char *const bad[] = { "a", "1-", "-1", "3-1", "1,,2", "1 2", "0-3x", "1;2" };
	uint64_t m[MD_CPU_WORDS];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(proc_parse_cpulist(bad[i], m), -EINVAL, "'%s' was taken", bad[i]);
	cr_expect_eq(proc_parse_cpulist("1024", m), -ERANGE);
	cr_expect_eq(proc_parse_cpulist("0-99999999999999999999", m), -ERANGE);
}

/* a process may run only on CPUs its cpuset has (the kernel keeps it so) */
Test(proc_cpuset, ours_holds_our_cpus)
{
	uint64_t set[MD_CPU_WORDS], mine[MD_CPU_WORDS];

	char *path = NULL;

	cr_assert_eq(proc_cpuset_path(getpid(), &path), 0);
	cr_assert_eq(proc_cpuset_effective(path, set), 0);
	free(path);
	memset(mine, 0, sizeof(mine));
	cr_assert_eq(sched_getaffinity(0, sizeof(mine), (cpu_set_t *)mine), 0);
	for (int i = 0; i < MD_CPU_WORDS; i++)
		cr_expect_eq(mine[i] & ~set[i], 0, "word %d: %#llx outside %#llx", i, (unsigned long long)mine[i],
			     (unsigned long long)set[i]);
	cr_expect_neq(set[0], 0);
	cr_expect_eq(proc_cpuset_path(0x3fffff, &path), -ENOENT, "a pid that is not there");
}
