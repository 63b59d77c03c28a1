//! Data-parallel evaluation: a batch spread over P processes, with the terms that couple
//! rows computed on the global batch.
//!
//! The path of `scope = global`: every process all-gathers the rows of the term's inputs
//! ([`gather_rows`]); the others' rows enter as constants, this process's rows keep their
//! autodiff link; the term runs on the concatenation exactly as one process holding the
//! whole batch would (same input, same deterministic tree, bit for bit on every process).
//! Its gradient reaches this process's rows only, scaled by P so that averaging the
//! parameter gradients over processes (what data-parallel training does) gives the
//! gradient of one process on the concatenated batch:
//!
//! `∂L/∂θ = Σ_r ∂L/∂Z_r · ∂Z_r/∂θ = (1/P) Σ_r (P ∂L/∂Z_r · ∂Z_r/∂θ)`.
//!
//! Row-wise terms (means over rows: `sphere`, `mse`, …) need nothing: with equal shares
//! the global mean is the mean of the processes' means.
//!
//! `scope = sharded` (`mst_len` only) finds the same tree without the n × n matrix: each
//! process computes the distances of its own rows against the gathered batch and the
//! tree comes from distributed Borůvka ([`sharded`]).
//!
//! The transport is a [`Communicator`] installed with [`set_communicator`]: MPI with the
//! `mpi` feature (`distributed::mpi`), anything else a user implements. With none installed
//! (or one process), a global term is the term of the batch at hand.

#[cfg(feature = "mpi")]
pub mod mpi;
pub mod sharded;

use crate::error::LossError;
use crate::plan::LossPlan;
use burn::tensor::{DType, Tensor, TensorData};
use std::ops::Range;
use std::sync::{Arc, RwLock};
use tregs_macros_core::Scope;

/// The collectives tregs needs; every process calls them in the same order.
///
/// Gathers concatenate each process's slice in rank order (lengths may differ). A transport
/// failure (a dead process) is the implementation's to report: it must stop the process
/// with a clear message rather than hang (see the watchdog of `distributed::mpi`).
pub trait Communicator: Send + Sync {
    /// This process's index, `0..size`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    fn all_gather_f32(&self, local: &[f32]) -> Vec<f32>;
    fn all_gather_f64(&self, local: &[f64]) -> Vec<f64>;
    fn all_gather_u64(&self, local: &[u64]) -> Vec<u64>;
    /// Element-wise sum over processes, in place.
    fn all_reduce_sum_f32(&self, values: &mut [f32]);
    /// Element-wise sum over processes, in place.
    fn all_reduce_sum_f64(&self, values: &mut [f64]);
}

/// One process: gathers return the local slice, sums leave the values as they are.
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_gather_f32(&self, local: &[f32]) -> Vec<f32> {
        local.to_vec()
    }
    fn all_gather_f64(&self, local: &[f64]) -> Vec<f64> {
        local.to_vec()
    }
    fn all_gather_u64(&self, local: &[u64]) -> Vec<u64> {
        local.to_vec()
    }
    fn all_reduce_sum_f32(&self, _values: &mut [f32]) {}
    fn all_reduce_sum_f64(&self, _values: &mut [f64]) {}
}

static COMMUNICATOR: RwLock<Option<Arc<dyn Communicator>>> = RwLock::new(None);

/// Installs (or with `None`, removes) the communicator every `loss!` evaluation uses for
/// its global-scope terms.
pub fn set_communicator(communicator: Option<Arc<dyn Communicator>>) {
    *COMMUNICATOR.write().unwrap_or_else(|e| e.into_inner()) = communicator;
}

/// The installed communicator, if any.
pub fn communicator() -> Option<Arc<dyn Communicator>> {
    COMMUNICATOR
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The installed communicator when there is more than one process.
pub(crate) fn active() -> Option<Arc<dyn Communicator>> {
    communicator().filter(|c| c.size() > 1)
}

/// The rows of `z` from every process, in rank order, and where this process's rows sit.
///
/// The others' rows are constants; this process's rows carry their autodiff link with the
/// gradient scaled by P (value unchanged, bit for bit: `z + (P−1)(z − z.detach())` adds an
/// exact zero), which makes the averaged update that of one process on the whole batch.
pub fn gather_rows(
    name: &str,
    z: &Tensor<2>,
    comm: &dyn Communicator,
) -> Result<(Tensor<2>, Range<usize>), LossError> {
    let [n, d] = z.dims();
    let (rank, size) = (comm.rank(), comm.size());
    let shapes = comm.all_gather_u64(&[n as u64, d as u64]);
    let rows: Vec<usize> = shapes.chunks_exact(2).map(|s| s[0] as usize).collect();
    if let Some(r) = (0..size).find(|&r| shapes[2 * r + 1] as usize != d) {
        return Err(LossError::Input {
            input: name.to_string(),
            problem: format!(
                "has {d} columns on process {rank} but {} on process {r}: every process must \
                 give the same width",
                shapes[2 * r + 1]
            ),
        });
    }
    let start: usize = rows[..rank].iter().sum();
    let total: usize = rows.iter().sum();
    let device = z.device();
    let dtype = z.dtype();
    let all = if dtype == DType::F64 {
        let local: Vec<f64> = crate::read_back::values(z, name)?;
        TensorData::new(comm.all_gather_f64(&local), [total, d])
    } else {
        let local: Vec<f32> = crate::read_back::values(z, name)?;
        TensorData::new(comm.all_gather_f32(&local), [total, d])
    };
    let scale = (size - 1) as f64;
    let own = z.clone() + (z.clone() - z.clone().detach()) * scale;
    let mut parts = Vec::with_capacity(3);
    if start > 0 || start + n < total {
        let everything = Tensor::<2>::from_data(all, (&device, dtype));
        if start > 0 {
            parts.push(everything.clone().narrow(0, 0, start));
        }
        parts.push(own);
        if start + n < total {
            parts.push(everything.narrow(0, start + n, total - start - n));
        }
    } else {
        parts.push(own);
    }
    Ok((Tensor::cat(parts, 0), start..start + n))
}

/// A loss plan rewritten for the processes at hand: each global-scope term reads gathered
/// inputs, each sharded term is set aside for [`sharded::mst_len`].
pub(crate) struct Distributed {
    pub plan: LossPlan,
    /// The plan's inputs: the caller's, then the gathered ones.
    pub inputs: Vec<Tensor<2>>,
    /// Per sharded term (plan index): its gathered input and this process's rows in it.
    pub sharded: Vec<(usize, usize, Range<usize>)>,
}

/// Rewrites `plan` so that global and sharded terms read the gathered batch.
pub(crate) fn distribute(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    comm: &dyn Communicator,
) -> Result<Distributed, LossError> {
    let mut out = Distributed {
        plan: plan.clone(),
        inputs: inputs.iter().map(|t| (*t).clone()).collect(),
        sharded: Vec::new(),
    };
    // Caller's input index → (gathered input index, this process's rows).
    let mut gathered: Vec<Option<(usize, Range<usize>)>> = vec![None; inputs.len()];
    for k in 0..plan.terms.len() {
        let term = &plan.terms[k];
        if term.scope() == Scope::Rank {
            continue;
        }
        for slot in 0..term.primitive.row_params() {
            let i = term.args[slot];
            if gathered[i].is_none() {
                let name = &plan.inputs[i];
                let (all, rows) = gather_rows(name, inputs[i], comm)?;
                out.inputs.push(all);
                out.plan.inputs.push(format!("{name} (all processes)"));
                gathered[i] = Some((out.inputs.len() - 1, rows));
            }
            let (index, rows) = gathered[i].clone().expect("gathered above");
            out.plan.terms[k].args[slot] = index;
            if term.scope() == Scope::Sharded {
                out.sharded.push((k, index, rows));
            }
        }
    }
    Ok(out)
}
