"""fifo_tree: a dumpee holding named pipes (FIFOs), for test/e2e/run.sh.

DIR/f1 open read-write (a daemon holding its own FIFO) with LEN bytes written into it and not
read, and open once more read-only and non-blocking (a second description); DIR/f2 open
read-only and non-blocking with no writer yet. Writes "READY" to STATUS and waits for
STATUS.go; then checks f1's bytes (every one, and no more), the fds' flags, that f2 polls
neither readable nor hung up, writes "WAITF2" and reads "hello" from f2, which a writer
outside opens then. Writes "OK" or "FAIL: ..." to STATUS.

With "lone" it holds DIR/f3 open for writing only, with bytes in it that no reader took: a
dump must refuse that.

Usage: python3 fifo_tree.py DIR STATUS [lone]
"""
import fcntl
import os
import select
import sys
import time

os.closerange(3, 65536)  # an inherited pipe would make us undumpable
LEN = 1000


def status(s):
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(s + "\n")
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])


def main():
    d, st = sys.argv[1:3]
    data = bytes((i * 13 + 5) % 256 for i in range(LEN))
    rw = os.open(d + "/f1", os.O_RDWR)
    os.write(rw, data)
    ro = os.open(d + "/f1", os.O_RDONLY | os.O_NONBLOCK)
    r2 = os.open(d + "/f2", os.O_RDONLY | os.O_NONBLOCK)
    if sys.argv[3:] == ["lone"]:
        rd = os.open(d + "/f3", os.O_RDONLY | os.O_NONBLOCK)
        wr = os.open(d + "/f3", os.O_WRONLY)
        os.write(wr, b"nobody reads this")
        os.close(rd)
    status("READY")
    while not os.path.exists(st + ".go"):
        time.sleep(0.05)
    if fcntl.fcntl(rw, fcntl.F_GETFL) & (os.O_ACCMODE | os.O_NONBLOCK) != os.O_RDWR:
        return status("FAIL: f1 read-write fd has flags %#x" % fcntl.fcntl(rw, fcntl.F_GETFL))
    if fcntl.fcntl(ro, fcntl.F_GETFL) & (os.O_ACCMODE | os.O_NONBLOCK) != os.O_RDONLY | os.O_NONBLOCK:
        return status("FAIL: f1 read-only fd has flags %#x" % fcntl.fcntl(ro, fcntl.F_GETFL))
    try:
        got = os.read(ro, 2 * LEN)
    except BlockingIOError:
        got = b""
    if got != data:
        return status("FAIL: f1 gave %d bytes, not its %d" % (len(got), LEN))
    try:
        more = os.read(ro, 1)
        return status("FAIL: f1 has %d bytes more" % len(more))
    except BlockingIOError:
        pass
    # no writer has come to f2 yet: no hangup either (a reader that saw none does not see one)
    po = select.poll()
    po.register(r2, select.POLLIN)
    if po.poll(0):
        return status("FAIL: f2 polls %r before any writer came" % po.poll(0))
    status("WAITF2")
    got = b""
    deadline = time.time() + 20
    while not got.endswith(b"hello\n") and time.time() < deadline:
        select.select([r2], [], [], 1)
        try:
            got += os.read(r2, 100)
        except BlockingIOError:
            pass
    if got != b"hello\n":
        return status("FAIL: f2 gave %r" % got)
    status("OK")


main()
