/* The progress line (memdump/progress.h). */
#include "memdump/progress.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SHOW_AFTER_NS 1000000000ULL
#define REDRAW_NS 100000000ULL

static struct {
	bool on;
	const char *what;
	uint64_t total, start_ns;
	_Atomic uint64_t done, next_draw_ns;
	atomic_bool drawn;
} pg;

uint64_t md_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return md_timespec_ns(&ts);
}

void stage_done(uint64_t *since_ns, const char *done)
{
	uint64_t t = md_now_ns();

	log_debug("%s in %.3f s", done, (t - *since_ns) / 1e9);
	*since_ns = t;
}

void progress_start(const char *what, uint64_t total_bytes)
{
	pg.on = total_bytes && isatty(STDERR_FILENO);
	pg.what = what;
	pg.total = total_bytes;
	pg.start_ns = md_now_ns();
	atomic_store(&pg.done, 0);
	atomic_store(&pg.next_draw_ns, pg.start_ns + SHOW_AFTER_NS);
	atomic_store(&pg.drawn, false);
}

void progress_add(uint64_t bytes)
{
	uint64_t done, t, next;

	if (!pg.on)
		return;
	done = atomic_fetch_add(&pg.done, bytes) + bytes;
	t = md_now_ns();
	next = atomic_load(&pg.next_draw_ns);
	/* one thread draws; the others go on */
	if (t < next || !atomic_compare_exchange_strong(&pg.next_draw_ns, &next, t + REDRAW_NS))
		return;
	fprintf(stderr, "\r\033[Kmemdump: %s: %.1f of %.1f MiB (%.0f%%), %.0f MiB/s", pg.what, done / 1048576.0,
		pg.total / 1048576.0, 100.0 * (double)done / (double)pg.total,
		done / 1048576.0 / ((double)(t - pg.start_ns) / 1e9));
	atomic_store(&pg.drawn, true);
}

void progress_end(void)
{
	if (pg.on && atomic_load(&pg.drawn))
		fputs("\r\033[K", stderr);
	pg.on = false;
}
