//! Memory comes back: after a burst is freed, the balanced profile's purge box gives its
//! pages back at once, even when the blocks belong to a thread that has exited. Its own
//! test binary, so no other test's live memory blurs the numbers.

use hakmem::api;
use hakmem::RustTls as T;

#[test]
fn burst_memory_returns_to_the_os() {
    // 200 MB of 512 B and 128 KiB blocks, made by a thread that exits, freed by another:
    // balanced (the default) saw no demand for the emptied SuperSlabs, so it decommits
    // them as they come back, with no new thread adopting the exited one's heap.
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
    let after = hakmem::stats();
    assert!(after.ss_unmapped == before.ss_unmapped, "the purge box keeps chunks mapped (decommitted)");
    assert!(
        after.rss_bytes < peak.rss_bytes / 4,
        "resident memory stayed high: peak {} after {}",
        peak.rss_bytes,
        after.rss_bytes
    );
}
