//! The T-REGS kernels for GPUs, written once in cubecl and compiled for whichever runtime
//! the caller's [`Client`] belongs to (wgpu: Vulkan, Metal, DX12; CUDA; ROCm). This crate
//! links no runtime: the binary that launches them chooses.
//!
//! Data path for one input x (n × d, f32, at `offset` in the buffer that holds it):
//! [`column_shifts`] and [`row_sums`] (shift μ, ‖x_r − μ‖², ‖x_r‖; `mse` row sums) →
//! [`sq_distance_matrix`] (n × n) → [`exact_close_pairs`] (the pairs the Gram trick
//! cannot order, from the rows) → [`boruvka_trees`] (edges, on the device) → edge
//! lengths from the coordinates ([`row_sums`] again) → [`term_values`]. The row sums of
//! every input and term share a launch. Backward:
//! [`tree_adjacency`] (CSR) and one [`fused_gradient`] launch per input.
//!
//! Everything is `f32`, the one float type every runtime has (WGSL has no f64).

pub mod boruvka;
pub mod close_pairs;
// Inside `#[cube]` functions `(a + b - 1) / b` is the kernel's own arithmetic: `div_ceil` is
// not a cubecl operation.
#[allow(clippy::manual_div_ceil)]
pub mod distance;
pub mod rows;
#[allow(clippy::manual_div_ceil)]
pub mod scatter;
pub mod source;
#[allow(clippy::manual_div_ceil)]
pub mod split_gram;
pub mod values;

pub use scatter::GradientPlan;

use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;

/// Units per cube in element-wise and per-vertex kernels.
const ELEMENTWISE_UNITS: u32 = 256;

/// The largest batch the device path takes: the distance matrix is indexed and the edge
/// keys `min·n + max` are packed in 32 bits.
pub const MAX_ROWS: usize = 46_340;

/// A device buffer and its length in elements.
#[derive(Clone, Debug)]
pub struct DeviceBuffer {
    pub handle: Handle,
    pub len: usize,
}

impl DeviceBuffer {
    /// An uninitialized buffer of `len` elements of `T` (at least one, so that it binds).
    pub fn empty<T>(client: &Client, len: usize) -> DeviceBuffer {
        DeviceBuffer {
            handle: client.empty(len.max(1) * std::mem::size_of::<T>()),
            len,
        }
    }

    /// A buffer holding `data`.
    pub fn from_u32(client: &Client, data: &[u32]) -> DeviceBuffer {
        let data = if data.is_empty() { &[0u32][..] } else { data };
        DeviceBuffer {
            handle: client.create_from_slice(u32::as_bytes(data)),
            len: data.len(),
        }
    }

    /// A buffer holding `data` (as their bits: the buffer is untyped).
    pub fn from_f32(client: &Client, data: &[f32]) -> DeviceBuffer {
        let bits: Vec<u32> = data.iter().map(|v| v.to_bits()).collect();
        DeviceBuffer::from_u32(client, &bits)
    }

    /// A buffer of `len` zero `u32`s.
    pub fn zeros_u32(client: &Client, len: usize) -> DeviceBuffer {
        DeviceBuffer::from_u32(client, &vec![0u32; len.max(1)])
    }

    fn arg(&self) -> BufferArg {
        // SAFETY: `len` is the element count the buffer was made with.
        unsafe { BufferArg::from_raw_parts(self.handle.clone(), self.len.max(1)) }
    }

    /// The buffer bound as vectors of `width` elements (its length counted in vectors).
    fn vector_arg(&self, width: usize) -> BufferArg {
        // SAFETY: `len / width` whole vectors lie within the buffer's `len` elements.
        unsafe { BufferArg::from_raw_parts(self.handle.clone(), (self.len / width).max(1)) }
    }

    /// Elements `at..at + len` as a buffer of their own, bound from there (`at` a multiple
    /// of [`BINDING_ALIGN`]).
    pub fn view(&self, at: usize, len: usize) -> DeviceBuffer {
        assert!(at.is_multiple_of(BINDING_ALIGN) && at + len <= self.len);
        DeviceBuffer {
            handle: self.handle.clone().offset_start((at * 4) as u64),
            len,
        }
    }

    /// Reads the buffer back as f32 (tests and diagnostics).
    pub fn read_f32(&self, client: &Client) -> Vec<f32> {
        let bytes = client.read_one_unchecked(self.handle.clone());
        f32::from_bytes(&bytes)[..self.len].to_vec()
    }

    /// Reads the buffer back as u32 (tests and diagnostics).
    pub fn read_u32(&self, client: &Client) -> Vec<u32> {
        let bytes = client.read_one_unchecked(self.handle.clone());
        u32::from_bytes(&bytes)[..self.len].to_vec()
    }
}

/// Waits until everything queued on `client` has run (timing, tests).
pub fn sync(client: &Client) -> Result<(), String> {
    cubecl::future::block_on(client.sync()).map_err(|e| format!("the device failed: {e}"))
}

/// Where one n × d input sits in the buffer that holds it (inputs may share one, end to
/// end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputLayout {
    pub offset: usize,
    pub n: usize,
    pub d: usize,
}

fn u32_of(v: usize) -> u32 {
    u32::try_from(v).expect("sizes on the device path fit in 32 bits (checked by the caller)")
}

/// Enough cubes for `units` units along x, one row of them per tree along y.
fn cubes_per_tree(units: usize, trees: usize) -> CubeCount {
    CubeCount::Static(
        u32_of(units.div_ceil(ELEMENTWISE_UNITS as usize).max(1)),
        u32_of(trees),
        1,
    )
}

/// A 1-D count of `cubes` spread over x and y (x is limited to 65 535 on some runtimes).
fn spread(cubes: usize) -> CubeCount {
    let (x, y) = spread_xy(cubes);
    CubeCount::Static(x, y, 1)
}

/// `items` cubes per job, spread over x and y as in [`spread`], one layer per job along z:
/// a `sphere` or `mse` input may have more rows than a dispatch's x dimension allows.
fn spread_per_job(items: usize, jobs: usize) -> CubeCount {
    let (x, y) = spread_xy(items);
    CubeCount::Static(x, y, u32_of(jobs))
}

fn spread_xy(cubes: usize) -> (u32, u32) {
    const MAX_X: usize = 65_535;
    if cubes <= MAX_X {
        (u32_of(cubes.max(1)), 1)
    } else {
        (MAX_X as u32, u32_of(cubes.div_ceil(MAX_X)))
    }
}

/// Which of the two bound input buffers an input sits in: the first input's, or the one
/// that holds the others end to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    First,
    Rest,
}

impl Slot {
    fn index(self) -> u32 {
        match self {
            Slot::First => 0,
            Slot::Rest => 1,
        }
    }
}

/// An input: the buffer it sits in and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub slot: Slot,
    pub layout: InputLayout,
}

/// Several inputs' vectors in one buffer start at multiples of this many f32 (256 bytes):
/// a storage binding at an offset must be aligned, to at most 256 bytes by WebGPU's limits.
pub const BINDING_ALIGN: usize = 64;

/// The shift μ of each input (its first rows' mean: see [`distance`]) in one launch, input
/// j's d values at `shift_at` in `shifts` (`buffers`: the two input slots).
pub fn column_shifts(
    client: &Client,
    buffers: [&DeviceBuffer; 2],
    inputs: &[(Placed, usize)],
    shifts: &DeviceBuffer,
) {
    let Some(widest) = inputs.iter().map(|(p, _)| p.layout.d).max() else {
        return;
    };
    let table: Vec<u32> = inputs
        .iter()
        .flat_map(|&(p, shift_at)| {
            let l = p.layout;
            assert!(l.offset + l.n * l.d <= buffers[p.slot.index() as usize].len);
            assert!(
                shift_at + l.d <= shifts.len,
                "the shifts buffer holds every shift"
            );
            [
                p.slot.index(),
                u32_of(l.offset),
                u32_of(l.n),
                u32_of(l.d),
                u32_of(shift_at),
            ]
        })
        .collect();
    let table = DeviceBuffer::from_u32(client, &table);
    // SAFETY: the asserts above keep every index within its buffer.
    unsafe {
        distance::column_shifts_kernel::launch_unchecked(
            client,
            cubes_per_tree(widest, inputs.len()),
            CubeDim::new_1d(ELEMENTWISE_UNITS),
            buffers[0].arg(),
            buffers[1].arg(),
            table.arg(),
            shifts.arg(),
        );
    }
}

/// One job of [`row_sums`]: a sum over the d columns per row (or per edge) of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowJob {
    /// Per row r: ‖x_r − μ‖² into `shifted` at `shifted_at + r`, ‖x_r‖ into `out` at
    /// `norms_at + r`; μ from `shifts` at `shift_at`.
    Statistics {
        input: Placed,
        shift_at: usize,
        shifted_at: usize,
        norms_at: usize,
    },
    /// Per row r: Σ_k (a_rk − b_rk)² into `out` at `at + r` (`a` and `b` have the same shape).
    MseRows { a: Placed, b: Placed, at: usize },
    /// Per edge e of the input's tree (its n − 1 edges from edge `edge_at` in `edges`): the
    /// edge's length from the coordinates into `out` at `at + e`; +Inf (NaN for a NaN row)
    /// where an end's shifted squared norm, at `shifted_at` in `shifted`, is past what the
    /// distances can hold (see [`rows::KIND_EDGE_LENGTHS`]).
    EdgeLengths {
        input: Placed,
        edge_at: usize,
        at: usize,
        shifted_at: usize,
    },
}

/// Every job in one launch (one cube per row or edge, per job): see [`RowJob`].
/// `buffers` are the two input slots; `edges` is read by edge jobs only (any buffer binds
/// otherwise).
pub fn row_sums(
    client: &Client,
    buffers: [&DeviceBuffer; 2],
    jobs: &[RowJob],
    shifts: &DeviceBuffer,
    shifted: &DeviceBuffer,
    edges: &DeviceBuffer,
    out: &DeviceBuffer,
) {
    let within = |p: Placed| {
        let l = p.layout;
        assert!(
            l.offset + l.n * l.d <= buffers[p.slot.index() as usize].len,
            "the input lies in its buffer"
        );
    };
    let mut widest = 0;
    let table: Vec<u32> = jobs
        .iter()
        .flat_map(|job| {
            let (kind, items, a, b_slot, b_offset, out_a, out_b) = match *job {
                RowJob::Statistics {
                    input,
                    shift_at,
                    shifted_at,
                    norms_at,
                } => {
                    let n = input.layout.n;
                    assert!(shift_at + input.layout.d <= shifts.len);
                    assert!(shifted_at + n <= shifted.len && norms_at + n <= out.len);
                    let kind = rows::KIND_STATISTICS;
                    (kind, n, input, 0, shift_at, shifted_at, norms_at)
                }
                RowJob::MseRows { a, b, at } => {
                    assert_eq!((a.layout.n, a.layout.d), (b.layout.n, b.layout.d));
                    within(b);
                    assert!(at + a.layout.n <= out.len);
                    let (slot, offset) = (b.slot.index(), b.layout.offset);
                    (rows::KIND_MSE_ROWS, a.layout.n, a, slot, offset, at, 0)
                }
                RowJob::EdgeLengths {
                    input,
                    edge_at,
                    at,
                    shifted_at,
                } => {
                    let m = input.layout.n.saturating_sub(1);
                    assert!(2 * (edge_at + m) <= edges.len && at + m <= out.len);
                    assert!(shifted_at + input.layout.n <= shifted.len);
                    (
                        rows::KIND_EDGE_LENGTHS,
                        m,
                        input,
                        0,
                        edge_at,
                        at,
                        shifted_at,
                    )
                }
            };
            within(a);
            widest = widest.max(items);
            [
                kind,
                u32_of(items),
                u32_of(a.layout.d),
                a.slot.index(),
                u32_of(a.layout.offset),
                b_slot,
                u32_of(b_offset),
                u32_of(out_a),
                u32_of(out_b),
            ]
        })
        .collect();
    if widest == 0 {
        return;
    }
    let table = DeviceBuffer::from_u32(client, &table);
    // SAFETY: the asserts above keep every index within its buffer (edge ends are vertices
    // of the input, as Borůvka writes them).
    unsafe {
        rows::row_sums_kernel::launch_unchecked(
            client,
            spread_per_job(widest, jobs.len()),
            CubeDim::new_1d(distance::REDUCE_UNITS),
            buffers[0].arg(),
            buffers[1].arg(),
            shifts.arg(),
            edges.arg(),
            table.arg(),
            shifted.arg(),
            out.arg(),
        );
    }
}

/// Per-row statistics of one input, alone (tests and benchmarks; the fused operation
/// batches every input's): returns the shift μ (d) and ‖x_r − μ‖² (n), and writes ‖x_r‖
/// into `norms` at `norms_offset`. Two launches.
pub fn row_statistics(
    client: &Client,
    x: &DeviceBuffer,
    input: InputLayout,
    norms: &DeviceBuffer,
    norms_offset: usize,
) -> (DeviceBuffer, DeviceBuffer) {
    let shift = DeviceBuffer::empty::<f32>(client, input.d);
    let shifted_sq = DeviceBuffer::empty::<f32>(client, input.n);
    let placed = Placed {
        slot: Slot::First,
        layout: input,
    };
    column_shifts(client, [x, x], &[(placed, 0)], &shift);
    let job = RowJob::Statistics {
        input: placed,
        shift_at: 0,
        shifted_at: 0,
        norms_at: norms_offset,
    };
    row_sums(client, [x, x], &[job], &shift, &shifted_sq, x, norms);
    (shift, shifted_sq)
}

/// The n × n matrix of squared distances (exactly symmetric, zero diagonal), written into
/// `dist` from element `dist_offset` on.
pub fn sq_distance_matrix(
    client: &Client,
    x: &DeviceBuffer,
    input: InputLayout,
    shift: &DeviceBuffer,
    shifted_sq: &DeviceBuffer,
    dist: &DeviceBuffer,
    dist_offset: usize,
) {
    let n = input.n;
    assert!(
        dist.len >= dist_offset + n * n,
        "the distance buffer holds the matrix"
    );
    let per_unit = distance::outputs_per_unit(n);
    let side = n.div_ceil(16 * per_unit as usize);
    let width = distance::load_width(input.d, input.offset);
    unsafe {
        distance::pairwise_sq_distances_kernel::launch_unchecked(
            client,
            spread(side * (side + 1) / 2),
            CubeDim::new_2d(16, 16),
            width,
            x.vector_arg(width),
            shift.vector_arg(width),
            shifted_sq.arg(),
            dist.arg(),
            u32_of(input.offset),
            u32_of(dist_offset),
            u32_of(n),
            u32_of(input.d),
            per_unit,
        );
    }
}

/// Recomputes from the rows of `x` the entries of the n × n matrix at `dist_offset` in
/// `dist` that the Gram trick cannot order (below θ = [`close_pairs::CLOSE_FACTOR`] ·
/// max_r ‖x_r − μ‖², from `shifted_sq`): see [`close_pairs`]. Two launches, after the
/// distances and before the tree.
pub fn exact_close_pairs(
    client: &Client,
    x: &DeviceBuffer,
    input: InputLayout,
    shifted_sq: &DeviceBuffer,
    dist: &DeviceBuffer,
    dist_offset: usize,
) {
    let n = input.n;
    assert!(
        input.offset + n * input.d <= x.len
            && shifted_sq.len >= n
            && dist.len >= dist_offset + n * n,
        "the rows, their shifted norms and the matrix lie in their buffers"
    );
    let theta = DeviceBuffer::empty::<f32>(client, 1);
    // SAFETY: the assert above keeps every index within its buffer.
    unsafe {
        close_pairs::close_threshold_kernel::launch_unchecked(
            client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(distance::REDUCE_UNITS),
            shifted_sq.arg(),
            theta.arg(),
            u32_of(n),
            0,
        );
        close_pairs::close_pairs_kernel::launch_unchecked(
            client,
            spread((n * n).div_ceil(ELEMENTWISE_UNITS as usize)),
            CubeDim::new_1d(ELEMENTWISE_UNITS),
            x.arg(),
            theta.arg(),
            dist.arg(),
            u32_of(input.offset),
            u32_of(n),
            u32_of(input.d),
            u32_of(dist_offset),
            0,
        );
    }
}

/// The operands and per-row factors of the split-f16 distance product
/// ([`split_gram`]) for `trees` inputs of n rows, stacked tree by tree: `a` and `b` are
/// `trees × n × 2·width` f16 ([`split_gram::SPLIT_PIECES`] pieces of width the widest
/// input's d), the factors `trees × n` f32.
/// The caller multiplies `a` by `bᵀ` per tree, f16 × f16 accumulated in f32, into the
/// distance buffer, between [`split_rows`] and [`finish_split_gram`].
pub struct SplitOperands {
    pub a: DeviceBuffer,
    pub b: DeviceBuffer,
    pub split_norms: DeviceBuffer,
    pub inverse_scales: DeviceBuffer,
    pub trees: usize,
    pub n: usize,
    pub width: usize,
}

impl SplitOperands {
    pub fn new(client: &Client, trees: usize, n: usize, width: usize) -> SplitOperands {
        let pieces = trees * n * split_gram::SPLIT_PIECES as usize * width;
        SplitOperands {
            a: DeviceBuffer::empty::<half::f16>(client, pieces),
            b: DeviceBuffer::empty::<half::f16>(client, pieces),
            split_norms: DeviceBuffer::empty::<f32>(client, trees * n),
            inverse_scales: DeviceBuffer::empty::<f32>(client, trees * n),
            trees,
            n,
            width,
        }
    }
}

/// Tree `tree`'s rows of `operands`, from the input x (shift μ from [`column_shifts`]).
pub fn split_rows(
    client: &Client,
    x: &DeviceBuffer,
    input: InputLayout,
    shift: &DeviceBuffer,
    operands: &SplitOperands,
    tree: usize,
) {
    assert!(
        input.n == operands.n && input.d <= operands.width && tree < operands.trees,
        "the operands hold this input's rows"
    );
    unsafe {
        split_gram::split_rows_kernel::launch_unchecked(
            client,
            CubeCount::Static(u32_of(input.n), 1, 1),
            CubeDim::new_1d(distance::REDUCE_UNITS),
            x.arg(),
            shift.arg(),
            operands.a.arg(),
            operands.b.arg(),
            operands.split_norms.arg(),
            operands.inverse_scales.arg(),
            u32_of(input.offset),
            u32_of(tree * input.n),
            u32_of(input.n),
            u32_of(input.d),
            u32_of(operands.width),
        );
    }
}

/// Turns the `trees` products of `operands` in `dist` (n × n each, from element 0) into
/// squared distances, in place: exactly symmetric, zero diagonal.
pub fn finish_split_gram(client: &Client, operands: &SplitOperands, dist: &DeviceBuffer) {
    let (n, trees) = (operands.n, operands.trees);
    assert!(
        dist.len >= trees * n * n,
        "the distance buffer holds the matrices"
    );
    let side = n.div_ceil(split_gram::FINISH_TILE as usize);
    unsafe {
        split_gram::finish_split_gram_kernel::launch_unchecked(
            client,
            spread(trees * side * (side + 1) / 2),
            CubeDim::new_2d(split_gram::FINISH_TILE, split_gram::FINISH_TILE),
            dist.arg(),
            operands.split_norms.arg(),
            operands.inverse_scales.arg(),
            u32_of(n),
            u32_of(trees),
        );
    }
}

/// Number of Borůvka rounds that always suffice for n vertices: ⌈log₂ n⌉.
pub const fn boruvka_rounds(n: usize) -> usize {
    let at_least_two = if n < 2 { 2 } else { n };
    (usize::BITS - (at_least_two - 1).leading_zeros()) as usize
}

/// The largest n whose trees, and whose trees' adjacency, are each built in one launch
/// ([`Schedule::OneCube`]): one cube per tree, each unit scanning whole rows alone. At this
/// size a row is 1 KiB and the matrix 256 KiB, while the launches it replaces (1 + 2·8
/// Borůvka launches at n = 256, and 4 for the adjacency) each cost a dispatch.
pub const ONE_CUBE_MAX_ROWS: usize = 256;

/// How a multi-step algorithm on the device (Borůvka's rounds, the adjacency's four steps)
/// is launched; both give the same results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// One launch per step, across as many cubes as the step has work (Borůvka: two
    /// launches per round with a cube per vertex for the row scans, the first of them
    /// initialising too; then the edge list).
    Steps,
    /// Everything in one launch, one cube per tree, a storage barrier between steps. For
    /// small n only: up to [`ONE_CUBE_LIMIT_ROWS`] for Borůvka.
    OneCube,
}

/// Loop iterations one invocation may make, all its loops together and each loop's exit
/// counting as one, on lavapipe: Mesa's llvmpipe compiles every loop of a shader with one
/// shared countdown (`LP_MAX_TGSI_LOOP_ITERATIONS` in gallivm, against shaders that never
/// end), and once it runs out every loop of the invocation runs its body once more and
/// exits, silently. GPUs' drivers have no such limit. Every kernel here stays well inside
/// it for n ≤ 60 000 rows and d ≤ 10⁶ columns (their loops stride over rows, columns or a
/// vertex's tree edges by the cube's 256 units, or step through 16 columns) except one cube
/// building a whole tree, whose units scan whole rows: see [`one_cube_loop_iterations`].
pub const LAVAPIPE_LOOP_ITERATIONS: usize = 65_535;

/// An upper bound on the loop iterations one unit of [`boruvka::boruvka_one_cube_kernel()`]
/// makes on n rows, each loop's exit counted as one. The unit's loops over its v = ⌈n/256⌉
/// vertices (initialisation; in each round the row scans, then the walks; last the edge
/// list) run at most v + 1 times each. Per vertex and round, of the ⌈log₂ n⌉: a scan of at
/// most the whole row (n + 1), the lowering of its component's edge (2, more only when
/// another unit raced it), and the walk to its root, in at most as many steps as the round
/// has components (n/2ʳ + 1, at most 2n over the rounds). Hence
/// (v + 1)(⌈log₂ n⌉(n + 8) + 2n + 8), with room for races and the loop over the rounds.
pub const fn one_cube_loop_iterations(n: usize) -> usize {
    let vertices_per_unit = n.div_ceil(ELEMENTWISE_UNITS as usize);
    (vertices_per_unit + 1) * (boruvka_rounds(n) * (n + 8) + 2 * n + 8)
}

/// The largest n [`boruvka_trees_scheduled`] builds in one cube (benchmarks time it up to
/// there, to show where [`ONE_CUBE_MAX_ROWS`] belongs): the largest power of two whose
/// [`one_cube_loop_iterations`] stay within [`LAVAPIPE_LOOP_ITERATIONS`] (61 880 at 1 024;
/// 240 480 at 2 048). Past the limit lavapipe returned wrong trees from one cube (a Gaussian
/// cloud of 2 048 points: 2 045 hooks; a chain of 4 096: 255, one per unit, each unit's
/// loops having stopped), with no error. On a GPU one cube is one multiprocessor scanning the whole
/// matrix each round, where the launches per round spread the scans over all of them.
pub const ONE_CUBE_LIMIT_ROWS: usize = 1024;

const _: () = assert!(one_cube_loop_iterations(ONE_CUBE_LIMIT_ROWS) <= LAVAPIPE_LOOP_ITERATIONS);
const _: () = assert!(one_cube_loop_iterations(2 * ONE_CUBE_LIMIT_ROWS) > LAVAPIPE_LOOP_ITERATIONS);

impl Schedule {
    /// One cube up to [`ONE_CUBE_MAX_ROWS`] points, a launch per step beyond.
    pub fn for_rows(n: usize) -> Schedule {
        if n <= ONE_CUBE_MAX_ROWS {
            Schedule::OneCube
        } else {
            Schedule::Steps
        }
    }

    /// Borůvka kernels launched for one batch of trees on n points.
    pub fn boruvka_launches(self, n: usize) -> usize {
        match self {
            Schedule::Steps => 1 + 2 * boruvka_rounds(n),
            Schedule::OneCube => 1,
        }
    }

    /// Adjacency kernels launched for one batch of trees.
    pub fn adjacency_launches(self) -> usize {
        match self {
            Schedule::Steps => 4,
            Schedule::OneCube => 1,
        }
    }
}

/// The minimum spanning trees of the complete graphs on `trees` distance matrices of n × n,
/// end to end in `dist`, built in the same launches; tree t is written as n − 1 `(min, max)`
/// pairs into `edges` (i32) from edge `edge_offset + t·(n − 1)` on. Returns
/// [`boruvka::COUNTERS_PER_TREE`] device counters per tree, [hooks made, matrix rows read,
/// rounds that read rows, longest hook walk], for tests and benchmarks (reading them waits
/// for the trees). Launched as
/// [`Schedule::for_rows`]`(n)`.
pub fn boruvka_trees(
    client: &Client,
    dist: &DeviceBuffer,
    n: usize,
    trees: usize,
    edges: &DeviceBuffer,
    edge_offset: usize,
) -> DeviceBuffer {
    let schedule = Schedule::for_rows(n);
    boruvka_trees_scheduled(client, dist, n, trees, edges, edge_offset, schedule)
}

/// [`boruvka_trees`] launched as `schedule` says (both give the same trees, edge lists and
/// counters).
pub fn boruvka_trees_scheduled(
    client: &Client,
    dist: &DeviceBuffer,
    n: usize,
    trees: usize,
    edges: &DeviceBuffer,
    edge_offset: usize,
    schedule: Schedule,
) -> DeviceBuffer {
    assert!(
        dist.len >= trees * n * n,
        "the distance buffer holds every matrix"
    );
    assert!(
        schedule == Schedule::Steps || n <= ONE_CUBE_LIMIT_ROWS,
        "one-cube Borůvka is for n <= {ONE_CUBE_LIMIT_ROWS}, not {n}"
    );
    let comp = DeviceBuffer::empty::<u32>(client, trees * 2 * n);
    let comp_edge = DeviceBuffer::empty::<u32>(client, trees * 2 * n);
    let parents = DeviceBuffer::empty::<u32>(client, trees * 2 * n);
    let vertex_best = DeviceBuffer::empty::<u32>(client, trees * 2 * n);
    let slots = DeviceBuffer::empty::<u32>(client, trees * 2 * n);
    let counters = DeviceBuffer::empty::<u32>(client, trees * boruvka::COUNTERS_PER_TREE as usize);
    let nn = u32_of(n);
    let dim = CubeDim::new_1d(ELEMENTWISE_UNITS);
    let rounds = boruvka_rounds(n);
    if schedule == Schedule::OneCube {
        unsafe {
            boruvka::boruvka_one_cube_kernel::launch_unchecked(
                client,
                CubeCount::Static(1, u32_of(trees), 1),
                dim,
                dist.arg(),
                comp.arg(),
                comp_edge.arg(),
                parents.arg(),
                vertex_best.arg(),
                slots.arg(),
                counters.arg(),
                edges.arg(),
                nn,
                u32_of(rounds),
                u32_of(edge_offset),
            );
        }
        return counters;
    }
    unsafe {
        for round in 0..rounds {
            let cur = (round % 2) as u32;
            let one_per_vertex = CubeCount::Static(nn, u32_of(trees), 1);
            let reduce = CubeDim::new_1d(distance::REDUCE_UNITS);
            if round == 0 {
                boruvka::boruvka_first_round_kernel::launch_unchecked(
                    client,
                    one_per_vertex,
                    reduce,
                    dist.arg(),
                    comp.arg(),
                    comp_edge.arg(),
                    parents.arg(),
                    vertex_best.arg(),
                    slots.arg(),
                    counters.arg(),
                    nn,
                );
            } else {
                boruvka::boruvka_vertex_min_kernel::launch_unchecked(
                    client,
                    one_per_vertex,
                    reduce,
                    dist.arg(),
                    comp.arg(),
                    vertex_best.arg(),
                    comp_edge.arg(),
                    counters.arg(),
                    nn,
                    cur,
                );
            }
            boruvka::boruvka_hook_jump_kernel::launch_unchecked(
                client,
                cubes_per_tree(n, trees),
                dim,
                comp.arg(),
                comp_edge.arg(),
                parents.arg(),
                slots.arg(),
                counters.arg(),
                nn,
                cur,
            );
        }
        boruvka::tree_edges_kernel::launch_unchecked(
            client,
            cubes_per_tree(n, trees),
            dim,
            comp.arg(),
            slots.arg(),
            edges.arg(),
            nn,
            (rounds % 2) as u32,
            u32_of(edge_offset),
        );
    }
    counters
}

/// One summed term: where its summands start in the values buffer, how many, whether each
/// counts as v or (v − 1)², and the scale of the sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TermSum {
    pub offset: usize,
    pub len: usize,
    pub distance_to_one: bool,
    pub scale: f32,
}

/// `out[k] = scale_k · Σ f_k(values[offset_k..offset_k + len_k])` for every term k, in one
/// launch (one cube per term, fixed summation order).
pub fn term_values(client: &Client, values: &DeviceBuffer, terms: &[TermSum], out: &DeviceBuffer) {
    if terms.is_empty() {
        return;
    }
    let specs: Vec<u32> = terms
        .iter()
        .flat_map(|t| {
            assert!(
                t.offset + t.len <= values.len,
                "the summands lie in the buffer"
            );
            let mode = if t.distance_to_one {
                values::MODE_DISTANCE_TO_ONE
            } else {
                values::MODE_SUM
            };
            [u32_of(t.offset), u32_of(t.len), mode, t.scale.to_bits()]
        })
        .collect();
    let specs = DeviceBuffer::from_u32(client, &specs);
    unsafe {
        values::term_values_kernel::launch_unchecked(
            client,
            CubeCount::Static(u32_of(terms.len()), 1, 1),
            CubeDim::new_1d(distance::REDUCE_UNITS),
            values.arg(),
            specs.arg(),
            out.arg(),
        );
    }
}

/// `out[0] = Σ_k weights[k] · values[k]` (the loss total), in one launch.
pub fn weighted_total(client: &Client, values: &DeviceBuffer, weights: &[f32], out: &DeviceBuffer) {
    assert!(values.len >= weights.len() && out.len >= 1);
    let weights_buf = DeviceBuffer::from_f32(client, weights);
    // SAFETY: indices stay below `weights.len()` in `values` and `weights`, and at 0 in `out`.
    unsafe {
        values::weighted_total_kernel::launch_unchecked(
            client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(1),
            values.arg(),
            weights_buf.arg(),
            out.arg(),
            u32_of(weights.len()),
        );
    }
}

/// `out[k] = weights[k] · grad[0]` (the total's gradient for each term), in one launch.
pub fn weighted_total_backward(
    client: &Client,
    grad: &DeviceBuffer,
    weights: &[f32],
    out: &DeviceBuffer,
) {
    assert!(grad.len >= 1 && out.len >= weights.len());
    let weights_buf = DeviceBuffer::from_f32(client, weights);
    // SAFETY: indices stay below `weights.len()` in `weights` and `out`, and at 0 in `grad`.
    unsafe {
        values::weighted_total_backward_kernel::launch_unchecked(
            client,
            cubes_per_tree(weights.len(), 1),
            CubeDim::new_1d(ELEMENTWISE_UNITS),
            grad.arg(),
            weights_buf.arg(),
            out.arg(),
            u32_of(weights.len()),
        );
    }
}

/// The adjacency of `trees` trees of n vertices each (tree t's edges at
/// `edge_offset + t·(n − 1)`) in CSR form, built in the same launches: tree t's n + 1 start
/// offsets at t·(n + 1) in `start`, its 2(n − 1) edge indices at t·2(n − 1) in `adjacency`
/// (offsets and indices relative to the tree's own block), each vertex's list sorted.
/// Launched as [`Schedule::for_rows`]`(n)`.
pub fn tree_adjacency(
    client: &Client,
    edges: &DeviceBuffer,
    edge_offset: usize,
    n: usize,
    trees: usize,
) -> (DeviceBuffer, DeviceBuffer) {
    let schedule = Schedule::for_rows(n);
    tree_adjacency_scheduled(client, edges, edge_offset, n, trees, schedule)
}

/// [`tree_adjacency`] launched as `schedule` says.
pub fn tree_adjacency_scheduled(
    client: &Client,
    edges: &DeviceBuffer,
    edge_offset: usize,
    n: usize,
    trees: usize,
    schedule: Schedule,
) -> (DeviceBuffer, DeviceBuffer) {
    let m = n - 1;
    let degree = DeviceBuffer::zeros_u32(client, trees * n);
    let cursor = DeviceBuffer::zeros_u32(client, trees * n);
    let start = DeviceBuffer::empty::<u32>(client, trees * (n + 1));
    // Filled in arrival order, then each entry put in its place in `adjacency`.
    let filled = DeviceBuffer::empty::<u32>(client, trees * 2 * m);
    let adjacency = DeviceBuffer::empty::<u32>(client, trees * 2 * m);
    let dim = CubeDim::new_1d(ELEMENTWISE_UNITS);
    if schedule == Schedule::OneCube {
        unsafe {
            scatter::tree_adjacency_one_cube_kernel::launch_unchecked(
                client,
                CubeCount::Static(1, u32_of(trees), 1),
                CubeDim::new_1d(distance::REDUCE_UNITS),
                edges.arg(),
                degree.arg(),
                start.arg(),
                cursor.arg(),
                filled.arg(),
                adjacency.arg(),
                u32_of(edge_offset),
                u32_of(n),
            );
        }
        return (start, adjacency);
    }
    unsafe {
        scatter::tree_degree_kernel::launch_unchecked(
            client,
            cubes_per_tree(m, trees),
            dim,
            edges.arg(),
            degree.arg(),
            u32_of(edge_offset),
            u32_of(m),
        );
        scatter::exclusive_scan_kernel::launch_unchecked(
            client,
            CubeCount::Static(1, u32_of(trees), 1),
            CubeDim::new_1d(distance::REDUCE_UNITS),
            degree.arg(),
            start.arg(),
            u32_of(n),
        );
        scatter::tree_fill_kernel::launch_unchecked(
            client,
            cubes_per_tree(m, trees),
            dim,
            edges.arg(),
            start.arg(),
            cursor.arg(),
            filled.arg(),
            u32_of(edge_offset),
            u32_of(m),
        );
        scatter::order_adjacency_kernel::launch_unchecked(
            client,
            cubes_per_tree(2 * m, trees),
            dim,
            start.arg(),
            filled.arg(),
            adjacency.arg(),
            u32_of(n),
        );
    }
    (start, adjacency)
}

/// Everything [`fused_gradient`] reads besides the input buffers and the gradient.
pub struct GradientInputs<'a> {
    pub term_grads: &'a DeviceBuffer,
    pub saved: &'a DeviceBuffer,
    pub edges: &'a DeviceBuffer,
    pub csr_start: &'a DeviceBuffer,
    pub csr_adjacency: &'a DeviceBuffer,
}

/// One launch: the whole gradient of one input into `grad` (laid out like `x`). `meta`
/// holds the [`scatter::META_FIELDS`] fields, then the offsets of the `mse` partners.
pub fn fused_gradient(
    client: &Client,
    x: &DeviceBuffer,
    other: &DeviceBuffer,
    grad: &DeviceBuffer,
    inputs: &GradientInputs,
    meta: &[u32],
    plan: &GradientPlan,
) {
    let n = meta[scatter::META_N] as usize;
    let d = meta[scatter::META_D] as usize;
    let meta = DeviceBuffer::from_u32(client, meta);
    unsafe {
        scatter::fused_gradient_kernel::launch_unchecked(
            client,
            spread((n * d).div_ceil(ELEMENTWISE_UNITS as usize)),
            CubeDim::new_1d(ELEMENTWISE_UNITS),
            x.arg(),
            other.arg(),
            grad.arg(),
            inputs.term_grads.arg(),
            inputs.saved.arg(),
            inputs.edges.arg(),
            inputs.csr_start.arg(),
            inputs.csr_adjacency.arg(),
            meta.arg(),
            plan.clone(),
        );
    }
}
