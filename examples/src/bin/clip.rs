//! CLIP-style contrastive training of two encoders on paired rows: `clip(a, b)` alone
//! against `clip(a, b)` + T-REGS on both modalities; image→text and text→image R@1/R@5 and
//! the modality gap on a held-out split, before and after. See `tregs_examples::clip`.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tregs::DistanceMethod;
use tregs_examples::clip::{digit_pairs, npy_pairs, train_clip, ClipConfig, ClipResults};
use tregs_examples::pretrain::{use_distance, Backend};

#[derive(Parser, Debug)]
#[command(
    about = "clip(a, b) vs clip(a, b) + T-REGS on paired rows; retrieval R@1/R@5 and modality gap"
)]
struct Cli {
    /// Modality A (e.g. image embeddings), a 2-D f32/f64 .npy; default: the shipped digits.
    #[arg(long, requires = "b")]
    a: Option<PathBuf>,
    /// Modality B (e.g. text embeddings), paired row by row with --a.
    #[arg(long, requires = "a")]
    b: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Passes over the training pairs, for each run [default: 60].
    #[arg(long)]
    epochs: Option<usize>,
    /// Pairs per step, at least 2 (the tree's points) [default: 256].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Weight γ of the T-REGS tree term in the second run.
    #[arg(long, default_value_t = 0.2)]
    gamma: f64,
    /// Weight λ of the sphere term in the second run.
    #[arg(long, default_value_t = 8e-4)]
    lambda: f64,
    #[arg(long, default_value = "target/clip")]
    out: PathBuf,
    #[arg(long, default_value = "flex")]
    backend: String,
    /// How the GPU path computes distances: f32 (its f32 kernel) or split-f16 (f16 pieces on
    /// tensor cores; needs --backend wgpu).
    #[arg(long, value_enum, default_value_t = DistanceMethod::F32)]
    distance: DistanceMethod,
}

fn run(cli: Cli) -> Result<(), String> {
    let backend = Backend::parse(&cli.backend)?;
    use_distance(cli.distance, backend).map_err(|e| e.to_string())?;
    let device = backend.device().map_err(|e| e.to_string())?;
    // The output is checked before training: results are never replaced, and a place that
    // cannot hold them is found before the runs, not after.
    let path = cli.out.join("results.json");
    if path.exists() {
        return Err(format!(
            "{} exists: choose another --out (nothing was overwritten)",
            path.display()
        ));
    }
    let mut tregs_config = ClipConfig::clip_tregs();
    tregs_config
        .coefficients
        .insert("gamma".to_string(), cli.gamma);
    tregs_config
        .coefficients
        .insert("lambda".to_string(), cli.lambda);
    let mut configs = [ClipConfig::clip_only(), tregs_config];
    for config in &mut configs {
        if let Some(e) = cli.epochs {
            config.epochs = e;
        }
        if let Some(b) = cli.batch_size {
            config.batch_size = b;
        }
        config.check()?;
    }
    std::fs::create_dir_all(&cli.out).map_err(|e| format!("--out {}: {e}", cli.out.display()))?;
    let pairs = match (&cli.a, &cli.b) {
        (Some(a), Some(b)) => npy_pairs(a, b)?,
        _ => digit_pairs(),
    };
    let (train, test) = pairs.split(0.2, 0);
    let mut results: Vec<ClipResults> = Vec::new();
    for config in &configs {
        let r = train_clip(config, &train, &test, cli.seed, &device)?;
        results.push(r);
    }
    tregs_examples::outln!(
        "{} ({} train / {} held-out pairs), seed {}",
        pairs.name,
        train.n,
        test.n,
        cli.seed
    );
    tregs_examples::outln!(
        "{:<12} {:<7} {:>8} {:>8} {:>8} {:>8} {:>13}",
        "objective",
        "",
        "A→B R@1",
        "A→B R@5",
        "B→A R@1",
        "B→A R@5",
        "modality gap"
    );
    for r in &results {
        for (when, s) in [("before", &r.before), ("after", &r.after)] {
            tregs_examples::outln!(
                "{:<12} {:<7} {:>7.1}% {:>7.1}% {:>7.1}% {:>7.1}% {:>13.4}",
                r.config.name,
                when,
                100.0 * s.a_to_b_r1,
                100.0 * s.a_to_b_r5,
                100.0 * s.b_to_a_r1,
                100.0 * s.b_to_a_r5,
                s.modality_gap
            );
        }
    }
    tregs_examples::files::write_whole(
        &path,
        serde_json::to_string_pretty(&results).expect("serialize"),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    tregs_examples::outln!("wrote {}", path.display());
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
