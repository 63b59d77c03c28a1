//! The paper's tables in miniature: every shipped config with several seeds on the shipped
//! digits, as a markdown table (mean ± std over seeds), plus the paper's Table 4 pattern
//! (MSE alone, MSE with γ but no λ, MSE with both).

use clap::Parser;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tregs::DistanceMethod;
use tregs_examples::pretrain::{
    pretrain, run_files_in, use_distance, Backend, DataSource, PretrainArgs, PretrainResults,
};
use tregs_examples::recipe::{Recipe, SHIPPED};

#[derive(Parser, Debug)]
#[command(about = "Run the shipped configs with several seeds and write a markdown table")]
struct Cli {
    /// Seeds 0..SEEDS.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Override train.epochs of every config (the shipped default otherwise).
    #[arg(long)]
    epochs: Option<usize>,
    /// Override train.batch_size of every config.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Comma-separated config names (default: all shipped configs and `mse_tregs_no_lambda`).
    #[arg(long)]
    configs: Option<String>,
    #[arg(long, default_value = "target/compare")]
    out: PathBuf,
    #[arg(long, default_value = "flex")]
    backend: String,
    /// How the GPU path computes distances: f32 (its f32 kernel) or split-f16 (f16 pieces on
    /// tensor cores; needs --backend wgpu).
    #[arg(long, value_enum, default_value_t = DistanceMethod::F32)]
    distance: DistanceMethod,
    /// Train on this many images only (quick checks).
    #[arg(long)]
    limit: Option<usize>,
}

/// `mse_tregs` with λ = 0: the paper's Table 4 row "γ without λ".
fn recipe(name: &str, epochs: Option<usize>, batch_size: Option<usize>) -> Result<Recipe, String> {
    let mut config = match name {
        "mse_tregs_no_lambda" => {
            let mut c = Recipe::shipped("mse_tregs")
                .map_err(|e| e.to_string())?
                .config;
            c.name = name.to_string();
            c.description =
                "MSE + T-REGS's tree term, without the sphere constraint (λ = 0)".to_string();
            c.loss.coefficients.insert("lambda".to_string(), 0.0);
            c
        }
        other => Recipe::shipped(other).map_err(|e| e.to_string())?.config,
    };
    if let Some(e) = epochs {
        config.train.epochs = e;
    }
    if let Some(b) = batch_size {
        config.train.batch_size = b;
    }
    Recipe::check(config, name).map_err(|e| e.to_string())
}

/// The expression and its coefficients, e.g. `` `mse(z, z2) + γ*…` (gamma=0.2, lambda=0) ``.
fn objective(recipe: &Recipe) -> String {
    let coefs = &recipe.config.loss.coefficients;
    if coefs.is_empty() {
        format!("`{}`", recipe.config.loss.expression)
    } else {
        let list: Vec<String> = coefs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("`{}` ({})", recipe.config.loss.expression, list.join(", "))
    }
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn run(cli: Cli) -> Result<(), String> {
    let backend = Backend::parse(&cli.backend)?;
    use_distance(cli.distance, backend).map_err(|e| e.to_string())?;
    let names: Vec<String> = match &cli.configs {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => SHIPPED
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(["mse_tregs_no_lambda".to_string()])
            .collect(),
    };
    // Every config is checked before the first run starts.
    let recipes: Vec<Recipe> = names
        .iter()
        .map(|n| recipe(n, cli.epochs, cli.batch_size))
        .collect::<Result<_, _>>()?;
    if cli.seeds == 0 {
        return Err("--seeds 0: run at least one seed".to_string());
    }
    // Every run's folder is checked before the first run starts: results are never
    // replaced, and a table is not left half done by a folder found taken later.
    let run_dir = |recipe: &Recipe, seed: u64| {
        cli.out
            .join(&recipe.config.name)
            .join(format!("seed{seed}"))
    };
    let table_path = cli.out.join("table.md");
    if table_path.exists() {
        return Err(format!(
            "{} exists: choose another --out (nothing was overwritten)",
            table_path.display()
        ));
    }
    for recipe in &recipes {
        for seed in 0..cli.seeds {
            let out = run_dir(recipe, seed);
            let held = run_files_in(&out);
            if !held.is_empty() {
                return Err(format!(
                    "{} already holds a run ({}): choose another --out, or remove it to run \
                     it again (nothing was overwritten)",
                    out.display(),
                    held.join(", ")
                ));
            }
        }
    }
    let mut table = String::new();
    writeln!(table, "| config | objective | linear probe top-1 (%) | k-NN top-1 (%) | effective rank | uniformity | mean ‖z‖ | wall time (s) |").unwrap();
    writeln!(table, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    let mut random_probe = Vec::new();
    for recipe in &recipes {
        let mut runs: Vec<PretrainResults> = Vec::new();
        for seed in 0..cli.seeds {
            let out = run_dir(recipe, seed);
            let args = PretrainArgs {
                recipe: recipe.clone(),
                data: DataSource::Digits(None),
                out,
                seed,
                backend,
                resume: false,
                limit: cli.limit,
                stop_after: None,
            };
            let r =
                pretrain(&args).map_err(|e| format!("{} seed {seed}: {e}", recipe.config.name))?;
            eprintln!(
                "{} seed {seed}: probe {:.2}%, k-NN {:.2}%, rank {:.2}, {:.1} s",
                recipe.config.name,
                100.0 * r.pretrained.linear_probe_top1,
                100.0 * r.pretrained.knn_top1,
                r.pretrained.effective_rank,
                r.total_seconds
            );
            random_probe.push(r.random_init.linear_probe_top1);
            runs.push(r);
        }
        let stat =
            |f: &dyn Fn(&PretrainResults) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
        let (p, ps) = stat(&|r| 100.0 * r.pretrained.linear_probe_top1);
        let (k, ks) = stat(&|r| 100.0 * r.pretrained.knn_top1);
        let (er, ers) = stat(&|r| r.pretrained.effective_rank);
        let (u, us) = stat(&|r| r.pretrained.uniformity);
        let (norm, norms) = stat(&|r| r.pretrained.mean_norm);
        let (w, _) = stat(&|r| r.total_seconds);
        writeln!(
            table,
            "| {} | {} | {p:.2} ± {ps:.2} | {k:.2} ± {ks:.2} | {er:.2} ± {ers:.2} | {u:.3} ± {us:.3} | {norm:.2} ± {norms:.2} | {w:.0} |",
            recipe.config.name,
            objective(recipe)
        )
        .unwrap();
    }
    let (rp, rps) = mean_std(&random_probe.iter().map(|v| 100.0 * v).collect::<Vec<_>>());
    writeln!(table, "\nRandom-init encoder, same probe: {rp:.2} ± {rps:.2} % (over every run's initialization).").unwrap();
    std::fs::create_dir_all(&cli.out).map_err(|e| format!("{}: {e}", cli.out.display()))?;
    tregs_examples::files::write_whole(&table_path, &table)
        .map_err(|e| format!("{}: {e}", table_path.display()))?;
    tregs_examples::outln!("{table}");
    tregs_examples::outln!("wrote {}", table_path.display());
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
