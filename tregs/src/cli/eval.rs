//! `tregs eval`: one loss on points read from `.npy` files.
//!
//! Output, text or `--json`:
//!
//! ```text
//! {
//!   "n": 256, "d": 128, "dtype": "f32",          (of --points; "n2", "d2" of --points2)
//!   "terms": {"mse(z, z2)": 0.5, ...},           (UNWEIGHTED term values, expression order)
//!   "coefficients": {"mse(z, z2)": 10, ...},     (each term's coefficient)
//!   "total": 5.0,                                (Σ coefficient · value)
//!   "ms": {"min": .., "median": .., "runs": K},  (with --repeat K)
//!   "grad": "OUT.npy"                            (with --grad)
//! }
//! ```

use super::npy::{self, Elements, Matrix};
use super::{json_number, json_object, json_string, min_median, use_distance, Backend, CliError};
use burn::tensor::{DType, Device, Tensor, TensorData};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tregs::DistanceMethod;
use tregs::{LossOutput, Primitive, RuntimeLoss};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The points, bound to `z`: a 2-D f32 or f64 array of n rows (points) and d columns,
    /// C or Fortran order.
    #[arg(long, value_name = "FILE.npy")]
    points: PathBuf,

    /// A second view, bound to `z2` (e.g. for `mse(z, z2)`). If its dtype differs from
    /// --points, both are evaluated in f64.
    #[arg(long, value_name = "FILE2.npy")]
    points2: Option<PathBuf>,

    /// The loss expression, e.g. "β*mse(z, z2) + γ*mst_len(z) + λ*sphere(z)".
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    loss: String,

    /// The value of a coefficient named in the expression; repeat for each coefficient.
    #[arg(long = "coef", value_name = "NAME=VALUE")]
    coef: Vec<String>,

    /// Write the gradient of the total with respect to `z` to this .npy file (the shape and
    /// dtype of --points; all zeros if the loss does not read `z`). An existing file is
    /// replaced only when the whole command succeeds.
    #[arg(long, value_name = "OUT.npy")]
    grad: Option<PathBuf>,

    /// Print JSON: {"n", "d", "dtype", "terms": {name: unweighted value}, "coefficients":
    /// {name: coefficient}, "total"}, plus "ms" with --repeat and "grad" with --grad.
    #[arg(long)]
    json: bool,

    /// Time K more evaluations, forward plus backward, after the first: adds the minimum
    /// and median milliseconds ("ms").
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,

    /// Also print the batch metrics of `z` (and of `z2` with --points2, plus their alignment
    /// and modality gap): effective rank, uniformity, MST length and dimension, pairwise
    /// cosine mean and std (see `tregs::metrics`). Needs at least 2 points.
    #[arg(long)]
    metrics: bool,

    /// Where to compute: flex (CPU, f32 or f64 as the files) or wgpu (GPU kernels, f32:
    /// f64 files are converted; the gradient file keeps the dtype of --points).
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,

    /// How the GPU path computes distances: f32 (tregs's Gram kernel) or split-f16 (f16
    /// pieces and one matrix product, on tensor cores where the device has them). Needs
    /// --backend wgpu.
    #[arg(long, value_enum, default_value_t = DistanceMethod::F32)]
    distance: DistanceMethod,
}

/// One input file, as bound.
struct Input {
    name: &'static str,
    path: PathBuf,
    matrix: Matrix,
}

pub fn run(args: &EvalArgs) -> Result<(), CliError> {
    // Everything that needs no data first: a bad expression fails before a large file is read.
    let coefficients = parse_coefficients(&args.coef)?;
    let loss = RuntimeLoss::parse(&args.loss, &coefficients)?;
    // A `--coef` the expression never names is most likely a typo: say so (not an error).
    for name in loss.unread_coefficients() {
        eprintln!("warning: --coef {name} is not used by the loss");
    }
    let reads = |name: &str| loss.plan().inputs.iter().any(|i| i == name);
    // `clip_scaled`'s third tensor is a learnable logit scale: no points file is one.
    if let Some(term) = loss
        .plan()
        .terms
        .iter()
        .find(|t| t.primitive == Primitive::ClipScaled)
    {
        return Err(CliError::new(format!(
            "`{}`: `clip_scaled`'s logit scale is a learnable tensor, for training code \
             (`loss!`, `RuntimeLoss`); `tregs eval` has points only: use `clip(z, z2, τ = …)`",
            term.name
        )));
    }
    for name in &loss.plan().inputs {
        match name.as_str() {
            "z" => {}
            "z2" if args.points2.is_some() => {}
            "z2" => {
                return Err(CliError::new(
                    "the loss reads `z2`: give its points with --points2 FILE2.npy",
                ))
            }
            other => {
                return Err(CliError::new(format!(
                    "the loss reads `{other}`, which is not an input here: the inputs are `z` \
                     (--points) and `z2` (--points2)"
                )));
            }
        }
    }
    if args.points2.is_some() && !reads("z2") {
        if args.metrics {
            eprintln!("warning: the loss does not read `z2`; --points2 is used by --metrics only");
        } else {
            eprintln!("warning: the loss does not read `z2`; --points2 is ignored");
        }
    }
    if let Some(out) = &args.grad {
        let mut inputs = vec![("--points", args.points.as_path())];
        inputs.extend(args.points2.as_deref().map(|p| ("--points2", p)));
        npy::check_output("--grad", out, &inputs)?;
    }

    let mut inputs = vec![Input {
        name: "z",
        path: args.points.clone(),
        matrix: npy::read_matrix(&args.points)?,
    }];
    if let Some(path) = &args.points2 {
        inputs.push(Input {
            name: "z2",
            path: path.clone(),
            matrix: npy::read_matrix(path)?,
        });
    }
    for input in inputs.iter().filter(|i| reads(i.name)) {
        if let Some((pos, what)) = input.matrix.elements.first_non_finite() {
            let d = input.matrix.d;
            return Err(CliError::new(format!(
                "input `{}` ({}): {what} at row {}, column {}",
                input.name,
                input.path.display(),
                pos / d,
                pos % d
            )));
        }
    }

    let device = args.backend.device()?;
    use_distance(args.distance, &device)?;
    let in_f64 = args.backend == Backend::Flex
        && inputs
            .iter()
            .filter(|i| reads(i.name))
            .any(|i| matches!(i.matrix.elements, Elements::F64(_)));
    let tensors: Vec<Tensor<2>> = inputs
        .iter()
        .map(|i| to_tensor(&i.matrix, in_f64, &device))
        .collect();
    let bindings: Vec<(&str, &Tensor<2>)> = inputs
        .iter()
        .zip(&tensors)
        .map(|(i, t)| (i.name, t))
        .collect();

    let out = loss
        .evaluate(&bindings)
        .map_err(|e| naming_files(e, &inputs))?;
    let gradient = match &args.grad {
        Some(_) => Some(gradient_of_z(&out, &tensors[0], &inputs[0].matrix)?),
        None => None,
    };
    let timing = match args.repeat {
        Some(k) => Some(time_repeats(&loss, &bindings, &device, k)?),
        None => None,
    };
    if let (Some(path), Some(gradient)) = (&args.grad, &gradient) {
        npy::write_matrix_atomically(path, gradient)?;
    }

    let metrics = if args.metrics {
        Some(batch_metrics(&inputs)?)
    } else {
        None
    };
    let report = Report {
        metrics,
        backend: args.backend,
        inputs: &inputs,
        out: &out,
        timing,
        grad: args.grad.as_deref(),
        k: args.repeat.unwrap_or(0),
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

/// `--coef NAME=VALUE` items → the map [`RuntimeLoss::parse`] reads. Names are stored in
/// their ASCII spelling (`β` → `beta`), which the loss looks up for either spelling.
fn parse_coefficients(items: &[String]) -> Result<BTreeMap<String, f64>, CliError> {
    let mut map = BTreeMap::new();
    for item in items {
        let Some((name, value)) = item.split_once('=') else {
            return Err(CliError::new(format!(
                "--coef `{item}`: expected NAME=VALUE, e.g. --coef beta=10"
            )));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return Err(CliError::new(format!(
                "--coef `{item}`: the name is missing"
            )));
        }
        let number: f64 = value
            .parse()
            .map_err(|_| CliError::new(format!("--coef `{item}`: `{value}` is not a number")))?;
        if !number.is_finite() {
            return Err(CliError::new(format!(
                "--coef `{item}`: the value must be finite"
            )));
        }
        let key = tregs_macros_core::ascii_name(name);
        if map.insert(key.clone(), number).is_some() {
            return Err(CliError::new(format!("--coef: `{key}` is given twice")));
        }
    }
    Ok(map)
}

fn to_tensor(matrix: &Matrix, in_f64: bool, device: &Device) -> Tensor<2> {
    let shape = [matrix.n, matrix.d];
    // The dtype must be explicit: `from_data(data, device)` alone casts to the device's
    // default float type (f32).
    let (data, dtype) = match (&matrix.elements, in_f64) {
        (Elements::F32(v), false) => (TensorData::new(v.clone(), shape), DType::F32),
        (Elements::F64(v), false) => (
            TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), shape),
            DType::F32,
        ),
        (elements, _) => (TensorData::new(elements.to_f64(), shape), DType::F64),
    };
    Tensor::<2>::from_data(data, (device, dtype)).require_grad()
}

/// ∂ total / ∂ z, in the dtype of z's file.
fn gradient_of_z(out: &LossOutput, z: &Tensor<2>, file: &Matrix) -> Result<Matrix, CliError> {
    let grads = out.total().backward();
    let (n, d) = (file.n, file.d);
    let data = z.grad(&grads).map(Tensor::into_data);
    let elements = match (&file.elements, data) {
        (Elements::F32(_), Some(data)) => Elements::F32(
            data.convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| CliError::new(format!("cannot read the gradient: {e:?}")))?,
        ),
        (Elements::F64(_), Some(data)) => Elements::F64(
            data.convert::<f64>()
                .try_to_vec::<f64>()
                .map_err(|e| CliError::new(format!("cannot read the gradient: {e:?}")))?,
        ),
        // The loss does not read z: its gradient is zero.
        (Elements::F32(_), None) => Elements::F32(vec![0.0; n * d]),
        (Elements::F64(_), None) => Elements::F64(vec![0.0; n * d]),
    };
    let gradient = Matrix { n, d, elements };
    if let Some((pos, what)) = gradient.elements.first_non_finite() {
        // The terms are finite (checked by evaluate): one of them overflows in its backward.
        let terms: Vec<&str> = out.terms().iter().map(|t| t.name.as_str()).collect();
        return Err(CliError::new(format!(
            "the gradient of `z` is {what} at row {}, column {} although every term's value \
             is finite: the backward of one of {} overflows (a small temperature, or inputs \
             of a large scale); nothing written",
            pos / d,
            pos % d,
            terms.join(", ")
        )));
    }
    Ok(gradient)
}

/// The library names an input by its binding (`z`); the CLI adds the file it was read
/// from (an empty matrix, a shape mismatch, …).
fn naming_files(e: tregs::LossError, inputs: &[Input]) -> CliError {
    if let tregs::LossError::Input { input, problem } = &e {
        if let Some(file) = inputs.iter().find(|i| i.name == input) {
            return CliError::new(format!(
                "input `{input}` ({}): {problem}",
                file.path.display()
            ));
        }
    }
    e.into()
}

/// `k` evaluations, forward plus backward, in milliseconds.
fn time_repeats(
    loss: &RuntimeLoss,
    bindings: &[(&str, &Tensor<2>)],
    device: &Device,
    k: u32,
) -> Result<(f64, f64), CliError> {
    let mut ms = Vec::with_capacity(k as usize);
    for _ in 0..k {
        let start = Instant::now();
        let out = loss.evaluate(bindings)?;
        let grads = out.total().backward();
        // A GPU queues the backward: the time counts once it has run.
        Backend::sync(device)?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        drop(std::hint::black_box(grads));
    }
    Ok(min_median(&ms))
}

struct Report<'a> {
    metrics: Option<serde_json::Value>,
    backend: Backend,
    inputs: &'a [Input],
    out: &'a LossOutput,
    timing: Option<(f64, f64)>,
    grad: Option<&'a Path>,
    k: u32,
}

impl Report<'_> {
    fn json(&self) -> String {
        let mut fields: Vec<(String, String)> = Vec::new();
        fields.push(("backend".into(), json_string(self.backend.name())));
        for (input, suffix) in self.inputs.iter().zip(["", "2"]) {
            fields.push((format!("n{suffix}"), input.matrix.n.to_string()));
            fields.push((format!("d{suffix}"), input.matrix.d.to_string()));
            fields.push((
                format!("dtype{suffix}"),
                json_string(input.matrix.elements.dtype_name()),
            ));
        }
        let terms = self.out.terms();
        let by_term = |f: &dyn Fn(&tregs::TermValue) -> f64| {
            json_object(
                &terms
                    .iter()
                    .map(|t| (t.name.clone(), json_number(f(t))))
                    .collect::<Vec<_>>(),
            )
        };
        fields.push(("terms".into(), by_term(&|t| t.value)));
        fields.push(("coefficients".into(), by_term(&|t| t.coef)));
        fields.push(("total".into(), json_number(self.out.total_value())));
        if let Some((min, median)) = self.timing {
            fields.push((
                "ms".into(),
                json_object(&[
                    ("min".into(), json_number(min)),
                    ("median".into(), json_number(median)),
                    ("runs".into(), self.k.to_string()),
                ]),
            ));
        }
        if let Some(path) = self.grad {
            fields.push(("grad".into(), json_string(&path.display().to_string())));
        }
        if let Some(metrics) = &self.metrics {
            fields.push(("metrics".into(), metrics.to_string()));
        }
        let lines: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("  {}: {v}", json_string(k)))
            .collect();
        format!("{{\n{}\n}}", lines.join(",\n"))
    }

    fn text(&self) -> String {
        let mut text = String::new();
        for input in self.inputs {
            text.push_str(&format!(
                "{:<2} = {}: {} x {}, {}\n",
                input.name,
                input.path.display(),
                input.matrix.n,
                input.matrix.d,
                input.matrix.elements.dtype_name()
            ));
        }
        let mut rows: Vec<[String; 4]> = vec![[
            "term".into(),
            "coefficient".into(),
            "value".into(),
            "weighted".into(),
        ]];
        for t in self.out.terms() {
            rows.push([
                t.name.clone(),
                t.coef.to_string(),
                t.value.to_string(),
                t.weighted().to_string(),
            ]);
        }
        rows.push([
            "total".into(),
            String::new(),
            String::new(),
            self.out.total_value().to_string(),
        ]);
        let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
        let widths = [width(0), width(1), width(2), width(3)];
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        if let Some((min, median)) = self.timing {
            text.push_str(&format!(
                "time, forward + backward, {} runs: min {min:.3} ms, median {median:.3} ms\n",
                self.k
            ));
        }
        if let Some(path) = self.grad {
            let z = &self.inputs[0].matrix;
            text.push_str(&format!(
                "gradient of the total with respect to z: {} ({} x {}, {})\n",
                path.display(),
                z.n,
                z.d,
                z.elements.dtype_name()
            ));
        }
        if let Some(serde_json::Value::Object(metrics)) = &self.metrics {
            for (name, value) in metrics {
                match value {
                    serde_json::Value::Object(fields) => {
                        let list: Vec<String> =
                            fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
                        text.push_str(&format!("metrics of {name}: {}\n", list.join(", ")));
                    }
                    other => text.push_str(&format!("{name}: {other}\n")),
                }
            }
        }
        text
    }
}

/// `--metrics`: every input's batch metrics, and with two inputs of the same shape their
/// alignment and modality gap.
fn batch_metrics(inputs: &[Input]) -> Result<serde_json::Value, CliError> {
    let mut out = serde_json::Map::new();
    let host: Vec<Vec<f64>> = inputs.iter().map(|i| i.matrix.elements.to_f64()).collect();
    for (input, data) in inputs.iter().zip(&host) {
        let (n, d) = (input.matrix.n, input.matrix.d);
        if n < 2 {
            return Err(CliError::new(format!(
                "--metrics needs at least 2 points; `{}` ({}) has {n}",
                input.name,
                input.path.display()
            )));
        }
        let metrics = tregs::metrics::BatchMetrics::of(data, n, d);
        out.insert(
            input.name.to_string(),
            serde_json::to_value(metrics).expect("metrics serialize"),
        );
    }
    if let [a, b] = inputs {
        let (n, d) = (a.matrix.n, a.matrix.d);
        if b.matrix.d == d {
            let gap = tregs::metrics::modality_gap(&host[0], n, &host[1], b.matrix.n, d);
            out.insert("modality_gap".into(), serde_json::json!(gap));
        }
        if b.matrix.n == n && b.matrix.d == d {
            let alignment = tregs::metrics::alignment(&host[0], &host[1], n, d, 2.0);
            out.insert("alignment".into(), serde_json::json!(alignment));
        }
    }
    Ok(serde_json::Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_parse_and_take_their_ascii_spelling() {
        let items = [
            "β=10".to_string(),
            " gamma = 0.2 ".to_string(),
            "λ=8e-4".to_string(),
        ];
        let map = parse_coefficients(&items).unwrap();
        assert_eq!(map.get("beta"), Some(&10.0));
        assert_eq!(map.get("gamma"), Some(&0.2));
        assert_eq!(map.get("lambda"), Some(&8e-4));
    }

    #[test]
    fn malformed_coefficients_are_refused() {
        for (item, needle) in [
            ("beta", "expected NAME=VALUE"),
            ("=3", "name is missing"),
            ("beta=ten", "is not a number"),
            ("beta=inf", "must be finite"),
        ] {
            let err = parse_coefficients(&[item.to_string()])
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{item}: {err}");
        }
        let twice = ["β=1".to_string(), "beta=2".to_string()];
        let err = parse_coefficients(&twice).unwrap_err().to_string();
        assert!(err.contains("given twice"), "{err}");
    }
}
