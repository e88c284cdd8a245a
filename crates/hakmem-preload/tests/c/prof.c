/* prof.c: allocation sites with known live bytes, for the prof box's test
 * (crates/hakmem-preload/tests/prof.rs). Build: cc -O1 -g -fno-omit-frame-pointer -fno-builtin
 *   -fno-inline -o prof prof.c -lpthread -ldl
 *
 *   prof sites        three functions hold 10 MB, 5 MB and 1 MB (blocks of 16 B .. 2 MB),
 *                     plus churn (allocated and freed: must not show), then dumps through
 *                     hakmem_prof_dump(argv[2]) and exits with the blocks live (the leak report)
 *   prof threads      the same three sites, one per thread, the blocks kept
 *   prof signal PATH  site_five_mb, then raise(SIGUSR2): with HAKMEM_PROF_SIGNAL=USR2 and
 *                     HAKMEM_PROF_DUMP=PATH the profile must be there when raise returns
 *   prof fork         sites in the parent; the child allocates its own 4 MB, dumps to argv[2]
 *                     (child), parent dumps to argv[3] after the child exited
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[1 << 20];
static size_t nkeep;

/* Class sizes, sizes between classes (a sample is recorded at its requested size, so the
   estimate is of requested bytes), a large span and a huge block. */
static const size_t sizes[] = {16, 40, 100, 256, 1000, 4096, 15000, 100000, 1100000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Allocate `total` bytes in blocks cycling through the sizes (each size gets an equal
 * share of the bytes), touching each block. */
static size_t fill(size_t total, void **out, size_t *n) {
    size_t all = 0;
    for (size_t k = 0; k < NSIZES; k++) {
        size_t share = total / NSIZES, got = 0;
        while (got + sizes[k] <= share) {
            void *p = malloc(sizes[k]);
            if (!p) abort();
            memset(p, 1, sizes[k] < 64 ? sizes[k] : 64);
            out[(*n)++] = p;
            got += sizes[k];
        }
        all += got;
    }
    return all;
}

/* Each prints the bytes it allocated: `site NAME BYTES` (the test's expected values). */
__attribute__((noinline)) void site_ten_mb(void **out, size_t *n) { printf("site site_ten_mb %zu\n", fill(10u << 20, out, n)); }
__attribute__((noinline)) void site_five_mb(void **out, size_t *n) { printf("site site_five_mb %zu\n", fill(5u << 20, out, n)); }
__attribute__((noinline)) void site_one_mb(void **out, size_t *n) { printf("site site_one_mb %zu\n", fill(1u << 20, out, n)); }

/* 4096 strings grown by realloc a few bytes at a time (most reallocs keep the block in
   place) to 64 B .. 2 KiB, and one block grown by realloc from 1 MiB to 4 MiB in 64 KiB
   steps (huge blocks): a profile must follow sizes that change under realloc. */
__attribute__((noinline)) void site_grown(void **out, size_t *n) {
    size_t all = 0;
    unsigned x = 12345;
    for (int i = 0; i < 4096; i++) {
        x = x * 1103515245u + 12345u;
        size_t target = 64 + (x >> 8) % 1985, len = 1 + (x >> 4) % 8;
        char *p = malloc(len);
        while (len < target) {
            x = x * 1103515245u + 12345u;
            len += 1 + (x >> 10) % 48;
            if (len > target) len = target;
            p = realloc(p, len);
            p[len - 1] = 1;
        }
        out[(*n)++] = p;
        all += len;
    }
    size_t big = 1 << 20;
    char *q = malloc(big);
    while (big < (4u << 20)) {
        big += 64 << 10;
        q = realloc(q, big);
        q[big - 1] = 1;
    }
    out[(*n)++] = q;
    all += big;
    printf("site site_grown %zu\n", all);
}

__attribute__((noinline)) void churn(void) {
    for (int i = 0; i < 200000; i++) {
        void *p = malloc(64 + (i % 512));
        free(p);
    }
    for (int i = 0; i < 200; i++) free(malloc(300000));
}

static int dump(const char *path) {
    int (*d)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "hakmem_prof_dump");
    if (!d) { fprintf(stderr, "no hakmem_prof_dump\n"); return 1; }
    int r = d(path);
    if (r != 0) { fprintf(stderr, "hakmem_prof_dump: %d\n", r); return 1; }
    return 0;
}

static void *thread_site(void *arg) {
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    void **local = malloc(sizeof(void *) << 18);
    size_t n = 0;
    long which = (long)arg;
    if (which == 0) site_ten_mb(local, &n);
    if (which == 1) site_five_mb(local, &n);
    if (which == 2) site_one_mb(local, &n);
    churn();
    pthread_mutex_lock(&m);
    for (size_t i = 0; i < n; i++) keep[nkeep++] = local[i];
    pthread_mutex_unlock(&m);
    free(local);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(argv[1], "signal")) {
        /* HAKMEM_PROF_SIGNAL=USR2 HAKMEM_PROF_DUMP=argv[2]: the handler writes the file. */
        site_five_mb(keep, &nkeep);
        raise(SIGUSR2);
        return access(argv[2], R_OK) == 0 ? 0 : 3;
    }
    if (!strcmp(argv[1], "sites")) {
        site_ten_mb(keep, &nkeep);
        churn();
        site_five_mb(keep, &nkeep);
        site_one_mb(keep, &nkeep);
        return dump(argv[2]);
    }
    if (!strcmp(argv[1], "realloc")) {
        site_grown(keep, &nkeep);
        site_one_mb(keep, &nkeep);
        churn();
        return dump(argv[2]);
    }
    if (!strcmp(argv[1], "threads")) {
        pthread_t t[3];
        for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, thread_site, (void *)i);
        for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
        return dump(argv[2]);
    }
    if (!strcmp(argv[1], "fork") && argc >= 4) {
        site_ten_mb(keep, &nkeep);
        pid_t pid = fork();
        if (pid == 0) {
            /* The child frees what it inherited and allocates its own. */
            for (size_t i = 0; i < nkeep; i++) free(keep[i]);
            nkeep = 0;
            site_five_mb(keep, &nkeep);
            churn();
            _exit(dump(argv[2]));
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "child failed\n"); return 1; }
        site_one_mb(keep, &nkeep);
        return dump(argv[3]);
    }
    return 2;
}
