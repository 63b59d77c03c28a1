//! A reusable per-thread buffer for the n x n distance matrix.
//!
//! A training loop calls the tree with the same n every step. A fresh multi-megabyte
//! allocation each time is served by new pages that the OS must fault in and zero: in a
//! profile of the two-view objective at n=256, d=2048, page clearing took a quarter of the
//! call. Reusing one buffer per thread removes it; the memory stays held between calls
//! (release it with [`release_scratch`]).

use std::cell::RefCell;

use super::Real;

thread_local! {
    static DISTANCES: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a buffer of `len` elements of `T` whose contents are unspecified (the
/// caller overwrites every entry), reusing this thread's allocation when it is free.
pub(crate) fn with_distance_buffer<T: Real, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    DISTANCES.with(|cell| match cell.try_borrow_mut() {
        Ok(mut words) => {
            let need = (len * std::mem::size_of::<T>()).div_ceil(8);
            if words.len() < need {
                words.resize(need, 0);
            }
            // SAFETY: the words are initialized, 8-byte aligned (≥ the alignment of f32 and
            // f64, the only `Real` types) and hold at least `len` elements of `T`; every bit
            // pattern is a valid f32/f64; the borrow lives as long as the slice.
            let buffer =
                unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<T>(), len) };
            f(buffer)
        }
        // Re-entered on this thread (rayon may run another tree here while this one waits
        // in a join, e.g. the two views' trees built in parallel): use a fresh buffer.
        Err(_) => f(&mut vec![T::ZERO; len]),
    })
}

/// Frees this thread's reusable distance buffer.
pub fn release_scratch() {
    DISTANCES.with(|cell| {
        if let Ok(mut words) = cell.try_borrow_mut() {
            *words = Vec::new();
        }
    });
}
