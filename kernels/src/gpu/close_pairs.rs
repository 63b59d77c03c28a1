//! Exact squared distances for the close pairs, on the device: the GPU side of the CPU's
//! `close_pairs` step.
//!
//! The Gram trick's error, about ε (‖c_i‖² + ‖c_j‖²) with `c = x − μ`, is as large as the
//! distance itself for points much closer to each other than to μ (clusters on the unit
//! sphere), and Borůvka would order those edges at random. Between the distances and
//! Borůvka, two launches per matrix:
//!
//! 1. [`close_threshold_kernel()`], one cube: θ = [`TRUST`] · ε · 2 max_r ‖c_r‖², the CPU's
//!    threshold;
//! 2. [`close_pairs_kernel()`], one unit per entry: an entry below θ is recomputed from the
//!    coordinates, Σ_k (x_ik − x_jk)² in f32 (the difference of two close f32 values is
//!    exact), in place. (i, j) and (j, i) are two units computing the same bits (the
//!    squares of opposite differences), so the matrix stays exactly symmetric.
//!
//! The CPU recomputes every pair of the components of its tree's close edges instead (it
//! has the tree first); the pairs this leaves as they are within such a component are not
//! close, and the component joins their ends by close edges, so they are no tree edge
//! either way. Entries of spread-out clouds are all above θ: the cost is one read of the
//! matrix.

use cubecl::prelude::*;

use super::distance::{cube_max, REDUCE_UNITS};

/// How far above the Gram trick's error bound an entry must be to be kept (the CPU's).
pub const TRUST: f32 = 4096.0;

/// θ / max_r ‖c_r‖² = `TRUST` · ε · 2, as the CPU's `close_pairs`.
pub const CLOSE_FACTOR: f32 = TRUST * 2.0 * f32::EPSILON;

/// `theta[at] = CLOSE_FACTOR · max_r shifted_sq[r]` over the n rows, in one cube of
/// [`REDUCE_UNITS`] units.
#[cube(launch_unchecked)]
pub fn close_threshold_kernel(shifted_sq: &[f32], theta: &mut [f32], n: u32, at: u32) {
    let mut largest = 0.0f32;
    let mut r = UNIT_POS;
    while r < n {
        largest = max(largest, shifted_sq[r as usize]);
        r += CUBE_DIM;
    }
    let mut values = Shared::<[f32]>::new_slice(REDUCE_UNITS as usize);
    values[UNIT_POS as usize] = largest;
    let largest = cube_max(&mut values, 0);
    if UNIT_POS == 0 {
        theta[at as usize] = largest * CLOSE_FACTOR;
    }
}

/// Entry e = `(CUBE_POS_Y · CUBE_COUNT_X + CUBE_POS_X) · CUBE_DIM + UNIT_POS` of the n × n
/// matrix at `dist_offset` in `dist`: where it is below `theta[at]` (and off the
/// diagonal), ‖x_i − x_j‖² from the rows of `x` (n × d from `x_offset`).
#[cube(launch_unchecked)]
pub fn close_pairs_kernel(
    x: &[f32],
    theta: &[f32],
    dist: &mut [f32],
    x_offset: u32,
    n: u32,
    d: u32,
    dist_offset: u32,
    at: u32,
) {
    let e = (CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X) * CUBE_DIM + UNIT_POS;
    if e < n * n {
        let i = e / n;
        let j = e % n;
        let entry = (dist_offset + e) as usize;
        if i != j && dist[entry] < theta[at as usize] {
            let mut sum = 0.0f32;
            for k in 0..d {
                let diff = x[(x_offset + i * d + k) as usize] - x[(x_offset + j * d + k) as usize];
                sum += diff * diff;
            }
            dist[entry] = sum;
        }
    }
}
