/*
 * /proc/net/netfilter/nfnetlink_log and nfnetlink_queue: which netlink
 * ports have an nflog group or NFQUEUE queue bound to them, in text laid
 * out as nfulnl_seq_show() and seq_show() of nfnetlink_queue print it.
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include "memdump/proc.h"

/* "%5u %6u %5u %1u %5u %6u %2u\n": group, port, qlen, copy mode, copy range, flush timeout, users */
static const char log_text[] = "    7  16002     0 2 65535    100  1\n"
			       "   42 4294967295     1 1   512     10  2\n";
/* "%5u %6u %5u %1u %5u %5u %5u %8u %2d\n": queue, port, total, mode, range, dropped... */
static const char queue_text[] = "    0 2147483647     0 2 65531     0     0        3  1\n";

Test(proc_nfnetlink, ports_found)
{
	cr_assert(proc_nfnl_port_bound(log_text, 16002));
	cr_assert(proc_nfnl_port_bound(log_text, 4294967295u), "a port the kernel chose (negative as int)");
	cr_assert(proc_nfnl_port_bound(queue_text, 2147483647u));
}

Test(proc_nfnetlink, other_ports_not)
{
	cr_assert_not(proc_nfnl_port_bound(log_text, 7), "a group number is no port");
	cr_assert_not(proc_nfnl_port_bound(log_text, 1600));
	cr_assert_not(proc_nfnl_port_bound(queue_text, 0), "a queue number is no port");
	cr_assert_not(proc_nfnl_port_bound("", 16002));
	cr_assert_not(proc_nfnl_port_bound("garbage\n\n 7\n", 7));
}

Test(proc_nfnetlink, this_host)
{
	bool used = true;

	/* port 0 is the kernel's: an instance is bound to a socket of a process */
	cr_assert_eq(proc_nfnl_port_used(0, &used), 0);
	cr_assert_not(used);
}
