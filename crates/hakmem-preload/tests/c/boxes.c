/* Workloads whose allocator-side effects the box tests read from HAKMEM_STATS=1.
 * Usage: boxes burst|oscillate|huge|remote|idle */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

static void burst(void) {
    /* ~300 MB of 512 B and 128 KiB blocks, all freed: what stays mapped is the policy's. */
    enum { N = 400000 };
    void **v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) {
        size_t n = (i % 100 == 0) ? 128 * 1024 : 512;
        v[i] = malloc(n);
        memset(v[i], 1, n);
    }
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);
}

static void oscillate(void) {
    /* Repeatedly grow to ~40 MB and shrink to nothing: a release policy without
     * hysteresis maps and unmaps SuperSlabs every round. */
    enum { N = 40 * 1024 };
    static void *v[N];
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < N; i++) { v[i] = malloc(1000); memset(v[i], 2, 64); }
        for (int i = 0; i < N; i++) free(v[i]);
    }
}

static void huge(void) {
    /* 100 rounds of 4 MiB blocks: a huge cache turns 100 mmaps into a few. */
    for (int i = 0; i < 100; i++) {
        char *p = malloc(4 << 20);
        memset(p, 3, 4096);
        free(p);
    }
}

static void *produce(void *arg) {
    void **v = arg;
    for (int i = 0; i < 100000; i++) v[i] = malloc(16 + i % 500);
    return NULL;
}

static void remote(void) {
    /* every block allocated by a thread that exits, freed by main */
    void **v = malloc(100000 * sizeof *v);
    pthread_t t;
    pthread_create(&t, NULL, produce, v);
    pthread_join(t, NULL);
    for (int i = 0; i < 100000; i++) free(v[i]);
    free(v);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "burst")) burst();
    else if (!strcmp(argv[1], "oscillate")) oscillate();
    else if (!strcmp(argv[1], "huge")) huge();
    else if (!strcmp(argv[1], "remote")) remote();
    else if (!strcmp(argv[1], "idle")) { void *p = malloc(1); free(p); }
    else return 2;
    puts("done");
    return 0;
}
