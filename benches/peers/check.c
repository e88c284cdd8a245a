/* Smoke check of a peer preload library (run by check.sh): every entry point of the
 * malloc family once, then the usable size of malloc(100), which differs between
 * allocators (glibc answers 104). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "check: %s failed\n", what);
    return 1;
}

int main(void) {
    char *p = malloc(100);
    if (!p) return fail("malloc");
    memset(p, 1, 100);
    size_t usable = malloc_usable_size(p);
    p = realloc(p, 5000);
    if (!p || p[99] != 1) return fail("realloc");
    free(p);
    int *z = calloc(1000, sizeof(int));
    for (int i = 0; i < 1000; i++)
        if (!z || z[i]) return fail("calloc");
    z = reallocarray(z, 2000, sizeof(int));
    if (!z) return fail("reallocarray");
    free(z);
    void *a = NULL;
    if (posix_memalign(&a, 4096, 100) || ((uintptr_t)a & 4095)) return fail("posix_memalign");
    free(a);
    a = aligned_alloc(256, 512);
    if (!a || ((uintptr_t)a & 255)) return fail("aligned_alloc");
    free(a);
    a = memalign(64, 10);
    if (!a || ((uintptr_t)a & 63)) return fail("memalign");
    /* cfree is no longer in glibc's link-time API: look it up (a peer exports it). */
    void (*cfree_fn)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
    (cfree_fn ? cfree_fn : free)(a);
    a = valloc(10);
    if (!a || ((uintptr_t)a & 4095)) return fail("valloc");
    free(a);
    a = pvalloc(10);
    if (!a || ((uintptr_t)a & 4095)) return fail("pvalloc");
    free(a);
    int (*version)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "peer_mimalloc3_version");
    printf("cfree %s, malloc_usable_size(malloc(100)) = %zu", cfree_fn ? "found" : "absent", usable);
    if (version) printf(", mi_version() = %d", version());
    printf("\n");
    return 0;
}
