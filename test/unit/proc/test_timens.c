/*
 * Time namespaces (memdump/timens.h): /proc/PID/timens_offsets as the
 * kernel shows it, parsed, refused when malformed, and written back as it
 * takes it (negative offsets too); a namespace made for a child whose
 * clocks read what it was asked for, there and in its offsets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memdump/timens.h"

#define S 1000000000ll

/* as 6.18 shows it, after `unshare --time --monotonic 100000 --boottime -7.25` */
static const char shown[] = "monotonic      100000         0\n"
			    "boottime          -8 750000000\n";

Test(timens, parse_as_shown)
{
	struct timens_offsets o;

	cr_assert_eq(timens_parse_offsets(shown, &o), 0);
	cr_assert_eq(o.monotonic_ns, 100000 * S);
	cr_assert_eq(o.boottime_ns, -7 * S - 250000000);
	/* either order, and no final newline */
	cr_assert_eq(timens_parse_offsets("boottime 1 2\nmonotonic 3 4", &o), 0);
	cr_assert_eq(o.monotonic_ns, 3 * S + 4);
	cr_assert_eq(o.boottime_ns, S + 2);
}

Test(timens, parse_refuses)
{
	static const char *const bad[] = {
		"",
		"monotonic 1 0\n",					/* a clock missing */
		"monotonic 1 0\nmonotonic 2 0\n",			/* one twice */
		"monotonic 1 0\nboottime 1 1000000000\n",		/* nanoseconds over a second */
		"monotonic 1 0\nboottime 1 -1\n",
		"monotonic 1 0\nrealtime 1 0\n",			/* a clock no namespace moves */
		"monotonic 1 0 7\nboottime 1 0\n",			/* more on a line */
		"monotonic 1 0\nboottime 99999999999 0\n",		/* past what nanoseconds can say */
		"monotonic x 0\nboottime 1 0\n",
	};
	struct timens_offsets o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(timens_parse_offsets(bad[i], &o), -EINVAL, "'%s' was taken", bad[i]);
}

Test(timens, format_and_parse_back)
{
	static const int64_t values[] = { 0, 1, -1, S, -S, -S - 1, -7 * S - 250000000, 4611686018 * S, -123456789 };
	struct timens_offsets o, back;
	char text[128];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		o.monotonic_ns = values[i];
		o.boottime_ns = -values[i];
		cr_assert_gt(timens_format_offsets(&o, text, sizeof(text)), 0);
		cr_assert_eq(timens_parse_offsets(text, &back), 0, "'%s'", text);
		cr_assert_eq(back.monotonic_ns, o.monotonic_ns, "'%s'", text);
		cr_assert_eq(back.boottime_ns, o.boottime_ns, "'%s'", text);
	}
	o.monotonic_ns = -S - 1;
	o.boottime_ns = 5;
	timens_format_offsets(&o, text, sizeof(text));
	cr_assert_str_eq(text, "monotonic -2 999999999\nboottime 0 5\n");
	cr_assert_eq(timens_format_offsets(&o, text, 10), -ERANGE);
}

static int64_t now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * S + ts.tv_nsec;
}

/*
 * A child makes a namespace whose clocks read 10^6 s (monotonic) and
 * 3 * 10^6 s (boot time) and forks a grandchild, which reads them there and
 * the offsets of its own namespace; the child itself stays in ours.
 */
Test(timens, make)
{
	int64_t got[6] = { 0 };
	int p[2], status;
	pid_t child;

	struct timens_offsets ours;

	if (access("/proc/self/ns/time", F_OK) < 0)
		cr_skip_test("no time namespaces here");
	cr_assert_eq(timens_read_own(&ours), 0);
	cr_assert_eq(pipe(p), 0);
	child = fork();
	if (child == 0) {
		int64_t mine = now(CLOCK_MONOTONIC), r;
		struct timens_offsets off;
		pid_t g;

		r = timens_make(1000000 * S, 3000000 * S);
		if (r == -EPERM)
			_exit(77);
		if (r < 0)
			_exit(2);
		/* the maker is where it was */
		if (now(CLOCK_MONOTONIC) - mine > 10 * S)
			_exit(3);
		g = fork();
		if (g == 0) {
			int64_t v[6] = { now(CLOCK_MONOTONIC), now(CLOCK_BOOTTIME), 0, 0, 0, 0 };

			if (timens_read_own(&off) < 0)
				_exit(4);
			v[2] = off.monotonic_ns;
			v[3] = off.boottime_ns;
			v[4] = 1;
			_exit(write(p[1], v, sizeof(v)) == sizeof(v) ? 0 : 5);
		}
		waitpid(g, &status, 0);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
	}
	close(p[1]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("no CAP_SYS_TIME here");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_assert_eq(read(p[0], got, sizeof(got)), (ssize_t)sizeof(got));
	cr_assert_eq(got[4], 1);
	/* a second is plenty for a fork */
	cr_assert(got[0] >= 1000000 * S && got[0] < 1000001 * S, "CLOCK_MONOTONIC %lld", (long long)got[0]);
	cr_assert(got[1] >= 3000000 * S && got[1] < 3000001 * S, "CLOCK_BOOTTIME %lld", (long long)got[1]);
	/* the offsets are from the host's clocks: ours less our own namespace's offsets */
	cr_assert(llabs(got[2] - (1000000 * S - (now(CLOCK_MONOTONIC) - ours.monotonic_ns))) < S, "offset %lld",
		  (long long)got[2]);
	cr_assert(llabs(got[3] - (3000000 * S - (now(CLOCK_BOOTTIME) - ours.boottime_ns))) < S, "offset %lld",
		  (long long)got[3]);
}
