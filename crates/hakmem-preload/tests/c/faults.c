/* Faults and bad input under LD_PRELOAD=libhakmem.so (driven by tests/faults.rs).
 * Usage: faults <check> [arg]   (one check per run so a failure names itself)
 * Prints "ok <check>" (plus "key=value" figure lines) and exits 0 on success; the
 * bad-input checks are expected to die with SIGABRT and a "hakmem: ..." line instead.
 * Only write(2)/unbuffered stderr is used while memory is exhausted. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include "../../../../include/hakmem.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); exit(1); } } while (0)
#define MiB ((size_t)1 << 20)

static int is_hakmem(void) { return dlsym(RTLD_DEFAULT, "hakmem_os_calls") != NULL; }

/* A number from /proc/self/status (kB), read without malloc. */
static size_t status_kb(const char *key) {
    char buf[4096];
    int fd = open("/proc/self/status", 0);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, key);
    if (!p) return 0;
    p += strlen(key);
    return strtoull(p, NULL, 10);
}

/* ---- pattern helpers ------------------------------------------------------------------ */

static void fill(void *p, size_t n, unsigned seed) {
    unsigned char *c = p;
    for (size_t i = 0; i < n; i += 61) c[i] = (unsigned char)(seed + i / 61);
    if (n) c[n - 1] = (unsigned char)(seed ^ 0x5a);
}
static int intact(const void *p, size_t n, unsigned seed) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i += 61)
        if (i != n - 1 && c[i] != (unsigned char)(seed + i / 61)) return 0;
    return n == 0 || c[n - 1] == (unsigned char)(seed ^ 0x5a);
}

/* ==== out of memory ====================================================================== */

/* Blocks made before the limit: they must survive every failed call untouched. */
static const size_t SENT_SIZES[] = {16, 100, 768, 1025, 5000, 32769, 200000, MiB, 3 * MiB};
#define NSENT (sizeof SENT_SIZES / sizeof *SENT_SIZES)
static void *sent[NSENT];

static void sentinels_make(void) {
    for (size_t i = 0; i < NSENT; i++) {
        sent[i] = malloc(SENT_SIZES[i]);
        CHECK(sent[i]);
        fill(sent[i], SENT_SIZES[i], 7 * i + 1);
    }
}
static void sentinels_check(const char *when) {
    for (size_t i = 0; i < NSENT; i++)
        if (!intact(sent[i], SENT_SIZES[i], 7 * i + 1)) {
            fprintf(stderr, "FAIL sentinel %zu (%zu bytes) corrupted %s\n", i, SENT_SIZES[i], when);
            exit(1);
        }
}

enum ep { E_MALLOC, E_CALLOC, E_REALLOC, E_POSIX_MEMALIGN, E_ALIGNED_ALLOC, E_MEMALIGN, E_VALLOC, E_PVALLOC,
          E_REALLOCARRAY, E_NEP };
static const char *EP_NAME[] = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign",
                                "valloc", "pvalloc", "reallocarray"};

/* One allocation through entry point `e`; on failure returns NULL with *err = the errno
 * (or posix_memalign's return value). */
static void *alloc_via(int e, size_t n, int *err) {
    void *p = NULL;
    errno = 0;
    switch (e) {
    case E_MALLOC: p = malloc(n); break;
    case E_CALLOC: p = calloc(n / 8 ? n / 8 : 1, 8); break;
    case E_REALLOC: p = realloc(NULL, n); break;
    case E_POSIX_MEMALIGN: {
        int r = posix_memalign(&p, 64, n);
        *err = r;
        return r ? NULL : p;
    }
    case E_ALIGNED_ALLOC: p = aligned_alloc(256, n); break;
    case E_MEMALIGN: p = memalign(4096, n); break;
    case E_VALLOC: p = valloc(n); break;
    case E_PVALLOC: p = pvalloc(n); break;
    case E_REALLOCARRAY: p = reallocarray(NULL, n / 16 ? n / 16 : 1, 16); break;
    }
    *err = p ? 0 : errno;
    return p;
}

#define MAXHOLD (1 << 20)
static void *hold[MAXHOLD];

static size_t headroom_mib = 48, limit_kb;

/* RLIMIT_AS by default; FAULTS_RLIMIT=data limits private writable mappings instead
 * (RLIMIT_DATA covers anonymous mmap since Linux 4.7), measured from VmData. */
static void set_limit(void) {
    const char *which = getenv("FAULTS_RLIMIT");
    int data = which && !strcmp(which, "data");
    size_t base = status_kb(data ? "VmData:" : "VmSize:") * 1024;
    CHECK(base > 0);
    struct rlimit rl = {base + headroom_mib * MiB, base + headroom_mib * MiB};
    limit_kb = rl.rlim_cur / 1024;
    CHECK(setrlimit(data ? RLIMIT_DATA : RLIMIT_AS, &rl) == 0);
}

/* Fill memory through entry point e with blocks of `size` until it fails; check the failure
 * is NULL + ENOMEM, that nothing older was touched, then free and check recovery. Returns
 * the number of blocks that fit. */
static size_t exhaust(int e, size_t size, unsigned seed) {
    size_t n = 0;
    int err = 0;
    for (;;) {
        CHECK(n < MAXHOLD);
        void *p = alloc_via(e, size, &err);
        if (!p) break;
        /* touch both ends (and calloc's zero) so the memory is real */
        unsigned char *c = p;
        if (e == E_CALLOC && (c[0] != 0 || c[size - 1] != 0)) { fprintf(stderr, "FAIL calloc not zero\n"); exit(1); }
        c[0] = (unsigned char)(seed + n);
        c[size - 1] = (unsigned char)(seed - n);
        hold[n++] = p;
    }
    if (err != ENOMEM) {
        fprintf(stderr, "FAIL %s(%zu) failed with errno %d, not ENOMEM, after %zu blocks\n", EP_NAME[e], size, err, n);
        exit(1);
    }
    if (n == 0 && size <= 4 * MiB) {
        fprintf(stderr, "FAIL %s(%zu): nothing fit in the headroom\n", EP_NAME[e], size);
        exit(1);
    }
    /* Still out of memory: a second call fails the same way (no state was half-updated). */
    void *again = alloc_via(e, size, &err);
    if (again) hold[n++] = again;
    else CHECK(err == ENOMEM);
    sentinels_check(EP_NAME[e]);
    for (size_t i = 0; i < n; i++) {
        unsigned char *c = hold[i];
        if (c[0] != (unsigned char)(seed + i) || c[size - 1] != (unsigned char)(seed - i)) {
            fprintf(stderr, "FAIL %s(%zu): block %zu of %zu corrupted after OOM\n", EP_NAME[e], size, i, n);
            exit(1);
        }
    }
    for (size_t i = 0; i < n; i++) free(hold[i]);
    return n;
}

/* After everything is freed, each kind of block can be had again. */
static void recovered(const char *after) {
    size_t sizes[] = {24, 1000, 20000, 300000, 4 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = malloc(sizes[i]);
        if (!p) {
            fprintf(stderr, "FAIL malloc(%zu) still fails after %s was freed (errno %d, VmSize %zu kB, limit %zu kB)\n",
                    sizes[i], after, errno, status_kb("VmSize:"), limit_kb);
            if (getenv("HAKMEM_STATS")) ((void (*)(void))dlsym(RTLD_DEFAULT, "hakmem_stats_print"))();
            exit(1);
        }
        memset(p, 1, sizes[i]);
        free(p);
    }
}

static void t_oom(void) {
    CHECK(is_hakmem());
    const char *h = getenv("FAULTS_HEADROOM_MIB");
    if (h) headroom_mib = strtoull(h, NULL, 10);
    sentinels_make();
    set_limit();
    /* 1. Requests larger than the whole headroom fail at once, through every entry point. */
    int err;
    for (int e = 0; e < E_NEP; e++) {
        void *p = alloc_via(e, 512 * MiB, &err);
        if (p || err != ENOMEM) {
            fprintf(stderr, "FAIL %s(512 MiB) = %p errno %d\n", EP_NAME[e], p, err);
            exit(1);
        }
    }
    /* realloc that cannot grow leaves every kind of block where it was, contents kept */
    for (size_t i = 0; i < NSENT; i++) {
        errno = 0;
        void *q = realloc(sent[i], 512 * MiB);
        CHECK(q == NULL && errno == ENOMEM);
        errno = 0;
        q = reallocarray(sent[i], 64, 8 * MiB);
        CHECK(q == NULL && errno == ENOMEM);
    }
    sentinels_check("after failed realloc");
    /* 2. Exhaust the headroom through each entry point and size kind, then recover. */
    size_t sizes[] = {64, 1000, 20000, 100000, 3 * MiB};
    unsigned seed = 1;
    for (int e = 0; e < E_NEP; e++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            size_t n = exhaust(e, sizes[s], seed++);
            char what[64];
            snprintf(what, sizeof what, "%s(%zu) x %zu", EP_NAME[e], sizes[s], n);
            recovered(what);
            if (e == E_MALLOC) printf("fit %s=%zu\n", EP_NAME[e], n);
        }
    /* 3. realloc while exhausted: fill with small blocks, then grow a sentinel */
    size_t n = 0;
    while (n < MAXHOLD && (hold[n] = malloc(4000)) != NULL) n++;
    CHECK(n > 0);
    for (size_t i = 0; i < NSENT; i++) {
        errno = 0;
        void *q = realloc(sent[i], SENT_SIZES[i] + SENT_SIZES[i] / 2 + 1000);
        if (q) { /* grew in place or moved into the little that was left: contents must follow */
            sent[i] = q;
            CHECK(intact(q, SENT_SIZES[i], 7 * i + 1));
        } else {
            CHECK(errno == ENOMEM);
        }
    }
    sentinels_check("after realloc while exhausted");
    for (size_t i = 0; i < n; i++) free(hold[i]);
    recovered("the 4000-byte fill");
    for (size_t i = 0; i < NSENT; i++) free(sent[i]);
    printf("headroom_mib=%zu\n", headroom_mib);
}

/* Memory the allocator caches (warm pool, huge cache, empty slabs) must not keep a freed
 * burst's address space from other kinds of blocks: fill with one kind until ENOMEM, free it
 * all, then every other kind must fit again. */
static void t_oom_cache(void) {
    sentinels_make();
    set_limit();
    size_t kinds[] = {64, 20000, 100000, 3 * MiB};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t n = exhaust(E_MALLOC, kinds[k], (unsigned)k + 11);
        char what[64];
        snprintf(what, sizeof what, "malloc(%zu) x %zu", kinds[k], n);
        recovered(what);
    }
    sentinels_check("after the cache check");
    printf("cache_ok\n");
}

/* OOM hit first by a thread that never allocated before: its heap (and first block) must be
 * made at the edge. The threads exist before memory runs out (their stacks are mapped), wait
 * on a barrier while the main thread fills the headroom, then all allocate at once. */
static pthread_barrier_t oom_gate;
static atomic_int oom_first_failed, oom_got;

static void *oom_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&oom_gate);
    size_t n = 0;
    void *mine[64];
    errno = 0;
    while (n < 64 && (mine[n] = malloc(n % 2 ? 100000 : 700)) != NULL) { memset(mine[n], 3, n % 2 ? 100000 : 700); n++; }
    int e = errno;
    if (n == 0) atomic_fetch_add(&oom_first_failed, 1);
    atomic_fetch_add(&oom_got, (int)n);
    for (size_t i = 0; i < n; i++) free(mine[i]);
    return n < 64 && e != ENOMEM ? (void *)2 : NULL; /* stopped early: must be ENOMEM */
}

/* small stacks: 8 default 8 MiB stacks would not fit in the headroom */
static pthread_attr_t *small_stack(void) {
    static pthread_attr_t a;
    static int done;
    if (!done) { pthread_attr_init(&a); pthread_attr_setstacksize(&a, 256 * 1024); done = 1; }
    return &a;
}

static void oom_thread_round(int nthreads) {
    pthread_t t[8];
    pthread_barrier_init(&oom_gate, NULL, nthreads + 1);
    for (int i = 0; i < nthreads; i++) CHECK(pthread_create(&t[i], small_stack(), oom_thread, NULL) == 0);
    pthread_barrier_wait(&oom_gate);
    for (int i = 0; i < nthreads; i++) { void *r; pthread_join(t[i], &r); CHECK(r == NULL); }
    pthread_barrier_destroy(&oom_gate);
}

static void t_oom_threads(void) {
    sentinels_make();
    set_limit();
    for (int round = 0; round < 5; round++) {
        /* the threads are created first (stacks mapped), then memory is filled */
        pthread_barrier_init(&oom_gate, NULL, 9);
        pthread_t th[8];
        for (int i = 0; i < 8; i++) CHECK(pthread_create(&th[i], small_stack(), oom_thread, NULL) == 0);
        size_t n = 0;
        errno = 0;
        while (n < MAXHOLD && (hold[n] = malloc(1000)) != NULL) n++;
        CHECK(errno == ENOMEM);
        pthread_barrier_wait(&oom_gate);
        for (int i = 0; i < 8; i++) { void *r; pthread_join(th[i], &r); CHECK(r == NULL); }
        pthread_barrier_destroy(&oom_gate);
        for (size_t i = 0; i < n; i++) free(hold[i]);
        sentinels_check("after threads hit OOM");
        /* memory is back: fresh threads get their blocks */
        int before = atomic_load(&oom_got);
        oom_thread_round(4);
        if (atomic_load(&oom_got) - before < 4 * 64) {
            fprintf(stderr, "FAIL new threads got only %d blocks after memory was freed\n", atomic_load(&oom_got) - before);
            exit(1);
        }
    }
    recovered("filled memory and 40 threads at OOM");
    printf("threads_first_malloc_failed=%d\n", atomic_load(&oom_first_failed));
    CHECK(atomic_load(&oom_first_failed) > 0); /* the edge was really hit by a fresh thread */
    printf("threads_ok\n");
}

/* ==== fork ================================================================================ */

enum { FW = 3, SLOTS = 256 };
static _Atomic(unsigned char *) slot[FW][SLOTS];
static atomic_int fstop;
static atomic_ulong fops;

static size_t slot_size(unsigned v) { return 8 + (v * 2654435761u) % (v % 16 == 0 ? 300000 : 2000); }

/* A block's first 8 bytes: its size (so any process can check and free it); then a fill. */
static unsigned char *make_block(unsigned v) {
    size_t n = slot_size(v);
    if (n < 16) n = 16;
    unsigned char *p = malloc(n);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    memset(p + 8, (unsigned char)n, n - 8);
    return p;
}
static int block_ok(const unsigned char *p) {
    size_t n;
    memcpy(&n, p, sizeof n);
    if (n < 16 || n > 400000) return 0;
    return p[8] == (unsigned char)n && p[n - 1] == (unsigned char)n && malloc_usable_size((void *)p) >= n;
}

static void *fork_worker(void *arg) {
    int w = (int)(intptr_t)arg;
    unsigned v = (unsigned)w * 1000003u;
    while (!atomic_load(&fstop)) {
        for (int k = 0; k < 64; k++) {
            v = v * 1103515245u + 12345u;
            unsigned i = (v >> 8) % SLOTS;
            unsigned char *old = atomic_exchange(&slot[w][i], NULL);
            if (old) {
                if (!block_ok(old)) { fprintf(stderr, "FAIL worker saw a corrupted block\n"); _exit(9); }
                free(old);
            }
            unsigned char *p = make_block(v >> 4);
            atomic_store(&slot[w][i], p); /* fully written before it is published */
        }
        atomic_fetch_add(&fops, 64);
    }
    return NULL;
}

static void *child_thread(void *arg) {
    unsigned char **blocks = arg; /* blocks of the forked process's main thread: remote frees */
    for (int i = 0; i < 200; i++) {
        if (!block_ok(blocks[i])) return (void *)1;
        free(blocks[i]);
    }
    for (int r = 0; r < 50; r++) {
        void *ps[64];
        for (int i = 0; i < 64; i++) { ps[i] = malloc(16 + i * 40); if (!ps[i]) return (void *)2; memset(ps[i], i, 16 + i * 40); }
        for (int i = 0; i < 64; i++) free(ps[i]);
    }
    return NULL;
}

/* In a forked process: check and free every inherited block, use threads, and (depth > 0)
 * fork again. Returns the exit code. */
static int child_body(int depth) {
    int bad = 0, freed = 0;
    /* free a part of the blocks of every (now gone) parent thread */
    for (int w = 0; w < FW; w++)
        for (int i = 0; i < SLOTS; i++) {
            if (depth > 0 && i % 2) continue; /* leave some for the grandchild */
            unsigned char *p = atomic_exchange(&slot[w][i], NULL);
            if (!p) continue;
            if (!block_ok(p)) bad++;
            free(p);
            freed++;
        }
    if (bad) return 3;
    /* new blocks handed to a thread of this process for remote freeing */
    static unsigned char *mine[200];
    for (int i = 0; i < 200; i++) if (!(mine[i] = make_block(i * 7919u + depth))) return 4;
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, mine) != 0) return 5;
    void *r;
    pthread_join(t, &r);
    if (r) return 6;
    if (depth > 0) {
        pid_t g = fork();
        if (g < 0) return 7;
        if (g == 0) _exit(child_body(depth - 1));
        int st = 0;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 8;
        /* the rest of what the grandchild freed in its own copy: free it here too */
        for (int w = 0; w < FW; w++)
            for (int i = 0; i < SLOTS; i++) {
                unsigned char *p = atomic_exchange(&slot[w][i], NULL);
                if (p) { if (!block_ok(p)) return 3; free(p); }
            }
    }
    /* a big burst after all that */
    void *big[100];
    for (int i = 0; i < 100; i++) if (!(big[i] = malloc(i % 10 == 0 ? 2 * MiB : 5000))) return 10;
    for (int i = 0; i < 100; i++) free(big[i]);
    (void)freed;
    return 0;
}

static void t_fork_stress(int rounds) {
    pthread_t w[FW];
    for (int i = 0; i < FW; i++) CHECK(pthread_create(&w[i], NULL, fork_worker, (void *)(intptr_t)i) == 0);
    while (atomic_load(&fops) < 20000) usleep(1000);
    int children = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(child_body(round % 3 == 0 ? 2 : 1));
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAIL fork round %d: child status %#x (exit %d, signal %d)\n", round, st,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            exit(1);
        }
        children += round % 3 == 0 ? 3 : 2;
        usleep(2000);
    }
    atomic_store(&fstop, 1);
    for (int i = 0; i < FW; i++) pthread_join(w[i], NULL);
    for (int k = 0; k < FW; k++)
        for (int i = 0; i < SLOTS; i++) {
            unsigned char *p = slot[k][i];
            if (p) { CHECK(block_ok(p)); free(p); }
        }
    printf("forks=%d processes=%d worker_ops=%lu\n", rounds, children, atomic_load(&fops));
}

/* ==== thread churn ========================================================================= */

enum { CHURN_KEEP = 16 };
static void *handoff[2][64 * CHURN_KEEP]; /* blocks left by one round's threads, freed by the next */

struct churn_arg { int id; int round; void **out; void **in; };

static void *churn_thread(void *a) {
    struct churn_arg *c = a;
    /* free blocks from threads of the previous round (their owners have exited) */
    for (int i = 0; i < CHURN_KEEP; i++)
        if (c->in[i]) { unsigned char *p = c->in[i]; if (p[0] != 0x3c) return (void *)1; free(p); c->in[i] = NULL; }
    void *ps[256];
    for (int r = 0; r < 4; r++) {
        for (int i = 0; i < 256; i++) {
            size_t n = i % 64 == 0 ? 40000 + i * 100 : 16 + ((i * 37 + c->id + r) % 1500);
            ps[i] = malloc(n);
            if (!ps[i]) return (void *)2;
            memset(ps[i], 0x3c, n < 64 ? n : 64);
        }
        for (int i = 0; i < 256; i++) free(ps[i]);
    }
    for (int i = 0; i < CHURN_KEEP; i++) {
        size_t n = i == 0 ? 100000 : 24 + i * 50; /* one large block, the rest small */
        unsigned char *p = malloc(n);
        if (!p) return (void *)2;
        memset(p, 0x3c, n);
        c->out[i] = p;
    }
    return NULL;
}

static size_t rss_kb(void) { return status_kb("VmRSS:"); }
static size_t mapped_kb(void) {
    hakmem_stats_t st;
    memset(&st, 0, sizeof st);
    size_t (*get)(hakmem_stats_t *, size_t) = (size_t (*)(hakmem_stats_t *, size_t))dlsym(RTLD_DEFAULT, "hakmem_stats_get");
    CHECK(get && get(&st, sizeof st) == sizeof st);
    return st.mapped_bytes / 1024;
}

/* rounds of 64 threads (8 at a time). The resident and mapped figures move between levels
 * with timing (how many heaps are alive at once, what the warm pool holds), so each window is
 * summed up by its maximum: window A = rounds [R/4, R/2), window B = the last quarter. A leak
 * raises B's maximum above A's by far more than the tolerance over thousands of threads. */
static void t_churn(int rounds) {
    size_t rss_a = 0, rss_b = 0, map_a = 0, map_b = 0;
    int cur = 0, threads = 0;
    for (int round = 0; round < rounds; round++) {
        struct churn_arg args[64];
        for (int b = 0; b < 64; b += 8) {
            pthread_t t[8];
            for (int k = 0; k < 8; k++) {
                args[b + k] = (struct churn_arg){b + k, round, &handoff[cur ^ 1][(b + k) * CHURN_KEEP],
                                                 &handoff[cur][(b + k) * CHURN_KEEP]};
                CHECK(pthread_create(&t[k], NULL, churn_thread, &args[b + k]) == 0);
            }
            for (int k = 0; k < 8; k++) {
                void *r;
                pthread_join(t[k], &r);
                CHECK(r == NULL);
                threads++;
            }
        }
        cur ^= 1;
        size_t rss = rss_kb(), map = mapped_kb();
        if (round >= rounds / 4 && round < rounds / 2) {
            if (rss > rss_a) rss_a = rss;
            if (map > map_a) map_a = map;
        } else if (round >= rounds - rounds / 4) {
            if (rss > rss_b) rss_b = rss;
            if (map > map_b) map_b = map;
        }
    }
    for (int i = 0; i < 64 * CHURN_KEEP; i++) { free(handoff[0][i]); free(handoff[1][i]); }
    printf("threads=%d rss_warm_kb=%zu rss_end_kb=%zu mapped_warm_kb=%zu mapped_end_kb=%zu\n", threads, rss_a, rss_b,
           map_a, map_b);
    CHECK(rss_a > 0 && rss_b > 0);
    /* flat: B's peak at most 25 % + 8 MiB over A's (RSS), 12 MiB (mapped) */
    if (rss_b > rss_a + rss_a / 4 + 8192) {
        fprintf(stderr, "FAIL RSS grew from %zu kB to %zu kB over %d threads\n", rss_a, rss_b, threads);
        exit(1);
    }
    if (map_b > map_a + 12288) {
        fprintf(stderr, "FAIL mapped memory grew from %zu kB to %zu kB over %d threads\n", map_a, map_b, threads);
        exit(1);
    }
}

/* ==== a bit of everything, for valgrind ================================================== */

static void *mix_thread(void *arg) {
    void **give = arg;
    for (int i = 0; i < 2000; i++) {
        size_t n = (i * 7919u) % (i % 50 == 0 ? 300000 : 1100) + 1;
        unsigned char *p = malloc(n);
        if (!p) return (void *)1;
        memset(p, i, n);
        if (i % 3 == 0) p = realloc(p, n * 2 + 1);
        if (!p) return (void *)1;
        if (i < 200) give[i] = p; else free(p);
    }
    return NULL;
}

static size_t mapped_kb(void);

static void t_mix(void) {
    CHECK(is_hakmem());
    static void *given[4][200];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, mix_thread, given[i]) == 0);
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); CHECK(r == NULL); }
    for (int i = 0; i < 4; i++) for (int k = 0; k < 200; k++) free(given[i][k]); /* owners gone */
    void *a = NULL;
    CHECK(posix_memalign(&a, 65536, 100000) == 0); free(a);
    a = aligned_alloc(1 << 20, 3 * MiB); CHECK(a); memset(a, 0, 3 * MiB); free(a);
    a = calloc(1000, 1000); CHECK(a); free(a);
    a = realloc(NULL, 5 * MiB); a = realloc(a, 20 * MiB); a = realloc(a, 100); CHECK(a); free(a);
    CHECK(malloc(SIZE_MAX / 2) == NULL);
    CHECK(mapped_kb() > 0); /* hakmem, not a checker's replacement, served all of that */
}

/* ==== bad input: each of these must abort with one hakmem line ============================ */

static volatile void *sink;

static void *alloc_in_thread(void *arg) { return malloc((size_t)(uintptr_t)arg); }

/* Start threads that allocate and exit, so one adopts the owner heap and drains its
 * inbox; then allocate many blocks: one handed out twice is corruption (returns 3). */
static int drain_owner_and_check_duplicates(size_t sz, int check) {
    pthread_t t;
    for (int i = 0; i < 4; i++) {
        void *p;
        pthread_create(&t, NULL, alloc_in_thread, (void *)(uintptr_t)sz);
        pthread_join(t, &p);
        free(p);
    }
    if (!check) return 0;
    static void *seen[4096];
    for (int i = 0; i < 4096; i++) {
        seen[i] = malloc(sz);
        for (int k = 0; k < i; k++) if (seen[k] == seen[i]) { puts("DUPLICATE"); return 3; }
    }
    return 0;
}
static size_t bad_size = 100;
static void *alloc_many_in_thread(void *arg) {
    void **out = arg;
    for (int i = 0; i < 65; i++) out[i] = malloc(bad_size);
    return NULL;
}

static int bad(const char *c, const char *arg) {
    size_t sz = arg ? strtoull(arg, NULL, 0) : 100;
    bad_size = sz;
    if (!strcmp(c, "realloc-stack")) { char x[32]; sink = realloc(x, 100); }
    else if (!strcmp(c, "realloc-mmap")) {
        void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        sink = realloc((char *)m + 64, 100);
    }
    else if (!strcmp(c, "realloc-freed")) { void *p = malloc(sz); free(p); sink = realloc(p, sz * 4); }
    else if (!strcmp(c, "free-stack")) { char x[32]; free(x); }
    else if (!strcmp(c, "free-static")) { static char s[64]; free(s + 16); }
    else if (!strcmp(c, "free-mmap")) {
        void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        free(m);
    }
    else if (!strcmp(c, "free-huge-interior")) { char *p = malloc(sz); memset(p, 1, sz); free(p + sz / 2); }
    else if (!strcmp(c, "free-large-interior")) { char *p = malloc(sz); free(p + 4096); }
    else if (!strcmp(c, "double-free")) { void *p = malloc(sz); memset(p, 1, sz); free(p); free(p); }
    else if (!strcmp(c, "double-free-after-other")) {
        /* large/huge: free a, allocate and free something else, free a again */
        void *p = malloc(sz); free(p); void *q = malloc(sz / 2 + 1); free(q); free(p);
    }
    else if (!strcmp(c, "interior")) { char *p = malloc(sz); free(p + 8); }
    else if (!strcmp(c, "double-free-aba")) {
        void *a = malloc(sz), *b = malloc(sz);
        free(a); free(b); free(a);
    }
    else if (!strcmp(c, "double-free-flushed")) {
        /* free a, then push enough blocks of its class that a is flushed to its slab */
        void *a = malloc(sz);
        void *ps[4096];
        for (int i = 0; i < 4096; i++) ps[i] = malloc(sz);
        free(a);
        for (int i = 0; i < 4096; i++) free(ps[i]);
        free(a);
    }
    else if (!strcmp(c, "double-free-flushed-live")) {
        /* as above, but a neighbour in a's slab stays live, so the slab (and a in its free
         * list) stays: only the hardened walk of the slab's free list can see it */
        void *a = malloc(sz), *keep = malloc(sz);
        void *ps[4096];
        for (int i = 0; i < 4096; i++) ps[i] = malloc(sz);
        free(a);
        for (int i = 0; i < 4096; i++) free(ps[i]);
        free(a);
        sink = keep;
    }
    else if (!strcmp(c, "double-free-remote-far")) {
        /* remote, far apart: free a, 64 other blocks of the same owner (the remote batch is
         * sent in between), free a again; then the heap is adopted and its inbox drained */
        pthread_t t;
        static void *blocks[65];
        pthread_create(&t, NULL, alloc_many_in_thread, blocks);
        pthread_join(t, NULL);
        free(blocks[0]);
        for (int i = 1; i < 65; i++) free(blocks[i]);
        free(blocks[0]);
        if (drain_owner_and_check_duplicates(sz, 1)) return 3;
    }
    else if (!strcmp(c, "double-free-remote-aba")) {
        /* remote, not adjacent: free a, free b, free a (a and b owned by an exited thread) */
        pthread_t t;
        void *a, *b;
        pthread_create(&t, NULL, alloc_in_thread, (void *)(uintptr_t)sz);
        pthread_join(t, &a);
        pthread_create(&t, NULL, alloc_in_thread, (void *)(uintptr_t)sz);
        pthread_join(t, &b);
        free(a); free(b); free(a);
        if (drain_owner_and_check_duplicates(sz, 1)) return 3;
    }
    else if (!strcmp(c, "double-free-remote")) {
        /* the block belongs to another (exited) thread; this thread frees it twice */
        pthread_t t;
        void *p;
        pthread_create(&t, NULL, alloc_in_thread, (void *)(uintptr_t)sz);
        pthread_join(t, &p);
        free(p); free(p);
        /* make the owner's inbox be drained (a new thread adopts the heap) */
        drain_owner_and_check_duplicates(sz, 0);
    }
    else return 2;
    puts("survived");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer to allocate while memory is short */
    if (argc < 2) { fprintf(stderr, "usage: faults <check> [arg]\n"); return 2; }
    const char *c = argv[1], *arg = argc > 2 ? argv[2] : NULL;
    if (!strcmp(c, "oom")) t_oom();
    else if (!strcmp(c, "oom-threads")) t_oom_threads();
    else if (!strcmp(c, "oom-cache")) t_oom_cache();
    else if (!strcmp(c, "fork-stress")) t_fork_stress(arg ? atoi(arg) : 30);
    else if (!strcmp(c, "churn")) t_churn(arg && atoi(arg) >= 8 ? atoi(arg) : 40);
    else if (!strcmp(c, "mix")) t_mix();
    else {
        int r = bad(c, arg);
        if (r == 2) { fprintf(stderr, "unknown check %s\n", c); return 2; }
        return r;
    }
    printf("ok %s\n", c);
    return 0;
}
