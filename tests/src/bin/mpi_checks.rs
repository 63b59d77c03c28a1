//! Checks of tregs' global-batch terms across MPI processes; run by `tests/mpi.rs` as
//! `mpirun -np P mpi_checks`. Every process holds the same deterministic full batch, takes
//! its contiguous share of rows, and compares what the processes compute together with
//! what one process computes on the whole batch. Any mismatch panics, so the process
//! exits non-zero and mpirun fails.

use std::sync::Arc;
use tregs::burn::tensor::{Device, Tensor, TensorData};
use tregs::distributed::mpi::{MpiCommunicator, MpiWorld};
use tregs::distributed::{gather_rows, set_communicator, sharded, Communicator};
use tregs::loss;
use tregs_kernels::clouds::{antipodal_clusters, great_circle_groups, to_f32};
use tregs_tests::uniform_cloud as cloud;

/// Rows of process `rank` when `n` rows are split over `size` as evenly as possible.
fn share(n: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let start = rank * n / size;
    start..(rank + 1) * n / size
}

fn tensor(data: &[f32], rows: std::ops::Range<usize>, d: usize, device: &Device) -> Tensor<2> {
    let values = data[rows.start * d..rows.end * d].to_vec();
    Tensor::from_data(TensorData::new(values, [rows.len(), d]), device)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("floats")
}

fn sorted(mut edges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    for e in &mut edges {
        *e = (e.0.min(e.1), e.0.max(e.1));
    }
    edges.sort_unstable();
    edges
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs() as f64))
        .max(1e-30);
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Runs `f` as one process holding everything (no communicator installed), then puts the
/// MPI communicator back.
fn single_process<R>(comm: &Arc<MpiCommunicator>, f: impl FnOnce() -> R) -> R {
    set_communicator(None);
    let out = f();
    set_communicator(Some(comm.clone()));
    out
}

fn check_all_gather(comm: &dyn Communicator, device: &Device) {
    let (rank, size) = (comm.rank(), comm.size());
    // Process r holds r + 1 rows whose values are their global row indices.
    let d = 3;
    let start: usize = (0..rank).map(|r| r + 1).sum();
    let local: Vec<f32> = (start..start + rank + 1)
        .flat_map(|i| std::iter::repeat_n(i as f32, d))
        .collect();
    let z = Tensor::<2>::from_data(TensorData::new(local, [rank + 1, d]), device);
    let (all, rows) = gather_rows("z", &z, comm).expect("gather");
    let total: usize = (1..=size).sum();
    assert_eq!(all.dims(), [total, d], "gathered shape");
    assert_eq!(rows, start..start + rank + 1, "this process's rows");
    let expected: Vec<f32> = (0..total)
        .flat_map(|i| std::iter::repeat_n(i as f32, d))
        .collect();
    assert_eq!(to_vec(all), expected, "rows in rank order");
    println!("process {rank}: all-gather returns every process's rows in rank order");
}

/// `mst_len(z, scope = global)` on P processes is the single-process term on the whole
/// batch: the same value, and on each process's rows the same gradient times P, which the
/// tree the term built decides (a wrong edge moves the forces of both its ends).
fn check_global_tree(comm: &Arc<MpiCommunicator>, device: &Device, n: usize, d: usize) {
    let (rank, size) = (comm.rank(), comm.size());
    let data = cloud(n, d, 7 + n as u64);
    let rows = share(n, rank, size);
    let z = tensor(&data, rows.clone(), d, device).require_grad();
    let out = loss!(mst_len(z, scope = global)).expect("global loss");
    let value = out.term("mst_len(z, scope = global)").expect("term").value;
    let grad = to_vec(z.grad(&out.backward()).expect("grad"));
    let (expected, full_grad) = single_process(comm, || {
        let all = tensor(&data, 0..n, d, device).require_grad();
        let out = loss!(mst_len(all)).expect("single-process loss");
        let grad = to_vec(all.grad(&out.backward()).expect("grad"));
        (out.total_value(), grad)
    });
    assert!(
        ((value - expected) / expected).abs() < 1e-6,
        "length {value} vs {expected}"
    );
    // Scaled by P, so that averaging parameter gradients over the processes gives the
    // single-process one (README, "Multi-process").
    let expected_rows: Vec<f32> = full_grad[rows.start * d..rows.end * d]
        .iter()
        .map(|g| g * size as f32)
        .collect();
    let diff = max_rel_diff(&grad, &expected_rows);
    assert!(
        diff < 1e-6,
        "process {rank}: gradient of its rows differs from the single-process one by {diff:e}"
    );
    println!(
        "process {rank}: global tree term of {n}x{d} on {size} processes = single-process term \
         (value within 1e-6, gradient of rows {}..{} = P x single-process within {diff:.1e})",
        rows.start, rows.end
    );
}

/// One data-parallel step of a linear model under the T-REGS objective: the averaged
/// parameter gradient equals the single-process gradient on the concatenated batch.
fn check_parameter_gradients(comm: &Arc<MpiCommunicator>, device: &Device) {
    let (rank, size) = (comm.rank(), comm.size());
    let (n, d_in, d) = (60 * size, 12, 8);
    let x1 = cloud(n, d_in, 11);
    let x2: Vec<f32> = x1
        .iter()
        .zip(cloud(n, d_in, 12))
        .map(|(a, b)| a + 0.1 * b)
        .collect();
    let weights = cloud(d_in, d, 13);
    let (beta, gamma, lambda) = (10.0, 0.2, 8e-4);
    let step = |rows: std::ops::Range<usize>| {
        let theta = Tensor::<2>::from_data(TensorData::new(weights.clone(), [d_in, d]), device)
            .require_grad();
        let z = tensor(&x1, rows.clone(), d_in, device).matmul(theta.clone());
        let z2 = tensor(&x2, rows, d_in, device).matmul(theta.clone());
        let out = loss!(
            beta * mse(z, z2)
                + gamma * (mst_len(z, scope = global) + mst_len(z2, scope = global))
                + lambda * (sphere(z) + sphere(z2))
        )
        .expect("loss");
        let grads = out.backward();
        (
            out.total_value(),
            to_vec(theta.grad(&grads).expect("θ has a gradient")),
        )
    };
    let (_, mut local) = step(share(n, rank, size));
    comm.all_reduce_sum_f32(&mut local);
    let averaged: Vec<f32> = local.iter().map(|g| g / size as f32).collect();
    let (_, reference) = single_process(comm, || step(0..n));
    let diff = max_rel_diff(&averaged, &reference);
    assert!(
        diff < 1e-5,
        "parameter gradients differ by {diff:e} (relative)"
    );
    println!(
        "process {rank}: averaged parameter gradient = single-process gradient \
         (max relative difference {diff:.1e})"
    );
}

/// `scope = sharded` finds Prim's tree, and its loss and gradient equal the global ones.
fn check_sharded(comm: &Arc<MpiCommunicator>, device: &Device, name: &str, data: &[f32], d: usize) {
    let (rank, size) = (comm.rank(), comm.size());
    let n = data.len() / d;
    let rows = share(n, rank, size);
    let full = tregs::minimum_spanning_tree(&tensor(data, 0..n, d, device)).expect("finite cloud");
    let edges = sharded::tree(data, n, d, rows.clone(), comm.as_ref());
    assert_eq!(
        edges,
        sorted(full.edges.clone()),
        "{name}: sharded Borůvka = Prim"
    );
    let z = tensor(data, rows.clone(), d, device).require_grad();
    let sharded_out = loss!(mst_len(z, scope = sharded)).expect("sharded loss");
    let grad_sharded = to_vec(z.grad(&sharded_out.backward()).expect("grad"));
    let z = tensor(data, rows, d, device).require_grad();
    let global_out = loss!(mst_len(z, scope = global)).expect("global loss");
    let grad_global = to_vec(z.grad(&global_out.backward()).expect("grad"));
    let (a, b) = (sharded_out.total_value(), global_out.total_value());
    assert!(
        (a - b).abs() <= 1e-6 * b.abs().max(1e-12),
        "{name}: sharded {a} vs global {b}"
    );
    let diff = max_rel_diff(&grad_sharded, &grad_global);
    assert!(diff < 1e-5, "{name}: gradients differ by {diff:e}");
    println!(
        "process {rank}: {name}: sharded Borůvka = Prim ({n} points), loss and gradient = global"
    );
}

/// A NaN in the global batch is an error naming its global row on every process (each
/// decides from the gathered batch, before any exchange, so none waits for the others);
/// it used to stop every process at an assertion in Borůvka's merge.
fn check_sharded_nan(comm: &Arc<MpiCommunicator>, device: &Device) {
    let (rank, size) = (comm.rank(), comm.size());
    let mut data = cloud(40, 3, 23);
    data[25 * 3 + 1] = f32::NAN;
    let z = tensor(&data, share(40, rank, size), 3, device);
    let err = loss!(mst_len(z, scope = sharded))
        .err()
        .expect("NaN is an error")
        .to_string();
    assert_eq!(
        err, "input `z (all processes)`: NaN at row 25, column 1",
        "process {rank}"
    );
    comm.barrier();
    println!("process {rank}: a NaN in a sharded batch is an error naming its row");
}

fn main() {
    let world = MpiWorld::init().expect("MPI");
    let comm = world.communicator();
    let device = Device::flex().autodiff();
    check_all_gather(comm.as_ref(), &device);
    for (n, d) in [(301, 16), (64, 1), (500, 64)] {
        check_global_tree(&comm, &device, n, d);
    }
    check_parameter_gradients(&comm, &device);
    let size = comm.size();
    let gaussian = cloud(257, 10, 3);
    let duplicates: Vec<f32> = cloud(12, 4, 5)
        .chunks(4)
        .flat_map(|row| row.repeat(4))
        .collect();
    let grid: Vec<f32> = (0..36)
        .flat_map(|i| [(i % 6) as f32, (i / 6) as f32])
        .collect();
    let offset: Vec<f32> = cloud(120, 3, 9).iter().map(|v| v + 1e4).collect();
    let smallest: Vec<f32> = cloud(size, 2, 17);
    // Where the Gram trick alone orders the edges at random (the close-pair step's cases).
    let arc = to_f32(&great_circle_groups(32, 1e-4, 16));
    let antipodal = to_f32(&antipodal_clusters(200, 32, 2, 1e-4, 7));
    // Squares subnormal in f32: the tree is searched on the rows scaled up.
    let tiny: Vec<f32> = cloud(60, 3, 21).iter().map(|v| v * 1e-25).collect();
    for (name, data, d) in [
        ("groups of 4 on a great circle", arc, 16),
        ("two antipodal clusters", antipodal, 32),
        ("coordinates near 1e-25", tiny, 3),
        ("gaussian", gaussian, 10),
        ("duplicates", duplicates, 4),
        ("grid ties", grid, 2),
        ("offset 1e4", offset, 3),
        ("one point per process", smallest, 2),
    ] {
        check_sharded(&comm, &device, name, &data, d);
    }
    check_sharded_nan(&comm, &device);
    comm.barrier();
    if comm.rank() == 0 {
        println!("all checks passed on {} processes", comm.size());
    }
}
