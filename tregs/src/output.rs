//! What evaluating a loss returns: the total to differentiate and every term by name; and
//! [`defer_checks`], which lets an evaluation return before its values are read back.

use crate::error::LossError;
use crate::plan::LossPlan;
use burn::tensor::Tensor;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

/// One term's value in an evaluated loss.
#[derive(Debug, Clone, PartialEq)]
pub struct TermValue {
    /// Canonical text of the term, e.g. `mst_len(z)`.
    pub name: String,
    /// Its coefficient in the expression.
    pub coef: f64,
    /// The term's unweighted value (computed in f64 on the CPU path).
    pub value: f64,
}

impl TermValue {
    /// `coef · value`: the term's contribution to the total.
    pub fn weighted(&self) -> f64 {
        self.coef * self.value
    }
}

/// The result of a loss evaluation.
#[derive(Debug, Clone)]
pub struct LossOutput {
    pub(crate) total: Tensor<1>,
    pub(crate) values: Tensor<1>,
    /// Each term's name and coefficient, in expression order.
    pub(crate) names: Vec<(String, f64)>,
    /// The values on the host: read at evaluation, or, with checks deferred, when first
    /// asked for.
    pub(crate) host: OnceLock<Vec<TermValue>>,
    /// With checks deferred: what [`LossOutput::check`] needs to name the input at fault.
    pub(crate) deferred: Option<Arc<DeferredCheck>>,
}

/// The plan and inputs of an evaluation whose check was deferred (the inputs are handles:
/// no copy).
#[derive(Debug)]
pub(crate) struct DeferredCheck {
    pub(crate) plan: LossPlan,
    pub(crate) inputs: Vec<Tensor<2>>,
}

impl LossOutput {
    /// The total `Σ_k c_k · value_k` as a one-element tensor: call `.backward()` on it.
    pub fn total(&self) -> Tensor<1> {
        self.total.clone()
    }

    /// Consumes the output, keeping the total.
    pub fn into_total(self) -> Tensor<1> {
        self.total
    }

    /// The total as a number, summed in f64 from the term values.
    pub fn total_value(&self) -> f64 {
        self.terms().iter().map(TermValue::weighted).sum()
    }

    /// The unweighted term values as a tensor of shape `[K]` (part of the autodiff graph).
    pub fn values(&self) -> Tensor<1> {
        self.values.clone()
    }

    /// Every term, in expression order. With checks deferred ([`defer_checks`]), the
    /// first call reads the values back (on a GPU, waiting for the forward), and a value
    /// may be NaN or infinite: [`LossOutput::check`] says why.
    ///
    /// # Panics
    /// When that read fails (the device faulted or was lost): [`LossOutput::try_terms`]
    /// returns the error instead. An evaluation with checks on has read them already.
    pub fn terms(&self) -> &[TermValue] {
        self.try_terms().unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`LossOutput::terms`], or the [`LossError::Device`] of a failed read back.
    pub fn try_terms(&self) -> Result<&[TermValue], LossError> {
        if let Some(terms) = self.host.get() {
            return Ok(terms);
        }
        let values: Vec<f64> = crate::read_back::values(&self.values, "the term values")?;
        let terms = self
            .names
            .iter()
            .zip(values)
            .map(|((name, coef), value)| TermValue {
                name: name.clone(),
                coef: *coef,
                value,
            })
            .collect();
        // Another thread may have read them meanwhile; both reads are the same values.
        Ok(self.host.get_or_init(|| terms))
    }

    /// A term by its name, e.g. `out.term("mst_len(z)")`. Spacing and the spelling of
    /// option names do not matter: the canonical `barlow(z, z2, λ = 1e-2)` is also found as
    /// `barlow(z,z2,lambda=1e-2)`.
    pub fn term(&self, name: &str) -> Option<&TermValue> {
        let terms = self.terms();
        terms.iter().find(|t| t.name == name).or_else(|| {
            let key = spelling_key(name);
            terms.iter().find(|t| spelling_key(&t.name) == key)
        })
    }

    /// The error evaluation returns for a NaN or infinite term (naming the input row at
    /// fault), or `Ok`. An evaluation with checks on has already passed it; with checks
    /// deferred ([`defer_checks`]) this is where it happens: before the optimizer step,
    /// it keeps a bad batch out of the weights while the forward and the backward still
    /// ran back to back. A failed read back is a [`LossError::Device`].
    pub fn check(&self) -> Result<(), LossError> {
        let terms = self.try_terms()?;
        let Some(k) = terms.iter().position(|t| !t.value.is_finite()) else {
            return Ok(());
        };
        Err(match &self.deferred {
            Some(deferred) => {
                let inputs: Vec<&Tensor<2>> = deferred.inputs.iter().collect();
                crate::evaluate::diagnose_non_finite(&deferred.plan, &inputs, k, terms[k].value)
            }
            None => LossError::Term {
                term: terms[k].name.clone(),
                problem: format!("evaluates to {}", terms[k].value),
            },
        })
    }

    /// Backpropagates from the total.
    pub fn backward(&self) -> burn::tensor::Gradients {
        self.total.backward()
    }
}

thread_local! {
    /// How many [`DeferredChecks`] guards are alive on this thread.
    static DEFERRED_CHECKS: Cell<usize> = const { Cell::new(0) };
}

/// While the returned guard lives, evaluations on this thread (`loss!`,
/// [`crate::RuntimeLoss::evaluate`], [`crate::evaluate()`]) return without reading their
/// term values back. By default an evaluation reads them at once, to return an error for a
/// NaN or infinite term before anything is differentiated; on a GPU that read waits for the
/// forward, so the backward is queued only after the device has drained. Deferred, the
/// forward and backward queue back to back, and the values are read when first asked for
/// ([`LossOutput::terms`], [`LossOutput::term`], [`LossOutput::total_value`]), or checked
/// by [`LossOutput::check`], which returns the error evaluation would have returned.
///
/// The price: a NaN batch reaches the gradients before anything says so. Call
/// `out.check()?` after `backward` and before the optimizer step to keep it out of the
/// weights. With checks deferred the output also keeps handles to its inputs (no copy)
/// until it is dropped, to name the row at fault.
///
/// ```
/// use tregs::burn::tensor::{Device, Tensor, TensorData};
/// use tregs::{defer_checks, loss};
/// let device = Device::default().autodiff();
/// let data = TensorData::new(vec![0.0f32, 0.0, 3.0, 4.0], [2, 2]);
/// let z = Tensor::<2>::from_data(data, &device).require_grad();
/// let _deferred = defer_checks();
/// let out = loss!(mst_len(z)).unwrap();
/// let _grads = out.backward();
/// out.check().unwrap(); // the values are read here
/// assert_eq!(out.term("mst_len(z)").unwrap().value, -2.5);
/// ```
pub fn defer_checks() -> DeferredChecks {
    DEFERRED_CHECKS.with(|depth| depth.set(depth.get() + 1));
    DeferredChecks {
        _this_thread: PhantomData,
    }
}

/// Whether evaluations on this thread defer their checks ([`defer_checks`]).
pub fn checks_deferred() -> bool {
    DEFERRED_CHECKS.with(|depth| depth.get() > 0)
}

/// The guard of [`defer_checks`]; checks are back on when the last guard on the thread is
/// dropped. It stays on the thread that made it.
#[must_use = "checks are deferred only while the guard lives"]
#[derive(Debug)]
pub struct DeferredChecks {
    _this_thread: PhantomData<*const ()>,
}

impl Drop for DeferredChecks {
    fn drop(&mut self) {
        DEFERRED_CHECKS.with(|depth| depth.set(depth.get() - 1));
    }
}

/// A term's name with whitespace dropped and Greek letters spelt in ASCII (`λ` → `lambda`).
fn spelling_key(name: &str) -> String {
    let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    tregs_macros_core::ascii_name(&compact)
}
