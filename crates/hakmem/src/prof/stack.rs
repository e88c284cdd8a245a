//! The call stack of a sampled allocation: a frame-pointer walk, which never allocates
//! and never calls into libc (an unwinder reading `.eh_frame` would: libgcc's may
//! allocate). What it misses: frames of code built without frame pointers end the chain
//! (glibc itself is, so a chain through `qsort` callbacks or `pthread_create`'s start
//! routine stops there; the allocation site and its callers in code built with
//! `-fno-omit-frame-pointer`, or Rust with `-C force-frame-pointers=yes`, are found).
//! Inlined functions have no frame: they show as their caller (a symbolizer with line
//! tables, e.g. `hakmem prof report`, still names them).
//!
//! Every frame is checked before it is read: inside the thread's stack (from the current
//! stack pointer up to the stack's top: `__libc_stack_end` on the main thread, the thread
//! descriptor that glibc puts above a thread's stack on the others, else the end of the
//! current page), 8-aligned, and each caller's frame above the last.

/// The top (exclusive) of the stack `sp` is on, found without allocating.
fn stack_top(sp: usize) -> usize {
    const MAX_STACK: usize = 1 << 30;
    extern "C" {
        static __libc_stack_end: *mut core::ffi::c_void;
    }
    // SAFETY: a plain read of ld.so's exported variable (set before any code runs).
    let main_top = unsafe { __libc_stack_end } as usize;
    if main_top > sp && main_top - sp < MAX_STACK {
        return main_top;
    }
    // glibc places a thread's descriptor (what pthread_self returns) right above its
    // stack, for stacks it allocates and for ones given with pthread_attr_setstack.
    let td = crate::sync::thread_id();
    if td > sp && td - sp < MAX_STACK {
        return td;
    }
    (sp | 4095) + 1
}

/// Fill `out` with the return addresses of the calling chain, innermost first, skipping
/// the leading ones inside `[skip_lo, skip_hi)` (hakmem's own code); returns how many.
#[inline(never)]
pub fn capture(out: &mut [usize; super::MAX_DEPTH], skip_lo: usize, skip_hi: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let (mut fp, sp): (usize, usize);
        // SAFETY: reads two registers; with frame pointers (.cargo/config.toml) rbp is this
        // function's frame. Without them it is any value, which the checks below reject.
        unsafe {
            core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
            core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        }
        let top = stack_top(sp);
        let mut n = 0;
        let mut skipping = true;
        let mut guard = 0;
        while n < out.len() && guard < 4 * super::MAX_DEPTH {
            guard += 1;
            if fp < sp || fp % 8 != 0 || fp.saturating_add(16) > top {
                break;
            }
            // SAFETY: [fp, fp + 16) lies between the stack pointer and the stack's top,
            // memory of this thread's stack that is mapped.
            let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            if ret < 4096 {
                break;
            }
            if skipping && ret >= skip_lo && ret < skip_hi {
                // hakmem's own frame
            } else {
                skipping = false;
                out[n] = ret;
                n += 1;
            }
            if next <= fp {
                break;
            }
            fp = next;
        }
        n
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (out, skip_lo, skip_hi, stack_top as fn(usize) -> usize);
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn depth_here(extra: u32) -> usize {
        if extra > 0 {
            return core::hint::black_box(depth_here(extra - 1));
        }
        let mut f = [0usize; crate::prof::MAX_DEPTH];
        capture(&mut f, 0, 0)
    }

    #[test]
    fn the_walk_sees_deeper_calls() {
        // The test binary is built with frame pointers (.cargo/config.toml).
        let a = depth_here(0);
        let b = depth_here(5);
        assert!(a >= 1, "at least the caller's frame");
        assert!(b >= (a + 5).min(crate::prof::MAX_DEPTH), "{a} then {b}");
    }
}
