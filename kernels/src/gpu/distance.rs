//! Squared pairwise distances on the device, through the Gram matrix of shifted rows.
//!
//! `d²(i, j) = ‖c_i‖² + ‖c_j‖² − 2 c_i·c_j` with `c_i = x_i − μ`. Distances do not depend
//! on the shift μ; subtracting one close to the data keeps the Gram trick accurate for
//! clouds far from the origin (offset 1e4), where `‖x_i‖²` would swamp the differences.
//! μ is the mean of the first [`SHIFT_ROWS`] rows: any central point does, and a bounded
//! sample keeps the reduction short.
//!
//! Only the lower triangle of square blocks is computed; each value is written to both
//! `(i, j)` and `(j, i)` from the same register, so the matrix is exactly symmetric and the
//! tree sees one weight per edge whichever end looks at it.

use cubecl::prelude::*;

/// Rows averaged for the shift μ.
pub const SHIFT_ROWS: u32 = 256;
/// Depth of the slab of columns staged in shared memory per step.
pub const TILE_K: usize = 16;
/// Units per cube in reductions.
pub const REDUCE_UNITS: u32 = 256;

/// Fields per input in the `inputs` table of [`column_shifts_kernel()`]: the slot of its
/// buffer (0: the first input's, 1: the others'), the offset of its first element there,
/// n, d, and where its shift goes in `shifts`.
pub const SHIFT_FIELDS: usize = 5;

/// μ_k = mean of x[r, k] over the first min(n, SHIFT_ROWS) rows, for every input of the
/// table at once: input `CUBE_POS_Y`, one unit per column.
#[cube(launch_unchecked)]
pub fn column_shifts_kernel(x0: &[f32], x1: &[f32], inputs: &[u32], shifts: &mut [f32]) {
    let at = (CUBE_POS_Y * SHIFT_FIELDS as u32) as usize;
    let slot = inputs[at];
    let x_offset = inputs[at + 1];
    let n = inputs[at + 2];
    let d = inputs[at + 3];
    let k = ABSOLUTE_POS_X;
    if k < d {
        let rows = min(n, SHIFT_ROWS);
        let mut sum = 0.0f32;
        for r in 0..rows {
            let i = (x_offset + r * d + k) as usize;
            if slot == 0 {
                sum += x0[i];
            } else {
                sum += x1[i];
            }
        }
        shifts[(inputs[at + 4] + k) as usize] = sum / f32::cast_from(rows);
    }
}

/// Sum of `values[offset..offset + CUBE_DIM]` in shared memory (CUBE_DIM a power of two);
/// every unit must call it.
#[cube]
pub fn cube_sum(values: &mut Shared<[f32]>, offset: u32) -> f32 {
    sync_cube();
    let mut stride = CUBE_DIM / 2;
    while stride > 0 {
        if UNIT_POS < stride {
            let other = values[(offset + UNIT_POS + stride) as usize];
            values[(offset + UNIT_POS) as usize] += other;
        }
        sync_cube();
        stride /= 2;
    }
    values[offset as usize]
}

/// Largest of `values[offset..offset + CUBE_DIM]` in shared memory (CUBE_DIM a power of
/// two); every unit must call it.
#[cube]
pub fn cube_max(values: &mut Shared<[f32]>, offset: u32) -> f32 {
    sync_cube();
    let mut stride = CUBE_DIM / 2;
    while stride > 0 {
        if UNIT_POS < stride {
            let other = values[(offset + UNIT_POS + stride) as usize];
            let mine = values[(offset + UNIT_POS) as usize];
            values[(offset + UNIT_POS) as usize] = max(mine, other);
        }
        sync_cube();
        stride /= 2;
    }
    values[offset as usize]
}

/// The row of block b when the blocks of a lower triangle are numbered row by row: the
/// largest bi with bi(bi+1)/2 ≤ b (the column is b − bi(bi+1)/2).
#[cube]
pub fn triangle_row(b: u32) -> u32 {
    // The float guess is off by at most 1.
    let guess = (f32::sqrt(8.0 * f32::cast_from(b) + 1.0) - 1.0) / 2.0;
    let mut bi = u32::cast_from(guess);
    if (bi + 1) * (bi + 2) / 2 <= b {
        bi += 1;
    }
    if bi * (bi + 1) / 2 > b {
        bi -= 1;
    }
    bi
}

/// Four consecutive rows' values at one column: the unit of the shared-memory slabs, so
/// that one 16-byte load gives a unit four of the rows it multiplies.
pub type Quad = Vector<f32, Const<4>>;

/// The n×n matrix of squared distances. One cube of 16×16 units per block of the lower
/// triangle, each unit computing `per_unit × per_unit` outputs: blocks of 64×64
/// (`per_unit` = 4) keep enough cubes busy for small n, blocks of 128×128 (8) do twice the
/// FMAs per shared-memory read for large n. Cubes are numbered row by row over the triangle.
///
/// Each step stages 16 columns of both row blocks in shared memory as [`Quad`]s (k-major:
/// `[16][tile / 4]`). The global loads are vectors of `W` columns (4 when `d` and the
/// input's offset are multiples of 4, else 1), turned into quads in registers; the inner
/// loop then reads `per_unit / 4` quads per side and does 16 FMAs per quad pair, against
/// one FMA per scalar load before. A unit's rows are quads 16 apart (`4·(ty + 16g) + l`),
/// so the 16 units of a row read 16 consecutive quads: no bank conflicts. The loads of a
/// step are issued before the FMAs of the step before it, so they arrive while it computes.
///
/// Each output is finished once, in registers, then written twice through shared memory
/// (as rows i, and transposed as rows j), so that neighbouring units store neighbouring
/// addresses: the transposed half no longer strides by n between units.
#[cube(launch_unchecked)]
pub fn pairwise_sq_distances_kernel<W: Size>(
    x: &[Vector<f32, W>],
    shift: &[Vector<f32, W>],
    shifted_sq_norms: &[f32],
    dist: &mut [f32],
    x_offset: u32,
    dist_offset: u32,
    n: u32,
    d: u32,
    #[comptime] per_unit: u32,
) {
    let tile = comptime!(16 * per_unit);
    let quads = comptime!(tile / 4);
    let groups = comptime!(per_unit / 4);
    let blocks_per_side = (n + tile - 1) / tile;
    let num_blocks = blocks_per_side * (blocks_per_side + 1) / 2;
    let b = CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X;
    if b < num_blocks {
        let bi = triangle_row(b);
        let bj = b - bi * (bi + 1) / 2;
        let row0 = bi * tile;
        let col0 = bj * tile;
        let tx = UNIT_POS_X;
        let ty = UNIT_POS_Y;
        let tid = ty * 16 + tx;

        // Both slabs (the row block's, then the column block's) in one shared allocation,
        // reused at the end to stage the output (32 rows of `quads + 1`): with two
        // allocations, cubecl's C++ backend orders them differently from run to run, and
        // the snapshots would flicker.
        let slab = comptime!(TILE_K * (quads as usize));
        let mut slabs = Shared::<[Quad]>::new_slice(comptime!(2 * slab + 32));
        let mut acc = Array::<Quad>::new(comptime!((per_unit * groups) as usize));
        #[unroll]
        for q in 0..per_unit * groups {
            acc[q as usize] = Quad::new(0.0);
        }
        let mut a_reg = Array::<Quad>::new(comptime!(groups as usize));
        let mut b_reg = Array::<Quad>::new(comptime!(groups as usize));
        let width_probe = Vector::<f32, W>::empty();
        let width = width_probe.vector_size();
        let lanes = comptime!(width as u32);
        // Loads per step: (row quad, vector of columns) pairs of both slabs.
        let chunks = comptime!(TILE_K as u32 / lanes);
        let per_slab = comptime!(quads * chunks);
        let rounds = comptime!((2 * per_slab + 255) / 256);
        let row_vectors = d / lanes;
        let x_base = x_offset / lanes;
        let mut loaded = Array::<Vector<f32, W>>::new(comptime!(4 * rounds as usize));

        // Step s loads its 16 columns into registers, multiplies the slabs of step s − 1
        // while those loads are in flight, then stages its registers as the next slabs.
        let steps = (d + 15) / 16;
        let mut s = 0u32;
        while s <= steps {
            if s < steps {
                #[unroll]
                for round in 0..rounds {
                    let e = tid + round * 256;
                    // Neighbouring units take neighbouring column vectors of one row.
                    let rest = e % per_slab;
                    let v = rest / chunks;
                    let k = s * 16 + (rest % chunks) * lanes;
                    let mut first_row = row0;
                    if e >= per_slab {
                        first_row = col0;
                    }
                    #[unroll]
                    for l in 0..4u32 {
                        let r = first_row + 4 * v + l;
                        let mut g = Vector::<f32, W>::new(0.0);
                        if e < 2 * per_slab && k < d && r < n {
                            g = x[(x_base + r * row_vectors + k / lanes) as usize]
                                - shift[(k / lanes) as usize];
                        }
                        loaded[(round * 4 + l) as usize] = g;
                    }
                }
            }
            if s > 0 {
                #[unroll]
                for kk in 0..16u32 {
                    #[unroll]
                    for g in 0..groups {
                        a_reg[g as usize] = slabs[(kk * quads + ty + 16 * g) as usize];
                        b_reg[g as usize] = slabs[slab + (kk * quads + tx + 16 * g) as usize];
                    }
                    #[unroll]
                    for ga in 0..groups {
                        #[unroll]
                        for la in 0..4usize {
                            let a = Quad::new(a_reg[ga as usize].extract(la));
                            #[unroll]
                            for gb in 0..groups {
                                let at = ((ga * 4 + la as u32) * groups + gb) as usize;
                                acc[at] += a * b_reg[gb as usize];
                            }
                        }
                    }
                }
            }
            sync_cube();
            if s < steps {
                #[unroll]
                for round in 0..rounds {
                    let e = tid + round * 256;
                    if e < 2 * per_slab {
                        let side = e / per_slab;
                        let rest = e % per_slab;
                        let v = rest / chunks;
                        let c = rest % chunks;
                        #[unroll]
                        for lane in 0..width {
                            let mut q = Quad::empty();
                            #[unroll]
                            for l in 0..4u32 {
                                q.insert(
                                    l as usize,
                                    loaded[(round * 4 + l) as usize].extract(lane),
                                );
                            }
                            let kk = c * lanes + lane as u32;
                            slabs[(side * slab as u32 + kk * quads + v) as usize] = q;
                        }
                    }
                }
            }
            sync_cube();
            s += 1;
        }

        // Finish every output in registers, once: both of its writes below, (i, j) and
        // (j, i), take these same bits, so the matrix is exactly symmetric.
        #[unroll]
        for ga in 0..groups {
            #[unroll]
            for la in 0..4usize {
                let i = row0 + 4 * (ty + 16 * ga) + la as u32;
                let mut norm_i = 0.0f32;
                if i < n {
                    norm_i = shifted_sq_norms[i as usize];
                }
                #[unroll]
                for gb in 0..groups {
                    let at = ((ga * 4 + la as u32) * groups + gb) as usize;
                    let dots = acc[at];
                    let mut finished = Quad::empty();
                    #[unroll]
                    for lb in 0..4usize {
                        let j = col0 + 4 * (tx + 16 * gb) + lb as u32;
                        let mut norm_j = 0.0f32;
                        if j < n {
                            norm_j = shifted_sq_norms[j as usize];
                        }
                        let v = norm_i + norm_j - 2.0 * dots.extract(lb);
                        // Rounding can leave a small negative (or −0.0, whose bits would
                        // sort last): clamp to +0.0, and the diagonal is 0 by definition.
                        let mut w = 0.0f32;
                        if v > 0.0 && i != j {
                            w = v;
                        }
                        finished.insert(lb, w);
                    }
                    acc[at] = finished;
                }
            }
        }

        // The block goes out twice, as rows i (entries j ≤ i) and, transposed, as rows j
        // (entries i > j), each through shared memory in chunks of 32 rows, so that
        // neighbouring units write neighbouring addresses of one row. A unit's chunk rows
        // are `lo·16 + (its ty or tx)`; rows are padded by one quad so that the transposed
        // staging (16 units 33 quads apart) hits distinct banks.
        let stride = comptime!(quads + 1);
        let out_rounds = comptime!((32 * quads + 255) / 256);
        #[unroll]
        for transposed in 0..2u32 {
            #[unroll]
            for g in 0..groups {
                #[unroll]
                for h in 0..2usize {
                    sync_cube();
                    #[unroll]
                    for lo in 0..2usize {
                        let l = 2 * h + lo;
                        if transposed == 0 {
                            // Rows i = row0 + 4(ty + 16g) + l; quads of j as computed.
                            #[unroll]
                            for gb in 0..groups {
                                let at = ((g * 4 + l as u32) * groups + gb) as usize;
                                slabs[((lo as u32 * 16 + ty) * stride + tx + 16 * gb) as usize] =
                                    acc[at];
                            }
                        } else {
                            // Rows j = col0 + 4(tx + 16g) + l; quads of i gathered by lane.
                            #[unroll]
                            for ga in 0..groups {
                                let mut column = Quad::empty();
                                #[unroll]
                                for la in 0..4u32 {
                                    let at = ((ga * 4 + la) * groups + g) as usize;
                                    column.insert(la as usize, acc[at].extract(l));
                                }
                                slabs[((lo as u32 * 16 + tx) * stride + ty + 16 * ga) as usize] =
                                    column;
                            }
                        }
                    }
                    sync_cube();
                    #[unroll]
                    for round in 0..out_rounds {
                        let e = tid + round * 256;
                        if e < 32 * quads {
                            let row_in_chunk = e / quads;
                            let q = e % quads;
                            let lo = row_in_chunk / 16;
                            let s = row_in_chunk % 16;
                            let values = slabs[(row_in_chunk * stride + q) as usize];
                            let mut out_row = row0 + 4 * (s + 16 * g) + 2 * h as u32 + lo;
                            let mut first_col = col0 + 4 * q;
                            if transposed == 1 {
                                out_row = col0 + 4 * (s + 16 * g) + 2 * h as u32 + lo;
                                first_col = row0 + 4 * q;
                            }
                            #[unroll]
                            for lane in 0..4usize {
                                let col = first_col + lane as u32;
                                // Direct: j ≤ i; transposed (row j, column i): i > j.
                                let mut wanted = col <= out_row;
                                if transposed == 1 {
                                    wanted = col > out_row;
                                }
                                if out_row < n && col < n && wanted {
                                    dist[dist_offset as usize
                                        + (out_row as usize) * (n as usize)
                                        + col as usize] = values.extract(lane);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Columns per global load in [`pairwise_sq_distances_kernel()`] for an input of `d` columns
/// at element `offset`: 4 (16-byte loads) when both are multiples of 4, else 1.
pub fn load_width(d: usize, offset: usize) -> usize {
    if d.is_multiple_of(4) && offset.is_multiple_of(4) {
        4
    } else {
        1
    }
}

/// Outputs per unit (per side) for a batch of n points: 128×128 blocks once there are
/// enough of them to fill a large GPU (n ≥ 4096: 528 blocks), 64×64 below.
pub fn outputs_per_unit(n: usize) -> u32 {
    if n >= 4096 {
        8
    } else {
        4
    }
}
