#include "common.h"
#include <stdlib.h>

struct node { node *l, *r; uint32_t key; int h; char pad[24]; };

static int ht(const node *n) { return n ? n->h : 0; }
static int mx(int a, int b) { return a > b ? a : b; }
static void fix(node *n) { n->h = 1 + mx(ht(n->l), ht(n->r)); }
static node *rotr(node *y) { node *x = y->l; y->l = x->r; x->r = y; fix(y); fix(x); return x; }
static node *rotl(node *x) { node *y = x->r; x->r = y->l; y->l = x; fix(x); fix(y); return y; }

static node *balance(node *n) {
    fix(n);
    int bf = ht(n->l) - ht(n->r);
    if (bf > 1) { if (ht(n->l->l) < ht(n->l->r)) n->l = rotl(n->l); return rotr(n); }
    if (bf < -1) { if (ht(n->r->r) < ht(n->r->l)) n->r = rotr(n->r); return rotl(n); }
    return n;
}

node *tree_insert(node *t, uint32_t key, int *added) {
    if (!t) {
        node *n = calloc(1, sizeof *n);
        n->key = key;
        n->h = 1;
        *added = 1;
        return n;
    }
    if (key < t->key) t->l = tree_insert(t->l, key, added);
    else if (key > t->key) t->r = tree_insert(t->r, key, added);
    else return t;
    return balance(t);
}

static node *remove_min(node *t, node **min) {
    if (!t->l) { *min = t; return t->r; }
    t->l = remove_min(t->l, min);
    return balance(t);
}

node *tree_remove(node *t, uint32_t key, int *removed) {
    if (!t) return NULL;
    if (key < t->key) t->l = tree_remove(t->l, key, removed);
    else if (key > t->key) t->r = tree_remove(t->r, key, removed);
    else {
        node *l = t->l, *r = t->r;
        free(t);
        *removed = 1;
        if (!r) return l;
        node *m;
        r = remove_min(r, &m);
        m->l = l;
        m->r = r;
        return balance(m);
    }
    return balance(t);
}

size_t tree_height(const node *t) { return (size_t)ht(t); }

uint64_t tree_walk(const node *t, uint64_t h, size_t *count) {
    if (!t) return h;
    h = tree_walk(t->l, h, count);
    h = fnv1a(&t->key, sizeof t->key, h);
    (*count)++;
    return tree_walk(t->r, h, count);
}

void tree_free(node *t) {
    if (!t) return;
    tree_free(t->l);
    tree_free(t->r);
    free(t);
}
