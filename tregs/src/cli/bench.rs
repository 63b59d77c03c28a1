//! `tregs bench`: time and memory of the two-view T-REGS objective, forward plus backward,
//! on random Gaussian points on the Flex (CPU) or wgpu (GPU) autodiff device, next to the
//! pairwise distance step and the tree alone.
//!
//! Run it in release: `cargo run --release -p tregs --bin tregs -- bench`
//! (`--features wgpu -- bench --backend wgpu` for the GPU).

use super::{alloc, min_median, use_distance, Backend, CliError, TREGS_OBJECTIVE};
use burn::tensor::{DType, Device, Tensor, TensorData};
use clap::Args;
use std::collections::BTreeMap;
use std::time::Instant;
use tregs::{DistanceMethod, RuntimeLoss};
use tregs_kernels::GramKernel;

/// Sizes run by default: n in {256, 1024, 4096} x d in {128, 2048}.
const DEFAULT_SIZES: [(usize, usize); 6] = [
    (256, 128),
    (256, 2048),
    (1024, 128),
    (1024, 2048),
    (4096, 128),
    (4096, 2048),
];

/// Sizes run by default on a GPU: n in {1024, 4096, 8192} x d in {128, 2048}.
const DEFAULT_GPU_SIZES: [(usize, usize); 6] = [
    (1024, 128),
    (1024, 2048),
    (4096, 128),
    (4096, 2048),
    (8192, 128),
    (8192, 2048),
];

/// The objective's coefficients: β, γ, λ.
const COEFFICIENTS: [(&str, f64); 3] = [("beta", 10.0), ("gamma", 0.2), ("lambda", 8e-4)];

const MIB: f64 = (1u64 << 20) as f64;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Sizes to run, n points x d dimensions, comma separated [default:
    /// 256x128,256x2048,1024x128,1024x2048,4096x128,4096x2048].
    #[arg(long, value_name = "NxD,...", value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<(usize, usize)>,

    /// Timed calls per size, after one warm-up call.
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,

    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,

    /// Time calls with checks deferred (`tregs::defer_checks`): evaluate does not read the
    /// term values back; each call checks them after queueing its backward, then syncs.
    #[arg(long)]
    deferred_checks: bool,

    /// Where to run: flex (CPU) or wgpu (GPU kernels; needs the `wgpu` feature). The GPU
    /// default sizes are n in {1024, 4096, 8192} x d in {128, 2048}.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,

    /// How the GPU path computes distances, in the calls and in the distance step: f32
    /// (tregs's Gram kernel) or split-f16 (f16 pieces and one matrix product, on tensor
    /// cores where the device has them). Needs --backend wgpu.
    #[arg(long, value_enum, default_value_t = DistanceMethod::F32)]
    distance: DistanceMethod,
}

fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let (n, d) = text
        .trim()
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{text}`: expected NxD, e.g. 1024x2048"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: n is not a whole number"))?;
    let d: usize = d
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: d is not a whole number"))?;
    if n < 2 || d < 1 {
        return Err(format!(
            "`{text}`: needs n >= 2 points (for a tree) and d >= 1"
        ));
    }
    Ok((n, d))
}

/// A lower bound on the host memory one size needs: the two views, their gradients and
/// about as many f32 intermediates (inputs are generated on the host for either backend);
/// on the CPU also three n × n f32 matrices (the two views' tree buffers, the distance
/// step's own).
fn host_bytes_needed(n: usize, d: usize, on_gpu: bool) -> u128 {
    let (n, d) = (n as u128, d as u128);
    let matrices = if on_gpu { 0 } else { 3 * n * n * 4 };
    8 * n * d * 4 + matrices
}

/// `MemAvailable` of /proc/meminfo (Linux); `None` where it cannot be read.
fn available_memory_bytes() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Measurements at one size.
struct Row {
    n: usize,
    d: usize,
    /// Forward + backward, min and median ms.
    call: (f64, f64),
    /// The call's phases, median ms: `evaluate` (on a GPU: queueing the forward and waiting
    /// for its term values, which are read back to be checked), `backward()` returning (on
    /// a GPU: queueing it), and the sync after it (on a GPU: what the device still had to
    /// do). A long second phase with a short third means the host is what is slow.
    phases: (f64, f64, f64),
    /// Peak bytes above the baseline during a call (the largest over the reps).
    call_peak: usize,
    /// `pairwise_sq_distances` on one view, min and median ms.
    distance: (f64, f64),
    distance_peak: usize,
    /// The tree alone on one view's distance matrix (Prim on the CPU, Borůvka's kernels on
    /// the device), min and median ms.
    tree: (f64, f64),
    /// GPU only: Borůvka's two schedules on the same matrix, (rounds of launches, one cube
    /// per tree where n ≤ [`ONE_CUBE_BENCH_ROWS`]), median ms; `tree` is the one the
    /// library picks.
    tree_schedules: Option<(f64, Option<f64>)>,
    /// Kernels one call launches (GPU only; counted in an extra, untimed call).
    launches: Option<usize>,
}

impl Row {
    /// Distance step, GFLOP/s-equivalent at the median: 2·n²·d flops (a full X Xᵀ), so
    /// computing one triangle shows as a gain.
    fn distance_gflops(&self) -> f64 {
        2.0 * (self.n * self.n) as f64 * self.d as f64 / (self.distance.1 * 1e-3) / 1e9
    }
}

/// The largest n at which the bench also times the one-cube Borůvka schedule (which the
/// library uses up to `ONE_CUBE_MAX_ROWS`), to show on a GPU where the threshold belongs.
#[cfg(feature = "wgpu")]
const ONE_CUBE_BENCH_ROWS: usize = tregs_kernels::gpu::ONE_CUBE_LIMIT_ROWS;
#[cfg(feature = "wgpu")]
const _: () = assert!(ONE_CUBE_BENCH_ROWS >= tregs_kernels::gpu::ONE_CUBE_MAX_ROWS);

pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let sizes = if args.sizes.is_empty() && args.backend == Backend::Wgpu {
        DEFAULT_GPU_SIZES.to_vec()
    } else if args.sizes.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        args.sizes.clone()
    };
    if let Some(available) = available_memory_bytes() {
        for &(n, d) in &sizes {
            let needed = host_bytes_needed(n, d, args.backend == Backend::Wgpu);
            if needed > available {
                let gib = |bytes: u128| bytes as f64 / (1u64 << 30) as f64;
                return Err(CliError::new(format!(
                    "--sizes {n}x{d}: needs about {:.1} GiB of memory here, more than the {:.1} \
                     GiB available: use smaller sizes",
                    gib(needed),
                    gib(available)
                )));
            }
        }
    }
    let coefficients: BTreeMap<String, f64> = COEFFICIENTS
        .iter()
        .map(|&(k, v)| (k.to_string(), v))
        .collect();
    let loss = RuntimeLoss::parse(TREGS_OBJECTIVE, &coefficients)?;
    let device = args.backend.device()?;
    use_distance(args.distance, &device)?;
    let on_gpu = args.backend == Backend::Wgpu;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let kernel = GramKernel::Auto.resolve();
    let calibration = tregs_kernels::fma_peak_gflops(threads);
    if !alloc::is_counting() {
        eprintln!("warning: the counting allocator is not installed; memory reads 0");
    }

    if !args.json {
        println!("tregs bench: {TREGS_OBJECTIVE}, β=10, γ=0.2, λ=8e-4");
        println!(
            "forward + backward (out.total().backward(), then a device sync), {} autodiff \
             device, f32, Gaussian points N(0, 1/d), fixed seed; 1 warm-up + {} timed calls \
             per size; {}",
            device_label(&device, args.backend),
            args.reps,
            if args.deferred_checks {
                "checks deferred: evaluate does not read the values back, each call checks \
                 them after queueing its backward (in the sync phase)"
            } else {
                "checks on: evaluate reads the term values back and checks them"
            }
        );
        print!("{threads} CPU threads, Gram kernel {kernel:?}");
        match calibration {
            Some(g) => println!(
                "; calibration: register-only FMA peak {g:.0} GFLOP/s now (the one-triangle \
                 distance step can reach about twice that in GFLOP/s-equivalent)"
            ),
            None => println!(),
        }
        if on_gpu {
            println!(
                "distance method {} (f16 tensor cores on this device: {}; burn's matmul \
                 autotune: {})",
                args.distance.name(),
                if f16_tensor_cores(&device) {
                    "yes"
                } else {
                    "no"
                },
                if matmul_autotune() { "on" } else { "off" }
            );
            println!(
                "distance = the device's shift, norms and distance kernels on one view; \
                 tree = Borůvka's kernels on that view's matrix (the schedule the library \
                 picks, then each schedule alone); GFLOP/s counts 2·n²·d \
                 flops; peak = device memory the pool holds after the call (its high-water \
                 mark, pages kept for reuse included)\n"
            );
        } else {
            println!(
                "distance = tregs_kernels::pairwise_sq_distances on one view; tree = \
                 tregs_kernels::prim_mst on its matrix; GFLOP/s counts 2·n²·d flops; peak = \
                 most heap bytes held during the call above what was held before it\n"
            );
        }
        println!(
            "| {:>5} | {:>5} | {:>11} | {:>14} | {:>21} | {:>8} | {:>11} | {:>16} | {:>17} | {:>7} |{}",
            "n",
            "d",
            "call min ms",
            "call median ms",
            "eval / bwd / sync ms",
            "peak MiB",
            "distance ms",
            "distance GFLOP/s",
            "distance peak MiB",
            "tree ms",
            if on_gpu {
                " tree rounds ms | tree one-cube ms | launches |"
            } else {
                ""
            }
        );
        println!(
            "|------:|------:|------------:|---------------:|----------------------:|---------:|------------:|-----------------:|------------------:|--------:|{}",
            if on_gpu {
                "---------------:|-----------------:|---------:|"
            } else {
                ""
            }
        );
    }
    let mut rows = Vec::new();
    for (n, d) in sizes {
        let row = measure(&loss, &device, on_gpu, n, d, args)?;
        if !args.json {
            println!(
                "| {:>5} | {:>5} | {:>11.2} | {:>14.2} | {:>21} | {:>8.1} | {:>11.2} | {:>16.1} | {:>17.1} | {:>7.2} |{}",
                row.n,
                row.d,
                row.call.0,
                row.call.1,
                format!(
                    "{:.2} / {:.2} / {:.2}",
                    row.phases.0, row.phases.1, row.phases.2
                ),
                row.call_peak as f64 / MIB,
                row.distance.1,
                row.distance_gflops(),
                row.distance_peak as f64 / MIB,
                row.tree.1,
                gpu_columns(&row)
            );
        }
        rows.push(row);
    }
    if args.json {
        let results: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "n": r.n,
                    "d": r.d,
                    "ms": {"min": r.call.0, "median": r.call.1},
                    "phases_median_ms": {
                        "evaluate": r.phases.0,
                        "backward": r.phases.1,
                        "sync": r.phases.2,
                    },
                    "peak_mib": r.call_peak as f64 / MIB,
                    "distance_ms": {"min": r.distance.0, "median": r.distance.1},
                    "distance_gflops": r.distance_gflops(),
                    "distance_peak_mib": r.distance_peak as f64 / MIB,
                    "tree_ms": {"min": r.tree.0, "median": r.tree.1},
                    "tree_rounds_median_ms": r.tree_schedules.map(|(rounds, _)| rounds),
                    "tree_one_cube_median_ms": r.tree_schedules.and_then(|(_, one)| one),
                    "launches": r.launches,
                })
            })
            .collect();
        let report = serde_json::json!({
            "objective": TREGS_OBJECTIVE,
            "coefficients": coefficients,
            "device": device_label(&device, args.backend),
            "backend": args.backend.name(),
            "dtype": "f32",
            "threads": threads,
            "gram_kernel": format!("{kernel:?}"),
            "fma_peak_gflops": calibration,
            "reps": args.reps,
            "deferred_checks": args.deferred_checks,
            "distance_method": args.distance.name(),
            "f16_tensor_cores": on_gpu.then(|| f16_tensor_cores(&device)),
            "matmul_autotune": on_gpu.then(matmul_autotune),
            "results": results,
        });
        let text = serde_json::to_string_pretty(&report).expect("JSON values serialize");
        println!("{text}");
    }
    Ok(())
}

/// The GPU-only cells of a row: both Borůvka schedules and the launch count.
fn gpu_columns(row: &Row) -> String {
    let (Some((rounds, one_cube)), Some(launches)) = (row.tree_schedules, row.launches) else {
        return String::new();
    };
    let one_cube = one_cube.map_or("—".to_string(), |ms| format!("{ms:.2}"));
    format!(" {rounds:>14.2} | {one_cube:>16} | {launches:>8} |")
}

/// Whether burn's matmul autotune (the split-f16 product's) is built in.
fn matmul_autotune() -> bool {
    #[cfg(feature = "wgpu")]
    return tregs::gpu::MATMUL_AUTOTUNE;
    #[cfg(not(feature = "wgpu"))]
    false
}

/// Whether the device reports f16 × f16 → f32 matrix instructions (tensor cores).
fn f16_tensor_cores(device: &Device) -> bool {
    #[cfg(feature = "wgpu")]
    return tregs::gpu::has_f16_tensor_cores(device);
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = device;
        false
    }
}

fn device_label(device: &Device, backend: Backend) -> String {
    match backend {
        Backend::Flex => "flex (CPU)".to_string(),
        Backend::Wgpu => wgpu_label(device),
    }
}

/// The runtime and its shader compiler (`wgpu<wgsl>`, `wgpu<spirv>`) and the adapter.
#[cfg(feature = "wgpu")]
fn wgpu_label(_: &Device) -> String {
    use burn::backend::{CubeDevice, WgpuDeviceKind};
    match CubeDevice::wgpu(WgpuDeviceKind::DefaultDevice) {
        Ok(device) => {
            let client = device.client();
            format!("{} on {}", client.name(), client.properties().identity.name)
        }
        Err(e) => format!("wgpu (no adapter: {e})"),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_label(device: &Device) -> String {
    format!("wgpu {device:?}")
}

fn measure(
    loss: &RuntimeLoss,
    device: &Device,
    on_gpu: bool,
    n: usize,
    d: usize,
    args: &BenchArgs,
) -> Result<Row, CliError> {
    let reps = args.reps;
    let seed = 0x7265_6773 ^ ((n as u64) << 32) ^ d as u64;
    let x = gaussian_cloud(n * d, d, seed);
    let x2 = gaussian_cloud(n * d, d, seed.wrapping_add(1));
    let z = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), (device, DType::F32))
        .require_grad();
    let z2 =
        Tensor::<2>::from_data(TensorData::new(x2, [n, d]), (device, DType::F32)).require_grad();
    let bindings = [("z", &z), ("z2", &z2)];

    let mut call_ms = Vec::new();
    let mut phase_ms = [Vec::new(), Vec::new(), Vec::new()];
    let mut call_peak = 0;
    for rep in 0..=reps {
        let baseline = alloc::reset_peak();
        let deferred = args.deferred_checks.then(tregs::defer_checks);
        let start = Instant::now();
        let out = loss.evaluate(&bindings)?;
        let evaluated = start.elapsed();
        let grads = out.total().backward();
        let backward_returned = start.elapsed();
        if deferred.is_some() {
            out.check()?;
        }
        Backend::sync(device)?;
        drop(deferred);
        let elapsed = start.elapsed();
        let ms = elapsed.as_secs_f64() * 1e3;
        let peak = if on_gpu {
            device
                .memory_pool_usage()
                .map_or(0, |u| u.bytes_reserved as usize)
        } else {
            alloc::peak().saturating_sub(baseline)
        };
        drop(std::hint::black_box(grads));
        drop(out);
        if rep > 0 {
            call_ms.push(ms);
            call_peak = call_peak.max(peak);
            let phases = [
                evaluated,
                backward_returned - evaluated,
                elapsed - backward_returned,
            ];
            for (times, phase) in phase_ms.iter_mut().zip(phases) {
                times.push(phase.as_secs_f64() * 1e3);
            }
        }
    }
    let phases = (
        min_median(&phase_ms[0]).1,
        min_median(&phase_ms[1]).1,
        min_median(&phase_ms[2]).1,
    );

    if on_gpu {
        #[cfg(feature = "wgpu")]
        let gpu_steps = gpu_step_ms(&x, n, d, reps)?;
        #[cfg(feature = "wgpu")]
        return Ok(Row {
            n,
            d,
            call: min_median(&call_ms),
            phases,
            call_peak,
            distance: gpu_steps.0,
            distance_peak: 0,
            tree: gpu_steps.1,
            tree_schedules: Some(gpu_steps.2),
            launches: Some(count_launches(|| {
                let out = loss.evaluate(&bindings)?;
                drop(out.total().backward());
                Backend::sync(device)
            })?),
        });
    }
    let mut distance_ms = Vec::new();
    let mut distance_peak = 0;
    let mut tree_ms = Vec::new();
    for rep in 0..=reps {
        let baseline = alloc::reset_peak();
        let start = Instant::now();
        let d2 = tregs_kernels::pairwise_sq_distances::<f32>(&x, n, d);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let peak = alloc::peak().saturating_sub(baseline);
        let start = Instant::now();
        let tree = tregs_kernels::prim_mst(&d2, n);
        let tree_elapsed = start.elapsed().as_secs_f64() * 1e3;
        drop(std::hint::black_box((d2, tree)));
        if rep > 0 {
            distance_ms.push(ms);
            distance_peak = distance_peak.max(peak);
            tree_ms.push(tree_elapsed);
        }
    }
    Ok(Row {
        n,
        d,
        call: min_median(&call_ms),
        phases,
        call_peak,
        distance: min_median(&distance_ms),
        distance_peak,
        tree: min_median(&tree_ms),
        tree_schedules: None,
        launches: None,
    })
}

/// How many kernels `call` launches, through cubecl's process-wide launch observer.
#[cfg(feature = "wgpu")]
fn count_launches(call: impl FnOnce() -> Result<(), CliError>) -> Result<usize, CliError> {
    use cubecl::logging::{LaunchObservation, LaunchObserver};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    #[derive(Default)]
    struct Count(AtomicUsize);
    impl LaunchObserver for Count {
        fn launched(&self, _kernel: &'static str) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let count = Arc::new(Count::default());
    let observation = LaunchObservation::new(count.clone());
    let result = call();
    drop(observation);
    result.map(|()| count.0.load(Ordering::Relaxed))
}

/// The device's steps alone on one view, each launched on its own cubecl client and timed
/// to a sync: the distance step (shift and norms, then the distance matrix) and the tree
/// (Borůvka's kernels on that matrix, edges gathered) as the library schedules it, both
/// (min, median) ms over `reps` after a warm-up; then the medians of the tree under each
/// schedule (one cube only up to [`ONE_CUBE_BENCH_ROWS`]).
#[cfg(feature = "wgpu")]
#[allow(clippy::type_complexity)]
fn gpu_step_ms(
    x: &[f32],
    n: usize,
    d: usize,
    reps: u32,
) -> Result<((f64, f64), (f64, f64), (f64, Option<f64>)), CliError> {
    use burn::backend::{CubeDevice, WgpuDeviceKind};
    use tregs_kernels::gpu::{self, DeviceBuffer, InputLayout, Schedule};
    let cube_device = CubeDevice::wgpu(WgpuDeviceKind::DefaultDevice)
        .map_err(|e| CliError::new(format!("no wgpu adapter: {e}")))?;
    let client = cube_device.client();
    let points = DeviceBuffer {
        handle: client.create_from_slice(bytemuck::cast_slice(x)),
        len: n * d,
    };
    let norms = DeviceBuffer::empty::<f32>(&client, n);
    let input = InputLayout { offset: 0, n, d };
    let mut distance_ms = Vec::new();
    let (mut steps_ms, mut one_cube_ms) = (Vec::new(), Vec::new());
    for rep in 0..=reps {
        let start = Instant::now();
        let (shift, shifted_sq) = gpu::row_statistics(&client, &points, input, &norms, 0);
        let dist = DeviceBuffer::empty::<f32>(&client, n * n);
        let view = tregs::gpu::DistanceInput {
            x: &points,
            input,
            shift,
            shifted_sq,
        };
        let method = tregs::gpu::distance_method();
        tregs::gpu::sq_distance_matrices(&cube_device, &[view], &dist, method);
        gpu::sync(&client).map_err(CliError::new)?;
        let distance_elapsed = start.elapsed().as_secs_f64() * 1e3;
        let edges = DeviceBuffer::empty::<i32>(&client, 2 * (n - 1));
        let scheduled = |schedule, times: &mut Vec<f64>| -> Result<(), CliError> {
            let start = Instant::now();
            let counters = gpu::boruvka_trees_scheduled(&client, &dist, n, 1, &edges, 0, schedule);
            gpu::sync(&client).map_err(CliError::new)?;
            if rep > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            drop(counters);
            Ok(())
        };
        scheduled(Schedule::Steps, &mut steps_ms)?;
        if n <= ONE_CUBE_BENCH_ROWS {
            scheduled(Schedule::OneCube, &mut one_cube_ms)?;
        }
        if rep > 0 {
            distance_ms.push(distance_elapsed);
        }
        drop((dist, edges));
    }
    // The library's pick is one of the two timed (one cube is timed wherever it is picked).
    let picked = match Schedule::for_rows(n) {
        Schedule::Steps => &steps_ms,
        Schedule::OneCube => &one_cube_ms,
    };
    let one_cube = (!one_cube_ms.is_empty()).then(|| min_median(&one_cube_ms).1);
    Ok((
        min_median(&distance_ms),
        min_median(picked),
        (min_median(&steps_ms).1, one_cube),
    ))
}

/// `len` samples of N(0, 1/d) (SplitMix64 + Box-Muller): rows of d such coordinates have
/// norms near 1, like normalized embeddings.
fn gaussian_cloud(len: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    let mut next_unit = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let scale = 1.0 / (d as f64).sqrt();
    (0..len)
        .map(|_| {
            let (a, b) = (next_unit(), next_unit());
            (scale * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1024x2048"), Ok((1024, 2048)));
        assert_eq!(parse_size(" 4X3 "), Ok((4, 3)));
        assert!(parse_size("1024").is_err());
        assert!(parse_size("1x5").unwrap_err().contains("n >= 2"));
        assert!(parse_size("ax5").is_err());
    }

    #[test]
    fn gaussian_rows_have_norms_near_one() {
        let d = 2048;
        let x = gaussian_cloud(4 * d, d, 7);
        for row in x.chunks(d) {
            let norm = row.iter().map(|v| (v * v) as f64).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 0.1, "{norm}");
        }
        assert_eq!(x, gaussian_cloud(4 * d, d, 7), "fixed seed, same data");
    }
}
