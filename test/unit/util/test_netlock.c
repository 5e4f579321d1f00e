/*
 * The network lock's nft commands (netlock_script()), its names, and on a
 * host where nftables answers (memdump check: net_lock), a lock made and
 * removed for real: removing it twice is no error.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memdump/netlock.h"

static struct md_net_conn conn(int family, const char *a, uint16_t port, const char *p, uint16_t peer_port)
{
	struct md_net_conn c = { .family = family, .port = port, .peer_port = peer_port };

	cr_assert_eq(inet_pton(family, a, c.addr), 1);
	cr_assert_eq(inet_pton(family, p, c.peer_addr), 1);
	return c;
}

Test(netlock, names)
{
	char name[MD_NET_LOCK_NAME_MAX];

	netlock_name(name, sizeof(name), 4242, 1795566885240493135ull);
	cr_assert_str_eq(name, "memdump_4242_1795566885_240493135");
	cr_assert(md_net_lock_name_valid(name));
	netlock_name(name, sizeof(name), 2147483647, UINT64_MAX);
	cr_assert(md_net_lock_name_valid(name), "%s", name);
	netlock_name(name, sizeof(name), 1, 5);
	cr_assert_str_eq(name, "memdump_1_0_000000005");
	cr_assert(md_net_lock_name_valid(name));
	/* anything else may be a table of somebody else's: a firewall's */
	cr_assert_not(md_net_lock_name_valid(""));
	cr_assert_not(md_net_lock_name_valid("filter"));
	cr_assert_not(md_net_lock_name_valid("firewalld"));
	cr_assert_not(md_net_lock_name_valid("memdump_unit_test"));
	cr_assert_not(md_net_lock_name_valid("memdump_1_2_3"));
	cr_assert_not(md_net_lock_name_valid("memdump_1_2_0000000003x"));
	cr_assert_not(md_net_lock_name_valid("memdump_1_2_0000000003 ; flush ruleset"));
	cr_assert_not(md_net_lock_name_valid("memdump__2_000000003"));
	cr_assert_not(md_net_lock_name_valid("Memdump_1_2_000000003"));
}

Test(netlock, script)
{
	struct md_net_conn c[3] = {
		conn(AF_INET, "10.0.0.1", 40000, "192.0.2.7", 443),
		conn(AF_INET6, "2001:db8::1", 22, "2001:db8::2", 50000),
		conn(AF_INET6, "::ffff:127.0.0.1", 1234, "::ffff:127.0.0.2", 80),
	};
	char *s = netlock_script("memdump_1_2_3", c, 3);

	cr_assert_not_null(s);
	cr_assert_str_eq(s,
		"create table inet memdump_1_2_3\n"
		"add chain inet memdump_1_2_3 input { type filter hook input priority -300; }\n"
		"add chain inet memdump_1_2_3 output { type filter hook output priority -300; }\n"
		"add rule inet memdump_1_2_3 input ip saddr 192.0.2.7 ip daddr 10.0.0.1 tcp sport 443 tcp dport 40000 drop\n"
		"add rule inet memdump_1_2_3 output ip saddr 10.0.0.1 ip daddr 192.0.2.7 tcp sport 40000 tcp dport 443 drop\n"
		"add rule inet memdump_1_2_3 input ip6 saddr 2001:db8::2 ip6 daddr 2001:db8::1 tcp sport 50000 tcp dport 22 "
		"drop\n"
		"add rule inet memdump_1_2_3 output ip6 saddr 2001:db8::1 ip6 daddr 2001:db8::2 tcp sport 22 tcp dport 50000 "
		"drop\n"
		"add rule inet memdump_1_2_3 input ip saddr 127.0.0.2 ip daddr 127.0.0.1 tcp sport 80 tcp dport 1234 drop\n"
		"add rule inet memdump_1_2_3 output ip saddr 127.0.0.1 ip daddr 127.0.0.2 tcp sport 1234 tcp dport 80 drop\n");
	free(s);
}

/* many connections: the script grows past its first buffer */
Test(netlock, script_grows)
{
	struct md_net_conn c[200];
	char *s;

	for (size_t i = 0; i < 200; i++)
		c[i] = conn(AF_INET6, "2001:db8:1234:5678:9abc:def0:1234:5678", (uint16_t)(1000 + i),
			    "2001:db8:8765:4321:fedc:ba98:7654:3210", 65535);
	s = netlock_script("x", c, 200);
	cr_assert_not_null(s);
	cr_assert_not_null(strstr(s, "tcp sport 1199 tcp dport 65535 drop\n"));
	{
		size_t rules = 0;

		for (const char *p = s; (p = strstr(p, "add rule ")); p++)
			rules++;
		cr_assert_eq(rules, 400);
	}
	free(s);
}

Test(netlock, made_and_removed)
{
	struct md_net_conn c = conn(AF_INET, "127.0.0.1", 1, "127.0.0.1", 2);
	char name[MD_NET_LOCK_NAME_MAX];

	if (netlock_probe() != 1)
		cr_skip_test("nftables does not answer here (memdump check: net_lock)");
	netlock_name(name, sizeof(name), getpid(), 42);
	cr_assert_eq(netlock_add(name, &c, 1), 0);
	cr_assert_neq(netlock_add(name, &c, 1), 0, "a second of that name: never two dumps in one");
	cr_assert_eq(netlock_keep(name, &c, 1), 0, "there already");
	cr_assert_eq(netlock_remove(name), 0);
	cr_assert_eq(netlock_remove(name), 0, "gone already: not an error");
	cr_assert_eq(netlock_keep(name, &c, 1), 1, "made");
	cr_assert_eq(netlock_remove(name), 0);
	cr_assert_eq(netlock_remove("filter"), -EINVAL, "never somebody else's");
}
