//! hakmem as a Rust program's `#[global_allocator]`: collections, strings, threads.

use std::collections::{BTreeMap, HashMap};

#[global_allocator]
static A: hakmem::HakMem = hakmem::HakMem;

#[test]
fn collections_and_threads_run_on_hakmem() {
    let before = hakmem::stats();
    let hs: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut m: HashMap<String, Vec<u64>> = HashMap::new();
                for i in 0..20_000u64 {
                    m.entry(format!("key-{}", i % 5000)).or_default().push(i * t);
                }
                let mut b = BTreeMap::new();
                for (k, v) in &m {
                    b.insert(k.clone(), v.iter().sum::<u64>());
                }
                let big: Vec<u8> = vec![7; 3 << 20];
                assert!(big.iter().all(|&x| x == 7));
                let aligned = std::alloc::Layout::from_size_align(1000, 4096).unwrap();
                unsafe {
                    let p = std::alloc::alloc(aligned);
                    assert_eq!(p as usize % 4096, 0);
                    std::alloc::dealloc(p, aligned);
                }
                b.len()
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 5000);
    }
    let after = hakmem::stats();
    let allocs = |s: &hakmem::Stats| s.classes.iter().map(|c| c.refills).sum::<u64>();
    assert!(allocs(&after) > allocs(&before), "collections did not allocate through hakmem");
    assert!(after.huge_allocs > before.huge_allocs, "the 3 MiB vector was not a huge block");
}
