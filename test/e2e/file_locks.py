"""file_locks: a dumpee holding file locks, and their probes, for test/e2e/run.sh.

tree DIR STATUS [lease]: makes DIR/a, b and c; takes flock(LOCK_EX) on a (a child it forks
shares that description and the lock), POSIX locks on b (write 10-109 through one fd, read
200-EOF through another; b is also mapped) and an OFD write lock on c (5-11); writes
"READY PID CHILD" to STATUS and waits for DIR/go. Then each process compares the locks its
fdinfo shows with those it took and writes "OK" or "FAIL: ..." to STATUS (the child to
STATUS.child); both keep their locks until DIR/end exists. With "lease" it also holds a read
lease on DIR/d (F_SETLEASE), which a dump must refuse.

probe DIR: from outside, every lock of the tree must be in the way: prints "LOCKED", or
"FREE <what>" for the first that was not.

hold DIR [posix]: takes flock(LOCK_EX) on DIR/a (with "posix": a POSIX write lock on byte 50
of DIR/b), creates DIR/held and keeps it until DIR/release.
"""
import errno
import fcntl
import mmap
import os
import struct
import sys

from e2eutil import wait_file, write

os.closerange(3, 65536)  # an inherited pipe would make the tree undumpable
F_OFD_SETLK = 37


def flock_struct(kind, start, length):
    return struct.pack("hhqqi", kind, os.SEEK_SET, start, length, 0)


def locks_of(fd):
    """(kind, type, start, end) of each "lock:" line of fd's fdinfo"""
    out = []
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("lock:"):
                w = line.split()
                out.append((w[2], w[4], w[7], w[8]))
    return out


def check(status, want):
    for fd, locks in want.items():
        got = locks_of(fd)
        if got != locks:
            write(status, "FAIL: fd %d holds %s, expected %s" % (fd, got, locks))
            return
    write(status, "OK")


def tree(d, status, lease):
    for n in "abc":
        with open(os.path.join(d, n), "w") as f:
            f.write("x" * 4096)
    fa = os.open(os.path.join(d, "a"), os.O_RDWR)
    fcntl.flock(fa, fcntl.LOCK_EX)
    fb = os.open(os.path.join(d, "b"), os.O_RDWR)
    fcntl.fcntl(fb, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 10, 100))
    fbr = os.open(os.path.join(d, "b"), os.O_RDONLY)
    fcntl.fcntl(fbr, fcntl.F_SETLK, flock_struct(fcntl.F_RDLCK, 200, 0))
    m = mmap.mmap(fb, 4096)
    fc = os.open(os.path.join(d, "c"), os.O_RDWR)
    fcntl.fcntl(fc, F_OFD_SETLK, flock_struct(fcntl.F_WRLCK, 5, 7))
    if lease:
        open(os.path.join(d, "d"), "w").close()
        fl = os.open(os.path.join(d, "d"), os.O_RDONLY)
        fcntl.fcntl(fl, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    child = os.fork()
    if child == 0:
        os.close(fb)
        os.close(fbr)
        os.close(fc)
        wait_file(os.path.join(d, "go"), 300)
        check(status + ".child", {fa: [("FLOCK", "WRITE", "0", "EOF")]})
        wait_file(os.path.join(d, "end"), 300)
        os._exit(0)
    write(status, "READY %d %d" % (os.getpid(), child))
    wait_file(os.path.join(d, "go"), 300)
    check(status, {fa: [("FLOCK", "WRITE", "0", "EOF")],
                   fb: [("POSIX", "WRITE", "10", "109")],
                   fbr: [("POSIX", "READ", "200", "EOF")],
                   fc: [("OFDLCK", "WRITE", "5", "11")]})
    wait_file(os.path.join(d, "end"), 300)
    os.waitpid(child, 0)
    m.close()


def probe(d):
    fa = os.open(os.path.join(d, "a"), os.O_RDWR)
    fb = os.open(os.path.join(d, "b"), os.O_RDWR)
    fc = os.open(os.path.join(d, "c"), os.O_RDWR)
    tries = [("flock on a", lambda: fcntl.flock(fa, fcntl.LOCK_SH | fcntl.LOCK_NB)),
             ("POSIX read of b 50", lambda: fcntl.fcntl(fb, fcntl.F_SETLK, flock_struct(fcntl.F_RDLCK, 50, 1))),
             ("POSIX write of b 300", lambda: fcntl.fcntl(fb, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 300, 1))),
             ("OFD read of c 11", lambda: fcntl.fcntl(fc, F_OFD_SETLK, flock_struct(fcntl.F_RDLCK, 11, 1)))]
    for what, take in tries:
        try:
            take()
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                continue
            raise
        print("FREE " + what)
        return 0
    # and what nobody locked is free
    fcntl.fcntl(fb, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 150, 10))
    print("LOCKED")
    return 0


def hold(d, posix):
    if posix:
        fb = os.open(os.path.join(d, "b"), os.O_RDWR)
        fcntl.fcntl(fb, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 50, 1))
    else:
        fa = os.open(os.path.join(d, "a"), os.O_RDWR)
        fcntl.flock(fa, fcntl.LOCK_EX)
    open(os.path.join(d, "held"), "w").close()
    wait_file(os.path.join(d, "release"), 300)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "tree":
        tree(sys.argv[2], sys.argv[3], "lease" in sys.argv[4:])
    elif sys.argv[1] == "probe":
        sys.exit(probe(sys.argv[2]))
    else:
        sys.exit(hold(sys.argv[2], "posix" in sys.argv[3:]))
