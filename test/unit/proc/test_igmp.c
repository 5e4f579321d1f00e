/*
 * proc_parse_igmp() and proc_parse_igmp6() on saved /proc/net/igmp and
 * igmp6 (igmp.txt, igmp6.txt: a network namespace whose interface
 * abcdefghijklmno, index 5, joined 239.255.0.1 and ff05::abcd:1 for a
 * socket), on broken text, and on this host's files.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "memdump/cleanup.h"
#include "memdump/proc.h"

static char *fixture(const char *name)
{
	char path[512], *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	cr_assert_eq(proc_read_file(path, &buf, NULL), 0, "%s", path);
	return buf;
}

static const struct proc_mcast_group *find(const struct proc_mcast_group *g, size_t n, int family, const char *group,
					   const char *ifname)
{
	uint8_t a[16] = { 0 };

	cr_assert_eq(inet_pton(family, group, a), 1);
	for (size_t i = 0; i < n; i++)
		if (g[i].family == family && !memcmp(g[i].group, a, 16) && !strcmp(g[i].ifname, ifname))
			return &g[i];
	return NULL;
}

Test(proc_igmp, parses_the_fixtures)
{
	_cleanup_free_ char *v4 = fixture("igmp.txt"), *v6 = fixture("igmp6.txt");
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	const struct proc_mcast_group *e;
	size_t n = 0;

	cr_assert_eq(proc_parse_igmp(v4, &g, &n), 0);
	cr_assert_eq(n, 6);
	/* all-hosts on each interface, and the group of the socket on the long name with no space before ':' */
	e = find(g, n, AF_INET, "224.0.0.1", "lo");
	cr_assert_not_null(e);
	cr_assert_eq(e->ifindex, 1);
	e = find(g, n, AF_INET, "239.255.0.1", "abcdefghijklmno");
	cr_assert_not_null(e);
	cr_assert_eq(e->ifindex, 5);
	cr_assert_null(find(g, n, AF_INET, "239.255.0.1", "mdm0"));
	/* appended to */
	cr_assert_eq(proc_parse_igmp6(v6, &g, &n), 0);
	cr_assert_eq(n, 6 + 16);
	cr_assert_eq(g[0].family, AF_INET);
	e = find(g, n, AF_INET6, "ff05::abcd:1", "abcdefghijklmno");
	cr_assert_not_null(e);
	cr_assert_eq(e->ifindex, 5);
	e = find(g, n, AF_INET6, "ff02::1:ff60:a65c", "mdm1");
	cr_assert_not_null(e);
	cr_assert_eq(e->ifindex, 2);
}

static int parse4(const char *text)
{
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	size_t n = 0;

	return proc_parse_igmp(text, &g, &n);
}

static int parse6(const char *text)
{
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	size_t n = 0;

	return proc_parse_igmp6(text, &g, &n);
}

#define HEAD "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"

/* any name the kernel takes (UTF-8 or not); a line seen twice (the file read in pieces) counts once */
Test(proc_igmp, names_and_repeats)
{
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	size_t n = 0;

	cr_assert_eq(proc_parse_igmp(HEAD "7\tv\xc3\xa9\x01\xff:     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
				     "\t\t\t\t010000E0     1 0:00000000\t\t0\n", &g, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(g[0].ifname, "v\xc3\xa9\x01\xff");
	cr_assert_eq(proc_parse_igmp6("7    v\xc3\xa9\x01\xff ff020000000000000000000000000001     1 0000000C 0\n"
				      "7    v\xc3\xa9\x01\xff ff020000000000000000000000000001     1 0000000C 0\n"
				      "8    .. ff020000000000000000000000000001     1 0000000C 0\n", &g, &n), -EINVAL);
	cr_assert_eq(n, 2);
	cr_assert_eq(g[1].family, AF_INET6);
	cr_assert_eq(g[1].ifindex, 7);
}

Test(proc_igmp, broken_text_refused)
{
	cr_assert_eq(parse4(HEAD), 0);
	cr_assert_eq(parse4(HEAD "1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"), 0);
	/* no header; a group before any interface; bad hex; a short group */
	cr_assert_eq(parse4("1\tlo        :     1      V3\n"), -EINVAL);
	cr_assert_eq(parse4(HEAD "\t\t\t\t010000E0     1 0:00000000\t\t0\n"), -EINVAL);
	cr_assert_eq(parse4(HEAD "1\tlo :     1      V3\n\t\t\t\t0100G0E0     1 0:00000000\t\t0\n"), -EINVAL);
	cr_assert_eq(parse4(HEAD "1\tlo :     1      V3\n\t\t\t\t0100E0 1\n"), -EINVAL);
	/* interfaces: index 0, no colon, a name too long */
	cr_assert_eq(parse4(HEAD "0\tlo        :     1      V3\n"), -EINVAL);
	cr_assert_eq(parse4(HEAD "1\tlo             1      V3\n"), -EINVAL);
	cr_assert_eq(parse4(HEAD "1\tabcdefghijklmnop:     1      V3\n"), -EINVAL);

	cr_assert_eq(parse6("1    lo              ff020000000000000000000000000001     1 0000000C 0\n"), 0);
	cr_assert_eq(parse6(""), 0);
	cr_assert_eq(parse6("1    lo              ff02000000000000000000000000001     1 0000000C 0\n"), -EINVAL);
	cr_assert_eq(parse6("1    lo              ff02000000000000000000000000000x     1 0000000C 0\n"), -EINVAL);
	cr_assert_eq(parse6("0    lo              ff020000000000000000000000000001     1 0000000C 0\n"), -EINVAL);
	cr_assert_eq(parse6("1    lo              ff020000000000000000000000000001     1 0000000C\n"), -EINVAL);
	cr_assert_eq(parse6("1    lo              ff020000000000000000000000000001     1 0000000C 0 7\n"), -EINVAL);
}

/* this host's files parse, and the all-hosts group of lo is there */
Test(proc_igmp, reads_this_host)
{
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	size_t n = 0;

	cr_assert_eq(proc_read_mcast_groups(&g, &n), 0);
	cr_assert_not_null(find(g, n, AF_INET, "224.0.0.1", "lo"));
}
