//! Timing of the CPU T-REGS kernels.
//!
//! ```text
//! cargo run -p tregs-kernels --release --example gram_bench [-- --kernel avx512|avx2|portable] [--f64] [--size N,D]...
//! ```
//!
//! For n in {256, 1024, 4096} and d in {128, 2048} prints the median time of
//! `pairwise_sq_distances` and its GFLOP/s-equivalent, counting `2 n^2 d` flops (a full
//! `X X^T`), so computing one triangle shows as a gain; then the times of `prim_mst` on
//! that matrix and of `edge_lengths`.

use std::time::Instant;

use tregs_kernels::{edge_lengths, pairwise_sq_distances_into, prim_mst, GramKernel, Real};

/// Deterministic standard-normal-ish samples (SplitMix64 + Box-Muller).
fn gaussian_cloud<T: Real>(len: usize, seed: u64) -> Vec<T> {
    let mut state = seed;
    let mut next_unit = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..len)
        .map(|_| {
            let (a, b) = (next_unit(), next_unit());
            T::from_f64((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos())
        })
        .collect()
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn run<T: Real>(kernel: GramKernel, sizes: &[(usize, usize)]) {
    println!(
        "kernel {:?}, element {}, {} rayon threads",
        kernel.resolve(),
        std::any::type_name::<T>(),
        rayon::current_num_threads()
    );
    if let Some(peak) = tregs_kernels::fma_peak_gflops(rayon::current_num_threads()) {
        println!("calibration: register-only FMA peak now {peak:.0} GFLOP/s on all threads");
    }
    println!(
        "{:>5} {:>5} | {:>10} {:>12} | {:>9} | {:>11}",
        "n", "d", "gram ms", "GFLOP/s-eq", "prim ms", "lengths ms"
    );
    for &(n, d) in sizes {
        {
            let x = gaussian_cloud::<T>(n * d, 7 + n as u64 * 31 + d as u64);
            let mut d2 = vec![T::ZERO; n * n];
            let flops = 2.0 * (n * n) as f64 * d as f64;
            // About 0.5 s of Gram work per configuration, at least 3 runs.
            let reps = ((2.5e11 / flops) as usize).clamp(3, 200);
            pairwise_sq_distances_into(&x, n, d, kernel, &mut d2); // warm-up
            let gram: Vec<f64> = (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    pairwise_sq_distances_into(&x, n, d, kernel, &mut d2);
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            let gram_ms = median_ms(gram);
            let prim_reps = reps.clamp(3, 20);
            let mut edges = Vec::new();
            let prim: Vec<f64> = (0..prim_reps)
                .map(|_| {
                    let t = Instant::now();
                    edges = prim_mst(&d2, n);
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            let lengths: Vec<f64> = (0..prim_reps)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(edge_lengths(&x, d, &edges));
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            println!(
                "{:>5} {:>5} | {:>10.3} {:>12.1} | {:>9.3} | {:>11.3}",
                n,
                d,
                gram_ms,
                flops / (gram_ms * 1e-3) / 1e9,
                median_ms(prim),
                median_ms(lengths)
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kernel = match args
        .iter()
        .position(|a| a == "--kernel")
        .map(|i| args[i + 1].as_str())
    {
        Some("avx512") => GramKernel::Avx512,
        Some("avx2") => GramKernel::Avx2Fma,
        Some("portable") => GramKernel::Portable,
        _ => GramKernel::Auto,
    };
    // `--size N,D` (repeatable) replaces the default grid.
    let mut sizes: Vec<(usize, usize)> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| a.as_str() == "--size")
        .map(|(i, _)| {
            let (n, d) = args[i + 1].split_once(',').expect("--size N,D");
            (n.parse().expect("N"), d.parse().expect("D"))
        })
        .collect();
    if sizes.is_empty() {
        sizes = [256usize, 1024, 4096]
            .iter()
            .flat_map(|&n| [128usize, 2048].map(|d| (n, d)))
            .collect();
    }
    if args.iter().any(|a| a == "--f64") {
        run::<f64>(kernel, &sizes);
    } else {
        run::<f32>(kernel, &sizes);
    }
}
