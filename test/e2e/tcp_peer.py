"""tcp_peer: the far end of dumpee connections, outside the dumped tree (test/e2e/run.sh).

Listens on ADDRESS (port written to PORTFILE), accepts the tree's connection and sends it
PEER_FIRST bytes, which the tree leaves unread. Once GAPFILE exists (the tree is gone, dumped)
it sends PEER_GAP more: the network lock must hold them back, not let the kernel answer
with a reset. Then it reads until the tree's end marker, checks every byte, and writes
"OK N" or "FAIL ..." to OUT (N: the bytes the tree sent).

With "oob" it sends one byte of urgent data (MSG_OOB) after its first bytes: a dump must
refuse that connection. With "fin" it shuts its end down for writing after its first bytes
(and sends no more); with "eof" it reads until the end of the stream, not a marker. With
"abort" it resets the connection once GAPFILE exists (the reset lost under the lock: the
connection is gone for it) and writes "ABORTED" to OUT.

Usage: python3 tcp_peer.py PORTFILE GAPFILE OUT [ADDRESS] [oob] [fin] [eof] [abort]
       (127.0.0.1; ::1 for IPv6)
"""
import os
import socket
import struct
import sys
import time

PEER_FIRST, PEER_GAP = 20000, 5000
END = b"\xff" * 8


def pattern(start, n, mul, add):
    return bytes((j * mul + add) % 251 for j in range(start, start + n))


def main():
    port_file, gap_file, out = sys.argv[1:4]
    modes = [a for a in sys.argv[4:] if a in ("oob", "fin", "eof", "abort")]
    addr = next((a for a in sys.argv[4:] if a not in modes), "127.0.0.1")
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.bind((addr, 0))
    ls.listen(1)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    c, _ = ls.accept()
    c.sendall(pattern(0, PEER_FIRST, 7, 3))
    if "oob" in modes:
        c.send(b"!", socket.MSG_OOB)  # out of the stream the tree reads
    if "fin" in modes:
        c.shutdown(socket.SHUT_WR)
    while not os.path.exists(gap_file):
        time.sleep(0.02)
    if "abort" in modes:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        with open(out, "w") as f:
            f.write("ABORTED\n")
        return
    if "fin" not in modes:
        c.sendall(pattern(PEER_FIRST, PEER_GAP, 7, 3))
    c.settimeout(60)
    got = bytearray()
    try:
        while "eof" in modes or not got.endswith(END):
            d = c.recv(1 << 20)
            if not d and "eof" in modes:
                break
            if not d:
                raise EOFError("EOF before the end marker")
            got += d
    except Exception as e:  # reset, timeout, EOF
        with open(out, "w") as f:
            f.write("FAIL after %d bytes: %r\n" % (len(got), e))
        return
    body = bytes(got if "eof" in modes else got[:-len(END)])
    bad = next((i for i, b in enumerate(body) if b != (i * 5 + 1) % 251), None)
    with open(out, "w") as f:
        f.write("OK %d\n" % len(body) if bad is None else "FAIL byte %d of %d\n" % (bad, len(body)))


main()
