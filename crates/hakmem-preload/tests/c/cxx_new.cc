// cxx_new.cc: C++ operator new / delete under LD_PRELOAD=libhakmem.so.
// `cxx_new overloads`: every global overload (plain, array, nothrow, sized, aligned, and
// their combinations) must be libhakmem's own symbol, its blocks hakmem's (seen in the
// usable size and in hakmem's huge-block counters), aligned as asked; new/delete
// expressions and the standard containers run clean. `cxx_new oom`: a throwing new that
// cannot be served must end the process (never return null); the nothrow forms return
// null. Prints key=value figures and "ok" last; a failed check prints "FAIL ..." and exits 1.
#include <dlfcn.h>
#include <malloc.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>
#include "../../../../include/hakmem.h"

static int fails;
#define CHECK(c)                                                        \
    do {                                                                \
        if (!(c)) {                                                     \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);    \
            fails++;                                                    \
        }                                                               \
    } while (0)

static size_t (*stats_get)(hakmem_stats_t *, size_t);

static hakmem_stats_t snap() {
    hakmem_stats_t s;
    std::memset(&s, 0, sizeof s);
    CHECK(stats_get(&s, sizeof s) == sizeof s);
    return s;
}

static const char *const OVERLOADS[] = {
    "_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",
    "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
    "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

// A block of `n` bytes is hakmem's: malloc_usable_size (hakmem's, under LD_PRELOAD) knows
// it, and it is aligned to `align`.
static void check_block(void *p, size_t n, size_t align, const char *what) {
    if (!p) {
        std::printf("FAIL %s returned null\n", what);
        fails++;
        return;
    }
    std::memset(p, 0x5a, n);
    size_t us = malloc_usable_size(p);
    if (us < n || reinterpret_cast<uintptr_t>(p) % align != 0) {
        std::printf("FAIL %s: %p usable %zu for %zu, align %zu\n", what, p, us, n, align);
        fails++;
    }
}

static constexpr size_t HUGE_N = 3 << 20; // above the largest span: its own mapping

// new with `alloc`, delete with `release`, for a small and a huge block; the huge one must
// show in hakmem's counters (one huge alloc, then one huge free).
template <class A, class R>
static void pair(const char *what, size_t align, A alloc, R release) {
    void *s = alloc(200);
    check_block(s, 200, align, what);
    release(s, 200);
    hakmem_stats_t a = snap();
    void *h = alloc(HUGE_N);
    check_block(h, HUGE_N, align, what);
    hakmem_stats_t b = snap();
    release(h, HUGE_N);
    hakmem_stats_t c = snap();
    if (b.huge_allocs - a.huge_allocs != 1 || c.huge_frees - b.huge_frees != 1) {
        std::printf("FAIL %s: huge allocs +%llu frees +%llu (want +1 each)\n", what,
                    (unsigned long long)(b.huge_allocs - a.huge_allocs),
                    (unsigned long long)(c.huge_frees - b.huge_frees));
        fails++;
    }
}

struct alignas(256) Wide {
    char b[512];
};

static void overloads() {
    int from = 0;
    for (const char *name : OVERLOADS) {
        Dl_info di;
        void *f = dlsym(RTLD_DEFAULT, name);
        if (f && dladdr(f, &di) && di.dli_fname && std::strstr(di.dli_fname, "libhakmem")) {
            from++;
        } else {
            std::printf("FAIL %s is not libhakmem's (%s)\n", name, f ? di.dli_fname : "missing");
            fails++;
        }
    }
    std::printf("overloads_from_hakmem=%d of %zu\n", from, sizeof OVERLOADS / sizeof *OVERLOADS);

    using std::align_val_t;
    const std::nothrow_t &nt = std::nothrow;
    const size_t A = 4096;
    // plain, array
    pair("new/delete", 16, [](size_t n) { return ::operator new(n); },
         [](void *p, size_t) { ::operator delete(p); });
    pair("new[]/delete[]", 16, [](size_t n) { return ::operator new[](n); },
         [](void *p, size_t) { ::operator delete[](p); });
    // sized delete
    pair("new/sized delete", 16, [](size_t n) { return ::operator new(n); },
         [](void *p, size_t n) { ::operator delete(p, n); });
    pair("new[]/sized delete[]", 16, [](size_t n) { return ::operator new[](n); },
         [](void *p, size_t n) { ::operator delete[](p, n); });
    // nothrow
    pair("nothrow new/nothrow delete", 16, [&](size_t n) { return ::operator new(n, nt); },
         [&](void *p, size_t) { ::operator delete(p, nt); });
    pair("nothrow new[]/nothrow delete[]", 16, [&](size_t n) { return ::operator new[](n, nt); },
         [&](void *p, size_t) { ::operator delete[](p, nt); });
    // aligned
    pair("aligned new/delete", A, [](size_t n) { return ::operator new(n, align_val_t(A)); },
         [](void *p, size_t) { ::operator delete(p, align_val_t(A)); });
    pair("aligned new[]/delete[]", A, [](size_t n) { return ::operator new[](n, align_val_t(A)); },
         [](void *p, size_t) { ::operator delete[](p, align_val_t(A)); });
    pair("aligned new/sized delete", A, [](size_t n) { return ::operator new(n, align_val_t(A)); },
         [](void *p, size_t n) { ::operator delete(p, n, align_val_t(A)); });
    pair("aligned new[]/sized delete[]", A,
         [](size_t n) { return ::operator new[](n, align_val_t(A)); },
         [](void *p, size_t n) { ::operator delete[](p, n, align_val_t(A)); });
    pair("aligned nothrow new/delete", A,
         [&](size_t n) { return ::operator new(n, align_val_t(A), nt); },
         [&](void *p, size_t) { ::operator delete(p, align_val_t(A), nt); });
    pair("aligned nothrow new[]/delete[]", A,
         [&](size_t n) { return ::operator new[](n, align_val_t(A), nt); },
         [&](void *p, size_t) { ::operator delete[](p, align_val_t(A), nt); });
    // Small alignments go through the plain path; new of 0 bytes is a unique block.
    for (size_t al : {1, 8, 16, 32, 64, 128, 512}) {
        void *p = ::operator new(24, align_val_t(al));
        check_block(p, 24, al, "aligned new (small)");
        ::operator delete(p, 24, align_val_t(al));
    }
    void *z1 = ::operator new(0), *z2 = ::operator new(0);
    CHECK(z1 && z2 && z1 != z2);
    ::operator delete(z1);
    ::operator delete(z2);
    ::operator delete(nullptr);
    ::operator delete[](nullptr, align_val_t(64));

    // Expressions: the compiler picks the overloads (sized and aligned ones included).
    hakmem_stats_t a = snap();
    for (int round = 0; round < 200; round++) {
        int *i = new int(round);
        CHECK(*i == round && malloc_usable_size(i) >= sizeof(int));
        delete i;
        Wide *w = new Wide;
        check_block(w, sizeof(Wide), alignof(Wide), "new Wide");
        delete w;
        Wide *ws = new Wide[5];
        check_block(ws, 5 * sizeof(Wide), alignof(Wide), "new Wide[5]");
        delete[] ws;
        std::vector<std::string> v;
        for (int k = 0; k < 100; k++) v.push_back(std::string(20 + k, 'x'));
        std::map<int, std::vector<double>> m;
        for (int k = 0; k < 50; k++) m[k].resize(k * 10 + 1, 1.5);
        auto u = std::make_unique<char[]>(HUGE_N);
        u[HUGE_N - 1] = 1;
        auto sp = std::make_shared<Wide>();
        CHECK(reinterpret_cast<uintptr_t>(sp.get()) % alignof(Wide) == 0);
    }
    hakmem_stats_t b = snap();
    unsigned long long refilled = 0;
    for (int c = 0; c < HAKMEM_NCLASS; c++) refilled += b.classes[c].refill_blocks - a.classes[c].refill_blocks;
    std::printf("expr_refill_blocks=%llu expr_huge_allocs=%llu expr_huge_frees=%llu\n", refilled,
                (unsigned long long)(b.huge_allocs - a.huge_allocs),
                (unsigned long long)(b.huge_frees - a.huge_frees));
    CHECK(refilled > 0); // the small blocks came from hakmem's FastLanes
    CHECK(b.huge_allocs - a.huge_allocs == 200); // one make_unique<char[]>(3 MiB) per round
    CHECK(b.huge_frees - a.huge_frees == 200);
}

static void oom() {
    const size_t too_big = SIZE_MAX / 2;
    CHECK(::operator new(too_big, std::nothrow) == nullptr);
    CHECK(::operator new[](too_big, std::nothrow) == nullptr);
    CHECK(::operator new(too_big, std::align_val_t(4096), std::nothrow) == nullptr);
    CHECK(::operator new[](too_big, std::align_val_t(64), std::nothrow) == nullptr);
    std::printf("nothrow_null=%s\n", fails ? "no" : "yes");
    std::fflush(stdout);
    void *p = ::operator new(too_big); // must not come back
    std::printf("survived: operator new returned %p\n", p);
}

int main(int argc, char **argv) {
    stats_get = reinterpret_cast<size_t (*)(hakmem_stats_t *, size_t)>(
        dlsym(RTLD_DEFAULT, "hakmem_stats_get"));
    if (!stats_get) {
        std::puts("FAIL not running on hakmem (hakmem_stats_get missing)");
        return 1;
    }
    const char *t = argc > 1 ? argv[1] : "";
    if (!std::strcmp(t, "overloads")) overloads();
    else if (!std::strcmp(t, "oom")) oom();
    else {
        std::printf("FAIL unknown check %s\n", t);
        return 2;
    }
    if (fails) return 1;
    std::puts("ok");
    return 0;
}
