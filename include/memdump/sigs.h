#pragma once
/*
 * Signals held back while memdump must not end half way (a tree's
 * connections in repair mode or locked, src/dump/tcp.c and restore):
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT from a user, SIGPIPE (stderr gone)
 * and SIGXFSZ (a file size limit). They act once the old mask is back.
 */
#include <signal.h>
#include <stdbool.h>

/* hold them back; the mask before in *old. 0 or -errno */
int md_hold_signals(sigset_t *old);
/* whether a user's one (SIGINT, SIGTERM, SIGHUP, SIGQUIT) waits */
bool md_held_stop_pending(void);
/* take every one that waits, before the old mask is back: the user's last, 0 if none */
int md_drop_held_signals(void);
