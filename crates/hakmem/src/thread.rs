//! Thread state: global initialisation, attaching a heap to a thread on its first
//! allocation, handing it back at thread exit, `fork`, and the bootstrap arena that
//! serves allocations made while hakmem itself is starting.

use crate::cache::{unified, warm_pool};
use crate::config::{self, tuning};
use crate::front::fastlane::ThreadBlock;
use crate::front::ThreadAccess;
use crate::heap::{self, Heap, HeapState};
use crate::spinlock::SpinLock;
use crate::{boxes, large, os, stats};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

// ---- global initialisation -------------------------------------------------------------

const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const READY: u8 = 2;

static INIT: AtomicU8 = AtomicU8::new(UNINIT);
static INIT_THREAD: AtomicUsize = AtomicUsize::new(0);
static KEY: AtomicU32 = AtomicU32::new(0);

/// Make sure global state is set up. False means "we are inside our own initialisation
/// on this thread" (a libc call made during init allocated): serve from the bootstrap arena.
#[inline]
pub fn ensure_init() -> bool {
    if INIT.load(Ordering::Acquire) == READY {
        return true;
    }
    init_slow()
}

#[cold]
#[inline(never)]
fn init_slow() -> bool {
    // SAFETY: pthread_self has no preconditions and does not allocate.
    let me = unsafe { libc::pthread_self() } as usize;
    match INIT.compare_exchange(UNINIT, RUNNING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            INIT_THREAD.store(me, Ordering::Relaxed);
            // SAFETY: we are the only initialiser; no heap exists yet.
            unsafe { global_init() };
            INIT.store(READY, Ordering::Release);
            true
        }
        Err(_) => {
            if INIT_THREAD.load(Ordering::Relaxed) == me && INIT.load(Ordering::Acquire) == RUNNING {
                return false;
            }
            while INIT.load(Ordering::Acquire) != READY {
                core::hint::spin_loop();
            }
            true
        }
    }
}

unsafe fn global_init() {
    let cfg = config::from_process_env();
    config::set_tuning(config::Tuning::from_config(&cfg));
    boxes::harden::init(tuning().harden);
    crate::front::fastlane::init_limits(tuning());
    let mut key: libc::pthread_key_t = 0;
    if libc::pthread_key_create(&mut key, Some(thread_exit)) == 0 {
        KEY.store(key as u32 + 1, Ordering::Release);
    }
    libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    if tuning().stats {
        stats::keep_stderr();
        libc::atexit(stats::print_at_exit);
    }
    warm_pool::prewarm(boxes::mem_lean::prewarm_count());
}

// ---- heaps: adopt, create, abandon ------------------------------------------------------

struct HeapPool {
    /// Abandoned heaps ready for adoption.
    free: *mut Heap,
    /// Every heap ever made.
    all: *mut Heap,
    /// Bump region for new heaps.
    cur: usize,
    end: usize,
}

// SAFETY: only touched under the lock.
unsafe impl Send for HeapPool {}

static HEAPS: SpinLock<HeapPool> = SpinLock::new(HeapPool { free: ptr::null_mut(), all: ptr::null_mut(), cur: 0, end: 0 });

const HEAP_CHUNK: usize = 64 * 1024;

/// The first heaps come from `.bss`, so a single-threaded program makes no syscall for
/// them (later ones come from 64 KiB mappings).
#[repr(C, align(64))]
struct FirstHeaps(UnsafeCell<[u8; 16 * 1024]>);
// SAFETY: carved out under the HEAPS lock only.
unsafe impl Sync for FirstHeaps {}
static FIRST_HEAPS: FirstHeaps = FirstHeaps(UnsafeCell::new([0; 16 * 1024]));

/// The calling thread's heap, attaching one on first use. Null while hakmem is
/// initialising on this thread (use the bootstrap arena) or when out of memory.
#[inline(always)]
pub unsafe fn heap_for<T: ThreadAccess>(tb: *mut ThreadBlock) -> *mut Heap {
    let h = (*tb).heap;
    if !h.is_null() {
        return h;
    }
    attach(tb)
}

#[cold]
#[inline(never)]
unsafe fn attach(tb: *mut ThreadBlock) -> *mut Heap {
    if !ensure_init() {
        return ptr::null_mut();
    }
    reclaim_abandoned();
    let h = {
        let mut pool = HEAPS.lock();
        let h = pool.free;
        if !h.is_null() {
            pool.free = (*h).next_free;
            (*h).next_free = ptr::null_mut();
            (*h).state = HeapState::Active;
            h
        } else {
            let sz = core::mem::size_of::<Heap>().next_multiple_of(64);
            if pool.end == 0 {
                pool.cur = FIRST_HEAPS.0.get() as usize;
                pool.end = pool.cur + 16 * 1024;
            }
            if pool.cur + sz > pool.end {
                let chunk = os::map(HEAP_CHUNK);
                if chunk.is_null() {
                    return ptr::null_mut();
                }
                pool.cur = chunk as usize;
                pool.end = chunk as usize + HEAP_CHUNK;
            }
            let h = pool.cur as *mut Heap;
            pool.cur += sz;
            // Fresh mmap and .bss memory is zeroed; zero counters are what a new heap wants.
            Heap::init(&mut *h);
            (*h).next_all = pool.all;
            pool.all = h;
            h
        }
    };
    unified::reset_lanes(tb);
    (*h).tb = tb;
    (*h).owner_thread = libc::pthread_self() as usize;
    (*tb).heap = h;
    (*tb).fast_heap = if tuning().harden { ptr::null_mut() } else { h };
    // Hardened mode checks every remote free in free_slow: no queue to bypass it.
    (*tb).rq_cap = if tuning().harden { 0 } else { tuning().remote_batch };
    let key = KEY.load(Ordering::Acquire);
    if key != 0 && !(*tb).key_set {
        libc::pthread_setspecific(key - 1, tb as *const libc::c_void);
        (*tb).key_set = true;
    }
    h
}

/// Drain the inboxes of abandoned heaps: blocks other threads freed after the owner
/// exited go back to their slabs, and emptied SuperSlabs to the warm pool (and, past the
/// release policy's cap, to the OS). Holding the pool lock makes us the heaps' owner.
pub fn reclaim_abandoned() {
    let pool = HEAPS.lock();
    let mut h = pool.free;
    while !h.is_null() {
        // SAFETY: heaps on the free list belong to no thread; the lock keeps it so.
        unsafe {
            if !(*h).inbox.load(Ordering::Relaxed).is_null() {
                heap::drain_inbox(&mut *h);
                heap::trim(&mut *h);
            }
            h = (*h).next_free;
        }
    }
}

/// pthread key destructor: give the thread's cached blocks back and abandon its heap.
unsafe extern "C" fn thread_exit(arg: *mut libc::c_void) {
    let tb = arg as *mut ThreadBlock;
    (*tb).key_set = false;
    detach(tb);
}

/// Detach the heap from its thread (thread exit). Public for tests that simulate exit.
pub unsafe fn detach(tb: *mut ThreadBlock) {
    let h = (*tb).heap;
    if h.is_null() {
        return;
    }
    crate::front::fastlane::flush_remote(tb);
    unified::flush_all(tb, &mut *h);
    heap::drain_inbox(&mut *h);
    heap::trim(&mut *h);
    let mut pool = HEAPS.lock();
    fold_counters(tb, &mut *h);
    (*h).tb = ptr::null_mut();
    (*h).state = HeapState::Abandoned;
    (*h).next_free = pool.free;
    pool.free = h;
    (*tb).heap = ptr::null_mut();
    (*tb).fast_heap = ptr::null_mut();
}

unsafe fn fold_counters(tb: *mut ThreadBlock, h: &mut Heap) {
    for c in 0..crate::size_class::NCLASS {
        h.counters.frees[c] += (*tb).frees[c];
        (*tb).frees[c] = 0;
    }
    h.counters.remote_sent += (*tb).remote_frees;
    (*tb).remote_frees = 0;
}

/// Visit every heap (and its live thread block, if any) under the pool lock.
pub fn for_each_heap(mut f: impl FnMut(&Heap, Option<&ThreadBlock>)) {
    let pool = HEAPS.lock();
    let mut h = pool.all;
    while !h.is_null() {
        // SAFETY: heaps are never freed; tb is valid while the heap is Active (detach
        // clears it under this lock before the thread's TLS goes away).
        unsafe {
            let tb = if (*h).state == HeapState::Active && !(*h).tb.is_null() { Some(&*(*h).tb) } else { None };
            f(&*h, tb);
            h = (*h).next_all;
        }
    }
}

// ---- fork ------------------------------------------------------------------------------

extern "C" fn fork_prepare() {
    HEAPS.raw_lock();
    warm_pool::POOL.raw_lock();
    large::lock_for_fork();
}

extern "C" fn fork_parent() {
    large::unlock_after_fork();
    warm_pool::POOL.raw_unlock();
    HEAPS.raw_unlock();
}

/// In the child only the forking thread exists. Heaps of the other threads may have been
/// mid-operation, so they are never adopted (orphaned); blocks the child frees into them
/// go to their inbox and stay there. The child's own heap carries on.
extern "C" fn fork_child() {
    large::unlock_after_fork();
    warm_pool::POOL.raw_unlock();
    HEAPS.raw_unlock();
    // SAFETY: single-threaded now; heaps are never freed.
    unsafe {
        let me = libc::pthread_self() as usize;
        let pool = HEAPS.lock();
        let mut h = pool.all;
        while !h.is_null() {
            if (*h).state == HeapState::Active && (*h).owner_thread != me {
                (*h).state = HeapState::Orphaned;
                (*h).tb = ptr::null_mut();
            }
            h = (*h).next_all;
        }
    }
}

// ---- bootstrap arena -------------------------------------------------------------------

const BOOT_SIZE: usize = 256 * 1024;

#[repr(C, align(64))]
struct BootArena(UnsafeCell<[u8; BOOT_SIZE]>);
// SAFETY: disjoint ranges are handed out by an atomic bump pointer.
unsafe impl Sync for BootArena {}

static BOOT: BootArena = BootArena(UnsafeCell::new([0; BOOT_SIZE]));
static BOOT_USED: AtomicUsize = AtomicUsize::new(0);

/// Serve an allocation made while hakmem initialises (never freed; 16-byte size header).
#[cold]
pub unsafe fn bootstrap_alloc(n: usize) -> *mut u8 {
    let need = (n.max(1) + 16 + 15) & !15;
    let off = BOOT_USED.fetch_add(need, Ordering::Relaxed);
    if off + need > BOOT_SIZE {
        crate::os::set_enomem();
        return ptr::null_mut();
    }
    let base = (BOOT.0.get() as *mut u8).add(off);
    *(base as *mut usize) = n;
    base.add(16)
}

pub fn bootstrap_contains(p: *mut u8) -> bool {
    let start = BOOT.0.get() as usize;
    (p as usize) >= start && (p as usize) < start + BOOT_SIZE
}

pub unsafe fn bootstrap_size(p: *mut u8) -> usize {
    *(p.sub(16) as *const usize)
}

// ---- the Rust crate's thread access -----------------------------------------------------

std::thread_local! {
    static TB: UnsafeCell<ThreadBlock> = const { UnsafeCell::new(ThreadBlock::ZERO) };
}

/// `thread_local!` access, for `#[global_allocator]` use (fast in executables; in a
/// dlopen'ed cdylib it goes through `__tls_get_addr`, which is what makes dlopen work).
pub struct RustTls;

impl ThreadAccess for RustTls {
    #[inline(always)]
    fn block() -> *mut ThreadBlock {
        TB.with(|t| t.get())
    }
}
