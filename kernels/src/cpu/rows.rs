//! Row reductions accumulated in f64 with eight fixed partial sums: the compiler turns the
//! lanes into SIMD registers (a single running sum would be one dependent add per
//! element), and the summation order is fixed, so results are the same on every run and
//! every thread count.

use super::Real;

const LANES: usize = 8;

/// `Σ_k f(a[k], b[k])` in f64 over eight interleaved partial sums, combined pairwise.
#[inline(always)]
fn lane_sum<T: Real>(a: &[T], b: &[T], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut partial = [0.0f64; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (ac, bc) in (&mut a_chunks).zip(&mut b_chunks) {
        for l in 0..LANES {
            partial[l] += f(ac[l].to_f64(), bc[l].to_f64());
        }
    }
    for (l, (&ak, &bk)) in a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .enumerate()
    {
        partial[l] += f(ak.to_f64(), bk.to_f64());
    }
    let quads = [
        partial[0] + partial[4],
        partial[1] + partial[5],
        partial[2] + partial[6],
        partial[3] + partial[7],
    ];
    (quads[0] + quads[2]) + (quads[1] + quads[3])
}

/// `‖a‖² = Σ_k a_k²`, in f64.
#[inline]
pub fn sq_norm<T: Real>(a: &[T]) -> f64 {
    lane_sum(a, a, |x, _| x * x)
}

/// `‖a − b‖² = Σ_k (a_k − b_k)²`, the differences taken in f64 (exact for f32 inputs, so
/// points far from the origin keep their precision). `a` and `b` have the same length
/// (checked in debug builds).
#[inline]
pub fn sq_distance<T: Real>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

/// `acc[k] += w · a[k]`, in f64.
#[inline]
pub fn add_scaled<T: Real>(acc: &mut [f64], w: f64, a: &[T]) {
    for (slot, &x) in acc.iter_mut().zip(a) {
        *slot += w * x.to_f64();
    }
}

/// `acc[k] += w · (a[k] − b[k])`, in f64.
#[inline]
pub fn add_scaled_difference<T: Real>(acc: &mut [f64], w: f64, a: &[T], b: &[T]) {
    for ((slot, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *slot += w * (x.to_f64() - y.to_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_plain_f64_on_every_remainder() {
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|k| (k as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|k| (k as f32 * 0.11).cos()).collect();
            let norm: f64 = a.iter().map(|&x| (x as f64) * (x as f64)).sum();
            let dist: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum();
            assert!(
                (sq_norm(&a) - norm).abs() <= 1e-12 * norm.max(1.0),
                "len {len}"
            );
            assert!(
                (sq_distance(&a, &b) - dist).abs() <= 1e-12 * dist.max(1.0),
                "len {len}"
            );
        }
    }

    #[test]
    fn scaled_difference_accumulates() {
        let mut acc = vec![1.0; 3];
        add_scaled_difference(&mut acc, 2.0, &[3.0f32, 1.0, 0.5], &[1.0f32, 1.0, 1.5]);
        assert_eq!(acc, vec![5.0, 1.0, -1.0]);
    }
}
