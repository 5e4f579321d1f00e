"""unix_backlog: a unix listener with a connection it has not accepted, which memdump cannot
bring back with the listener, for test/e2e/run.sh.

listener NAME STATUS [closed]: listens on the abstract NAME. With closed, connects to itself
and closes that socket at once. Once a connection waits (the listener polls readable) it
writes "READY PID" to STATUS and waits for STATUS.go; then it accepts one connection,
sends b"ok" and reads to EOF: it writes "OK" if it read what the client sent (closed:
nothing), else "FAIL: ...".

client NAME OUT: connects to NAME and writes "CONNECTED PID" to OUT, then reads what the
listener sends, sends b"hi" and closes: "OK <bytes read>" to OUT.
"""
import os
import select
import socket
import sys

from e2eutil import wait_file, write

os.closerange(3, 65536)  # an inherited pipe would make the dumpee undumpable


def listener(name, status, closed):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind("\0" + name)
    ls.listen(4)
    if closed:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect("\0" + name)
        c.close()
    if not select.select([ls], [], [], 30)[0]:
        write(status, "FAIL: no connection came")
        return 1
    write(status, "READY %d" % os.getpid())
    if not wait_file(status + ".go", 120):
        write(status, "FAIL: no go")
        return 1
    ls.settimeout(10)
    c, _ = ls.accept()
    c.settimeout(10)
    got = b""
    try:
        c.sendall(b"ok")
    except BrokenPipeError:
        pass
    while True:
        b = c.recv(16)
        if not b:
            break
        got += b
    want = b"" if closed else b"hi"
    write(status, "OK" if got == want else "FAIL: read %r, expected %r" % (got, want))
    return 0


def client(name, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + name)
    write(out, "CONNECTED %d" % os.getpid())
    s.settimeout(120)
    got = s.recv(16)
    s.sendall(b"hi")
    s.close()
    write(out, "OK %r" % got)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "listener":
        sys.exit(listener(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "closed"))
    sys.exit(client(sys.argv[2], sys.argv[3]))
