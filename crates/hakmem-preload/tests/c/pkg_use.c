/* pkg_use.c: a program built the way a user builds against an installed hakmem:
 *   cc pkg_use.c $(pkg-config --cflags --libs hakmem)
 * and run with the installed library on the loader's path (no LD_PRELOAD). It checks that
 * <hakmem.h> comes from the install, that the malloc family and hakmem's own entry points
 * resolve into libhakmem, and that the blocks are hakmem's. Prints key=value figures and
 * "ok" last; any failed check prints "FAIL ..." and exits 1. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <hakmem.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c)                                                        \
    do {                                                                \
        if (!(c)) {                                                     \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);         \
            fails++;                                                    \
        }                                                               \
    } while (0)

/* The file name of the object that defines `addr`. */
static const char *owner(void *addr) {
    Dl_info di;
    if (!addr || !dladdr(addr, &di) || !di.dli_fname) return "?";
    return di.dli_fname;
}

static hakmem_stats_t snap(void) {
    hakmem_stats_t s;
    memset(&s, 0, sizeof s);
    CHECK(hakmem_stats_get(&s, sizeof s) == sizeof s);
    return s;
}

int main(void) {
    printf("version=%s\n", hakmem_version());
    printf("malloc_from=%s\n", owner(dlsym(RTLD_DEFAULT, "malloc")));
    printf("free_from=%s\n", owner(dlsym(RTLD_DEFAULT, "free")));
    CHECK(strstr(owner(dlsym(RTLD_DEFAULT, "malloc")), "libhakmem.so.0") != NULL);

    char *p = malloc(100);
    CHECK(p != NULL);
    memset(p, 1, 100);
    size_t us = malloc_usable_size(p);
    printf("usable_100=%zu\n", us);
    CHECK(us >= 100 && us < 256); /* a hakmem size class (glibc's would say 104) */
    free(p);

    /* A huge block (own mapping) shows in hakmem's own counters. */
    hakmem_stats_t a = snap();
    char *h = malloc(4 << 20);
    CHECK(h != NULL);
    h[0] = h[(4 << 20) - 1] = 1;
    hakmem_stats_t b = snap();
    free(h);
    hakmem_stats_t c = snap();
    printf("huge_allocs_delta=%llu\n", (unsigned long long)(b.huge_allocs - a.huge_allocs));
    printf("huge_frees_delta=%llu\n", (unsigned long long)(c.huge_frees - b.huge_frees));
    CHECK(b.huge_allocs - a.huge_allocs == 1);
    CHECK(c.huge_frees - b.huge_frees == 1);
    CHECK(b.mapped_bytes >= a.mapped_bytes + (4 << 20));
    printf("trimmed=%zu\n", hakmem_trim());
    if (fails) return 1;
    puts("ok");
    return 0;
}
