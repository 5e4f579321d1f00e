"""tcp_connecting: a dumpee caught in connect() (SYN-SENT), and its peer (test/e2e/run.sh).

peer PORTFILE GOFILE OUT [ADDRESS]: listens with a backlog of 0, which its own first
connection fills (not accepted): the kernel drops every SYN after it. Once GOFILE exists it
accepts that one, then the tree's, reads the tree's greeting, answers, and writes "OK" or
"FAIL ..." to OUT.

tree PORTFILE STATUS [ADDRESS]: connects without blocking, writes "READY PORT state S" (its
TCP state, 2: SYN-SENT) and waits in poll() for the connection, which the restore started
again; then it checks SO_ERROR, greets the peer, reads its answer and writes "OK ..." or
"FAIL ..." to STATUS.
"""
import os
import select
import socket
import sys
import time

HELLO, ANSWER = b"hello from the tree", b"hello from the peer"


def write(path, s):
    with open(path + ".tmp", "w") as f:
        f.write(s + "\n")
    os.rename(path + ".tmp", path)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        d = s.recv(n - len(got))
        if not d:
            break
        got += d
    return got


def peer(port_file, go_file, out, addr="127.0.0.1"):
    ls = socket.socket(family(addr))
    ls.bind((addr, 0))
    ls.listen(0)
    filler = socket.socket(family(addr))
    filler.connect(ls.getsockname())
    write(port_file, str(ls.getsockname()[1]))
    while not os.path.exists(go_file):
        time.sleep(0.02)
    ls.settimeout(60)
    try:
        ls.accept()[0].close()
        c, _ = ls.accept()
        c.settimeout(60)
        got = recv_exactly(c, len(HELLO))
        if got != HELLO:
            raise ValueError("got %r" % got)
        c.sendall(ANSWER)
    except Exception as e:
        write(out, "FAIL %r" % e)
        return
    write(out, "OK")


def tree(port_file, st, addr="127.0.0.1"):
    os.closerange(3, 65536)  # an inherited pipe would make us undumpable
    while not os.path.exists(port_file):
        time.sleep(0.02)
    s = socket.socket(family(addr))
    s.setblocking(False)
    if s.connect_ex((addr, int(open(port_file).read()))) != 115:  # EINPROGRESS
        write(st, "FAIL: connect did not wait")
        return
    time.sleep(0.3)  # its SYN dropped: still connecting
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    write(st, "READY %d state %d" % (s.getsockname()[1], state))
    p = select.poll()
    p.register(s, select.POLLOUT)
    while not p.poll(1000):
        pass
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        write(st, "FAIL: SO_ERROR %d (%s)" % (err, os.strerror(err)))
        return
    s.setblocking(True)
    s.settimeout(60)
    try:
        s.sendall(HELLO)
        got = recv_exactly(s, len(ANSWER))
    except Exception as e:
        write(st, "FAIL %r" % e)
        return
    write(st, "OK" if got == ANSWER else "FAIL: the peer answered %r" % got)


if __name__ == "__main__":
    {"peer": peer, "tree": tree}[sys.argv[1]](*sys.argv[2:])
