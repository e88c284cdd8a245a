//! The C7 (1 KiB class) short path, behind `HAKMEM_C7_ULTRA` (see `boxes::c7_ultra`).

use crate::size_class::{class_of, ClassIdx};

/// C7 holds sizes 769..=1024.
const C7_LO: usize = 769;

/// Size to class, trying the C7 range first when the box is on.
#[inline(always)]
pub fn class_with_c7(n: usize, c7_ultra: bool) -> ClassIdx {
    if c7_ultra && n.wrapping_sub(C7_LO) < 1024 - C7_LO + 1 {
        return 7;
    }
    class_of(n)
}
