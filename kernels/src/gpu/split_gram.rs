//! Squared distances through a half-precision matrix product, for tensor cores.
//!
//! The f32 Gram kernel ([`super::distance`]) runs on the GPU's f32 units; tensor cores, an
//! order of magnitude faster, multiply f16 (or bf16, or TF32 on CUDA, which Vulkan does not
//! expose) with f32 accumulation. One f16 rounding of the rows would move distances by
//! about 2⁻¹¹ of ‖c‖², enough to reorder near-equal edges of the tree. So each shifted
//! row is split in two f16 pieces (as in the 3×f16 scheme of Markidis et al., IPDPSW 2018):
//!
//! ```text
//! c_i = s_i (x_i − μ)        (s_i a power of two that puts max_k |c_ik| in [2¹¹, 2¹²))
//! hi_i = f16(c_i),  lo_i = f16(2 (c_i − hi_i)) / 2
//! G_ij = [hi_i | 2 lo_i] · [hi_j | hi_j] = hi_i·hi_j + 2 lo_i·hi_j
//! G_ij + G_ji = 2 (hi_i·hi_j + hi_i·lo_j + lo_i·hi_j)
//! ```
//!
//! The 3×f16 scheme multiplies `[hi | hi | lo]` by `[hi | lo | hi]` to get the three terms
//! in every entry; here each entry holds one cross term, and the sum with its mirror,
//! which the distances need anyway (below), restores both: one product of an n × 2d matrix
//! by a 2d × n one, accumulated in f32, a third less work than three pieces. Only the
//! `lo·lo` term (≤ 2⁻²² of the product) is dropped. `2 lo` is stored rather than `lo`
//! (exact, a power of two) so that the sum needs no factor. The per-row scale keeps every
//! row's entries far from f16's overflow (65 504) and its subnormals (below 2⁻¹⁴),
//! whatever the data's magnitude.
//!
//! With the split norm `N_i = Σ_k hi_ik² + 2 hi_ik lo_ik` (`G_ii`, from the stored pieces),
//! `N_i + N_j − (G_ij + G_ji) = ‖hi_i − hi_j‖² + 2 (hi_i − hi_j)·(lo_i − lo_j)`
//! (the rounded sum `G_ij + G_ji` is the same bits both ways, so that the matrix is
//! exactly symmetric and a duplicated row sees the same distances as its original): the
//! squared distance of the split rows up to `‖lo_i − lo_j‖²`, an error relative to the
//! distance itself rather than to ‖c‖², and duplicates stay at distance 0 up to f32
//! rounding (clamped at 0).
//!
//! The product is any f16 × f16 → f32 matrix multiplication (the caller's: burn's picks
//! tensor cores where the device has them); [`split_rows_kernel()`] writes its operands and
//! [`finish_split_gram_kernel()`] turns its output into distances in place.

use super::distance::{cube_max, cube_sum, triangle_row, REDUCE_UNITS};
use cubecl::prelude::*;
use half::f16;

/// Every row's largest shifted entry, after scaling, lies in [2^E, 2^(E+1)) for this E:
/// well inside f16's normal range, so that `lo` keeps its 11 bits for entries down to
/// 2⁻¹² of the largest, and far from its overflow (65 504).
pub const SCALED_EXPONENT: u32 = 11;

/// Pieces per row in each operand: `a = [hi | 2 lo]`, `b = [hi | hi]`, each `width` wide.
pub const SPLIT_PIECES: u32 = 2;

/// Side of the square blocks [`finish_split_gram_kernel()`] transposes through shared memory.
pub const FINISH_TILE: u32 = 16;

/// Row `CUBE_POS_X` of one input: its scaled pieces, as row `row_offset + r` of both
/// operands (`a = [hi | 2 lo]`, `b = [hi | hi]`, pieces `width` ≥ d apart, zero past
/// d, so that inputs of different widths share one product), its split norm `N_r` (in
/// scaled units) and `1 / s_r`.
#[cube(launch_unchecked)]
pub fn split_rows_kernel(
    x: &[f32],
    shift: &[f32],
    a: &mut [f16],
    b: &mut [f16],
    split_norms: &mut [f32],
    inverse_scales: &mut [f32],
    x_offset: u32,
    row_offset: u32,
    n: u32,
    d: u32,
    width: u32,
) {
    let r = CUBE_POS_X;
    // A cube past the rows reduces an empty range, so its barriers stay uniform.
    let mut columns = 0u32;
    if r < n {
        columns = d;
    }
    let row = x_offset + r * d;
    let mut largest = 0.0f32;
    let mut k = UNIT_POS;
    while k < columns {
        let c = x[(row + k) as usize] - shift[k as usize];
        largest = max(largest, f32::abs(c));
        k += CUBE_DIM;
    }
    // One shared allocation per kernel (see `row_sums_kernel`): maxima, then norms.
    let mut shared = Shared::<[f32]>::new_slice(2 * REDUCE_UNITS as usize);
    shared[UNIT_POS as usize] = largest;
    let row_max = cube_max(&mut shared, 0);
    // s = 2^(SCALED_EXPONENT − E) for a largest entry in [2^E, 2^(E+1)), built from the
    // exponent bits (biased by 127): a power of two scales exactly, so that equal
    // differences (grid points, ties) stay equal. 1 for a zero row.
    let biased = (u32::reinterpret(row_max) >> 23) & 0xff;
    let mut scale_bits = 0x3f80_0000u32; // 1.0
    if row_max > 0.0 {
        scale_bits = clamp(254 + SCALED_EXPONENT - biased, 1, 254) << 23;
    }
    let scale = f32::reinterpret(scale_bits);
    let out = (row_offset + r) * SPLIT_PIECES * width;
    let mut padded = 0u32;
    if r < n {
        padded = width;
    }
    let mut norm = 0.0f32;
    k = UNIT_POS;
    while k < padded {
        let mut c = 0.0f32;
        if k < d {
            c = (x[(row + k) as usize] - shift[k as usize]) * scale;
        }
        let hi = f16::cast_from(c);
        let hi_f = f32::cast_from(hi);
        let twice_lo = f16::cast_from(2.0 * (c - hi_f));
        // G_rr exactly, from the pieces as stored.
        norm += hi_f * hi_f + hi_f * f32::cast_from(twice_lo);
        a[(out + k) as usize] = hi;
        a[(out + width + k) as usize] = twice_lo;
        b[(out + k) as usize] = hi;
        b[(out + width + k) as usize] = hi;
        k += CUBE_DIM;
    }
    shared[(REDUCE_UNITS + UNIT_POS) as usize] = norm;
    let split_norm = cube_sum(&mut shared, REDUCE_UNITS);
    if UNIT_POS == 0 && r < n {
        split_norms[(row_offset + r) as usize] = split_norm;
        inverse_scales[(row_offset + r) as usize] = 1.0 / scale;
    }
}

/// In place, for `trees` matrices of n × n stacked in `dist`: each holds the product `G` of
/// its rows' split operands, and leaves holding the squared distances
/// `(N_i/s_i² + N_j/s_j² − (G_ij + G_ji)/(s_i s_j))⁺`, exactly symmetric with a zero
/// diagonal.
///
/// One cube of 16 × 16 units per block of the lower triangle (cubes numbered tree by tree,
/// row by row over each triangle), which reads its block and the mirrored one and writes
/// both: each value goes to `(i, j)` and, through shared memory, to `(j, i)`, so all loads
/// and stores are coalesced, and no cube touches what another reads or writes.
#[cube(launch_unchecked)]
pub fn finish_split_gram_kernel(
    dist: &mut [f32],
    split_norms: &[f32],
    inverse_scales: &[f32],
    n: u32,
    trees: u32,
) {
    let blocks_per_side = (n + FINISH_TILE - 1) / FINISH_TILE;
    let per_tree = blocks_per_side * (blocks_per_side + 1) / 2;
    let cube = CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X;
    if cube < per_tree * trees {
        let t = cube / per_tree;
        let b = cube % per_tree;
        let bi = triangle_row(b);
        let bj = b - bi * (bi + 1) / 2;
        let base = (t * n * n) as usize;
        let rows = t * n;
        let stride = FINISH_TILE + 1;
        // Both halves of the block pair (the products `a_i·b_j` and `a_j·b_i` round the
        // same terms in different orders): the mirrored block read in rows, through
        // shared memory, so that both loads are coalesced.
        let mut tile =
            Shared::<[f32]>::new_slice(comptime!((2 * FINISH_TILE * (FINISH_TILE + 1)) as usize));
        let mirror = comptime!(FINISH_TILE * (FINISH_TILE + 1));
        let mirror_row = bj * FINISH_TILE + UNIT_POS_Y;
        let mirror_col = bi * FINISH_TILE + UNIT_POS_X;
        let mut mirrored = 0.0f32;
        if mirror_row < n && mirror_col < n {
            mirrored = dist[base + (mirror_row * n + mirror_col) as usize];
        }
        tile[(mirror + UNIT_POS_Y * stride + UNIT_POS_X) as usize] = mirrored;
        sync_cube();
        let i = bi * FINISH_TILE + UNIT_POS_Y;
        let j = bj * FINISH_TILE + UNIT_POS_X;
        let mut w = 0.0f32;
        if i < n && j < i {
            let g_ij = dist[base + (i * n + j) as usize];
            let g_ji = tile[(mirror + UNIT_POS_X * stride + UNIT_POS_Y) as usize];
            let si = inverse_scales[(rows + i) as usize];
            let sj = inverse_scales[(rows + j) as usize];
            // g_ij + g_ji is one rounding of a commutative sum: the same bits for (i, j)
            // and (j, i), and for duplicated rows against a third.
            let v = si * si * split_norms[(rows + i) as usize]
                + sj * sj * split_norms[(rows + j) as usize]
                - (si * sj) * (g_ij + g_ji);
            if v > 0.0 {
                w = v;
            }
        }
        // Every read of the block pair is done before any write to it.
        sync_cube();
        tile[(UNIT_POS_Y * stride + UNIT_POS_X) as usize] = w;
        sync_cube();
        if i < n && j <= i {
            dist[base + (i * n + j) as usize] = w;
        }
        // Transposed: unit (x, y) stores row j' = bj·16 + y, column i' = bi·16 + x, the
        // value computed for (i', j') by unit (y, x).
        let i_t = bi * FINISH_TILE + UNIT_POS_X;
        let j_t = bj * FINISH_TILE + UNIT_POS_Y;
        if i_t < n && j_t < i_t {
            dist[base + (j_t * n + i_t) as usize] =
                tile[(UNIT_POS_X * stride + UNIT_POS_Y) as usize];
        }
    }
}
