/* Robustness cases under LD_PRELOAD=libhakmem.so (driven by tests/robustness.rs).
 * Usage: robust <case> [args]   (one case per run so a failure names itself)
 * Legal cases print "ok <case>" (plus "key=value" figures) and exit 0. Illegal input
 * (double free, interior free, realloc of a freed block, write-after-free) prints
 * "victim=0x..." first; it must end in SIGABRT with one "hakmem: " line, or, where the
 * test accepts it, "survived" after checking that no block was handed out twice and no
 * forged address was returned. Exit codes: 1 check failed, 2 usage, 3 a block handed out
 * twice, 4 a forged address returned, 5 a child failed or hung.
 * `dlopen` runs without LD_PRELOAD: it loads the library given as argv[2] itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno);        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define MiB ((size_t)1 << 20)

static volatile void *sink;

/* write(2) only: safe in atfork handlers and while the allocator may be broken. */
static void say(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Allocate `n` blocks of `sz` and keep them all live: a pointer handed out twice (a cycle
 * in a free list after a double free) or inside [lo, hi) (a forged link) ends the run. */
static void distinct_mallocs(size_t sz, int n, uintptr_t lo, uintptr_t hi) {
    static void *v[256];
    if (n > 256) n = 256;
    for (int i = 0; i < n; i++) {
        v[i] = malloc(sz);
        uintptr_t a = (uintptr_t)v[i];
        if (hi > lo && a + sz > lo && a < hi) {
            printf("FORGED malloc(%zu) #%d returned %p inside the forged range [%#lx, %#lx)\n", sz, i, v[i],
                   (unsigned long)lo, (unsigned long)hi);
            exit(4);
        }
        for (int k = 0; k < i; k++)
            if (v[k] && v[k] == v[i]) {
                printf("DUPLICATE malloc(%zu) #%d and #%d both returned %p\n", sz, k, i, v[i]);
                exit(3);
            }
        if (v[i]) memset(v[i], 0xa5, sz);
    }
    for (int i = 0; i < n; i++) free(v[i]);
}

/* ==== 1. fork and atfork handlers ======================================================= */

static size_t af_size = 64;
static int af_which; /* 1 prepare, 2 parent, 4 child */
static atomic_int af_calls;

static void af_alloc(void) {
    char *p = malloc(af_size);
    if (!p) {
        say("FAIL atfork handler: malloc returned NULL\n");
        _exit(1);
    }
    p[0] = 1;
    p[af_size - 1] = 2;
    sink = p;
    free(p);
    atomic_fetch_add(&af_calls, 1);
}
static void af_prepare(void) {
    if (af_which & 1) af_alloc();
}
static void af_parent(void) {
    if (af_which & 2) af_alloc();
}
static void af_child(void) {
    if (af_which & 4) af_alloc();
}

/* What a child does after fork: allocate, check and free a mix of sizes, exit 0. */
static void child_body(void) {
    if ((af_which & 4) && atomic_load(&af_calls) == 0) {
        say("FAIL child: the atfork child handler never ran\n");
        _exit(1);
    }
    static const size_t sizes[] = {16, 64, 200, 1024, 5000, 40000, 200000, MiB, 3 * MiB};
    void *v[64];
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 64; i++) {
            size_t sz = sizes[i % 9];
            v[i] = malloc(sz);
            if (!v[i]) {
                say("FAIL child: malloc returned NULL\n");
                _exit(1);
            }
            memset(v[i], i, sz < 4096 ? sz : 4096);
        }
        for (int i = 0; i < 64; i++)
            for (int k = 0; k < i; k++)
                if (v[k] == v[i]) {
                    say("FAIL child: a block handed out twice\n");
                    _exit(3);
                }
        for (int i = 0; i < 64; i++) {
            unsigned char *c = v[i];
            if (c[0] != (unsigned char)i) {
                say("FAIL child: block contents changed\n");
                _exit(1);
            }
            free(v[i]);
        }
    }
    exit(0);
}

/* waitpid with a deadline: a child that hangs (a lock held across fork) is killed and
 * reported instead of hanging the test. Returns 0 when the child exited 0. */
static int wait_child(pid_t pid, const char *what) {
    for (int i = 0; i < 1500; i++) { /* 15 s */
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
            fprintf(stderr, "FAIL %s: child %s %d\n", what, WIFSIGNALED(st) ? "killed by signal" : "exited with",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            return 1;
        }
        if (r < 0) {
            fprintf(stderr, "FAIL %s: waitpid: %s\n", what, strerror(errno));
            return 1;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "FAIL %s: child hung (killed after 15 s)\n", what);
    return 1;
}

static int fork_once(const char *what) {
    say("forking\n");
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "FAIL %s: fork: %s\n", what, strerror(errno));
        return 1;
    }
    if (pid == 0) child_body();
    say("parent after fork\n");
    /* the parent keeps allocating too */
    distinct_mallocs(64, 32, 0, 0);
    distinct_mallocs(100000, 8, 0, 0);
    return wait_child(pid, what);
}

static void *fork_in_thread(void *arg) {
    return (void *)(uintptr_t)fork_once((const char *)arg);
}

static atomic_int busy_stop;
static void *busy_thread(void *arg) {
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u | 1;
    void *slot[64] = {0};
    while (!atomic_load(&busy_stop)) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int i = x % 64;
        free(slot[i]);
        size_t sz = (x >> 8) % 5 == 0 ? 8 + (x >> 12) % 300000 : 8 + (x >> 12) % 2000;
        slot[i] = malloc(sz);
        if (slot[i]) memset(slot[i], 1, sz < 256 ? sz : 256);
    }
    for (int i = 0; i < 64; i++) free(slot[i]);
    return NULL;
}

static int t_fork(const char *c) {
    if (!strcmp(c, "fork-thread") || !strcmp(c, "atfork-thread")) {
        /* the forking thread is new and never allocated before fork */
        pthread_t t;
        void *r;
        CHECK(pthread_create(&t, NULL, fork_in_thread, (void *)c) == 0);
        CHECK(pthread_join(t, &r) == 0);
        if (r) return 5;
    } else if (!strcmp(c, "fork-busy")) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, busy_thread, (void *)(uintptr_t)(i + 1)) == 0);
        int bad = 0;
        for (int k = 0; k < 20 && !bad; k++) {
            bad = fork_once(c);
            usleep(2000);
        }
        atomic_store(&busy_stop, 1);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        if (bad) return 5;
    } else {
        if (fork_once(c)) return 5;
        if (fork_once(c)) return 5;
    }
    printf("atfork_handler_mallocs=%d\n", atomic_load(&af_calls));
    if ((af_which & 3) && atomic_load(&af_calls) == 0) {
        fprintf(stderr, "FAIL %s: the atfork handler never ran\n", c);
        return 1;
    }
    return 0;
}

/* ==== 2-4, 8. double free, interior free, realloc of a freed block ===================== */

static int t_double_free(size_t sz) {
    void *v[11];
    for (int i = 0; i < 11; i++) {
        v[i] = malloc(sz);
        CHECK(v[i]);
        memset(v[i], i, sz);
    }
    printf("victim=%p\n", v[0]);
    free(v[0]);
    for (int i = 1; i < 11; i++) free(v[i]); /* v[0] is now below 10 others of its size */
    free(v[0]);
    distinct_mallocs(sz, 64, 0, 0);
    puts("survived");
    return 0;
}

static int t_double_free_large(size_t sz) {
    char *p = malloc(sz);
    CHECK(p);
    memset(p, 1, sz);
    printf("victim=%p\n", (void *)p);
    free(p);
    free(p);
    distinct_mallocs(sz, 16, 0, 0);
    puts("survived");
    return 0;
}

static int t_interior(size_t sz, size_t off) {
    char *p = malloc(sz);
    CHECK(p);
    memset(p, 1, sz);
    printf("victim=%p\n", (void *)(p + off));
    free(p + off);
    distinct_mallocs(sz, 64, 0, 0);
    puts("survived");
    return 0;
}

static int t_realloc_freed(size_t sz) {
    void *v[11];
    for (int i = 0; i < 11; i++) {
        v[i] = malloc(sz);
        CHECK(v[i]);
    }
    printf("victim=%p\n", v[0]);
    free(v[0]);
    for (int i = 1; i < 11; i++) free(v[i]);
    void *q = realloc(v[0], sz * 2);
    printf("realloc returned %p\n", q);
    distinct_mallocs(sz, 64, 0, 0);
    puts("survived");
    return 0;
}

/* ==== 5. write-after-free with a forged free-list link =================================== */

static char forged_global[4096] __attribute__((aligned(64)));

static int t_waf(size_t sz, const char *where) {
    char stack_area[4096] __attribute__((aligned(64)));
    uintptr_t forged;
    if (!strcmp(where, "global")) forged = (uintptr_t)forged_global + 64;
    else if (!strcmp(where, "stack")) forged = (uintptr_t)stack_area + 64;
    else if (!strcmp(where, "unmapped")) forged = 0xdead0000;
    else return 2;
    memset(forged_global, 0, sizeof forged_global);
    memset(stack_area, 0, sizeof stack_area);
    sink = stack_area;
    /* a few neighbours so the victim is an ordinary block in a used slab */
    void *keep[4];
    for (int i = 0; i < 4; i++) keep[i] = malloc(sz);
    char *p = malloc(sz);
    CHECK(p);
    printf("victim=%p forged=%#lx\n", (void *)p, (unsigned long)forged);
    free(p);
    uintptr_t w[2] = {forged, forged};
    memcpy(p, w, 16); /* the write after free: a forged next pointer (twice, any layout) */
    distinct_mallocs(sz, 8, forged - 64, forged + 4096);
    for (int i = 0; i < 4; i++) free(keep[i]);
    puts("survived");
    return 0;
}

/* ==== 5b. wild frees around the SuperSlab arena ========================================== */

/* Addresses a free must read as "not a block" without faulting. With the arena box on,
 * hakmem's SuperSlabs lie in one 16 GiB window aligned to its size, and the free path reads
 * the header of any chunk in it: the chunks that hold no SuperSlab must read as such.
 *   far:   15.5 GiB into the window of a live block (a chunk never used)
 *   head:  16 bytes into the chunk of a live block (its header, not a block)
 *   gone:  a block freed again after its SuperSlab emptied (pooled, decommitted or given
 *          back, by the release policy in force) */
static int t_wild(const char *where) {
    char *p = malloc(64);
    CHECK(p);
    uintptr_t a = (uintptr_t)p, bad;
    if (!strcmp(where, "far")) {
        uintptr_t window = a & ~((1ull << 34) - 1);
        bad = window + (31ull << 29) + 64;
        if (bad == a) bad += 4096;
    } else if (!strcmp(where, "head")) {
        bad = (a & ~((uintptr_t)(2 << 20) - 1)) + 16;
    } else if (!strcmp(where, "gone")) {
        enum { N = 64 * 1024 };
        static void *blocks[N];
        for (int i = 0; i < N; i++) CHECK(blocks[i] = malloc(1024));
        for (int i = 0; i < N; i++) free(blocks[i]);
        bad = (uintptr_t)blocks[N - 1];
    } else {
        return 2;
    }
    printf("block=%p bad=%#lx\n", (void *)p, (unsigned long)bad);
    fflush(stdout);
    free((void *)bad);
    puts("survived");
    return 0;
}

/* ==== 6. dlopen, a thread allocates, dlclose, the thread exits =========================== */

static pthread_barrier_t dl_bar;
static void *(*dl_malloc)(size_t);
static void (*dl_free)(void *);

static void *dl_thread(void *arg) {
    (void)arg;
    void *v[16];
    for (int i = 0; i < 16; i++) {
        v[i] = dl_malloc(16 + 100 * i);
        if (!v[i]) {
            say("FAIL dlopen thread: malloc returned NULL\n");
            _exit(1);
        }
        memset(v[i], i, 16);
    }
    for (int i = 0; i < 16; i += 2) dl_free(v[i]);
    for (int i = 1; i < 16; i += 2) dl_free(v[i]);
    pthread_barrier_wait(&dl_bar); /* allocated */
    pthread_barrier_wait(&dl_bar); /* the library is closed: exit (thread-exit hooks run) */
    return NULL;
}

static int t_dlopen(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "FAIL dlopen(%s): %s\n", path, dlerror());
        return 1;
    }
    dl_malloc = (void *(*)(size_t))dlsym(h, "malloc");
    dl_free = (void (*)(void *))dlsym(h, "free");
    if (!dl_malloc || !dl_free) {
        fprintf(stderr, "FAIL dlsym: %s\n", dlerror());
        return 1;
    }
    CHECK(pthread_barrier_init(&dl_bar, NULL, 2) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, dl_thread, NULL) == 0);
    pthread_barrier_wait(&dl_bar);
    int r = dlclose(h);
    printf("dlclose=%d\n", r);
    pthread_barrier_wait(&dl_bar);
    CHECK(pthread_join(t, NULL) == 0);
    puts("thread exited");
    return 0;
}

/* ==== 7. the cost of free stays flat as the number of live blocks grows ================== */

static double per_free_ns(size_t n) {
    void **v = malloc(n * sizeof *v);
    CHECK(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(16);
        CHECK(v[i]);
        *(volatile char *)v[i] = 1;
    }
    double t = now_s();
    for (size_t i = 0; i < n; i++) free(v[i]);
    double ns = (now_s() - t) * 1e9 / (double)n;
    free(v);
    return ns;
}

/* The best of 5 rounds per N: a round that lost the CPU to another process (the tests run
   on loaded 2-core machines) measures the scheduler, not free. */
static int t_linear(int argc, char **argv) {
    for (int i = 2; i < argc; i++) {
        size_t n = strtoull(argv[i], NULL, 10);
        double ns = per_free_ns(n);
        for (int r = 1; r < 5; r++) {
            double t = per_free_ns(n);
            if (t < ns) ns = t;
        }
        printf("per_free_ns_%zu=%.2f\n", n, ns);
    }
    return 0;
}

/* ==== 9. 1 MiB blocks under RLIMIT_AS ==================================================== */

static size_t status_kb(const char *key) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static int t_rlimit_1m(void) {
    static void *v[4096];
    size_t vm = status_kb("VmSize:") * 1024;
    CHECK(vm > 0);
    struct rlimit rl = {vm + 256 * MiB, vm + 256 * MiB};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    int n = 0;
    for (; n < 4096; n++) {
        errno = 0;
        v[n] = malloc(MiB);
        if (!v[n]) break;
        ((volatile char *)v[n])[n % 4096] = 1;
    }
    int err = errno;
    printf("blocks_1mib=%d\n", n);
    CHECK(n < 4096);
    if (err != ENOMEM) {
        fprintf(stderr, "FAIL malloc returned NULL with errno %d, not ENOMEM\n", err);
        return 1;
    }
    for (int i = 0; i < n; i++) free(v[i]);
    /* after freeing, the blocks can be had again */
    for (int i = 0; i < n; i++) {
        v[i] = malloc(MiB);
        if (!v[i]) {
            fprintf(stderr, "FAIL after freeing all, malloc(1 MiB) #%d of %d returned NULL\n", i, n);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) free(v[i]);
    return 0;
}

/* Hardened guard pages: a write just past a huge block's page-rounded end, or into the
 * first page of a SuperSlab chunk (what a block overflowing the chunk before would hit),
 * must fault. Prints "reached" first, so the test can tell the fault came from the write. */
static int t_guard(const char *where) {
    if (!strcmp(where, "huge")) {
        size_t n = 2 * MiB + 100;
        char *p = malloc(n);
        CHECK(p);
        size_t end = (n + 4095) & ~(size_t)4095;
        memset(p, 1, n);
        printf("reached\n");
        ((volatile char *)p)[end] = 1; /* the guard page */
    } else if (!strcmp(where, "superslab")) {
        char *p = malloc(64);
        CHECK(p);
        volatile char *chunk = (volatile char *)((uintptr_t)p & ~((uintptr_t)2 * MiB - 1));
        printf("reached\n");
        chunk[100] = 1; /* the chunk's first page */
    } else {
        return 2;
    }
    printf("no fault\n");
    return 1;
}

int main(int argc, char **argv) {
    /* atfork handlers first, before the program's first malloc */
    if (argc >= 2 && (!strncmp(argv[1], "atfork-", 7))) {
        const char *w = argv[1] + 7;
        af_which = !strcmp(w, "prepare") ? 1 : !strcmp(w, "parent") ? 2 : !strcmp(w, "child") ? 4 : 7;
        if (argc >= 3) af_size = strtoull(argv[2], NULL, 0);
        if (pthread_atfork(af_prepare, af_parent, af_child) != 0) {
            say("FAIL pthread_atfork\n");
            return 1;
        }
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: robust <case> [args]\n");
        return 2;
    }
    const char *c = argv[1];
    size_t sz = argc > 2 ? strtoull(argv[2], NULL, 0) : 64;
    int r;
    if (!strncmp(c, "atfork-", 7) || !strncmp(c, "fork-", 5)) r = t_fork(c);
    else if (!strcmp(c, "double-free")) r = t_double_free(sz);
    else if (!strcmp(c, "double-free-large")) r = t_double_free_large(sz);
    else if (!strcmp(c, "interior")) r = t_interior(sz, argc > 3 ? strtoull(argv[3], NULL, 0) : 16);
    else if (!strcmp(c, "realloc-freed")) r = t_realloc_freed(sz);
    else if (!strcmp(c, "waf")) r = t_waf(sz, argc > 3 ? argv[3] : "global");
    else if (!strcmp(c, "wild")) r = argc > 2 ? t_wild(argv[2]) : 2;
    else if (!strcmp(c, "dlopen")) r = argc > 2 ? t_dlopen(argv[2]) : 2;
    else if (!strcmp(c, "linear")) r = t_linear(argc, argv);
    else if (!strcmp(c, "rlimit-1m")) r = t_rlimit_1m();
    else if (!strcmp(c, "guard")) r = argc > 2 ? t_guard(argv[2]) : 2;
    else r = 2;
    if (r == 2) fprintf(stderr, "unknown case or missing argument: %s\n", c);
    if (r == 0) printf("ok %s\n", c);
    return r;
}
