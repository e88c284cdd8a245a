#include "common.h"
#include <stdlib.h>
#include <string.h>

typedef struct entry { struct entry *next; char *key; long val; } entry;
struct strtab { entry **b; size_t nb, len; };

static size_t hash(const char *s) { return (size_t)fnv1a(s, strlen(s), 0); }

strtab *strtab_new(size_t nb) {
    strtab *t = malloc(sizeof *t);
    t->b = calloc(nb, sizeof *t->b);
    t->nb = nb;
    t->len = 0;
    return t;
}

static void grow(strtab *t) {
    size_t nb = t->nb * 2;
    entry **b = calloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nb; i++) {
        entry *e = t->b[i];
        while (e) {
            entry *n = e->next;
            size_t h = hash(e->key) % nb;
            e->next = b[h];
            b[h] = e;
            e = n;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

int strtab_put(strtab *t, const char *key, long val) {
    long *p = strtab_get(t, key);
    if (p) { *p = val; return 0; }
    if (t->len > t->nb) grow(t);
    entry *e = malloc(sizeof *e);
    e->key = strdup(key);
    e->val = val;
    size_t h = hash(key) % t->nb;
    e->next = t->b[h];
    t->b[h] = e;
    t->len++;
    return 1;
}

long *strtab_get(strtab *t, const char *key) {
    for (entry *e = t->b[hash(key) % t->nb]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return &e->val;
    return NULL;
}

int strtab_del(strtab *t, const char *key) {
    entry **pp = &t->b[hash(key) % t->nb];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            entry *e = *pp;
            *pp = e->next;
            free(e->key);
            free(e);
            t->len--;
            return 1;
        }
    }
    return 0;
}

size_t strtab_len(const strtab *t) { return t->len; }

uint64_t strtab_digest(const strtab *t) {
    uint64_t sum = 0;
    for (size_t i = 0; i < t->nb; i++)
        for (entry *e = t->b[i]; e; e = e->next)
            sum += fnv1a(&e->val, sizeof e->val, fnv1a(e->key, strlen(e->key), 0));
    return sum;
}

void strtab_free(strtab *t) {
    for (size_t i = 0; i < t->nb; i++) {
        entry *e = t->b[i];
        while (e) { entry *n = e->next; free(e->key); free(e); e = n; }
    }
    free(t->b);
    free(t);
}
