//! Self-supervised pretraining with a configurable objective (T-REGS by default), then a
//! linear probe and k-NN evaluation of the frozen encoder. See `tregs_examples::pretrain`.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tregs::distributed::{Communicator, SingleProcess};
use tregs::DistanceMethod;
use tregs_examples::data::MAX_IMAGE_SIZE;
use tregs_examples::data_parallel::{train_data_parallel, DataParallelArgs, Fault};
use tregs_examples::pretrain::{
    load_limited, pretrain, use_distance, Backend, DataSource, PretrainArgs,
};
use tregs_examples::recipe::{Recipe, RecipeError};

#[derive(Parser, Debug)]
#[command(about = "Self-supervised pretraining with a loss! objective, then linear probe and k-NN")]
struct Cli {
    /// A shipped config (mse_tregs, mse, barlow, barlow_tregs, byol_tregs, vicreg, simclr,
    /// mse_uniformity, mse_w2) or the path of a TOML file.
    #[arg(long, default_value = "mse_tregs")]
    config: String,
    /// digits (shipped), cifar10, cifar100 or folder (one sub-folder per class).
    #[arg(long, default_value = "digits")]
    data: String,
    /// The dataset's folder (cifar10, cifar100, folder) or file (digits).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Resize folder images to SIZE×SIZE.
    #[arg(long)]
    image_size: Option<usize>,
    /// Output folder: checkpoints, metrics.jsonl, results.json, report.png.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Override train.epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override train.batch_size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// flex (CPU) or wgpu (needs the `wgpu` feature).
    #[arg(long, default_value = "flex")]
    backend: String,
    /// How the GPU path computes distances: f32 (its f32 kernel) or split-f16 (f16 pieces on
    /// tensor cores; needs --backend wgpu).
    #[arg(long, value_enum, default_value_t = DistanceMethod::F32)]
    distance: DistanceMethod,
    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Train on this many images only (quick checks).
    #[arg(long)]
    limit: Option<usize>,
    /// Stop after epoch N as if interrupted (the learning-rate schedule still spans every
    /// epoch); --resume continues from there.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Data-parallel training loop: stop after K optimizer steps, writing one line per step
    /// to OUT/metrics.jsonl (process 0). Under `mpirun -np P` (feature `mpi`) each process
    /// takes 1/P of every batch and the T-REGS terms see the global batch.
    #[arg(long)]
    steps: Option<usize>,
    /// Test hook: exit:RANK:STEP or hang:RANK:STEP makes one process fail before STEP.
    #[arg(long, hide = true)]
    inject_fault: Option<String>,
}

fn recipe(cli: &Cli) -> Result<Recipe, RecipeError> {
    let loaded = if cli.config.ends_with(".toml") || std::path::Path::new(&cli.config).exists() {
        Recipe::load(std::path::Path::new(&cli.config))?
    } else {
        Recipe::shipped(&cli.config)?
    };
    let mut config = loaded.config;
    if let Some(epochs) = cli.epochs {
        config.train.epochs = epochs;
    }
    if let Some(batch) = cli.batch_size {
        config.train.batch_size = batch;
    }
    Recipe::check(config, &cli.config)
}

fn run(cli: Cli) -> Result<(), String> {
    // MPI (when built in) is initialized first and finalized last (when `_world` drops).
    #[cfg(feature = "mpi")]
    let _world = tregs::distributed::mpi::MpiWorld::init()?;
    #[cfg(not(feature = "mpi"))]
    if let Some(size) = launched_by_mpirun() {
        return Err(format!(
            "started by mpirun as one of {size} processes, but this binary is built without \
             the `mpi` feature: each process would train alone on the whole batch. Rebuild \
             with `--features mpi`"
        ));
    }
    let comm: Arc<dyn Communicator> =
        tregs::distributed::communicator().unwrap_or_else(|| Arc::new(SingleProcess));
    if cli.steps.is_none() && comm.size() > 1 {
        return Err(format!(
            "{} processes: pass --steps K to train data-parallel (the epoch-based Learner path \
             runs in one process)",
            comm.size()
        ));
    }
    let recipe = recipe(&cli).map_err(|e| e.to_string())?;
    let backend = Backend::parse(&cli.backend)?;
    use_distance(cli.distance, backend).map_err(|e| e.to_string())?;
    let need_dir = || {
        cli.data_dir
            .clone()
            .ok_or_else(|| format!("--data {} needs --data-dir", cli.data))
    };
    if let Some(size) = cli.image_size {
        if cli.data != "folder" {
            return Err(format!(
                "--image-size resizes the images of --data folder; --data {} has a fixed size",
                cli.data
            ));
        }
        if !(1..=MAX_IMAGE_SIZE).contains(&size) {
            return Err(format!(
                "--image-size {size}: must be from 1 to {MAX_IMAGE_SIZE} pixels"
            ));
        }
    }
    if cli.steps == Some(0) {
        return Err("--steps 0: train at least 1 step".to_string());
    }
    let data = match cli.data.as_str() {
        "digits" => DataSource::Digits(cli.data_dir.clone()),
        "cifar10" => DataSource::Cifar10(need_dir()?),
        "cifar100" => DataSource::Cifar100(need_dir()?),
        "folder" => DataSource::ImageFolder(need_dir()?, cli.image_size.map(|s| (s, s))),
        other => {
            return Err(format!(
                "unknown --data `{other}`: digits, cifar10, cifar100 or folder"
            ))
        }
    };
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/pretrain").join(&recipe.config.name));
    if let Some(steps) = cli.steps {
        return data_parallel(&cli, recipe, data, out, backend, steps, comm.as_ref());
    }
    let args = PretrainArgs {
        recipe,
        data,
        out: out.clone(),
        seed: cli.seed,
        backend,
        resume: cli.resume,
        limit: cli.limit,
        stop_after: cli.stop_after,
    };
    let r = pretrain(&args).map_err(|e| e.to_string())?;
    tregs_examples::outln!(
        "\n{} on {} ({} train / {} test images), seed {}, {:.1} s",
        r.config.name,
        r.data,
        r.train_images,
        r.test_images,
        r.seed,
        r.total_seconds
    );
    tregs_examples::outln!(
        "{:<14} {:>12} {:>10} {:>15} {:>11}",
        "encoder",
        "linear probe",
        "k-NN",
        "effective rank",
        "uniformity"
    );
    for (name, s) in [
        ("pretrained", &r.pretrained),
        ("random init", &r.random_init),
    ] {
        tregs_examples::outln!(
            "{:<14} {:>11.2}% {:>9.2}% {:>15.2} {:>11.3}",
            name,
            100.0 * s.linear_probe_top1,
            100.0 * s.knn_top1,
            s.effective_rank,
            s.uniformity
        );
    }
    if !r.beats_random_init {
        tregs_examples::outln!(
            "note: pretraining did NOT beat the random encoder on the linear probe"
        );
    }
    tregs_examples::outln!(
        "wrote {}/results.json, report.png, metrics.jsonl, checkpoint/",
        out.display()
    );
    Ok(())
}

/// The process count mpirun (OpenMPI, MPICH/PMI) announces to the processes it starts.
#[cfg(not(feature = "mpi"))]
fn launched_by_mpirun() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|var| std::env::var(var).ok()?.parse::<usize>().ok())
        .filter(|&size| size > 1)
}

fn data_parallel(
    cli: &Cli,
    recipe: Recipe,
    data: DataSource,
    out: PathBuf,
    backend: Backend,
    steps: usize,
    comm: &dyn Communicator,
) -> Result<(), String> {
    if cli.resume || cli.stop_after.is_some() {
        return Err(
            "--steps runs a fresh data-parallel run: --resume and --stop-after are for \
                    the epoch-based run"
                .to_string(),
        );
    }
    let fault = cli.inject_fault.as_deref().map(Fault::parse).transpose()?;
    let (train_set, _test, data_name) =
        load_limited(&data, cli.limit, cli.seed).map_err(|e| e.to_string())?;
    let args = DataParallelArgs {
        recipe,
        train_set: Arc::new(train_set),
        data_name,
        out: out.clone(),
        seed: cli.seed,
        backend,
        steps,
        fault,
    };
    let summary = match train_data_parallel(&args, comm) {
        Ok(summary) => summary,
        // The other processes may be waiting in a collective for this one: leave at once
        // (mpirun then stops them) rather than through MPI's finalization, which waits.
        Err(e) if comm.size() > 1 => {
            eprintln!("error: process {} of {}: {e}", comm.rank(), comm.size());
            std::process::exit(1);
        }
        Err(e) => return Err(e.to_string()),
    };
    if comm.rank() == 0 {
        if let Some(last) = &summary.last {
            tregs_examples::outln!(
                "{} on {}: {} steps on {} process(es), global batch {}, {:.1} s; last loss {:.6}",
                args.recipe.config.name,
                args.data_name,
                summary.steps,
                summary.processes,
                last.batch_size,
                summary.seconds,
                last.total
            );
        }
        tregs_examples::outln!(
            "wrote {}/metrics.jsonl and {} checkpoint(s) in {}/checkpoint",
            out.display(),
            summary.checkpoints.len(),
            out.display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
