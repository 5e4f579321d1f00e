/*
 * A network namespace as lines (memdump/netns.h): rtnetlink and nftables
 * answers built here, with the fields a user sets and the state that must
 * not count, broken ones; the sysctl comparison and the names a restore
 * may open.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>	/* before the linux/ headers */
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "memdump/netns.h"

static struct nl_msg *msg(int type, const void *hdr, size_t len)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_MULTI);

	cr_assert_not_null(m);
	cr_assert_eq(nlmsg_append(m, (void *)hdr, len, NLMSG_ALIGNTO), 0);
	return m;
}

static int line_of_proto(int proto, struct nl_msg *m, char *buf, size_t len)
{
	int r = netns_line(proto, nlmsg_hdr(m), buf, len);

	nlmsg_free(m);
	return r;
}

static int line_of(struct nl_msg *m, char *buf, size_t len)
{
	int type = nlmsg_hdr(m)->nlmsg_type;

	return line_of_proto(type >> 8 == NFNL_SUBSYS_NFTABLES ? NETLINK_NETFILTER : NETLINK_ROUTE, m, buf, len);
}

Test(netns, link)
{
	struct ifinfomsg i = { .ifi_family = AF_UNSPEC, .ifi_type = 772, .ifi_index = 1,
			       .ifi_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING | 0x10000 /* LOWER_UP */ };
	struct nl_msg *m = msg(RTM_NEWLINK, &i, sizeof(i));
	char buf[NETNS_LINE_MAX];

	nla_put_string(m, IFLA_IFNAME, "lo");
	nla_put_u32(m, IFLA_MTU, 9000);
	nla_put_u32(m, IFLA_TXQLEN, 1000);
	nla_put_string(m, IFLA_QDISC, "noqueue");
	/* state and counters: not in the line */
	nla_put_u8(m, IFLA_OPERSTATE, 6);
	nla_put_u32(m, IFLA_CARRIER_CHANGES, 3);
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "link name lo type 772 flags 0x9 mtu 9000 txqlen 1000 qdisc noqueue");

	/* no name: malformed; too small a buffer */
	m = msg(RTM_NEWLINK, &i, sizeof(i));
	cr_assert_eq(line_of(m, buf, sizeof(buf)), -EINVAL);
	m = msg(RTM_NEWLINK, &i, sizeof(i));
	nla_put_string(m, IFLA_IFNAME, "lo");
	cr_assert_eq(line_of(m, buf, 10), -ENOSPC);
	/* shorter than its header */
	m = msg(RTM_NEWLINK, &i, 4);
	cr_assert_eq(line_of(m, buf, sizeof(buf)), -EINVAL);
}

Test(netns, addr)
{
	struct ifaddrmsg a = { .ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_scope = RT_SCOPE_HOST,
			       .ifa_index = 1 };
	const uint8_t ip[4] = { 10, 1, 2, 3 };
	struct nl_msg *m = msg(RTM_NEWADDR, &a, sizeof(a));
	char buf[NETNS_LINE_MAX];

	nla_put(m, IFA_LOCAL, 4, ip);
	nla_put(m, IFA_ADDRESS, 4, ip);
	nla_put_string(m, IFA_LABEL, "lo");
	/* a state the address reaches by itself (tentative) does not count */
	nla_put_u32(m, IFA_FLAGS, IFA_F_PERMANENT | IFA_F_TENTATIVE);
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "addr family 2 dev 1 prefix 32 scope 254 flags 0x80 local 10.1.2.3 address 10.1.2.3 "
			      "label lo");
}

Test(netns, route)
{
	struct rtmsg r = { .rtm_family = AF_INET6, .rtm_dst_len = 128, .rtm_table = RT_TABLE_MAIN,
			   .rtm_protocol = RTPROT_BOOT, .rtm_type = RTN_UNICAST };
	const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct nl_msg *m = msg(RTM_NEWROUTE, &r, sizeof(r));
	char buf[NETNS_LINE_MAX];

	nla_put(m, RTA_DST, 16, dst);
	nla_put_u32(m, RTA_TABLE, 1000);
	nla_put_u32(m, RTA_OIF, 1);
	nla_put_u32(m, RTA_PRIORITY, 1024);
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "route family 10 table 1000 type 1 proto 3 scope 0 dst/128 src/0 tos 0 dst 2001:db8::1 "
			      "oif 1 priority 1024");
	/* a cache entry is the kernel's: no line */
	r.rtm_flags = RTM_F_CLONED;
	m = msg(RTM_NEWROUTE, &r, sizeof(r));
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 0);
}

Test(netns, rule_and_table)
{
	struct fib_rule_hdr f = { .family = AF_INET, .action = FR_ACT_TO_TBL, .table = 100, .src_len = 8 };
	struct nfgenmsg g = { .nfgen_family = NFPROTO_INET, .version = NFNETLINK_V0 };
	const uint8_t src[4] = { 10 };
	struct nl_msg *m = msg(RTM_NEWRULE, &f, sizeof(f));
	char buf[NETNS_LINE_MAX];

	nla_put(m, FRA_SRC, 4, src);
	nla_put_u32(m, FRA_PRIORITY, 32765);
	nla_put_u8(m, FRA_PROTOCOL, RTPROT_BOOT);
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "rule family 2 action 1 table 100 src/8 dst/0 tos 0 flags 0 priority 32765 src 10.0.0.0 "
			      "proto 03");

	m = msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, &g, sizeof(g));
	nla_put_string(m, NFTA_TABLE_NAME, "md_t");
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "nftables table family 1 name md_t");
	m = msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, &g, sizeof(g));
	cr_assert_eq(line_of(m, buf, sizeof(buf)), -EINVAL, "a table without a name");
	/* what is no line: the end of a dump */
	m = msg(NLMSG_DONE, &g, sizeof(g));
	cr_assert_eq(line_of(m, buf, sizeof(buf)), 0);
}

Test(netns, sysctl_diff)
{
	struct md_sysctl a[] = { { "core/somaxconn", "900" }, { "ipv4/ip_forward", "1" }, { "ipv4/tcp_ecn", "2" },
				     { "unix/max_dgram_qlen", "10" } };
	struct md_sysctl b[] = { { "core/somaxconn", "4096" }, { "ipv4/ip_forward", "1" },
				     { "ipv4/ping_group_range", "1\t0" }, { "unix/max_dgram_qlen", "10" } };
	const struct md_sysctl **d;
	size_t n;

	/* another value; not one a new namespace does not have (tcp_ecn), nor one only it has */
	cr_assert_eq(md_sysctl_diff(a, 4, b, 4, &d, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0], &a[0]);
	free(d);
	cr_assert_eq(md_sysctl_diff(a, 4, a, 4, &d, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(d);
	cr_assert_eq(md_sysctl_diff(b, 4, a, 4, &d, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0], &b[0]);
	free(d);
	cr_assert_eq(md_sysctl_diff(a, 4, NULL, 0, &d, &n), 0);
	cr_assert_eq(n, 0);
}

Test(netns, sysctl_names)
{
	cr_assert(md_net_sysctl_name_ok("ipv4/conf/lo/forwarding"));
	cr_assert(md_net_sysctl_name_ok("netfilter/nf_log/2"));
	cr_assert(md_net_sysctl_name_ok("ipv4/..a"));
	cr_assert_not(md_net_sysctl_name_ok("../x"));
	cr_assert_not(md_net_sysctl_name_ok("a/../x"));
	cr_assert_not(md_net_sysctl_name_ok("a/."));
	cr_assert_not(md_net_sysctl_name_ok("/a"));
	cr_assert_not(md_net_sysctl_name_ok("a/"));
	cr_assert_not(md_net_sysctl_name_ok("a b"));
	cr_assert_not(md_net_sysctl_name_ok(""));
}
