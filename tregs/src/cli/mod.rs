//! The `tregs` command line: `tregs eval` (a loss on points read from `.npy` files) and
//! `tregs bench` (timing and memory of the T-REGS objective on the CPU).
//!
//! Exit status: 0 on success, 1 when the command fails (the reason on stderr, one line
//! except for expression errors, which add the expression and a caret), 2 for a malformed
//! command line.

pub mod alloc;
mod bench;
mod eval;
pub mod npy;

use clap::{Parser, Subcommand};
use std::fmt;
use std::process::ExitCode;
use tregs::Primitive;

/// The T-REGS objective with its usual coefficients, as `--coef` arguments.
pub const TREGS_OBJECTIVE: &str =
    "β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))";

#[derive(Debug, Parser)]
#[command(
    name = "tregs",
    version,
    about = "Regularized self-supervised losses (T-REGS: minimum-spanning-tree length + sphere constraint), evaluated on points from .npy files",
    after_help = reference_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a loss expression on one or two point clouds read from .npy files.
    #[command(after_help = reference_help())]
    Eval(eval::EvalArgs),
    /// Time the two-view T-REGS objective (forward + backward) on random data.
    Bench(bench::BenchArgs),
}

/// The primitives table and the grammar in brief, for `--help`.
pub fn reference_help() -> String {
    // `eval` binds two matrices; `clip_scaled`'s third input, a learnable 1×1 tensor, is
    // for training code (`loss!`, `RuntimeLoss`).
    let rows: Vec<(String, &str)> = Primitive::ALL
        .iter()
        .filter(|&&p| p != Primitive::ClipScaled)
        .map(|p| (p.signature(), p.formula()))
        .collect();
    let width = rows
        .iter()
        .map(|(s, _)| s.chars().count())
        .max()
        .unwrap_or(0);
    let mut text =
        String::from("Primitives (the terms of a loss; z has n rows of d coordinates):\n");
    for (signature, formula) in rows {
        text.push_str(&format!("  {signature:width$}  {formula}\n"));
    }
    text.push_str(
        "\nA loss is a weighted sum of terms: numbers, named coefficients given with\n\
         --coef NAME=VALUE (Greek names may be spelled in ASCII: β or beta), +, -, * and\n\
         parentheses. `z` is the matrix from --points, `z2` the one from --points2.\n\
         (`clip_scaled(a, b, s)`, whose s is a learnable tensor, is for training code.)\n\
         \nExample, the T-REGS objective:\n  \
         tregs eval --points z.npy --points2 z2.npy \\\n    \
         --loss \"β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))\" \\\n    \
         --coef beta=10 --coef gamma=0.2 --coef lambda=8e-4",
    );
    text
}

/// Where a command computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// burn's Flex: pure-Rust CPU backend, f32 or f64.
    Flex,
    /// cubecl kernels over wgpu (Vulkan, Metal, DX12), f32; needs the `wgpu` feature.
    Wgpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The autodiff device of this backend, or why it is unavailable.
    pub fn device(self) -> Result<burn::tensor::Device, CliError> {
        match self {
            Backend::Flex => Ok(burn::tensor::Device::flex().autodiff()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(tregs::wgpu_device()?.autodiff()),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(CliError::new(
                "--backend wgpu: this tregs was built without the `wgpu` feature; rebuild \
                 with `cargo build --release -p tregs --features wgpu`",
            )),
        }
    }

    /// Waits for the device to finish its queued work (timing).
    pub fn sync(device: &burn::tensor::Device) -> Result<(), CliError> {
        device
            .sync()
            .map_err(|e| CliError::new(format!("the device failed: {e}")))
    }
}

/// `--distance`: makes `method` the one of every GPU evaluation of this process, checked
/// against the device the command runs on ([`tregs::use_distance_method`]).
pub fn use_distance(
    method: tregs::DistanceMethod,
    device: &burn::tensor::Device,
) -> Result<(), CliError> {
    tregs::use_distance_method(method, device)
        .map_err(|e| CliError::new(format!("--distance {method}: {e}")))
}

/// A failed command: the message printed after `error: `.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError {
    message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<tregs::LossError> for CliError {
    fn from(e: tregs::LossError) -> CliError {
        CliError::new(e.to_string())
    }
}

/// Parses the command line, runs the command, reports a failure on stderr.
pub fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rust starts programs with SIGPIPE ignored, so that printing to a closed pipe
/// (`tregs eval … | head -c0`) is an error, which `println!` turns into a panic. A command
/// line tool should stop quietly there, as `cat` does: the default action ends the process
/// when the reader has gone. (Files are written before anything is printed, and atomically,
/// so nothing is left half written.)
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default has no preconditions; no other
    // thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Writes a JSON object with its keys in the given order (`serde_json`'s map would sort
/// them; terms read best in expression order). Values are JSON text already.
pub(crate) fn json_object(entries: &[(String, String)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_string(k)))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A finite number as JSON (`null` otherwise, which JSON requires).
pub(crate) fn json_number(x: f64) -> String {
    serde_json::to_string(&x).expect("a number serializes")
}

/// Minimum and median of timings (the median of an even count is the mean of the middle two).
pub(crate) fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let k = sorted.len();
    let median = if k % 2 == 1 {
        sorted[k / 2]
    } else {
        (sorted[k / 2 - 1] + sorted[k / 2]) / 2.0
    };
    (sorted[0], median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn min_median_of_odd_and_even_counts() {
        assert_eq!(min_median(&[3.0, 1.0, 2.0]), (1.0, 2.0));
        assert_eq!(min_median(&[4.0, 1.0, 3.0, 2.0]), (1.0, 2.5));
    }

    #[test]
    fn json_object_keeps_the_order_and_escapes_keys() {
        let text = json_object(&[("b\"".into(), "1".into()), ("a".into(), json_number(0.5))]);
        assert_eq!(text, r#"{"b\"": 1, "a": 0.5}"#);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["a"], 0.5);
    }

    #[test]
    fn help_lists_every_primitive_eval_can_bind() {
        let help = reference_help();
        for p in Primitive::ALL {
            if *p == Primitive::ClipScaled {
                // Named in the note below the table: its third input is a learnable tensor.
                assert!(!help.contains(p.formula()), "{help}");
                assert!(help.contains("`clip_scaled(a, b, s)`"), "{help}");
                continue;
            }
            assert!(help.contains(&p.signature()), "{help}");
            assert!(help.contains(p.formula()), "{help}");
        }
    }
}
