/*
 * Signals held back while memdump must not end half way (memdump/sigs.h).
 * What holding them means for the work is the callers' to say.
 */
#include "memdump/sigs.h"

#include <errno.h>
#include <time.h>

static const int user_stops[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void held(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(user_stops) / sizeof(user_stops[0]); i++)
		sigaddset(set, user_stops[i]);
	sigaddset(set, SIGPIPE);
	sigaddset(set, SIGXFSZ);
}

int md_hold_signals(sigset_t *old)
{
	sigset_t set;

	held(&set);
	return sigprocmask(SIG_BLOCK, &set, old) < 0 ? -errno : 0;
}

int md_drop_held_signals(void)
{
	const struct timespec now = { 0 };
	sigset_t set;
	int sig, last = 0;

	held(&set);
	while ((sig = sigtimedwait(&set, NULL, &now)) > 0)
		if (sig != SIGPIPE && sig != SIGXFSZ)
			last = sig;
	return last;
}

bool md_held_stop_pending(void)
{
	sigset_t pending;

	if (sigpending(&pending) < 0)
		return false;
	for (size_t i = 0; i < sizeof(user_stops) / sizeof(user_stops[0]); i++)
		if (sigismember(&pending, user_stops[i]) == 1)
			return true;
	return false;
}
