/* layout.c: hakmem.h's structures as a C compiler lays them out; the test compares them
 * with hakmem::Stats and hakmem::ClassStats. */
#include <stddef.h>
#include <stdio.h>
#include "../../../../include/hakmem.h"

int main(void) {
    printf("nclass=%d\n", HAKMEM_NCLASS);
    printf("stats_size=%zu\n", sizeof(hakmem_stats_t));
    printf("class_size=%zu\n", sizeof(hakmem_class_stats_t));
    printf("class.block_size=%zu\n", offsetof(hakmem_class_stats_t, block_size));
    printf("class.refills=%zu\n", offsetof(hakmem_class_stats_t, refills));
    printf("class.refill_blocks=%zu\n", offsetof(hakmem_class_stats_t, refill_blocks));
    printf("class.flushes=%zu\n", offsetof(hakmem_class_stats_t, flushes));
    printf("class.flush_blocks=%zu\n", offsetof(hakmem_class_stats_t, flush_blocks));
    printf("class.out=%zu\n", offsetof(hakmem_class_stats_t, out));
    printf("stats.large_allocs=%zu\n", offsetof(hakmem_stats_t, large_allocs));
    printf("stats.huge_allocs=%zu\n", offsetof(hakmem_stats_t, huge_allocs));
    printf("stats.heaps=%zu\n", offsetof(hakmem_stats_t, heaps));
    printf("stats.ss_in_pool=%zu\n", offsetof(hakmem_stats_t, ss_in_pool));
    printf("stats.mremap_calls=%zu\n", offsetof(hakmem_stats_t, mremap_calls));
    printf("stats.mapped_bytes=%zu\n", offsetof(hakmem_stats_t, mapped_bytes));
    printf("stats.peak_rss_bytes=%zu\n", offsetof(hakmem_stats_t, peak_rss_bytes));
    return 0;
}
