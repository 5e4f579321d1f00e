"""pidfd_tree: a dumpee holding pidfds, for test/e2e/run.sh.

The root forks B (waits for SIGTERM, exits 9), then A (waits for SIGTERM, exits 7), Z (exits 5
at once, never reaped before the dump: a zombie), G (exits 3 and is reaped: gone) and K
(killed by SIGTERM and reaped). The root holds pidfds on A (and a dup of it), B (one
PIDFD_NONBLOCK, one A inherits), itself, Z, G (two descriptions, one O_NONBLOCK) and K, and
an epoll fd watching A's and Z's; A holds pidfds on B (O_APPEND set) and on the root.

It writes "READY A B Z" to STATUS and waits for STATUS.go; then checks that each pidfd names
its process (fdinfo), keeps its flags and description, polls as its process is (Z's, G's and
K's readable, the others not), that G's cannot signal and both name one process, K's
another, with their wait status where the kernel tells it (PIDFD_INFO_EXIT), that waitid()
through Z's gives its status, through B's (non-blocking) EAGAIN; A checks its own, sets
O_APPEND on the pidfd it inherited and writes OK to STATUS.child. Then it ends A and B
through their pidfds and reaps them through the same. Writes "OK" or "FAIL: ..." to STATUS.

With "outside PID" it holds a pidfd on PID, with "thread" one on a thread of its own
(PIDFD_THREAD): a dump must refuse both.

Usage: python3 pidfd_tree.py STATUS [outside PID | thread]
"""
import fcntl
import os
import select
import signal
import struct
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


PIDFD_GET_INFO = 0xC040FF0B  # _IOWR(0xFF, 11, 64 bytes: struct pidfd_info, its first version)
PIDFD_INFO_EXIT = 8


def exit_info(fd):
    """the wait status PIDFD_GET_INFO tells of fd's process (reaped), or None if it does not"""
    buf = bytearray(64)
    struct.pack_into("Q", buf, 0, PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(fd, PIDFD_GET_INFO, buf)
    except OSError:
        return None
    mask, = struct.unpack_from("Q", buf, 0)
    return struct.unpack_from("i", buf, 60)[0] if mask & PIDFD_INFO_EXIT else None


def wait_go(st):
    while not os.path.exists(st + ".go"):
        time.sleep(0.05)


def waiter(code):
    """a child that waits for SIGTERM, then exits with code"""
    signal.sigwait([signal.SIGTERM])
    os._exit(code)


def child_a(st, b, inherited):
    pb = os.pidfd_open(b)
    fcntl.fcntl(pb, fcntl.F_SETFL, os.O_APPEND)
    pp = os.pidfd_open(os.getppid())
    wait_go(st)
    got = (fdinfo_pid(pb), fdinfo_pid(pp), fdinfo_pid(inherited))
    flags = fcntl.fcntl(pb, fcntl.F_GETFL) & (os.O_APPEND | os.O_NONBLOCK)
    if got != (b, os.getppid(), b):
        write(st + ".child", "FAIL: A's pidfds name %s, not %s" % (got, (b, os.getppid(), b)))
    elif flags != os.O_APPEND:
        write(st + ".child", "FAIL: A's pidfd on B has flags %#o" % fcntl.fcntl(pb, fcntl.F_GETFL))
    elif select.select([pb, pp, inherited], [], [], 0)[0]:
        write(st + ".child", "FAIL: A's pidfds poll readable with B and the root alive")
    else:
        # the root looks for it on its own fd: one description again
        fcntl.fcntl(inherited, fcntl.F_SETFL, os.O_APPEND)
        write(st + ".child", "OK")
    waiter(7)


def check_gone(fds, exits):
    """G's two pidfds name one process gone, K's another; their wait statuses where told"""
    pg, pg2, pk = fds
    ino = [os.fstat(fd).st_ino for fd in fds]
    if ino[0] != ino[1] or ino[0] == ino[2]:
        return "G's pidfds and K's are on inodes %s" % ino
    for fd, want in zip(fds, exits):
        if want is not None and exit_info(fd) != want:
            return "fd %d tells wait status %s, not %#x" % (fd, exit_info(fd), want)
    return None


def check(st, pids, fds, ep, exits):
    a, b, z = pids
    pa, pa2, pb, pself, pz, pg, pg2, pk, pbi = fds
    want = {pa: a, pa2: a, pb: b, pself: os.getpid(), pz: z, pg: -1, pg2: -1, pk: -1, pbi: b}
    for fd, pid in want.items():
        if fdinfo_pid(fd) != pid:
            return "fd %d names %s, not %d" % (fd, fdinfo_pid(fd), pid)
    for fd in want:
        nonblock = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        if bool(nonblock) != (fd in (pb, pg2)):
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
    if ready != sorted([pz, pg, pg2, pk]):
        return "%s poll readable, not Z's, G's and K's %s" % (ready, sorted([pz, pg, pg2, pk]))
    try:
        signal.pidfd_send_signal(pg, 0)
        return "G's pidfd could signal"
    except ProcessLookupError:
        pass
    bad = check_gone((pg, pg2, pk), exits)
    if bad:
        return bad
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
    if not fcntl.fcntl(pbi, fcntl.F_GETFL) & os.O_APPEND:
        return "A's O_APPEND on the pidfd it inherited is not on the root's: two descriptions"
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
    pbi = os.pidfd_open(b)
    a = os.fork()
    if not a:
        child_a(st, b, pbi)
    z = os.fork()
    if not z:
        os._exit(5)
    g = os.fork()
    if not g:
        os._exit(3)
    gone = [os.pidfd_open(g), os.pidfd_open(g)]
    os.waitpid(g, 0)
    fcntl.fcntl(gone[1], fcntl.F_SETFL, os.O_NONBLOCK)  # on one description of two
    k = os.fork()
    if not k:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        signal.pause()
    gone.append(os.pidfd_open(k))
    os.kill(k, signal.SIGTERM)
    os.waitpid(k, 0)
    # what the kernel tells before the dump, it must tell after the restore
    exits = [exit_info(fd) for fd in gone]
    if exits[0] not in (None, 0x300) or exits[2] not in (None, signal.SIGTERM):
        return write(st, "FAIL: wait statuses %s before the dump" % exits)
    pa = os.pidfd_open(a)
    fds = (pa, os.dup(pa), os.pidfd_open(b, os.O_NONBLOCK), os.pidfd_open(os.getpid()), os.pidfd_open(z),
           *gone, pbi)
    ep = select.epoll()
    ep.register(pa, select.EPOLLIN)
    ep.register(fds[4], select.EPOLLIN)
    write(st, "READY %d %d %d" % (a, b, z))
    wait_go(st)
    write(st, check(st, (a, b, z), fds, ep, exits))


if __name__ == "__main__":
    main()
