//! Data-parallel pretraining: P processes, one replica each, the global batch split in P
//! equal parts, the T-REGS terms on the global batch.
//!
//! A step on process r: encode its part of the batch (`batch_size / P` images, the same
//! samples and augmentations a single process would use: every view is seeded by (seed,
//! epoch, sample)) → the recipe's loss with every row-coupling term promoted to
//! `scope = global` (the others' embeddings all-gathered, [`tregs::distributed`]) →
//! backward → parameter gradients averaged over processes (one all-reduce of one flat
//! buffer) → the same Adam step on every replica. The replicas start from the same seeded
//! weights and stay identical.
//!
//! This is our own loop rather than burn's `Learner`: the Learner's strategies own the
//! gradient synchronisation (burn's DDP: one node, CUDA/NCCL only), and the all-reduce has
//! to sit between `backward` and the optimizer step. The models have no batch statistics
//! (GroupNorm, no BatchNorm), so nothing else needs synchronising.

use crate::data::ImageSet;
use crate::loader::EpochLoader;
use crate::pretrain::{augment_for, io_error, model_shape, optimizer, Backend, RunError};
use crate::recipe::Recipe;
use crate::ssl::SslModel;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tregs::distributed::Communicator;
use tregs::Scope;

/// A test hook: make one process fail at a step, to check that the others stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The process exits abruptly (as if killed) before the step.
    Exit { rank: usize, step: usize },
    /// The process stops answering (sleeps) before the step.
    Hang { rank: usize, step: usize },
}

impl Fault {
    /// `exit:RANK:STEP` or `hang:RANK:STEP`.
    pub fn parse(text: &str) -> Result<Fault, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let number = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| format!("--inject-fault `{text}`: `{s}` is not a number"))
        };
        match parts.as_slice() {
            ["exit", r, s] => Ok(Fault::Exit {
                rank: number(r)?,
                step: number(s)?,
            }),
            ["hang", r, s] => Ok(Fault::Hang {
                rank: number(r)?,
                step: number(s)?,
            }),
            _ => Err(format!(
                "--inject-fault `{text}`: expected exit:RANK:STEP or hang:RANK:STEP"
            )),
        }
    }
}

/// One data-parallel run.
#[derive(Debug, Clone)]
pub struct DataParallelArgs {
    pub recipe: Recipe,
    pub train_set: Arc<ImageSet>,
    pub data_name: String,
    pub out: PathBuf,
    pub seed: u64,
    pub backend: Backend,
    /// Optimizer steps to run (the learning-rate schedule spans `train.epochs`, or these
    /// steps when they are more).
    pub steps: usize,
    pub fault: Option<Fault>,
}

/// One line of `metrics.jsonl`: the global batch's values after step `step` (1-based).
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    pub step: usize,
    pub epoch: usize,
    pub processes: usize,
    pub batch_size: usize,
    pub total: f64,
    pub terms: BTreeMap<String, f64>,
    pub lr: f64,
    pub seconds: f64,
}

/// What the run did, as seen by process 0.
#[derive(Debug, Clone)]
pub struct DataParallelSummary {
    pub steps: usize,
    pub processes: usize,
    pub seconds: f64,
    pub last: Option<StepLine>,
    pub checkpoints: Vec<PathBuf>,
}

/// Trains `args.steps` steps on the processes of `comm`; process 0 writes
/// `out/metrics.jsonl` (one line per step) and a checkpoint at the end of every epoch and
/// of the run (`out/checkpoint/model-step-K.bpk`, written to a temporary name first and
/// renamed, so a crash never leaves a partial checkpoint).
pub fn train_data_parallel(
    args: &DataParallelArgs,
    comm: &dyn Communicator,
) -> Result<DataParallelSummary, RunError> {
    let started = Instant::now();
    let (rank, size) = (comm.rank(), comm.size());
    let t = &args.recipe.config.train;
    if !t.batch_size.is_multiple_of(size) {
        return Err(RunError::Setup(format!(
            "train.batch_size = {} does not split into {size} equal parts: choose a global \
             batch size divisible by the number of processes",
            t.batch_size
        )));
    }
    if args.train_set.len() < t.batch_size {
        return Err(RunError::Setup(format!(
            "{} training images, fewer than one batch of {} (train.batch_size)",
            args.train_set.len(),
            t.batch_size
        )));
    }
    let log_path = args.out.join("metrics.jsonl");
    let checkpoint_dir = args.out.join("checkpoint");
    if rank == 0 {
        std::fs::create_dir_all(&checkpoint_dir).map_err(io_error(&checkpoint_dir))?;
        if log_path.exists() {
            return Err(RunError::Setup(format!(
                "{} already exists: choose another --out (nothing was overwritten)",
                log_path.display()
            )));
        }
    }
    let mut log = if rank == 0 {
        Some(std::fs::File::create(&log_path).map_err(io_error(&log_path))?)
    } else {
        None
    };

    // Every row-coupling term sees the global batch; the names stay as written.
    let mut recipe = args.recipe.clone();
    recipe.loss.promote_to_global();
    let rank_scoped: Vec<bool> = recipe
        .loss
        .plan()
        .terms
        .iter()
        .map(|term| term.scope() == Scope::Rank)
        .collect();

    let device = args.backend.device()?;
    device.seed(args.seed);
    let shape = model_shape(&args.train_set, t);
    let mut model = SslModel::new(&recipe, shape, None, &device).map_err(io_error(&log_path))?;
    let loader = EpochLoader::train(
        args.train_set.clone(),
        t.batch_size,
        args.seed,
        augment_for(shape),
        1,
        &device,
    );
    let steps_per_epoch = loader.batches();
    // The schedule spans train.epochs, or the run when --steps asks for more.
    let (mut optim, mut schedule) = optimizer(t, (t.epochs * steps_per_epoch).max(args.steps))?;

    let mut summary = DataParallelSummary {
        steps: 0,
        processes: size,
        seconds: 0.0,
        last: None,
        checkpoints: Vec::new(),
    };
    let mut order = (0, Vec::new());
    for step in 0..args.steps {
        match args.fault {
            Some(Fault::Exit { rank: r, step: s }) if r == rank && s == step + 1 => {
                eprintln!("process {rank}: injected fault: exiting before step {s}");
                std::process::exit(9);
            }
            Some(Fault::Hang { rank: r, step: s }) if r == rank && s == step + 1 => {
                eprintln!("process {rank}: injected fault: hanging before step {s}");
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
            _ => {}
        }
        let epoch = step / steps_per_epoch + 1;
        let step_in_epoch = step % steps_per_epoch;
        if order.0 != epoch {
            order = (epoch, loader.order(epoch));
        }
        let batch = loader.batch_part(epoch, step_in_epoch, &order.1, rank, size);
        let (out, _z) = model.loss(&batch).map_err(|e| {
            RunError::Setup(format!(
                "process {rank}, step {} (epoch {epoch}): {e}",
                step + 1
            ))
        })?;
        let grads = GradientsParams::from_grads(out.backward(), &model);
        let grads = average_gradients(&model, grads, comm);
        let lr = schedule.step();
        let base_lr = lr.base();
        model = optim.step(lr, model, grads).follow_online();

        // The global batch's values: a global term is the same on every process; a
        // rank-scoped term (a mean over rows) is the mean of the processes' values.
        let mut local: Vec<f64> = out
            .terms()
            .iter()
            .zip(&rank_scoped)
            .map(|(term, &rank_only)| if rank_only { term.value } else { 0.0 })
            .collect();
        comm.all_reduce_sum_f64(&mut local);
        let mut terms = BTreeMap::new();
        let mut total = 0.0;
        for ((term, &rank_only), sum) in out.terms().iter().zip(&rank_scoped).zip(&local) {
            let value = if rank_only {
                sum / size as f64
            } else {
                term.value
            };
            total += term.coef * value;
            terms.insert(term.name.clone(), value);
        }
        let line = StepLine {
            step: step + 1,
            epoch,
            processes: size,
            batch_size: t.batch_size,
            total,
            terms,
            lr: base_lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(file) = &mut log {
            let text = serde_json::to_string(&line).expect("a step line serializes");
            writeln!(file, "{text}")
                .and_then(|_| file.flush())
                .map_err(io_error(&log_path))?;
        }
        let end_of_epoch = (step + 1) % steps_per_epoch == 0;
        if rank == 0 && (end_of_epoch || step + 1 == args.steps) {
            summary
                .checkpoints
                .push(save_checkpoint(&model, &checkpoint_dir, step + 1)?);
        }
        summary.steps = step + 1;
        summary.last = Some(line);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Writes `model-step-K.bpk` through a temporary file and a rename.
fn save_checkpoint(model: &SslModel, dir: &Path, step: usize) -> Result<PathBuf, RunError> {
    let path = dir.join(format!("model-step-{step}.bpk"));
    let partial = dir.join(format!(".model-step-{step}.partial.bpk"));
    model
        .clone()
        .save_file(&partial)
        .map_err(|e| RunError::Setup(format!("{}: {e}", partial.display())))?;
    std::fs::rename(&partial, &path).map_err(io_error(&path))?;
    Ok(path)
}

/// Every parameter gradient averaged over the processes: the gradients are flattened into
/// one buffer in the module's visiting order (the same on every replica), summed with one
/// all-reduce, divided by P and put back.
pub fn average_gradients<M: Module>(
    model: &M,
    grads: GradientsParams,
    comm: &dyn Communicator,
) -> GradientsParams {
    if comm.size() == 1 {
        return grads;
    }
    struct Flatten<'a> {
        grads: &'a GradientsParams,
        buffer: Vec<f32>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.get::<D>(param.id) {
                let values: Vec<f32> = grad
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec()
                    .expect("gradients are float data");
                self.buffer.extend(values);
            }
        }
    }
    struct Restore {
        grads: GradientsParams,
        buffer: Vec<f32>,
        offset: usize,
        scale: f32,
    }
    impl ModuleVisitor for Restore {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let id: ParamId = param.id;
            if let Some(grad) = self.grads.get::<D>(id) {
                let shape = grad.shape();
                let count = shape.num_elements();
                let values: Vec<f32> = self.buffer[self.offset..self.offset + count]
                    .iter()
                    .map(|v| v * self.scale)
                    .collect();
                self.offset += count;
                let averaged =
                    Tensor::<D>::from_data(TensorData::new(values, shape), &grad.device());
                self.grads.register(id, averaged);
            }
        }
    }
    let mut flatten = Flatten {
        grads: &grads,
        buffer: Vec::new(),
    };
    model.visit(&mut flatten);
    let mut buffer = flatten.buffer;
    comm.all_reduce_sum_f32(&mut buffer);
    let mut restore = Restore {
        grads,
        buffer,
        offset: 0,
        scale: 1.0 / comm.size() as f32,
    };
    model.visit(&mut restore);
    restore.grads
}
