//! T-REGS on a free point cloud: `γ·mst_len(z) + λ·sphere(z)` and nothing else.
//!
//! ```text
//! cargo run --release -p tregs-examples --bin point_cloud -- [--experiment simplex|sphere|both]
//!     [--seed N] [--steps N] [--out DIR]
//! ```
//!
//! Prints the results as JSON on stdout and writes them to `DIR/results.json`, with one PNG
//! histogram of pairwise cosine similarities per experiment (`simplex_cosines.png`,
//! `sphere_cosines.png`). A PASS/FAIL line per criterion goes to stderr. Exits with status 1
//! if a criterion fails.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use tregs_examples::experiments::{self, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Experiment {
    Simplex,
    Sphere,
    Both,
}

#[derive(Debug, Parser)]
#[command(about = "Optimize a free point cloud with T-REGS (MST length + sphere constraint)")]
struct Args {
    /// Which experiment to run.
    #[arg(long, value_enum, default_value = "both")]
    experiment: Experiment,
    /// Seed of the initial cloud (and of the uniform reference sample).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Optimizer steps (default: each experiment's own, 3000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    steps: Option<u64>,
    /// Output folder for results.json and the PNG histograms.
    #[arg(long, default_value = "target/point_cloud")]
    out: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        // The criteria's PASS/FAIL lines are on stderr already.
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the experiments: whether every criterion passed.
fn run(args: Args) -> Result<bool, String> {
    let out_error = |e: &dyn std::fmt::Display| format!("--out {}: {e}", args.out.display());
    std::fs::create_dir_all(&args.out).map_err(|e| out_error(&e))?;
    let mut reports = Vec::new();
    if matches!(args.experiment, Experiment::Simplex | Experiment::Both) {
        let mut config = tregs_examples::point_cloud::CloudConfig::simplex();
        config.seed = args.seed;
        if let Some(steps) = args.steps {
            config.steps = steps as usize;
        }
        eprintln!(
            "simplex: n = {}, d = {}, {} steps ...",
            config.n, config.d, config.steps
        );
        reports.push(experiments::simplex(&config, Some(&args.out)).map_err(|e| out_error(&e))?);
    }
    if matches!(args.experiment, Experiment::Sphere | Experiment::Both) {
        let mut config = tregs_examples::point_cloud::CloudConfig::sphere();
        config.seed = args.seed;
        if let Some(steps) = args.steps {
            config.steps = steps as usize;
        }
        eprintln!(
            "sphere: n = {}, d = {}, {} steps ...",
            config.n, config.d, config.steps
        );
        reports.push(experiments::sphere(&config, Some(&args.out)).map_err(|e| out_error(&e))?);
    }

    // The human summary goes to stderr, so that stdout is exactly the JSON.
    for report in &reports {
        if let Report::Simplex(r) = report {
            eprintln!(
                "simplex: mean pairwise cosine {:.5} (target {:.5}), std {:.5}, norms {:.5}..{:.5}",
                r.cosine.mean, r.target_mean_cosine, r.cosine.std, r.norms.min, r.norms.max
            );
        }
        if let Report::Sphere(r) = report {
            eprintln!(
                "sphere: uniformity of the final cloud {:.4}, of a uniform sample {:.4} \
                 (infinite-sample limit {})",
                r.uniformity,
                r.uniformity_uniform_sample,
                r.uniformity_uniform_limit
                    .map_or("n/a".to_string(), |u| format!("{u:.4}"))
            );
        }
        for check in report.checks() {
            eprintln!(
                "{}: {} {} (measured {:.6})",
                report.name(),
                if check.pass { "PASS" } else { "FAIL" },
                check.criterion,
                check.value
            );
        }
    }
    let json = serde_json::to_string_pretty(&experiments::results_json(&reports))
        .expect("results serialize");
    tregs_examples::outln!("{json}");
    let path = args.out.join("results.json");
    tregs_examples::files::write_whole(&path, format!("{json}\n"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    // A plot of the experiment not run is an earlier run's; it is kept (nothing a run wrote
    // is deleted), but said to be stale, since results.json no longer describes it.
    let stale = match args.experiment {
        Experiment::Simplex => Some("sphere_cosines.png"),
        Experiment::Sphere => Some("simplex_cosines.png"),
        Experiment::Both => None,
    };
    if let Some(name) = stale.filter(|name| args.out.join(name).exists()) {
        eprintln!(
            "note: {} is from an earlier run (this run's results.json does not cover it)",
            args.out.join(name).display()
        );
    }
    Ok(reports.iter().all(Report::passed))
}
