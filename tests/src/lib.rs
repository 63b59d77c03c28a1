//! Cross-crate tests of tregs live in `tests/`: trybuild compile-error cases (`ui/`), insta
//! snapshots of `loss!` expansions, named losses with their configs.

/// A reproducible cloud for the MPI programs (`mpi_checks`, `mpi_bench`): n × d values in
/// [−1, 1) from a SplitMix64 stream, the same on every process.
pub fn uniform_cloud(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..n * d)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}
