"""many_fds: a dumpee with thousands of fds, for test/e2e/run.sh.

Restore hands a process its fds in batches, each fd landing at the lowest free number: this
lays them out to test every way that can go. Past 0-2:
- 3..1502: 750 socket pairs, close-on-exec in runs of 1 to 9 fds (a batch ends at each change);
- 1503..1599 free (filled and emptied again by restore);
- 1600..2799: pipes, eventfds, and a file opened three times with two dups of one open, one
  in every 7 numbers left free;
- an epoll fd at 2800 watching one end of each socket pair, a pipe and an eventfd;
- a pipe's read end at the limit of fds - 2 (far past the rest: restore sends it alone).
A child forked then closes every fd from 1600 on but the epoll fd and the pipe past the gap.

Writes "READY" to STATUS (and the child to STATUS.child) and waits for STATUS.go; then checks
that each has exactly the fds it had, with their close-on-exec flags, that each socket still
talks to its own peer, each pipe end to its own, each eventfd holds its count, the file's
descriptions and dups share offsets as before, and the epoll fd reports exactly the sockets
written to. Writes "OK" or "FAIL: ..." to STATUS (and STATUS.child).

Writes "SKIP: ..." to STATUS where the hard limit of fds is below 10000.

Usage: python3 many_fds.py FILE STATUS
"""
import fcntl
import os
import resource
import select
import socket
import sys
import time

os.closerange(3, 1 << 20)


def status(path, s):
    with open(path + ".tmp", "w") as f:
        f.write(s + "\n")
    os.rename(path + ".tmp", path)


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def place(fd, want, cloexec, fds):
    """fd moved to number want, close-on-exec or not; recorded in fds"""
    check(want not in fds, "fd %d placed twice" % want)
    if fd != want:
        os.dup2(fd, want, inheritable=not cloexec)
        os.close(fd)
    else:
        os.set_inheritable(want, not cloexec)
    fds[want] = cloexec


def cloexec_at(n):
    """runs of 1, 2, ... 9 numbers, alternately close-on-exec and not"""
    run = 1
    while n >= run:
        n -= run
        run = run % 9 + 1
    return run % 2 == 0


def build(path, far):
    fds = {fd: False for fd in (0, 1, 2)}
    socks = []  # (a, b): one pair at two numbers next to each other
    # the lowest free numbers are taken by what is made here: each goes up here first
    made = [far - 5000]

    def staged(fd):
        made[0] += 1
        os.dup2(fd, made[0], inheritable=False)
        os.close(fd)
        return made[0]

    for i in range(750):
        a, b = socket.socketpair()
        fa, fb = staged(a.detach()), staged(b.detach())
        socks.append((3 + 2 * i, 4 + 2 * i))
        place(fa, 3 + 2 * i, cloexec_at(2 * i), fds)
        place(fb, 4 + 2 * i, cloexec_at(2 * i + 1), fds)
    pipes, events, files = [], [], []
    n = 1600
    fo = []
    for k in range(3):
        fo.append(staged(os.open(path, os.O_RDWR)))
    kinds = ["pipe", "event", "file"]
    while n < 2800:
        if n % 7 == 3:
            n += 1
            continue
        kind = kinds[(n // 11) % 3]
        if kind == "pipe" and n + 1 < 2800 and (n + 1) % 7 != 3:
            r, w = os.pipe()
            r, w = staged(r), staged(w)
            place(r, n, cloexec_at(n), fds)
            place(w, n + 1, cloexec_at(n + 1), fds)
            pipes.append((n, n + 1))
            n += 2
        elif kind == "event":
            place(staged(os.eventfd(n)), n, cloexec_at(n), fds)
            events.append(n)
            n += 1
        else:
            place(staged(os.dup(fo[n % 3])), n, cloexec_at(n), fds)
            files.append((n, n % 3))
            n += 1
    ep = select.epoll()
    efd = staged(os.dup(ep.fileno()))
    ep.close()
    place(efd, 2800, True, fds)
    for a, _ in socks:
        epoll_add(2800, a)
    epoll_add(2800, pipes[0][0])
    epoll_add(2800, events[0])
    r, w = os.pipe()
    place(staged(r), far, False, fds)
    place(staged(w), far - 1, True, fds)
    for k in range(3):
        os.close(fo[k])
    # offsets: each description of the file somewhere of its own
    for n, k in files:
        os.lseek(n, 100 * (k + 1), os.SEEK_SET)
    os.write(pipes[0][1], b"p")
    return fds, socks, pipes, events, files


def epoll_add(efd, fd):
    """fd watched for input by epoll fd efd, with fd's number as its data"""
    ep = select.epoll.fromfd(os.dup(efd))
    try:
        ep.register(fd, select.EPOLLIN)
    finally:
        ep.close()


def open_fds():
    """what /proc/self/fd lists, less the fd listing it took"""
    got = set()
    for x in os.listdir("/proc/self/fd"):
        try:
            fcntl.fcntl(int(x), fcntl.F_GETFD)
            got.add(int(x))
        except OSError:
            pass
    return got


def check_table(fds):
    got = open_fds()
    check(got == set(fds), "fds missing %s, extra %s" % (sorted(set(fds) - got)[:10], sorted(got - set(fds))[:10]))
    for fd, cloexec in fds.items():
        flag = bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
        check(flag == cloexec, "fd %d close-on-exec %s, not %s" % (fd, flag, cloexec))


def check_all(fds, socks, pipes, events, files):
    check_table(fds)
    for a, b in socks:
        os.write(a, b"%d" % a)
        check(os.read(b, 100) == b"%d" % a, "socket %d does not reach %d" % (a, b))
    # what epoll sees: every third socket's peer writes to it; the pipe and the eventfd are readable
    for a, b in socks[::3]:
        os.write(b, b"w")
    ep = select.epoll.fromfd(os.dup(2800))
    got = {fd for fd, ev in ep.poll(0, 4000)}
    ep.close()
    want = {a for a, _ in socks[::3]} | {pipes[0][0], events[0]}
    check(got == want, "epoll: missing %s, extra %s" % (sorted(want - got)[:10], sorted(got - want)[:10]))
    check(os.read(pipes[0][0], 10) == b"p", "the pipe lost its byte")
    for r, w in pipes:
        os.write(w, b"%d" % r)
        check(os.read(r, 100) == b"%d" % r, "pipe %d does not reach %d" % (w, r))
    for n in events:
        check(os.eventfd_read(n) == n, "eventfd %d lost its count" % n)
    for n, k in files:
        check(os.lseek(n, 0, os.SEEK_CUR) == 100 * (k + 1), "fd %d is not at its description's offset" % n)
    # dups share an offset: move one, all of its description move
    first = {}
    for n, k in files:
        first.setdefault(k, n)
    os.lseek(first[0], 7, os.SEEK_SET)
    for n, k in files:
        check((os.lseek(n, 0, os.SEEK_CUR) == 7) == (k == 0), "fd %d does not share fd %d's offset as it did"
              % (n, first[0]))


def main():
    path, st = sys.argv[1:3]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 10000:
        return status(st, "SKIP: the hard limit of fds is %d, below 10000" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    far = min(hard, 1 << 20) - 2
    fds, socks, pipes, events, files = build(path, far)
    pid = os.fork()
    if pid == 0:
        mine = {fd: c for fd, c in fds.items() if fd < 1600 or fd in (2800, far)}
        for fd in fds:
            if fd not in mine:
                os.close(fd)
        status(st + ".child", "READY")
        while not os.path.exists(st + ".go"):
            time.sleep(0.05)
        try:
            check_table(mine)
            status(st + ".child", "OK")
        except (Failed, OSError) as e:
            status(st + ".child", "FAIL: %s" % e)
        os._exit(0)
    while not os.path.exists(st + ".child"):
        time.sleep(0.05)
    status(st, "READY %d" % pid)
    while not os.path.exists(st + ".go"):
        time.sleep(0.05)
    try:
        check_all(fds, socks, pipes, events, files)
        status(st, "OK")
    except (Failed, OSError) as e:
        status(st, "FAIL: %s" % e)
    os.waitpid(pid, 0)


main()
