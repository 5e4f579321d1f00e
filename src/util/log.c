/*
 * One-line logging to stderr. Leaves formatting of context to the callers
 * (stage drivers); this only adds the "memdump: " prefix and strerror.
 */
#include "memdump/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static enum log_level cur_level = LOG_INFO;

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }

static void vlog(enum log_level lvl, int r, const char *fmt, va_list ap)
{
	static const char *const pfx[] = {
		[LOG_ERR] = "error: ", [LOG_WARN] = "warning: ", [LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	char buf[1024];

	if (lvl > cur_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (r < 0)
		fprintf(stderr, "memdump: %s%s: %s\n", pfx[lvl], buf, strerror(-r));
	else
		fprintf(stderr, "memdump: %s%s\n", pfx[lvl], buf);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, 0, fmt, ap);
	va_end(ap);
}

int log_err(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, r, fmt, ap);
	va_end(ap);
	return r;
}

int log_refuse(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	return -ENOTSUP;
}
