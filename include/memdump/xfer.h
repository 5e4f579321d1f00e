#pragma once
/*
 * The page server (src/xfer): a dump sends the files of its image over one
 * TCP connection to `memdump page-server`, which writes them into its own
 * images directory, so that the receiving side ends up with the image a
 * local dump would have written. Pages files are streamed while memory is
 * copied and never touch the dumping host's disk; the small metadata files
 * are written locally as usual (the next incremental dump plans from them)
 * and sent once the image is complete.
 *
 * The server keeps nothing unless the dump ends with xfer_finish(): it
 * fsyncs every file and only then answers, so a dump that kills its tree
 * knows the image is safe on the other side. A connection that ends any
 * other way makes the server remove every file it received.
 *
 * The wire format is in src/xfer/wire.h and images/README.md.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xfer;

/* Connect to a page server at addr:port (a name or a numeric address) and greet it. */
int xfer_connect(const char *addr, uint16_t port, struct xfer **ret);
/* A new file name in the server's directory; *ret_id names it in the calls below. */
int xfer_open(struct xfer *x, const char *name, uint32_t *ret_id);
int xfer_write(struct xfer *x, uint32_t id, uint64_t off, const void *buf, size_t len);
int xfer_close_file(struct xfer *x, uint32_t id);
/* Send every image file of dirfd (*.img and the parent link) as it is. */
int xfer_send_dir(struct xfer *x, int dirfd);
/* Ask the server to keep what it received; returns once it is on its disk. Frees x. */
int xfer_finish(struct xfer *x);
/* Tell the server to drop what it received (why: for its log). Frees x; NULL is fine. */
void xfer_abort(struct xfer *x, const char *why);

struct xfer_server_opts {
	const char *dir;	/* images directory, created; must be empty */
	const char *addr;	/* NULL: every address */
	uint16_t port;
	bool daemon;		/* print the server's pid and return once listening */
	const char *log_file;	/* with daemon: where the server logs (else nowhere) */
};

/* Receive one image and exit: 0 once it is kept, < 0 (logged) otherwise. */
int xfer_serve(const struct xfer_server_opts *o);
/*
 * The same on a listening socket (closed here) into an open, empty
 * directory (dir: its name, for logs). Connections that do not greet like
 * a memdump dump are turned away, and the server waits on.
 */
int xfer_receive(int lfd, int dirfd, const char *dir);
