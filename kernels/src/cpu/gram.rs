//! Pairwise squared distances through a symmetric Gram matrix.
//!
//! For rows `x_i` of `X` (n x d) and any shift vector `c`,
//!
//! ```text
//! d2_ij = ||x_i - x_j||^2 = |y_i|^2 + |y_j|^2 - 2 <y_i, y_j>,   y_i = x_i - c
//! ```
//!
//! The pipeline:
//!
//! 1. pick `c` close to the column means (see [`centering_shift`]), so the Gram formula
//!    does not lose precision on clouds far from the origin, and pack `Y = X - c` into
//!    panels of `P` rows, k-major (element `(row r, coord k)` of a panel at `k * P + r`),
//!    zero-padding the last panel; compute the squared norms `|y_i|^2` (AVX-512 f32 does
//!    both in one pass: 16 x 16 blocks are shifted and transposed in registers and the
//!    norms accumulate on the transposed vectors; the column statistics of step 1 are
//!    gathered by vectorized loops too);
//! 2. for every column panel `J` (columns `j0 .. j0 + P`), compute the strip
//!    `G[i][J] = <y_i, y_j>` for the rows `i >= j0` only: the lower triangle, half the
//!    flops of `Y Y^T`. The strip is built from `ROWS x P` micro-tiles (AVX-512 f32: 8 x 48,
//!    24 zmm accumulators, 11 loads per 24 FMAs), with k split into blocks of `KC` so the
//!    `KC x P` block of panel `J` stays in L1 while the row tiles stream past it;
//! 3. turn the strip into `d2 = max(0, (|y_i|^2 + |y_j|^2) - 2 G_ij)` and store each value
//!    at `(i, j)` and `(j, i)` (16 x 16 register transposes for the mirrored half), so the
//!    output is exactly symmetric with an exactly zero diagonal.
//!
//! The squared norms are computed with the same rounding sequence as the diagonal lanes
//! of the micro-kernel (the same FMA chain over k; k blocking only spills and reloads the
//! accumulator exactly), so identical rows give `G_ij = |y_i|^2 = |y_j|^2` bit for bit and
//! hence `d2_ij = 0` exactly: duplicate points produce exact zero distances and exact
//! ties, as the MST tie-breaking expects.
//!
//! Every output entry is produced by exactly one strip whose arithmetic does not depend on
//! scheduling, so results are bit-identical across runs and thread counts.
//!
//! [`sq_distance_rows_with`] computes a range of rows of the same matrix, bit for bit,
//! without the n x n output (the rows a process owns in a sharded MST); its docs say why
//! pairing row `i` with every column gives exactly the full routine's values.
//!
//! Panels are handed to the rayon threads through an atomic counter, largest strip first.
//! Memory: the n x n output plus the packed copy of `Y` (`n_pad * d`), the norm and shift
//! vectors, per-chunk column statistics and one `n x P` strip per thread
//! ([`pairwise_sq_distances_scratch_bytes`]).

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::Real;

/// Which Gram micro-kernel computes the pairwise squared distances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GramKernel {
    /// The fastest kernel this CPU supports (AVX-512, else AVX2+FMA, else portable).
    Auto,
    /// Plain Rust blocked kernel (separate multiply and add), any CPU.
    Portable,
    /// x86-64 AVX2 + FMA intrinsics.
    Avx2Fma,
    /// x86-64 AVX-512F intrinsics.
    Avx512,
}

impl GramKernel {
    /// Whether this kernel can run on the current CPU (`Auto` and `Portable` always can).
    pub fn is_available(self) -> bool {
        match self {
            GramKernel::Auto | GramKernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            GramKernel::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            GramKernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Resolves `Auto` to the concrete kernel used on this CPU.
    ///
    /// # Panics
    /// If a concrete kernel is requested that this CPU does not support.
    pub fn resolve(self) -> GramKernel {
        match self {
            GramKernel::Auto => {
                if GramKernel::Avx512.is_available() {
                    GramKernel::Avx512
                } else if GramKernel::Avx2Fma.is_available() {
                    GramKernel::Avx2Fma
                } else {
                    GramKernel::Portable
                }
            }
            other => {
                assert!(
                    other.is_available(),
                    "Gram kernel {other:?} is not supported by this CPU"
                );
                other
            }
        }
    }
}

/// Largest `PANEL` over all kernels.
const MAX_PANEL: usize = 48;

/// One Gram micro-kernel: computes a `ROWS x PANEL` tile of `Y Y^T` from packed panels.
///
/// Packed layout: a panel holds `PANEL` rows of `Y`, element `(r, k)` at `k * PANEL + r`.
pub(crate) trait TileKernel<T: Real> {
    /// Rows per packed panel; also the number of columns `j` of one tile.
    const PANEL: usize;
    /// Rows `i` of one tile; divides `PANEL`.
    const ROWS: usize;
    /// Coordinates per k block: a `KC x PANEL` block of one panel should stay in L1.
    const KC: usize;

    /// `out[r * PANEL + c] (+)= sum_{k < kc} a[k * PANEL + r] * b[k * PANEL + c]` for
    /// `r < ROWS`, `c < PANEL`, one rounding sequence per entry in k order, starting
    /// from `out` when `accumulate` and from zero otherwise (so splitting k into blocks
    /// does not change the result).
    ///
    /// # Safety
    /// `a` and `b` point into packed panels with at least `kc` coordinates left (`a`
    /// possibly offset by a multiple of `ROWS` inside its panel), `out` holds
    /// `ROWS * PANEL` elements, and the CPU supports the kernel's instruction set.
    unsafe fn gram_tile(a: *const T, b: *const T, kc: usize, out: *mut T, accumulate: bool);

    /// `out[c] = sum_k b[k * PANEL + c]^2` with exactly the rounding sequence of the
    /// `gram_tile` lane that pairs row `c` with itself.
    ///
    /// # Safety
    /// As for [`TileKernel::gram_tile`]; `out` holds `PANEL` elements.
    unsafe fn panel_sq_norms(b: *const T, d: usize, out: *mut T);

    /// Packs rows `r0 .. r0 + PANEL` (those below `n`) of `x - shift` into `panel`
    /// (see [`pack_panel`]; `panel` is zeroed on entry) and writes their squared norms,
    /// rounded as by [`TileKernel::panel_sq_norms`], to `norms` (`PANEL` elements).
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set.
    unsafe fn pack_panel_with_norms(
        x: &[T],
        n: usize,
        d: usize,
        shift: &[T],
        r0: usize,
        panel: &mut [T],
        norms: &mut [T],
    ) {
        pack_panel(x, n, d, shift, r0, Self::PANEL, panel);
        assert!(panel.len() >= Self::PANEL * d && norms.len() >= Self::PANEL);
        // SAFETY: the panel holds PANEL * d elements, norms PANEL; CPU support forwarded.
        unsafe { Self::panel_sq_norms(panel.as_ptr(), d, norms.as_mut_ptr()) }
    }

    /// Stores the squared distances of a full `STRIP_BLOCK x PANEL` block, rows
    /// `i0 .. i0 + STRIP_BLOCK`, columns `j0 .. j0 + PANEL`, all strictly below the
    /// diagonal and inside the matrix, at `(i, j)` and `(j, i)`. `g` holds the block's
    /// Gram entries (row-major, `PANEL` per row), `norms_i` / `norms_j` the squared norms.
    ///
    /// # Safety
    /// `out` is n x n, the block is in range and owned by the caller; CPU support.
    unsafe fn store_full_block(
        out: *mut T,
        n: usize,
        i0: usize,
        j0: usize,
        g: *const T,
        norms_i: *const T,
        norms_j: *const T,
    );
}

/// Portable kernel: `acc = acc + a * b` (two roundings, no FMA) with `ROWS x P` scalar
/// accumulators the compiler may vectorize.
pub(crate) struct PortableKernel<const P: usize, const R: usize>;

impl<T: Real, const P: usize, const R: usize> TileKernel<T> for PortableKernel<P, R> {
    const PANEL: usize = P;
    const ROWS: usize = R;
    const KC: usize = 256;

    unsafe fn gram_tile(a: *const T, b: *const T, kc: usize, out: *mut T, accumulate: bool) {
        let mut acc = [[T::ZERO; P]; R];
        if accumulate {
            for (r, acc_row) in acc.iter_mut().enumerate() {
                // SAFETY: out holds R * P elements.
                unsafe { std::ptr::copy_nonoverlapping(out.add(r * P), acc_row.as_mut_ptr(), P) };
            }
        }
        for k in 0..kc {
            // SAFETY: the caller guarantees panels of d coordinates (see trait docs).
            let (ak, bk) = unsafe {
                (
                    std::slice::from_raw_parts(a.add(k * P), R),
                    std::slice::from_raw_parts(b.add(k * P), P),
                )
            };
            for (acc_row, &ar) in acc.iter_mut().zip(ak) {
                for (acc_rc, &bc) in acc_row.iter_mut().zip(bk) {
                    *acc_rc = *acc_rc + ar * bc;
                }
            }
        }
        for (r, acc_row) in acc.iter().enumerate() {
            // SAFETY: out holds R * P elements.
            unsafe { std::ptr::copy_nonoverlapping(acc_row.as_ptr(), out.add(r * P), P) };
        }
    }

    unsafe fn panel_sq_norms(b: *const T, d: usize, out: *mut T) {
        let mut acc = [T::ZERO; P];
        for k in 0..d {
            // SAFETY: the caller guarantees a panel of d coordinates.
            let bk = unsafe { std::slice::from_raw_parts(b.add(k * P), P) };
            for (acc_c, &bc) in acc.iter_mut().zip(bk) {
                *acc_c = *acc_c + bc * bc;
            }
        }
        // SAFETY: out holds P elements.
        unsafe { std::ptr::copy_nonoverlapping(acc.as_ptr(), out, P) };
    }

    unsafe fn store_full_block(
        out: *mut T,
        n: usize,
        i0: usize,
        j0: usize,
        g: *const T,
        norms_i: *const T,
        norms_j: *const T,
    ) {
        // SAFETY: forwarded caller contract.
        unsafe { store_full_block_portable::<T, P>(out, n, i0, j0, g, norms_i, norms_j) }
    }
}

/// Portable [`TileKernel::store_full_block`]: converts the block into a row-major buffer,
/// stores its rows, transposes it through a second buffer and stores its columns.
///
/// # Safety
/// As for [`TileKernel::store_full_block`] with `PANEL = P`.
#[inline(always)]
unsafe fn store_full_block_portable<T: Real, const P: usize>(
    out: *mut T,
    n: usize,
    i0: usize,
    j0: usize,
    g: *const T,
    norms_i: *const T,
    norms_j: *const T,
) {
    // SAFETY: the caller passes STRIP_BLOCK * P Gram entries and matching norms.
    let (g, norms_i, norms_j) = unsafe {
        (
            &*(g as *const [[T; P]; STRIP_BLOCK]),
            &*(norms_i as *const [T; STRIP_BLOCK]),
            &*(norms_j as *const [T; P]),
        )
    };
    let mut rows_buf = [[T::ZERO; P]; STRIP_BLOCK];
    for (r, row_buf) in rows_buf.iter_mut().enumerate() {
        for c in 0..P {
            row_buf[c] = sq_distance(norms_i[r], norms_j[c], g[r][c]);
        }
        // SAFETY: row i0 + r, columns j0 .. j0 + P are in range and owned.
        unsafe { *(out.add((i0 + r) * n + j0) as *mut [T; P]) = *row_buf };
    }
    let mut cols_buf = [[T::ZERO; STRIP_BLOCK]; P];
    for (c, col_buf) in cols_buf.iter_mut().enumerate() {
        for r in 0..STRIP_BLOCK {
            col_buf[r] = rows_buf[r][c];
        }
    }
    for (c, col_buf) in cols_buf.iter().enumerate() {
        // SAFETY: row j0 + c, columns i0 .. i0 + STRIP_BLOCK are in range and owned.
        unsafe { *(out.add((j0 + c) * n + i0) as *mut [T; STRIP_BLOCK]) = *col_buf };
    }
}

/// Defines an x86-64 intrinsics micro-kernel: `NVEC` vectors of `LANES` elements per panel
/// row block (`PANEL = NVEC * LANES` columns `j`, loaded from the `b` panel), `ROWS` rows
/// `i` broadcast from the `a` panel, `ROWS * NVEC` vector accumulators fed by FMA.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_tile_kernel {
    (
        $(#[$doc:meta])*
        $name:ident, $t:ty, $features:literal, $lanes:literal, $nvec:literal, $rows:literal,
        kc = $kc:literal, store_block = $store_block:path,
        zero = $zero:ident, set1 = $set1:ident, load = $load:ident, store = $store:ident,
        fma = $fma:ident $(, pack = $pack:path)?
    ) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl $name {
            const P: usize = $lanes * $nvec;

            #[target_feature(enable = $features)]
            unsafe fn tile_impl(
                a: *const $t,
                b: *const $t,
                kc: usize,
                out: *mut $t,
                accumulate: bool,
            ) {
                use std::arch::x86_64::*;
                let mut acc = [[$zero(); $nvec]; $rows];
                if accumulate {
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        for (v, acc_rv) in acc_r.iter_mut().enumerate() {
                            // SAFETY: out holds ROWS * P elements.
                            *acc_rv = unsafe { $load(out.add(r * Self::P + v * $lanes)) };
                        }
                    }
                }
                for k in 0..kc {
                    // SAFETY: caller guarantees panels of d coordinates.
                    unsafe {
                        let bk = b.add(k * Self::P);
                        let mut bv = [$zero(); $nvec];
                        for (v, bv_v) in bv.iter_mut().enumerate() {
                            *bv_v = $load(bk.add(v * $lanes));
                        }
                        let ak = a.add(k * Self::P);
                        for (r, acc_r) in acc.iter_mut().enumerate() {
                            let ar = $set1(*ak.add(r));
                            for (acc_rv, &bv_v) in acc_r.iter_mut().zip(&bv) {
                                *acc_rv = $fma(ar, bv_v, *acc_rv);
                            }
                        }
                    }
                }
                for (r, acc_r) in acc.iter().enumerate() {
                    for (v, &acc_rv) in acc_r.iter().enumerate() {
                        // SAFETY: out holds ROWS * P elements.
                        unsafe { $store(out.add(r * Self::P + v * $lanes), acc_rv) };
                    }
                }
            }

            #[target_feature(enable = $features)]
            unsafe fn norms_impl(b: *const $t, d: usize, out: *mut $t) {
                use std::arch::x86_64::*;
                let mut acc = [$zero(); $nvec];
                for k in 0..d {
                    for (v, acc_v) in acc.iter_mut().enumerate() {
                        // SAFETY: caller guarantees a panel of d coordinates.
                        let bv = unsafe { $load(b.add(k * Self::P + v * $lanes)) };
                        // Same operand roles as the tile's diagonal lane: fma(a, b, acc)
                        // with a == b (FMA is commutative in its product).
                        *acc_v = $fma(bv, bv, *acc_v);
                    }
                }
                for (v, &acc_v) in acc.iter().enumerate() {
                    // SAFETY: out holds P elements.
                    unsafe { $store(out.add(v * $lanes), acc_v) };
                }
            }
        }

        impl TileKernel<$t> for $name {
            const PANEL: usize = $lanes * $nvec;
            const ROWS: usize = $rows;
            const KC: usize = $kc;

            unsafe fn gram_tile(
                a: *const $t,
                b: *const $t,
                kc: usize,
                out: *mut $t,
                accumulate: bool,
            ) {
                // SAFETY: forwarded caller contract (includes CPU support).
                unsafe { Self::tile_impl(a, b, kc, out, accumulate) }
            }

            unsafe fn panel_sq_norms(b: *const $t, d: usize, out: *mut $t) {
                // SAFETY: forwarded caller contract (includes CPU support).
                unsafe { Self::norms_impl(b, d, out) }
            }

            unsafe fn store_full_block(
                out: *mut $t,
                n: usize,
                i0: usize,
                j0: usize,
                g: *const $t,
                norms_i: *const $t,
                norms_j: *const $t,
            ) {
                // SAFETY: forwarded caller contract (includes CPU support).
                unsafe { $store_block(out, n, i0, j0, g, norms_i, norms_j) }
            }

            $(
                unsafe fn pack_panel_with_norms(
                    x: &[$t],
                    n: usize,
                    d: usize,
                    shift: &[$t],
                    r0: usize,
                    panel: &mut [$t],
                    norms: &mut [$t],
                ) {
                    // SAFETY: forwarded caller contract (includes CPU support).
                    unsafe { $pack(x, n, d, shift, r0, panel, norms) }
                }
            )?
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_tile_kernel!(
    /// AVX-512 f32: tile of 8 rows x 48 columns (3 zmm), 24 accumulators.
    Avx512F32, f32, "avx512f", 16, 3, 8, kc = 128,
    store_block = store_full_block_avx512_f32,
    zero = _mm512_setzero_ps, set1 = _mm512_set1_ps, load = _mm512_loadu_ps,
    store = _mm512_storeu_ps, fma = _mm512_fmadd_ps, pack = pack_panel_with_norms_avx512_f32
);
#[cfg(target_arch = "x86_64")]
simd_tile_kernel!(
    /// AVX-512 f64: tile of 8 rows x 24 columns (3 zmm), 24 accumulators.
    Avx512F64, f64, "avx512f", 8, 3, 8, kc = 128,
    store_block = store_full_block_portable::<f64, 24>,
    zero = _mm512_setzero_pd, set1 = _mm512_set1_pd, load = _mm512_loadu_pd,
    store = _mm512_storeu_pd, fma = _mm512_fmadd_pd
);
#[cfg(target_arch = "x86_64")]
simd_tile_kernel!(
    /// AVX2+FMA f32: tile of 3 rows x 24 columns (3 ymm), 9 accumulators. Not 4 rows:
    /// 12 accumulators, 3 operands and the broadcasts exceed the 16 ymm registers, and the
    /// compiler then spills an accumulator through the stack every k (a third of the
    /// speed, measured on Zen 3).
    Avx2F32, f32, "avx2,fma", 8, 3, 3, kc = 128,
    store_block = store_full_block_avx2_f32,
    zero = _mm256_setzero_ps, set1 = _mm256_set1_ps, load = _mm256_loadu_ps,
    store = _mm256_storeu_ps, fma = _mm256_fmadd_ps, pack = pack_panel_with_norms_avx2_f32
);
#[cfg(target_arch = "x86_64")]
simd_tile_kernel!(
    /// AVX2+FMA f64: tile of 3 rows x 12 columns (3 ymm), 9 accumulators (see `Avx2F32`).
    Avx2F64, f64, "avx2,fma", 4, 3, 3, kc = 128,
    store_block = store_full_block_avx2_f64,
    zero = _mm256_setzero_pd, set1 = _mm256_set1_pd, load = _mm256_loadu_pd,
    store = _mm256_storeu_pd, fma = _mm256_fmadd_pd
);

type PortableF32 = PortableKernel<8, 4>;
type PortableF64 = PortableKernel<4, 4>;

pub(crate) fn sq_distances_into_f32(
    x: &[f32],
    n: usize,
    d: usize,
    kernel: GramKernel,
    out: &mut [f32],
) {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => sq_distances_with::<f32, Avx512F32>(x, n, d, out),
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => sq_distances_with::<f32, Avx2F32>(x, n, d, out),
        _ => sq_distances_with::<f32, PortableF32>(x, n, d, out),
    }
}

pub(crate) fn sq_distances_into_f64(
    x: &[f64],
    n: usize,
    d: usize,
    kernel: GramKernel,
    out: &mut [f64],
) {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => sq_distances_with::<f64, Avx512F64>(x, n, d, out),
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => sq_distances_with::<f64, Avx2F64>(x, n, d, out),
        _ => sq_distances_with::<f64, PortableF64>(x, n, d, out),
    }
}

pub(crate) fn sq_distance_rows_into_f32(
    x: &[f32],
    n: usize,
    d: usize,
    rows: Range<usize>,
    kernel: GramKernel,
    out: &mut [f32],
) {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => sq_distance_rows_with::<f32, Avx512F32>(x, n, d, rows, out),
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => sq_distance_rows_with::<f32, Avx2F32>(x, n, d, rows, out),
        _ => sq_distance_rows_with::<f32, PortableF32>(x, n, d, rows, out),
    }
}

pub(crate) fn sq_distance_rows_into_f64(
    x: &[f64],
    n: usize,
    d: usize,
    rows: Range<usize>,
    kernel: GramKernel,
    out: &mut [f64],
) {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => sq_distance_rows_with::<f64, Avx512F64>(x, n, d, rows, out),
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => sq_distance_rows_with::<f64, Avx2F64>(x, n, d, rows, out),
        _ => sq_distance_rows_with::<f64, PortableF64>(x, n, d, rows, out),
    }
}

pub(crate) fn panel_width_f32(kernel: GramKernel) -> usize {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => <Avx512F32 as TileKernel<f32>>::PANEL,
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => <Avx2F32 as TileKernel<f32>>::PANEL,
        _ => <PortableF32 as TileKernel<f32>>::PANEL,
    }
}

pub(crate) fn panel_width_f64(kernel: GramKernel) -> usize {
    match kernel.resolve() {
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx512 => <Avx512F64 as TileKernel<f64>>::PANEL,
        #[cfg(target_arch = "x86_64")]
        GramKernel::Avx2Fma => <Avx2F64 as TileKernel<f64>>::PANEL,
        _ => <PortableF64 as TileKernel<f64>>::PANEL,
    }
}

/// Bytes of scratch memory [`crate::pairwise_sq_distances`] allocates besides its n x n
/// output, for element type `T` and the kernel `Auto` resolves to: the packed shifted
/// copy of the input (rows padded to the panel width), the norm and shift vectors, the
/// per-chunk column statistics and one `n x P` Gram strip per worker thread (P <= 48).
/// This is `O(n * d + threads * n * P)`, small next to the n x n output.
pub fn pairwise_sq_distances_scratch_bytes<T: Real>(n: usize, d: usize) -> usize {
    let panel = T::panel_width(GramKernel::Auto);
    let n_pad = n.div_ceil(panel) * panel;
    let elem = std::mem::size_of::<T>();
    let packed = (n_pad * d + 64 / elem) * elem;
    let norms_and_shift = (n_pad + d) * elem;
    let column_stats = n.div_ceil(STAT_CHUNK_ROWS) * 3 * d * std::mem::size_of::<f64>();
    // One Gram strip (rows below the panel x panel width) per worker.
    let strips = rayon::current_num_threads().min(n_pad / panel.max(1)) * n_pad * panel * elem;
    packed + norms_and_shift + column_stats + strips
}

/// Peak bytes held by [`crate::pairwise_sq_distances`]: the `n * n` output plus
/// [`pairwise_sq_distances_scratch_bytes`].
pub fn pairwise_sq_distances_peak_bytes<T: Real>(n: usize, d: usize) -> usize {
    n * n * std::mem::size_of::<T>() + pairwise_sq_distances_scratch_bytes::<T>(n, d)
}

/// Rows per chunk when gathering column statistics (fixed, so the f64 sums are combined
/// in the same order whatever the thread count: results are deterministic).
const STAT_CHUNK_ROWS: usize = 256;

/// The shift `c` subtracted from every row before the Gram product.
///
/// Any `c` leaves distances unchanged in exact arithmetic; a `c` near the column mean
/// makes `|y|^2` small, so the cancellation in `|y_i|^2 + |y_j|^2 - 2 <y_i, y_j>` loses
/// little. We take the column mean rounded to a multiple of `q = 2^floor(log2(spread))`,
/// `spread = max - min` of the column:
///
/// * the residual offset is at most `q / 2 <= spread / 2`, as good as exact centering for
///   precision;
/// * integer-valued columns (spread >= 1) get an integer shift, so `x - c` stays exact and
///   small-integer clouds give exact distances (exact ties, reproducible MST);
/// * a cloud translated by a multiple of `q` (e.g. by 1e4) gets the shift translated by
///   the same amount, hence the very same centered data.
///
/// A constant column uses its value (exactly zero after centering); non-finite
/// statistics fall back to no shift.
pub(crate) fn centering_shift<T: Real>(x: &[T], n: usize, d: usize) -> Vec<T> {
    if d == 0 || n == 0 {
        return vec![T::ZERO; d];
    }
    let chunk_stats: Vec<Vec<f64>> = x
        .par_chunks(STAT_CHUNK_ROWS * d)
        .map(|rows| column_stats(rows, d))
        .collect();
    let mut shift = vec![T::ZERO; d];
    for (k, shift_k) in shift.iter_mut().enumerate() {
        let mut sum = 0.0f64;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for stats in &chunk_stats {
            sum += stats[k];
            min = min.min(stats[d + k]);
            max = max.max(stats[2 * d + k]);
        }
        let mean = sum / n as f64;
        let spread = max - min;
        *shift_k = if !(mean.is_finite() && spread.is_finite()) {
            T::ZERO
        } else if spread == 0.0 {
            T::from_f64(min)
        } else {
            let q = spread.log2().floor().exp2();
            T::from_f64((mean / q).round() * q)
        };
    }
    shift
}

/// `[sum | min | max]` per column of `rows` (row-major, `d` columns): sums in f64 in row
/// order, extrema exact (taken in `T`, ignoring NaN). Runs the same loop compiled for
/// the widest vector extension of this CPU (the results do not depend on it).
fn column_stats<T: Real>(rows: &[T], d: usize) -> Vec<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
                // SAFETY: T is f32 (same layout); feature detected.
                return unsafe {
                    column_stats_avx512_f32(
                        std::slice::from_raw_parts(rows.as_ptr() as *const f32, rows.len()),
                        d,
                    )
                };
            }
            // SAFETY: feature detected.
            return unsafe { column_stats_avx512(rows, d) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
                // SAFETY: T is f32 (same layout); feature detected.
                return unsafe {
                    column_stats_avx2_f32(
                        std::slice::from_raw_parts(rows.as_ptr() as *const f32, rows.len()),
                        d,
                    )
                };
            }
            // SAFETY: feature detected.
            return unsafe { column_stats_avx2(rows, d) };
        }
    }
    column_stats_body(rows, d)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn column_stats_avx512<T: Real>(rows: &[T], d: usize) -> Vec<f64> {
    column_stats_body(rows, d)
}

/// The loop of the f32 SIMD [`column_stats`]: the rows stream in memory order past the
/// statistics of all columns (they stay in L1/L2), `W` columns at a time through
/// `step(values, sums, mins, maxs)` (pointers to column c of the row and of the three
/// statistics), the last `d % W` columns one at a time by the same rules: sums in f64 in
/// row order, extrema `if v < m { v } else { m }` (NaN ignored), as in
/// [`column_stats_body`]. Inlined into each caller, so that the loop is compiled for the
/// caller's target features.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn column_stats_f32_streamed<const W: usize>(
    rows: &[f32],
    d: usize,
    step: impl Fn(*const f32, *mut f64, *mut f32, *mut f32),
) -> Vec<f64> {
    let mut sum = vec![0.0f64; d];
    let mut min = vec![f32::INFINITY; d];
    let mut max = vec![f32::NEG_INFINITY; d];
    let full = d / W * W;
    for row in rows.chunks_exact(d) {
        for c in (0..full).step_by(W) {
            // c + W <= d: W values from each pointer are in the row and the statistics.
            step(
                row.as_ptr().wrapping_add(c),
                sum.as_mut_ptr().wrapping_add(c),
                min.as_mut_ptr().wrapping_add(c),
                max.as_mut_ptr().wrapping_add(c),
            );
        }
        for c in full..d {
            let v = row[c];
            sum[c] += v as f64;
            min[c] = if v < min[c] { v } else { min[c] };
            max[c] = if v > max[c] { v } else { max[c] };
        }
    }
    sum.extend(min.iter().map(|&v| v as f64));
    sum.extend(max.iter().map(|&v| v as f64));
    sum
}

/// Miri implements most of the x86 intrinsics this file uses, but not three AVX-512 ones
/// (`vmaxps`, `vminps` and `vcvtps2pd` on 512-bit vectors). Under Miri (`cfg(miri)`: the
/// interpreter that checks the unsafe code, and the only place the AVX-512 builds run on a
/// CPU without AVX-512, see README "Tests") they are computed from two 256-bit halves,
/// whose per-lane results Intel defines identically (the second operand on NaN or two
/// zeros; exact widening), so that every other instruction of those builds is checked.
#[cfg(all(target_arch = "x86_64", miri))]
mod avx512_under_miri {
    use std::arch::x86_64::*;

    fn halves(a: __m512) -> (__m256, __m256) {
        // SAFETY: 16 f32 lanes as two arrays of 8, in lane order (arrays have no padding).
        let [lo, hi] = unsafe { std::mem::transmute::<__m512, [__m256; 2]>(a) };
        (lo, hi)
    }

    fn join(lo: __m256, hi: __m256) -> __m512 {
        // SAFETY: as above.
        unsafe { std::mem::transmute::<[__m256; 2], __m512>([lo, hi]) }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn _mm512_max_ps(a: __m512, b: __m512) -> __m512 {
        let ((a0, a1), (b0, b1)) = (halves(a), halves(b));
        join(_mm256_max_ps(a0, b0), _mm256_max_ps(a1, b1))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn _mm512_min_ps(a: __m512, b: __m512) -> __m512 {
        let ((a0, a1), (b0, b1)) = (halves(a), halves(b));
        join(_mm256_min_ps(a0, b0), _mm256_min_ps(a1, b1))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn _mm512_cvtps_pd(a: __m256) -> __m512d {
        // SAFETY: two 256-bit halves of double lanes, in lane order.
        unsafe {
            std::mem::transmute::<[__m256d; 2], __m512d>([
                _mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(a)),
            ])
        }
    }
}

/// [`column_stats`] for f32 with AVX-512F, 16 columns at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn column_stats_avx512_f32(rows: &[f32], d: usize) -> Vec<f64> {
    #[cfg(miri)]
    use avx512_under_miri::{_mm512_cvtps_pd, _mm512_max_ps, _mm512_min_ps};
    use std::arch::x86_64::*;
    column_stats_f32_streamed::<16>(rows, d, |x, s, mn, mx| {
        // SAFETY: the loop passes pointers with 16 values of the row and of each statistic.
        unsafe {
            let v = _mm512_loadu_ps(x);
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(v),
            )));
            _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), lo));
            _mm512_storeu_pd(s.add(8), _mm512_add_pd(_mm512_loadu_pd(s.add(8)), hi));
            // vminps / vmaxps return the second operand when either is NaN or both are
            // zeros: `if v < m { v } else { m }`.
            _mm512_storeu_ps(mn, _mm512_min_ps(v, _mm512_loadu_ps(mn)));
            _mm512_storeu_ps(mx, _mm512_max_ps(v, _mm512_loadu_ps(mx)));
        }
    })
}

/// [`column_stats`] for f32 with AVX2, 8 columns at a time. The generic loop scans blocks
/// of columns down the rows instead, reading lines a row apart, which the prefetcher does
/// not follow across pages (Zen 3, n = 256, d = 2048: 0.46 ms against 0.31 here).
/// Intrinsics, because a row-streaming generic loop compiles the extrema updates to masked
/// stores, which Zen 3 runs slower still.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn column_stats_avx2_f32(rows: &[f32], d: usize) -> Vec<f64> {
    use std::arch::x86_64::*;
    column_stats_f32_streamed::<8>(rows, d, |x, s, mn, mx| {
        // SAFETY: the loop passes pointers with 8 values of the row and of each statistic.
        unsafe {
            let v = _mm256_loadu_ps(x);
            let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
            _mm256_storeu_pd(s, _mm256_add_pd(_mm256_loadu_pd(s), lo));
            _mm256_storeu_pd(s.add(4), _mm256_add_pd(_mm256_loadu_pd(s.add(4)), hi));
            _mm256_storeu_ps(mn, _mm256_min_ps(v, _mm256_loadu_ps(mn)));
            _mm256_storeu_ps(mx, _mm256_max_ps(v, _mm256_loadu_ps(mx)));
        }
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn column_stats_avx2<T: Real>(rows: &[T], d: usize) -> Vec<f64> {
    column_stats_body(rows, d)
}

#[inline(always)]
fn column_stats_body<T: Real>(rows: &[T], d: usize) -> Vec<f64> {
    let mut stats = vec![0.0f64; 3 * d];
    let n_rows = rows.len() / d;
    // Blocks of W columns keep their statistics in registers while the rows stream past.
    const W: usize = 32;
    let mut c0 = 0;
    while c0 < d {
        let w = W.min(d - c0);
        let mut sum = [0.0f64; W];
        let mut min = [T::INFINITY; W];
        let mut max = [T::ZERO - T::INFINITY; W];
        if w == W {
            for r in 0..n_rows {
                let row: &[T; W] = rows[r * d + c0..r * d + c0 + W].try_into().unwrap();
                for c in 0..W {
                    let v = row[c];
                    sum[c] += v.to_f64();
                    min[c] = if v < min[c] { v } else { min[c] };
                    max[c] = if v > max[c] { v } else { max[c] };
                }
            }
        } else {
            for r in 0..n_rows {
                let row = &rows[r * d + c0..r * d + c0 + w];
                for (c, &v) in row.iter().enumerate() {
                    sum[c] += v.to_f64();
                    min[c] = if v < min[c] { v } else { min[c] };
                    max[c] = if v > max[c] { v } else { max[c] };
                }
            }
        }
        for c in 0..w {
            stats[c0 + c] = sum[c];
            stats[d + c0 + c] = min[c].to_f64();
            stats[2 * d + c0 + c] = max[c].to_f64();
        }
        c0 += w;
    }
    stats
}

/// A zero-initialized buffer whose data starts on a 64-byte boundary.
struct AlignedBuf<T> {
    storage: Vec<T>,
    offset: usize,
    len: usize,
}

impl<T: Real> AlignedBuf<T> {
    fn zeroed(len: usize) -> Self {
        let slack = 64 / std::mem::size_of::<T>();
        let storage = vec![T::ZERO; len + slack];
        let misalign = (storage.as_ptr() as usize % 64) / std::mem::size_of::<T>();
        let offset = if misalign == 0 { 0 } else { slack - misalign };
        AlignedBuf {
            storage,
            offset,
            len,
        }
    }
    fn as_slice(&self) -> &[T] {
        &self.storage[self.offset..self.offset + self.len]
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.storage[self.offset..self.offset + self.len]
    }
}

/// Raw output pointer shared by the tile workers; each entry has exactly one writer.
#[derive(Clone, Copy)]
struct SharedOut<T>(*mut T);
// SAFETY: workers write disjoint entries (see `write_tile`), the buffer outlives them.
unsafe impl<T: Send> Send for SharedOut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    #[inline(always)]
    fn ptr(self) -> *mut T {
        self.0
    }
}

/// Asks the CPU to bring share `part` of `parts` of `block` into L1: each tile of a
/// strip prefetches its share of the next panel's k block while it computes.
///
/// A tile reads its rows of the current panel's k block (`KC x P` values, contiguous) at a
/// stride of `P`, using a few values of every line, and the next panel's block sits
/// `P * d` values further on, which the hardware prefetcher does not guess: measured on
/// Zen 3 at n = 1024, d = 2048, the first tile of every panel then waits on L3 for each
/// line and the micro-kernel runs at two thirds of its in-cache speed. The tiles of one
/// panel share the next panel's lines out between them. Prefetching changes no value.
#[inline]
fn prefetch_share<T>(block: &[T], part: usize, parts: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let bytes = std::mem::size_of_val(block);
        let lines = bytes.div_ceil(LINE);
        let base = block.as_ptr().cast::<i8>();
        for line in part * lines / parts..(part + 1) * lines / parts {
            // SAFETY: prefetching has no architectural effect, and the address lies inside
            // `block` (line * LINE < bytes).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(line * LINE)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (block, part, parts);
}

/// The whole pipeline for one micro-kernel `K`; `out` receives n x n squared distances.
pub(crate) fn sq_distances_with<T: Real, K: TileKernel<T>>(
    x: &[T],
    n: usize,
    d: usize,
    out: &mut [T],
) {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    assert_eq!(out.len(), n * n, "out must hold n * n elements");
    if n == 0 {
        return;
    }
    let p = K::PANEL;
    let rows = K::ROWS;
    debug_assert!(p % rows == 0 && p <= MAX_PANEL);
    let panels = n.div_ceil(p);
    let panel_len = p * d;

    // 1. Shift and pack.
    let (packed, norms) = shift_and_pack::<T, K>(x, n, d);
    let packed = packed.as_slice();
    let norms = &norms[..n];

    // 2 + 3. Lower-triangle Gram strip of each column panel, then its distances.
    let next_panel = AtomicUsize::new(0);
    let out_ptr = SharedOut(out.as_mut_ptr());
    let workers = rayon::current_num_threads().clamp(1, panels);
    (0..workers).into_par_iter().for_each(|_| {
        // Gram strip G[j0.., j0..j0+P] of the current panel, ROWS x P tile after tile.
        let mut strip: Vec<T> = Vec::new();
        loop {
            let jq = next_panel.fetch_add(1, Ordering::Relaxed);
            if jq >= panels {
                break;
            }
            let j0 = jq * p;
            let strip_rows = (n - j0).div_ceil(rows) * rows;
            strip.clear();
            strip.resize(strip_rows * p, T::ZERO);
            // SAFETY: panel jq exists.
            let b = unsafe { packed.as_ptr().add(jq * panel_len) };
            // k blocks keep the KC x P block of panel jq in L1 while the row tiles stream.
            for k0 in (0..d).step_by(K::KC) {
                let kc = K::KC.min(d - k0);
                for (t, tile) in strip.chunks_exact_mut(rows * p).enumerate() {
                    let i0 = j0 + t * rows;
                    let (iq, i_off) = (i0 / p, i0 % p);
                    if iq + 1 < panels {
                        let next = &packed[(iq + 1) * panel_len + k0 * p..][..kc * p];
                        prefetch_share(next, i_off / rows, p / rows);
                    }
                    // SAFETY: i0 < n so panel iq exists; i_off + rows <= p; the tile
                    // holds rows * p elements; CPU support checked by the dispatcher.
                    unsafe {
                        let a = packed.as_ptr().add(iq * panel_len + k0 * p + i_off);
                        K::gram_tile(a, b.add(k0 * p), kc, tile.as_mut_ptr(), k0 > 0);
                    }
                }
            }
            // SAFETY: the strip of panel jq is written by this worker only.
            unsafe { write_strip::<T, K>(out_ptr, n, j0, &strip, norms) };
        }
    });
}

/// Step 1 of the pipeline for micro-kernel `K`: the centering shift of all `n` rows, the
/// packed panels of `Y = X - c` (panel q holds rows `q*P .. q*P+P`, element `(r, k)` at
/// `k*P + r`, padding rows zero) and the squared norms of the shifted rows, rounded
/// exactly like the tile diagonals (`n.div_ceil(P) * P` of them, padding zero).
///
/// Shared by [`sq_distances_with`] and [`sq_distance_rows_with`]: both must see the very
/// same packed data and norms for their outputs to agree bit for bit.
fn shift_and_pack<T: Real, K: TileKernel<T>>(
    x: &[T],
    n: usize,
    d: usize,
) -> (AlignedBuf<T>, Vec<T>) {
    let p = K::PANEL;
    let panels = n.div_ceil(p);
    let panel_len = p * d;
    let shift = centering_shift(x, n, d);
    let mut packed = AlignedBuf::<T>::zeroed(panels * panel_len);
    let mut norms = vec![T::ZERO; panels * p];
    if d > 0 {
        packed
            .as_mut_slice()
            .par_chunks_mut(panel_len)
            .zip(norms.par_chunks_mut(p))
            .enumerate()
            .for_each(|(q, (panel, norms_q))| {
                // SAFETY: the dispatcher checked CPU support.
                unsafe { K::pack_panel_with_norms(x, n, d, &shift, q * p, panel, norms_q) }
            });
    }
    (packed, norms)
}

/// Rows of the output handled by one work item of [`sq_distance_rows_with`] (a multiple
/// of every `ROWS`): the item's Gram strip, `ROW_CHUNK x P`, stays in L2.
const ROW_CHUNK: usize = 240;

/// Rows `rows` of the n x n squared-distance matrix of [`sq_distances_with`] for the same
/// micro-kernel `K`, bit for bit, into `out` (`rows.len() x n`, row-major), without
/// forming the n x n matrix: a sharded MST gives each process a range of rows, and all
/// processes must see exactly the matrix a single process would build.
///
/// Work items are (chunk of [`ROW_CHUNK`] rows, column panel) pairs, handed to the rayon
/// threads through an atomic counter; each computes the `ROWS x P` tiles of its rows
/// against its panel with the same k blocking as the full routine and stores the
/// distances of its `rows x P` block (every entry has exactly one writer).
///
/// # Why the entries equal the full matrix's bit for bit
///
/// In [`sq_distances_with`] the unordered pair `{i, j}`, `i > j`, is computed once, in the
/// strip of the panel holding `j`: lane `(i, j)` of a tile with `a` = the packed row `i`
/// and `b` = the panel of `j`. That lane is the chain
/// `g <- 0; for k in 0..d: g <- fma(y_i[k], y_j[k], g)` (portable: `g + y_i[k] * y_j[k]`,
/// two roundings), and the entry is `sq_distance(|y_i|^2, |y_j|^2, g)`, stored at `(i, j)`
/// and mirrored to `(j, i)`. Here, row `i` is paired with every column `j` as the lane
/// `(i, j)` of a tile with `a` = row `i` and `b` = the panel of `j`, whether `j < i` or
/// `j > i`. For `j < i` this is the same computation. For `j > i` the operands swap roles,
/// and the result is still the same bits:
///
/// * the lane's product is exact inside an FMA (rounded once with the addend) and a
///   correctly rounded product in the portable kernel, and `y_i[k] * y_j[k]` and
///   `y_j[k] * y_i[k]` are the same real number, so each step rounds the same value;
/// * the accumulation order over k is fixed by the kernel (k blocks of `KC`, in order;
///   spilling the accumulator between blocks and reloading it is exact), the same in both
///   routines, and independent of where the lane sits in the tile (every lane of a tile
///   runs the same instruction sequence; no reassociation, no contraction);
/// * the packed `y` and the norms come from [`shift_and_pack`] over all `n` rows (same
///   shift, same panels, same norm rounding) whatever range is asked for;
/// * `sq_distance` adds the norms first, and `|y_i|^2 + |y_j|^2` is commutative; the SIMD
///   store blocks of the full routine compute `max(0, (n_i + n_j) - (g + g))` with the
///   same IEEE operations as `sq_distance`;
/// * the diagonal is written as exact zero, as in the full routine.
///
/// So both routines evaluate the same rounded expression for every entry; only NaN
/// payloads (NaN inputs) could in principle differ between scalar and vector paths.
pub(crate) fn sq_distance_rows_with<T: Real, K: TileKernel<T>>(
    x: &[T],
    n: usize,
    d: usize,
    rows: Range<usize>,
    out: &mut [T],
) {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    assert!(
        rows.start <= rows.end && rows.end <= n,
        "rows {rows:?} out of range for n = {n}"
    );
    assert_eq!(
        out.len(),
        rows.len() * n,
        "out must hold rows.len() * n elements"
    );
    if rows.is_empty() {
        return;
    }
    let p = K::PANEL;
    let tile_rows = K::ROWS;
    debug_assert!(p % tile_rows == 0 && p <= MAX_PANEL && ROW_CHUNK.is_multiple_of(tile_rows));
    let panels = n.div_ceil(p);
    let panel_len = p * d;

    let (packed, norms) = shift_and_pack::<T, K>(x, n, d);
    let packed = packed.as_slice();
    let norms = &norms[..n];

    // Tiles start at multiples of ROWS (so each lies inside one packed panel); rows of a
    // tile outside `rows` (or past n, in the zero padding) are computed and dropped.
    let first = rows.start / ROW_CHUNK * ROW_CHUNK;
    let chunks = (rows.end - first).div_ceil(ROW_CHUNK);
    let items = chunks * panels;
    let next_item = AtomicUsize::new(0);
    let out_ptr = SharedOut(out.as_mut_ptr());
    let workers = rayon::current_num_threads().clamp(1, items);
    (0..workers).into_par_iter().for_each(|_| {
        let mut strip: Vec<T> = Vec::new();
        loop {
            let item = next_item.fetch_add(1, Ordering::Relaxed);
            if item >= items {
                break;
            }
            // Consecutive items share a row chunk: its packed rows stay in cache.
            let (chunk, jq) = (item / panels, item % panels);
            let c0 = first + chunk * ROW_CHUNK;
            let (r0, r1) = (c0.max(rows.start), (c0 + ROW_CHUNK).min(rows.end));
            let t0 = r0 / tile_rows * tile_rows;
            let t1 = r1.div_ceil(tile_rows) * tile_rows;
            strip.clear();
            strip.resize((t1 - t0) * p, T::ZERO);
            let j0 = jq * p;
            // SAFETY: panel jq exists.
            let b = unsafe { packed.as_ptr().add(jq * panel_len) };
            for k0 in (0..d).step_by(K::KC) {
                let kc = K::KC.min(d - k0);
                for (t, tile) in strip.chunks_exact_mut(tile_rows * p).enumerate() {
                    let i0 = t0 + t * tile_rows;
                    let (iq, i_off) = (i0 / p, i0 % p);
                    // SAFETY: i0 < r1 <= n so panel iq exists; i0 is a multiple of ROWS,
                    // which divides P, so i_off + ROWS <= P; the tile holds ROWS * P
                    // elements; CPU support checked by the dispatcher.
                    unsafe {
                        let a = packed.as_ptr().add(iq * panel_len + k0 * p + i_off);
                        K::gram_tile(a, b.add(k0 * p), kc, tile.as_mut_ptr(), k0 > 0);
                    }
                }
            }
            let j_end = (j0 + p).min(n);
            let norms_j = &norms[j0..j_end];
            for i in r0..r1 {
                // SAFETY: row i - rows.start, columns j0 .. j_end of out are in range and
                // written by this item only.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        out_ptr.ptr().add((i - rows.start) * n + j0),
                        j_end - j0,
                    )
                };
                let g_row = &strip[(i - t0) * p..(i - t0) * p + (j_end - j0)];
                let n_i = norms[i];
                for ((o, &g), &n_j) in dst.iter_mut().zip(g_row).zip(norms_j) {
                    *o = sq_distance(n_i, n_j, g);
                }
                if (j0..j_end).contains(&i) {
                    dst[i - j0] = T::ZERO;
                }
            }
        }
    });
}

/// Packs rows `r0 .. r0 + p` (those below `n`) of `x - shift` into `panel` (k-major,
/// `panel[k * p + r] = x[r0 + r][k] - shift[k]`); rows past `n` stay zero.
fn pack_panel<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    shift: &[T],
    r0: usize,
    p: usize,
    panel: &mut [T],
) {
    let r_end = (r0 + p).min(n);
    // Blocks of 64 coordinates keep the p source rows and the destination in L1.
    const K_BLOCK: usize = 64;
    for k0 in (0..d).step_by(K_BLOCK) {
        let k1 = (k0 + K_BLOCK).min(d);
        for r in r0..r_end {
            let src = &x[r * d + k0..r * d + k1];
            for ((k, &v), &s) in (k0..k1).zip(src).zip(&shift[k0..k1]) {
                panel[k * p + (r - r0)] = v - s;
            }
        }
    }
}

/// Squared distance from the Gram entry and the two squared norms:
/// `max(0, (|y_i|^2 + |y_j|^2) - 2 G_ij)` (NaN propagates).
#[inline(always)]
fn sq_distance<T: Real>(norm_i: T, norm_j: T, gram_ij: T) -> T {
    let v = (norm_i + norm_j) - (gram_ij + gram_ij);
    if v < T::ZERO {
        T::ZERO
    } else {
        v
    }
}

/// Rows of the strip converted per block in [`write_strip`] (one cache line of f32).
const STRIP_BLOCK: usize = 16;

/// Converts the Gram strip of the column panel `j0 .. j0 + P` (rows `i = j0 + s`) into
/// squared distances and stores them at `(i, j)` and `(j, i)` for `j < i < n`, with
/// exactly 0 on the diagonal. Every entry pair belongs to exactly one panel strip.
///
/// Full blocks of `STRIP_BLOCK` rows go through [`TileKernel::store_full_block`] (rows
/// stored as contiguous runs of `P`, columns transposed and stored as contiguous runs of
/// `STRIP_BLOCK`); blocks touching the diagonal or the matrix edge take a scalar path.
///
/// # Safety
/// `out` points to an n x n buffer, no other thread writes this strip's entries, and the
/// CPU supports `K`.
unsafe fn write_strip<T: Real, K: TileKernel<T>>(
    out: SharedOut<T>,
    n: usize,
    j0: usize,
    strip: &[T],
    norms: &[T],
) {
    let p = K::PANEL;
    let j_end = (j0 + p).min(n);
    let width = j_end - j0;
    for i0 in (j0..n).step_by(STRIP_BLOCK) {
        let i_end = (i0 + STRIP_BLOCK).min(n);
        if width == p && i0 >= j0 + p && i_end - i0 == STRIP_BLOCK {
            // SAFETY: full block below the diagonal, in range, owned by this strip.
            unsafe {
                K::store_full_block(
                    out.0,
                    n,
                    i0,
                    j0,
                    strip.as_ptr().add((i0 - j0) * p),
                    norms.as_ptr().add(i0),
                    norms.as_ptr().add(j0),
                )
            };
            continue;
        }
        for i in i0..i_end {
            let g_row = &strip[(i - j0) * p..(i - j0) * p + width];
            let n_i = norms[i];
            let below = (i - j0).min(width);
            for (c, (&g, &n_j)) in g_row[..below].iter().zip(&norms[j0..]).enumerate() {
                let v = sq_distance(n_i, n_j, g);
                let j = j0 + c;
                // SAFETY: i, j < n; (i, j) and (j, i) owned by this strip.
                unsafe {
                    *out.0.add(i * n + j) = v;
                    *out.0.add(j * n + i) = v;
                }
            }
            if below < width {
                // SAFETY: i < n; the diagonal entry (i, i) is owned by this strip.
                unsafe { *out.0.add(i * n + i) = T::ZERO };
            }
        }
    }
}

/// AVX-512 [`TileKernel::store_full_block`] for f32 with `PANEL = 48`: distances are
/// formed 16 lanes at a time, rows stored directly, and each 16 x 16 sub-block transposed
/// in registers (unpack / 128-bit lane shuffles) before the column stores.
///
/// # Safety
/// As for [`TileKernel::store_full_block`]; the CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store_full_block_avx512_f32(
    out: *mut f32,
    n: usize,
    i0: usize,
    j0: usize,
    g: *const f32,
    norms_i: *const f32,
    norms_j: *const f32,
) {
    #[cfg(miri)]
    use avx512_under_miri::_mm512_max_ps;
    use std::arch::x86_64::*;
    const P: usize = 48;
    let zero = _mm512_setzero_ps();
    for v in 0..P / 16 {
        // SAFETY: the caller passes STRIP_BLOCK x 48 Gram entries, 16 + 48 norms, and an
        // in-range block of out owned by this thread.
        unsafe {
            let n_j = _mm512_loadu_ps(norms_j.add(16 * v));
            let mut rows = [zero; 16];
            for (r, row) in rows.iter_mut().enumerate() {
                let n_i = _mm512_set1_ps(*norms_i.add(r));
                let g_rv = _mm512_loadu_ps(g.add(r * P + 16 * v));
                let d2 = _mm512_sub_ps(_mm512_add_ps(n_i, n_j), _mm512_add_ps(g_rv, g_rv));
                // max(0, d2) keeping NaN: vmaxps returns its second operand on NaN.
                *row = _mm512_max_ps(zero, d2);
                _mm512_storeu_ps(out.add((i0 + r) * n + j0 + 16 * v), *row);
            }
            let cols = transpose_16x16_f32(rows);
            for (c, &col) in cols.iter().enumerate() {
                _mm512_storeu_ps(out.add((j0 + 16 * v + c) * n + i0), col);
            }
        }
    }
}

/// AVX-512 [`TileKernel::pack_panel_with_norms`] for f32 with `PANEL = 48`: blocks of
/// 16 rows x 16 coordinates are loaded (masked at the edges), shifted, transposed in
/// registers and stored as 16 k-rows of the panel; the squared norms accumulate on the
/// transposed vectors with `fma(y, y, acc)` in k order, exactly as in
/// `Avx512F32::norms_impl`.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_panel_with_norms_avx512_f32(
    x: &[f32],
    n: usize,
    d: usize,
    shift: &[f32],
    r0: usize,
    panel: &mut [f32],
    norms: &mut [f32],
) {
    use std::arch::x86_64::*;
    const P: usize = 48;
    assert!(x.len() >= n * d && shift.len() >= d && panel.len() >= P * d && norms.len() >= P);
    let valid = n.saturating_sub(r0).min(P);
    let zero = _mm512_setzero_ps();
    let mut acc = [zero; P / 16];
    for k0 in (0..d).step_by(16) {
        let kw = (d - k0).min(16);
        let mask: __mmask16 = if kw == 16 { 0xffff } else { (1u16 << kw) - 1 };
        // SAFETY: lanes k0 .. k0 + kw < d of shift and of rows below n are in bounds.
        let s = unsafe { _mm512_maskz_loadu_ps(mask, shift.as_ptr().add(k0)) };
        for (g, acc_g) in acc.iter_mut().enumerate() {
            let rows_here = valid.saturating_sub(16 * g).min(16);
            if rows_here == 0 {
                // Padding rows stay zero; their norms are zero as in `norms_impl`.
                continue;
            }
            let mut rows = [zero; 16];
            for (r, row) in rows.iter_mut().enumerate().take(rows_here) {
                // SAFETY: row r0 + 16 g + r < n, lanes k0 .. k0 + kw < d.
                let v = unsafe {
                    _mm512_maskz_loadu_ps(mask, x.as_ptr().add((r0 + 16 * g + r) * d + k0))
                };
                *row = _mm512_sub_ps(v, s);
            }
            let cols = transpose_16x16_f32(rows);
            for (c, &col) in cols.iter().enumerate().take(kw) {
                // SAFETY: k0 + c < d, so the 16 lanes at (k0 + c) * P + 16 g are in bounds.
                unsafe { _mm512_storeu_ps(panel.as_mut_ptr().add((k0 + c) * P + 16 * g), col) };
                *acc_g = _mm512_fmadd_ps(col, col, *acc_g);
            }
        }
    }
    for (g, &acc_g) in acc.iter().enumerate() {
        // SAFETY: norms holds P elements.
        unsafe { _mm512_storeu_ps(norms.as_mut_ptr().add(16 * g), acc_g) };
    }
}

/// Transposes a 16 x 16 f32 block held as 16 row registers (4 shuffle stages).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_16x16_f32(r: [std::arch::x86_64::__m512; 16]) -> [std::arch::x86_64::__m512; 16] {
    use std::arch::x86_64::*;
    // Stage 1: interleave 32-bit elements of row pairs.
    let mut t = [_mm512_setzero_ps(); 16];
    for k in 0..8 {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // Stage 2: interleave 64-bit pairs of (t0, t2), (t1, t3) within groups of 4 rows.
    let mut u = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let b = 4 * q;
        let (t0, t1, t2, t3) = (
            _mm512_castps_pd(t[b]),
            _mm512_castps_pd(t[b + 1]),
            _mm512_castps_pd(t[b + 2]),
            _mm512_castps_pd(t[b + 3]),
        );
        u[b] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[b + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[b + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[b + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    // Stage 3: 128-bit lanes of groups (0-3, 4-7) and (8-11, 12-15).
    let mut w = [_mm512_setzero_ps(); 16];
    for h in 0..2 {
        let b = 8 * h;
        for k in 0..4 {
            w[b + k] = _mm512_shuffle_f32x4::<0x88>(u[b + k], u[b + 4 + k]);
            w[b + 4 + k] = _mm512_shuffle_f32x4::<0xdd>(u[b + k], u[b + 4 + k]);
        }
    }
    // Stage 4: 128-bit lanes of halves (0-7, 8-15).
    let mut out = [_mm512_setzero_ps(); 16];
    for k in 0..8 {
        out[k] = _mm512_shuffle_f32x4::<0x88>(w[k], w[8 + k]);
        out[8 + k] = _mm512_shuffle_f32x4::<0xdd>(w[k], w[8 + k]);
    }
    out
}

/// AVX2 [`TileKernel::store_full_block`] for f32 with `PANEL = 24`: distances are formed
/// 8 lanes at a time, rows stored directly, and each 8 x 8 sub-block transposed in
/// registers before the column stores. The portable store it replaces was compiled without
/// AVX (SSE moves, a scalar transpose through a buffer): a quarter of the distance step's
/// time at n = 4096, d = 128 on Zen 3.
///
/// # Safety
/// As for [`TileKernel::store_full_block`]; the CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn store_full_block_avx2_f32(
    out: *mut f32,
    n: usize,
    i0: usize,
    j0: usize,
    g: *const f32,
    norms_i: *const f32,
    norms_j: *const f32,
) {
    use std::arch::x86_64::*;
    const P: usize = 24;
    let zero = _mm256_setzero_ps();
    for v in 0..P / 8 {
        // SAFETY: the caller passes STRIP_BLOCK x 24 Gram entries, 16 + 24 norms, and an
        // in-range block of out owned by this thread.
        unsafe {
            let n_j = _mm256_loadu_ps(norms_j.add(8 * v));
            for half in 0..STRIP_BLOCK / 8 {
                let mut rows = [zero; 8];
                for (k, row) in rows.iter_mut().enumerate() {
                    let r = 8 * half + k;
                    let n_i = _mm256_set1_ps(*norms_i.add(r));
                    let g_rv = _mm256_loadu_ps(g.add(r * P + 8 * v));
                    let d2 = _mm256_sub_ps(_mm256_add_ps(n_i, n_j), _mm256_add_ps(g_rv, g_rv));
                    // max(0, d2) keeping NaN: vmaxps returns its second operand on NaN.
                    *row = _mm256_max_ps(zero, d2);
                    _mm256_storeu_ps(out.add((i0 + r) * n + j0 + 8 * v), *row);
                }
                for (c, &col) in transpose_8x8_f32(rows).iter().enumerate() {
                    _mm256_storeu_ps(out.add((j0 + 8 * v + c) * n + i0 + 8 * half), col);
                }
            }
        }
    }
}

/// Transposes an 8 x 8 f32 block held as 8 row registers (3 shuffle stages).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn transpose_8x8_f32(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    // Stage 1: interleave 32-bit elements of row pairs (within 128-bit lanes).
    let mut t = [_mm256_setzero_ps(); 8];
    for k in 0..4 {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // Stage 2: 64-bit pairs of (t0, t2), (t1, t3) in each group of 4 rows: u[b + c] holds
    // column c (low lane) and column c + 4 (high lane) of rows b .. b + 4.
    let mut u = [_mm256_setzero_ps(); 8];
    for b in [0, 4] {
        u[b] = _mm256_shuffle_ps::<0x44>(t[b], t[b + 2]);
        u[b + 1] = _mm256_shuffle_ps::<0xee>(t[b], t[b + 2]);
        u[b + 2] = _mm256_shuffle_ps::<0x44>(t[b + 1], t[b + 3]);
        u[b + 3] = _mm256_shuffle_ps::<0xee>(t[b + 1], t[b + 3]);
    }
    // Stage 3: join the rows 0-3 and 4-7 halves of each column.
    let mut out = [_mm256_setzero_ps(); 8];
    for c in 0..4 {
        out[c] = _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c]);
        out[4 + c] = _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c]);
    }
    out
}

/// AVX2 [`TileKernel::pack_panel_with_norms`] for f32 with `PANEL = 24`: blocks of 8 rows
/// x 8 coordinates are loaded (masked at the edges), shifted, transposed in registers and
/// stored as 8 k-rows of the panel; the squared norms accumulate on the transposed vectors
/// with `fma(y, y, acc)` in k order, exactly as in `Avx2F32::norms_impl`. (The generic
/// `pack_panel` it replaces writes the panel one element at a time.)
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_panel_with_norms_avx2_f32(
    x: &[f32],
    n: usize,
    d: usize,
    shift: &[f32],
    r0: usize,
    panel: &mut [f32],
    norms: &mut [f32],
) {
    use std::arch::x86_64::*;
    const P: usize = 24;
    assert!(x.len() >= n * d && shift.len() >= d && panel.len() >= P * d && norms.len() >= P);
    let valid = n.saturating_sub(r0).min(P);
    let zero = _mm256_setzero_ps();
    let lane_ids = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut acc = [zero; P / 8];
    for k0 in (0..d).step_by(8) {
        let kw = (d - k0).min(8);
        // Lanes below kw: maskload reads nothing (and faults on nothing) past them.
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(kw as i32), lane_ids);
        // SAFETY: lanes k0 .. k0 + kw < d of shift are in bounds.
        let s = unsafe { _mm256_maskload_ps(shift.as_ptr().add(k0), mask) };
        for (g, acc_g) in acc.iter_mut().enumerate() {
            let rows_here = valid.saturating_sub(8 * g).min(8);
            if rows_here == 0 {
                // Padding rows stay zero; their norms are zero as in `norms_impl`.
                continue;
            }
            let mut rows = [zero; 8];
            for (r, row) in rows.iter_mut().enumerate().take(rows_here) {
                // SAFETY: row r0 + 8 g + r < n, lanes k0 .. k0 + kw < d.
                let v =
                    unsafe { _mm256_maskload_ps(x.as_ptr().add((r0 + 8 * g + r) * d + k0), mask) };
                *row = _mm256_sub_ps(v, s);
            }
            let cols = transpose_8x8_f32(rows);
            for (c, &col) in cols.iter().enumerate().take(kw) {
                // SAFETY: k0 + c < d, so the 8 lanes at (k0 + c) * P + 8 g are in bounds.
                unsafe { _mm256_storeu_ps(panel.as_mut_ptr().add((k0 + c) * P + 8 * g), col) };
                *acc_g = _mm256_fmadd_ps(col, col, *acc_g);
            }
        }
    }
    for (g, &acc_g) in acc.iter().enumerate() {
        // SAFETY: norms holds P elements.
        unsafe { _mm256_storeu_ps(norms.as_mut_ptr().add(8 * g), acc_g) };
    }
}

/// The portable block store compiled for AVX2 (f64, whose AVX2 kernel has no hand-written
/// store): without the target feature the compiler keeps it to SSE.
///
/// # Safety
/// As for [`TileKernel::store_full_block`] with `PANEL = 12`; the CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn store_full_block_avx2_f64(
    out: *mut f64,
    n: usize,
    i0: usize,
    j0: usize,
    g: *const f64,
    norms_i: *const f64,
    norms_j: *const f64,
) {
    // SAFETY: forwarded caller contract.
    unsafe { store_full_block_portable::<f64, 12>(out, n, i0, j0, g, norms_i, norms_j) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pairwise_sq_distances_rows_with, pairwise_sq_distances_with};

    /// Every kernel this CPU runs (`Auto` included: it is what callers use).
    fn kernels() -> Vec<GramKernel> {
        [
            GramKernel::Auto,
            GramKernel::Portable,
            GramKernel::Avx2Fma,
            GramKernel::Avx512,
        ]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
    }

    /// Column sums in row order (f64) and extrema ignoring NaN, one value at a time.
    fn column_stats_reference<T: Real>(rows: &[T], d: usize) -> Vec<f64> {
        let n = rows.len() / d;
        let column = |c: usize| (0..n).map(move |r| rows[r * d + c]);
        let sums = (0..d).map(|c| column(c).fold(0.0, |s, v| s + v.to_f64()));
        let mins = (0..d).map(|c| {
            column(c)
                .filter(|v| !v.to_f64().is_nan())
                .fold(f64::INFINITY, |m, v| m.min(v.to_f64()))
        });
        let maxs = (0..d).map(|c| {
            column(c)
                .filter(|v| !v.to_f64().is_nan())
                .fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()))
        });
        sums.chain(mins).chain(maxs).collect()
    }

    fn check_column_stats<T: Real>() {
        for (n, d) in [(1, 1), (5, 3), (256, 7), (33, 64), (100, 129), (17, 2048)] {
            for (name, cloud) in clouds(n, d) {
                let mut rows: Vec<T> = cloud.iter().map(|&v| T::from_f64(v)).collect();
                // A NaN and infinities in some columns (ignored by min/max, kept in sums).
                rows[(n / 2) * d + d / 2] = T::from_f64(f64::NAN);
                rows[d - 1] = T::from_f64(f64::INFINITY);
                let expected = column_stats_reference(&rows, d);
                let got = column_stats(&rows, d);
                assert_eq!(got.len(), 3 * d);
                for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
                    assert!(
                        g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                        "{name} n={n} d={d}: stat {k} is {g}, expected {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn column_stats_match_a_scalar_reference_bit_for_bit() {
        check_column_stats::<f32>();
        check_column_stats::<f64>();
    }

    /// Deterministic Gaussian-ish values (sum of uniforms, no transcendental calls).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                (0..4)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    /// The clouds: Gaussian-like, duplicated rows, offset by 1e4, small integers.
    fn clouds(n: usize, d: usize) -> Vec<(&'static str, Vec<f64>)> {
        let base = noise(n * d, (n * 1000 + d) as u64);
        let distinct = n / 3 + 1;
        let dup: Vec<f64> = (0..n)
            .flat_map(|r| {
                let b = (r * 7) % distinct;
                base[b * d..(b + 1) * d].to_vec()
            })
            .collect();
        let offset = base.iter().map(|v| v + 1e4).collect();
        let integer = base.iter().map(|v| (v * 4.0).round()).collect();
        vec![
            ("gaussian", base),
            ("duplicates", dup),
            ("offset 1e4", offset),
            ("integer", integer),
        ]
    }

    /// Ranges of rows: whole, single rows, empty, starting and ending mid-panel and
    /// mid-tile, across panel boundaries and across the row chunks of the work items.
    fn ranges(n: usize, panel: usize) -> Vec<Range<usize>> {
        let candidates = [
            (0, n),
            (0, 1),
            (n.saturating_sub(1), n),
            (n / 2, n / 2 + 1),
            (1, n.saturating_sub(1)),
            (3, n.min(37)),
            (panel - 1, panel + 1),
            (panel / 2, panel + panel / 2 + 3),
            (5, 5),
            (n * 2 / 3, n),
            (0, n / 3 + 1),
            (ROW_CHUNK - 6, ROW_CHUNK + 5),
            (ROW_CHUNK + 1, n),
        ];
        candidates
            .into_iter()
            .filter(|&(a, b)| a <= b && b <= n)
            .map(|(a, b)| a..b)
            .collect()
    }

    fn check_rows_bit_identical<T: Real>() {
        // n around the panel widths (48 / 24 / 12 / 8 / 4) and the row chunk, d around
        // the k blocks (128 / 256); d = 0 is the degenerate all-zero matrix.
        let sizes = [
            (1, 1),
            (2, 1),
            (3, 2),
            (7, 1),
            (17, 3),
            (47, 5),
            (49, 16),
            (97, 300),
            (130, 17),
            (301, 3),
            (5, 0),
        ];
        for kernel in kernels() {
            let panel = T::panel_width(kernel);
            for (n, d) in sizes {
                for (what, x64) in clouds(n, d) {
                    let x: Vec<T> = x64.iter().map(|&v| T::from_f64(v)).collect();
                    let full = pairwise_sq_distances_with(&x, n, d, kernel);
                    for rows in ranges(n, panel) {
                        let block = pairwise_sq_distances_rows_with(&x, n, d, rows.clone(), kernel);
                        assert_eq!(block.len(), rows.len() * n);
                        for (r, i) in rows.clone().enumerate() {
                            assert_eq!(block[r * n + i].to_f64().to_bits(), 0, "diagonal");
                            for j in 0..n {
                                let (a, b) = (block[r * n + j], full[i * n + j]);
                                // f32 -> f64 is exact and injective: comparing the
                                // widened bits compares the bits.
                                assert_eq!(
                                    a.to_f64().to_bits(),
                                    b.to_f64().to_bits(),
                                    "{kernel:?} {what} n={n} d={d} rows {rows:?} at ({i}, {j}): \
                                     {a:?} vs {b:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rows_are_bit_identical_to_the_full_matrix_f32() {
        check_rows_bit_identical::<f32>();
    }

    #[test]
    fn rows_are_bit_identical_to_the_full_matrix_f64() {
        check_rows_bit_identical::<f64>();
    }

    #[test]
    fn rows_of_an_empty_cloud_and_empty_ranges() {
        assert!(crate::pairwise_sq_distances_rows::<f32>(&[], 0, 3, 0..0).is_empty());
        let x = [1.0f64, 2.0, 3.0];
        assert!(crate::pairwise_sq_distances_rows(&x, 3, 1, 2..2).is_empty());
        assert_eq!(
            crate::pairwise_sq_distances_rows(&x, 3, 1, 0..3),
            crate::pairwise_sq_distances(&x, 3, 1)
        );
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn rows_past_n_panic() {
        crate::pairwise_sq_distances_rows(&[1.0f32, 2.0], 2, 1, 1..3);
    }
}
