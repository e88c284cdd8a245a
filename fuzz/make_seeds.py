#!/usr/bin/env python3
"""Write the hand-made seeds of fuzz/corpus (format: see src/harness.rs).
Opcode byte % 10: 0/1 malloc SIZE | 2 calloc COUNT SIZE | 3 memalign ALIGN SIZE |
4/5 realloc IDX16 SIZE | 6 free IDX16 | 7 remote free IDX16 | 8 remote malloc SIZE | 9 verify.
SIZE: one byte < 128 picks EDGE_SIZES[b % 40]; 128.. + u16 picks a range (tiny/small/large/huge).
ALIGN: byte b < 240 -> 1 << (3 + b % 14), else 1 << (17 + b % 5)."""
import os
import struct

N_EDGES = 40
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)


def edge(i):
    return bytes([i])


def u16(v):
    return struct.pack("<H", v)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


# every class edge, then freed newest first (index = last)
d = b"".join(b"\x00" + edge(i) for i in range(N_EDGES)) + b"\x09"
d += b"".join(b"\x06" + u16(0xFFFF) for _ in range(N_EDGES))
write("edges", d)

# one block reallocated up every edge and back down
d = b"\x00" + edge(3)
for i in list(range(N_EDGES)) + list(range(N_EDGES - 1, -1, -1)):
    d += b"\x04" + u16(0) + edge(i)
write("realloc-ladder", d + b"\x09")

# every alignment up to 64 KiB with sizes around the class edges, then 128 KiB..2 MiB
d = b""
for a in range(14):
    for i in (1, 9, 18, 22, 26, 31, 34, 38):
        d += b"\x03" + bytes([a]) + edge(i)
    d += b"\x09"
for a in range(240, 245):
    d += b"\x03" + bytes([a]) + edge(5) + b"\x06" + u16(0xFFFF)
write("aligned", d)

# cross-thread: 60 blocks freed by the helper, 60 allocated by it and freed here
d = b"".join(b"\x00" + edge(i % N_EDGES) for i in range(60))
d += b"".join(b"\x07" + u16(i * 7) for i in range(60)) + b"\x09"
d += b"".join(b"\x08" + edge(i % N_EDGES) for i in range(60))
d += b"".join(b"\x06" + u16(i * 5) for i in range(60)) + b"\x09"
write("cross-thread", d)

# calloc over recycled memory: fill, free, calloc the same sizes
d = b""
for i in range(10, 36):
    d += b"\x00" + edge(i) + b"\x06" + u16(0xFFFF) + b"\x02" + bytes([3]) + edge(i)
write("calloc-recycled", d + b"\x09")

# ranged sizes: tiny, small, large, huge
d = b""
for k in range(64):
    d += b"\x01" + bytes([128 + k]) + u16(k * 1031)
    d += b"\x01" + bytes([192 + k % 32]) + u16(k * 977)
    if k % 4 == 0:
        d += b"\x01" + bytes([224 + k % 24]) + u16(k * 991)
    if k % 16 == 0:
        d += b"\x01" + bytes([250]) + u16(k * 313)
    d += b"\x04" + u16(k * 3) + bytes([200]) + u16(k)
    d += b"\x06" + u16(k * 11)
write("ranges", d + b"\x09")
print("seeds written to", out)

# ---- terminal operations (fuzz/corpus-terminal; format: see src/harness.rs) -------------
# magic "HKT!", kind (0 write-after-free, 1 interior free), victim u16, parameter, ops...
tout = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-terminal")
os.makedirs(tout, exist_ok=True)


def terminal(name, kind, victim, param, ops):
    with open(os.path.join(tout, name), "wb") as f:
        f.write(b"HKT!" + bytes([kind]) + u16(victim) + bytes([param]) + ops)


# a few live blocks of the small classes, some freed locally and remotely in between
mix = b"".join(b"\x00" + edge(i) for i in (3, 6, 9, 9, 9, 12, 21, 27))
mix += b"\x06" + u16(1) + b"\x07" + u16(2) + b"\x09"
# write-after-free with the forged link to: another live block, a static, 0xdead0000, itself
for forge, what in enumerate(("live", "static", "unmapped", "self")):
    terminal("waf-" + what, 0, 3, forge, mix)
# interior free: 64 B + 16, 8 KiB + 256, 64 B + 1 (misaligned), 100000 B + 16, 3 MiB + 16
for name, e, param in (("tiny", 9, 15), ("small", 27, 255), ("misaligned", 9, 0),
                       ("large", 34, 15), ("huge", 39, 15)):
    terminal("interior-" + name, 1, 0, param, b"\x00" + edge(e))
print("terminal seeds written to", tout)
