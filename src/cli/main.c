/*
 * memdump's command line: argv -> options -> one stage driver. The only
 * code that calls exit().
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memdump/dump.h"
#include "memdump/image.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/restore.h"
#include "memdump/xfer.h"

#ifndef MEMDUMP_VERSION
#define MEMDUMP_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fputs("usage: memdump dump -t PID -D DIR [-R|--leave-running] [--prev-images-dir PREV] [--track-mem]\n"
	      "                    [--page-server --address ADDR --port PORT] [--compress[=zstd[:LEVEL]|lz4|none]]\n"
	      "                    [-j|--shell-job] [--tcp-established] [--skip-in-flight] [--ghost-limit SIZE] [-v]\n"
	      "       memdump pre-dump -t PID -D DIR [--prev-images-dir PREV]\n"
	      "                    [--page-server --address ADDR --port PORT] [--compress[=zstd[:LEVEL]|lz4|none]]\n"
	      "                    [-j|--shell-job] [--tcp-established] [--skip-in-flight] [-v]\n"
	      "       memdump page-server -D DIR --port PORT [--address ADDR] [-d|--daemon [-o|--log-file FILE]] [-v]\n"
	      "       memdump restore -D DIR [-d|--restore-detached] [--lazy-pages] [-j|--shell-job]\n"
	      "                    [--tcp-established] [-v]\n"
	      "       memdump show DIR|FILE\n"
	      "       memdump check\n"
	      "       memdump --version\n",
	      out);
}

static int parse_pid(const char *s, pid_t *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 65535) {
		log_msg(LOG_ERR, "invalid port '%s'", s);
		return -EINVAL;
	}
	*ret = (uint16_t)v;
	return 0;
}

enum { OPT_PREV = 0x100, OPT_TRACK_MEM, OPT_PAGE_SERVER, OPT_ADDRESS, OPT_PORT, OPT_COMPRESS, OPT_LAZY, OPT_GHOST_LIMIT,
       OPT_TCP_ESTABLISHED, OPT_SKIP_IN_FLIGHT };

/* --ghost-limit SIZE: bytes, or with a K, M or G suffix (powers of 1024) */
static int parse_size(const char *s, uint64_t *ret)
{
	unsigned shift = 0;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		goto bad;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		goto bad;
	*ret = (uint64_t)v << shift;
	return 0;
bad:
	log_msg(LOG_ERR, "invalid --ghost-limit '%s' (bytes, or a number with K, M or G)", s);
	return -EINVAL;
}

/*
 * --compress[=zstd[:LEVEL]|lz4|none]. zstd level 1 by default: on a CPython
 * heap it keeps most of level 3's ratio at twice its speed; lz4 trades a
 * larger image for a faster dump and restore (README, Performance).
 */
#define COMPRESS_DEFAULT_LEVEL 1

static int parse_compress(const char *s, struct md_compress *ret)
{
	char *end;
	long v;

	if (!s || !strcmp(s, "zstd")) {
		*ret = md_zstd(COMPRESS_DEFAULT_LEVEL);
		return 0;
	}
	if (!strcmp(s, "lz4")) {
		*ret = (struct md_compress){ MD_CODEC_LZ4, 0 };
		return 0;
	}
	if (!strcmp(s, "none")) {
		*ret = (struct md_compress){ MD_CODEC_NONE, 0 };
		return 0;
	}
	if (strncmp(s, "zstd:", 5) != 0)
		goto bad;
	errno = 0;
	v = strtol(s + 5, &end, 10);
	if (errno || *end || end == s + 5 || v < INT_MIN || v > INT_MAX)
		goto bad;
	*ret = (struct md_compress){ MD_CODEC_ZSTD, (int)v };
	if (!image_compress_valid(*ret))
		goto bad;
	return 0;
bad:
	log_msg(LOG_ERR,
		"invalid --compress '%s' (zstd, zstd:LEVEL with LEVEL %d to -1 (fast) or 1 to %d, lz4, or none)", s,
		MD_ZSTD_MIN_LEVEL, MD_ZSTD_MAX_LEVEL);
	return -EINVAL;
}

static int dump_or_pre_dump(int argc, char **argv, bool pre)
{
	static const struct option lo[] = {
		{ "tree", required_argument, NULL, 't' },
		{ "images-dir", required_argument, NULL, 'D' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "prev-images-dir", required_argument, NULL, OPT_PREV },
		{ "track-mem", no_argument, NULL, OPT_TRACK_MEM },
		{ "page-server", no_argument, NULL, OPT_PAGE_SERVER },
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "compress", optional_argument, NULL, OPT_COMPRESS },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "ghost-limit", required_argument, NULL, OPT_GHOST_LIMIT },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "skip-in-flight", no_argument, NULL, OPT_SKIP_IN_FLIGHT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct dump_opts o = { .pre_dump = pre, .ghost_limit = DUMP_GHOST_LIMIT_DEFAULT };
	const char *addr = NULL;
	bool page_server = false;
	int c;

	while ((c = getopt_long(argc, argv, "t:D:Rjvh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_pid(optarg, &o.pid) < 0) {
				log_msg(LOG_ERR, "invalid pid '%s'", optarg);
				return 2;
			}
			break;
		case 'D':
			o.dir = optarg;
			break;
		case 'R':
			o.leave_running = true;
			break;
		case 'j':
			o.shell_job = true;
			break;
		case OPT_PREV:
			o.prev_dir = optarg;
			break;
		case OPT_TRACK_MEM:
			o.track_mem = true;
			break;
		case OPT_PAGE_SERVER:
			page_server = true;
			break;
		case OPT_ADDRESS:
			addr = optarg;
			break;
		case OPT_PORT:
			if (parse_port(optarg, &o.ps_port) < 0)
				return 2;
			break;
		case OPT_COMPRESS:
			if (parse_compress(optarg, &o.compress) < 0)
				return 2;
			break;
		case OPT_GHOST_LIMIT:
			if (parse_size(optarg, &o.ghost_limit) < 0)
				return 2;
			break;
		case OPT_TCP_ESTABLISHED:
			o.tcp_established = true;
			break;
		case OPT_SKIP_IN_FLIGHT:
			o.skip_in_flight = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.pid || !o.dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* as in CRIU: --address and --port say where the page server is */
	if (page_server ? !(addr && o.ps_port) : addr || o.ps_port) {
		log_msg(LOG_ERR, "--page-server needs --address and --port, and they need it");
		return 2;
	}
	/* the page server makes the same link in its own directory */
	if (page_server && o.prev_dir && o.prev_dir[0] == '/') {
		log_msg(LOG_ERR, "with --page-server, --prev-images-dir must be relative to -D (as it will be there)");
		return 2;
	}
	o.ps_addr = addr;
	/* a pre-dump always leaves the tree running and tracks it */
	if (pre && (o.leave_running || o.track_mem)) {
		log_msg(LOG_ERR, "pre-dump always leaves the tree running and tracks its memory: no -R, no --track-mem");
		return 2;
	}
	return dump_run(&o) < 0 ? 1 : 0;
}

static int cmd_dump(int argc, char **argv)
{
	return dump_or_pre_dump(argc, argv, false);
}

static int cmd_pre_dump(int argc, char **argv)
{
	return dump_or_pre_dump(argc, argv, true);
}

static int cmd_restore(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "images-dir", required_argument, NULL, 'D' },
		{ "restore-detached", no_argument, NULL, 'd' },
		{ "lazy-pages", no_argument, NULL, OPT_LAZY },
		{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct restore_opts o = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "D:djvh", lo, NULL)) != -1) {
		switch (c) {
		case 'D':
			o.dir = optarg;
			break;
		case 'd':
			o.detach = true;
			break;
		case OPT_LAZY:
			o.lazy = true;
			break;
		case OPT_TCP_ESTABLISHED:
			o.tcp_established = true;
			break;
		case 'j':
			o.shell_job = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	r = restore_run(&o);
	return r < 0 ? 1 : r;
}

static int cmd_page_server(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "images-dir", required_argument, NULL, 'D' },
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "daemon", no_argument, NULL, 'd' },
		{ "log-file", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct xfer_server_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "D:do:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'D':
			o.dir = optarg;
			break;
		case 'o':
			o.log_file = optarg;
			break;
		case OPT_ADDRESS:
			o.addr = optarg;
			break;
		case OPT_PORT:
			if (parse_port(optarg, &o.port) < 0)
				return 2;
			break;
		case 'd':
			o.daemon = true;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.dir || !o.port || optind != argc) {
		usage(stderr);
		return 2;
	}
	return xfer_serve(&o) < 0 ? 1 : 0;
}

static int cmd_show(int argc, char **argv)
{
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	return image_show(argv[1], stdout) < 0 ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	struct kfeat kf;
	int r;

	r = kfeat_probe_all(&kf);
	if (r < 0) {
		log_err(r, "cannot probe kernel features");
		return 1;
	}
	kfeat_print(&kf, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "dump", cmd_dump },
		{ "pre-dump", cmd_pre_dump },
		{ "page-server", cmd_page_server },
		{ "restore", cmd_restore },
		{ "show", cmd_show },
		{ "check", cmd_check },
	};

	if (argc < 2) {
		usage(stderr);
		exit(2);
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memdump %s\n", MEMDUMP_VERSION);
		exit(0);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		exit(0);
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			exit(cmds[i].fn(argc - 1, argv + 1));
	log_msg(LOG_ERR, "unknown command '%s'", argv[1]);
	usage(stderr);
	exit(2);
}
