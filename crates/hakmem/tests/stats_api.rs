//! The public statistics API as a `#[global_allocator]` user sees it: `stats()`,
//! `thread_stats()`, `trim()`, `usable_size()`, `version()`, and (feature `serde`) stats as JSON.

#[global_allocator]
static A: hakmem::HakMem = hakmem::HakMem;

#[test]
fn thread_stats_follow_this_threads_allocations() {
    std::thread::spawn(|| {
        let before = hakmem::thread_stats();
        let v: Vec<Box<[u8; 40]>> = (0..5000).map(|_| Box::new([7u8; 40])).collect();
        let during = hakmem::thread_stats();
        assert!(during.has_heap);
        // 40 bytes -> the 48-byte class (fine classes, the default)
        let c = during.classes.iter().position(|k| k.block_size == 48).unwrap();
        assert!(during.classes[c].refill_blocks >= before.classes[c].refill_blocks + 5000);
        drop(v);
        let after = hakmem::thread_stats();
        assert!(after.lane_blocks[c] > 0, "freed blocks wait in the FastLane");
        assert!(after.classes[c].flush_blocks > during.classes[c].flush_blocks, "the lane flushed back");
    })
    .join()
    .unwrap();
}

#[test]
fn trim_gives_a_freed_burst_back() {
    std::thread::spawn(|| {
        let v: Vec<Vec<u8>> = (0..3000).map(|_| vec![1u8; 100_000]).collect();
        drop(v);
        let before = hakmem::stats().mapped_bytes;
        let released = hakmem::trim();
        let after = hakmem::stats().mapped_bytes;
        assert!(after < before, "mapped {before} -> {after}");
        assert!(released > 0);
    })
    .join()
    .unwrap();
}

#[test]
fn usable_size_and_version() {
    let b = Box::new([0u8; 100]);
    // SAFETY: a live block of this allocator.
    let n = unsafe { hakmem::usable_size(b.as_ptr()) };
    assert!((100..=128).contains(&n), "{n}");
    assert_eq!(hakmem::version(), env!("CARGO_PKG_VERSION"));
}

#[cfg(feature = "serde")]
#[test]
fn stats_serialize_to_json() {
    let s = serde_json::to_value(hakmem::stats()).unwrap();
    assert!(s["rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s["classes"].as_array().unwrap().len(), hakmem::stats().classes.len());
    let t = serde_json::to_value(hakmem::thread_stats()).unwrap();
    assert!(t["has_heap"].is_boolean());
}
