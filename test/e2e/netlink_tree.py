#!/usr/bin/env python3
"""Netlink sockets across a dump and restore, for test/e2e/run.sh (run in a network
namespace of the test's own).

  netlink_tree.py wait STATUS     R: a NETLINK_ROUTE socket bound by the kernel (autobind),
                                  in groups RTNLGRP_LINK and RTNLGRP_IPV4_IFADDR, with
                                  NETLINK_NO_ENOBUFS, NETLINK_CAP_ACK and a fixed receive
                                  buffer; U: a NETLINK_KOBJECT_UEVENT datagram socket bound to
                                  group 1; C: a NETLINK_ROUTE socket connect()ed to R's port; G:
                                  a NETLINK_GENERIC socket never bound.
                                  "READY PID" in STATUS; on SIGUSR1: the same ports, groups,
                                  destinations and options; R gets the RTM_NEWADDR of 10.78.0.1
                                  (the test adds it after the restore) and answers a dump
                                  request of links to its end. "OK" or "FAIL: ..." in STATUS.
  netlink_tree.py unread STATUS   a NETLINK_ROUTE socket that asked for the links and has not
                                  read the answer; "READY PID", then sleeps.
  netlink_tree.py grouped STATUS  the same with a socket in RTNLGRP_LINK that asked for link 1
                                  alone (no dump the kernel would still be answering)
  netlink_tree.py selftest STATUS the checks without a dump (adding and removing the address)
"""
import os
import select
import signal
import socket
import struct
import sys
import time

from e2eutil import write

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_NO_ENOBUFS, NETLINK_LIST_MEMBERSHIPS = 1, 5, 9
NETLINK_CAP_ACK = 10
NETLINK_KOBJECT_UEVENT, NETLINK_GENERIC = 15, 16
RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR = 1, 5
RTM_NEWADDR, RTM_GETLINK, NLMSG_DONE, NLMSG_ERROR = 20, 18, 3, 2
NLM_F_REQUEST_DUMP = 0x301
ADDR = bytes([10, 78, 0, 1])

go = False


def on_usr1(sig, frame):
    global go
    go = True


def state(socks):
    out = []
    for s in socks:
        out.append((s.getsockname(), s.getpeername(), s.getsockopt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 16),
                    s.getsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS), s.getsockopt(SOL_NETLINK, NETLINK_CAP_ACK),
                    s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)))
    return out


def messages(data):
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            return
        yield kind, data[off + 16:off + length]
        off += (length + 3) & ~3


def has_addr(payload):
    """an ifaddrmsg whose attributes hold 10.78.0.1"""
    off = 8
    while off + 4 <= len(payload):
        alen, _ = struct.unpack_from("=HH", payload, off)
        if alen < 4:
            return False
        if payload[off + 4:off + alen] == ADDR:
            return True
        off += (alen + 3) & ~3
    return False


def wait_newaddr(r, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not select.select([r], [], [], max(0.0, end - time.monotonic()))[0]:
            break
        for kind, payload in messages(r.recv(65536)):
            if kind == RTM_NEWADDR and has_addr(payload):
                return True
    return False


def dump_links(r):
    r.send(struct.pack("=IHHII", 32, RTM_GETLINK, NLM_F_REQUEST_DUMP, 77, 0) + bytes(16))
    links = 0
    end = time.monotonic() + 5
    while time.monotonic() < end:
        if not select.select([r], [], [], 1)[0]:
            continue
        for kind, _ in messages(r.recv(65536)):
            if kind == NLMSG_DONE:
                return links
            if kind == NLMSG_ERROR:
                return -1
            links += 1
    return -1


def check(socks, before):
    after = state(socks)
    if after != before:
        return "state changed: %r, was %r" % (after, before)
    if not wait_newaddr(socks[0], 10):
        return "no RTM_NEWADDR of 10.78.0.1 on the route socket"
    n = dump_links(socks[0])
    if n < 1:
        return "the dump of links did not end well (%d)" % n
    return None


def main():
    mode, status = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGUSR1, on_usr1)
    r = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    if mode in ("unread", "grouped"):
        r.bind((0, 0))
        if mode == "grouped":
            r.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK)
            # NLM_F_REQUEST alone; struct ifinfomsg with ifi_index 1 (lo)
            r.send(struct.pack("=IHHII", 32, RTM_GETLINK, 1, 1, 0) + struct.pack("=BBHiII", 0, 0, 0, 1, 0, 0))
        else:
            r.send(struct.pack("=IHHII", 32, RTM_GETLINK, NLM_F_REQUEST_DUMP, 1, 0) + bytes(16))
        time.sleep(0.2)
        write(status, "READY %d" % os.getpid())
        while True:
            time.sleep(3600)
    r.bind((0, 0))
    r.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK)
    r.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_IPV4_IFADDR)
    r.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    r.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 300000)
    u = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)
    u.bind((0, 1))
    c = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    c.connect((r.getsockname()[0], 0))
    g = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    socks = [r, u, c, g]
    before = state(socks)
    if mode == "selftest":
        os.system("ip addr add 10.78.0.1/32 dev lo")
    else:
        write(status, "READY %d" % os.getpid())
        while not go:
            time.sleep(0.05)
    why = check(socks, before)
    if mode == "selftest":
        os.system("ip addr del 10.78.0.1/32 dev lo")
    write(status, "OK" if why is None else "FAIL: " + why)
    return 0 if why is None else 1


if __name__ == "__main__":
    sys.exit(main())
