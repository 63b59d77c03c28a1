//! The GPU path (cubecl kernels over wgpu; lavapipe where there is no GPU) against the CPU
//! path (Flex): same trees, same values, same gradients. These tests fail, never skip,
//! when no wgpu adapter exists: the test command installs one.
// Greek coefficient names (`τ`, and `β`, `γ`, `λ` in `common`) are the point of the DSL;
// rustc's mixed-script lint flags them, before the cfg so that builds without `wgpu` (where
// the file is empty but its tokens are still lexed) are covered too.
#![allow(mixed_script_confusables)]
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use tregs::{burn, has_fused_op, loss, tree_edges, LossError};

#[test]
fn the_device_path_is_the_fused_one() {
    assert!(has_fused_op(&gpu()));
    assert!(has_fused_op(&gpu().autodiff()));
}

#[test]
fn random_clouds_give_the_cpu_tree() {
    assert_random_clouds_give_the_cpu_tree();
}

/// Clusters on the sphere: the close pairs are recomputed from the rows on the device too.
#[test]
fn clusters_on_the_sphere_give_the_cpu_tree() {
    assert_clusters_on_the_sphere_give_the_cpu_tree();
}

/// From n = 4096 on, the distance kernel uses 128×128 blocks (8×8 outputs per unit); n is
/// not a multiple of the block here.
#[test]
fn large_batches_use_the_wide_tiles_and_give_the_cpu_tree() {
    let (n, d) = (4100, 8);
    assert_eq!(tregs_kernels::gpu::distance::outputs_per_unit(n), 8);
    let data = gaussian(n, d, 41, 0.0);
    assert_same_tree("gaussian n=4100 d=8", &data, n, d);
}

#[test]
fn one_dimension_and_far_offsets() {
    let data = gaussian(500, 1, 3, 0.0);
    assert_same_tree("d=1", &data, 500, 1);
    let data = gaussian(400, 8, 5, 1e4);
    assert_same_tree("offset 1e4", &data, 400, 8);
}

/// What the Borůvka kernels, launched directly on a wgpu client, return and count. (The
/// tree through the public API is compared with the CPU's by `assert_same_tree`.)
struct DeviceTree {
    /// n − 1 `(min, max)` pairs, sorted.
    edges: Vec<(usize, usize)>,
    /// Prim's tree on the device's own distance matrix, read back, in the same form.
    prim_on_device_distances: Vec<(usize, usize)>,
    hooks: usize,
    rows_read: usize,
    rounds_reading: usize,
    /// The longest hook walk of any vertex in any round, in steps.
    longest_walk: usize,
}

impl DeviceTree {
    /// What both Borůvka schedules must agree on: the edges, the hooks, the rows read and
    /// the rounds that read any (the longest walk depends on the scheduling).
    fn summary(&self) -> (Vec<(usize, usize)>, usize, usize, usize) {
        (
            self.edges.clone(),
            self.hooks,
            self.rows_read,
            self.rounds_reading,
        )
    }
}

fn device_tree(data: &[f32], n: usize, d: usize) -> DeviceTree {
    device_trees(&[(data, d)], n).remove(0)
}

/// Trees of several clouds of n points (each with its own d), built in the same Borůvka
/// launches from one buffer of matrices.
fn device_trees(clouds: &[(&[f32], usize)], n: usize) -> Vec<DeviceTree> {
    let schedule = tregs_kernels::gpu::Schedule::for_rows(n);
    device_trees_scheduled(clouds, n, schedule)
}

fn device_trees_scheduled(
    clouds: &[(&[f32], usize)],
    n: usize,
    schedule: tregs_kernels::gpu::Schedule,
) -> Vec<DeviceTree> {
    use cubecl::prelude::*;
    use tregs_kernels::gpu::{self, DeviceBuffer, InputLayout};
    let client = cubecl::Device::default().client();
    let trees = clouds.len();
    let dist = DeviceBuffer::empty::<f32>(&client, trees * n * n);
    for (t, &(data, d)) in clouds.iter().enumerate() {
        let x = DeviceBuffer {
            handle: client.create_from_slice(f32::as_bytes(data)),
            len: data.len(),
        };
        let input = InputLayout { offset: 0, n, d };
        let norms = DeviceBuffer::empty::<f32>(&client, n);
        let (shift, shifted_sq) = gpu::row_statistics(&client, &x, input, &norms, 0);
        gpu::sq_distance_matrix(&client, &x, input, &shift, &shifted_sq, &dist, t * n * n);
    }
    trees_of_matrices(&client, &dist, n, trees, schedule)
}

/// The trees of `trees` n × n matrices end to end in `dist`, built in the same Borůvka
/// launches, each with Prim's on the same matrix (read back).
fn trees_of_matrices(
    client: &cubecl::client::Client,
    dist: &tregs_kernels::gpu::DeviceBuffer,
    n: usize,
    trees: usize,
    schedule: tregs_kernels::gpu::Schedule,
) -> Vec<DeviceTree> {
    use cubecl::prelude::*;
    use tregs_kernels::gpu::{self, boruvka::COUNTERS_PER_TREE, DeviceBuffer};
    // Edge lists start one edge in, to check the offset.
    let edges = DeviceBuffer::empty::<i32>(client, 2 * (1 + trees * (n - 1)));
    let counters =
        gpu::boruvka_trees_scheduled(client, dist, n, trees, &edges, 1, schedule).read_u32(client);
    let counters: Vec<&[u32]> = counters.chunks(COUNTERS_PER_TREE as usize).collect();
    let matrices = dist.read_f32(client);
    let flat =
        i32::from_bytes(&client.read_one_unchecked(edges.handle.clone()))[..edges.len].to_vec();
    let sorted = |pairs: Vec<(usize, usize)>| {
        let mut pairs: Vec<(usize, usize)> = pairs
            .into_iter()
            .map(|(u, v)| (u.min(v), u.max(v)))
            .collect();
        pairs.sort_unstable();
        pairs
    };
    (0..trees)
        .map(|t| {
            let prim = tregs_kernels::prim_mst(&matrices[t * n * n..(t + 1) * n * n], n);
            let from = 2 * (1 + t * (n - 1));
            DeviceTree {
                edges: sorted(
                    flat[from..from + 2 * (n - 1)]
                        .chunks(2)
                        .map(|e| (e[0] as usize, e[1] as usize))
                        .collect(),
                ),
                prim_on_device_distances: sorted(
                    prim.into_iter()
                        .map(|(u, v)| (u as usize, v as usize))
                        .collect(),
                ),
                hooks: counters[t][0] as usize,
                rows_read: counters[t][1] as usize,
                rounds_reading: counters[t][2] as usize,
                longest_walk: counters[t][3] as usize,
            }
        })
        .collect()
}

/// The distance kernel on its own, against squared distances summed in f64 on the host,
/// for each way it loads (16-byte vectors of 4 columns, or one column at a time when d or
/// the input's offset in its buffer is not a multiple of 4) and both block sizes, with d
/// not a multiple of the 16-column step and n not a multiple of the block: every entry
/// within 1e-5 of the scale of its two rows, the matrix exactly symmetric, the diagonal 0.
#[test]
fn the_distance_kernel_matches_f64_for_each_load_width_and_block() {
    use cubecl::prelude::*;
    use tregs_kernels::gpu::{self, distance, DeviceBuffer, InputLayout};
    let client = cubecl::Device::default().client();
    for (n, d, offset, width, per_unit) in [
        (70, 20, 0, 4, 4),
        (70, 7, 0, 1, 4),
        (33, 12, 2, 1, 4),
        (45, 36, 8, 4, 4),
        (4099, 12, 4, 4, 8),
    ] {
        let label = format!("n={n} d={d} offset={offset}");
        assert_eq!(distance::load_width(d, offset), width, "{label}");
        assert_eq!(distance::outputs_per_unit(n), per_unit, "{label}");
        let cloud = gaussian(n, d, (n * d + offset) as u64, 3.0);
        // The input sits `offset` elements into its buffer, after values that must not leak in.
        let mut buffer = vec![f32::NAN; offset];
        buffer.extend_from_slice(&cloud);
        let x = DeviceBuffer {
            handle: client.create_from_slice(f32::as_bytes(&buffer)),
            len: buffer.len(),
        };
        let input = InputLayout { offset, n, d };
        let norms = DeviceBuffer::empty::<f32>(&client, n);
        let (shift, shifted_sq) = gpu::row_statistics(&client, &x, input, &norms, 0);
        let dist = DeviceBuffer::empty::<f32>(&client, n * n);
        gpu::sq_distance_matrix(&client, &x, input, &shift, &shifted_sq, &dist, 0);
        let got = dist.read_f32(&client);
        assert_distances_match_f64(&label, &cloud, n, d, &got);
    }
}

/// `got` (n × n, read from the device) against the squared distances of `cloud` summed in
/// f64: every entry within 1e-5 of the scale of its two rows (their squared distance to
/// the mean), exactly symmetric, the diagonal 0.
fn assert_distances_match_f64(label: &str, cloud: &[f32], n: usize, d: usize, got: &[f32]) {
    let mean: Vec<f64> = (0..d)
        .map(|k| (0..n).map(|r| cloud[r * d + k] as f64).sum::<f64>() / n as f64)
        .collect();
    let scale: Vec<f64> = (0..n)
        .map(|r| {
            (0..d)
                .map(|k| (cloud[r * d + k] as f64 - mean[k]).powi(2))
                .sum()
        })
        .collect();
    for i in 0..n {
        assert_eq!(got[i * n + i], 0.0, "{label}: diagonal at {i}");
        for j in 0..i {
            let exact: f64 = (0..d)
                .map(|k| (cloud[i * d + k] as f64 - cloud[j * d + k] as f64).powi(2))
                .sum();
            let (lower, upper) = (got[i * n + j], got[j * n + i]);
            assert_eq!(lower.to_bits(), upper.to_bits(), "{label}: ({i}, {j})");
            assert!(
                (lower as f64 - exact).abs() <= 1e-5 * (scale[i] + scale[j] + 1.0),
                "{label}: d²({i}, {j}) = {lower} on the device, {exact} in f64"
            );
        }
    }
}

/// The split-f16 distances (two f16 pieces per entry, one matrix product, finished in
/// place) against squared distances summed in f64: within 1e-5 of the scale of the two
/// rows like the f32 kernel, exactly symmetric, zero diagonal; for inputs at offsets in
/// their buffer, far from the origin, wider than one product tile, and two inputs of
/// different widths in one product. Here the product runs on cubek's plain kernel (lavapipe
/// has no tensor cores): this checks the split and the finishing, not a tensor core.
#[test]
fn split_f16_distances_match_f64() {
    use cubecl::prelude::*;
    use tregs::gpu::{sq_distance_matrices, DistanceInput, DistanceMethod};
    use tregs_kernels::gpu::{self, DeviceBuffer, InputLayout};
    let device = cubecl::Device::default();
    let client = device.client();
    for clouds in [
        vec![(70, 20, 0, 0.0)],
        vec![(33, 12, 2, 3.0)],
        vec![(200, 16, 0, 1e4)],
        vec![(300, 256, 0, 0.0)],
        vec![(50, 7, 0, 0.0), (50, 40, 4, -2.0)],
    ] {
        let n = clouds[0].0;
        let label = format!("{clouds:?}");
        let data: Vec<Vec<f32>> = clouds
            .iter()
            .map(|&(n, d, _, offset)| gaussian(n, d, (n * d) as u64 + 5, offset))
            .collect();
        let buffers: Vec<DeviceBuffer> = clouds
            .iter()
            .zip(&data)
            .map(|(&(_, _, at, _), cloud)| {
                let mut buffer = vec![f32::NAN; at];
                buffer.extend_from_slice(cloud);
                DeviceBuffer {
                    handle: client.create_from_slice(f32::as_bytes(&buffer)),
                    len: buffer.len(),
                }
            })
            .collect();
        let inputs: Vec<DistanceInput> = clouds
            .iter()
            .zip(&buffers)
            .map(|(&(n, d, offset, _), x)| {
                let input = InputLayout { offset, n, d };
                let norms = DeviceBuffer::empty::<f32>(&client, n);
                let (shift, shifted_sq) = gpu::row_statistics(&client, x, input, &norms, 0);
                DistanceInput {
                    x,
                    input,
                    shift,
                    shifted_sq,
                }
            })
            .collect();
        let dist = DeviceBuffer::empty::<f32>(&client, clouds.len() * n * n);
        sq_distance_matrices(&device, &inputs, &dist, DistanceMethod::SplitF16);
        let got = dist.read_f32(&client);
        for (t, (&(_, d, _, _), cloud)) in clouds.iter().zip(&data).enumerate() {
            let got = &got[t * n * n..(t + 1) * n * n];
            assert_distances_match_f64(&format!("{label} #{t} split"), cloud, n, d, got);
        }
    }
}

/// Two views' trees share their launches (one cube row per tree): each equals Prim's on its
/// own matrix and keeps its own counters, even when one is complete rounds before the other.
#[test]
fn trees_built_in_the_same_launches_are_each_their_own() {
    let n = 300;
    let a = gaussian(n, 8, 21, 0.0);
    let b = gaussian(n, 32, 22, 5.0);
    let chain: Vec<f32> = (0..n).map(|i| (i * (i + 1) / 2) as f32).collect();
    let together = device_trees(&[(&a, 8), (&chain, 1), (&b, 32)], n);
    for (label, tree, alone) in [
        ("gaussian d=8", &together[0], device_tree(&a, n, 8)),
        ("chain", &together[1], device_tree(&chain, n, 1)),
        ("gaussian d=32", &together[2], device_tree(&b, n, 32)),
    ] {
        assert_eq!(tree.edges, tree.prim_on_device_distances, "{label}");
        assert_eq!(tree.edges, alone.edges, "{label}");
        assert_eq!(
            (tree.hooks, tree.rows_read, tree.rounds_reading),
            (alone.hooks, alone.rows_read, alone.rounds_reading),
            "{label}"
        );
    }
    assert_eq!(together[1].rounds_reading, 1);
}

/// Up to 256 points the trees are built in one launch, one cube per tree, by the same steps
/// as the rounds of launches: the same edges (Prim's on the device's matrix), hooks, rows
/// read and rounds that read, for one tree and for three in the same launch, on Gaussian
/// clouds, a chain made in one round, an integer grid (ties everywhere) and duplicates.
#[test]
fn trees_in_one_launch_equal_the_rounds_of_launches() {
    use tregs_kernels::gpu::Schedule::{OneCube, Steps};
    assert_eq!(tregs_kernels::gpu::Schedule::for_rows(256), OneCube);
    assert_eq!(tregs_kernels::gpu::Schedule::for_rows(257), Steps);
    let mut grid = Vec::new();
    for a in 0..6 {
        for b in 0..6 {
            for c in 0..6 {
                grid.extend([a as f32, b as f32, c as f32]);
            }
        }
    }
    let duplicates: Vec<f32> = (0..200).map(|i| ((i / 4) % 17) as f32).collect();
    let chain: Vec<f32> = (0..256).map(|i| (i * (i + 1) / 2) as f32).collect();
    let clouds: Vec<(String, Vec<f32>, usize, usize)> = vec![
        ("n=2".into(), gaussian(2, 3, 1, 0.0), 2, 3),
        ("n=3".into(), gaussian(3, 1, 2, 0.0), 3, 1),
        ("n=100".into(), gaussian(100, 8, 3, 0.0), 100, 8),
        ("n=256".into(), gaussian(256, 32, 4, 0.0), 256, 32),
        ("chain".into(), chain, 256, 1),
        ("grid".into(), grid, 216, 3),
        ("duplicates".into(), duplicates, 100, 2),
    ];
    for (label, data, n, d) in &clouds {
        let one = device_trees_scheduled(&[(data, *d)], *n, OneCube).remove(0);
        let rounds = device_trees_scheduled(&[(data, *d)], *n, Steps).remove(0);
        assert_eq!(one.edges, one.prim_on_device_distances, "{label}");
        assert_eq!(one.hooks, n - 1, "{label}");
        assert_eq!(one.summary(), rounds.summary(), "{label}");
    }
    let (a, b) = (gaussian(150, 4, 7, 0.0), gaussian(150, 16, 8, 2.0));
    let chain: Vec<f32> = (0..150).map(|i| (i * (i + 1) / 2) as f32).collect();
    let batch = [(&a[..], 4), (&chain[..], 1), (&b[..], 16)];
    let one = device_trees_scheduled(&batch, 150, OneCube);
    let rounds = device_trees_scheduled(&batch, 150, Steps);
    for (t, (in_one, in_rounds)) in one.iter().zip(&rounds).enumerate() {
        assert_eq!(
            in_one.edges, in_one.prim_on_device_distances,
            "tree {t} of 3"
        );
        assert_eq!(in_one.summary(), in_rounds.summary(), "tree {t} of 3");
    }
}

/// One cube is still right at [`tregs_kernels::gpu::ONE_CUBE_LIMIT_ROWS`] on inputs that
/// make its units loop the most: a Gaussian cloud, whose vertices read their rows again in
/// several rounds, and a chain of hooks, walked in one round. Here lavapipe's limit on
/// loop iterations per invocation (see the next test) is what a size past the limit runs
/// into: there one cube returned wrong trees without an error.
#[test]
fn trees_in_one_launch_are_right_up_to_the_one_cube_limit() {
    use tregs_kernels::gpu::{Schedule, ONE_CUBE_LIMIT_ROWS};
    let n = ONE_CUBE_LIMIT_ROWS;
    let cloud = gaussian(n, 16, 11, 0.0);
    let one = device_trees_scheduled(&[(&cloud, 16)], n, Schedule::OneCube).remove(0);
    let rounds = device_trees_scheduled(&[(&cloud, 16)], n, Schedule::Steps).remove(0);
    assert_eq!(one.edges, one.prim_on_device_distances, "cloud of {n}");
    assert!(
        one.rounds_reading >= 3,
        "{} rounds read rows",
        one.rounds_reading
    );
    assert_eq!(one.summary(), rounds.summary(), "cloud of {n}");
    let one = tree_of_hook_chain(n, Schedule::OneCube);
    let chain: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
    assert!(one.edges == chain, "chain of {n}: not the chain");
    assert_eq!((one.hooks, one.rounds_reading), (n - 1, 1), "chain of {n}");
}

mod loop_limit {
    use cubecl::prelude::*;

    /// `out[unit]` = iterations made by a loop of `first` then a loop of `second`.
    #[cube(launch_unchecked)]
    pub fn two_loops_kernel(out: &mut [u32], first: u32, second: u32) {
        let mut made = 0u32;
        let mut i = 0u32;
        while i < first {
            made += 1;
            i += 1;
        }
        let mut j = 0u32;
        while j < second {
            made += 1;
            j += 1;
        }
        out[UNIT_POS as usize] = made;
    }
}

/// What [`tregs_kernels::gpu::ONE_CUBE_LIMIT_ROWS`] is derived from: a driver either runs
/// every loop iteration, or, as lavapipe does, stops every loop of an invocation once its
/// loops together have made [`tregs_kernels::gpu::LAVAPIPE_LOOP_ITERATIONS`], each loop's
/// exit counting as one, with no error. Two loops, each under the limit and together over
/// it: the first makes its 40 000 and exits (40 001 counted), the second stops at 65 535
/// counted. Any other count means another limit, and the bound must be derived again.
#[test]
fn loops_run_whole_or_stop_at_lavapipe_s_limit_per_invocation() {
    use cubecl::prelude::*;
    use tregs_kernels::gpu::{DeviceBuffer, LAVAPIPE_LOOP_ITERATIONS};
    let client = cubecl::Device::default().client();
    let (first, second) = (40_000u32, 40_000u32);
    let out = DeviceBuffer::empty::<u32>(&client, 64);
    unsafe {
        loop_limit::two_loops_kernel::launch_unchecked(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(64),
            BufferArg::from_raw_parts(out.handle.clone(), 64),
            first,
            second,
        );
    }
    let made = out.read_u32(&client);
    let whole = first + second;
    // The first loop's exit is counted, and made nothing.
    let stopped = LAVAPIPE_LOOP_ITERATIONS as u32 - 1;
    eprintln!("loop iterations made: {} of {whole}", made[0]);
    assert!(
        made.iter().all(|&m| m == whole) || made.iter().all(|&m| m == stopped),
        "loop iterations made: {made:?}, neither {whole} nor {stopped}"
    );
}

/// The trees' adjacency (CSR) in one launch up to 256 points equals the four launches':
/// the same start offsets and the same ordered lists, for several trees at once, including
/// a star (one vertex of degree n − 1) and a path.
#[test]
fn adjacency_in_one_launch_equals_the_four_launches() {
    use cubecl::prelude::*;
    use tregs_kernels::gpu::{self, DeviceBuffer, Schedule};
    let client = cubecl::Device::default().client();
    // n = 3000: the star of a collapsed batch (all points equal) at a size where ordering
    // its centre's list by insertion in one unit would take millions of steps.
    for n in [2usize, 3, 100, 256, 3000] {
        let m = n - 1;
        let star: Vec<i32> = (1..n as i32).flat_map(|v| [0, v]).collect();
        let path: Vec<i32> = (1..n as i32).flat_map(|v| [v - 1, v]).collect();
        // A scrambled tree: vertex v hangs from a pseudo-random earlier vertex.
        let scrambled: Vec<i32> = (1..n)
            .flat_map(|v| [(((v * 2_654_435_761) >> 7) % v) as i32, v as i32])
            .collect();
        // Two edges of padding in front, to check the offset.
        let mut flat = vec![0i32; 4];
        for tree in [&star, &path, &scrambled] {
            flat.extend_from_slice(tree);
        }
        let edges = DeviceBuffer {
            handle: client.create_from_slice(i32::as_bytes(&flat)),
            len: flat.len(),
        };
        let read = |schedule| {
            let (start, adjacency) =
                gpu::tree_adjacency_scheduled(&client, &edges, 2, n, 3, schedule);
            (start.read_u32(&client), adjacency.read_u32(&client))
        };
        let (one, steps) = (read(Schedule::OneCube), read(Schedule::Steps));
        assert_eq!(one, steps, "n = {n}");
        // The CSR built on the host: each vertex's edge indices, ascending.
        let (mut start, mut adjacency) = (Vec::new(), Vec::new());
        for tree in [&star, &path, &scrambled] {
            let mut lists = vec![Vec::new(); n];
            for (e, ends) in tree.chunks(2).enumerate() {
                lists[ends[0] as usize].push(e as u32);
                lists[ends[1] as usize].push(e as u32);
            }
            let mut offset = 0u32;
            for list in &lists {
                start.push(offset);
                offset += list.len() as u32;
                adjacency.extend_from_slice(list);
            }
            start.push(offset);
        }
        assert_eq!(
            one,
            (start, adjacency),
            "n = {n}: the CSR built on the host"
        );
        assert_eq!(one.0[1] - one.0[0], m as u32, "n = {n}: the star's centre");
    }
}

/// Points on a line with growing gaps: every point's lightest edge goes to its left
/// neighbour, so the whole tree is made in the first round, as one chain of n − 1 hooks
/// that every vertex walks to its end, and the later rounds read no rows.
#[test]
fn a_tree_made_in_one_round_is_one_chain_of_hooks_and_stops_the_reads() {
    let n = 128;
    let chain: Vec<f32> = (0..n).map(|i| (i * (i + 1) / 2) as f32).collect();
    assert_same_tree("growing gaps", &chain, n, 1);
    let tree = device_tree(&chain, n, 1);
    assert_eq!(tree.edges, tree.prim_on_device_distances);
    assert_eq!(tree.hooks, n - 1);
    assert_eq!((tree.rounds_reading, tree.rows_read), (1, n));
}

/// The tree of a matrix whose lightest edges make one chain of hooks, vertex i hooking onto
/// i − 1 in round 0: w(i − 1, i) = i, every other pair 10⁶ + i + j.
fn tree_of_hook_chain(n: usize, schedule: tregs_kernels::gpu::Schedule) -> DeviceTree {
    use cubecl::prelude::*;
    let mut matrix = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            matrix[i * n + j] = match i.abs_diff(j) {
                0 => 0.0,
                1 => i.max(j) as f32,
                _ => (1_000_000 + i + j) as f32,
            };
        }
    }
    let client = cubecl::Device::default().client();
    let dist = tregs_kernels::gpu::DeviceBuffer {
        handle: client.create_from_slice(f32::as_bytes(&matrix)),
        len: matrix.len(),
    };
    trees_of_matrices(&client, &dist, n, 1, schedule).remove(0)
}

/// The worst hook forest: a matrix whose lightest edges make one chain, vertex i hooking
/// onto i − 1 in round 0 (weights: w(i − 1, i) = i, every other pair 10⁶ + i + j). Walking
/// one hook per step, the last vertex took n − 1 dependent steps (4095 here, until
/// 2026-11-29); jumping to the grandparent without writing it back, ⌈(n − 1)/2⌉ = 2048.
/// With path halving the walks running together shorten each other's paths: how much
/// depends on how they interleave: on lavapipe, 3 to 771 steps in 33 runs on 2 threads,
/// 3 on 1, 3 to 131 on 16 (`LP_NUM_THREADS`); a simulation of lockstep walks, as on a
/// large GPU, gives log₂ n = 12. The bound asserted, n/3, is one the walks beat on
/// lavapipe with room to spare and walks without write-back cannot.
#[test]
fn a_chain_of_hooks_is_walked_in_far_fewer_steps_than_its_length() {
    use tregs_kernels::gpu::Schedule;
    let n = 4096;
    assert_eq!(Schedule::for_rows(n), Schedule::Steps);
    let tree = tree_of_hook_chain(n, Schedule::Steps);
    let chain: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
    assert!(tree.edges == chain, "not the chain");
    assert!(
        tree.edges == tree.prim_on_device_distances,
        "not Prim's tree"
    );
    assert_eq!((tree.hooks, tree.rounds_reading), (n - 1, 1));
    eprintln!(
        "longest hook walk: {} steps for a chain of {n}",
        tree.longest_walk
    );
    assert!(
        tree.longest_walk >= 1 && tree.longest_walk <= n / 3,
        "longest walk {} steps",
        tree.longest_walk
    );
}

/// A vertex whose lightest edge of the round before still leaves its component keeps it
/// without reading its row, and the rounds after the tree is complete read nothing: fewer
/// rows than one per vertex and round that had work, far fewer than ⌈log₂ n⌉ full reads.
#[test]
fn vertices_keep_their_lightest_edge_while_it_leaves_their_component() {
    for (n, d) in [(256, 2), (1024, 16), (2048, 64)] {
        let cloud = gaussian(n, d, 5, 0.0);
        let tree = device_tree(&cloud, n, d);
        assert_eq!(tree.edges, tree.prim_on_device_distances, "{n}x{d}");
        assert_eq!(tree.hooks, n - 1);
        let rounds = tregs_kernels::gpu::boruvka_rounds(n);
        eprintln!(
            "{n}x{d}: {} rows read in {} rounds; {} without kept edges, {} without the stop",
            tree.rows_read,
            tree.rounds_reading,
            tree.rounds_reading * n,
            rounds * n
        );
        assert!(tree.rounds_reading >= 2 && tree.rounds_reading < rounds);
        assert!(
            tree.rows_read < tree.rounds_reading * n,
            "{n}x{d}: no row was kept"
        );
    }
}

/// An integer grid: every edge of the tree has length 1 and ties are everywhere; the
/// distances are exact on both paths, so the lowest-index-pair rule picks the same tree.
#[test]
fn grid_ties_break_like_the_cpu() {
    let data = integer_grid(8);
    assert_same_tree("8x8x8 grid", &data, 512, 3);
}

/// Ties between the vertices of one component: on a grid whose points are numbered in a
/// scrambled order, a component's vertices reach its edge word in an order that has nothing
/// to do with the keys of their edges, and the lightest key must still win (in both
/// schedules), or the tree differs from Prim's on the same matrix (and hooks can cycle).
#[test]
fn component_ties_break_by_key_whatever_order_the_vertices_come_in() {
    use tregs_kernels::gpu::Schedule::{OneCube, Steps};
    for (side, dims) in [(16usize, 2usize), (7, 3)] {
        let n = side.pow(dims as u32);
        // v ↦ v·p mod n with p prime to n: a permutation that scatters neighbours.
        let p = (n / 2..n).find(|p| gcd(*p, n) == 1 && p % 2 == 1).unwrap();
        let mut data = vec![0.0f32; n * dims];
        for v in 0..n {
            let at = (v * p) % n;
            let mut rest = v;
            for c in 0..dims {
                data[at * dims + c] = (rest % side) as f32;
                rest /= side;
            }
        }
        for schedule in [OneCube, Steps] {
            let tree = device_trees_scheduled(&[(&data, dims)], n, schedule).remove(0);
            let only_in = |a: &[(usize, usize)], b: &[(usize, usize)]| -> Vec<(usize, usize)> {
                a.iter().filter(|e| !b.contains(e)).copied().collect()
            };
            assert_eq!(
                (
                    only_in(&tree.edges, &tree.prim_on_device_distances),
                    only_in(&tree.prim_on_device_distances, &tree.edges)
                ),
                (vec![], vec![]),
                "{side}^{dims} scrambled grid, {schedule:?}: edges only on the device, only in Prim's"
            );
            assert_eq!(tree.hooks, n - 1);
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Duplicated points: zero-length edges, a finite gradient on both paths.
#[test]
fn duplicates_give_finite_equal_gradients() {
    let base = gaussian(50, 6, 9, 0.0);
    let mut data = base.clone();
    data.extend_from_slice(&base[..20 * 6]);
    let n = 70;
    let grad_of = |device: &Device| {
        let z = tensor(&data, n, 6, device).require_grad();
        let out = loss!(0.5 * mst_len(z) + sphere(z)).expect("valid input");
        let grads = out.total().backward();
        (out.total_value(), gradient(&z, &grads))
    };
    let (cpu_value, cpu_grad) = grad_of(&Device::flex().autodiff());
    let (gpu_value, gpu_grad) = grad_of(&gpu().autodiff());
    assert!((cpu_value - gpu_value).abs() <= 1e-5 * cpu_value.abs().max(1.0));
    assert!(
        gpu_grad.iter().all(|g| g.is_finite()),
        "no NaN from zero-length edges"
    );
    for (a, b) in gpu_grad.iter().zip(&cpu_grad) {
        assert!(
            (a - b).abs() <= 1e-4,
            "gradient {a} on wgpu vs {b} on the CPU"
        );
    }
}

/// A collapsed batch, every point the same: the tree is the star around vertex 0 (all
/// edges weigh 0 and ties go to the lowest pair), as on the CPU, whose centre's adjacency
/// list holds every edge; the tree term's gradient is 0 and the sphere term's matches.
#[test]
fn a_collapsed_batch_is_a_star_with_the_cpu_gradient() {
    let (n, d) = (1500, 3);
    let data: Vec<f32> = (0..n * d).map(|i| [0.3f32, -0.2, 0.9][i % d]).collect();
    let mut star: Vec<(u32, u32)> = (1..n as u32).map(|v| (0, v)).collect();
    star.sort_unstable();
    assert_eq!(tree_edges(&tensor(&data, n, d, &gpu())).unwrap(), star);
    let grad_of = |device: &Device| {
        let z = tensor(&data, n, d, device).require_grad();
        let out = loss!(0.5 * mst_len(z) + sphere(z)).expect("valid input");
        let grads = out.total().backward();
        (out.total_value(), gradient(&z, &grads))
    };
    let (cpu_value, cpu_grad) = grad_of(&Device::flex().autodiff());
    let (gpu_value, gpu_grad) = grad_of(&gpu().autodiff());
    assert!((cpu_value - gpu_value).abs() <= 1e-5 * cpu_value.abs().max(1.0));
    for (a, b) in gpu_grad.iter().zip(&cpu_grad) {
        assert!(
            (a - b).abs() <= 1e-6,
            "gradient {a} on wgpu vs {b} on the CPU"
        );
    }
}

/// The full two-view objective: every term value and both inputs' gradients.
#[test]
fn two_view_objective_values_and_gradients_match_the_cpu() {
    assert_two_view_objective_matches_cpu();
}

/// Three inputs: the operation gets the first in one buffer and the other two end to end in
/// a second, read in place; `mse` partners sit in the other buffer (a, b) or in the same
/// one (b, c).
#[test]
fn three_inputs_read_in_place_match_the_cpu() {
    let (n, d) = (120, 8);
    let clouds = [
        gaussian(n, d, 41, 0.0),
        gaussian(n, d, 42, 0.5),
        gaussian(n, d, 43, 1.0),
    ];
    let run = |device: &Device| -> (Vec<f64>, Vec<Vec<f32>>) {
        let [a, b, c] = clouds
            .each_ref()
            .map(|cloud| tensor(cloud, n, d, device).require_grad());
        let out = loss!(mse(a, b) + 2.0 * mse(b, c) + 0.2 * mst_len(c) + 0.1 * sphere(a))
            .expect("valid inputs");
        let grads = out.total().backward();
        let values = out.terms().iter().map(|t| t.value).collect();
        (
            values,
            [a, b, c].iter().map(|t| gradient(t, &grads)).collect(),
        )
    };
    let (cpu_values, cpu_grads) = run(&Device::flex().autodiff());
    let (gpu_values, gpu_grads) = run(&gpu().autodiff());
    assert_values_match(&cpu_values, &gpu_values, 1e-5, 1e-3);
    for (input, (c, g)) in ["a", "b", "c"].iter().zip(cpu_grads.iter().zip(&gpu_grads)) {
        assert_gradients_match(input, c, g, 1e-4);
    }
}

/// Trees on different numbers of points cannot share launches: each is built (and its
/// adjacency laid out) on its own, values and gradients as on the CPU.
#[test]
fn trees_of_different_sizes_match_the_cpu() {
    let (n, m, d) = (300, 170, 16);
    let a = gaussian(n, d, 31, 0.0);
    let b = gaussian(m, d, 32, 0.0);
    let run = |device: &Device| {
        let z = tensor(&a, n, d, device).require_grad();
        let w = tensor(&b, m, d, device).require_grad();
        let out = loss!(0.2 * (mst_len(z) + mst_len(w)) + 8e-4 * (sphere(z) + sphere(w)))
            .expect("valid inputs");
        let grads = out.total().backward();
        let values: Vec<f64> = out.terms().iter().map(|t| t.value).collect();
        (values, gradient(&z, &grads), gradient(&w, &grads))
    };
    assert_gpu_matches_cpu(run, 1e-5, 1e-3, 1e-4);
}

#[test]
fn f64_on_the_gpu_is_a_clear_error() {
    let device = gpu();
    let z = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f64; 12], [4, 3]),
        (&device, burn::tensor::DType::F64),
    );
    match loss!(mst_len(z)) {
        Err(LossError::Input { input, problem }) => {
            assert_eq!(input, "z");
            assert!(problem.contains("f32"), "{problem}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn nan_on_the_gpu_names_the_row() {
    let mut data = gaussian(40, 4, 2, 0.0);
    data[17 * 4 + 2] = f32::NAN;
    let z = tensor(&data, 40, 4, &gpu());
    let err = loss!(mst_len(z) + sphere(z)).unwrap_err();
    assert_eq!(err.to_string(), "input `z`: NaN at row 17, column 2");
}

/// With checks deferred the device path returns the same values and gradients without
/// reading anything back in `evaluate`, and `check()` names the NaN row as evaluation does.
#[test]
fn deferred_checks_on_the_gpu_match_and_name_the_row() {
    let device = gpu().autodiff();
    let (n, d) = (300, 8);
    let z = tensor(&gaussian(n, d, 5, 0.0), n, d, &device).require_grad();
    let z2 = tensor(&gaussian(n, d, 6, 0.0), n, d, &device).require_grad();
    let run = || loss!(10.0 * mse(z, z2) + 0.2 * (mst_len(z) + mst_len(z2)) + sphere(z2));
    let eager = run().unwrap();
    let eager_grads = eager.backward();
    let _deferred = tregs::defer_checks();
    let out = run().unwrap();
    let grads = out.backward();
    out.check().unwrap();
    assert_eq!(out.terms(), eager.terms());
    assert_eq!(gradient(&z, &grads), gradient(&z, &eager_grads));
    assert_eq!(gradient(&z2, &grads), gradient(&z2, &eager_grads));

    let mut data = gaussian(40, 4, 2, 0.0);
    data[17 * 4 + 2] = f32::NAN;
    let z = tensor(&data, 40, 4, &gpu());
    let out = loss!(mst_len(z) + sphere(z)).expect("deferred: no read, no error yet");
    assert_eq!(
        out.check().unwrap_err().to_string(),
        "input `z`: NaN at row 17, column 2"
    );
}

/// The total's own node on the device (`weighted_total` and its backward kernels) gives
/// what burn's `(values * c).sum()` gives, value and gradients.
#[test]
fn the_total_on_the_gpu_is_the_weighted_sum_of_the_terms() {
    let device = gpu().autodiff();
    let (n, d) = (120, 6);
    let z = tensor(&gaussian(n, d, 11, 0.0), n, d, &device).require_grad();
    let z2 = tensor(&gaussian(n, d, 12, 0.0), n, d, &device).require_grad();
    let run = || loss!(10.0 * mse(z, z2) + 0.2 * (mst_len(z) + mst_len(z2)) + 8e-4 * sphere(z));
    let out = run().unwrap();
    let total: f32 = out.total().into_scalar();
    assert!((total as f64 - out.total_value()).abs() <= 1e-5 * out.total_value().abs());
    let by_node = run().unwrap().total().backward();
    let weights =
        Tensor::<1>::from_data(TensorData::new(vec![10.0f32, 0.2, 0.2, 8e-4], [4]), &device);
    let by_ops = (run().unwrap().values() * weights).sum().backward();
    for t in [&z, &z2] {
        let (a, b) = (gradient(t, &by_node), gradient(t, &by_ops));
        for (fused, reference) in a.iter().zip(&b) {
            let close = (fused - reference).abs() <= 1e-6 * (1.0 + reference.abs());
            assert!(close, "{fused} vs {reference}");
        }
    }
}

/// More than 65 535 × 256 elements: the gradient kernel's grid spreads over two
/// dimensions (wgpu caps one at 65 535 cubes); every element must still be written once.
#[test]
fn large_inputs_spread_the_gradient_grid() {
    let (n, d) = (40_000, 512);
    let a = gaussian(n, d, 31, 0.0);
    let run = |device: &Device| {
        let z = tensor(&a, n, d, device).require_grad();
        let out = loss!(0.5 * sphere(z)).expect("valid input");
        let grads = out.total().backward();
        (out.total_value(), gradient(&z, &grads))
    };
    let (cpu_value, cpu_grad) = run(&Device::flex().autodiff());
    let (gpu_value, gpu_grad) = run(&gpu().autodiff());
    assert!((cpu_value - gpu_value).abs() <= 1e-5 * cpu_value.abs());
    let worst = cpu_grad
        .iter()
        .zip(&gpu_grad)
        .map(|(c, g)| (c - g).abs() / c.abs().max(1e-6))
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-3,
        "largest relative gradient difference {worst}"
    );
}

/// More rows than a dispatch's x dimension allows (65 535 cubes on wgpu): the row sums of
/// `sphere` and `mse` (one cube per row) spread over two dimensions, and every row counts.
#[test]
fn more_rows_than_one_grid_dimension_match_the_cpu() {
    let (n, d) = (70_001, 3);
    let a = gaussian(n, d, 33, 0.0);
    let b = gaussian(n, d, 34, 0.5);
    let run = |device: &Device| {
        let z = tensor(&a, n, d, device).require_grad();
        let z2 = tensor(&b, n, d, device).require_grad();
        let out = loss!(0.5 * sphere(z) + 2.0 * mse(z, z2)).expect("valid inputs");
        let grads = out.total().backward();
        let values: Vec<f64> = out.terms().iter().map(|t| t.value).collect();
        (values, gradient(&z, &grads), gradient(&z2, &grads))
    };
    // Values within 1e-5 relative (a floor of 0: relative to |value| itself).
    assert_gpu_matches_cpu(run, 1e-5, 0.0, 1e-4);
}

/// Inputs that together exceed the largest buffer the device binds: a clear error before
/// any kernel runs (the packed copy would not bind).
#[test]
fn inputs_beyond_the_binding_limit_are_a_clear_error() {
    let device = gpu();
    let limit = tregs::gpu_buffer_limit(&device).expect("a GPU device has a binding limit");
    let d = 1024;
    let n = (limit as usize / 4 / d) * 6 / 10;
    let z = Tensor::<2>::zeros([n, d], &device);
    let z2 = Tensor::<2>::zeros([n, d], &device);
    let z3 = Tensor::<2>::zeros([n, d], &device);
    // Each input fits; the second and third travel end to end in one buffer, which does not.
    match loss!(mse(z, z2) + mse(z2, z3)) {
        Err(LossError::Device(message)) => {
            assert!(
                message.contains("inputs after the first")
                    && message.contains("largest buffer this GPU binds"),
                "{message}"
            )
        }
        other => panic!("expected a device error, got {other:?}"),
    }
}

/// Inputs read by `mse` alone skip the row statistics on the device; value and gradients
/// still match the CPU.
#[test]
fn mse_alone_matches_the_cpu() {
    let (n, d) = (64, 24);
    let a = gaussian(n, d, 51, 0.0);
    let b = gaussian(n, d, 52, 0.0);
    let run = |device: &Device| {
        let z = tensor(&a, n, d, device).require_grad();
        let z2 = tensor(&b, n, d, device).require_grad();
        let out = loss!(3.0 * mse(z, z2)).expect("valid inputs");
        let grads = out.total().backward();
        (
            out.total_value(),
            gradient(&z, &grads),
            gradient(&z2, &grads),
        )
    };
    let (cpu_value, cpu_gz, cpu_gz2) = run(&Device::flex().autodiff());
    let (gpu_value, gpu_gz, gpu_gz2) = run(&gpu().autodiff());
    assert!((cpu_value - gpu_value).abs() <= 1e-5 * cpu_value.abs());
    for (c, g) in cpu_gz
        .iter()
        .chain(&cpu_gz2)
        .zip(gpu_gz.iter().chain(&gpu_gz2))
    {
        assert!(
            (c - g).abs() <= 1e-6,
            "gradient {g} on wgpu vs {c} on the CPU"
        );
    }
}

/// The tensor-op terms run on the GPU through burn's own ops, beside the fused kernels, in
/// one expression: the same values and gradients as on the CPU.
#[test]
fn library_terms_beside_the_fused_kernels_match_the_cpu() {
    let (n, d) = (48, 12);
    let a = gaussian(n, d, 61, 0.0);
    let b = gaussian(n, d, 62, 0.0);
    let run = |device: &Device| {
        let z = tensor(&a, n, d, device).require_grad();
        let z2 = tensor(&b, n, d, device).require_grad();
        let out = loss!(
            barlow(z, z2)
                + nt_xent(z, z2, τ = 0.5)
                + vicreg_var(z)
                + vicreg_cov(z2)
                + byol(z, z2)
                + uniformity(z)
                + w2(z2)
                + cosine(z, z2)
                + clip(z, z2)
                + 0.2 * mst_len(z)
                + 0.01 * sphere(z2)
        )
        .expect("valid inputs");
        let grads = out.total().backward();
        let values: Vec<f64> = out.terms().iter().map(|t| t.value).collect();
        (values, gradient(&z, &grads), gradient(&z2, &grads))
    };
    assert_gpu_matches_cpu(run, 1e-4, 1e-2, 1e-4);
}

/// `mst_len(z)` beside `mst_len(z, scope = global)` (one process: the same tree) on the
/// GPU: the backward used to stop at an assertion (its gradient kernel takes one tree term
/// per input); the value is computed once and the weights add up, as on the CPU.
#[test]
fn a_term_written_twice_with_and_without_a_scope_matches_the_cpu() {
    let data = gaussian(300, 8, 77, 0.0);
    let run = |device: &Device| {
        let z = tensor(&data, 300, 8, device).require_grad();
        let out = loss!(0.5 * mst_len(z) + 0.25 * mst_len(z, scope = global)).expect("valid");
        let grads = out.total().backward();
        (out.total_value(), gradient(&z, &grads))
    };
    let (gpu_total, gpu_grad) = run(&gpu().autodiff());
    let (cpu_total, cpu_grad) = run(&Device::default().autodiff());
    assert!(
        (gpu_total - cpu_total).abs() <= 1e-5 * cpu_total.abs(),
        "{gpu_total} vs {cpu_total}"
    );
    assert_gradients_match("z", &cpu_grad, &gpu_grad, 1e-4);
}

/// Rows far enough out that their squared distances overflow f32 (inf − inf in the Gram
/// trick) order no tree: the edge lengths are marked infinite on the device, and the term
/// is the CPU path's error, where the GPU used to return some tree and a finite value. A
/// NaN row is named, as on the CPU.
#[test]
fn distances_that_overflow_are_the_cpu_error() {
    let far: Vec<f32> = [-3e20f32, 1e20, 2e20, 5e19, -1e19, 4e20].to_vec();
    for device in [gpu(), Device::default()] {
        let z = tensor(&far, 6, 1, &device);
        let err = loss!(mst_len(z))
            .err()
            .expect("overflow is an error")
            .to_string();
        assert!(
            err.starts_with("mst_len(z): evaluates to") && err.contains("the values overflow"),
            "{device:?}: {err}"
        );
    }
    let mut rows = gaussian(50, 4, 3, 0.0);
    rows[4 * 17 + 2] = f32::NAN;
    let z = tensor(&rows, 50, 4, &gpu());
    let err = loss!(mst_len(z))
        .err()
        .expect("NaN is an error")
        .to_string();
    assert_eq!(err, "input `z`: NaN at row 17, column 2");
}
