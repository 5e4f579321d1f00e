#pragma once
/*
 * Logging: one line per error, logged once by the stage driver that knows
 * the context. log_err() appends strerror(-r) and returns r; log_refuse()
 * says what is not supported, all of it, and returns -ENOTSUP.
 */
#include <stdarg.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
