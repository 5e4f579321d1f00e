/*
 * /proc/net/igmp and /proc/net/igmp6 -> the multicast groups each
 * interface has joined: those of its sockets among them, which the dump
 * then asks each socket about (dump/mcast.c). The formats are those of
 * igmp_mc_seq_show() and igmp6_mc_seq_show():
 *
 *	Idx	Device    : Count Querier	Group    Users Timer	Reporter
 *	1	lo        :     2      V3
 *					030201EF     1 0:00000000		0
 *
 *	1    lo              ff050000000000000000000000001234     1 00000004 0
 *
 * An IPv4 group is its __be32 printed as a host integer (%08X): read back
 * the same way, it is in network byte order again. Each (group, interface)
 * is listed once.
 */
#include "memdump/proc.h"
#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "proc/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* g at the end of *ret, unless there already: a file read in pieces may show a line twice */
static int append(struct proc_mcast_group **ret, size_t *ret_n, const struct proc_mcast_group *g)
{
	struct proc_mcast_group *grown;

	for (size_t i = 0; i < *ret_n; i++)
		if ((*ret)[i].family == g->family && (*ret)[i].ifindex == g->ifindex &&
		    !memcmp((*ret)[i].group, g->group, sizeof(g->group)))
			return 0;
	grown = realloc(*ret, (*ret_n + 1) * sizeof(**ret));
	if (!grown)
		return -ENOMEM;
	grown[(*ret_n)++] = *g;
	*ret = grown;
	return 0;
}

/* an interface name (md_ifname_valid()), copied into name */
static int take_ifname(const char *s, size_t n, char name[16])
{
	if (!md_ifname_valid(s, n))
		return -EINVAL;
	memcpy(name, s, n);
	name[n] = '\0';
	return 0;
}

/* the next line of *pos (without its newline) into line, *pos past it; false at the end */
static bool next_line(const char **pos, char *line, size_t len, int *r)
{
	const char *l = *pos, *end;
	size_t n;

	if (!*l)
		return false;
	end = strchr(l, '\n');
	n = end ? (size_t)(end - l) : strlen(l);
	*pos = end ? end + 1 : l + n;
	if (n >= len) {
		*r = -EINVAL;
		return false;
	}
	memcpy(line, l, n);
	line[n] = '\0';
	return true;
}

int proc_parse_igmp(const char *buf, struct proc_mcast_group **ret, size_t *ret_n)
{
	struct proc_mcast_group dev = { .family = AF_INET };
	const char *pos = buf;
	bool have_dev = false;
	char line[256];
	int r = 0;

	/* the header line */
	if (strncmp(pos, "Idx\t", 4) != 0)
		return -EINVAL;
	if (!next_line(&pos, line, sizeof(line), &r))
		return r ? r : -EINVAL;
	while (next_line(&pos, line, sizeof(line), &r)) {
		struct proc_mcast_group g;
		unsigned long long v;
		uint32_t be;
		char *end;

		if (line[0] != '\t') {
			/* "%d\t%-10s: %5d %7s": an interface, its groups below */
			const char *name, *colon;

			errno = 0;
			v = strtoull(line, &end, 10);
			if (errno || end == line || *end != '\t' || v == 0 || v > INT32_MAX)
				return -EINVAL;
			name = end + 1;
			colon = strchr(name, ':');
			if (!colon)
				return -EINVAL;
			while (colon > name && colon[-1] == ' ')
				colon--;
			if (take_ifname(name, (size_t)(colon - name), dev.ifname) < 0)
				return -EINVAL;
			dev.ifindex = (uint32_t)v;
			have_dev = true;
			continue;
		}
		/* "\t\t\t\t%08X %5d %d:%08lX\t\t%d": a group of the interface above */
		end = line + strspn(line, "\t");
		if (!have_dev || strlen(end) < 9 || end[8] != ' ')
			return -EINVAL;
		v = 0;
		for (int i = 0; i < 8; i++) {
			int h = proc_hexval(end[i]);

			if (h < 0)
				return -EINVAL;
			v = v << 4 | (unsigned)h;
		}
		g = dev;
		be = (uint32_t)v;
		memcpy(g.group, &be, 4);
		if ((r = append(ret, ret_n, &g)) < 0)
			return r;
	}
	return r;
}

int proc_parse_igmp6(const char *buf, struct proc_mcast_group **ret, size_t *ret_n)
{
	const char *pos = buf;
	char line[256];
	int r = 0;

	/* "%-4d %-15s %pi6 %5d %08X %ld" */
	while (next_line(&pos, line, sizeof(line), &r)) {
		struct proc_mcast_group g = { .family = AF_INET6 };
		char name[32], addr[40];
		unsigned idx;
		int used = 0;

		if (sscanf(line, "%u %31s %39s %*d %*x %*d%n", &idx, name, addr, &used) != 3 || !used ||
		    line[used] || idx == 0 || idx > INT32_MAX || strlen(addr) != 32 ||
		    take_ifname(name, strlen(name), g.ifname) < 0)
			return -EINVAL;
		for (int i = 0; i < 16; i++) {
			int hi = proc_hexval(addr[2 * i]), lo = proc_hexval(addr[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			g.group[i] = (uint8_t)(hi << 4 | lo);
		}
		g.ifindex = idx;
		if ((r = append(ret, ret_n, &g)) < 0)
			return r;
	}
	return r;
}

/*
 * path as it stands: the kernel prints it a page per read(), so a group
 * joined or left in between may move lines (one twice, or one missed, an
 * interface's header line included): read until two reads agree. NULL if
 * there is no such file.
 */
static int read_stable(const char *path, char **ret)
{
	_cleanup_free_ char *a = NULL;
	int r = proc_read_file(path, &a, NULL);

	for (int tries = 0; r >= 0 && tries < 20; tries++) {
		char *b = NULL;

		if ((r = proc_read_file(path, &b, NULL)) < 0)
			break;
		if (!strcmp(a, b)) {
			free(b);
			*ret = TAKE_PTR(a);
			return 0;
		}
		free(a);
		a = b;
	}
	*ret = NULL;
	return r == -ENOENT ? 0 : r < 0 ? r : -EAGAIN;
}

int proc_read_mcast_groups(struct proc_mcast_group **ret, size_t *ret_n)
{
	_cleanup_free_ struct proc_mcast_group *g = NULL;
	_cleanup_free_ char *v4 = NULL, *v6 = NULL;
	size_t n = 0;
	int r;

	if ((r = read_stable("/proc/net/igmp", &v4)) < 0)
		return r;
	if (v4 && (r = proc_parse_igmp(v4, &g, &n)) < 0)
		return r;
	if ((r = read_stable("/proc/net/igmp6", &v6)) < 0)
		return r;
	if (v6 && (r = proc_parse_igmp6(v6, &g, &n)) < 0)
		return r;
	*ret = TAKE_PTR(g);
	*ret_n = n;
	return 0;
}
