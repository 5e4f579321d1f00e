#pragma once
/*
 * One progress line on stderr, for dumps and restores that take longer
 * than a second, and only when stderr is a terminal: bytes done of the
 * total, percent and rate, redrawn at most ten times a second and erased
 * at the end. progress_add() may be called from any thread.
 */
#include <stdint.h>

void progress_start(const char *what, uint64_t total_bytes);
void progress_add(uint64_t bytes);
void progress_end(void);
