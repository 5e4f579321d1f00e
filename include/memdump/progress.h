#pragma once
/*
 * One progress line on stderr, for dumps and restores that take longer
 * than a second, and only when stderr is a terminal: bytes done of the
 * total, percent and rate, redrawn at most ten times a second and erased
 * at the end. progress_add() may be called from any thread.
 */
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds, for the progress line and for timing stages */
uint64_t md_now_ns(void);
/* -v: "<done> in N s", the time since *since_ns, which becomes now */
void stage_done(uint64_t *since_ns, const char *done);

void progress_start(const char *what, uint64_t total_bytes);
void progress_add(uint64_t bytes);
void progress_end(void);
