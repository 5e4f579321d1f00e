"""tcp_backlog: a TCP listener with a connection it has not accepted, for test/e2e/run.sh.

server STATUS: listens on 127.0.0.1 (any port), writes "LISTENING PORT" to STATUS, waits
until a connection waits to be accepted (the listener polls readable), then writes
"READY PID PORT" and waits for STATUS.go. Then it accepts one connection: it must be a
new one, whose client sent b"new" (a connection left out of the dump (--skip-in-flight)
must not come back), answers b"ok" and writes "OK" or "FAIL: ..." to STATUS.

client PORT OUT WORD: connects, sends WORD. "new" then reads the answer and writes
"ANSWER <bytes>" to OUT. "old" writes "CONNECTED" to OUT, waits for OUT.go, then sends
again and reads: "RESET" if the connection was reset, else "GOT <bytes>".
"""
import os
import select
import socket
import sys

from e2eutil import wait_file, write

os.closerange(3, 65536)  # an inherited pipe would make the server undumpable


def server(status):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port = ls.getsockname()[1]
    write(status, "LISTENING %d" % port)
    if not select.select([ls], [], [], 30)[0]:
        write(status, "FAIL: no connection came")
        return 1
    write(status, "READY %d %d" % (os.getpid(), port))
    if not wait_file(status + ".go", 120):
        write(status, "FAIL: no go")
        return 1
    ls.settimeout(10)
    c, _ = ls.accept()
    c.settimeout(10)
    got = c.recv(16)
    if got != b"new":
        write(status, "FAIL: accepted a connection that sent %r, not the new one" % got)
        return 1
    c.sendall(b"ok")
    write(status, "OK")
    return 0


def client(port, out, word):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(word.encode())
    if word == "new":
        write(out, "ANSWER %r" % s.recv(16))
        return 0
    write(out, "CONNECTED")
    if not wait_file(out + ".go", 120):
        write(out, "NO GO")
        return 1
    try:
        s.sendall(b"again")
        got = s.recv(16)
        write(out, "GOT %r" % got)
    except ConnectionResetError:
        write(out, "RESET")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        sys.exit(server(sys.argv[2]))
    sys.exit(client(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
