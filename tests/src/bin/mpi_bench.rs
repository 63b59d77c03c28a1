//! Global vs sharded `mst_len` across MPI processes: ms per forward + backward of
//! `mst_len(z, scope = global | sharded)` on a global batch of n rows (d = 128 by default),
//! each of P processes holding n/P rows. Process 0 prints one markdown row per n.
//!
//! `mpirun -np P target/…/mpi_bench [d] [n…]` (built with `--features mpi`).

use std::time::Instant;
use tregs::burn::tensor::{Device, Tensor, TensorData};
use tregs::distributed::mpi::MpiWorld;
use tregs::distributed::Communicator;
use tregs::loss;
use tregs_tests::uniform_cloud as cloud;

/// Median ms of 3 timed runs after one warm-up; every process takes part in each run.
fn time(comm: &dyn Communicator, mut run: impl FnMut()) -> f64 {
    run();
    let mut ms: Vec<f64> = (0..3)
        .map(|_| {
            let mut sync = [0.0f64];
            comm.all_reduce_sum_f64(&mut sync);
            let started = Instant::now();
            run();
            let mut took = [started.elapsed().as_secs_f64() * 1e3];
            // The step ends when the slowest process ends.
            let all = comm.all_gather_f64(&took);
            took[0] = all.iter().cloned().fold(0.0, f64::max);
            took[0]
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[1]
}

fn main() {
    let world = MpiWorld::init().expect("MPI");
    let comm = world.communicator();
    let (rank, size) = (comm.rank(), comm.size());
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: d then n…"))
        .collect();
    let d = args.first().copied().unwrap_or(128);
    let ns: Vec<usize> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![1024, 2048, 4096, 8192]
    };
    let device = Device::flex().autodiff();
    if rank == 0 {
        println!("| n | d | processes | global ms | sharded ms | gathered per process | distance matrix per process (global / sharded) |");
        println!("|---|---|---|---|---|---|---|");
    }
    for n in ns {
        let full = cloud(n, d, n as u64);
        let (start, end) = (rank * n / size, (rank + 1) * n / size);
        let local = full[start * d..end * d].to_vec();
        let z = || {
            Tensor::<2>::from_data(TensorData::new(local.clone(), [end - start, d]), &device)
                .require_grad()
        };
        let global = time(comm.as_ref(), || {
            let z = z();
            let out = loss!(mst_len(z, scope = global)).expect("global");
            let _ = z.grad(&out.backward());
        });
        let sharded = time(comm.as_ref(), || {
            let z = z();
            let out = loss!(mst_len(z, scope = sharded)).expect("sharded");
            let _ = z.grad(&out.backward());
        });
        if rank == 0 {
            let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
            println!(
                "| {n} | {d} | {size} | {global:.1} | {sharded:.1} | {:.2} MiB | {:.1} / {:.1} MiB |",
                mib((n - n / size) * d * 4),
                mib(n * n * 4),
                mib(n.div_ceil(size) * n * 4)
            );
        }
    }
}
