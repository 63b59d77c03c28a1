//! The one-cube reductions that turn per-row and per-edge sums ([`super::rows`]) into term
//! values.

use super::distance::{cube_sum, REDUCE_UNITS};
use cubecl::prelude::*;

/// Fields per term in the `specs` buffer of [`term_values_kernel()`].
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

/// `out[0] = Σ_k weights[k] · values[k]` over the K terms, by one unit in term order (K is
/// a handful).
#[cube(launch_unchecked)]
pub fn weighted_total_kernel(values: &[f32], weights: &[f32], out: &mut [f32], k: u32) {
    if ABSOLUTE_POS_X == 0 {
        let mut total = 0.0f32;
        for i in 0..k {
            total += weights[i as usize] * values[i as usize];
        }
        out[0] = total;
    }
}

/// `out[i] = weights[i] · grad[0]`: the gradient of [`weighted_total_kernel()`] with
/// respect to its values.
#[cube(launch_unchecked)]
pub fn weighted_total_backward_kernel(grad: &[f32], weights: &[f32], out: &mut [f32], k: u32) {
    let i = ABSOLUTE_POS_X;
    if i < k {
        out[i as usize] = weights[i as usize] * grad[0];
    }
}
