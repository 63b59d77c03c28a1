//! The `pretrain` recipe: self-supervised pretraining with a configurable objective in
//! burn's `Learner`, then evaluation of the frozen encoder.
//!
//! Data → two augmented views per image ([`crate::loader`]) → encoder + projector (+ BYOL's
//! predictor and EMA target) → the recipe's loss ([`crate::ssl`]) → burn's `Learner`
//! (progress display, per-epoch metrics, a checkpoint every epoch, `--resume`) → linear
//! probe and k-NN on frozen encoder features, beside the same probes on the same encoder at
//! its random initialization → `results.json` and `report.png`.

use crate::augment::Augment;
use crate::data::{self, ImageSet};
use crate::loader::EpochLoader;
use crate::models::EncoderKind;
use crate::plot::{save_panels_png, Line, LineChart, PALETTE};
use crate::probe::{knn_accuracy, linear_probe, singular_values};
use crate::progress::EpochLines;
use crate::recipe::Recipe;
use crate::ssl::{ScalarMetric, Shape, SslModel, StepFailure, EFFECTIVE_RANK, UNIFORMITY};
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::metric::LossMetric;
use burn::train::{Learner, SupervisedTraining};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tregs::DistanceMethod;

/// Where the images come from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// The UCI digits shipped with the project (or a copy of the file).
    Digits(Option<PathBuf>),
    /// CIFAR-10 binary batches in a folder.
    Cifar10(PathBuf),
    /// CIFAR-100 binary files in a folder.
    Cifar100(PathBuf),
    /// One sub-folder per class, resized to the given (height, width).
    ImageFolder(PathBuf, Option<(usize, usize)>),
}

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Flex,
    Wgpu,
}

impl Backend {
    pub fn parse(name: &str) -> Result<Backend, String> {
        match name {
            "flex" => Ok(Backend::Flex),
            "wgpu" => Ok(Backend::Wgpu),
            other => Err(format!("unknown backend `{other}`: flex or wgpu")),
        }
    }

    /// The autodiff device of the backend.
    pub fn device(self) -> Result<Device, RunError> {
        match self {
            Backend::Flex => Ok(Device::flex().autodiff()),
            Backend::Wgpu => wgpu_device().map(|d| d.autodiff()),
        }
    }
}

/// `--distance f32|split-f16`: how the GPU path computes its distance matrices, for the
/// whole process ([`tregs::use_distance_method`]). Checked at once against the backend's
/// device, so that split-f16 on flex (or on a GPU without f16) is an error before any
/// training starts.
pub fn use_distance(method: DistanceMethod, backend: Backend) -> Result<(), RunError> {
    tregs::use_distance_method(method, &backend.device()?)
        .map_err(|e| RunError::Setup(format!("--distance {method}: {e}")))
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, RunError> {
    tregs::wgpu_device().map_err(|e| RunError::Setup(e.to_string()))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, RunError> {
    Err(RunError::Setup(
        "--backend wgpu needs the `wgpu` feature: cargo run --release -p tregs-examples --features wgpu --bin …"
            .to_string(),
    ))
}

/// One pretraining run.
#[derive(Debug, Clone)]
pub struct PretrainArgs {
    pub recipe: Recipe,
    pub data: DataSource,
    pub out: PathBuf,
    pub seed: u64,
    pub backend: Backend,
    /// Continue from the last checkpoint in `out`.
    pub resume: bool,
    /// Use only this many training images (tiny test runs).
    pub limit: Option<usize>,
    /// Stop after this epoch as if interrupted (the schedule still spans `train.epochs`);
    /// `resume` continues from there.
    pub stop_after: Option<usize>,
}

/// Why a run could not start or finish.
#[derive(Debug)]
pub enum RunError {
    Data(data::DataError),
    Setup(String),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Data(e) => write!(f, "{e}"),
            RunError::Setup(problem) => write!(f, "{problem}"),
            RunError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for RunError {}

impl From<data::DataError> for RunError {
    fn from(e: data::DataError) -> Self {
        RunError::Data(e)
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Probe accuracies of one encoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeScores {
    pub linear_probe_top1: f64,
    pub knn_top1: f64,
    /// RankMe of the test-set embeddings (projector output).
    pub effective_rank: f64,
    /// Wang–Isola uniformity (t = 2) of the test-set embeddings.
    pub uniformity: f64,
    /// Mean ‖z‖ of the test-set embeddings: the sphere term holds it near 1; without it the
    /// tree term pushes it up without bound.
    pub mean_norm: f64,
    /// Singular values of the centred test-set embeddings, descending.
    pub singular_values: Vec<f64>,
}

/// Per-epoch means of the logged step values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub total: f64,
    pub terms: BTreeMap<String, f64>,
    pub effective_rank: f64,
    pub uniformity: f64,
}

/// What `results.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainResults {
    pub config: crate::recipe::RecipeConfig,
    pub data: String,
    pub train_images: usize,
    pub test_images: usize,
    pub seed: u64,
    pub backend: Backend,
    /// How the tree terms' distances were computed (`--distance`): `f32` (on the CPU, or
    /// the GPU's f32 kernel) or `split-f16`. Results written before the option read as f32.
    #[serde(default)]
    pub distance: DistanceMethod,
    pub epochs: Vec<EpochLog>,
    pub pretrained: ProbeScores,
    pub random_init: ProbeScores,
    /// Whether pretraining beat the random encoder on the linear probe.
    pub beats_random_init: bool,
    pub train_seconds: f64,
    pub total_seconds: f64,
}

/// Train and test images of a data source (the digits are split 80/20, stratified, with a
/// fixed seed so that every run and every recipe uses the same split).
pub fn load_data(source: &DataSource) -> Result<(ImageSet, ImageSet, String), RunError> {
    Ok(match source {
        DataSource::Digits(None) => {
            let all = data::default_digits();
            let (train, test) = all.split(0.2, 0);
            (train, test, "UCI digits (shipped), 80/20 split".to_string())
        }
        DataSource::Digits(Some(path)) => {
            let (train, test) = data::load_digits(path)?.split(0.2, 0);
            (train, test, format!("digits from {}", path.display()))
        }
        DataSource::Cifar10(dir) => {
            let (train, test) = data::load_cifar10(dir)?;
            (train, test, format!("CIFAR-10 from {}", dir.display()))
        }
        DataSource::Cifar100(dir) => {
            let (train, test) = data::load_cifar100(dir)?;
            (train, test, format!("CIFAR-100 from {}", dir.display()))
        }
        DataSource::ImageFolder(dir, size) => {
            let (train, test) = data::load_image_folder(dir, *size)?.split(0.2, 0);
            (train, test, format!("image folder {}", dir.display()))
        }
    })
}

/// The files and folders a run writes into its `--out` (burn's Learner adds
/// `experiment.log`, and `train/` and `valid/` for its metric logs).
const RUN_FILES: [&str; 8] = [
    RUN_SETTINGS,
    "metrics.jsonl",
    "results.json",
    "report.png",
    "experiment.log",
    "checkpoint",
    "train",
    "valid",
];

/// What a run was started with, beside its output: `--resume` continues only the same run.
const RUN_SETTINGS: &str = "run.json";

/// The files and folders of a run that `out` holds already, if any: a fresh run refuses
/// such an `out`.
pub fn run_files_in(out: &Path) -> Vec<&'static str> {
    RUN_FILES
        .into_iter()
        .filter(|name| out.join(name).exists())
        .collect()
}

/// The epochs with a model checkpoint in `out/checkpoint`, newest first.
fn checkpoint_epochs(out: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(out.join("checkpoint")) else {
        return Vec::new();
    };
    let mut epochs: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs
}

/// Whether the checkpoint of `epoch` is whole: its model, optimizer and learning-rate
/// scheduler records all load (burn writes the three one after the other, so a run stopped
/// while saving leaves some missing or cut short; burn's own restore panics on those).
fn checkpoint_loads(out: &Path, epoch: usize) -> Result<(), String> {
    use burn::lr_scheduler::LrSchedulerRecord;
    use burn::optim::OptimizerRecord;
    use burn::store::ModuleRecord;
    use burn::train::checkpoint::{Checkpointer, FileCheckpointer};
    let dir = out.join("checkpoint");
    let problem = |name: &str, e: &dyn fmt::Display| {
        format!("{}: {e}", dir.join(format!("{name}-{epoch}.bpk")).display())
    };
    let model: Result<ModuleRecord, _> = FileCheckpointer::new(&dir, "model").restore(epoch);
    model.map_err(|e| problem("model", &e))?;
    let optim: Result<OptimizerRecord, _> = FileCheckpointer::new(&dir, "optim").restore(epoch);
    optim.map_err(|e| problem("optim", &e))?;
    let scheduler: Result<LrSchedulerRecord, _> =
        FileCheckpointer::new(&dir, "scheduler").restore(epoch);
    scheduler.map_err(|e| problem("scheduler", &e))?;
    Ok(())
}

/// Readies `out` for a run with these settings: the epoch to resume from (`None` for a
/// fresh run). A fresh run needs an `out` that holds no run (nothing is ever overwritten)
/// and records its settings there; `--resume` needs the same settings and a whole
/// checkpoint, the newest one that loads.
fn prepare_out(
    out: &Path,
    resume: bool,
    settings: &serde_json::Value,
) -> Result<Option<usize>, RunError> {
    let settings_path = out.join(RUN_SETTINGS);
    if !resume {
        let held = run_files_in(out);
        if !held.is_empty() {
            let epoch = checkpoint_epochs(out)
                .first()
                .map(|e| format!(" (checkpoint of epoch {e})"))
                .unwrap_or_default();
            return Err(RunError::Setup(format!(
                "{} already holds a run{epoch}: {}. Pass --resume to continue it, or choose \
                 another --out (nothing was overwritten)",
                out.display(),
                held.join(", ")
            )));
        }
        std::fs::create_dir_all(out).map_err(io_error(out))?;
        let text = serde_json::to_string_pretty(settings).expect("settings serialize");
        crate::files::write_whole(&settings_path, text).map_err(io_error(&settings_path))?;
        return Ok(None);
    }
    let epochs = checkpoint_epochs(out);
    if epochs.is_empty() {
        return Err(RunError::Setup(format!(
            "--resume: no checkpoint in {}",
            out.join("checkpoint").display()
        )));
    }
    let text = std::fs::read_to_string(&settings_path).map_err(|e| {
        RunError::Setup(format!(
            "--resume: {}: {e}; without it the run's settings cannot be checked",
            settings_path.display()
        ))
    })?;
    let recorded: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| RunError::Setup(format!("--resume: {}: {e}", settings_path.display())))?;
    let mut changed = Vec::new();
    differences("", &recorded, settings, &mut changed);
    if !changed.is_empty() {
        return Err(RunError::Setup(format!(
            "--resume: the run in {} was started with other settings: {}. Resume it with \
             the same config, data, seed, --limit, --epochs and --batch-size, or choose \
             another --out",
            out.display(),
            changed.join("; ")
        )));
    }
    let mut broken = Vec::new();
    for &epoch in &epochs {
        match checkpoint_loads(out, epoch) {
            Ok(()) => {
                if !broken.is_empty() {
                    eprintln!(
                        "note: {}; resuming from the checkpoint of epoch {epoch}",
                        broken.join("; ")
                    );
                }
                return Ok(Some(epoch));
            }
            Err(problem) => broken.push(problem),
        }
    }
    Err(RunError::Setup(format!(
        "--resume: no whole checkpoint in {}: {}",
        out.join("checkpoint").display(),
        broken.join("; ")
    )))
}

/// The fields where `now` differs from `then`, each as `path was THEN, now NOW` (a dotted
/// path into the JSON objects; a field missing on one side reads as null).
fn differences(
    path: &str,
    then: &serde_json::Value,
    now: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (then, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                differences(
                    &field,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(format!("{path} was {a}, now {b}")),
        _ => {}
    }
}

/// Runs the recipe: trains, evaluates, writes `results.json`, `metrics.jsonl` and
/// `report.png` into `args.out`.
pub fn pretrain(args: &PretrainArgs) -> Result<PretrainResults, RunError> {
    let started = Instant::now();
    if args.stop_after == Some(0) {
        return Err(RunError::Setup(
            "--stop-after 0: train at least 1 epoch".to_string(),
        ));
    }
    let config = &args.recipe.config;
    let (train_set, test_set, data_name) = load_limited(&args.data, args.limit, args.seed)?;
    let t = &config.train;
    if train_set.len() < t.batch_size {
        return Err(RunError::Setup(format!(
            "{} training images, fewer than one batch of {} (train.batch_size)",
            train_set.len(),
            t.batch_size
        )));
    }
    if test_set.len() < 2 {
        return Err(RunError::Setup(format!(
            "{}: {} held-out images; the validation loss needs at least 2",
            data_name,
            test_set.len()
        )));
    }
    let shape = model_shape(&train_set, t);

    // Checkpoints are never overwritten by a fresh run: resuming is explicit, and continues
    // only the run that was started with these settings.
    let settings = serde_json::json!({
        "config": config,
        "data": data_name,
        "seed": args.seed,
        "limit": args.limit,
    });
    let resume_from = prepare_out(&args.out, args.resume, &settings)?;
    if let Some(epoch) = resume_from {
        if epoch >= t.epochs {
            return Err(RunError::Setup(format!(
                "--resume: the checkpoint of epoch {epoch} already reaches train.epochs = {}",
                t.epochs
            )));
        }
    }
    let log_path = args.out.join("metrics.jsonl");
    keep_log_until(&log_path, resume_from.unwrap_or(0))?;

    let device = args.backend.device()?;
    device.seed(args.seed);
    let model = SslModel::new(&args.recipe, shape, Some(&log_path), &device)
        .map_err(io_error(&log_path))?;
    // The same weights, kept untrained for the baseline probe.
    let random_init = model.clone();

    let augment = augment_for(shape);
    let train_set = Arc::new(train_set);
    let test_set = Arc::new(test_set);
    let first_epoch = resume_from.unwrap_or(0) + 1;
    let train_loader = EpochLoader::train(
        train_set.clone(),
        t.batch_size,
        args.seed,
        augment.clone(),
        first_epoch,
        &device,
    );
    let steps_per_epoch = train_loader.batches();
    let valid_batch = t.batch_size.min(test_set.len());
    let valid_loader =
        EpochLoader::fixed(test_set.clone(), valid_batch, args.seed, augment, &device);

    let (optim, schedule) = optimizer(t, t.epochs * steps_per_epoch)?;

    let mut training =
        SupervisedTraining::new(&args.out, Arc::new(train_loader), Arc::new(valid_loader))
            .metric_train_numeric(LossMetric::new())
            .metric_valid_numeric(LossMetric::new());
    let mut names: Vec<String> = args
        .recipe
        .loss
        .plan()
        .terms
        .iter()
        .map(|t| t.name.clone())
        .collect();
    names.dedup();
    for name in &names {
        training = training
            .metric_train_numeric(ScalarMetric::new(name, false))
            .metric_valid_numeric(ScalarMetric::new(name, false));
    }
    training = training
        .metric_train_numeric(ScalarMetric::new(EFFECTIVE_RANK, true))
        .metric_valid_numeric(ScalarMetric::new(EFFECTIVE_RANK, true))
        .metric_train_numeric(ScalarMetric::new(UNIFORMITY, false))
        .metric_valid_numeric(ScalarMetric::new(UNIFORMITY, false))
        .with_default_checkpointers()
        .num_epochs(args.stop_after.map_or(t.epochs, |k| k.min(t.epochs)))
        .summary();
    if let Some(renderer) = EpochLines::unless_terminal() {
        training = training.renderer(renderer);
    }
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }
    let train_started = Instant::now();
    // A failed step ends the run as an error; the checkpoints of the epochs before it stay.
    let result = StepFailure::catch(|| training.launch(Learner::new(model, optim, schedule)))
        .map_err(|failure| RunError::Setup(failure.0))?;
    let train_seconds = train_started.elapsed().as_secs_f64();
    let trained = result.model;

    let pretrained = probe_scores(&trained, &train_set, &test_set);
    let random_init = probe_scores(&random_init.valid(), &train_set, &test_set);
    let results = PretrainResults {
        config: config.clone(),
        data: data_name,
        train_images: train_set.len(),
        test_images: test_set.len(),
        seed: args.seed,
        backend: args.backend,
        distance: tregs::distance_method_in_use(&device),
        epochs: epoch_logs(&log_path)?,
        beats_random_init: pretrained.linear_probe_top1 > random_init.linear_probe_top1,
        pretrained,
        random_init,
        train_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    let json_path = args.out.join("results.json");
    let json = serde_json::to_string_pretty(&results).expect("results serialize");
    crate::files::write_whole(&json_path, json).map_err(io_error(&json_path))?;
    let png_path = args.out.join("report.png");
    report_png(&results, &png_path).map_err(io_error(&png_path))?;
    Ok(results)
}

/// [`load_data`], the training images cut to `limit` (a seeded sample) when given.
pub fn load_limited(
    source: &DataSource,
    limit: Option<usize>,
    seed: u64,
) -> Result<(ImageSet, ImageSet, String), RunError> {
    let (train, test, name) = load_data(source)?;
    let train = match limit {
        Some(n) if n < train.len() => train.take_shuffled(n, seed),
        _ => train,
    };
    Ok((train, test, name))
}

/// The encoder for the set's image size (a small CNN up to 16×16, ResNet-18 above) unless
/// the config names one.
pub fn model_shape(set: &ImageSet, t: &crate::recipe::TrainConfig) -> Shape {
    Shape {
        encoder: t.encoder.unwrap_or(if set.height <= 16 && set.width <= 16 {
            EncoderKind::SmallCnn
        } else {
            EncoderKind::Resnet18
        }),
        channels: set.channels,
        height: set.height,
        width: set.width,
    }
}

/// Digit-style augmentations (no flip) for small grey images, natural-image ones otherwise.
pub fn augment_for(shape: Shape) -> Augment {
    if shape.channels == 1 && shape.height <= 16 {
        Augment::digits()
    } else {
        Augment::natural()
    }
}

/// Adam (AdamW with weight decay) and the cosine schedule over `total_steps` steps.
pub fn optimizer(
    t: &crate::recipe::TrainConfig,
    total_steps: usize,
) -> Result<(ModuleOptimizer, ModuleLrScheduler), RunError> {
    let optim: ModuleOptimizer = if t.weight_decay > 0.0 {
        AdamWConfig::new()
            .with_weight_decay(t.weight_decay as f32)
            .init()
    } else {
        AdamConfig::new().init()
    };
    let schedule = CosineAnnealingLrSchedulerConfig::new(t.lr, total_steps)
        .with_min_lr(t.lr * 0.01)
        .init()
        .map_err(|e| RunError::Setup(format!("train.lr: {e}")))?;
    Ok((optim, schedule))
}

/// Drops the step-log lines of epochs after `epoch` (a resumed run redoes them).
fn keep_log_until(path: &Path, epoch: usize) -> Result<(), RunError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["epoch"].as_u64())
                .is_some_and(|e| e as usize <= epoch)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    crate::files::write_whole(path, kept).map_err(io_error(path))
}

/// Per-epoch means of `metrics.jsonl`.
pub fn epoch_logs(path: &Path) -> Result<Vec<EpochLog>, RunError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut epochs: BTreeMap<usize, (usize, EpochLog)> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| RunError::Setup(format!("{} line {}: {e}", path.display(), number + 1)))?;
        let epoch = v["epoch"].as_u64().unwrap_or(0) as usize;
        let (count, log) = epochs.entry(epoch).or_insert_with(|| {
            (
                0,
                EpochLog {
                    epoch,
                    total: 0.0,
                    terms: BTreeMap::new(),
                    effective_rank: 0.0,
                    uniformity: 0.0,
                },
            )
        });
        *count += 1;
        log.total += v["total"].as_f64().unwrap_or(f64::NAN);
        log.effective_rank += v["effective_rank"].as_f64().unwrap_or(f64::NAN);
        log.uniformity += v["uniformity"].as_f64().unwrap_or(f64::NAN);
        if let Some(terms) = v["terms"].as_object() {
            for (name, value) in terms {
                *log.terms.entry(name.clone()).or_insert(0.0) += value.as_f64().unwrap_or(f64::NAN);
            }
        }
    }
    Ok(epochs
        .into_values()
        .map(|(count, mut log)| {
            let c = count as f64;
            log.total /= c;
            log.effective_rank /= c;
            log.uniformity /= c;
            log.terms.values_mut().for_each(|v| *v /= c);
            log
        })
        .collect())
}

/// Runs `f` over the set in batches of un-augmented images and stacks the rows (f64).
fn embed(set: &ImageSet, device: &Device, f: impl Fn(Tensor<4>) -> Tensor<2>) -> (Vec<f64>, usize) {
    let mut rows = Vec::new();
    let mut width = 0;
    let len = set.image_len();
    for start in (0..set.len()).step_by(512) {
        let end = (start + 512).min(set.len());
        let data = set.images[start * len..end * len].to_vec();
        let images = Tensor::from_data(
            TensorData::new(data, [end - start, set.channels, set.height, set.width]),
            device,
        );
        let out = f(images);
        width = out.dims()[1];
        rows.extend(
            out.into_data()
                .convert::<f64>()
                .try_to_vec::<f64>()
                .expect("float data"),
        );
    }
    (rows, width)
}

/// Linear probe and k-NN on encoder features, rank/uniformity/spectrum of the embeddings.
pub fn probe_scores(model: &SslModel, train: &ImageSet, test: &ImageSet) -> ProbeScores {
    let device = model.projector.devices()[0].clone();
    let (train_x, d) = embed(train, &device, |x| model.features(x));
    let (test_x, _) = embed(test, &device, |x| model.features(x));
    let classes = train.classes.max(test.classes);
    let probe = linear_probe(
        &train_x,
        &train.labels,
        &test_x,
        &test.labels,
        d,
        classes,
        1e-4,
        300,
    );
    let knn = knn_accuracy(
        &train_x,
        &train.labels,
        &test_x,
        &test.labels,
        d,
        classes,
        20,
    );
    // The embeddings z from the test features already computed: the encoder runs once.
    let n = test.len();
    let mut z = Vec::with_capacity(n * model.spec.recipe.config.train.embedding_dim);
    let mut e = 0;
    for chunk in test_x.chunks(512 * d) {
        let rows = chunk.len() / d;
        let features: Vec<f32> = chunk.iter().map(|&v| v as f32).collect();
        let projected = model.projector.forward(Tensor::from_data(
            TensorData::new(features, [rows, d]),
            &device,
        ));
        e = projected.dims()[1];
        z.extend(
            projected
                .into_data()
                .convert::<f64>()
                .try_to_vec::<f64>()
                .expect("float data"),
        );
    }
    ProbeScores {
        linear_probe_top1: probe.test_accuracy,
        knn_top1: knn,
        effective_rank: tregs::metrics::effective_rank(&z, n, e),
        uniformity: tregs::metrics::uniformity(&z, n, e, 2.0),
        mean_norm: z
            .chunks_exact(e)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .sum::<f64>()
            / n as f64,
        singular_values: singular_values(&z, n, e),
    }
}

/// Loss curves (every term and the total, per epoch) and the singular-value spectrum of the
/// test embeddings, pretrained against random init, in one PNG.
pub fn report_png(results: &PretrainResults, path: &Path) -> std::io::Result<()> {
    let epochs: Vec<f64> = results.epochs.iter().map(|e| e.epoch as f64).collect();
    let mut curves: Vec<(String, Vec<f64>)> = vec![(
        "total".to_string(),
        results.epochs.iter().map(|e| e.total).collect(),
    )];
    if let Some(first) = results.epochs.first() {
        for name in first.terms.keys() {
            curves.push((
                name.clone(),
                results
                    .epochs
                    .iter()
                    .map(|e| e.terms.get(name).copied().unwrap_or(f64::NAN))
                    .collect(),
            ));
        }
    }
    let loss = LineChart {
        title: format!("{}: training loss per epoch", results.config.name),
        x_label: "epoch".to_string(),
        y_label: "value".to_string(),
        log_y: false,
        lines: curves
            .iter()
            .enumerate()
            .map(|(i, (name, y))| Line {
                label: name.clone(),
                x: &epochs,
                y,
                color: PALETTE[i % PALETTE.len()],
            })
            .collect(),
    };
    let index = |s: &[f64]| (1..=s.len()).map(|k| k as f64).collect::<Vec<f64>>();
    let (k1, k2) = (
        index(&results.pretrained.singular_values),
        index(&results.random_init.singular_values),
    );
    let spectrum = LineChart {
        title: "singular values of the test embeddings".to_string(),
        x_label: "index".to_string(),
        y_label: "singular value".to_string(),
        log_y: true,
        lines: vec![
            Line {
                label: "pretrained".to_string(),
                x: &k1,
                y: &results.pretrained.singular_values,
                color: PALETTE[0],
            },
            Line {
                label: "random init".to_string(),
                x: &k2,
                y: &results.random_init.singular_values,
                color: PALETTE[1],
            },
        ],
    };
    save_panels_png(path, &[&loss, &spectrum], 2, 640, 420)
}
