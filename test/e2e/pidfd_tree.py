"""pidfd_tree: a dumpee holding pidfds, for test/e2e/run.sh.

The root forks B (waits for SIGTERM, exits 9), then A (waits for SIGTERM, exits 7), Z (exits 5
at once, never reaped before the dump: a zombie) and G (exits and is reaped: gone). The root
holds pidfds on A (and a dup of it), B (PIDFD_NONBLOCK), itself, Z and G, and an epoll fd
watching A's and Z's; A holds pidfds on B and on the root. Writes "READY A B Z" to STATUS and
waits for STATUS.go; then checks that each pidfd names its process (fdinfo), keeps its flags
and description, polls as its process is (Z's and G's readable, the others not), that G's
cannot signal, that waitid() through Z's gives its status, through B's (non-blocking) EAGAIN;
A checks its own and writes OK to STATUS.child. Then it ends A and B through their pidfds and
reaps them through the same. Writes "OK" or "FAIL: ..." to STATUS.

With "outside PID" it holds a pidfd on PID, with "thread" one on a thread of its own
(PIDFD_THREAD): a dump must refuse both.

Usage: python3 pidfd_tree.py STATUS [outside PID | thread]
"""
import fcntl
import os
import select
import signal
import sys
import threading
import time

from e2eutil import write

os.closerange(3, 65536)  # an inherited pipe would make us undumpable


def fdinfo_pid(fd):
    """the "Pid:" line of fd's fdinfo"""
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    return None


def wait_go(st):
    while not os.path.exists(st + ".go"):
        time.sleep(0.05)


def waiter(code):
    """a child that waits for SIGTERM, then exits with code"""
    signal.sigwait([signal.SIGTERM])
    os._exit(code)


def child_a(st, b):
    pb = os.pidfd_open(b)
    pp = os.pidfd_open(os.getppid())
    wait_go(st)
    got = (fdinfo_pid(pb), fdinfo_pid(pp))
    if got != (b, os.getppid()):
        write(st + ".child", "FAIL: A's pidfds name %s, not %s" % (got, (b, os.getppid())))
    elif select.select([pb, pp], [], [], 0)[0]:
        write(st + ".child", "FAIL: A's pidfds poll readable with B and the root alive")
    else:
        write(st + ".child", "OK")
    waiter(7)


def check(st, pids, fds, ep):
    a, b, z = pids
    pa, pa2, pb, pself, pz, pg = fds
    want = {pa: a, pa2: a, pb: b, pself: os.getpid(), pz: z, pg: -1}
    for fd, pid in want.items():
        if fdinfo_pid(fd) != pid:
            return "fd %d names %s, not %d" % (fd, fdinfo_pid(fd), pid)
    for fd in want:
        nonblock = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        if bool(nonblock) != (fd == pb):
            return "fd %d has flags %#o" % (fd, fcntl.fcntl(fd, fcntl.F_GETFL))
    # one description for pa and its dup, its own for each other
    fcntl.fcntl(pa2, fcntl.F_SETFL, os.O_NONBLOCK)
    shared = fcntl.fcntl(pa, fcntl.F_GETFL) & os.O_NONBLOCK
    fcntl.fcntl(pa2, fcntl.F_SETFL, 0)
    if not shared:
        return "fd %d and its dup %d have two descriptions" % (pa, pa2)
    ready = sorted(fd for fd, _ in ep.poll(0))
    if ready != [pz]:
        return "the epoll fd has %s ready, not Z's %d" % (ready, pz)
    ep.unregister(pz)
    ready = sorted(select.select(list(want), [], [], 0)[0])
    if ready != sorted([pz, pg]):
        return "%s poll readable, not Z's and G's %s" % (ready, sorted([pz, pg]))
    try:
        signal.pidfd_send_signal(pg, 0)
        return "G's pidfd could signal"
    except ProcessLookupError:
        pass
    try:
        os.waitid(os.P_PIDFD, pb, os.WEXITED)
        return "waitid() through B's non-blocking pidfd did not return EAGAIN"
    except BlockingIOError:
        pass
    r = os.waitid(os.P_PIDFD, pz, os.WEXITED)
    if (r.si_pid, r.si_code, r.si_status) != (z, os.CLD_EXITED, 5):
        return "Z's pidfd waited for %s" % (r,)
    for _ in range(2000):
        if os.path.exists(st + ".child"):
            break
        time.sleep(0.01)
    with open(st + ".child") as f:
        res = f.read().strip()
    if res != "OK":
        return "A: " + res
    signal.pidfd_send_signal(pa, signal.SIGTERM)
    ready = [fd for fd, _ in ep.poll(10)]
    if ready != [pa]:
        return "the epoll fd has %s ready once A was ended, not %d" % (ready, pa)
    r = os.waitid(os.P_PIDFD, pa, os.WEXITED)
    if (r.si_pid, r.si_status) != (a, 7):
        return "A's pidfd waited for %s" % (r,)
    signal.pidfd_send_signal(pb, signal.SIGTERM)
    select.select([pb], [], [], 10)
    r = os.waitid(os.P_PIDFD, pb, os.WEXITED)
    if (r.si_pid, r.si_status) != (b, 9):
        return "B's pidfd waited for %s" % (r,)
    return "OK"


def main():
    st = sys.argv[1]
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    keep = []
    if sys.argv[2:3] == ["outside"]:
        keep.append(os.pidfd_open(int(sys.argv[3])))
    elif sys.argv[2:] == ["thread"]:
        ev = threading.Event()
        t = threading.Thread(target=ev.wait, daemon=True)
        t.start()
        keep.append(os.pidfd_open(t.native_id, os.O_EXCL))  # PIDFD_THREAD
    b = os.fork()
    if not b:
        waiter(9)
    a = os.fork()
    if not a:
        child_a(st, b)
    z = os.fork()
    if not z:
        os._exit(5)
    g = os.fork()
    if not g:
        os._exit(0)
    pg = os.pidfd_open(g)
    os.waitpid(g, 0)
    pa = os.pidfd_open(a)
    fds = (pa, os.dup(pa), os.pidfd_open(b, os.O_NONBLOCK), os.pidfd_open(os.getpid()), os.pidfd_open(z), pg)
    ep = select.epoll()
    ep.register(pa, select.EPOLLIN)
    ep.register(fds[4], select.EPOLLIN)
    write(st, "READY %d %d %d" % (a, b, z))
    wait_go(st)
    write(st, check(st, (a, b, z), fds, ep))


if __name__ == "__main__":
    main()
