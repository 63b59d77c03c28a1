//! The recipes end to end on tiny data: `pretrain` (through the library and the binary),
//! `compare` and `clip` run a few steps and write outputs that parse; a resumed run takes
//! the same next step as an uninterrupted one; bad configs fail before training starts.
//!
//! The runs share burn's seeded device RNG, so they hold one lock: run concurrently, one
//! test's weight initialization would draw from another test's seed.

use npyz::WriterBuilder;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use tregs_examples::pretrain::{pretrain, Backend, DataSource, PretrainArgs, PretrainResults};
use tregs_examples::recipe::{Recipe, RecipeConfig};

static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tregs-recipes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `mse_tregs` shrunk to run in seconds: 96 images, batches of 32, a narrow projector.
fn tiny(epochs: usize) -> Recipe {
    let mut config: RecipeConfig = Recipe::shipped("mse_tregs").unwrap().config;
    config.train.epochs = epochs;
    config.train.batch_size = 32;
    config.train.projector_hidden = 32;
    config.train.embedding_dim = 16;
    Recipe::check(config, "tiny").unwrap()
}

fn args(recipe: Recipe, out: &Path, resume: bool, stop_after: Option<usize>) -> PretrainArgs {
    PretrainArgs {
        recipe,
        data: DataSource::Digits(None),
        out: out.to_path_buf(),
        seed: 7,
        backend: Backend::Flex,
        resume,
        limit: Some(96),
        stop_after,
    }
}

/// The path of a recipe's binary by name.
fn recipe_binary(name: &str) -> &'static str {
    match name {
        "pretrain" => env!("CARGO_BIN_EXE_pretrain"),
        "clip" => env!("CARGO_BIN_EXE_clip"),
        "compare" => env!("CARGO_BIN_EXE_compare"),
        "point_cloud" => env!("CARGO_BIN_EXE_point_cloud"),
        other => panic!("no recipe binary `{other}`"),
    }
}

/// (epoch, step, total) of every line of `metrics.jsonl`.
fn steps(out: &Path) -> Vec<(u64, u64, f64)> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["epoch"].as_u64().unwrap(),
                v["step"].as_u64().unwrap(),
                v["total"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn pretrain_writes_parsable_outputs_and_resumes_exactly() {
    let _guard = lock();
    // Uninterrupted: two epochs.
    let straight = scratch("straight");
    let r = pretrain(&args(tiny(2), &straight, false, None)).expect("pretraining runs");
    let parsed: PretrainResults =
        serde_json::from_str(&std::fs::read_to_string(straight.join("results.json")).unwrap())
            .expect("results.json parses");
    assert_eq!(parsed.epochs.len(), 2);
    assert_eq!(parsed.train_images, 96);
    for scores in [&r.pretrained, &r.random_init] {
        assert!((0.0..=1.0).contains(&scores.linear_probe_top1));
        assert!((0.0..=1.0).contains(&scores.knn_top1));
        assert!(scores.effective_rank >= 1.0 && scores.effective_rank.is_finite());
        assert_eq!(scores.singular_values.len(), 16);
    }
    let png = std::fs::read(straight.join("report.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(straight.join("checkpoint/model-2.bpk").exists());
    let uninterrupted = steps(&straight);
    assert_eq!(uninterrupted.len(), 2 * 3, "3 batches of 32 per epoch");

    // Interrupted after epoch 1 (same schedule), then resumed to epoch 2.
    let stopped = scratch("stopped");
    pretrain(&args(tiny(2), &stopped, false, Some(1))).expect("first epoch");
    assert_eq!(steps(&stopped), uninterrupted[..3].to_vec());
    // Starting again without --resume must not touch the checkpoint.
    let refused = pretrain(&args(tiny(2), &stopped, false, None))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--resume"), "{refused}");
    pretrain(&args(tiny(2), &stopped, true, None)).expect("resumed run");
    // Bit for bit: the same batches, augmentations, weights and optimizer state.
    assert_eq!(steps(&stopped), uninterrupted);
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&stopped);
}

#[test]
fn bad_configs_fail_before_training() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "unknown_term.toml",
            "name = \"x\"\n[loss]\nexpression = \"mse(z, z2) + γ*mst_length(z)\"\ncoefficients = { gamma = 0.2 }\n",
            "mst_length",
        ),
        (
            "missing_coefficient.toml",
            "name = \"x\"\n[loss]\nexpression = \"β*mse(z, z2) + γ*mst_len(z)\"\ncoefficients = { beta = 10.0 }\n",
            "unknown coefficient `γ`",
        ),
        (
            "unknown_input.toml",
            "name = \"x\"\n[loss]\nexpression = \"mse(z, q)\"\n",
            "reads `q`",
        ),
        (
            "bad_setting.toml",
            "name = \"x\"\n[loss]\nexpression = \"mse(z, z2)\"\n[train]\nepoch = 3\n",
            "unknown field `epoch`",
        ),
        (
            "nan_coefficient.toml",
            "name = \"x\"\n[loss]\nexpression = \"β*mse(z, z2)\"\ncoefficients = { beta = nan }\n",
            "[loss] expression: mse(z, z2): its coefficient is NaN",
        ),
        (
            "f32_overflow.toml",
            "name = \"x\"\n[loss]\nexpression = \"β*mse(z, z2)\"\ncoefficients = { beta = 1e300 }\n",
            "[loss] coefficients: mse(z, z2): its coefficient is 1e300, past the range of the inputs' dtype F32",
        ),
        (
            "misspelt_coefficient.toml",
            "name = \"x\"\n[loss]\nexpression = \"β*mse(z, z2)\"\ncoefficients = { beta = 1.0, betta = 3.0 }\n",
            "[loss] coefficients: `betta` is not in the expression `β*mse(z, z2)`",
        ),
        (
            "path_in_name.toml",
            "name = \"../../escape\"\n[loss]\nexpression = \"mse(z, z2)\"\n",
            "name \"../../escape\": must be a plain file name",
        ),
    ];
    for (file, text, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let err = Recipe::load(&path).unwrap_err().to_string();
        assert!(err.contains(expected), "{file}: {err}");
        assert!(
            err.contains(file),
            "{file}: the error names the file: {err}"
        );
        // The binary stops with that message and creates nothing.
        let out = dir.join(format!("out-{file}"));
        let run = Command::new(env!("CARGO_BIN_EXE_pretrain"))
            .args([
                "--config",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!run.status.success());
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(
            !out.exists(),
            "{file}: nothing is written before the config is valid"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run's folder is never overwritten, and `--resume` continues only the run it holds:
/// other settings are refused by name, and a checkpoint left incomplete (a run stopped
/// while burn saved its three files) gives way to the one before it, or to an error naming
/// the file, never to burn's panic.
#[test]
fn a_run_resumes_only_itself_from_a_whole_checkpoint() {
    let _guard = lock();
    let out = scratch("guarded");
    pretrain(&args(tiny(3), &out, false, Some(2))).expect("two epochs");
    let log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let refused = pretrain(&args(tiny(3), &out, false, None))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("already holds a run (checkpoint of epoch 2)"),
        "{refused}"
    );
    let mut other_seed = args(tiny(3), &out, true, None);
    other_seed.seed = 8;
    let err = pretrain(&other_seed).unwrap_err().to_string();
    assert!(err.contains("seed was 7, now 8"), "{err}");
    let mut config = tiny(3).config;
    config.train.batch_size = 16;
    let smaller = Recipe::check(config, "smaller").unwrap();
    let err = pretrain(&args(smaller, &out, true, None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.train.batch_size was 32, now 16"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(),
        log,
        "refused runs change nothing"
    );
    // Epoch 2's optimizer state never made it to disk: epoch 1's checkpoint is resumed.
    std::fs::remove_file(out.join("checkpoint/optim-2.bpk")).unwrap();
    pretrain(&args(tiny(3), &out, true, None)).expect("resumed from epoch 1");
    let epochs: Vec<u64> = steps(&out).iter().map(|s| s.0).collect();
    assert_eq!(epochs, [1, 1, 1, 2, 2, 2, 3, 3, 3]);
    // The only checkpoint cut short: an error naming the file.
    let cut = scratch("cut");
    pretrain(&args(tiny(2), &cut, false, Some(1))).expect("one epoch");
    let model = cut.join("checkpoint/model-1.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let err = pretrain(&args(tiny(2), &cut, true, None))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--resume: no whole checkpoint in") && err.contains("model-1.bpk"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&cut);
}

/// A step that cannot go on (here the weights blow up to NaN under an absurd weight decay)
/// ends the binary with the error and exit status 1, not a panic and its backtrace.
#[test]
fn a_failed_training_step_is_an_error_not_a_panic() {
    let dir = scratch("failed-step");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("decay.toml");
    std::fs::write(
        &config,
        "name = \"decay\"\n[loss]\nexpression = \"β*mse(z, z2) + γ*mst_len(z)\"\n\
         coefficients = { beta = 10.0, gamma = 0.2 }\n[train]\nepochs = 2\nbatch_size = 32\n\
         weight_decay = 1e30\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_pretrain"))
        .args(["--config", config.to_str().unwrap(), "--limit", "96"])
        .args(["--out", dir.join("out").to_str().unwrap()])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: training step ") && stderr.contains("NaN at row"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("PANIC"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Flags out of range stop the binaries before anything is written or trained.
/// `point_cloud` rewrites its own results whole (no temporary file left behind) and says
/// when the folder holds the other experiment's plot from an earlier run.
#[test]
fn point_cloud_names_a_plot_left_by_an_earlier_run() {
    let out = scratch("point-cloud");
    let run = |experiment: &str| {
        let run = Command::new(recipe_binary("point_cloud"))
            .args(["--experiment", experiment, "--steps", "2", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        // Two steps cannot meet the criteria: exit 1 with FAIL lines, results still written.
        assert_eq!(run.status.code(), Some(1), "{experiment}");
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let first = run("simplex");
    assert!(!first.contains("note:"), "{first}");
    let second = run("sphere");
    let stale = out.join("simplex_cosines.png");
    assert!(
        second.contains(&format!("note: {} is from an earlier run", stale.display())),
        "{second}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert!(
        results.get("sphere").is_some() && results.get("simplex").is_none(),
        "{results}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["results.json", "simplex_cosines.png", "sphere_cosines.png"]
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_flags_fail_before_anything_is_written() {
    let dir = scratch("flags");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out");
    let cases: [(&str, &[&str], &str); 9] = [
        (
            "pretrain",
            &["--steps", "0"],
            "--steps 0: train at least 1 step",
        ),
        (
            "pretrain",
            &["--stop-after", "0"],
            "--stop-after 0: train at least 1 epoch",
        ),
        (
            "pretrain",
            &["--image-size", "8"],
            "--image-size resizes the images of --data folder",
        ),
        (
            "pretrain",
            &["--data", "folder", "--data-dir", ".", "--image-size", "0"],
            "--image-size 0: must be from 1 to 1024 pixels",
        ),
        (
            "pretrain",
            &[
                "--data",
                "folder",
                "--data-dir",
                ".",
                "--image-size",
                "100000",
            ],
            "--image-size 100000: must be from 1 to 1024 pixels",
        ),
        (
            "compare",
            &["--seeds", "0"],
            "--seeds 0: run at least one seed",
        ),
        (
            "clip",
            &["--epochs", "0"],
            "clip: epochs must be at least 1",
        ),
        (
            "clip",
            &["--batch-size", "0"],
            "clip: batch size 0 (a tree needs 2 points): must be at least 2",
        ),
        ("clip", &["--batch-size", "1"], "batch size 1"),
    ];
    for (bin, flags, expected) in cases {
        let exe = recipe_binary(bin);
        let run = Command::new(exe)
            .args(flags)
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{bin} {flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{bin} {flags:?}: {stderr}");
        assert!(!out.exists(), "{bin} {flags:?}: wrote {}", out.display());
    }
    // A file where the output folder should be: named before any training.
    std::fs::write(&out, "mine").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_clip"))
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with(&format!("error: --out {}: ", out.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn distance_methods_are_checked_before_training() {
    let out = scratch("distance");
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "pretrain",
            &["--distance", "split-f16"],
            "--distance split-f16: split-f16 distances run on the GPU path only, and this is \
             a CPU device: use a GPU backend (wgpu)",
        ),
        (
            "clip",
            &["--distance", "split-f16"],
            "--distance split-f16: split-f16 distances run on the GPU path only",
        ),
        (
            "compare",
            &["--distance", "fp8"],
            "invalid value 'fp8' for '--distance <DISTANCE>'\n  [possible values: f32, split-f16]",
        ),
    ];
    for (bin, extra, expected) in cases {
        let exe = recipe_binary(bin);
        let run = Command::new(exe)
            .args(extra)
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{bin}: {stderr}");
        assert!(stderr.contains(expected), "{bin}: {stderr}");
        assert!(!out.exists(), "{bin}: nothing written before the check");
    }
}

#[test]
fn compare_writes_a_table() {
    let _guard = lock();
    let out = scratch("compare");
    let run = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args([
            "--configs",
            "mse_tregs,mse_tregs_no_lambda",
            "--seeds",
            "2",
            "--epochs",
            "1",
        ])
        .args([
            "--batch-size",
            "32",
            "--limit",
            "64",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Not a terminal: a line per split of each epoch, not burn's dump at every batch.
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("epoch 1/1: train, 64 items"), "{stdout}");
    assert!(!stdout.contains("ProgressSnapshot"), "{stdout}");
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("| mse_tregs |"), "{table}");
    assert!(table.contains("| mse_tregs_no_lambda |"), "{table}");
    assert!(table.contains(" ± "), "{table}");
    // Run again into the same folder, even for a config it does not hold: refused before
    // any run, every result kept.
    let results = out.join("mse_tregs/seed1/results.json");
    let before = std::fs::read_to_string(&results).unwrap();
    // The error of running it again (it must fail).
    let again = || {
        let run = Command::new(env!("CARGO_BIN_EXE_compare"))
            .args([
                "--configs",
                "mse,mse_tregs",
                "--seeds",
                "2",
                "--epochs",
                "1",
            ])
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!run.status.success());
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let stderr = again();
    assert!(
        stderr.contains("table.md exists: choose another --out (nothing was overwritten)"),
        "{stderr}"
    );
    std::fs::remove_file(out.join("table.md")).unwrap();
    let stderr = again();
    assert!(
        stderr.contains("mse_tregs/seed0 already holds a run (run.json, "),
        "{stderr}"
    );
    assert!(!out.join("mse").exists(), "no run started");
    assert_eq!(std::fs::read_to_string(&results).unwrap(), before);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn clip_reports_retrieval_before_and_after() {
    let _guard = lock();
    let out = scratch("clip");
    let run = Command::new(env!("CARGO_BIN_EXE_clip"))
        .args([
            "--epochs",
            "2",
            "--batch-size",
            "128",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let runs = results.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        for when in ["before", "after"] {
            for key in ["a_to_b_r1", "a_to_b_r5", "b_to_a_r1", "b_to_a_r5"] {
                let v = r[when][key].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&v), "{when} {key} = {v}");
            }
            assert!(r[when]["modality_gap"].as_f64().unwrap().is_finite());
        }
        // Two epochs of contrastive training already beat random heads on R@5.
        assert!(
            r["after"]["a_to_b_r5"].as_f64() > r["before"]["a_to_b_r5"].as_f64(),
            "{r}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn clip_reads_paired_npy_files_and_names_a_bad_one() {
    let dir = scratch("npy");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, rows: usize, cols: usize, value: f32| {
        let path = dir.join(name);
        let data: Vec<f32> = (0..rows * cols)
            .map(|k| value * ((k * 37 % 11) as f32 - 5.0))
            .collect();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[rows as u64, cols as u64])
            .writer(std::io::BufWriter::new(
                std::fs::File::create(&path).unwrap(),
            ))
            .begin_nd()
            .unwrap();
        writer.extend(data).unwrap();
        writer.finish().unwrap();
        path
    };
    let a = write("a.npy", 40, 6, 0.1);
    let b = write("b.npy", 40, 4, 0.2);
    let short = write("short.npy", 30, 4, 0.2);
    let pairs = tregs_examples::clip::npy_pairs(&a, &b).expect("paired files");
    assert_eq!((pairs.n, pairs.da, pairs.db), (40, 6, 4));
    let err = tregs_examples::clip::npy_pairs(&a, &short).unwrap_err();
    assert!(err.contains("short.npy") && err.contains("30"), "{err}");
    let err = tregs_examples::clip::npy_pairs(&a, &dir.join("missing.npy")).unwrap_err();
    assert!(err.contains("missing.npy"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// CIFAR-10's binary format (ResNet-18 on 32×32×3) and an image folder (small CNN), each
/// trained for one short epoch from files written here; a truncated file is named.
#[test]
fn cifar_and_image_folder_data_train_end_to_end() {
    let _guard = lock();
    let dir = scratch("formats");
    let cifar = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&cifar).unwrap();
    let record = |k: usize| -> Vec<u8> {
        let mut r = vec![(k % 10) as u8];
        r.extend((0..3072).map(|p| ((p * 7 + k * 13) % 256) as u8));
        r
    };
    for (file, count) in [
        ("data_batch_1.bin", 8),
        ("data_batch_2.bin", 8),
        ("data_batch_3.bin", 8),
        ("data_batch_4.bin", 8),
        ("data_batch_5.bin", 8),
        ("test_batch.bin", 6),
    ] {
        let bytes: Vec<u8> = (0..count).flat_map(record).collect();
        std::fs::write(cifar.join(file), bytes).unwrap();
    }
    let mut config = Recipe::shipped("mse_tregs").unwrap().config;
    config.train.epochs = 1;
    config.train.batch_size = 16;
    config.train.projector_hidden = 32;
    config.train.embedding_dim = 8;
    let recipe = Recipe::check(config, "tiny-cifar").unwrap();
    let mut run = args(recipe.clone(), &dir.join("out-cifar"), false, None);
    run.data = DataSource::Cifar10(dir.clone());
    run.limit = None;
    let r = pretrain(&run).expect("CIFAR-10 pretraining runs");
    assert_eq!((r.train_images, r.test_images), (40, 6));
    assert!(r.data.contains("CIFAR-10"), "{}", r.data);

    // One truncated batch file: the error names it and its size.
    let truncated = cifar.join("data_batch_3.bin");
    std::fs::write(&truncated, vec![0u8; 3073 + 100]).unwrap();
    let mut bad = args(recipe.clone(), &dir.join("out-bad"), false, None);
    bad.data = DataSource::Cifar10(dir.clone());
    let err = pretrain(&bad).unwrap_err().to_string();
    assert!(
        err.contains("data_batch_3.bin") && err.contains("3173"),
        "{err}"
    );

    // An image folder: two classes of 12 grey 8×8 PNGs.
    let folder = dir.join("folder");
    for (class, shade) in [("circles", 40u8), ("squares", 200u8)] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for k in 0..12u8 {
            let img = image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([shade.wrapping_add(k * 3).wrapping_add((x * y) as u8)])
            });
            img.save(folder.join(class).join(format!("{k}.png")))
                .unwrap();
        }
    }
    let mut config = recipe.config.clone();
    config.train.batch_size = 8;
    let mut run = args(
        Recipe::check(config, "tiny-folder").unwrap(),
        &dir.join("out-folder"),
        false,
        None,
    );
    run.data = DataSource::ImageFolder(folder, None);
    run.limit = None;
    let r = pretrain(&run).expect("image-folder pretraining runs");
    assert_eq!(r.train_images + r.test_images, 24);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A batch that makes the embeddings NaN stops the training step with the loss's error
/// (the step checks the values after queueing its backward, before the optimizer runs), and
/// checks are back on afterwards.
#[test]
fn a_nan_batch_stops_the_training_step_with_the_row() {
    use burn::tensor::{Device, Tensor, TensorData};
    use burn::train::TrainStep;
    use tregs_examples::models::EncoderKind;
    use tregs_examples::ssl::{Shape, SslBatch, SslModel};
    let _serial = lock();
    let device = Device::default().autodiff();
    let shape = Shape {
        encoder: EncoderKind::SmallCnn,
        channels: 1,
        height: 8,
        width: 8,
    };
    let model = SslModel::new(&tiny(1), shape, None, &device).unwrap();
    let images = |nan: bool| {
        let mut pixels: Vec<f32> = (0..4 * 64).map(|i| (i % 7) as f32 / 7.0).collect();
        if nan {
            pixels[2 * 64 + 5] = f32::NAN;
        }
        Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 8, 8]), &device)
    };
    let batch = SslBatch {
        view1: images(false),
        view2: images(true),
        epoch: 1,
        step: 3,
    };
    let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.step(batch)))
    else {
        panic!("the step went on with a NaN batch");
    };
    let message = &panic
        .downcast_ref::<tregs_examples::ssl::StepFailure>()
        .expect("the step's failure")
        .0;
    assert!(
        message.starts_with("training step 3 of epoch 1: input `z2`: NaN at row"),
        "{message}"
    );
    assert!(!tregs::checks_deferred(), "the step's guard is gone");
}
