#pragma once
/*
 * Time namespaces (src/proc/timens.c). A time namespace moves two clocks,
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME (and those counted with them), by
 * offsets from the host's (the initial namespace's), which
 * /proc/PID/timens_offsets shows for the namespace PID's children get, and
 * takes until the first process enters it.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct timens_offsets {
	int64_t monotonic_ns;
	int64_t boottime_ns;
};

/* the text of /proc/PID/timens_offsets: 0, or -EINVAL for anything but a line for each clock */
int timens_parse_offsets(const char *text, struct timens_offsets *ret);
/* off as /proc/PID/timens_offsets takes it, both lines: the text's length, or -ERANGE */
int timens_format_offsets(const struct timens_offsets *off, char *buf, size_t len);
/* the offsets of the namespace pid's children get (pid 0: the calling process's): 0 or -errno */
int timens_read_offsets(pid_t pid, struct timens_offsets *ret);
/*
 * The offsets of the calling process's own time namespace: 0, -EBUSY if
 * its children get another one (/proc shows only that one's), or -errno.
 */
int timens_read_own(struct timens_offsets *ret);
/*
 * What the clocks of a namespace with offsets ns read now, into *ret (as
 * nanoseconds from 0): the host's, ours less our namespace's offsets
 * (ours), moved by ns. 0, or -ERANGE.
 */
int timens_clocks(const struct timens_offsets *ns, const struct timens_offsets *ours, struct timens_offsets *ret);
/*
 * A new time namespace for the calling process's children whose clocks
 * read monotonic_ns and boottime_ns now, and go on from there. Only its
 * main thread may call it: /proc/self names that one. 0, or -errno (after
 * the namespace is made, the children get it with other offsets: fail).
 */
int timens_make(uint64_t monotonic_ns, uint64_t boottime_ns);
