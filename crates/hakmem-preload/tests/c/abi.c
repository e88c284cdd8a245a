/* The malloc family's contract, checked under LD_PRELOAD=libhakmem.so.
 * Usage: abi <check>   (one check per run so a failure names itself)
 * Prints "ok <check>" and exits 0 on success; any other exit is a failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dlfcn.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static int is_hakmem(void) { return dlsym(RTLD_DEFAULT, "hakmem_os_calls") != NULL; }

static void t_basic(void) {
    CHECK(is_hakmem());
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b);
    CHECK(malloc_usable_size(a) >= 1);
    free(a); free(b);
    free(NULL);
    /* every size class edge, usable size fully writable */
    size_t sizes[] = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513,
                      767, 768, 769, 1023, 1024, 1025, 1039, 2048, 4095, 4096, 4097, 8192, 16384, 32767,
                      32768, 32769, 65536, 100000, 1 << 20, (1 << 20) + 1, 3 << 20, 20 << 20};
    void *ps[sizeof sizes / sizeof *sizes];
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        ps[i] = malloc(sizes[i]);
        CHECK(ps[i]);
        CHECK(((uintptr_t)ps[i] & 15) == 0);
        size_t u = malloc_usable_size(ps[i]);
        CHECK(u >= sizes[i]);
        memset(ps[i], (int)i, u);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = ps[i];
        for (size_t k = 0; k < sizes[i]; k += 97) CHECK(p[k] == (unsigned char)i);
        free(ps[i]);
    }
}

static void t_calloc(void) {
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc((size_t)1 << 40, (size_t)1 << 30) == NULL && errno == ENOMEM);
    for (int round = 0; round < 3; round++) {
        size_t sizes[] = {1, 24, 100, 1000, 5000, 40000, 300000, 2 << 20};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            unsigned char *p = malloc(sizes[i]);
            memset(p, 0xAB, sizes[i]);
            free(p);
            p = calloc(1, sizes[i]);
            CHECK(p);
            for (size_t k = 0; k < sizes[i]; k++) CHECK(p[k] == 0);
            free(p);
        }
    }
}

static void t_impossible(void) {
    errno = 0;
    CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(SIZE_MAX - 4096) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(realloc(NULL, SIZE_MAX) == NULL && errno == ENOMEM);
    void *p = malloc(100);
    errno = 0;
    CHECK(realloc(p, SIZE_MAX / 2) == NULL && errno == ENOMEM);
    memset(p, 1, 100); /* the old block is untouched and still ours */
    free(p);
    errno = 0;
    CHECK(reallocarray(NULL, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(64, SIZE_MAX) == NULL && errno == ENOMEM);
}

static void t_align(void) {
    void *p = (void *)1;
    CHECK(posix_memalign(&p, 3, 10) == EINVAL);
    CHECK(posix_memalign(&p, 4, 10) == EINVAL); /* not a multiple of sizeof(void*) */
    CHECK(posix_memalign(&p, 24, 10) == EINVAL);
    CHECK(p == (void *)1);
    errno = 0;
    CHECK(aligned_alloc(3, 10) == NULL && errno == EINVAL);
    for (size_t a = 8; a <= (1 << 22); a <<= 1) {
        size_t sizes[] = {1, 8, 100, 1000, 5000, 70000, 1 << 20, 3 << 20};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            void *q = NULL;
            CHECK(posix_memalign(&q, a, sizes[i]) == 0);
            CHECK(((uintptr_t)q & (a - 1)) == 0);
            CHECK(malloc_usable_size(q) >= sizes[i]);
            memset(q, 7, malloc_usable_size(q));
            void *r = aligned_alloc(a, sizes[i]);
            CHECK(r && ((uintptr_t)r & (a - 1)) == 0);
            void *m = memalign(a, sizes[i]);
            CHECK(m && ((uintptr_t)m & (a - 1)) == 0);
            memset(r, 1, sizes[i]);
            memset(m, 2, sizes[i]);
            free(q); free(r); free(m);
        }
    }
    void *m = memalign(48, 100); /* glibc rounds a non-power-of-two up */
    CHECK(m && ((uintptr_t)m & 63) == 0);
    free(m);
    void *v = valloc(100);
    CHECK(v && ((uintptr_t)v & 4095) == 0);
    free(v);
    void *pv = pvalloc(100);
    CHECK(pv && ((uintptr_t)pv & 4095) == 0 && malloc_usable_size(pv) >= 4096);
    memset(pv, 3, 4096);
    free(pv);
}

static void t_realloc(void) {
    free(realloc(NULL, 0)); /* = malloc(0): a unique pointer (or NULL), either is fine to free */
    char *p = realloc(NULL, 10);
    CHECK(p);
    strcpy(p, "hakmem!");
    /* grow across every kind: tiny -> small -> large -> huge, contents kept */
    size_t sizes[] = {20, 100, 900, 1100, 5000, 40000, 200000, 1 << 20, 5 << 20, 64 << 20, 3000, 10};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        p = realloc(p, sizes[i]);
        CHECK(p);
        CHECK(strcmp(p, "hakmem!") == 0);
        CHECK(malloc_usable_size(p) >= sizes[i]);
        memset(p + 8, 'x', sizes[i] - 8);
        p[sizes[i] - 1] = 0;
        p[7] = 0;
    }
    errno = 0;
    CHECK(realloc(p, 0) == NULL); /* frees, like glibc */
    void *q = reallocarray(NULL, 10, 10);
    CHECK(q);
    free(q);
}

static void *churn_thread(void *arg) {
    void **slot = arg;
    for (int i = 0; i < 1000; i++) {
        void *p = malloc(16 + (i * 37) % 2000);
        memset(p, i, 16);
        free(p);
    }
    *slot = malloc(100); /* outlives the thread; freed by main */
    memset(*slot, 9, 100);
    return NULL;
}

static void t_threads(void) {
    enum { N = 2000 };
    static void *left[N];
    for (int i = 0; i < N; i += 8) {
        pthread_t t[8];
        for (int k = 0; k < 8; k++) CHECK(pthread_create(&t[k], NULL, churn_thread, &left[i + k]) == 0);
        for (int k = 0; k < 8; k++) pthread_join(t[k], NULL);
    }
    for (int i = 0; i < N; i++) {
        unsigned char *p = left[i];
        CHECK(p[0] == 9 && p[99] == 9);
        free(p);
    }
}

static volatile int stop_workers;
static void *fork_worker(void *arg) {
    (void)arg;
    while (!stop_workers) {
        void *ps[64];
        for (int i = 0; i < 64; i++) ps[i] = malloc(8 + i * 24);
        for (int i = 0; i < 64; i++) free(ps[i]);
    }
    return NULL;
}

static void t_fork(void) {
    pthread_t w[2];
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, fork_worker, NULL);
    char *inherited = malloc(5000);
    strcpy(inherited, "from parent");
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (strcmp(inherited, "from parent") != 0) _exit(3);
            void *ps[1000];
            for (int i = 0; i < 1000; i++) { ps[i] = malloc(i * 13 + 1); if (!ps[i]) _exit(4); memset(ps[i], 1, i * 13 + 1); }
            for (int i = 0; i < 1000; i++) free(ps[i]);
            free(inherited);
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop_workers = 1;
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    free(inherited);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: abi <check>\n"); return 2; }
    const char *c = argv[1];
    if (!strcmp(c, "basic")) t_basic();
    else if (!strcmp(c, "calloc")) t_calloc();
    else if (!strcmp(c, "impossible")) t_impossible();
    else if (!strcmp(c, "align")) t_align();
    else if (!strcmp(c, "realloc")) t_realloc();
    else if (!strcmp(c, "threads")) t_threads();
    else if (!strcmp(c, "fork")) t_fork();
    else if (!strcmp(c, "bad-free")) { int x; free(&x); puts("survived"); return 0; }
    else if (!strcmp(c, "bad-free-heap")) { char *p = malloc(100); free(p + 8); puts("survived"); return 0; }
    else if (!strcmp(c, "double-free")) { void *p = malloc(40); free(p); free(p); puts("survived"); return 0; }
    else if (!strcmp(c, "double-free-large")) { void *p = malloc(100000); free(p); free(p); puts("survived"); return 0; }
    else if (!strcmp(c, "double-free-huge")) { void *p = malloc(4 << 20); free(p); free(p); puts("survived"); return 0; }
    else if (!strcmp(c, "double-free-aba")) { void *a = malloc(40), *b = malloc(40); free(a); free(b); free(a); puts("survived"); return 0; }
    else if (!strcmp(c, "overflow-into-free")) {
        /* a heap overflow rewrites a free block's link: hardened mode must not follow it */
        char *a = malloc(40), *b = malloc(40);
        free(b);
        memset(a, 0x41, 72);
        void *c1 = malloc(40), *c2 = malloc(40);
        printf("survived %p %p\n", c1, c2);
        return 0;
    }
    else if (!strcmp(c, "stats")) {
        void (*print)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "hakmem_stats_print");
        CHECK(print);
        void *p = malloc(10); free(p); print();
    }
    else { fprintf(stderr, "unknown check %s\n", c); return 2; }
    printf("ok %s\n", c);
    return 0;
}
