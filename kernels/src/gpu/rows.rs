//! Per-row sums over the d columns, for every input and term of a loss in one launch: the
//! row statistics the distances read, the `mse` row sums, and (after the trees) the edge
//! lengths. Each job is a table row; cube (x, y) does item x of job y, its units striding
//! over the columns and summing in shared memory, so every sum has a fixed order.
//!
//! The inputs are read where they lie: in the first input's buffer (slot 0) or in the
//! buffer that holds the others end to end (slot 1), both bound to every launch.

use super::distance::{cube_sum, REDUCE_UNITS};
use cubecl::prelude::*;

/// Fields per job in the `jobs` table of [`row_sums_kernel()`].
pub const JOB_FIELDS: usize = 9;
/// Job fields: the kind (below), items (rows or edges), columns d, the slot and element
/// offset of input a, of input b (for [`KIND_STATISTICS`]: 0 and the offset of a's shift in
/// `shifts`; for [`KIND_EDGE_LENGTHS`]: 0 and the first edge in `edges`), and the offsets
/// of the two outputs.
pub const JOB_KIND: usize = 0;
pub const JOB_ITEMS: usize = 1;
pub const JOB_D: usize = 2;
pub const JOB_SLOT_A: usize = 3;
pub const JOB_OFFSET_A: usize = 4;
pub const JOB_SLOT_B: usize = 5;
pub const JOB_OFFSET_B: usize = 6;
pub const JOB_OUT_A: usize = 7;
pub const JOB_OUT_B: usize = 8;

/// Row r of a: `‖a_r − μ‖²` into `shifted[out_a + r]` (for the distances), `‖a_r‖` into
/// `out[out_b + r]` (for `sphere`), μ read from `shifts` at the job's offset b.
pub const KIND_STATISTICS: u32 = 0;
/// Row r: `Σ_k (a_rk − b_rk)²` into `out[out_a + r]` (`mse`).
pub const KIND_MSE_ROWS: u32 = 1;
/// Edge e = (u, v) of a's tree: `‖a_u − a_v‖` into `out[out_a + e]`, from the coordinates
/// (not from the Gram-trick distances, which lose digits far from the origin). Where u's or
/// v's shifted squared norm (in `shifted` from `out_b`) exceeds [`DISTANCE_SAFE_SQ_NORM`],
/// the distances that chose the edge may have overflowed, so the tree is not trusted: the
/// length is +Inf (NaN for a NaN norm), and so is the term's value, which the host reports.
pub const KIND_EDGE_LENGTHS: u32 = 2;

/// The largest shifted squared norm ‖x_r − μ‖² whose distances to every other row stay
/// finite in f32 through the Gram trick (d² = N_i + N_j − 2G_ij ≤ 4·max N): f32::MAX / 16,
/// rows of norm up to about 4.6e18.
pub const DISTANCE_SAFE_SQ_NORM: f32 = f32::MAX / 16.0;

/// Element `at` of the input in slot 0 or 1.
#[cube]
fn load(x0: &[f32], x1: &[f32], slot: u32, at: u32) -> f32 {
    if slot == 0 {
        x0[at as usize]
    } else {
        x1[at as usize]
    }
}

/// Item `CUBE_POS_X + CUBE_POS_Y * CUBE_COUNT_X` of job `CUBE_POS_Z` (see the kinds above;
/// items are spread over x and y because x is limited to 65 535 cubes on some runtimes).
#[cube(launch_unchecked)]
pub fn row_sums_kernel(
    x0: &[f32],
    x1: &[f32],
    shifts: &[f32],
    edges: &[i32],
    jobs: &[u32],
    shifted: &mut [f32],
    out: &mut [f32],
) {
    let job = (CUBE_POS_Z * JOB_FIELDS as u32) as usize;
    let kind = jobs[job + JOB_KIND];
    let items = jobs[job + JOB_ITEMS];
    let d = jobs[job + JOB_D];
    let slot_a = jobs[job + JOB_SLOT_A];
    let offset_a = jobs[job + JOB_OFFSET_A];
    let mut slot_b = jobs[job + JOB_SLOT_B];
    let offset_b = jobs[job + JOB_OFFSET_B];
    let item = CUBE_POS_X + CUBE_POS_Y * CUBE_COUNT_X;
    // A cube past its job's items sums nothing (an empty column range, not a branch around
    // the reductions: their barriers stay in uniform control flow).
    let mut columns = 0u32;
    let mut row_a = 0u32;
    let mut row_b = 0u32;
    let mut ends_sq_norm = 0.0f32;
    if item < items {
        columns = d;
        row_a = offset_a + item * d;
        row_b = offset_b + item * d;
        if kind == KIND_STATISTICS {
            row_b = offset_b;
        }
        if kind == KIND_EDGE_LENGTHS {
            let at = (2 * (offset_b + item)) as usize;
            let (u, v) = (u32::cast_from(edges[at]), u32::cast_from(edges[at + 1]));
            row_a = offset_a + u * d;
            row_b = offset_a + v * d;
            slot_b = slot_a;
            let norms = jobs[job + JOB_OUT_B];
            ends_sq_norm = max(shifted[(norms + u) as usize], shifted[(norms + v) as usize]);
        }
    }
    let mut diff_sq = 0.0f32;
    let mut a_sq = 0.0f32;
    let mut k = UNIT_POS;
    while k < columns {
        let a = load(x0, x1, slot_a, row_a + k);
        let b = if kind == KIND_STATISTICS {
            shifts[(row_b + k) as usize]
        } else {
            load(x0, x1, slot_b, row_b + k)
        };
        let diff = a - b;
        diff_sq += diff * diff;
        a_sq += a * a;
        k += CUBE_DIM;
    }
    // One shared allocation per kernel (differences, then squares): with two, cubecl's C++
    // backend orders them differently from run to run, and the snapshots would flicker.
    let mut sums = Shared::<[f32]>::new_slice(2 * REDUCE_UNITS as usize);
    sums[UNIT_POS as usize] = diff_sq;
    sums[(REDUCE_UNITS + UNIT_POS) as usize] = a_sq;
    let total_diff_sq = cube_sum(&mut sums, 0);
    let total_a_sq = cube_sum(&mut sums, REDUCE_UNITS);
    if UNIT_POS == 0 && item < items {
        let out_a = (jobs[job + JOB_OUT_A] + item) as usize;
        if kind == KIND_STATISTICS {
            shifted[out_a] = total_diff_sq;
            out[(jobs[job + JOB_OUT_B] + item) as usize] = f32::sqrt(total_a_sq);
        }
        if kind == KIND_MSE_ROWS {
            out[out_a] = total_diff_sq;
        }
        if kind == KIND_EDGE_LENGTHS {
            let mut length = f32::sqrt(total_diff_sq);
            // "Not within", so that a NaN norm (every comparison false) is caught too; the
            // product is +Inf (or NaN) for any norm past the bound.
            let within = ends_sq_norm <= DISTANCE_SAFE_SQ_NORM;
            if !within {
                length = ends_sq_norm * 1.0e30;
            }
            out[out_a] = length;
        }
    }
}
