//! Self-supervised pretraining with a configurable objective (T-REGS by default), then a
//! linear probe and k-NN evaluation of the frozen encoder. See `tregs_examples::pretrain`.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tregs_examples::pretrain::{pretrain, Backend, DataSource, PretrainArgs};
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
    let recipe = recipe(&cli).map_err(|e| e.to_string())?;
    let backend = Backend::parse(&cli.backend)?;
    let need_dir = || {
        cli.data_dir
            .clone()
            .ok_or_else(|| format!("--data {} needs --data-dir", cli.data))
    };
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
    println!(
        "\n{} on {} ({} train / {} test images), seed {}, {:.1} s",
        r.config.name, r.data, r.train_images, r.test_images, r.seed, r.total_seconds
    );
    println!(
        "{:<14} {:>12} {:>10} {:>15} {:>11}",
        "encoder", "linear probe", "k-NN", "effective rank", "uniformity"
    );
    for (name, s) in [
        ("pretrained", &r.pretrained),
        ("random init", &r.random_init),
    ] {
        println!(
            "{:<14} {:>11.2}% {:>9.2}% {:>15.2} {:>11.3}",
            name,
            100.0 * s.linear_probe_top1,
            100.0 * s.knn_top1,
            s.effective_rank,
            s.uniformity
        );
    }
    if !r.beats_random_init {
        println!("note: pretraining did NOT beat the random encoder on the linear probe");
    }
    println!(
        "wrote {}/results.json, report.png, metrics.jsonl, checkpoint/",
        out.display()
    );
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
