//! The self-supervised model and its training and validation steps for burn's `Learner`.
//!
//! A step encodes the two augmented views, projects them, and evaluates the recipe's loss
//! expression (a [`tregs::RuntimeLoss`]) on the tensors it reads: `z`, `z2` always, `p`,
//! `p2` through BYOL's predictor and `t`, `t2` through an EMA target network when the
//! expression reads them. The T-REGS terms run as tregs' fused op, the others as burn tensor
//! ops, all under burn's autodiff. Each training step appends one JSON line (every term, the
//! total, effective rank and uniformity of `z`) to the run's `metrics.jsonl`.

use crate::models::{Encoder, EncoderKind, Mlp};
use crate::recipe::Recipe;
use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, ItemLazy, LossInput, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Two augmented views of the same images, `[batch, channels, height, width]` each.
#[derive(Debug, Clone)]
pub struct SslBatch {
    pub view1: Tensor<4>,
    pub view2: Tensor<4>,
    /// 1-based epoch and 0-based step within it, for the step log.
    pub epoch: usize,
    pub step: usize,
}

/// What does not change during a run: the loss and where the step log goes.
#[derive(Debug)]
pub struct StepSpec {
    pub recipe: Recipe,
    /// `metrics.jsonl` of the run (appended by every training step), if any.
    pub log: Option<Mutex<std::fs::File>>,
    pub log_path: Option<PathBuf>,
}

/// Encoder, projector and, when the loss reads them, BYOL's predictor and EMA target.
#[derive(Module, Debug)]
pub struct SslModel {
    pub encoder: Encoder,
    pub projector: Mlp,
    pub predictor: Option<Mlp>,
    pub target_encoder: Option<Encoder>,
    pub target_projector: Option<Mlp>,
    #[module(skip)]
    pub spec: Arc<StepSpec>,
}

impl std::fmt::Display for StepSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.recipe.config.loss.expression)
    }
}

/// The network sizes of a run.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub encoder: EncoderKind,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl SslModel {
    /// A freshly initialized model for `recipe`; weights come from the device's seeded RNG.
    pub fn new(
        recipe: &Recipe,
        shape: Shape,
        log_path: Option<&Path>,
        device: &Device,
    ) -> std::io::Result<SslModel> {
        let t = &recipe.config.train;
        let encoder = Encoder::new(
            shape.encoder,
            shape.channels,
            shape.height,
            shape.width,
            device,
        );
        let projector = Mlp::new(
            encoder.feature_dim(),
            t.projector_hidden,
            t.embedding_dim,
            device,
        );
        let predictor = (recipe.reads("p") || recipe.reads("p2"))
            .then(|| Mlp::new(t.embedding_dim, t.predictor_hidden, t.embedding_dim, device));
        let with_target = recipe.reads("t") || recipe.reads("t2");
        let target_encoder = with_target.then(|| fresh_copy(encoder.clone()));
        let target_projector = with_target.then(|| fresh_copy(projector.clone()));
        let log = match log_path {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
            None => None,
        };
        Ok(SslModel {
            encoder,
            projector,
            predictor,
            target_encoder,
            target_projector,
            spec: Arc::new(StepSpec {
                recipe: recipe.clone(),
                log,
                log_path: log_path.map(Path::to_path_buf),
            }),
        })
    }

    /// BYOL: after every optimizer step the EMA target (when there is one) moves toward the
    /// online network by `1 − train.ema`.
    pub fn follow_online(mut self) -> SslModel {
        let momentum = self.spec.recipe.config.train.ema;
        if let Some(target) = self.target_encoder.take() {
            self.target_encoder = Some(ema(target, &self.encoder, momentum));
        }
        if let Some(target) = self.target_projector.take() {
            self.target_projector = Some(ema(target, &self.projector, momentum));
        }
        self
    }

    /// Encoder features of a batch of images (no projection).
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images)
    }

    /// The loss of a batch, and `z` (the projection of view 1) for the metrics.
    pub fn loss(
        &self,
        batch: &SslBatch,
    ) -> Result<(tregs::LossOutput, Tensor<2>), tregs::LossError> {
        let recipe = &self.spec.recipe;
        let z = self
            .projector
            .forward(self.encoder.forward(batch.view1.clone()));
        let z2 = self
            .projector
            .forward(self.encoder.forward(batch.view2.clone()));
        let mut bound: Vec<(&str, Tensor<2>)> = vec![("z", z.clone()), ("z2", z2.clone())];
        if let Some(predictor) = &self.predictor {
            bound.push(("p", predictor.forward(z.clone())));
            bound.push(("p2", predictor.forward(z2)));
        }
        if let (Some(encoder), Some(projector)) = (&self.target_encoder, &self.target_projector) {
            // The target gets no gradient: BYOL's stop-gradient.
            let target = |v: &Tensor<4>| projector.forward(encoder.forward(v.clone())).detach();
            bound.push(("t", target(&batch.view1)));
            bound.push(("t2", target(&batch.view2)));
        }
        let bindings: Vec<(&str, &Tensor<2>)> = bound.iter().map(|(n, t)| (*n, t)).collect();
        let out = recipe.loss.evaluate(&bindings)?;
        Ok((out, z))
    }

    fn output(
        &self,
        out: &tregs::LossOutput,
        z: &Tensor<2>,
        batch: &SslBatch,
        split: &str,
    ) -> SslOutput {
        let mut scalars = BTreeMap::new();
        for term in out.terms() {
            scalars.insert(term.name.clone(), term.value);
        }
        let total = out.total_value();
        let [n, d] = z.dims();
        let data: Vec<f64> = z
            .to_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("embeddings are float data");
        let rank = tregs::metrics::effective_rank(&data, n, d);
        let uniformity = tregs::metrics::uniformity(&data, n, d, 2.0);
        scalars.insert(EFFECTIVE_RANK.to_string(), rank);
        scalars.insert(UNIFORMITY.to_string(), uniformity);
        if split == "train" {
            if let Some(log) = &self.spec.log {
                let line = serde_json::json!({
                    "split": split,
                    "epoch": batch.epoch,
                    "step": batch.step,
                    "total": total,
                    "terms": out.terms().iter().map(|t| (t.name.clone(), t.value)).collect::<BTreeMap<_, _>>(),
                    "effective_rank": rank,
                    "uniformity": uniformity,
                });
                let mut file = log.lock().expect("step log lock");
                // A failed write of the log must not stop training, but it must not pass
                // silently either.
                if let Err(e) = writeln!(file, "{line}") {
                    eprintln!("warning: could not append to the step log: {e}");
                }
            }
        }
        SslOutput {
            loss: out.total(),
            scalars: Arc::new(scalars),
        }
    }
}

/// Name of the effective-rank metric (RankMe) of `z`.
pub const EFFECTIVE_RANK: &str = "effective rank";
/// Name of the uniformity metric (Wang–Isola, t = 2) of `z`.
pub const UNIFORMITY: &str = "uniformity";

/// A copy of `module` with new parameter ids: the EMA target must not share ids with the
/// online network, or the optimizer would treat them as the same parameters.
fn fresh_copy<M: Module>(module: M) -> M {
    struct Fresh;
    impl ModuleMapper for Fresh {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            Param::initialized(ParamId::new(), param.val().detach())
        }
    }
    module.map(&mut Fresh)
}

/// Every float parameter of a module, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().detach();
        let count = value.shape().num_elements();
        self.0.push(value.reshape([count]));
    }
}

/// target ← m·target + (1 − m)·online, parameter by parameter in visiting order (the two
/// networks have the same structure).
struct EmaUpdate {
    online: std::vec::IntoIter<Tensor<1>>,
    momentum: f64,
}

impl ModuleMapper for EmaUpdate {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let online = self
            .online
            .next()
            .expect("the target mirrors the online network");
        let m = self.momentum;
        param.map(|t| {
            let shape = t.shape();
            (t.detach() * m + online.reshape(shape) * (1.0 - m)).detach()
        })
    }
}

/// The EMA step of BYOL's target network: every float parameter of `target` becomes
/// `momentum·target + (1 − momentum)·online`.
pub fn ema<M: Module>(target: M, online: &M, momentum: f64) -> M {
    let mut collect = Collect(Vec::new());
    online.visit(&mut collect);
    target.map(&mut EmaUpdate {
        online: collect.0.into_iter(),
        momentum,
    })
}

/// Why a step could not go on (a NaN batch, a term that overflows). burn's steps return no
/// `Result`, so the step unwinds with this payload, without the panic message and
/// backtrace, and [`StepFailure::catch`] around the training turns it back into an error.
#[derive(Debug, Clone)]
pub struct StepFailure(pub String);

impl StepFailure {
    /// Unwinds the step with this failure.
    pub fn raise(message: String) -> ! {
        // Installed at each failure, so that it wraps the hooks installed since (burn's
        // Learner adds one per run): those stay for every other panic.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<StepFailure>() {
                previous(info)
            }
        }));
        std::panic::panic_any(StepFailure(message))
    }

    /// Runs `f`; a step that failed inside it is its error, any other panic goes on.
    pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, StepFailure> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
            match payload.downcast::<StepFailure>() {
                Ok(failure) => *failure,
                Err(other) => std::panic::resume_unwind(other),
            }
        })
    }
}

impl TrainStep for SslModel {
    type Input = SslBatch;
    type Output = SslOutput;

    fn step(&self, batch: SslBatch) -> TrainOutput<SslOutput> {
        let fail = |e: tregs::LossError| -> ! {
            StepFailure::raise(format!(
                "training step {} of epoch {}: {e}",
                batch.step, batch.epoch
            ))
        };
        // Checked after the backward is queued, not at evaluation: on a GPU the forward and
        // backward then run back to back, and a bad batch still stops the step before the
        // optimizer touches the weights.
        let (out, z) = {
            let _deferred = tregs::defer_checks();
            self.loss(&batch).unwrap_or_else(|e| fail(e))
        };
        let grads = out.backward();
        out.check().unwrap_or_else(|e| fail(e));
        let item = self.output(&out, &z, &batch, "train");
        TrainOutput::new(self, grads, item)
    }

    fn optimize(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        grads: GradientsParams,
    ) -> Self {
        optim.step(lr, self, grads).follow_online()
    }
}

impl InferenceStep for SslModel {
    type Input = SslBatch;
    type Output = SslOutput;

    fn step(&self, batch: SslBatch) -> SslOutput {
        let (out, z) = self.loss(&batch).unwrap_or_else(|e| {
            StepFailure::raise(format!(
                "validation step {} of epoch {}: {e}",
                batch.step, batch.epoch
            ))
        });
        self.output(&out, &z, &batch, "valid")
    }
}

/// A step's output for burn's metrics: the total (for `LossMetric`) and every named scalar.
#[derive(Debug, Clone)]
pub struct SslOutput {
    pub loss: Tensor<1>,
    pub scalars: Arc<BTreeMap<String, f64>>,
}

impl ItemLazy for SslOutput {
    fn sync(self) -> Result<Self, burn_std::ExecutionError> {
        Ok(self)
    }
}

impl Adaptor<LossInput> for SslOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// The named scalars of a step.
#[derive(Debug, Clone)]
pub struct Scalars(pub Arc<BTreeMap<String, f64>>);

impl Adaptor<Scalars> for SslOutput {
    fn adapt(&self) -> Scalars {
        Scalars(self.scalars.clone())
    }
}

/// One named scalar of the step output (a loss term, the effective rank, the uniformity) as
/// a burn numeric metric: shown in the progress display and averaged per epoch.
#[derive(Clone)]
pub struct ScalarMetric {
    name: MetricName,
    key: String,
    higher_is_better: bool,
    state: NumericMetricState,
}

impl ScalarMetric {
    pub fn new(key: &str, higher_is_better: bool) -> ScalarMetric {
        ScalarMetric {
            name: Arc::new(key.to_string()),
            key: key.to_string(),
            higher_is_better,
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for ScalarMetric {
    type Input = Scalars;

    fn update(
        &mut self,
        input: &Scalars,
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        let _ = metadata;
        let value = input.0.get(&self.key).copied().unwrap_or(f64::NAN);
        self.state.update(value, 1);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(4)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(4)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: self.higher_is_better,
        }
        .into()
    }
}

impl Numeric for ScalarMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<M: Module>(m: &M) -> Vec<f32> {
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0.into_iter()
            .flat_map(|t| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn the_target_moves_toward_the_online_network_by_one_minus_momentum() {
        let device = Device::flex();
        device.seed(1);
        let online = Mlp::new(4, 8, 3, &device);
        let target = fresh_copy(Mlp::new(4, 8, 3, &device));
        let (o, t) = (values(&online), values(&target));
        assert_ne!(o, t);
        let moved = values(&ema(target, &online, 0.9));
        for ((m, t), o) in moved.iter().zip(&t).zip(&o) {
            assert!((m - (0.9 * t + 0.1 * o)).abs() < 1e-6, "{m} vs {t}, {o}");
        }
    }

    #[test]
    fn a_fresh_copy_has_new_parameter_ids_and_the_same_values() {
        let device = Device::flex();
        let online = Mlp::new(4, 8, 3, &device);
        let copy = fresh_copy(online.clone());
        assert_eq!(values(&online), values(&copy));
        struct Ids(Vec<ParamId>);
        impl ModuleVisitor for Ids {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.push(param.id);
            }
        }
        let (mut a, mut b) = (Ids(Vec::new()), Ids(Vec::new()));
        online.visit(&mut a);
        copy.visit(&mut b);
        assert!(a.0.iter().all(|id| !b.0.contains(id)));
    }
}
