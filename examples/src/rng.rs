//! A small, fixed, dependency-free random number generator (SplitMix64) with Gaussian samples
//! (Box–Muller), so that a seed gives the same cloud on every machine and every version.

/// SplitMix64 (Steele, Lea, Flood 2014): 64 bits of state, passes BigCrush, trivially seeded.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller; one of the pair is discarded for simplicity).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: the log is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Shuffles `v` in place (Fisher–Yates; the modulo bias is below 2^-40 for any
    /// realistic length). The one shuffle of the recipes, so that a seed orders data the
    /// same way everywhere.
    pub fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }

    /// `n` points of `R^d`, row-major, with i.i.d. N(0, σ²) coordinates.
    pub fn gaussian_cloud(&mut self, n: usize, d: usize, sigma: f64) -> Vec<f64> {
        (0..n * d).map(|_| sigma * self.normal()).collect()
    }

    /// `n` points drawn uniformly on the unit sphere S^{d-1} (normalized Gaussians), row-major.
    pub fn uniform_on_sphere(&mut self, n: usize, d: usize) -> Vec<f64> {
        let mut x = self.gaussian_cloud(n, d, 1.0);
        crate::metrics::normalize_rows(&mut x, d);
        x
    }
}
