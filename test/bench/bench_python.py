"""bench_python: a CPython benchmark target for scripts/bench.sh.

Builds about SIZE_MIB of resident memory out of dicts of strings and ints of
realistic variety (user-like records, a word index, per-day counters), writes
"READY" to STATUS and sleeps until killed. Seeded, so every run builds the
same heap.

Usage: python3 bench_python.py SIZE_MIB STATUS
"""
import os
import random
import signal
import sys

# an inherited pipe or socket would make us undumpable
os.closerange(3, 65536)

FIRST = ("ada alan barbara claude dennis edsger frances grace guido ken "
         "linus margaret niklaus radia rob tim ursula whitfield yukihiro").split()
LAST = ("lovelace turing liskov shannon ritchie dijkstra allen hopper rossum "
        "thompson torvalds hamilton wirth perlman pike peters martin diffie "
        "matsumoto").split()
CITY = ("amsterdam berlin bogota cairo chennai denver dublin helsinki lagos "
        "lima lyon montreal nairobi osaka oslo porto quito seoul tallinn "
        "zurich").split()
WORDS = ("alpha bravo cache delta epoch fetch graph hash index join kernel "
         "latency merge node offset page queue range shard token update vector "
         "window yield zone buffer commit deploy event filter gateway").split()
DOMAINS = ("example.com example.org mail.test corp.invalid uni.edu.test").split()


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def record(rng, i):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "id": i,
        "name": f"{first.title()} {last.title()}",
        "email": f"{first}.{last}{rng.randrange(10000)}@{rng.choice(DOMAINS)}",
        "city": rng.choice(CITY),
        "age": rng.randrange(18, 90),
        "balance": rng.randrange(-10**6, 10**9),
        "score": rng.random() * 100,
        "token": "%032x" % rng.getrandbits(128),
        "note": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12))),
        "tags": {w: rng.randrange(1000) for w in rng.sample(WORDS, rng.randrange(1, 5))},
    }


def main():
    size_mib, status = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(20261123)
    users, by_email, by_word, daily = {}, {}, {}, {}
    i = 0
    while True:
        for _ in range(10000):
            r = record(rng, i)
            users[i] = r
            by_email[r["email"]] = i
            for w in r["note"].split():
                by_word.setdefault(w, {})[i] = r["balance"]
            daily[f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}/{r['city']}/{i}"] = i * 7 + r["age"]
            i += 1
        if rss_mib() >= size_mib:
            break
    with open(status, "w") as f:
        f.write(f"READY {i} records\n")
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
