/*
 * The network lock (memdump/netlock.h), through libnftables: one
 * transaction makes the table, its two chains and a rule per direction of
 * each connection, so a failure leaves nothing behind. libnftables speaks
 * nftables' own language and netlink for us; the rules stay readable with
 * `nft list table inet NAME`.
 */
#include "memdump/netlock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memdump/log.h"
#include "memdump/model.h"

/* digits, at least one, and at most max of them; the rest of s after them in *end */
static bool digits(const char *s, size_t max, const char **end)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	*end = s + n;
	return n && n <= max;
}

bool md_net_lock_name_valid(const char *name)
{
	const char *p, *ns;

	/* only what netlock_name() makes: never a table of somebody else's */
	if (strncmp(name, "memdump_", 8) || strlen(name) >= MD_NET_LOCK_NAME_MAX)
		return false;
	if (!digits(name + 8, 10, &p) || *p != '_' || !digits(p + 1, 20, &p) || *p != '_')
		return false;
	ns = p + 1;
	return digits(ns, 9, &p) && p - ns == 9 && !*p;
}

void netlock_conn(struct md_net_conn *c, const struct md_sock *s)
{
	*c = (struct md_net_conn){ .family = s->family, .port = s->port, .peer_port = s->peer_port };
	memcpy(c->addr, s->addr, sizeof(c->addr));
	memcpy(c->peer_addr, s->peer_addr, sizeof(c->peer_addr));
}

void netlock_name(char *buf, size_t len, pid_t pid, uint64_t ns)
{
	snprintf(buf, len, "memdump_%d_%llu_%09llu", (int)pid, (unsigned long long)(ns / 1000000000),
		 (unsigned long long)(ns % 1000000000));
}

/* "ip" or "ip6", and the address as nft reads it */
static const char *fmt_addr(int family, const uint8_t *a, char *buf, size_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (family == AF_INET6 && memcmp(a, v4mapped, sizeof(v4mapped))) {
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
		return "ip6";
	}
	inet_ntop(AF_INET, family == AF_INET6 ? a + 12 : a, buf, (socklen_t)len);
	return "ip";
}

/* append to a growing string; false without memory */
static bool add(char **s, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool add(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return false;
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return true;
		}
		char *ns = realloc(*s, *cap * 2 + (size_t)n);

		if (!ns)
			return false;
		*s = ns;
		*cap = *cap * 2 + (size_t)n;
	}
}

#define RULE_PORTS "tcp sport %u tcp dport %u drop\n"

char *netlock_script(const char *name, const struct md_net_conn *c, size_t n)
{
	size_t len = 0, cap = 1024;
	char *s = malloc(cap);
	bool ok;

	if (!s)
		return NULL;
	s[0] = '\0';
	ok = add(&s, &len, &cap, "create table inet %s\n", name) &&
	     add(&s, &len, &cap, "add chain inet %s input { type filter hook input priority -300; }\n", name) &&
	     add(&s, &len, &cap, "add chain inet %s output { type filter hook output priority -300; }\n", name);
	for (size_t i = 0; ok && i < n; i++) {
		char a[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
		const char *fa = fmt_addr(c[i].family, c[i].addr, a, sizeof(a));
		const char *fp = fmt_addr(c[i].family, c[i].peer_addr, p, sizeof(p));

		/* a mapped address on one end only cannot be: the packets are of one family */
		ok = add(&s, &len, &cap, "add rule inet %s input %s saddr %s %s daddr %s " RULE_PORTS, name, fp, p,
			 fa, a, c[i].peer_port, c[i].port) &&
		     add(&s, &len, &cap, "add rule inet %s output %s saddr %s %s daddr %s " RULE_PORTS, name, fa, a,
			 fp, p, c[i].port, c[i].peer_port);
	}
	if (!ok) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * Run commands; on failure *err gets nftables' first line of complaint.
 * libnftables runs in a child of ours: where it cannot open its netlink
 * socket it calls exit(), which must end neither a dump holding a frozen
 * tree nor a restore holding a stopped one. The child's stderr, where that
 * message goes, is the pipe too. Callers are single-threaded here (their
 * worker threads are joined), as fork() wants. SIGCHLD is the default
 * meanwhile: ignored (inherited so), waitpid() would find no child.
 */
#define RUN_TIMEOUT_MS 30000

static int run(const char *cmds, char *err, size_t errlen)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	struct pollfd pfd;
	char sink[256];
	size_t got = 0;
	int p[2], status, r = 0, e;
	ssize_t n;
	pid_t pid;

	/* room for a message and its NUL */
	if (errlen < 64)
		return -EINVAL;
	err[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(e));
		return -e;
	}
	sigaction(SIGCHLD, &dfl, &old);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		e = errno;
		snprintf(err, errlen, "cannot fork: %s", strerror(e));
		close(p[0]);
		close(p[1]);
		sigaction(SIGCHLD, &old, NULL);
		return -e;
	}
	if (pid == 0) {
		struct nft_ctx *ctx;
		const char *msg;

		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		ctx = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!ctx)
			_exit(2);
		nft_ctx_buffer_output(ctx);
		nft_ctx_buffer_error(ctx);
		r = nft_run_cmd_from_buffer(ctx, cmds);
		msg = nft_ctx_get_error_buffer(ctx);
		if (r != 0 && msg && write(p[1], msg, strlen(msg)) < 0)
			_exit(3);
		_exit(r != 0);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	for (;;) {
		/* what does not fit is read and dropped: the child must not block on a full pipe */
		bool room = got + 1 < errlen;
		int k = poll(&pfd, 1, RUN_TIMEOUT_MS);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			e = k < 0 ? errno : ETIMEDOUT;
			/* a child that hangs must not keep the tree frozen */
			kill(pid, SIGKILL);
			if (k < 0)
				snprintf(err, errlen, "cannot wait for libnftables: %s", strerror(e));
			else
				snprintf(err, errlen, "libnftables did not answer in %d s", RUN_TIMEOUT_MS / 1000);
			r = -e;
			break;
		}
		n = read(p[0], room ? err + got : sink, room ? errlen - got - 1 : sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			got += (size_t)n;
	}
	if (!r)
		err[got] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	sigaction(SIGCHLD, &old, NULL);
	if (r < 0)
		return r;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	err[strcspn(err, "\n")] = '\0';
	if (!err[0])
		snprintf(err, errlen, "libnftables failed (status %#x)", status);
	if (strstr(err, "No such file or directory"))
		return -ENOENT;
	if (strstr(err, "File exists"))
		return -EEXIST;
	if (strstr(err, "Operation not permitted"))
		return -EPERM;
	return -EIO;
}

/* the lock; one of that name there already is an error unless may_exist (then 0; 1: made) */
static int make(const char *name, const struct md_net_conn *c, size_t n, bool may_exist)
{
	char err[256];
	char *cmds;
	int r;

	if (!md_net_lock_name_valid(name))
		return log_err(-EINVAL, "bad network lock name '%s'", name);
	cmds = netlock_script(name, c, n);
	if (!cmds)
		return log_err(-ENOMEM, "cannot lock the network");
	r = run(cmds, err, sizeof(err));
	free(cmds);
	if (r == -EEXIST && may_exist) {
		log_debug("network lock inet %s: there already", name);
		return 0;
	}
	if (r < 0)
		return log_err(r, "cannot lock the TCP connections' packets (nftables table inet %s): %s", name, err);
	log_debug("network lock inet %s: %zu connection(s)", name, n);
	return 1;
}

int netlock_add(const char *name, const struct md_net_conn *c, size_t n)
{
	int r = make(name, c, n, false);

	return r < 0 ? r : 0;
}

int netlock_keep(const char *name, const struct md_net_conn *c, size_t n)
{
	return make(name, c, n, true);
}

int netlock_remove(const char *name)
{
	char cmd[MD_NET_LOCK_NAME_MAX + 32], err[256];
	int r;

	if (!md_net_lock_name_valid(name))
		return log_err(-EINVAL, "bad network lock name '%s'", name);
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", name);
	r = run(cmd, err, sizeof(err));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_err(r, "cannot remove the network lock (nftables table inet %s): %s", name, err);
	log_debug("network lock inet %s removed", name);
	return 0;
}

int netlock_probe(void)
{
	char name[MD_NET_LOCK_NAME_MAX], err[256], *cmds;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	netlock_name(name, sizeof(name), getpid(), (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
	cmds = netlock_script(name, NULL, 0);
	if (!cmds)
		return -ENOMEM;
	r = run(cmds, err, sizeof(err));
	free(cmds);
	if (r < 0) {
		log_debug("network lock probe: %s", err);
		return 0;
	}
	r = netlock_remove(name);
	return r < 0 ? r : 1;
}
