#include "common.h"
#include <stdlib.h>

void vec_push(vec *a, uint32_t x) {
    if (a->len == a->cap) {
        a->cap = a->cap ? a->cap + a->cap / 2 + 1 : 4;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->len++] = x;
}

static int cmp(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

void vec_sort(vec *a) { qsort(a->v, a->len, sizeof *a->v, cmp); }

void vec_free(vec *a) { free(a->v); a->v = NULL; a->len = a->cap = 0; }
