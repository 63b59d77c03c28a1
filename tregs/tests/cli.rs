//! The `tregs` binary end to end: `.npy` files written here, the binary run on them, its
//! output checked against values computed independently in the test.

mod common;

use npyz::WriterBuilder;
use serde_json::Value;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TREGS: &str = "β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))";
const COEFS: [&str; 6] = [
    "--coef",
    "β=10",
    "--coef",
    "gamma=0.2",
    "--coef",
    "lambda=8e-4",
];

fn tregs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tregs"))
        .args(args)
        .output()
        .expect("the tregs binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs a command that must succeed and returns its parsed `--json` output.
fn json(args: &[&str]) -> Value {
    let out = tregs(args);
    assert!(
        out.status.success(),
        "tregs {args:?} failed: {}",
        stderr(&out)
    );
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    data: &[T],
    order: npyz::Order,
) {
    let file = BufWriter::new(File::create(path).unwrap());
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(file)
        .begin_nd()
        .unwrap();
    writer.extend(data.iter().copied()).unwrap();
    writer.finish().unwrap();
}

fn write_f32(path: &Path, n: usize, d: usize, data: &[f32]) {
    write_npy(path, &[n as u64, d as u64], data, npyz::Order::C);
}

fn write_f64(path: &Path, n: usize, d: usize, data: &[f64]) {
    write_npy(path, &[n as u64, d as u64], data, npyz::Order::C);
}

/// A `.npy` file's dtype string, shape and values (as f64).
fn read_npy(path: &Path) -> (String, Vec<u64>, Vec<f64>) {
    let npy = npyz::NpyFile::new(File::open(path).unwrap()).unwrap();
    let dtype = npy.dtype().descr();
    let shape = npy.shape().to_vec();
    let values = if dtype.contains("f4") {
        npy.into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    } else {
        npy.into_vec::<f64>().unwrap()
    };
    (dtype, shape, values)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Three collinear points at 0, 1 and 3 on the first axis: the tree is 0-1-3, of length 3.
const LINE: [f32; 6] = [0.0, 0.0, 1.0, 0.0, 3.0, 0.0];
/// A second view of the same shape.
const LINE2: [f32; 6] = [0.5, 1.0, 1.0, -1.0, 2.0, 0.0];

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn f32(&self, name: &str, n: usize, d: usize, data: &[f32]) -> PathBuf {
        let path = self.path(name);
        write_f32(&path, n, d, data);
        path
    }

    fn f64(&self, name: &str, n: usize, d: usize, data: &[f64]) -> PathBuf {
        let path = self.path(name);
        write_f64(&path, n, d, data);
        path
    }

    /// Every file name in the directory (to see that no temporary file is left behind).
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

#[test]
fn two_view_json_matches_values_computed_here() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let v = json(&[
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--json",
        "--loss",
        "β*mse(z, z2) + γ*mst_len(z) + λ*sphere(z) - sphere(z2)",
        "--coef",
        "β=10",
        "--coef",
        "gamma=0.5",
        "--coef",
        "λ=2",
    ]);
    let mse = LINE
        .iter()
        .zip(&LINE2)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / 6.0;
    // Tree 0-1-3 of length 3 over n = 3 points: L_E = -3/3.
    let mst = -1.0;
    // Norms 0, 1, 3: ((0-1)² + 0 + (3-1)²) / 3.
    let sphere = 5.0 / 3.0;
    let norms2: Vec<f64> = LINE2
        .chunks(2)
        .map(|r| ((r[0] * r[0] + r[1] * r[1]) as f64).sqrt())
        .collect();
    let sphere2 = norms2.iter().map(|r| (r - 1.0).powi(2)).sum::<f64>() / 3.0;

    let close = |got: &Value, want: f64| {
        let got = got
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {got}"));
        assert!(
            (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    };
    let terms = &v["terms"];
    assert_eq!(terms.as_object().unwrap().len(), 4, "{v}");
    close(&terms["mse(z, z2)"], mse);
    assert_eq!(
        terms["mst_len(z)"].as_f64(),
        Some(mst),
        "exact for this tree: {v}"
    );
    close(&terms["sphere(z)"], sphere);
    close(&terms["sphere(z2)"], sphere2);
    let coefs = &v["coefficients"];
    assert_eq!(coefs["mse(z, z2)"].as_f64(), Some(10.0));
    assert_eq!(coefs["mst_len(z)"].as_f64(), Some(0.5));
    assert_eq!(coefs["sphere(z)"].as_f64(), Some(2.0));
    assert_eq!(coefs["sphere(z2)"].as_f64(), Some(-1.0));
    close(&v["total"], 10.0 * mse + 0.5 * mst + 2.0 * sphere - sphere2);
    assert_eq!((v["n"].as_u64(), v["d"].as_u64()), (Some(3), Some(2)));
    assert_eq!(v["dtype"], "f32");
    assert!(v.get("ms").is_none() && v.get("grad").is_none(), "{v}");
}

/// The line of the text output that starts with `start` (a term name or `total`).
fn line_starting<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{text}"))
}

#[test]
fn text_output_lists_each_term_with_its_coefficient_and_the_total() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "0.25*mst_len(z) + sphere(z)",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |start: &str| {
        line_starting(&text, start)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // name, coefficient, value, weighted
    assert_eq!(
        line("mst_len(z)"),
        ["mst_len(z)", "0.25", "-1", "-0.25"],
        "{text}"
    );
    assert_eq!(line("sphere(z)")[1], "1", "{text}");
    let total: f64 = line("total")[1].parse().unwrap();
    assert!((total - (-0.25 + 5.0 / 3.0)).abs() < 1e-6, "{text}");
    assert!(text.contains("3 x 2, f32"), "{text}");
}

#[test]
fn scoped_terms_evaluate_on_the_file_as_one_process_holds_it() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "0.25*mst_len(z, scope = global) + 0.5*mst_len(z, scope = sharded)",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for name in ["mst_len(z, scope = global)", "mst_len(z, scope = sharded)"] {
        let line = line_starting(&text, name);
        assert!(line.contains(" -1 "), "{line}");
    }
    let bad = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z, scope = global)",
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("takes no `scope`"),
        "{}",
        stderr(&bad)
    );
}

/// A cloud in general position: its tree is unique and stays so under small moves.
fn generic_cloud(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut next_word = common::xorshift(seed);
    (0..n * d)
        .map(|_| {
            let state = next_word();
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn total_of(files: &Files, z: &[f64], z2: &Path, n: usize, d: usize) -> f64 {
    let path = files.f64("probe.npy", n, d, z);
    let mut args = vec![
        "eval",
        "--points",
        p(&path),
        "--points2",
        p(z2),
        "--json",
        "--loss",
        TREGS,
    ];
    args.extend(COEFS);
    json(&args)["total"].as_f64().unwrap()
}

#[test]
fn gradient_file_matches_central_finite_differences_of_the_total() {
    let (n, d) = (5, 3);
    let files = Files::new();
    let x = generic_cloud(n, d, 3);
    let z = files.f64("z.npy", n, d, &x);
    let z2 = files.f64("z2.npy", n, d, &generic_cloud(n, d, 4));
    let grad = files.path("grad.npy");
    let mut args = vec![
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        TREGS,
        "--grad",
        p(&grad),
        "--json",
    ];
    args.extend(COEFS);
    let v = json(&args);
    assert_eq!(v["grad"], p(&grad));
    let (dtype, shape, g) = read_npy(&grad);
    assert!(dtype.contains("f8"), "f64 in, f64 out: {dtype}");
    assert_eq!(shape, [n as u64, d as u64]);

    let h = 1e-6;
    for k in 0..n * d {
        let mut plus = x.clone();
        plus[k] += h;
        let mut minus = x.clone();
        minus[k] -= h;
        let fd =
            (total_of(&files, &plus, &z2, n, d) - total_of(&files, &minus, &z2, n, d)) / (2.0 * h);
        assert!(
            (g[k] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
            "element {k} (row {}, column {}): gradient file {} vs finite difference {fd}",
            k / d,
            k % d,
            g[k]
        );
    }

    // The same points in f32: an f32 gradient file with the same values (to f32 precision).
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let z32 = files.f32("z32.npy", n, d, &x32);
    let z2_32: Vec<f32> = generic_cloud(n, d, 4).iter().map(|&v| v as f32).collect();
    let z2_32 = files.f32("z2_32.npy", n, d, &z2_32);
    let grad32 = files.path("grad32.npy");
    let mut args = vec![
        "eval",
        "--points",
        p(&z32),
        "--points2",
        p(&z2_32),
        "--loss",
        TREGS,
        "--grad",
        p(&grad32),
    ];
    args.extend(COEFS);
    let out = tregs(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let (dtype, shape, g32) = read_npy(&grad32);
    assert!(dtype.contains("f4"), "f32 in, f32 out: {dtype}");
    assert_eq!(shape, [n as u64, d as u64]);
    for (a, b) in g32.iter().zip(&g) {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "f32 {a} vs f64 {b}"
        );
    }
}

#[test]
fn gradient_of_a_loss_that_does_not_read_z_is_zero() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let grad = files.path("g.npy");
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "sphere(z2)",
        "--grad",
        p(&grad),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, shape, g) = read_npy(&grad);
    assert_eq!(shape, [3, 2]);
    assert!(g.iter().all(|&v| v == 0.0), "{g:?}");
}

#[test]
fn a_successful_run_replaces_an_existing_gradient_file() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let grad = files.path("g.npy");
    std::fs::write(&grad, b"old contents").unwrap();
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "mst_len(z)",
        "--grad",
        p(&grad),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, shape, g) = read_npy(&grad);
    assert_eq!(shape, [3, 2]);
    // L_E = -(1/3)(|z1 - z0| + |z2 - z1|): ∂/∂z0 = -(1/3)(z0 - z1)/1 = (1/3, 0), ∂/∂z1 = (-1/3 + 1/3, 0) ... see below.
    // Edge (0,1) pulls z0 left and z1 right; edge (1,2) pulls z1 left and z2 right.
    let third = 1.0 / 3.0;
    let want = [third, 0.0, 0.0, 0.0, -third, 0.0];
    for (a, b) in g.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{g:?} vs {want:?}");
    }
    assert_eq!(
        files.listing(),
        ["g.npy", "z.npy"],
        "no temporary file left"
    );
}

/// `--grad` never destroys an input or a non-file: the output path naming an input (by
/// its own name, a symlink or a hard link) or a device is refused before any work, and
/// through a symlink the file it points to is replaced, the link kept.
#[test]
fn the_gradient_never_replaces_an_input_a_link_or_a_device() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let original = std::fs::read(&z).unwrap();
    let original2 = std::fs::read(&z2).unwrap();
    let z_link = files.path("z-link.npy");
    std::os::unix::fs::symlink(&z, &z_link).unwrap();
    let z2_hard = files.path("z2-hard.npy");
    std::fs::hard_link(&z2, &z2_hard).unwrap();
    for (out, input) in [
        (&z, "--points"),
        (&z_link, "--points"),
        (&z2_hard, "--points2"),
    ] {
        let result = tregs(&[
            "eval",
            "--points",
            p(&z),
            "--points2",
            p(&z2),
            "--loss",
            "mse(z, z2)",
            "--grad",
            p(out),
        ]);
        assert_eq!(
            result.status.code(),
            Some(1),
            "{out:?}: {}",
            stderr(&result)
        );
        let message = stderr(&result);
        assert!(
            message.contains("refusing to overwrite an input") && message.contains(input),
            "{message}"
        );
    }
    assert_eq!(std::fs::read(&z).unwrap(), original, "--points untouched");
    assert_eq!(
        std::fs::read(&z2).unwrap(),
        original2,
        "--points2 untouched"
    );

    // A device: refused, and still a device afterwards.
    let result = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z)",
        "--grad",
        "/dev/null",
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("not a regular file"),
        "{}",
        stderr(&result)
    );
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());

    // Through a symlink to an earlier gradient: the target is rewritten, the link stays.
    let target = files.path("g.npy");
    std::fs::write(&target, b"old").unwrap();
    let link = files.path("g-link.npy");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let result = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z)",
        "--grad",
        p(&link),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(link.is_symlink(), "the link is kept");
    let (_, shape, _) = read_npy(&target);
    assert_eq!(shape, [3, 2]);
}

#[test]
fn repeat_adds_the_timing_of_forward_plus_backward() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let mut args = vec![
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        TREGS,
        "--json",
        "--repeat",
        "3",
    ];
    args.extend(COEFS);
    let v = json(&args);
    let (min, median) = (
        v["ms"]["min"].as_f64().unwrap(),
        v["ms"]["median"].as_f64().unwrap(),
    );
    assert!(min > 0.0 && min <= median, "{v}");
    assert_eq!(v["ms"]["runs"], 3);

    let text_args: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let out = tregs(&text_args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 runs: min "), "{}", stdout(&out));

    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z)",
        "--repeat",
        "0",
    ]);
    assert!(!out.status.success(), "--repeat 0 is refused");
}

#[test]
fn f64_and_fortran_order_inputs_give_the_f32_c_order_results() {
    let files = Files::new();
    let (n, d) = (6, 4);
    let x = generic_cloud(n, d, 11);
    let y = generic_cloud(n, d, 12);
    let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let run = |z: &Path, z2: &Path| {
        let mut args = vec![
            "eval",
            "--points",
            p(z),
            "--points2",
            p(z2),
            "--loss",
            TREGS,
            "--json",
        ];
        args.extend(COEFS);
        json(&args)
    };
    let c32 = run(
        &files.f32("a.npy", n, d, &to32(&x)),
        &files.f32("b.npy", n, d, &to32(&y)),
    );
    // f64 inputs hold the same (f32-representable) values.
    let xr: Vec<f64> = to32(&x).iter().map(|&a| a as f64).collect();
    let yr: Vec<f64> = to32(&y).iter().map(|&a| a as f64).collect();
    let c64 = run(
        &files.f64("a64.npy", n, d, &xr),
        &files.f64("b64.npy", n, d, &yr),
    );
    assert_eq!(c64["dtype"], "f64");
    // Fortran order: the same matrices stored column by column.
    let fortran = |v: &[f64], name: &str| {
        let cols: Vec<f64> = (0..n * d).map(|k| v[(k % n) * d + k / n]).collect();
        let path = files.path(name);
        write_npy(&path, &[n as u64, d as u64], &cols, npyz::Order::Fortran);
        path
    };
    let f64f = run(&fortran(&xr, "af.npy"), &fortran(&yr, "bf.npy"));
    // Mixed dtypes evaluate in f64.
    let mixed = run(&files.path("a.npy"), &files.path("b64.npy"));
    for other in [&c64, &f64f, &mixed] {
        for (name, value) in c32["terms"].as_object().unwrap() {
            let (a, b) = (
                value.as_f64().unwrap(),
                other["terms"][name].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                "{name}: {a} vs {b}"
            );
        }
    }
    assert_eq!(
        f64f["terms"], c64["terms"],
        "Fortran order reads the same matrix"
    );
    assert_eq!(mixed["terms"], c64["terms"], "mixed dtypes evaluate in f64");
}

#[test]
fn f64_inputs_are_computed_in_f64() {
    // Views 1e-9 apart: in f32 they are the same numbers and the MSE is 0.
    let files = Files::new();
    let z = files.f64("z.npy", 2, 1, &[1.0, 2.0]);
    let z2 = files.f64("z2.npy", 2, 1, &[1.0 + 1e-9, 2.0 - 1e-9]);
    let grad = files.path("g.npy");
    let v = json(&[
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "mse(z, z2)",
        "--json",
        "--grad",
        p(&grad),
    ]);
    let mse = v["terms"]["mse(z, z2)"].as_f64().unwrap();
    assert!((mse / 1e-18 - 1.0).abs() < 1e-6, "f64 MSE 1e-18, got {mse}");
    assert_eq!(v["dtype"], "f64");
    let (dtype, _, g) = read_npy(&grad);
    assert!(dtype.contains("f8"), "{dtype}");
    // ∂MSE/∂z = (2/2)(z - z2) = (-1e-9, 1e-9).
    assert!(
        (g[0] + 1e-9).abs() < 1e-15 && (g[1] - 1e-9).abs() < 1e-15,
        "{g:?}"
    );
}

/// Runs a command that must fail with `expected` in its message: it exits non-zero, says
/// so on stderr (in one line unless `multi_line`), and writes no `--grad` file: none is
/// created, and an existing one keeps its contents.
fn assert_fails(files: &Files, args: &[&str], expected: &str, multi_line: bool) {
    let before = files.listing();
    let fresh = files.path("fresh-grad.npy");
    let mut with_grad = args.to_vec();
    with_grad.extend(["--grad", p(&fresh)]);
    let out = tregs(&with_grad);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "tregs {args:?} succeeded:\n{}",
        stdout(&out)
    );
    assert!(
        err.contains(expected),
        "tregs {args:?}: expected {expected:?} in\n{err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    if !multi_line {
        assert_eq!(err.trim_end().lines().count(), 1, "one line:\n{err}");
    }
    assert!(
        stdout(&out).is_empty(),
        "no partial output: {}",
        stdout(&out)
    );
    assert!(!fresh.exists(), "no gradient file after a failure");
    assert_eq!(files.listing(), before, "no file left behind");

    let existing = files.path("existing-grad.npy");
    std::fs::write(&existing, b"keep me").unwrap();
    let mut with_existing = args.to_vec();
    with_existing.extend(["--grad", p(&existing)]);
    let out = tregs(&with_existing);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&existing).unwrap(),
        b"keep me",
        "existing file untouched"
    );
    std::fs::remove_file(&existing).unwrap();
}

#[test]
fn a_missing_file_is_an_error() {
    let files = Files::new();
    let missing = files.path("missing.npy");
    assert_fails(
        &files,
        &["eval", "--points", p(&missing), "--loss", "sphere(z)"],
        "cannot read",
        false,
    );
    assert_fails(
        &files,
        &["eval", "--points", p(&missing), "--loss", "sphere(z)"],
        "No such file",
        false,
    );
}

#[test]
fn a_file_that_is_not_npy_is_an_error() {
    let files = Files::new();
    let text = files.path("points.csv");
    std::fs::write(&text, "0,0\n1,0\n3,0\n").unwrap();
    assert_fails(
        &files,
        &["eval", "--points", p(&text), "--loss", "sphere(z)"],
        "is not a .npy file",
        false,
    );
    let empty = files.path("empty.npy");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(
        &files,
        &["eval", "--points", p(&empty), "--loss", "sphere(z)"],
        "is not a .npy file",
        false,
    );
}

#[test]
fn a_truncated_npy_file_is_an_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let bytes = std::fs::read(&z).unwrap();
    std::fs::write(&z, &bytes[..bytes.len() - 4]).unwrap();
    assert_fails(
        &files,
        &["eval", "--points", p(&z), "--loss", "sphere(z)"],
        "z.npy is truncated: its header declares 3 x 2 values of 4 bytes (24 bytes after the \
         header) and the file has",
        false,
    );
}

#[test]
fn an_empty_matrix_names_its_file() {
    let files = Files::new();
    let empty = files.f32("none.npy", 0, 8, &[]);
    assert_fails(
        &files,
        &["eval", "--points", p(&empty), "--loss", "sphere(z)"],
        "input `z` (",
        false,
    );
    assert_fails(
        &files,
        &["eval", "--points", p(&empty), "--loss", "sphere(z)"],
        "none.npy): is empty (0x8)",
        false,
    );
}

/// A temperature so small that the exponentials overflow: the message names the term and
/// its options, not only the inputs.
#[test]
fn an_overflowing_temperature_points_at_the_options() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let args = [
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "nt_xent(z, z2, τ = 1e-30)",
    ];
    // The value is finite; the gradient overflows (assert_fails asks for --grad).
    assert_fails(
        &files,
        &args,
        "the gradient of `z` is Inf at row 0, column 0",
        false,
    );
    assert_fails(&files, &args, "nt_xent(z, z2, τ = 1e-30)", false);
    // Below f32's range the temperature is 0 and the value itself overflows.
    let args = [
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "nt_xent(z, z2, τ = 1e-300)",
    ];
    assert_fails(&files, &args, "nt_xent", false);
    assert_fails(
        &files,
        &args,
        "check its options (τ) or rescale the inputs",
        false,
    );
}

#[test]
fn points2_read_by_metrics_only_says_so() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "sphere(z)",
        "--metrics",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--points2 is used by --metrics only"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("metrics of z2"), "{}", stdout(&out));
}

#[test]
fn an_array_that_is_not_2d_is_an_error() {
    let files = Files::new();
    let cube = files.path("cube.npy");
    write_npy(&cube, &[2, 2, 2], &[0.0f32; 8], npyz::Order::C);
    assert_fails(
        &files,
        &["eval", "--points", p(&cube), "--loss", "sphere(z)"],
        "holds a 3-D array (2 x 2 x 2)",
        false,
    );
    let line = files.path("line.npy");
    write_npy(&line, &[4], &[0.0f32; 4], npyz::Order::C);
    assert_fails(
        &files,
        &["eval", "--points", p(&line), "--loss", "sphere(z)"],
        "holds a 1-D array (4)",
        false,
    );
}

#[test]
fn an_array_that_is_not_float_is_an_error() {
    let files = Files::new();
    let ints = files.path("ints.npy");
    write_npy(&ints, &[3, 2], &[0i32, 0, 1, 0, 3, 0], npyz::Order::C);
    assert_fails(
        &files,
        &["eval", "--points", p(&ints), "--loss", "sphere(z)"],
        "has dtype <i4",
        false,
    );
}

#[test]
fn nan_or_inf_is_an_error_naming_the_row() {
    let files = Files::new();
    let mut bad = LINE;
    bad[3] = f32::NAN;
    let z = files.f32("z.npy", 3, 2, &bad);
    let msg = format!("input `z` ({}): NaN at row 1, column 1", p(&z));
    assert_fails(
        &files,
        &["eval", "--points", p(&z), "--loss", "mst_len(z)"],
        &msg,
        false,
    );

    let good = files.f32("good.npy", 3, 2, &LINE);
    let mut bad2 = LINE2;
    bad2[4] = f32::NEG_INFINITY;
    let z2 = files.f32("z2.npy", 3, 2, &bad2);
    let args = [
        "eval",
        "--points",
        p(&good),
        "--points2",
        p(&z2),
        "--loss",
        "mse(z, z2)",
    ];
    assert_fails(&files, &args, "input `z2`", false);
    assert_fails(&files, &args, "Inf at row 2, column 0", false);
}

#[test]
fn a_shape_mismatch_is_an_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 2, 3, &LINE2);
    let args = [
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "mse(z, z2)",
    ];
    assert_fails(
        &files,
        &args,
        "mse(z, z2): shape mismatch 3x2 vs 2x3",
        false,
    );
}

#[test]
fn a_tree_of_one_point_is_an_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 1, 2, &[1.0, 2.0]);
    assert_fails(
        &files,
        &["eval", "--points", p(&z), "--loss", "mst_len(z)"],
        "mst_len(z): needs at least 2 points for a tree; `z` has 1 row",
        false,
    );
}

#[test]
fn an_unknown_term_is_the_grammar_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let args = [
        "eval",
        "--points",
        p(&z),
        "--loss",
        "mst_length(z) + sphere(z)",
    ];
    assert_fails(&files, &args, "1:1:", true);
    assert_fails(&files, &args, "mst_length", true);
    assert_fails(&files, &args, "mst_len", true);
    // The expression and a caret under the unknown name.
    let err = stderr(&tregs(&args));
    assert!(
        err.contains("  mst_length(z) + sphere(z)\n  ^^^^^^^^^^"),
        "{err}"
    );
    // A grammar error is found before any file is read.
    let missing = files.path("missing.npy");
    assert_fails(
        &files,
        &["eval", "--points", p(&missing), "--loss", "mst_length(z)"],
        "mst_length",
        true,
    );
}

/// A Rust expression as a coefficient, valid in `loss!`, is refused at run time with the
/// reason, not with the macro's hint to add the parentheses it already has.
#[test]
fn a_rust_expression_coefficient_at_run_time_says_it_is_macro_only() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    for (loss, column) in [
        ("(1.0 / 2.0)*sphere(z)", "1:1:"),
        ("(cfg.beta) * sphere(z)", "1:1:"),
        ("sphere(z) + 0.5.max(1.0)*sphere(z)", "1:16:"),
    ] {
        let args = ["eval", "--points", p(&z), "--loss", loss];
        assert_fails(&files, &args, "only available inside `loss!`", true);
        assert_fails(&files, &args, column, true);
        let err = stderr(&tregs(&args));
        assert!(!err.contains("wrap it in parentheses"), "{err}");
    }
}

/// Output into a pipe whose reader has gone (`| head -c0`): the command stops quietly,
/// killed by SIGPIPE as `cat` would be, with no panic message.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tregs"))
        .args([
            "eval",
            "--points",
            p(&z),
            "--loss",
            "sphere(z)",
            "--repeat",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tregs binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(out.status.signal(), Some(SIGPIPE), "{:?}", out.status);
}

/// SIGPIPE's number on Linux and macOS.
const SIGPIPE: i32 = 13;

/// `clip_scaled`'s third input cannot be given to `eval`: the error says why and what to
/// use instead, and `--help` does not offer it among the terms.
#[test]
fn clip_scaled_in_eval_points_to_clip() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    // Whichever tensor is the scale, a points file included (a 1x1 `z2` would pass as one).
    let one = files.f32("one.npy", 1, 1, &[0.5]);
    for (loss, points2) in [
        ("clip_scaled(z, z2, s)", &z2),
        ("clip_scaled(z, z, z2)", &one),
        ("clip_scaled(z, z2, z)", &z2),
    ] {
        let args = [
            "eval",
            "--points",
            p(&z),
            "--points2",
            p(points2),
            "--loss",
            loss,
        ];
        assert_fails(
            &files,
            &args,
            "`clip_scaled`'s logit scale is a learnable tensor",
            false,
        );
        assert_fails(&files, &args, "use `clip(z, z2, τ = …)`", false);
    }
    let help = stdout(&tregs(&["eval", "--help"]));
    assert!(!help.contains("  clip_scaled(a, b, s)"), "{help}");
    assert!(help.contains("  clip(a, b"), "{help}");
}

#[test]
fn an_unknown_coefficient_is_an_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let args = [
        "eval",
        "--points",
        p(&z),
        "--loss",
        "γ*mst_len(z) + sphere(z)",
        "--coef",
        "gama=0.2",
    ];
    assert_fails(&files, &args, "unknown coefficient `γ`", true);
    assert_fails(&files, &args, "gamma=", true);
}

#[test]
fn malformed_coefficients_and_unbound_inputs_are_errors() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let base = ["eval", "--points", p(&z), "--loss", "γ*mst_len(z)"];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend(extra);
        v
    };
    assert_fails(
        &files,
        &with(&["--coef", "gamma"]),
        "expected NAME=VALUE",
        false,
    );
    assert_fails(
        &files,
        &with(&["--coef", "gamma=x"]),
        "`x` is not a number",
        false,
    );
    assert_fails(
        &files,
        &with(&["--coef", "γ=1", "--coef", "gamma=2"]),
        "given twice",
        false,
    );
    let args = ["eval", "--points", p(&z), "--loss", "mse(z, z2)"];
    assert_fails(
        &files,
        &args,
        "the loss reads `z2`: give its points with --points2",
        false,
    );
    let args = ["eval", "--points", p(&z), "--loss", "sphere(x)"];
    assert_fails(
        &files,
        &args,
        "the loss reads `x`, which is not an input",
        false,
    );
}

#[test]
fn an_unused_coefficient_is_a_warning() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z)",
        "--coef",
        "beta=3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: --coef beta is not used"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_gradient_into_a_missing_directory_fails_before_any_work() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let out_path = files.path("no/such/dir/g.npy");
    let out = tregs(&[
        "eval",
        "--points",
        p(&z),
        "--loss",
        "sphere(z)",
        "--grad",
        p(&out_path),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_distance_method_the_backend_cannot_run_is_an_error() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let eval = ["eval", "--points", p(&z), "--loss", "sphere(z)"];
    let with = |method: &'static str| [&eval[..], &["--distance", method]].concat();
    assert_fails(
        &files,
        &with("split-f16"),
        "error: --distance split-f16: split-f16 distances run on the GPU path only, and this \
         is a CPU device",
        false,
    );
    // clap's own message: the accepted names come from the library's enum.
    assert_fails(
        &files,
        &with("fp8"),
        "[possible values: f32, split-f16]",
        true,
    );
    let out = tregs(&with("f32"));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn help_lists_the_primitives() {
    for args in [&["--help"][..], &["eval", "--help"][..]] {
        let out = tregs(args);
        assert!(out.status.success());
        let text = stdout(&out);
        // `clip_scaled` takes a learnable tensor that `eval` cannot bind: named in a note
        // (see `clip_scaled_in_eval_points_to_clip`), not listed.
        let listed = tregs::Primitive::ALL
            .iter()
            .filter(|&&p| p != tregs::Primitive::ClipScaled);
        for prim in listed {
            assert!(
                text.contains(&prim.signature()),
                "{args:?}: {}\n{text}",
                prim.signature()
            );
            assert!(
                text.contains(prim.formula()),
                "{args:?}: {}\n{text}",
                prim.formula()
            );
        }
    }
    let text = stdout(&tregs(&["eval", "--help"]));
    for flag in [
        "--points",
        "--points2",
        "--loss",
        "--coef",
        "--grad",
        "--json",
        "--repeat",
    ] {
        assert!(text.contains(flag), "{flag}\n{text}");
    }
}

#[test]
fn bench_reports_time_throughput_and_memory() {
    let v = json(&["bench", "--sizes", "64x8,32x16", "--reps", "2", "--json"]);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{v}");
    assert_eq!(
        (results[0]["n"].as_u64(), results[0]["d"].as_u64()),
        (Some(64), Some(8))
    );
    for r in results {
        let (min, median) = (
            r["ms"]["min"].as_f64().unwrap(),
            r["ms"]["median"].as_f64().unwrap(),
        );
        assert!(min > 0.0 && min <= median, "{r}");
        assert!(r["distance_gflops"].as_f64().unwrap() > 0.0, "{r}");
        let phase = |name: &str| r["phases_median_ms"][name].as_f64().unwrap();
        assert!(phase("evaluate") > 0.0, "{r}");
        assert!(phase("backward") > 0.0 && phase("sync") >= 0.0, "{r}");
        assert!(
            phase("evaluate") + phase("backward") + phase("sync") <= 3.0 * median,
            "each phase is part of the call: {r}"
        );
        let (tree_min, tree_median) = (
            r["tree_ms"]["min"].as_f64().unwrap(),
            r["tree_ms"]["median"].as_f64().unwrap(),
        );
        assert!(tree_min > 0.0 && tree_min <= tree_median, "{r}");
        // The call's peak counts what it allocates, at least the two inputs' gradients (held
        // when it is read). Not the n x n distance buffers: each thread reuses its own from
        // call to call, so whether a timed call allocates one depends on which thread rayon
        // gives each view (README: "it does not include the n×n distance buffer").
        let (n, d) = (r["n"].as_f64().unwrap(), r["d"].as_f64().unwrap());
        let gradients_mib = 2.0 * n * d * 4.0 / (1u64 << 20) as f64;
        assert!(
            r["peak_mib"].as_f64().unwrap() >= gradients_mib,
            "counting allocator: {r}"
        );
        // The distance step alone returns a fresh matrix.
        let matrix_mib = n * n * 4.0 / (1u64 << 20) as f64;
        assert!(
            r["distance_peak_mib"].as_f64().unwrap() >= matrix_mib,
            "{r}"
        );
    }
    assert_eq!(v["reps"], 2);

    let out = tregs(&["bench", "--sizes", "16x4", "--reps", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("| distance GFLOP/s |")
            && text.contains("| tree ms |")
            && text.contains(" eval / bwd / sync ms |")
            && text.contains("|    16 |     4 |"),
        "{text}"
    );

    let v = json(&[
        "bench",
        "--sizes",
        "32x4",
        "--reps",
        "1",
        "--deferred-checks",
        "--json",
    ]);
    assert_eq!(v["deferred_checks"], true, "{v}");
    assert!(v["results"][0]["ms"]["min"].as_f64().unwrap() > 0.0, "{v}");

    let out = tregs(&["bench", "--sizes", "1x4"]);
    assert!(!out.status.success(), "a tree needs 2 points");

    // More memory than the machine has: a clear error before anything is allocated.
    let out = tregs(&["bench", "--sizes", "64x8,99999999x99999999", "--reps", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: --sizes 99999999x99999999: needs about")
            && err.contains("GiB available")
            && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "nothing run: {}", stdout(&out));
}

/// `--metrics` on the three collinear points: tree length 3, alignment and the gap of the
/// two views computed here, and the library's new terms evaluated through the same grammar.
#[test]
fn metrics_and_library_terms_in_eval() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    let z2 = files.f32("z2.npy", 3, 2, &LINE2);
    let out = json(&[
        "eval",
        "--points",
        p(&z),
        "--points2",
        p(&z2),
        "--loss",
        "cosine(z, z2) + nt_xent(z, z2, tau = 0.5)",
        "--metrics",
        "--json",
    ]);
    let metrics = &out["metrics"];
    assert!(
        (metrics["z"]["mst_length"].as_f64().unwrap() - 3.0).abs() < 1e-6,
        "{out}"
    );
    // Rows of z normalized: (0,0)→(0,0) (norm clamped), (1,0), (1,0); of z2: unit vectors.
    let unit = |x: f64, y: f64| {
        let n = (x * x + y * y).sqrt().max(1e-12);
        (x / n, y / n)
    };
    let a = [unit(0.0, 0.0), unit(1.0, 0.0), unit(3.0, 0.0)];
    let b = [unit(0.5, 1.0), unit(1.0, -1.0), unit(2.0, 0.0)];
    let alignment: f64 = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2))
        .sum::<f64>()
        / 3.0;
    assert!(
        (metrics["alignment"].as_f64().unwrap() - alignment).abs() < 1e-6,
        "{out}"
    );
    let cosine: f64 = a
        .iter()
        .zip(&b)
        .map(|(p, q)| 1.0 - p.0 * q.0 - p.1 * q.1)
        .sum::<f64>()
        / 3.0;
    let term = out["terms"]["cosine(z, z2)"].as_f64().unwrap();
    assert!((term - cosine).abs() < 1e-6, "{out}");
    assert!(
        out["terms"]["nt_xent(z, z2, τ = 0.5)"]
            .as_f64()
            .unwrap()
            .is_finite(),
        "{out}"
    );

    let one = files.f32("one.npy", 1, 2, &LINE[..2]);
    let failed = tregs(&[
        "eval",
        "--points",
        p(&one),
        "--loss",
        "sphere(z)",
        "--metrics",
    ]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("--metrics needs at least 2 points"),
        "{}",
        stderr(&failed)
    );
}

/// Without the `wgpu` feature, `--backend wgpu` says how to get it.
#[cfg(not(feature = "wgpu"))]
#[test]
fn the_gpu_backend_without_the_feature_says_how_to_build_it() {
    let files = Files::new();
    let z = files.f32("z.npy", 3, 2, &LINE);
    assert_fails(
        &files,
        &[
            "eval",
            "--points",
            p(&z),
            "--loss",
            "sphere(z)",
            "--backend",
            "wgpu",
        ],
        "error: --backend wgpu: this tregs was built without the `wgpu` feature; rebuild with \
         `cargo build --release -p tregs --features wgpu`",
        false,
    );
}

/// The CLI's GPU path (`.ci/test.sh` runs these with `--features wgpu`, on lavapipe where
/// there is no GPU): `eval --backend wgpu` gives the CPU's terms and gradient, with either
/// distance method, and `bench --backend wgpu` times the objective and the distance step.
#[cfg(feature = "wgpu")]
mod gpu {
    use super::*;

    fn cloud(n: usize, d: usize, seed: u64) -> Vec<f32> {
        generic_cloud(n, d, seed)
            .iter()
            .map(|&v| v as f32)
            .collect()
    }

    #[test]
    fn eval_on_the_gpu_matches_the_cpu() {
        let files = Files::new();
        let (n, d) = (40, 6);
        let z = files.f32("z.npy", n, d, &cloud(n, d, 1));
        let z2 = files.f32("z2.npy", n, d, &cloud(n, d, 2));
        let loss = "10*mse(z, z2) + 0.2*(mst_len(z) + mst_len(z2)) + 0.5*(sphere(z) + sphere(z2))";
        let run = |backend: &str, distance: &str, grad: &Path| {
            json(&[
                "eval",
                "--points",
                p(&z),
                "--points2",
                p(&z2),
                "--loss",
                loss,
                "--json",
                "--backend",
                backend,
                "--distance",
                distance,
                "--grad",
                p(grad),
            ])
        };
        let cpu_grad = files.path("cpu-grad.npy");
        let cpu = run("flex", "f32", &cpu_grad);
        let (_, _, cpu_g) = read_npy(&cpu_grad);
        for distance in ["f32", "split-f16"] {
            let gpu_grad = files.path(&format!("gpu-grad-{distance}.npy"));
            let gpu = run("wgpu", distance, &gpu_grad);
            assert_eq!(gpu["backend"], "wgpu");
            let (cpu_terms, gpu_terms) = (
                cpu["terms"].as_object().unwrap(),
                gpu["terms"].as_object().unwrap(),
            );
            assert_eq!(cpu_terms.len(), 5);
            assert_eq!(
                cpu_terms.keys().collect::<Vec<_>>(),
                gpu_terms.keys().collect::<Vec<_>>()
            );
            for (name, c) in cpu_terms {
                let (c, g) = (c.as_f64().unwrap(), gpu_terms[name].as_f64().unwrap());
                assert!(
                    (c - g).abs() <= 1e-5 * c.abs().max(1e-3),
                    "{distance}: {name}: {g} vs {c}"
                );
            }
            let (dtype, shape, gpu_g) = read_npy(&gpu_grad);
            assert_eq!((dtype.as_str(), shape), ("'<f4'", vec![n as u64, d as u64]));
            let scale = cpu_g.iter().fold(0f64, |m, v| m.max(v.abs()));
            for (i, (c, g)) in cpu_g.iter().zip(&gpu_g).enumerate() {
                assert!(
                    (c - g).abs() <= 1e-4 * c.abs().max(1e-2 * scale),
                    "{distance}: gradient entry {i}: {g} on wgpu vs {c} on flex"
                );
            }
        }
    }

    #[test]
    fn bench_on_the_gpu_prints_its_timings() {
        let out = tregs(&[
            "bench",
            "--backend",
            "wgpu",
            "--sizes",
            "64x8",
            "--reps",
            "1",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
        assert_eq!(report["backend"], "wgpu", "{report}");
        let results = report["results"].as_array().expect("results");
        assert_eq!(results.len(), 1, "{report}");
        let row = &results[0];
        assert_eq!((row["n"].as_u64(), row["d"].as_u64()), (Some(64), Some(8)));
        // Present and finite: the timings themselves are the benchmark's business.
        for field in ["ms", "distance_ms", "tree_ms"] {
            let median = row[field]["median"].as_f64();
            assert!(median.is_some_and(f64::is_finite), "{field}: {row}");
        }
        assert!(row["launches"].as_u64().is_some_and(|k| k > 0), "{row}");
    }
}
