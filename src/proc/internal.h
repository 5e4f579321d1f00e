#pragma once
/* Helpers shared by the /proc parsers of src/proc/ only. */

/* the value of hex digit c, -1 if it is none */
static inline int proc_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct nl_sock;
/*
 * A libnl socket of protocol, connected, for dumps: no automatic ACK, and
 * messages peeked at first (they may be larger than a page). 0, or a
 * negative libnl error (-NLE_NOMEM, or what nl_connect() gave).
 */
int proc_nl_open(int protocol, struct nl_sock **ret);
