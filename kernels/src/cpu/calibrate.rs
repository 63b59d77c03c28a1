//! The machine's f32 FMA throughput right now: the ceiling a benchmark reads its GFLOP/s
//! against on a shared host.

use std::time::Instant;

/// Register-only f32 FMA throughput on `threads` threads, in GFLOP/s (about 50 ms), or
/// `None` on CPUs without AVX2+FMA. The triangle-only Gram step can reach at most about
/// twice this figure in GFLOP/s-equivalent (2·n²·d).
pub fn fma_peak_gflops(threads: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx2,fma")]
        fn spin(iters: u64) -> f32 {
            let mut acc = [_mm256_set1_ps(0.0); 12];
            let (a, b) = (_mm256_set1_ps(1.000_000_1), _mm256_set1_ps(0.999_999_9));
            for _ in 0..iters {
                for v in acc.iter_mut() {
                    *v = _mm256_fmadd_ps(a, *v, b);
                }
            }
            let sum = acc
                .iter()
                .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
            let mut lanes = [0.0f32; 8];
            // SAFETY: `lanes` holds 8 f32, what an unaligned 256-bit store writes.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
            lanes.iter().sum()
        }
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return None;
        }
        let iters = 10_000_000u64;
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                // SAFETY: AVX2 and FMA were detected above.
                s.spawn(|| std::hint::black_box(unsafe { spin(iters) }));
            }
        });
        let flops = threads as f64 * iters as f64 * 12.0 * 8.0 * 2.0;
        Some(flops / start.elapsed().as_secs_f64() / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        None
    }
}
