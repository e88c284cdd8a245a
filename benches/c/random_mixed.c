/* random-mixed in C: the same pattern as `hakmem-workload random-mixed` (Rust), written
 * independently, so that a result of the headline workload does not rest on one program.
 *
 * A ring of `ws` slots; each op draws r from xorshift32 (x ^= x << 13; x ^= x >> 17;
 * x ^= x << 5; a zero seed becomes 1), picks slot r % ws, frees its block when full,
 * otherwise mallocs min_size + (r & max_extra_mask) bytes and writes the first byte.
 * Protocol: an untimed warm-up of cycles/10 ops with seed + 0xDEADBEEF, then `cycles` timed
 * ops with `seed`, then every remaining block freed (timed).
 *
 * Command line, as hakmem-workload's: random-mixed-c [--cycles N] [--ws N] [--seed N]
 * [--min-size N] [--max-extra-mask N] (numbers in decimal or 0x hex). Prints one JSON line
 * with the fields hakmem-workload prints. `hakmem bench -w random-mixed-c` builds it with
 * `cc -O2` on first use and runs it under LD_PRELOAD of each allocator.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t rng_state;

static inline uint32_t xorshift32(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static void reseed(uint32_t seed) { rng_state = seed ? seed : 1; }

static void **slots;
static size_t ws = 8192, min_size = 16;
static uint32_t mask = 0x3FF;
static uint64_t mallocs, frees;

static __attribute__((noinline)) void run_ops(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        uint32_t r = xorshift32();
        void **slot = &slots[r % ws];
        if (*slot) {
            free(*slot);
            *slot = NULL;
            frees++;
        } else {
            size_t size = min_size + (r & mask);
            unsigned char *p = malloc(size);
            if (!p) {
                fprintf(stderr, "random-mixed-c: malloc(%zu) returned NULL\n", size);
                abort();
            }
            if (size > 0) *(volatile unsigned char *)p = (unsigned char)r;
            *slot = p;
            mallocs++;
        }
    }
}

static uint64_t free_all(void) {
    uint64_t n = 0;
    for (size_t i = 0; i < ws; i++) {
        if (slots[i]) {
            free(slots[i]);
            slots[i] = NULL;
            n++;
        }
    }
    return n;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* VmRSS and VmHWM (KiB) from /proc/self/status; -1 when missing. */
static void rss(long long *rss_kb, long long *peak_kb) {
    char buf[8192];
    *rss_kb = *peak_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strstr(buf, "\nVmRSS:");
    if (p) *rss_kb = strtoll(p + 7, NULL, 10);
    p = strstr(buf, "\nVmHWM:");
    if (p) *peak_kb = strtoll(p + 7, NULL, 10);
}

static int number(const char *opt, const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "random-mixed-c: %s %s: not a number up to %llu\n", opt, s, max);
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv) {
    unsigned long long cycles = 10000000, seed = 1234567, v;
    int i = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (strcmp(argv[i], "random-mixed-c") != 0) {
            fprintf(stderr, "random-mixed-c: unknown workload '%s' (this program runs random-mixed-c)\n", argv[i]);
            return 2;
        }
        i++;
    }
    for (; i < argc; i += 2) {
        const char *o = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "random-mixed-c: %s needs a value\n", o);
            return 2;
        }
        const char *s = argv[i + 1];
        if (!strcmp(o, "--cycles")) {
            if (!number(o, s, UINT64_MAX, &cycles)) return 2;
        } else if (!strcmp(o, "--ws")) {
            if (!number(o, s, 1ULL << 32, &v) || v == 0) {
                fprintf(stderr, "random-mixed-c needs ws > 0\n");
                return 2;
            }
            ws = (size_t)v;
        } else if (!strcmp(o, "--seed")) {
            if (!number(o, s, UINT32_MAX, &seed)) return 2;
        } else if (!strcmp(o, "--min-size")) {
            if (!number(o, s, 1ULL << 40, &v)) return 2;
            min_size = (size_t)v;
        } else if (!strcmp(o, "--max-extra-mask")) {
            if (!number(o, s, UINT32_MAX, &v)) return 2;
            mask = (uint32_t)v;
        } else {
            fprintf(stderr, "random-mixed-c: workload random-mixed-c has no option %s\n", o);
            return 2;
        }
    }

    slots = calloc(ws, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "random-mixed-c: cannot allocate %zu slots\n", ws);
        return 1;
    }
    reseed((uint32_t)seed + 0xDEADBEEFu);
    run_ops(cycles / 10);
    reseed((uint32_t)seed);
    uint64_t m0 = mallocs, f0 = frees;
    double t0 = now();
    run_ops(cycles);
    uint64_t freed = free_all();
    double seconds = now() - t0;
    if (mallocs != frees + freed) {
        fprintf(stderr, "random-mixed-c: malloc/free count mismatch\n");
        return 1;
    }
    free(slots);

    long long rss_kb, peak_kb;
    rss(&rss_kb, &peak_kb);
    char os[96] = "null";
    void (*os_calls)(uint64_t *) = (void (*)(uint64_t *))dlsym(RTLD_DEFAULT, "hakmem_os_calls");
    if (os_calls) {
        uint64_t c[3] = {0, 0, 0};
        os_calls(c);
        snprintf(os, sizeof os, "{\"mmap\":%llu,\"munmap\":%llu,\"madvise\":%llu}", (unsigned long long)c[0],
                 (unsigned long long)c[1], (unsigned long long)c[2]);
    }
    char peak[24] = "null", end[24] = "null";
    if (peak_kb >= 0) snprintf(peak, sizeof peak, "%lld", peak_kb);
    if (rss_kb >= 0) snprintf(end, sizeof end, "%lld", rss_kb);
    printf("{\"workload\":\"random-mixed-c\",\"params\":{\"ws\":%zu,\"cycles\":%llu,\"seed\":%llu,\"min_size\":%zu,"
           "\"max_extra_mask\":%u},\"ops\":%llu,\"seconds\":%.9f,\"ops_per_sec\":%.3f,\"peak_rss_kb\":%s,"
           "\"rss_end_kb\":%s,\"os_calls\":%s,\"checks\":{\"freed_at_end\":%llu,\"frees\":%llu,\"mallocs\":%llu}}\n",
           ws, cycles, seed, min_size, mask, cycles, seconds, seconds > 0 ? (double)cycles / seconds : 0.0, peak, end,
           os, (unsigned long long)freed, (unsigned long long)(frees - f0), (unsigned long long)(mallocs - m0));
    return 0;
}
