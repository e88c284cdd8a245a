/* hakmem.h: hakmem's own entry points, exported by libhakmem.so (SONAME libhakmem.so.0).
 *
 * The malloc family itself needs no header: LD_PRELOAD=libhakmem.so (or linking with
 * -lhakmem, see `pkg-config --cflags --libs hakmem`) replaces malloc, free, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size and cfree; C23's free_sized and free_aligned_sized (both are
 * free(): hakmem finds a block's size from its address); and every global C++
 * operator new / delete (plain, array, nothrow, sized, std::align_val_t).
 *
 * Out of memory in a throwing C++ operator new: hakmem does not run the new_handler
 * loop and does not throw std::bad_alloc (both need the C++ runtime, and an exception
 * cannot unwind through the allocator's frames). It never returns NULL either: it prints
 * `hakmem: operator new(): out of memory (N bytes); aborting` and calls abort(). The
 * nothrow forms return NULL.
 *
 * glibc's <malloc.h> extras, answered from hakmem's counters:
 *   malloc_trim(pad)   gives memory back as hakmem_trim() does (pad is ignored);
 *                      returns 1 if any memory was released, else 0, like glibc.
 *   mallinfo2()        approximations:
 *                        arena    bytes hakmem has mapped now (SuperSlabs, huge
 *                                 blocks, metadata);
 *                        fordblks empty SuperSlabs in the warm pool (mapped, unused),
 *                                 ordblks their number;
 *                        uordblks arena - fordblks: also counts free blocks inside
 *                                 partly used slabs and in the threads' caches;
 *                        hblks    live huge (> 960 KiB, own mapping) blocks;
 *                        hblkhd   mapped bytes outside SuperSlabs (huge blocks, live
 *                                 and cached, and hakmem's metadata mappings);
 *                        smblks, usmblks, fsmblks, keepcost: 0.
 *   mallinfo()         the same, each field clamped to INT_MAX.
 *   mallopt(p, v)      hakmem is tuned by HAKMEM_* environment variables, not at run
 *                      time: the parameters glibc knows (M_MXFAST .. M_KEEP = 1..4,
 *                      M_TRIM_THRESHOLD .. M_ARENA_MAX = -1..-8) are accepted and
 *                      ignored (returns 1); any other returns 0.
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

#define HAKMEM_NCLASS 40

typedef struct hakmem_class_stats {
    uint64_t block_size;
    uint64_t refills;       /* FastLane refills (batches taken from the heap) */
    uint64_t refill_blocks; /* blocks moved by refills */
    uint64_t flushes;       /* FastLane flushes (half a lane given back) */
    uint64_t flush_blocks;  /* blocks given back to slabs (flushes, thread exit, remote
                               frees drained to slabs, hardened frees) */
    uint64_t out;           /* blocks out of their slabs now: refill_blocks - flush_blocks
                               (with the program, in a FastLane, or on their way back) */
} hakmem_class_stats_t;

typedef struct hakmem_stats {
    hakmem_class_stats_t classes[HAKMEM_NCLASS];
    uint64_t large_allocs, large_frees;   /* 32 KiB .. 960 KiB spans in SuperSlabs */
    uint64_t huge_allocs, huge_frees;     /* > 960 KiB, own mappings */
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

/* Give memory back to the OS now: blocks other threads freed into the heaps of exited
 * threads go back to their slabs, the calling thread's empty slabs are released, and
 * every cached empty SuperSlab and huge mapping is unmapped. Returns the bytes unmapped. */
size_t hakmem_trim(void);

/* hakmem's version: a static NUL-terminated string such as "0.1.0". */
const char *hakmem_version(void);

#ifdef __cplusplus
}
#endif
#endif
