/*
 * dumpee_pty: pseudo-terminals across a dump and restore, for
 * test/e2e/run.sh.
 *
 *   dumpee_pty [-m wait|selftest|corrupt] [-c WHAT] STATUS
 *
 * The root R holds the masters of three ptys:
 *   A  the controlling terminal of a session: R's child C calls setsid()
 *      and opens A's slave (taking it as its terminal), forks G, which
 *      inherits it, makes a group of its own, opens /dev/tty and is made
 *      the foreground group by C. Its termios: no echo, VERASE ^H, 9600
 *      baud; window 40x132; the slave owned by 65534:5, mode 0620. R also
 *      holds a second, non-blocking description of the slave.
 *   B  hung up: its slave was opened and closed again, B's master reads EIO.
 *   L  still locked (no unlockpt()), in packet mode.
 * It writes "READY PID" to STATUS and waits for SIGUSR1 (wait mode), then
 * checks: the same indexes, termios and window size; L locked and in
 * packet mode; B's master reading EIO; the non-blocking slave (opened by
 * TIOCGPTPEER with O_CLOEXEC, then not close-on-exec); the slave's owner
 * and mode; from
 * /proc, C leading its session with A as terminal, G in it with A too,
 * and G's group the foreground one. Then through A's master: a line
 * written reaches G, which answers it; Ctrl-C reaches G as SIGINT; G
 * answers "tty" through its /dev/tty fd. Verdict
 * "OK" or "FAIL: what" in STATUS; exit 0 or 1.
 *
 * -m selftest: the same without a dump. -m corrupt -c WHAT breaks one
 * thing first (winsize; fg: G gives the foreground to C's group; hup: B's
 * slave opened again; lock: L unlocked), so the test can see the check fail.
 */
#define DUMPEE_NAME "dumpee_pty"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "dumpee.h"

#define FD_DEVTTY 5		/* G's fd on /dev/tty */
#define SLAVE_UID 65534		/* A's slave's owner and mode, as a login gives them */
#define SLAVE_GID 5
#define SLAVE_MODE 0620

static volatile sig_atomic_t go;
static int m_a, m_b, m_l, s_nb;
static int idx_a, idx_b, idx_l;
static struct termios tio_a;
static struct winsize ws_a = { .ws_row = 40, .ws_col = 132 };
static pid_t pid_c, pid_g;

static void on_usr1(int sig)
{
	go = 1;
}

/* answered from the handler: a flag would miss a SIGINT between two read()s */
static void on_int(int sig)
{
	int e = errno;

	if (write(1, "sigint\n", 7) < 0)
		_exit(5);
	errno = e;
}

static int index_of(int master)
{
	int n = -1;

	if (ioctl(master, TIOCGPTN, &n) < 0)
		die_setup("TIOCGPTN");
	return n;
}

static int new_master(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0)
		die_setup("posix_openpt");
	return m;
}

/* G: reads lines from its terminal, answers each; a SIGINT it answers with "sigint" */
static void g_main(int ready)
{
	struct sigaction sa = { .sa_handler = on_int, .sa_flags = SA_RESTART };
	char line[128];
	int t;

	sigaction(SIGINT, &sa, NULL);
	if (setpgid(0, 0) < 0)
		die_setup("setpgid");
	/* our terminal by its other name, at fd 5 */
	t = open("/dev/tty", O_RDWR);
	if (t < 0 || (t != FD_DEVTTY && (dup2(t, FD_DEVTTY) < 0 || close(t) < 0)))
		die_setup("/dev/tty");
	put_byte(ready);
	close(ready);
	/* reading before C made us the foreground group would stop us (SIGTTIN) */
	while (tcgetpgrp(0) != getpid())
		usleep(1000);
	for (;;) {
		ssize_t n = read(0, line, sizeof(line) - 1);
		char out[160];

		if (n <= 0)
			_exit(3);
		line[n] = 0;
		if (!strcmp(line, "quit\n"))
			_exit(0);
		if (!strcmp(line, "fg\n"))	/* -c fg: the session leader's group takes the foreground */
			tcsetpgrp(0, getsid(0));
		snprintf(out, sizeof(out), "pong %s", line);
		/* "tty": answered through /dev/tty */
		if (write(strcmp(line, "tty\n") ? 1 : FD_DEVTTY, out, strlen(out)) < 0)
			_exit(4);
	}
}

/* C: leads a session with A's slave as terminal, G's group in the foreground */
static void c_main(const char *slave, int ready)
{
	int p[2], s;
	struct termios t;

	if (setsid() < 0)
		die_setup("setsid");
	s = open(slave, O_RDWR);	/* no O_NOCTTY: our terminal now */
	if (s < 0)
		die_setup("open slave");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(s, fd) < 0)
			die_setup("dup2");
	close(s);
	if (tcgetattr(0, &t) < 0)
		die_setup("tcgetattr");
	t.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_cc[VERASE] = 8;
	cfsetispeed(&t, B9600);
	cfsetospeed(&t, B9600);
	if (tcsetattr(0, TCSANOW, &t) < 0 || ioctl(0, TIOCSWINSZ, &ws_a) < 0)
		die_setup("termios");
	if (pipe(p) < 0)
		die_setup("pipe");
	pid_g = fork();
	if (pid_g < 0)
		die_setup("fork");
	if (!pid_g) {
		close(p[0]);
		close(ready);
		g_main(p[1]);
	}
	close(p[1]);
	wait_byte(p[0]);
	close(p[0]);
	if (tcsetpgrp(0, pid_g) < 0)
		die_setup("tcsetpgrp");
	dprintf(ready, "%d\n", pid_g);
	close(ready);
	while (waitpid(pid_g, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

static void setup(void)
{
	char slave[64];
	int p[2], s;
	char buf[32] = "";
	ssize_t n;

	m_a = new_master();
	if (grantpt(m_a) < 0 || unlockpt(m_a) < 0 || ptsname_r(m_a, slave, sizeof(slave)))
		die_setup("pty A");
	idx_a = index_of(m_a);
	if (pipe(p) < 0)
		die_setup("pipe");
	pid_c = fork();
	if (pid_c < 0)
		die_setup("fork");
	if (!pid_c) {
		close(p[0]);
		c_main(slave, p[1]);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	if (n <= 0)
		die_setup("C did not get ready");
	close(p[0]);
	pid_g = atoi(buf);
	/*
	 * As systemd opens a pty's slave: O_CLOEXEC stays among the file's own
	 * flags, whatever the fd says (here: not close-on-exec)
	 */
	s_nb = ioctl(m_a, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s_nb < 0 || fcntl(s_nb, F_SETFD, 0) < 0 || tcgetattr(m_a, &tio_a) < 0)
		die_setup("slave A");
	if (chown(slave, SLAVE_UID, SLAVE_GID) < 0 || chmod(slave, SLAVE_MODE) < 0)
		die_setup("chown slave A");

	m_b = new_master();
	if (unlockpt(m_b) < 0 || ptsname_r(m_b, slave, sizeof(slave)))
		die_setup("pty B");
	idx_b = index_of(m_b);
	s = open(slave, O_RDWR | O_NOCTTY);
	if (s < 0)
		die_setup("slave B");
	close(s);

	m_l = new_master();
	idx_l = index_of(m_l);
	if (ioctl(m_l, TIOCPKT, &(int){ 1 }) < 0)
		die_setup("TIOCPKT");
}

/* stat field n (1-based, after comm) of pid as a long */
static long stat_field(pid_t pid, int n)
{
	char path[64], buf[1024], *p;
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p)
		return -1;
	p += 2;
	for (int i = 3; i <= n && p; i++) {
		if (i == n)
			v = strtol(p, NULL, 10);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return v;
}

/* what A's master reads within 5 s, up to want bytes or a newline */
static bool read_master(char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		struct pollfd pfd = { .fd = m_a, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			break;
		n = read(m_a, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (buf[got - 1] == '\n')
			break;
	}
	buf[got] = 0;
	return got > 0;
}

static bool check(void)
{
	struct pollfd pb = { .fd = m_b, .events = POLLIN };
	struct termios t;
	struct winsize ws;
	struct stat st;
	char buf[128];
	int v = -1;
	long tty;

	if (index_of(m_a) != idx_a || index_of(m_b) != idx_b || index_of(m_l) != idx_l)
		return failf("pty indexes %d %d %d, expected %d %d %d", index_of(m_a), index_of(m_b),
			     index_of(m_l), idx_a, idx_b, idx_l);
	if (tcgetattr(m_a, &t) < 0 || memcmp(&t, &tio_a, sizeof(t)))
		return failf("termios of A changed (lflag %#x, VERASE %d, speed %u)", t.c_lflag, t.c_cc[VERASE],
			     cfgetospeed(&t));
	if (ioctl(m_a, TIOCGWINSZ, &ws) < 0 || ws.ws_row != ws_a.ws_row || ws.ws_col != ws_a.ws_col)
		return failf("window size of A: %ux%u", ws.ws_row, ws.ws_col);
	if (ioctl(m_l, TIOCGPTLCK, &v) < 0 || v != 1)
		return failf("L is not locked (%d)", v);
	if (ioctl(m_l, TIOCGPKT, &v) < 0 || v != 1)
		return failf("L is not in packet mode (%d)", v);
	if (poll(&pb, 1, 0) != 1 || !(pb.revents & POLLHUP))
		return failf("B's master is not hung up (poll %#x)", pb.revents);
	if (read(m_b, buf, 1) != -1 || errno != EIO)
		return failf("B's master reads without EIO: %s", strerror(errno));
	if ((fcntl(s_nb, F_GETFL) & O_NONBLOCK) == 0)
		return failf("the second slave fd of A lost O_NONBLOCK");
	if (fcntl(s_nb, F_GETFD) != 0)
		return failf("the second slave fd of A is close-on-exec");
	if (ptsname_r(m_a, buf, sizeof(buf)) || stat(buf, &st) < 0 || st.st_uid != SLAVE_UID ||
	    st.st_gid != SLAVE_GID || (st.st_mode & 07777) != SLAVE_MODE)
		return failf("A's slave %s is %u:%u mode %#o, expected %u:%u %#o", buf, st.st_uid, st.st_gid,
			     st.st_mode & 07777, SLAVE_UID, SLAVE_GID, SLAVE_MODE);
	if (fstat(s_nb, &st) < 0 || major(st.st_rdev) < 136 || minor(st.st_rdev) != (unsigned)idx_a % 256)
		return failf("the second slave fd of A is not on /dev/pts/%d", idx_a);
	tty = (long)((minor(st.st_rdev) & 0xff) | (major(st.st_rdev) << 8) | ((minor(st.st_rdev) & ~0xffu) << 12));
	if (stat_field(pid_c, 6) != pid_c || stat_field(pid_c, 7) != tty)
		return failf("C: session %ld, terminal %#lx; expected %d, %#lx", stat_field(pid_c, 6),
			     stat_field(pid_c, 7), pid_c, tty);
	if (stat_field(pid_g, 6) != pid_c || stat_field(pid_g, 5) != pid_g || stat_field(pid_g, 7) != tty)
		return failf("G: session %ld, group %ld, terminal %#lx", stat_field(pid_g, 6), stat_field(pid_g, 5),
			     stat_field(pid_g, 7));
	if (stat_field(pid_c, 8) != pid_g)
		return failf("foreground group of A: %ld, expected %d", stat_field(pid_c, 8), pid_g);
	if (write(m_a, "ping\n", 5) != 5 || !read_master(buf, sizeof(buf)) || strcmp(buf, "pong ping\r\n"))
		return failf("G answered '%s' to ping", buf);
	if (write(m_a, "\003", 1) != 1 || !read_master(buf, sizeof(buf)) || strcmp(buf, "sigint\r\n"))
		return failf("G answered '%s' to Ctrl-C", buf);
	if (write(m_a, "tty\n", 4) != 4 || !read_master(buf, sizeof(buf)) || strcmp(buf, "pong tty\r\n"))
		return failf("G answered '%s' through /dev/tty", buf);
	if (write(m_a, "quit\n", 5) != 5 || waitpid(pid_c, &v, 0) != pid_c || v != 0)
		return failf("C and G did not end well (%#x)", v);
	return true;
}

static void corrupt_it(const char *what)
{
	char slave[64];

	if (!strcmp(what, "winsize")) {
		struct winsize ws = { .ws_row = 24, .ws_col = 80 };

		ioctl(m_a, TIOCSWINSZ, &ws);
	} else if (!strcmp(what, "fg")) {
		char buf[64];

		if (write(m_a, "fg\n", 3) == 3)
			read_master(buf, sizeof(buf));
	} else if (!strcmp(what, "hup")) {
		if (!ptsname_r(m_b, slave, sizeof(slave)))
			open(slave, O_RDWR | O_NOCTTY);
	} else if (!strcmp(what, "lock")) {
		unlockpt(m_l);
	} else {
		fprintf(stderr, DUMPEE_NAME ": no corruption '%s'\n", what);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = NULL;
	char line[600];
	bool ok;
	int c;

	while ((c = getopt(argc, argv, "m:c:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1)
		return fprintf(stderr, "usage: dumpee_pty [-m wait|selftest|corrupt] [-c WHAT] STATUS\n"), 2;
	status_path = argv[optind];
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);
	setup();
	if (!strcmp(mode, "wait")) {
		snprintf(line, sizeof(line), "READY %d", getpid());
		write_status(line);
		while (!go)
			pause();
	} else if (!strcmp(mode, "corrupt")) {
		corrupt_it(what ? what : "");
	}
	ok = check();
	if (!ok) {
		kill(pid_g, SIGKILL);
		kill(pid_c, SIGKILL);
		while (wait(NULL) > 0)
			;
	}
	snprintf(line, sizeof(line), "FAIL: %s", failure);
	write_status(ok ? "OK" : line);
	return ok ? 0 : 1;
}
