#pragma once
/*
 * Between image/proc.c and image/sockets.c only: an md_sock as the
 * Socket message of files-PID.img, and back.
 */
#include <arpa/inet.h>

#include "memdump/model.h"

#include "files.pb-c.h"

/* the message and the strings it points to */
struct img_sock_pb {
	Md__Socket m;
	Md__SockOpts opts;	/* m.opts, if any; its strings and filter are the md_sock's */
	char addr[INET6_ADDRSTRLEN];
	char peer[INET6_ADDRSTRLEN];
	char path[MD_SOCK_NAME_MAX + 1];
	/* opts.memberships, allocated: the messages, pointers to them and to texts, the texts */
	Md__McastMembership *mc;
	Md__McastMembership **mcp;
	char **texts;
	char (*text)[INET6_ADDRSTRLEN];
};

/* pb points into s (its options) until written; img_sock_pb_release() after. -ENOMEM */
int img_sock_fill(struct img_sock_pb *pb, const struct md_sock *s);
void img_sock_pb_release(struct img_sock_pb *pb);
/* checks the message on its own (logs with name and fd, -EINVAL); ret->opts is allocated */
int img_sock_read(const char *name, int fd, const Md__Socket *m, struct md_sock *ret);
