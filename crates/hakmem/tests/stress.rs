//! Multi-threaded stress: most frees happen on a thread other than the allocating one,
//! and threads exit while their blocks are still alive elsewhere. Then thread churn:
//! thousands of short-lived threads must reuse heaps rather than leak them.

use hakmem::api;
use hakmem::RustTls as T;
use std::sync::mpsc;

fn pattern(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

#[test]
fn cross_thread_frees_with_exiting_owners() {
    for round in 0..4 {
        let (tx, rx) = mpsc::channel::<(usize, usize, u8)>();
        // Producers allocate, keep a few, send most, then exit with their blocks alive.
        let producers: Vec<_> = (0..3)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || unsafe {
                    let mut kept = Vec::new();
                    for i in 0..20_000usize {
                        let n = 8 + (i * 131 + t * 17 + round) % 3000;
                        let p = api::malloc::<T>(n);
                        assert!(!p.is_null());
                        std::ptr::write_bytes(p, pattern(i), n);
                        if i % 10 == 0 {
                            kept.push((p as usize, n, pattern(i)));
                        } else {
                            tx.send((p as usize, n, pattern(i))).unwrap();
                        }
                    }
                    // Free a few locally, leave the rest to the consumer after we exit.
                    for (j, b) in kept.into_iter().enumerate() {
                        if j % 2 == 0 {
                            api::free::<T>(b.0 as *mut u8);
                        } else {
                            tx.send(b).unwrap();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.join().unwrap();
        }
        // Consumer: every block is freed by a thread that did not allocate it, after
        // its owner exited.
        let consumer = std::thread::spawn(move || unsafe {
            let mut n_freed = 0;
            for (p, n, fill) in rx {
                let s = std::slice::from_raw_parts(p as *const u8, n);
                assert!(s.iter().all(|&x| x == fill), "block corrupted before its remote free");
                api::free::<T>(p as *mut u8);
                n_freed += 1;
            }
            n_freed
        });
        let freed = consumer.join().unwrap();
        assert_eq!(freed, 3 * (18_000 + 1000));
    }
    let s = hakmem::stats();
    assert!(s.remote_frees >= 4 * 3 * 19_000, "remote path not taken: {}", s.remote_frees);
}

#[test]
fn thread_churn_reuses_heaps() {
    let before = hakmem::stats().heaps;
    for batch in 0..250 {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || unsafe {
                    let mut v = Vec::new();
                    for i in 0..200 {
                        let p = api::malloc::<T>(16 + (i * 13 + t + batch) % 900);
                        assert!(!p.is_null());
                        *p = 1;
                        v.push(p);
                    }
                    for p in v {
                        api::free::<T>(p);
                    }
                    // one block outlives the thread and is freed by the main thread
                    api::malloc::<T>(64) as usize
                })
            })
            .collect();
        for h in hs {
            let p = h.join().unwrap();
            unsafe { api::free::<T>(p as *mut u8) };
        }
    }
    let after = hakmem::stats().heaps;
    // 1000 threads ran, at most a handful at a time (plus other tests' threads): heaps
    // are adopted again instead of made anew.
    assert!(after - before <= 64, "heaps grew from {before} to {after}: thread exit leaks heaps");
}
