"""tcp_tree: a dumpee holding an established TCP connection to tcp_peer.py (test/e2e/run.sh).

Connects to the peer (port in PORTFILE) with a small receive buffer and TCP_NODELAY, then
sends without blocking until its send queue is full (the peer reads nothing yet): bytes
acknowledged, sent and not acknowledged, and never sent, all in the kernel at the dump. The
peer's PEER_FIRST bytes wait unread. Writes "READY SENT PORT" (PORT: its own) to STATUS,
waits for STATUS.go, then reads the peer's bytes (those sent during the dump too), checks
them, sends its end marker and writes "OK ..." or "FAIL ..." to STATUS. With "ghost" it also holds a deleted
file of 2 MiB, more than a dump keeps by default: that dump is refused late, after the
connection was read in repair mode. With "peekoff" it peeks 100 bytes with SO_PEEK_OFF on
before READY, and checks that its peek offset is still 100 (for dump -R: restore does not
keep it). With "holdsend" it writes "CONNECTED PORT" once connected and sends only once
STATUS.send exists. With "shutrd" it shuts its socket down for reading before READY. With
"heap" it holds 2 GiB written to (a byte a page), which takes a dump a while, and once READY
peeks at its socket without a pause until STATUS.go exists: any error (a socket left in repair
mode fails every call) makes it FAIL.

Closing half way: with "peerfin" (tcp_peer.py fin) it waits for the peer's FIN (CLOSE-WAIT)
and then reads only the peer's first bytes and the end of the stream. With "shutwr" it
shuts its socket down for writing once its send queue is full (FIN-WAIT-1, or LAST-ACK after
the peer's FIN; the FIN waits behind the bytes never sent) and sends no end marker; with
"small" too it sends only 1000 bytes, which the peer acknowledges with the FIN (FIN-WAIT-2).
It waits for that state before READY; OK and READY lines end with "state S", its TCP state
then and once STATUS.go exists.

Usage: python3 tcp_tree.py PORTFILE STATUS [ghost|peekoff|holdsend|shutrd|peerfin|shutwr|small|heap]...
       [ADDRESS]
"""
import fcntl
import os
import socket
import sys
import time

os.closerange(3, 65536)  # an inherited pipe would make us undumpable
PEER_FIRST, PEER_TOTAL = 20000, 25000
SO_PEEK_OFF = 42
FIONREAD = 0x541B
END = b"\xff" * 8
MODES = ("ghost", "peekoff", "holdsend", "shutrd", "peerfin", "shutwr", "small", "heap")
CLOSE_WAIT, FIN_WAIT2 = 8, 5


def tcp_state(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def wait_state(s, want):
    for _ in range(1000):
        if tcp_state(s) == want:
            return True
        time.sleep(0.01)
    status("FAIL: state %d, not %d" % (tcp_state(s), want))
    return False


def status(s):
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(s + "\n")
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])


def main():
    port_file, st = sys.argv[1:3]
    args = sys.argv[3:]
    addr = next((a for a in args if a not in MODES), "127.0.0.1")
    ghost = None
    heap = bytearray(2 << 30 if "heap" in args else 0)
    heap[::4096] = b"\x01" * (len(heap) // 4096)
    if "ghost" in args:
        ghost = open(st + ".ghost", "w+b")
        ghost.write(b"g" * (2 << 20))
        ghost.flush()
        os.unlink(st + ".ghost")
    while not os.path.exists(port_file):
        time.sleep(0.02)
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect((addr, int(open(port_file).read())))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # the peer's first bytes are in our receive queue
    while int.from_bytes(fcntl.ioctl(s, FIONREAD, b"\0" * 4), "little") < 20000:
        time.sleep(0.02)
    if "peerfin" in args and not wait_state(s, CLOSE_WAIT):
        return
    if "peekoff" in args:
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_PEEK_OFF, 0)
        except OSError:  # TCP has a peek offset since 6.10
            args.remove("peekoff")
    if "peekoff" in args and s.recv(100, socket.MSG_PEEK) != bytes((j * 7 + 3) % 251 for j in range(100)):
        status("FAIL: the first peek")
        return
    if "holdsend" in args:
        # the test drops the peer's acknowledgements first: what we send stays unacknowledged
        status("CONNECTED %d" % s.getsockname()[1])
        while not os.path.exists(st + ".send"):
            time.sleep(0.02)
    data = bytes((i * 5 + 1) % 251 for i in range(1000 if "small" in args else 8 << 20))
    sent = 0
    s.setblocking(False)
    while sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            break
    s.setblocking(True)
    if "shutrd" in args:
        s.shutdown(socket.SHUT_RD)
    if "shutwr" in args:
        s.shutdown(socket.SHUT_WR)
        if "small" in args and not wait_state(s, FIN_WAIT2):
            return
    status("READY %d %d state %d" % (sent, s.getsockname()[1], tcp_state(s)))
    while not os.path.exists(st + ".go"):
        if "heap" in args:
            try:
                s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except OSError as e:
                status("FAIL: a peek while waiting: %r" % e)
                return
        else:
            time.sleep(0.05)
    state = tcp_state(s)
    if "peekoff" in args and s.getsockopt(socket.SOL_SOCKET, SO_PEEK_OFF) != 100:
        status("FAIL: the peek offset is %d, not 100" % s.getsockopt(socket.SOL_SOCKET, SO_PEEK_OFF))
        return
    s.settimeout(60)
    got = bytearray()
    total = PEER_FIRST if "peerfin" in args else PEER_TOTAL
    try:
        while len(got) < total:
            d = s.recv(65536)
            if not d:
                raise EOFError("EOF")
            got += d
        if "peerfin" in args and s.recv(65536) != b"":
            raise ValueError("no end of stream after the peer's FIN")
    except Exception as e:
        status("FAIL after %d bytes from the peer: %r" % (len(got), e))
        return
    if bytes(got) != bytes((j * 7 + 3) % 251 for j in range(total)):
        status("FAIL: the peer's bytes differ")
        return
    if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 1:
        status("FAIL: TCP_NODELAY is off")
        return
    if "shutwr" not in args:
        s.sendall(END)
    status("OK sent %d state %d" % (sent, state))


main()
