#!/usr/bin/env python3
"""Ptys held outside a dumped tree, for the pty tests of test/e2e/run.sh.

  pty_hold.py take N STATUS   hold ptys (opening /dev/ptmx) until /dev/pts/N is one of them,
                              then write "READY" to STATUS and sleep; "FAIL: ..." if N is busy
  pty_hold.py slave STATUS    a child holding only the slave of a pty whose master its parent
                              (this process) keeps: "READY CHILD_PID" in STATUS, then both sleep
"""
import fcntl
import os
import struct
import sys
import time

from e2eutil import write

TIOCGPTN = 0x80045430  # _IOR('T', 0x30, unsigned int): the pty's index


def take(n, status):
    held = []
    while True:
        m = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
        held.append(m)
        got = struct.unpack("I", fcntl.ioctl(m, TIOCGPTN, b"\0" * 4))[0]
        if got == n:
            break
        if got > n:
            write(status, "FAIL: /dev/pts/%d is busy" % n)
            return 1
    write(status, "READY")
    while True:
        time.sleep(3600)


def slave(status):
    m, s = os.openpty()
    pid = os.fork()
    if pid == 0:
        os.close(m)
        write(status, "READY %d" % os.getpid())
        while True:
            time.sleep(3600)
    os.close(s)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1] == "take":
        sys.exit(take(int(sys.argv[2]), sys.argv[3]))
    sys.exit(slave(sys.argv[2]))
