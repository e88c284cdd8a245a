/* extras.c: glibc's <malloc.h> extras and C23's sized frees as libhakmem.so answers them,
 * under LD_PRELOAD. `extras <check>`, one of: trim, mallinfo, mallopt, free_sized.
 * hakmem's own entry points are looked up with dlsym (the program is not linked with
 * -lhakmem). Prints key=value figures and "ok" last; a failed check prints "FAIL ..." and
 * exits 1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../../include/hakmem.h"

/* C23's sized frees: glibc (before 2.43) has neither, so they are looked up. */
static void (*free_sized)(void *p, size_t size);
static void (*free_aligned_sized)(void *p, size_t align, size_t size);

static int fails;
#define CHECK(c)                                                        \
    do {                                                                \
        if (!(c)) {                                                     \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);         \
            fails++;                                                    \
        }                                                               \
    } while (0)

static size_t (*stats_get)(hakmem_stats_t *, size_t);
static size_t (*trim)(void);

static hakmem_stats_t snap(void) {
    hakmem_stats_t s;
    memset(&s, 0, sizeof s);
    CHECK(stats_get(&s, sizeof s) == sizeof s);
    return s;
}

/* The symbol `name` must be defined by libhakmem.so (LD_PRELOAD puts it first). */
static void from_hakmem(const char *name) {
    Dl_info di;
    void *f = dlsym(RTLD_DEFAULT, name);
    int ok = f && dladdr(f, &di) && di.dli_fname && strstr(di.dli_fname, "libhakmem");
    if (!ok) printf("FAIL %s does not come from libhakmem\n", name);
    fails += !ok;
}

#define BURST 40000
static void *burst[BURST];

/* A freed burst: small blocks (their SuperSlabs empty out), large spans and huge blocks. */
static void alloc_and_free_burst(void) {
    for (int i = 0; i < BURST; i++) {
        size_t n = i % 100 == 0 ? (i % 200 == 0 ? (3 << 20) : (200 << 10)) : 64 + (i % 7) * 150;
        burst[i] = malloc(n);
        CHECK(burst[i] != NULL);
        memset(burst[i], 7, 64);
    }
    for (int i = 0; i < BURST; i++) free(burst[i]);
}

static void t_trim(void) {
    from_hakmem("malloc_trim");
    from_hakmem("hakmem_trim");
    hakmem_stats_t s0 = snap();
    alloc_and_free_burst();
    hakmem_stats_t s1 = snap();
    int r = malloc_trim(0);
    hakmem_stats_t s2 = snap();
    printf("mapped_after_burst=%llu mapped_after_trim=%llu malloc_trim=%d\n",
           (unsigned long long)s1.mapped_bytes, (unsigned long long)s2.mapped_bytes, r);
    CHECK(s1.mapped_bytes > s0.mapped_bytes);
    CHECK(r == 1);
    CHECK(s2.mapped_bytes < s1.mapped_bytes);
    CHECK(s2.ss_in_pool == 0);
    /* Nothing left to give back: glibc's answer is 0 then. */
    int again = malloc_trim(0);
    printf("malloc_trim_again=%d\n", again);
    CHECK(again == 0);

    /* hakmem_trim returns exactly the bytes that left the mapped total. */
    alloc_and_free_burst();
    hakmem_stats_t s3 = snap();
    size_t released = trim();
    hakmem_stats_t s4 = snap();
    printf("hakmem_trim=%zu mapped_drop=%llu\n", released,
           (unsigned long long)(s3.mapped_bytes - s4.mapped_bytes));
    CHECK(released > 0);
    CHECK(s3.mapped_bytes - s4.mapped_bytes == released);
    CHECK(trim() == 0);
}

static void t_mallinfo(void) {
    from_hakmem("mallinfo2");
    from_hakmem("mallinfo");
    void *small[1000];
    for (int i = 0; i < 1000; i++) small[i] = malloc(100 + i);
    struct mallinfo2 m0 = mallinfo2();
    void *huge[3];
    for (int i = 0; i < 3; i++) {
        huge[i] = malloc(2 << 20);
        CHECK(huge[i] != NULL);
    }
    struct mallinfo2 m1 = mallinfo2();
    hakmem_stats_t s = snap();
    printf("arena=%zu uordblks=%zu fordblks=%zu ordblks=%zu hblks=%zu hblkhd=%zu keepcost=%zu\n",
           m1.arena, m1.uordblks, m1.fordblks, m1.ordblks, m1.hblks, m1.hblkhd, m1.keepcost);
    CHECK(m1.arena > 0);
    CHECK(m1.arena >= m1.uordblks);
    CHECK(m1.arena == m1.uordblks + m1.fordblks);
    CHECK(m1.arena == s.mapped_bytes); /* single thread, nothing allocated in between */
    CHECK(m1.fordblks % (2 << 20) == 0 && m1.fordblks / (2 << 20) == m1.ordblks);
    CHECK(m1.hblks == m0.hblks + 3);
    CHECK(m1.hblkhd >= m0.hblkhd + 3 * (2 << 20));
    CHECK(m1.arena >= m0.arena + 3 * (2 << 20));
    CHECK(m1.hblkhd <= m1.arena);
    CHECK(m1.keepcost == 0 && m1.usmblks == 0);
    for (int i = 0; i < 3; i++) free(huge[i]);
    struct mallinfo2 m2 = mallinfo2();
    CHECK(m2.hblks == m0.hblks);

    /* The int version: the same figures, clamped. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo mi = mallinfo();
#pragma GCC diagnostic pop
    struct mallinfo2 m3 = mallinfo2();
    printf("mallinfo.arena=%d mallinfo2.arena=%zu\n", mi.arena, m3.arena);
    CHECK((size_t)mi.arena == (m3.arena > INT_MAX ? (size_t)INT_MAX : m3.arena));
    CHECK((size_t)mi.hblks == m3.hblks);
    CHECK(mi.arena >= mi.uordblks);
    for (int i = 0; i < 1000; i++) free(small[i]);
}

static void t_mallopt(void) {
    from_hakmem("mallopt");
    int a = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    int b = mallopt(M_ARENA_MAX, 2);
    int c = mallopt(M_MXFAST, 0);
    int d = mallopt(12345, 1);
    int e = mallopt(0, 1);
    printf("mallopt known=%d,%d,%d unknown=%d,%d\n", a, b, c, d, e);
    CHECK(a == 1 && b == 1 && c == 1);
    CHECK(d == 0 && e == 0);
    /* Still allocating normally afterwards. */
    void *p = malloc(4 << 20);
    CHECK(p != NULL);
    free(p);
}

static void t_free_sized(void) {
    from_hakmem("free_sized");
    from_hakmem("free_aligned_sized");
    hakmem_stats_t a = snap();
    void *p = malloc(3 << 20);
    void *q = aligned_alloc(4096, 3 << 20);
    CHECK(p && q && (uintptr_t)q % 4096 == 0);
    hakmem_stats_t b = snap();
    free_sized(p, 3 << 20);
    free_aligned_sized(q, 4096, 3 << 20);
    hakmem_stats_t c = snap();
    printf("huge_allocs_delta=%llu huge_frees_delta=%llu\n",
           (unsigned long long)(b.huge_allocs - a.huge_allocs),
           (unsigned long long)(c.huge_frees - b.huge_frees));
    CHECK(b.huge_allocs - a.huge_allocs == 2);
    CHECK(c.huge_frees - b.huge_frees == 2);
    /* Small blocks: freed and handed out again. */
    for (int i = 0; i < 10000; i++) {
        void *s = malloc(48);
        void *t = aligned_alloc(64, 192);
        CHECK(s && t);
        free_sized(s, 48);
        free_aligned_sized(t, 64, 192);
    }
    free_sized(NULL, 0);
    free_aligned_sized(NULL, 64, 0);
}

int main(int argc, char **argv) {
    stats_get = (size_t (*)(hakmem_stats_t *, size_t))dlsym(RTLD_DEFAULT, "hakmem_stats_get");
    trim = (size_t (*)(void))dlsym(RTLD_DEFAULT, "hakmem_trim");
    free_sized = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    free_aligned_sized = (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    if (!stats_get || !trim || !free_sized || !free_aligned_sized) {
        puts("FAIL not running on hakmem (an entry point is missing)");
        return 1;
    }
    const char *t = argc > 1 ? argv[1] : "";
    if (!strcmp(t, "trim")) t_trim();
    else if (!strcmp(t, "mallinfo")) t_mallinfo();
    else if (!strcmp(t, "mallopt")) t_mallopt();
    else if (!strcmp(t, "free_sized")) t_free_sized();
    else {
        printf("FAIL unknown check %s\n", t);
        return 2;
    }
    if (fails) return 1;
    puts("ok");
    return 0;
}
