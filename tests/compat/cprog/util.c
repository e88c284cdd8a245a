#include "common.h"

uint32_t rng_next(uint32_t *x) {
    uint32_t v = *x;
    v ^= v << 13;
    v ^= v >> 17;
    v ^= v << 5;
    *x = v;
    return v;
}

uint64_t fnv1a(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    if (h == 0) h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ULL; }
    return h;
}
