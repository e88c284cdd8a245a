#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4

static void *worker(void *arg) {
    /* each thread: many short-lived blocks of mixed sizes, some handed back to main to free */
    uint32_t x = 1234567u + (uint32_t)(uintptr_t)arg;
    void **keep = calloc(256, sizeof *keep);
    uint64_t h = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t r = rng_next(&x);
        size_t sz = 16 + (r & 0x3FF);
        if (r % 97 == 0) sz = 65536 + (r & 0xFFFF); /* now and then a big one */
        unsigned char *p = malloc(sz);
        memset(p, (int)(r & 0xFF), sz);
        h = fnv1a(p, 8, h);
        size_t slot = r % 256;
        free(keep[slot]);
        keep[slot] = p;
    }
    free(keep[0]);
    keep[0] = (void *)(uintptr_t)h; /* hand the digest back in slot 0 */
    return keep;
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    uint32_t x = 1234567u;

    /* 1. hash table of strings */
    strtab *t = strtab_new(64);
    char buf[128];
    size_t added = 0, deleted = 0;
    for (int i = 0; i < 150000 * scale; i++) {
        uint32_t r = rng_next(&x);
        int n = snprintf(buf, sizeof buf, "k%u-%.*s", r % 20000u, (int)((r >> 7) % 7) * 9, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        (void)n;
        if (i % 5 == 0) deleted += (size_t)strtab_del(t, buf);
        else added += (size_t)strtab_put(t, buf, (long)i);
    }
    printf("strtab len=%zu added=%zu deleted=%zu digest=%016llx\n", strtab_len(t), added, deleted,
           (unsigned long long)strtab_digest(t));
    strtab_free(t);

    /* 2. growing arrays, realloc and sort */
    vec a = {0};
    for (int i = 0; i < 1000000 * scale; i++) vec_push(&a, rng_next(&x));
    vec_sort(&a);
    int sorted = 1;
    for (size_t i = 1; i < a.len; i++) if (a.v[i - 1] > a.v[i]) { sorted = 0; break; }
    printf("vec len=%zu sorted=%d min=%u max=%u mid=%u digest=%016llx\n", a.len, sorted, a.v[0],
           a.v[a.len - 1], a.v[a.len / 2], (unsigned long long)fnv1a(a.v, a.len * 4, 0));
    vec_free(&a);

    /* 3. balanced tree: insert and remove many small nodes */
    node *root = NULL;
    size_t ins = 0, rem = 0;
    for (int i = 0; i < 300000 * scale; i++) {
        uint32_t r = rng_next(&x) % 200000u;
        int flag = 0;
        if (i % 3 == 2) { root = tree_remove(root, r, &flag); rem += (size_t)flag; }
        else { root = tree_insert(root, r, &flag); ins += (size_t)flag; }
    }
    size_t count = 0;
    uint64_t th = tree_walk(root, 0, &count);
    printf("tree inserted=%zu removed=%zu count=%zu height=%zu digest=%016llx\n", ins, rem, count,
           tree_height(root), (unsigned long long)th);
    tree_free(root);

    /* 4. the corners of the malloc API */
    int ok = 1;
    for (size_t al = 8; al <= 65536; al *= 2) {
        void *p = NULL;
        if (posix_memalign(&p, al, 100 + al) != 0 || ((uintptr_t)p & (al - 1))) ok = 0;
        memset(p, 1, 100 + al);
        free(p);
        void *q = aligned_alloc(al, al * 3);
        if (!q || ((uintptr_t)q & (al - 1))) ok = 0;
        free(q);
    }
    char *s = calloc(1000, 1000);
    for (size_t i = 0; i < 1000000; i++) if (s[i]) ok = 0;
    s = realloc(s, 10);
    s = realloc(s, 5000000);
    s[4999999] = 7;
    free(s);
    free(NULL);
    void *z = malloc(0);
    free(z);
    errno = 0;
    void *huge = malloc((size_t)-1 / 2);
    if (huge != NULL || errno != ENOMEM) ok = 0;
    printf("api ok=%d\n", ok);

    /* 5. threads allocate, main frees their blocks (cross-thread free) */
    pthread_t th_[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) pthread_create(&th_[i], NULL, worker, (void *)(uintptr_t)i);
    uint64_t all = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void **keep;
        pthread_join(th_[i], (void **)&keep);
        printf("thread %d digest=%016llx\n", i, (unsigned long long)(uintptr_t)keep[0]);
        for (int j = 1; j < 256; j++) free(keep[j]);
        free(keep);
        all++;
    }
    printf("threads joined=%llu\n", (unsigned long long)all);
    return 0;
}
