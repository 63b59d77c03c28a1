//! Row reductions accumulated in f64 with eight fixed partial sums: the compiler turns the
//! lanes into SIMD registers (a single running sum would be one dependent add per
//! element), and the summation order is fixed, so results are the same on every run and
//! every thread count.
//!
//! Each function runs a build of its body compiled for AVX2 when the CPU has it (4 f64
//! lanes per register instead of SSE2's 2: the default x86-64 target stops at SSE2), else
//! the baseline build. Both builds perform the same IEEE operations in the same order (no
//! FMA: Rust never contracts `a * b + c`), so they agree bit for bit.

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

/// Defines `pub fn $name` running `$body` (an `#[inline(always)]` generic function) as
/// built for AVX2 when the CPU has it, else as built for the baseline target.
macro_rules! avx2_dispatch {
    ($(#[$doc:meta])* $name:ident, $avx2:ident, $body:ident,
     ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$doc])*
        #[inline]
        pub fn $name<T: Real>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected at run time.
                return unsafe { $avx2($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2<T: Real>($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }
    };
}

avx2_dispatch!(
    /// `‖a‖² = Σ_k a_k²`, in f64.
    sq_norm, sq_norm_avx2, sq_norm_body, (a: &[T]) -> f64
);

#[inline(always)]
fn sq_norm_body<T: Real>(a: &[T]) -> f64 {
    lane_sum(a, a, |x, _| x * x)
}

avx2_dispatch!(
    /// `‖a − b‖² = Σ_k (a_k − b_k)²`, the differences taken in f64 (exact for f32 inputs,
    /// so points far from the origin keep their precision). `a` and `b` have the same
    /// length (checked in debug builds).
    sq_distance, sq_distance_avx2, sq_distance_body, (a: &[T], b: &[T]) -> f64
);

#[inline(always)]
fn sq_distance_body<T: Real>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

avx2_dispatch!(
    /// `acc[k] += w · a[k]`, in f64.
    add_scaled, add_scaled_avx2, add_scaled_body, (acc: &mut [f64], w: f64, a: &[T])
);

#[inline(always)]
fn add_scaled_body<T: Real>(acc: &mut [f64], w: f64, a: &[T]) {
    for (slot, &x) in acc.iter_mut().zip(a) {
        *slot += w * x.to_f64();
    }
}

avx2_dispatch!(
    /// `acc[k] += w · (a[k] − b[k])`, in f64.
    add_scaled_difference, add_scaled_difference_avx2, add_scaled_difference_body,
    (acc: &mut [f64], w: f64, a: &[T], b: &[T])
);

#[inline(always)]
fn add_scaled_difference_body<T: Real>(acc: &mut [f64], w: f64, a: &[T], b: &[T]) {
    for ((slot, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *slot += w * (x.to_f64() - y.to_f64());
    }
}

avx2_dispatch!(
    /// `out[k] = acc[k]` rounded to `T` (an f64 row sum stored as the element type).
    store_rounded, store_rounded_avx2, store_rounded_body, (out: &mut [T], acc: &[f64])
);

#[inline(always)]
fn store_rounded_body<T: Real>(out: &mut [T], acc: &[f64]) {
    for (slot, &v) in out.iter_mut().zip(acc) {
        *slot = T::from_f64(v);
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
    #[cfg(target_arch = "x86_64")]
    fn avx2_and_baseline_builds_agree_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the baseline build exists to test");
            return;
        }
        for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 1000, 2048] {
            let a: Vec<f32> = (0..len).map(|k| (k as f32 * 0.37).sin() * 1e3).collect();
            let b: Vec<f32> = (0..len).map(|k| (k as f32 * 0.11).cos() + 1e4).collect();
            // SAFETY: AVX2 was detected above.
            unsafe {
                assert_eq!(sq_norm_avx2(&a).to_bits(), sq_norm_body(&a).to_bits());
                let (fast, base) = (sq_distance_avx2(&a, &b), sq_distance_body(&a, &b));
                assert_eq!(fast.to_bits(), base.to_bits());
                let (mut acc_fast, mut acc_base) = (vec![0.25f64; len], vec![0.25f64; len]);
                add_scaled_avx2(&mut acc_fast, -1.3, &a);
                add_scaled_body(&mut acc_base, -1.3, &a);
                add_scaled_difference_avx2(&mut acc_fast, 0.7, &a, &b);
                add_scaled_difference_body(&mut acc_base, 0.7, &a, &b);
                assert_eq!(acc_fast, acc_base);
                let (mut out_fast, mut out_base) = (vec![0f32; len], vec![0f32; len]);
                store_rounded_avx2(&mut out_fast, &acc_fast);
                store_rounded_body(&mut out_base, &acc_base);
                assert_eq!(out_fast, out_base);
            }
        }
    }

    #[test]
    fn scaled_difference_accumulates() {
        let mut acc = vec![1.0; 3];
        add_scaled_difference(&mut acc, 2.0, &[3.0f32, 1.0, 0.5], &[1.0f32, 1.0, 1.5]);
        assert_eq!(acc, vec![5.0, 1.0, -1.0]);
    }
}
