#pragma once
/* Work shared by a few threads (src/util/parallel.c). */
#include <stddef.h>

/* CPUs this process may run on, at least 1 and at most max */
size_t md_cpus(size_t max);

/*
 * fn(arg) on n threads at once, the caller's among them (fewer if threads
 * cannot be made); returns when every one has returned. fn takes its work
 * from arg under its own lock.
 */
void md_parallel(size_t n, void *(*fn)(void *), void *arg);
