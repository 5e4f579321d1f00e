/*
 * The page server end to end over loopback: a forked server (xfer_receive)
 * on a port the kernel picks, the client API on this side. What it keeps,
 * and that everything else leaves its directory empty.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../image/synth.h"
#include "memdump/image.h"
#include "memdump/xfer.h"
#include "xfer/wire.h"

static char *src, *dst;
static int srcfd = -1, dstfd = -1;
static pid_t server;
static uint16_t port;

static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int lfd;

	signal(SIGPIPE, SIG_IGN);
	src = make_tmpdir();
	dst = make_tmpdir();
	cr_assert_eq(image_dir_open(src, false, &srcfd), 0);
	cr_assert_eq(image_dir_open(dst, true, &dstfd), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	server = fork();
	cr_assert_geq(server, 0);
	if (server == 0)
		_exit(xfer_receive(lfd, dstfd, dst) < 0 ? 1 : 0);
	close(lfd);
}

static void teardown(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	close(srcfd);
	close(dstfd);
	rm_tree(src);
	rm_tree(dst);
}

TestSuite(xfer, .init = setup, .fini = teardown);

/* the server's exit status */
static int server_exit(void)
{
	int st;

	cr_assert_eq(waitpid(server, &st, 0), server);
	server = 0;
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int entries(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void put_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void assert_file(int dirfd, const char *name, const char *text)
{
	char buf[256] = { 0 };
	int fd = openat(dirfd, name, O_RDONLY);

	cr_assert_geq(fd, 0, "'%s' was not received", name);
	cr_assert_eq(read(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(text));
	cr_assert_str_eq(buf, text);
	close(fd);
}

static struct xfer *connect_ok(void)
{
	struct xfer *x = NULL;

	cr_assert_eq(xfer_connect("127.0.0.1", port, &x), 0);
	return x;
}

/* a pages file streamed in pieces, then the directory's files and link: the same image there */
Test(xfer, whole_image_is_kept)
{
	struct image_pages_writer *w;
	struct xfer *x = connect_ok();
	uint8_t page[4096];
	char link[64] = { 0 };
	struct image_pages *pf;

	cr_assert_eq(image_pages_create_remote(x, "pages-7.img", &w), 0);
	/* compressed: the writer's threads send it */
	cr_assert_eq(image_pages_compress(w, md_zstd(1)), 0);
	for (uint64_t i = 0; i < 5; i++) {
		synth_page(page, i);
		cr_assert_eq(image_pages_write(w, page, 1000), 0);
		cr_assert_eq(image_pages_write(w, page + 1000, sizeof(page) - 1000), 0);
	}
	cr_assert_eq(image_pages_finish(w), 0);
	put_file(srcfd, "inventory.img", "inventory bytes");
	put_file(srcfd, "core-7.img", "");
	put_file(srcfd, "notes.txt", "not an image file");
	cr_assert_eq(symlinkat("../prev", srcfd, "parent"), 0);
	cr_assert_eq(xfer_send_dir(x, srcfd), 0);
	cr_assert_eq(xfer_finish(x), 0);
	cr_assert_eq(server_exit(), 0);

	cr_assert_eq(image_pages_open(dstfd, "pages-7.img", 5, true, &pf), 0);
	for (uint64_t i = 0; i < 5; i++) {
		uint8_t want[4096];

		synth_page(want, i);
		cr_assert_eq(image_pages_read(pf, NULL, i * 4096, page, sizeof(page)), 0);
		cr_assert_arr_eq(page, want, sizeof(page));
	}
	image_pages_close(pf);
	assert_file(dstfd, "inventory.img", "inventory bytes");
	assert_file(dstfd, "core-7.img", "");
	cr_assert_eq(readlinkat(dstfd, "parent", link, sizeof(link) - 1), 7);
	cr_assert_str_eq(link, "../prev");
	cr_assert_eq(faccessat(dstfd, "notes.txt", F_OK, 0), -1);
	cr_assert_eq(entries(dstfd), 4);
}

/* a dump that fails tells the server, which drops everything */
Test(xfer, abort_removes_everything)
{
	struct xfer *x = connect_ok();

	put_file(srcfd, "inventory.img", "x");
	cr_assert_eq(xfer_send_dir(x, srcfd), 0);
	xfer_abort(x, "the target went away");
	cr_assert_eq(server_exit(), 1);
	cr_assert_eq(entries(dstfd), 0);
}

/* so does a connection that just ends, in the middle of a file */
Test(xfer, cut_connection_removes_everything)
{
	struct xfer *x = connect_ok();
	uint32_t id;
	int sock;

	cr_assert_eq(xfer_open(x, "pages-1.img", &id), 0);
	cr_assert_eq(xfer_write(x, id, 0, "abc", 3), 0);
	/* no DONE, no ABORT: close the socket under the client */
	sock = socket(AF_INET, SOCK_STREAM, 0);
	for (int fd = 3; fd < 64; fd++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);

		if (fd != sock && getpeername(fd, (struct sockaddr *)&a, &len) == 0 && ntohs(a.sin_port) == port)
			shutdown(fd, SHUT_RDWR);
	}
	close(sock);
	cr_assert_eq(server_exit(), 1);
	cr_assert_eq(entries(dstfd), 0);
	cr_assert_neq(xfer_finish(x), 0);
}

/* names that are not plain image file names never reach the file system */
Test(xfer, bad_names_refused)
{
	static const char *const bad[] = { "x.txt", ".img", "..img", "../x.img", "parent" };
	uint32_t id;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xfer *x;

		if (i) {
			teardown();
			setup();
		}
		x = connect_ok();
		if (strchr(bad[i], '/')) {
			/* the client refuses it itself */
			cr_assert_eq(xfer_open(x, bad[i], &id), -EINVAL);
			xfer_abort(x, "test");
		} else {
			cr_assert_eq(xfer_open(x, bad[i], &id), 0);
			cr_assert_eq(xfer_finish(x), -EIO, "'%s' was not refused", bad[i]);
		}
		cr_assert_eq(server_exit(), 1);
		cr_assert_eq(entries(dstfd), 0);
	}
}

/* DONE while a file is still open is not a complete image */
Test(xfer, incomplete_file_refused)
{
	struct xfer *x = connect_ok();
	uint32_t id;

	cr_assert_eq(xfer_open(x, "pages-1.img", &id), 0);
	cr_assert_eq(xfer_write(x, id, 4096, "abc", 3), 0);
	cr_assert_eq(xfer_finish(x), -EIO);
	cr_assert_eq(server_exit(), 1);
	cr_assert_eq(entries(dstfd), 0);
}

/* something that is not memdump, or another protocol version, is turned away */
Test(xfer, wrong_greeting_refused)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct xfer_hdr h;
	char why[XFER_TEXT_MAX + 1];
	int fd = socket(AF_INET, SOCK_STREAM, 0), eof;

	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(xfer_send_msg(fd, XFER_HELLO, XFER_VERSION + 1, 0, XFER_GREETING, strlen(XFER_GREETING)), 0);
	cr_assert_eq(xfer_recv_hdr(fd, &h, &eof), 0);
	cr_assert_eq(h.type, XFER_ERR);
	cr_assert_eq(xfer_recv_text(fd, &h, why, sizeof(why)), 0);
	cr_assert(strstr(why, "version"), "%s", why);
	close(fd);
	/* a connection that says nothing, too; the server waits on for a real dump */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	xfer_abort(connect_ok(), "test");
	cr_assert_eq(server_exit(), 1);
}

/* no server at all: a clear error, nothing else */
Test(xfer, nobody_listening)
{
	struct xfer *x = NULL;

	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	server = 0;
	/* the listening socket died with the server */
	cr_assert_lt(xfer_connect("127.0.0.1", port, &x), 0);
	cr_assert_null(x);
}

/* writes outside what was opened, beyond any size, and a parent link out of the tree */
Test(xfer, misuse_refused)
{
	for (int i = 0; i < 4; i++) {
		struct xfer *x;
		uint32_t id;

		if (i) {
			teardown();
			setup();
		}
		x = connect_ok();
		cr_assert_eq(xfer_open(x, "pages-1.img", &id), 0);
		switch (i) {
		case 0:	/* after CLOSE */
			cr_assert_eq(xfer_close_file(x, id), 0);
			xfer_write(x, id, 0, "abc", 3);
			break;
		case 1:	/* an offset that wraps around */
			xfer_write(x, id, UINT64_MAX - 1, "abc", 3);
			break;
		case 2:	/* a file id never opened */
			xfer_write(x, id + 7, 0, "abc", 3);
			break;
		case 3:	/* an absolute parent link */
			cr_assert_eq(xfer_close_file(x, id), 0);
			cr_assert_eq(symlinkat("/", srcfd, "parent"), 0);
			xfer_send_dir(x, srcfd);
			break;
		}
		cr_assert_neq(xfer_finish(x), 0, "case %d was not refused", i);
		cr_assert_eq(server_exit(), 1, "case %d", i);
		cr_assert_eq(entries(dstfd), 0, "case %d left files", i);
	}
}
