//! Per-edge and per-row partial sums, and the one-cube reductions that turn them into term
//! values.

use super::distance::{cube_sum, REDUCE_UNITS};
use cubecl::prelude::*;

/// Σ_{k<d} (x[a + k] − y[b + k])², summed by the whole cube; every unit must call it.
#[cube]
fn cube_sq_diff_sum(x: &[f32], y: &[f32], a: u32, b: u32, d: u32) -> f32 {
    let mut sum = 0.0f32;
    let mut k = UNIT_POS;
    while k < d {
        let diff = x[(a + k) as usize] - y[(b + k) as usize];
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
    let total = cube_sq_diff_sum(x, x, x_offset + u * d, x_offset + v * d, d);
    if UNIT_POS == 0 {
        lengths[(lengths_offset + e) as usize] = f32::sqrt(total);
    }
}

/// Per row r: Σ_k (a_rk − b_rk)², for `mse`, into `partial` at `partial_offset + r`; one
/// cube per row. `a` and `b` are the buffers holding the two inputs (the same buffer when
/// both sit in it).
#[cube(launch_unchecked)]
pub fn mse_rows_kernel(
    a: &[f32],
    b: &[f32],
    partial: &mut [f32],
    a_offset: u32,
    b_offset: u32,
    d: u32,
    partial_offset: u32,
) {
    let r = CUBE_POS_X;
    let total = cube_sq_diff_sum(a, b, a_offset + r * d, b_offset + r * d, d);
    if UNIT_POS == 0 {
        partial[(partial_offset + r) as usize] = total;
    }
}

/// Fields per term in the `specs` buffer of [`term_values_kernel`].
pub const TERM_SPEC_FIELDS: usize = 4;
/// `specs[4k..4k + 4]` for term k: where its summands start in `values`, how many there
/// are, how each counts (below), and the f32 bits of its scale.
pub const SPEC_OFFSET: usize = 0;
pub const SPEC_LEN: usize = 1;
pub const SPEC_MODE: usize = 2;
pub const SPEC_SCALE_BITS: usize = 3;
/// Summand v counts as v (tree lengths, `mse` row sums).
pub const MODE_SUM: u32 = 0;
/// Summand v counts as (v − 1)² (the sphere term, on row norms).
pub const MODE_DISTANCE_TO_ONE: u32 = 1;

/// Every term's value in one launch, one cube per term k:
/// `out[k] = scale_k · Σ_{i<len_k} f_k(values[offset_k + i])`, summed in a fixed order, so
/// each value is the same every run.
#[cube(launch_unchecked)]
pub fn term_values_kernel(values: &[f32], specs: &[u32], out: &mut [f32]) {
    let k = CUBE_POS_X;
    let spec = (k * 4) as usize;
    let offset = specs[spec];
    let len = specs[spec + 1];
    let distance_to_one = specs[spec + 2] == 1;
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
        out[k as usize] = f32::reinterpret(specs[spec + 3]) * total;
    }
}
