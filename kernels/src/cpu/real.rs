//! The floating-point element types the kernels accept.

use std::fmt::Debug;
use std::ops::{Add, Mul, Range, Sub};

use super::gram::GramKernel;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type accepted by the kernels: implemented for `f32` and `f64`
/// only (the trait is sealed).
///
/// `f32` has hand-written AVX-512 and AVX2+FMA Gram micro-kernels; `f64` has AVX-512 and
/// AVX2+FMA kernels of the same shape; both fall back to a portable blocked kernel.
pub trait Real:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    /// Additive identity.
    const ZERO: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// A quiet NaN (used as the "already in the tree" sentinel by Prim).
    const NAN: Self;
    /// The machine epsilon (sets how far Gram-trick distances are trusted).
    const EPSILON: Self;

    /// Exact widening (f32) or identity (f64).
    fn to_f64(self) -> f64;
    /// Round-to-nearest narrowing (f32) or identity (f64).
    fn from_f64(value: f64) -> Self;

    /// Fills `out` (n*n) with squared distances using `kernel` (already checked to be
    /// available). Implementation detail of [`crate::pairwise_sq_distances`].
    #[doc(hidden)]
    fn sq_distances_into(x: &[Self], n: usize, d: usize, kernel: GramKernel, out: &mut [Self]);

    /// Fills `out` (`rows.len() x n`) with the rows `rows` of the squared-distance
    /// matrix, bit-identical to [`Real::sq_distances_into`] with the same `kernel`.
    /// Implementation detail of [`crate::pairwise_sq_distances_rows`].
    #[doc(hidden)]
    fn sq_distance_rows_into(
        x: &[Self],
        n: usize,
        d: usize,
        rows: Range<usize>,
        kernel: GramKernel,
        out: &mut [Self],
    );

    /// Rows per packed panel (the vector width of one micro-tile) of `kernel` for this type.
    #[doc(hidden)]
    fn panel_width(kernel: GramKernel) -> usize;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f32::INFINITY;
    const NAN: Self = f32::NAN;
    const EPSILON: Self = f32::EPSILON;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn sq_distances_into(x: &[Self], n: usize, d: usize, kernel: GramKernel, out: &mut [Self]) {
        super::gram::sq_distances_into_f32(x, n, d, kernel, out)
    }
    fn sq_distance_rows_into(
        x: &[Self],
        n: usize,
        d: usize,
        rows: Range<usize>,
        kernel: GramKernel,
        out: &mut [Self],
    ) {
        super::gram::sq_distance_rows_into_f32(x, n, d, rows, kernel, out)
    }
    fn panel_width(kernel: GramKernel) -> usize {
        super::gram::panel_width_f32(kernel)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f64::INFINITY;
    const NAN: Self = f64::NAN;
    const EPSILON: Self = f64::EPSILON;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(value: f64) -> Self {
        value
    }
    fn sq_distances_into(x: &[Self], n: usize, d: usize, kernel: GramKernel, out: &mut [Self]) {
        super::gram::sq_distances_into_f64(x, n, d, kernel, out)
    }
    fn sq_distance_rows_into(
        x: &[Self],
        n: usize,
        d: usize,
        rows: Range<usize>,
        kernel: GramKernel,
        out: &mut [Self],
    ) {
        super::gram::sq_distance_rows_into_f64(x, n, d, rows, kernel, out)
    }
    fn panel_width(kernel: GramKernel) -> usize {
        super::gram::panel_width_f64(kernel)
    }
}
