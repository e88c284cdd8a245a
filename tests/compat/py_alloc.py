"""Allocation-heavy, deterministic Python workload for `hakmem compat`.

Usage: python3 py_alloc.py [SCALE]      (SCALE defaults to 1; `--full` uses a larger one)

Every line printed depends only on the computation, never on addresses or timing, so the
output must be identical whatever malloc the interpreter runs on. Run with PYTHONHASHSEED=0.
"""
import gc
import hashlib
import json
import sys
import threading


def digest(obj) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


class Rng:
    """xorshift32, the same generator the benchmarks use."""

    def __init__(self, seed):
        self.x = seed & 0xFFFFFFFF

    def next(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x


class Node:
    __slots__ = ("key", "left", "right")

    def __init__(self, key):
        self.key = key
        self.left = None
        self.right = None


class Record:
    def __init__(self, i, name, tags):
        self.i = i
        self.name = name
        self.tags = tags
        self.meta = {"len": len(name), "ntags": len(tags)}


def dicts(scale, rng):
    n = 60_000 * scale
    d = {}
    for i in range(n):
        r = rng.next()
        d[f"key-{r % (n * 2)}-{i % 97}"] = [r, str(r) * (1 + r % 5), (i, r & 0xFF)]
    # delete a third, grow again, resize down by rebuilding
    for k in list(d.keys())[::3]:
        del d[k]
    for i in range(n // 2):
        d[("t", i)] = {"a": i, "b": [i] * (i % 7)}
    small = {k: v for k, v in d.items() if isinstance(k, str) and len(k) % 2 == 0}
    items = sorted((k, repr(v)) for k, v in small.items())
    print("dicts", len(d), len(small), digest(items[:1000]), digest(items[-1000:]))


def lists(scale, rng):
    n = 200_000 * scale
    a = [rng.next() for _ in range(n)]
    b = sorted(a)
    c = [x for x in a if x & 1]
    c.sort(reverse=True)
    nested = [[i] * (i % 13) for i in range(n // 4)]
    flat = [y for x in nested for y in x]
    while len(a) > n // 2:
        a.pop()
    a.extend(range(1000))
    a.insert(0, -1)
    print("lists", len(a), len(b), len(c), len(flat), b[0], b[-1], c[0], sum(flat) % 1_000_003,
          digest(b[::997]))


def strings(scale, rng):
    n = 50_000 * scale
    parts = []
    for i in range(n):
        r = rng.next()
        parts.append(chr(97 + r % 26) * (1 + r % 40) + str(i))
    s = "".join(parts)
    words = s.split("a")
    up = s.upper()
    repl = s.replace("bb", "\u00e9\u4e2d")  # widen to 2-byte, then 4-byte-ish storage
    enc = repl.encode("utf-8")
    dec = enc.decode("utf-8")
    acc = ""
    for i in range(5_000 * scale):  # quadratic-looking concat, the realloc-in-place path
        acc += parts[i % len(parts)][:8]
    fmt = ["%08d:%s:%r" % (i, parts[i][:5], (i, i * 2)) for i in range(0, n, 3)]
    print("strings", len(s), len(words), len(up), len(enc), dec == repl, len(acc),
          digest(fmt[::101]), hashlib.sha256(enc).hexdigest()[:16])


def sets_and_objects(scale, rng):
    n = 80_000 * scale
    s1 = {rng.next() % (n * 3) for _ in range(n)}
    s2 = {rng.next() % (n * 3) for _ in range(n)}
    inter, union, diff = s1 & s2, s1 | s2, s1 - s2
    fs = frozenset(str(x) for x in list(inter)[:5000])
    recs = [Record(i, "n" * (i % 50), tuple(range(i % 9))) for i in range(n // 2)]
    total = sum(r.meta["len"] + r.meta["ntags"] for r in recs)
    del recs[::2]
    # a binary search tree of many small objects
    root = None
    for _ in range(n // 4):
        k = rng.next()
        node = Node(k)
        if root is None:
            root = node
            continue
        cur = root
        while True:
            if k < cur.key:
                if cur.left is None:
                    cur.left = node
                    break
                cur = cur.left
            else:
                if cur.right is None:
                    cur.right = node
                    break
                cur = cur.right
    # in-order walk
    out, stack, cur = [], [], root
    while stack or cur is not None:
        while cur is not None:
            stack.append(cur)
            cur = cur.left
        cur = stack.pop()
        out.append(cur.key)
        cur = cur.right
    print("sets", len(s1), len(s2), len(inter), len(union), len(diff), len(fs), total, len(recs),
          len(out), out == sorted(out), digest(out[::503]))


def cycles_and_gc(scale):
    made = 0
    for round_ in range(20 * scale):
        ring = [dict(i=i) for i in range(2000)]
        for i, d in enumerate(ring):
            d["next"] = ring[(i + 1) % len(ring)]
        made += len(ring)
        del ring
        if round_ % 5 == 0:
            gc.collect()
    print("gc", made, gc.collect() >= 0)


def json_and_bytes(scale, rng):
    doc = {
        "items": [
            {"id": i, "name": "item%d" % i, "vals": [rng.next() % 1000 for _ in range(i % 20)],
             "sub": {"x": i / 7.0, "y": None, "z": [True, False] * (i % 3)}}
            for i in range(20_000 * scale)
        ]
    }
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    ba = bytearray()
    for i in range(100_000 * scale):
        ba += bytes([i & 0xFF]) * (i % 11)
    mv = memoryview(ba)[::7].tobytes()
    print("json", len(text), back == doc, hashlib.sha256(text.encode()).hexdigest()[:16],
          len(ba), hashlib.sha256(mv).hexdigest()[:16])


def threads(scale):
    # several threads allocating and freeing at once, handing objects across threads
    results = [None] * 4
    shared = []
    lock = threading.Lock()

    def work(t):
        rng = Rng(1234567 + t)
        local = {}
        for i in range(40_000 * scale):
            r = rng.next()
            local[r % 5000] = [r] * (r % 17)
            if i % 100 == 0:
                with lock:
                    shared.append(local.pop(r % 5000, None))
        results[t] = sum(len(v) for v in local.values())

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    freed = sum(1 for x in shared if x is not None)
    shared.clear()
    print("threads", results, freed)


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = Rng(1234567)
    dicts(scale, rng)
    lists(scale, rng)
    strings(scale, rng)
    sets_and_objects(scale, rng)
    cycles_and_gc(scale)
    json_and_bytes(scale, rng)
    threads(scale)
    print("done")


if __name__ == "__main__":
    main()
