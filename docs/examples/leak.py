"""A small Python program that leaks in two ways (docs/profiling.md, "A worked example on
a real program"): one function appends to a global list, another caches every result in a
dict that is never pruned; a third churns through objects it drops at once.

    HAKMEM_PROF=1 LD_PRELOAD=target/release/libhakmem.so python3 leak.py /tmp/py.pb

writes the heap profile while the leaked objects are still live (through hakmem's
`hakmem_prof_dump`, found with ctypes): at exit Python frees its objects, so the exit dump
would be nearly empty. Without hakmem preloaded the argument is ignored."""

import ctypes
import sys

LOG = []
CACHE = {}


def log_request(i):
    # Leak 1: every request's record is kept forever (~200 bytes of str + a tuple).
    LOG.append(("request", i, "x" * 150 + str(i)))


def render(i):
    # Leak 2: a memoising cache without eviction (a 1 KiB bytes object per key).
    key = "page-%d" % i
    if key not in CACHE:
        CACHE[key] = bytes(1000) + key.encode()
    return CACHE[key]


def churn(i):
    # Not a leak: a list of small ints built and dropped.
    return sum([j * i for j in range(50)])


def main():
    total = 0
    for i in range(200_000):
        log_request(i)
        if i % 2 == 0:
            render(i)
        total += churn(i)
    print("log", len(LOG), "cache", len(CACHE), "total", total)
    if len(sys.argv) > 1:
        try:
            dump = ctypes.CDLL(None).hakmem_prof_dump
        except AttributeError:
            return  # not running under hakmem
        print("hakmem_prof_dump:", dump(sys.argv[1].encode()))


main()
