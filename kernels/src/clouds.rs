//! Point clouds on which the Gram trick alone gets the tree wrong: points much closer to
//! each other than to the cloud's centre, the regime the sphere term drives T-REGS's
//! embeddings into. Shared by the tests of every tree path (CPU, sharded, GPU) and by the
//! benchmarks, so that each is checked on the same cases.

/// Points on one great circle of the unit sphere in R^`dim` (`dim` ≥ 2), row-major:
/// `groups` groups of four, `gap` apart inside a group (steps of gap · 1, 1.3 and 1.6
/// along the circle) and 0.05 between groups. The exact tree is the path in index order,
/// and it is unique.
pub fn great_circle_groups(groups: usize, gap: f64, dim: usize) -> Vec<f64> {
    assert!(dim >= 2, "a circle needs two dimensions");
    let mut angle = 0.0f64;
    let mut x = vec![0.0; groups * 4 * dim];
    for (i, row) in x.chunks_exact_mut(dim).enumerate() {
        if i > 0 {
            angle += if i % 4 == 0 {
                0.05
            } else {
                gap * (0.7 + 0.3 * (i % 4) as f64)
            };
        }
        row[0] = angle.cos();
        row[1] = angle.sin();
    }
    x
}

/// `clusters` clusters of `n / clusters` consecutive points (n × d, row-major), each
/// uniform in a cube `spread` wide around a centre on the unit sphere; the centres
/// alternate with their antipodes, so that the column mean (the Gram trick's shift) stays
/// near the origin, far from every cluster. Reproducible from `seed` (xorshift64).
pub fn antipodal_clusters(n: usize, d: usize, clusters: usize, spread: f64, seed: u64) -> Vec<f64> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let centres: Vec<Vec<f64>> = (0..clusters)
        .map(|c| {
            let v: Vec<f64> = (0..d).map(|_| next()).collect();
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            let sign = if c % 2 == 0 { 1.0 } else { -1.0 };
            v.iter().map(|a| sign * a / norm).collect()
        })
        .collect();
    (0..n)
        .flat_map(|i| {
            let centre = &centres[i * clusters / n];
            centre
                .iter()
                .map(|c| c + spread * next())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `values` rounded to f32.
pub fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}
