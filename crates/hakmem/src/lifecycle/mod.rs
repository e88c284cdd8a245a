//! Lifecycle: global initialisation, the pool of heaps (adopt, create, abandon, reclaim),
//! `fork`, and the bootstrap arena that serves allocations made while hakmem itself is
//! starting. Uses `heap` and `backend` below it; the front calls in here when a thread
//! needs a heap and when it exits.

pub mod bootstrap;
pub mod fork;
pub mod heaps;

use crate::boxes::sw;
use crate::config::{self, tuning};
use crate::sync::{AtomicU8, AtomicUsize, Ordering};

const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const READY: u8 = 2;

static INIT: AtomicU8 = AtomicU8::new(UNINIT);
static INIT_THREAD: AtomicUsize = AtomicUsize::new(0);

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
    let me = crate::sync::thread_id();
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

/// # Safety
/// Runs once, before any heap exists, on the initialising thread only.
unsafe fn global_init() {
    let cfg = config::from_process_env();
    config::set_tuning(config::Tuning::from_config(&cfg));
    crate::boxes::harden::init(tuning().on(sw::HARDEN));
    crate::size_class::set_table(if !tuning().on(sw::FINE_CLASSES) {
        crate::size_class::Table::Seed
    } else if tuning().get(sw::CLASS_DENSITY) == 0 {
        crate::size_class::Table::Quarter
    } else {
        crate::size_class::Table::Eighth
    });
    fork::register();
    if tuning().on(sw::STATS) {
        // The one call into the statistics observer: arm its exit report.
        crate::stats::arm_exit_report();
    }
    crate::prof::init();
    crate::backend::warm_pool::prewarm(crate::boxes::mem_lean::prewarm_count());
}
