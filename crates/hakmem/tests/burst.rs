//! Memory comes back: after a burst is freed, the balanced profile keeps at most its
//! target of empty SuperSlabs mapped. Its own test binary, so no other test's live
//! memory blurs the numbers.

use hakmem::api;
use hakmem::RustTls as T;

#[test]
fn burst_memory_returns_to_the_os() {
    // 200 MB of 512 B and 128 KiB blocks, freed: balanced (the default) keeps at most
    // its 10 MB target (+ hysteresis) of empty SuperSlabs mapped.
    let before = hakmem::stats();
    let blocks: Vec<usize> = std::thread::spawn(|| unsafe {
        let mut v = Vec::new();
        for i in 0..200_000usize {
            let n = if i % 200 == 0 { 128 * 1024 } else { 512 };
            let p = api::malloc::<T>(n);
            std::ptr::write_bytes(p, 1, n);
            v.push(p as usize);
        }
        v
    })
    .join()
    .unwrap();
    let peak = hakmem::stats();
    assert!(peak.mapped_bytes > before.mapped_bytes + (150 << 20), "burst not mapped?");
    std::thread::spawn(move || unsafe {
        for p in blocks {
            api::free::<T>(p as *mut u8);
        }
    })
    .join()
    .unwrap();
    // Remote frees wait in the (abandoned) owner heap's inbox until a thread adopts it.
    std::thread::spawn(|| unsafe { api::free::<T>(api::malloc::<T>(100)) }).join().unwrap();
    let after = hakmem::stats();
    assert!(after.ss_unmapped > before.ss_unmapped, "no SuperSlab was unmapped");
    assert!(
        after.mapped_bytes < peak.mapped_bytes / 4,
        "mapped bytes stayed high: peak {} after {}",
        peak.mapped_bytes,
        after.mapped_bytes
    );
}
