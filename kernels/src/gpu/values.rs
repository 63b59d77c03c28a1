//! Per-edge and per-row partial sums, and the one-cube reductions that turn them into term
//! values.

use super::distance::{cube_sum, REDUCE_UNITS};
use cubecl::prelude::*;

/// Σ_{k<d} (x[a + k] − x[b + k])², summed by the whole cube; every unit must call it.
#[cube]
fn cube_sq_diff_sum(x: &[f32], a: u32, b: u32, d: u32) -> f32 {
    let mut sum = 0.0f32;
    let mut k = UNIT_POS;
    while k < d {
        let diff = x[(a + k) as usize] - x[(b + k) as usize];
        sum += diff * diff;
        k += CUBE_DIM;
    }
    let mut partial = Shared::<[f32]>::new_slice(REDUCE_UNITS as usize);
    partial[UNIT_POS as usize] = sum;
    cube_sum(&mut partial, 0)
}

/// Tree edge lengths from the coordinates themselves (not from the Gram-trick distances,
/// which lose digits far from the origin); one cube per edge.
#[cube(launch_unchecked)]
pub fn edge_lengths_kernel(
    x: &[f32],
    edges: &[i32],
    lengths: &mut [f32],
    x_offset: u32,
    d: u32,
    edge_offset: u32,
    lengths_offset: u32,
) {
    let e = CUBE_POS_X;
    let at = (2 * (edge_offset + e)) as usize;
    let u = u32::cast_from(edges[at]);
    let v = u32::cast_from(edges[at + 1]);
    let total = cube_sq_diff_sum(x, x_offset + u * d, x_offset + v * d, d);
    if UNIT_POS == 0 {
        lengths[(lengths_offset + e) as usize] = f32::sqrt(total);
    }
}

/// Per row r: Σ_k (a_rk − b_rk)², for `mse`; one cube per row.
#[cube(launch_unchecked)]
pub fn mse_rows_kernel(x: &[f32], partial: &mut [f32], a_offset: u32, b_offset: u32, d: u32) {
    let r = CUBE_POS_X;
    let total = cube_sq_diff_sum(x, a_offset + r * d, b_offset + r * d, d);
    if UNIT_POS == 0 {
        partial[r as usize] = total;
    }
}

/// `out[out_index] = scale · Σ_{i<len} f(values[offset + i])` with f(v) = v, or
/// f(v) = (v − 1)² when `distance_to_one` (the sphere term on row norms); one cube, in a
/// fixed order, so the value is the same every run.
#[cube(launch_unchecked)]
pub fn sum_scaled_kernel(
    values: &[f32],
    out: &mut [f32],
    offset: u32,
    len: u32,
    scale: f32,
    out_index: u32,
    #[comptime] distance_to_one: bool,
) {
    let mut sum = 0.0f32;
    let mut i = UNIT_POS;
    while i < len {
        let v = values[(offset + i) as usize];
        if distance_to_one {
            sum += (v - 1.0) * (v - 1.0);
        } else {
            sum += v;
        }
        i += CUBE_DIM;
    }
    let mut shared = Shared::<[f32]>::new_slice(REDUCE_UNITS as usize);
    shared[UNIT_POS as usize] = sum;
    let total = cube_sum(&mut shared, 0);
    if UNIT_POS == 0 {
        out[out_index as usize] = scale * total;
    }
}
