"""Helpers of the e2e suite's Python dumpees and peers (file_locks.py, tcp_backlog.py)."""
import os
import time


def write(path, s):
    """path holds the line s, written whole (a reader never sees half of it)"""
    with open(path + ".tmp", "w") as f:
        f.write(s + "\n")
    os.rename(path + ".tmp", path)


def wait_file(path, seconds):
    """whether path exists within seconds"""
    for _ in range(seconds * 100):
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return False
