/* A small multi-file C program for `hakmem compat`: gcc compiles it under the allocator under
 * test, then the program itself runs under it. Output depends only on the computation. */
#ifndef COMPAT_COMMON_H
#define COMPAT_COMMON_H
#include <stddef.h>
#include <stdint.h>

uint32_t rng_next(uint32_t *x);
uint64_t fnv1a(const void *p, size_t n, uint64_t h);

/* strtab.c: chained hash table of strdup'd keys */
typedef struct strtab strtab;
strtab *strtab_new(size_t nbuckets);
int strtab_put(strtab *t, const char *key, long val); /* 1 if new */
long *strtab_get(strtab *t, const char *key);
int strtab_del(strtab *t, const char *key);
size_t strtab_len(const strtab *t);
uint64_t strtab_digest(const strtab *t); /* order-independent */
void strtab_free(strtab *t);

/* vec.c: growable arrays (realloc), qsort */
typedef struct { uint32_t *v; size_t len, cap; } vec;
void vec_push(vec *a, uint32_t x);
void vec_sort(vec *a);
void vec_free(vec *a);

/* tree.c: AVL tree of malloc'd nodes */
typedef struct node node;
node *tree_insert(node *t, uint32_t key, int *added);
node *tree_remove(node *t, uint32_t key, int *removed);
size_t tree_height(const node *t);
uint64_t tree_walk(const node *t, uint64_t h, size_t *count);
void tree_free(node *t);
#endif
