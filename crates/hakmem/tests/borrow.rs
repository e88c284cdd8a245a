//! The class-borrow box (on in both profiles): a class with no freed block of its own takes
//! blocks of the next class. They are bigger, so any malloc is served; but they may be
//! aligned less well than the class's own, and aligned allocations pick their class by its
//! alignment. This thread builds exactly that case and checks what comes out.

use hakmem::api;
use hakmem::RustTls as T;

#[test]
fn aligned_allocations_stay_aligned_when_a_lane_holds_the_next_class_blocks() {
    // SAFETY: every pointer comes from this allocator and is freed once.
    unsafe {
        // Fill the 288 B class's lane with freed blocks.
        let big: Vec<*mut u8> = (0..64).map(|_| api::malloc::<T>(288)).collect();
        for &p in &big {
            assert!(!p.is_null());
            api::free::<T>(p);
        }
        // The 256 B class has no slab of its own yet: its first refill borrows 288 B blocks.
        let first = api::malloc::<T>(250);
        assert_eq!(api::usable_size(first), 288, "the 256 B class borrowed from the next class's lane");
        // Its lane now holds 288 B blocks, which are only 32-byte aligned. 256-aligned
        // requests (class 256 by alignment) must still get 256-aligned blocks.
        let mut kept = vec![first];
        for i in 0..32 {
            let p = api::memalign::<T>(256, 200 + i);
            assert!(!p.is_null());
            assert_eq!(p as usize % 256, 0, "memalign(256) returned {p:p}");
            assert!(api::usable_size(p) >= 200 + i);
            std::ptr::write_bytes(p, 0xA5, 200 + i);
            kept.push(p);
        }
        for p in kept {
            api::free::<T>(p);
        }
        hakmem::check_thread::<T>();
    }
}
