/* Workloads whose allocator-side effects the box tests read from HAKMEM_STATS=1.
 * Usage: boxes burst|oscillate|huge|remote|pingpong|twice|remote-twice|borrow-twice|idle */
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

/* pingpong: a live producer and a consumer in rounds. The producer fills every block with
 * its round and index; the consumer checks each block and frees it (every free remote); the
 * producer's next rounds get those blocks back through its inbox. Exit status 1 if a block
 * arrives damaged or one round hands out the same address twice. */
enum { PP_N = 20000, PP_ROUNDS = 20 };
static void *pp_v[PP_N];
static pthread_barrier_t pp_made, pp_freed;
static int pp_bad;

static size_t pp_size(int i) { return 16 + (size_t)(i * 37) % 1009; }

static int cmp_ptr(const void *a, const void *b) {
    char *x = *(char *const *)a, *y = *(char *const *)b;
    return (x > y) - (x < y);
}

static void *pp_produce(void *arg) {
    static void *sorted[PP_N];
    (void)arg;
    for (int r = 0; r < PP_ROUNDS; r++) {
        for (int i = 0; i < PP_N; i++) {
            unsigned char *p = malloc(pp_size(i));
            memset(p, (r * 31 + i) & 0xff, pp_size(i));
            pp_v[i] = p;
            sorted[i] = p;
        }
        qsort(sorted, PP_N, sizeof *sorted, cmp_ptr);
        for (int i = 1; i < PP_N; i++)
            if (sorted[i] == sorted[i - 1]) pp_bad = 1;
        pthread_barrier_wait(&pp_made);
        pthread_barrier_wait(&pp_freed);
    }
    return NULL;
}

static void pingpong(void) {
    pthread_t t;
    pthread_barrier_init(&pp_made, NULL, 2);
    pthread_barrier_init(&pp_freed, NULL, 2);
    pthread_create(&t, NULL, pp_produce, NULL);
    for (int r = 0; r < PP_ROUNDS; r++) {
        pthread_barrier_wait(&pp_made);
        for (int i = 0; i < PP_N; i++) {
            unsigned char *p = pp_v[i];
            for (size_t k = 0; k < pp_size(i); k++)
                if (p[k] != ((r * 31 + i) & 0xff)) pp_bad = 1;
            free(p);
        }
        pthread_barrier_wait(&pp_freed);
    }
    pthread_join(t, NULL);
    if (pp_bad) { puts("damaged or duplicated block"); exit(1); }
}

/* remote-twice: a live thread's block freed twice in a row by another thread (both frees
 * remote, the owner parked so it drains nothing in between): must abort. */
static pthread_barrier_t rt_bar;
static void *rt_own(void *arg) {
    void **out = arg;
    *out = malloc(48);
    memset(*out, 7, 48);
    pthread_barrier_wait(&rt_bar); /* handed over */
    pthread_barrier_wait(&rt_bar); /* not reached when the double free aborts */
    return NULL;
}

static void remote_twice(void) {
    pthread_t t;
    void *p;
    pthread_barrier_init(&rt_bar, NULL, 2);
    free(malloc(16)); /* this thread has a heap of its own */
    pthread_create(&t, NULL, rt_own, &p);
    pthread_barrier_wait(&rt_bar);
    free(p);
    free(p);
    puts("not caught");
    pthread_barrier_wait(&rt_bar);
    pthread_join(t, NULL);
    exit(1);
}

/* borrow-twice: a 288-byte block freed, moved by the class-borrow box onto the 256-byte
 * class's lane, then freed again: must abort. */
static void borrow_twice(void) {
    void *v[64];
    for (int i = 0; i < 64; i++) v[i] = malloc(288);
    void *x = v[62], *y = v[63];
    for (int i = 0; i < 62; i++) free(v[i]);
    free(x);
    free(y);                  /* the 288-byte lane: y, x, ... */
    void *a = malloc(250);    /* the 256-byte class has nothing: borrows y (returned), x, ... */
    free(x);                  /* x waits on the 256-byte lane: a double free */
    printf("not caught %p\n", a);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "burst")) burst();
    else if (!strcmp(argv[1], "oscillate")) oscillate();
    else if (!strcmp(argv[1], "huge")) huge();
    else if (!strcmp(argv[1], "remote")) remote();
    else if (!strcmp(argv[1], "pingpong")) pingpong();
    else if (!strcmp(argv[1], "twice")) {
        /* 1000 blocks freed and reused, then one freed twice in a row: must abort. */
        void *v[1000];
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < 1000; i++) v[i] = malloc(16 + i % 200);
            for (int i = 0; i < 1000; i++) free(v[i]);
        }
        void *p = malloc(64);
        free(p);
        free(p);
        puts("not caught");
        return 1;
    }
    else if (!strcmp(argv[1], "remote-twice")) remote_twice();
    else if (!strcmp(argv[1], "borrow-twice")) borrow_twice();
    else if (!strcmp(argv[1], "idle")) { void *p = malloc(1); free(p); }
    else return 2;
    puts("done");
    return 0;
}
