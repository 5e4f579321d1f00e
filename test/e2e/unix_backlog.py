"""unix_backlog: unix listeners with a connection they have not accepted, for
test/e2e/run.sh.

listener NAME STATUS [closed]: listens on the abstract NAME and writes "LISTENING" to STATUS.
With closed, connects to itself and closes that socket at once. Once a connection waits (the
listener polls readable) it writes "READY PID" to STATUS and waits for STATUS.go; then it
accepts one connection, sends b"ok" and reads to EOF: it writes "OK" if it read what the
client sent (closed: nothing), else "FAIL: ...".

client NAME OUT: connects to NAME and writes "CONNECTED PID" to OUT, then reads what the
listener sends, sends b"hi" and closes: "OK <bytes read>" to OUT.

tree NAME STATUS: the listener with SO_PASSCRED, and a child of it that drops to uid and gid
65534 and connects: one tree, which memdump keeps with the connection waiting. After
STATUS.go the listener accepts it: it must name the child's uid and gid (SO_PEERCRED) and
have SO_PASSCRED, as a socket accept()ed before the dump would; then as above.
"""
import os
import select
import socket
import struct
import sys

from e2eutil import wait_file, write

os.closerange(3, 65536)  # an inherited pipe would make the dumpee undumpable


def accept_on_go(ls, status):
    """once a connection waits in ls: "READY PID", then on STATUS.go the connection accepted"""
    if not select.select([ls], [], [], 30)[0]:
        write(status, "FAIL: no connection came")
        return None
    write(status, "READY %d" % os.getpid())
    if not wait_file(status + ".go", 120):
        write(status, "FAIL: no go")
        return None
    ls.settimeout(10)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        write(status, "FAIL: nothing to accept")
        return None
    c.settimeout(10)
    return c


def listener(name, status, closed):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind("\0" + name)
    ls.listen(4)
    write(status, "LISTENING")
    if closed:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect("\0" + name)
        c.close()
    c = accept_on_go(ls, status)
    if c is None:
        return 1
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


def tree(name, status):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    ls.bind("\0" + name)
    ls.listen(4)
    pid = os.fork()
    if pid == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect("\0" + name)
        got = c.recv(16)
        c.sendall(b"hi" if got == b"ok" else b"??")
        os._exit(0)
    c = accept_on_go(ls, status)
    if c is None:
        return 1
    _, uid, gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    passcred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED)
    c.sendall(b"ok")
    got = c.recv(16)
    os.waitpid(pid, 0)
    if (uid, gid) != (65534, 65534):
        write(status, "FAIL: the connection names uid %d gid %d, not the child's 65534" % (uid, gid))
    elif not passcred:
        write(status, "FAIL: the accepted socket has not the listener's SO_PASSCRED")
    elif got != b"hi":
        write(status, "FAIL: read %r from the child" % got)
    else:
        write(status, "OK")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "tree":
        sys.exit(tree(sys.argv[2], sys.argv[3]))
    if sys.argv[1] == "listener":
        sys.exit(listener(sys.argv[2], sys.argv[3], len(sys.argv) > 4 and sys.argv[4] == "closed"))
    sys.exit(client(sys.argv[2], sys.argv[3]))
