/* hakmem.h: hakmem's own entry points, exported by libhakmem.so.
 *
 * The malloc family itself needs no header: LD_PRELOAD=libhakmem.so replaces
 * malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, malloc_usable_size and cfree.
 *
 * Look these up with dlsym(RTLD_DEFAULT, "...") to stay runnable without hakmem,
 * or link with -lhakmem. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_NCLASS 28

typedef struct hakmem_class_stats {
    uint64_t block_size;
    uint64_t allocs;        /* derived: refilled + frees - flushed - still cached */
    uint64_t frees;         /* frees by the owning thread (remote frees are counted apart) */
    uint64_t refills;       /* FastLane refills (batches) */
    uint64_t refill_blocks; /* blocks moved by refills */
    uint64_t flushes;       /* FastLane flushes back to slabs */
} hakmem_class_stats_t;

typedef struct hakmem_stats {
    hakmem_class_stats_t classes[HAKMEM_NCLASS];
    uint64_t large_allocs, large_frees;   /* 32 KiB .. 1 MiB spans in SuperSlabs */
    uint64_t huge_allocs, huge_frees;     /* > 1 MiB, own mappings */
    uint64_t remote_frees, remote_drained;
    uint64_t heaps;
    uint64_t ss_mapped, ss_unmapped, ss_reused, ss_in_pool; /* SuperSlabs */
    uint64_t mmap_calls, munmap_calls, madvise_calls, mremap_calls;
    uint64_t mapped_bytes, rss_bytes, peak_rss_bytes;
} hakmem_stats_t;

/* Print the statistics report to stderr (what HAKMEM_STATS=1 prints at exit). */
void hakmem_stats_print(void);

/* Copy a snapshot into *out (at most `size` bytes); returns sizeof(hakmem_stats_t)
 * as the library knows it. */
size_t hakmem_stats_get(hakmem_stats_t *out, size_t size);

/* out[0..3] = the allocator's own mmap, munmap and madvise calls since start. */
void hakmem_os_calls(uint64_t out[3]);

#ifdef __cplusplus
}
#endif
#endif
