//! Deterministic point clouds for the tests.
#![allow(dead_code)]

/// SplitMix64: tiny deterministic generator (the proptest seed drives it).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn gaussian(&mut self) -> f64 {
        let (a, b) = (self.unit(), self.unit());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// Kinds of clouds: the last three have many exact ties.
#[derive(Clone, Copy, Debug)]
pub enum Cloud {
    Gaussian,
    Uniform,
    /// Integer coordinates in [-3, 3]: many equal distances, all arithmetic exact.
    IntegerGrid,
    /// Gaussian points, each repeated several times (zero-length edges).
    GaussianDuplicates,
    /// Integer grid points, each repeated several times.
    GridDuplicates,
}

impl Cloud {
    pub const ALL: [Cloud; 5] = [
        Cloud::Gaussian,
        Cloud::Uniform,
        Cloud::IntegerGrid,
        Cloud::GaussianDuplicates,
        Cloud::GridDuplicates,
    ];

    /// Whether every coordinate is a small integer (exact d2 in f32 and f64).
    pub fn is_integer(self) -> bool {
        matches!(self, Cloud::IntegerGrid | Cloud::GridDuplicates)
    }

    /// n x d cloud in f64 (every value exactly representable in f32 too for integer kinds).
    pub fn generate(self, n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix(seed);
        let point = |rng: &mut SplitMix| -> Vec<f64> {
            (0..d)
                .map(|_| match self {
                    Cloud::Gaussian | Cloud::GaussianDuplicates => rng.gaussian(),
                    Cloud::Uniform => rng.unit(),
                    Cloud::IntegerGrid | Cloud::GridDuplicates => rng.below(7) as f64 - 3.0,
                })
                .collect()
        };
        match self {
            Cloud::GaussianDuplicates | Cloud::GridDuplicates => {
                let distinct = n / 3 + 1;
                let base: Vec<Vec<f64>> = (0..distinct).map(|_| point(&mut rng)).collect();
                (0..n)
                    .flat_map(|_| base[rng.below(distinct)].clone())
                    .collect()
            }
            _ => (0..n).flat_map(|_| point(&mut rng)).collect(),
        }
    }
}

pub use tregs_kernels::clouds::to_f32;

/// Edge set, order-insensitive.
pub fn edge_set(edges: &[(u32, u32)]) -> std::collections::BTreeSet<(u32, u32)> {
    edges.iter().copied().collect()
}

/// Checks the basic shape of a spanning tree: n - 1 edges, u < v, connected, acyclic.
pub fn assert_spanning_tree(edges: &[(u32, u32)], n: usize) {
    assert_eq!(edges.len(), n.saturating_sub(1));
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(u, v) in edges {
        assert!(u < v && (v as usize) < n, "bad edge ({u}, {v})");
        let (ru, rv) = (find(&mut parent, u as usize), find(&mut parent, v as usize));
        assert_ne!(ru, rv, "cycle through ({u}, {v})");
        parent[ru] = rv;
    }
}

/// Tree length with lengths recomputed in f64 from `x`.
pub fn tree_length_f64(x: &[f64], d: usize, edges: &[(u32, u32)]) -> f64 {
    tregs_kernels::edge_lengths(x, d, edges).iter().sum()
}
