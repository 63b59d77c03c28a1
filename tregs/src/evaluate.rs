//! One evaluation of a loss plan: check the inputs, run the fused operation (or the
//! tensor-op fallback on backends without one), weight the terms.

use crate::distance_method::DistanceMethod;
use crate::distributed;
use crate::error::LossError;
use crate::ops::TregsOps;
use crate::output::{checks_deferred, DeferredCheck, LossOutput};
use crate::plan::{FusedPlan, LossPlan, TermPlan};
use crate::primitives::{
    barlow, byol, clip, cosine, mse, mst_len, nt_xent, sphere, uniformity, vicreg, w2,
};
use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use std::sync::{Arc, OnceLock};
use tregs_macros_core::{Primitive, Scope};

/// Evaluates `plan` on `inputs` (one per `plan.inputs`, same order) with one coefficient per
/// term and each term's option values.
///
/// The term values are read back and a NaN or infinite one is an error naming the input
/// row at fault, unless checks are deferred ([`crate::defer_checks`]): then the values are
/// read when first asked for, and [`LossOutput::check`] returns that error.
///
/// Terms with `scope = global | sharded` read the batch of every process when a
/// [`crate::distributed::Communicator`] with more than one process is installed; with
/// none, they read `inputs` as given (one process holds the whole batch).
pub fn evaluate(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    coefs: &[f64],
    options: &[&[f64]],
) -> Result<LossOutput, LossError> {
    check_arguments(plan, inputs.len(), coefs, options)?;
    if plan.is_distributed() {
        if let Some(comm) = distributed::active() {
            let global = distributed::distribute(plan, inputs, comm.as_ref())?;
            let refs: Vec<&Tensor<2>> = global.inputs.iter().collect();
            return evaluate_with(&global.plan, &refs, coefs, options, &global.sharded, &*comm);
        }
    }
    evaluate_with(
        plan,
        inputs,
        coefs,
        options,
        &[],
        &distributed::SingleProcess,
    )
}

/// [`evaluate`] once the inputs are in place; `sharded` lists the terms whose tree is found
/// by distributed Borůvka (term, gathered input, this process's rows).
fn evaluate_with(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    coefs: &[f64],
    options: &[&[f64]],
    sharded: &[(usize, usize, std::ops::Range<usize>)],
    comm: &dyn distributed::Communicator,
) -> Result<LossOutput, LossError> {
    validate(plan, inputs, coefs, options)?;
    let device = inputs[0].device();
    let local_values = |plan: &LossPlan, options: &[&[f64]]| {
        if has_fused_op(&device) {
            fused_and_tensor_op_values(plan, inputs, options)
        } else {
            reference_values_with(plan, inputs, options)
        }
    };
    let values = if sharded.is_empty() {
        local_values(plan, options)
    } else {
        let rest: Vec<usize> = (0..plan.terms.len())
            .filter(|k| !sharded.iter().any(|(s, _, _)| s == k))
            .collect();
        let rest_values = (!rest.is_empty()).then(|| {
            let sub = LossPlan {
                terms: rest.iter().map(|&k| plan.terms[k].clone()).collect(),
                ..plan.clone()
            };
            let sub_options: Vec<&[f64]> = rest.iter().map(|&k| options[k]).collect();
            local_values(&sub, &sub_options)
        });
        let parts: Vec<Tensor<1>> = (0..plan.terms.len())
            .map(|k| match sharded.iter().find(|(s, _, _)| *s == k) {
                Some((_, input, rows)) => {
                    distributed::sharded::mst_len(inputs[*input], rows.clone(), comm)
                }
                None => {
                    let slot = rest.iter().position(|&r| r == k).expect("not sharded");
                    rest_values
                        .clone()
                        .expect("a term is left")
                        .narrow(0, slot, 1)
                }
            })
            .collect();
        Tensor::cat(parts, 0)
    };
    // The total is queued before the values are read back: on a GPU, reading waits for
    // the forward, and whatever is queued by then runs meanwhile.
    let total = if has_fused_op(&device) {
        let weights = Arc::new(coefs.to_vec());
        Tensor::<1>::from_dispatch(<Dispatch as TregsOps>::weighted_total(
            values.clone().into_dispatch(),
            weights,
        ))
    } else {
        let weights = Tensor::<1>::from_data(
            TensorData::new(coefs.to_vec(), [coefs.len()]),
            (&device, values.dtype()),
        );
        (values.clone() * weights).sum()
    };
    let mut out = LossOutput {
        total,
        values,
        names: plan
            .terms
            .iter()
            .zip(coefs)
            .map(|(term, &coef)| (term.name.clone(), coef))
            .collect(),
        host: OnceLock::new(),
        deferred: None,
    };
    if checks_deferred() {
        out.deferred = Some(Arc::new(DeferredCheck {
            plan: plan.clone(),
            inputs: inputs.iter().map(|&t| t.clone()).collect(),
        }));
        return Ok(out);
    }
    let terms = out.try_terms()?;
    if let Some(k) = terms.iter().position(|t| !t.value.is_finite()) {
        return Err(diagnose_non_finite(plan, inputs, k, terms[k].value));
    }
    Ok(out)
}

/// Every term's value, in plan order: the fused primitives through one fused operation
/// (shared norms and trees, one backward node), the others with burn tensor ops.
fn fused_and_tensor_op_values(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    options: &[&[f64]],
) -> Tensor<1> {
    let fused_terms: Vec<usize> = (0..plan.terms.len())
        .filter(|&k| plan.terms[k].primitive.is_fused())
        .collect();
    let mut read: Vec<usize> = fused_terms
        .iter()
        .flat_map(|&k| plan.terms[k].args.iter().copied())
        .collect();
    read.sort_unstable();
    read.dedup();
    if fused_terms.len() == plan.terms.len() && read.len() == inputs.len() {
        return fused_values(plan, inputs, options);
    }
    // The fused node sees only the inputs its terms read, so that an input only the
    // tensor-op terms use (or, on several processes, a local input only gathered terms
    // read) is neither packed into its slots nor given a zero gradient there.
    let fused = (!fused_terms.is_empty()).then(|| {
        let sub = LossPlan {
            source: plan.source.clone(),
            inputs: read.iter().map(|&i| plan.inputs[i].clone()).collect(),
            terms: fused_terms
                .iter()
                .map(|&k| TermPlan {
                    args: plan.terms[k]
                        .args
                        .iter()
                        .map(|a| read.binary_search(a).expect("read lists every argument"))
                        .collect(),
                    ..plan.terms[k].clone()
                })
                .collect(),
        };
        let sub_inputs: Vec<&Tensor<2>> = read.iter().map(|&i| inputs[i]).collect();
        let sub_options: Vec<&[f64]> = fused_terms.iter().map(|&k| options[k]).collect();
        fused_values(&sub, &sub_inputs, &sub_options)
    });
    let parts: Vec<Tensor<1>> = plan
        .terms
        .iter()
        .enumerate()
        .map(|(k, term)| match fused_terms.iter().position(|&f| f == k) {
            Some(slot) => fused
                .clone()
                .expect("fused terms have fused values")
                .narrow(0, slot, 1),
            None => term_reference(term, inputs, options[k]),
        })
        .collect();
    Tensor::cat(parts, 0)
}

fn fused_values(plan: &LossPlan, inputs: &[&Tensor<2>], options: &[&[f64]]) -> Tensor<1> {
    // Terms that differ only in their written scope (`mst_len(z)` beside `mst_len(z, scope
    // = global)`) have the same value in one process: the operation computes it once (its
    // GPU gradient kernel takes one tree term per input) and both read it, so that their
    // weights add up in the backward.
    let mut unique: Vec<usize> = Vec::new();
    let slot_of: Vec<i64> = (0..plan.terms.len())
        .map(|k| {
            let same = |&u: &usize| {
                let (a, b) = (&plan.terms[u], &plan.terms[k]);
                a.primitive == b.primitive && a.args == b.args && options[u] == options[k]
            };
            let slot = unique.iter().position(same).unwrap_or_else(|| {
                unique.push(k);
                unique.len() - 1
            });
            slot as i64
        })
        .collect();
    if unique.len() < plan.terms.len() {
        let sub = LossPlan {
            terms: unique.iter().map(|&k| plan.terms[k].clone()).collect(),
            ..plan.clone()
        };
        let sub_options: Vec<&[f64]> = unique.iter().map(|&k| options[k]).collect();
        let values = fused_values(&sub, inputs, &sub_options);
        let slots = Tensor::<1, Int>::from_data(
            TensorData::new(slot_of, [plan.terms.len()]),
            &values.device(),
        );
        return values.select(0, slots);
    }
    let shapes = inputs.iter().map(|t| t.dims()).collect();
    let fused = FusedPlan::new(plan, shapes, options);
    let (head, tail) = slots(inputs);
    let (values, _trees, _saved) = <Dispatch as TregsOps>::fused_loss_forward(
        head.into_dispatch(),
        tail.into_dispatch(),
        fused,
    );
    Tensor::<1>::from_dispatch(values)
}

/// The minimum spanning tree of the rows of `z`, computed by the fused operation where `z`
/// lives (Prim's on the CPU, Borůvka's on a GPU): `(min, max)` index pairs, sorted.
///
/// # Errors
/// As [`evaluate`] for `mst_len(z)`: fewer than 2 rows, a NaN or Inf (naming the row),
/// distances that overflow; [`LossError::Device`] on a device without the fused operation.
pub fn tree_edges(z: &Tensor<2>) -> Result<Vec<(u32, u32)>, LossError> {
    let plan = LossPlan::from_static(
        "mst_len(z)",
        &["z"],
        &[(Primitive::MstLen, &[0], "mst_len(z)")],
    );
    validate(&plan, &[z], &[1.0], &[&[]])?;
    if !has_fused_op(&z.device()) {
        return Err(LossError::Device(format!(
            "no fused operation on {:?}: the tree is computed by Flex or a GPU backend",
            z.device()
        )));
    }
    let fused = FusedPlan::new(&plan, vec![z.dims()], &[&[]]);
    let (head, tail) = slots(&[z]);
    let (values, trees, _) = <Dispatch as TregsOps>::fused_loss_forward(
        head.into_dispatch(),
        tail.into_dispatch(),
        fused,
    );
    // Where no tree exists the operation returns a placeholder and a NaN value.
    let value: f64 =
        crate::read_back::values(&Tensor::<1>::from_dispatch(values), "the tree's length")?[0];
    if !value.is_finite() {
        return Err(diagnose_non_finite(&plan, &[z], 0, value));
    }
    let flat: Vec<i64> =
        crate::read_back::values(&Tensor::<2, Int>::from_dispatch(trees), "the tree's edges")?;
    let mut edges: Vec<(u32, u32)> = flat
        .chunks_exact(2)
        .map(|e| (e[0].min(e[1]) as u32, e[0].max(e[1]) as u32))
        .collect();
    edges.sort_unstable();
    Ok(edges)
}

/// The operation's two slots ([`TregsOps`]): input 0 flattened, and inputs 1..
/// flattened and concatenated. Only a loss of three or more inputs pays for a copy.
fn slots(inputs: &[&Tensor<2>]) -> (Tensor<1>, Tensor<1>) {
    let mut flat = inputs.iter().map(|t| {
        let [n, d] = t.dims();
        (*t).clone().reshape([n * d])
    });
    let head = flat.next().expect("a plan has at least one input");
    let rest: Vec<Tensor<1>> = flat.collect();
    let tail = match rest.len() {
        0 => Tensor::<1>::empty([0], (&head.device(), head.dtype())),
        1 => rest.into_iter().next().expect("one input"),
        _ => Tensor::cat(rest, 0),
    };
    (head, tail)
}

/// Whether `device` runs [`TregsOps`] natively; elsewhere the tensor-op fallback runs.
pub fn has_fused_op(device: &Device) -> bool {
    match execution_device(device) {
        DispatchDevice::Flex(_) => true,
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        DispatchDevice::Cube(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The device that runs the kernels, under any autodiff layers.
pub(crate) fn execution_device(device: &Device) -> &DispatchDevice {
    let mut device = device.as_dispatch();
    while let DispatchDevice::Autodiff(inner) = device {
        device = inner;
    }
    device
}

/// Whether `device` is a cubecl device (the GPU path of the fused op).
pub(crate) fn on_gpu(device: &Device) -> bool {
    match execution_device(device) {
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        DispatchDevice::Cube(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The largest buffer, in bytes, that `device` binds to a kernel when it is a GPU (cubecl)
/// device; `None` elsewhere.
pub fn gpu_buffer_limit(device: &Device) -> Option<u64> {
    match execution_device(device) {
        #[cfg(any(feature = "wgpu", feature = "cuda"))]
        DispatchDevice::Cube(cube) => Some(cube.client().properties().memory.max_page_size),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Elements a GPU kernel can index in one buffer: the kernels address with 32-bit
/// integers (cubecl's u32 addressing), and the gradient launch's spare units read up to
/// 65 535 × 256 past an input's last element.
const GPU_INDEX_LIMIT: u64 = u32::MAX as u64 - 65_535 * 256;

/// The GPU path binds the inputs as two buffers (the first input, and the others end to
/// end), and each tree's n × n distance matrix as one: each must fit the device's binding
/// limit (`limit`, bytes), and every buffer the kernels index must stay within 32-bit
/// indices (the binding limit does not ensure it: CUDA binds a quarter of the device's
/// memory, Vulkan with 64-bit indexing the whole heap). `dims` are the inputs' (rows,
/// columns); `split_f16`: the distances come from split-f16 operands (tree inputs of
/// one size share them: trees × n × 2d f16 values).
fn check_gpu_buffers(
    plan: &LossPlan,
    dims: &[[usize; 2]],
    limit: u64,
    split_f16: bool,
) -> Result<(), LossError> {
    let mib = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
    let elements = |[n, d]: [usize; 2]| (n * d) as u64;
    let first = dims.first().copied().map_or(0, elements);
    let rest: u64 = dims.iter().skip(1).copied().map(elements).sum();
    for (what, count) in [
        ("the first input takes", first),
        (
            "the inputs after the first (one buffer, end to end) take",
            rest,
        ),
    ] {
        if count * 4 > limit {
            return Err(LossError::Device(format!(
                "{what} {:.1} MiB, more than the largest buffer this GPU binds ({:.1} MiB): \
                 use smaller batches, or the Flex backend",
                mib(count * 4),
                mib(limit)
            )));
        }
        if count > GPU_INDEX_LIMIT {
            return Err(LossError::Device(format!(
                "{what} {count} values, more than the GPU kernels' 32-bit indices reach \
                 ({GPU_INDEX_LIMIT}): use smaller batches, or the Flex backend"
            )));
        }
    }
    // The tensor-op terms' largest intermediate: burn allocates it on the device, and past
    // the binding limit that is a panic deep in burn ("can't allocate buffer"), not an error.
    for term in &plan.terms {
        let Some((what, rows, columns)) = largest_intermediate(term, dims) else {
            continue;
        };
        let bytes = rows * columns * 4;
        if bytes > limit || rows * columns > GPU_INDEX_LIMIT {
            return Err(LossError::Term {
                term: term.name.clone(),
                problem: format!(
                    "its {rows}×{columns} {what} takes {:.1} MiB, more than the largest buffer \
                     this GPU binds ({:.1} MiB) or its 32-bit indices reach: use smaller \
                     batches, or the Flex backend",
                    mib(bytes),
                    mib(limit)
                ),
            });
        }
    }
    let tree_rows = |term: &TermPlan| dims[term.args[0]][0] as u64;
    let trees: Vec<&TermPlan> = plan
        .terms
        .iter()
        .filter(|t| t.primitive.needs_tree())
        .collect();
    // Per-row values kept for the backward: norms of every input, tree edge lengths, mse
    // rows.
    let saved: u64 = dims.iter().map(|&[n, _]| n as u64).sum::<u64>()
        + trees
            .iter()
            .map(|t| tree_rows(t).saturating_sub(1))
            .sum::<u64>()
        + plan
            .terms
            .iter()
            .filter(|t| t.primitive == Primitive::Mse)
            .map(|t| dims[t.args[0]][0] as u64)
            .sum::<u64>();
    if saved > GPU_INDEX_LIMIT {
        return Err(LossError::Device(format!(
            "the inputs' rows, tree edges and mse rows come to {saved} saved values, more than \
             the GPU kernels' 32-bit indices reach ({GPU_INDEX_LIMIT}): use smaller batches, \
             or the Flex backend"
        )));
    }
    for term in &trees {
        let n = tree_rows(term);
        if n * n * 4 > limit {
            return Err(LossError::Term {
                term: term.name.clone(),
                problem: format!(
                    "the {n}×{n} distance matrix takes {:.1} MiB, more than the largest buffer \
                     this GPU binds ({:.1} MiB): use smaller batches, or the Flex backend",
                    mib(n * n * 4),
                    mib(limit)
                ),
            });
        }
        if split_f16 {
            // An upper bound: every tree input of this size sharing the operands.
            let same: Vec<&&TermPlan> = trees.iter().filter(|t| tree_rows(t) == n).collect();
            let width = same.iter().map(|t| dims[t.args[0]][1] as u64).max();
            let values = same.len() as u64 * n * 2 * width.unwrap_or(0);
            if values > GPU_INDEX_LIMIT || values * 2 > limit {
                return Err(LossError::Term {
                    term: term.name.clone(),
                    problem: format!(
                        "its split-f16 operands take {values} f16 values ({:.1} MiB), more \
                         than the GPU binds or its kernels' 32-bit indices reach: use smaller \
                         batches, the f32 distance method, or the Flex backend",
                        mib(values * 2)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The largest matrix a tensor-op term builds beyond its inputs, as (what, rows, columns);
/// `None` for the fused terms (checked above) and for terms whose intermediates are the
/// inputs' shape.
fn largest_intermediate(term: &TermPlan, dims: &[[usize; 2]]) -> Option<(&'static str, u64, u64)> {
    let [n, d] = dims[term.args[0]].map(|v| v as u64);
    let rows_of = |k: usize| dims[term.args[k]][0] as u64;
    match term.primitive {
        Primitive::NtXent => Some(("similarity matrix of both views", 2 * n, 2 * n)),
        Primitive::Clip | Primitive::ClipScaled => Some(("logit matrix", n, rows_of(1))),
        Primitive::Uniformity => Some(("matrix of pairwise distances", n, n)),
        Primitive::Barlow => Some(("cross-correlation matrix", d, d)),
        Primitive::VicregCov => Some(("covariance matrix", d, d)),
        _ => None,
    }
}

/// Every term with plain burn tensor ops, with each primitive's default options:
/// differentiable by burn's own autodiff, on any backend. Also the independent reference the
/// tests compare the fused path against.
pub fn reference_values(plan: &LossPlan, inputs: &[&Tensor<2>]) -> Tensor<1> {
    let defaults: Vec<Vec<f64>> = plan
        .terms
        .iter()
        .map(|t| t.primitive.options().iter().map(|o| o.default).collect())
        .collect();
    let options: Vec<&[f64]> = defaults.iter().map(Vec::as_slice).collect();
    reference_values_with(plan, inputs, &options)
}

/// [`reference_values`] with the option values of each term (plan order).
pub fn reference_values_with(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    options: &[&[f64]],
) -> Tensor<1> {
    let terms: Vec<Tensor<1>> = plan
        .terms
        .iter()
        .zip(options)
        .map(|(term, options)| term_reference(term, inputs, options))
        .collect();
    Tensor::cat(terms, 0)
}

/// One term with burn tensor ops.
fn term_reference(term: &TermPlan, inputs: &[&Tensor<2>], options: &[f64]) -> Tensor<1> {
    let arg = |i: usize| inputs[term.args[i]].clone();
    let option = |i: usize| options[i];
    match term.primitive {
        Primitive::MstLen => mst_len::reference(arg(0)),
        Primitive::Sphere => sphere::reference(arg(0)),
        Primitive::Mse => mse::reference(arg(0), arg(1)),
        Primitive::NtXent => nt_xent::reference(arg(0), arg(1), option(0)),
        Primitive::Clip => clip::reference(arg(0), arg(1), option(0)),
        Primitive::ClipScaled => clip::reference_scaled(arg(0), arg(1), arg(2)),
        Primitive::Barlow => barlow::reference(arg(0), arg(1), option(0)),
        Primitive::VicregVar => vicreg::variance(arg(0), option(0)),
        Primitive::VicregCov => vicreg::covariance(arg(0)),
        Primitive::Byol => byol::reference(arg(0), arg(1)),
        Primitive::Uniformity => uniformity::reference(arg(0), option(0)),
        Primitive::W2 => w2::reference(arg(0)),
        Primitive::Cosine => cosine::reference(arg(0), arg(1)),
    }
}

fn shape_text(t: &Tensor<2>) -> String {
    let [n, d] = t.dims();
    format!("{n}x{d}")
}

/// The arguments of [`evaluate`] against the plan: one tensor per input, one coefficient
/// and one option list per term, each term's options and inputs as its primitive takes.
fn check_arguments(
    plan: &LossPlan,
    given_inputs: usize,
    coefs: &[f64],
    options: &[&[f64]],
) -> Result<(), LossError> {
    if plan.inputs.is_empty() || plan.terms.is_empty() {
        return Err(LossError::Expression(
            "the loss has no term: write at least one, such as `mst_len(z)`".to_string(),
        ));
    }
    if given_inputs != plan.inputs.len() {
        return Err(LossError::Expression(format!(
            "the loss reads {} inputs ({}), {} were given",
            plan.inputs.len(),
            plan.inputs.join(", "),
            given_inputs
        )));
    }
    // `evaluate` is public: a plan built by hand, or slices of the wrong length, are
    // errors here rather than panics (or terms silently skipped) further on.
    for (what, given) in [
        ("coefficients", coefs.len()),
        ("option lists", options.len()),
    ] {
        if given != plan.terms.len() {
            return Err(LossError::Expression(format!(
                "the loss has {} terms ({}), {given} {what} were given",
                plan.terms.len(),
                plan.term_names().join(", ")
            )));
        }
    }
    for (term, options) in plan.terms.iter().zip(options) {
        let primitive = term.primitive;
        let expected = primitive.options().len();
        let arity = primitive.params().len();
        let problem = if options.len() != expected {
            Some(format!(
                "takes {expected} option values, {} were given",
                options.len()
            ))
        } else if term.args.len() != arity {
            Some(format!(
                "takes {arity} inputs, its plan lists {}",
                term.args.len()
            ))
        } else {
            term.args
                .iter()
                .find(|&&a| a >= given_inputs)
                .map(|a| format!("reads input {a}, but the loss has {given_inputs}"))
        };
        if let Some(problem) = problem {
            return Err(LossError::Term {
                term: term.name.clone(),
                problem,
            });
        }
    }
    Ok(())
}

fn validate(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    coefs: &[f64],
    options: &[&[f64]],
) -> Result<(), LossError> {
    check_arguments(plan, inputs.len(), coefs, options)?;
    let first_dtype = inputs[0].dtype();
    let device = inputs[0].device();
    for (name, tensor) in plan.inputs.iter().zip(inputs) {
        let input_error = |problem: String| LossError::Input {
            input: name.clone(),
            problem,
        };
        let [n, d] = tensor.dims();
        if n == 0 || d == 0 {
            return Err(input_error(format!("is empty ({n}x{d})")));
        }
        let dtype = tensor.dtype();
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(input_error(format!(
                "has dtype {dtype:?}; tregs computes in f32 or f64: cast it first"
            )));
        }
        if on_gpu(&device) && dtype != DType::F32 {
            return Err(input_error(format!(
                "has dtype {dtype:?}; the GPU path computes in f32: cast it first"
            )));
        }
        if dtype != first_dtype {
            return Err(input_error(format!(
                "has dtype {dtype:?} but `{}` has {first_dtype:?}: give every input the same dtype",
                plan.inputs[0]
            )));
        }
        if tensor.device() != device {
            return Err(input_error(format!(
                "is on {:?} but `{}` is on {device:?}",
                tensor.device(),
                plan.inputs[0]
            )));
        }
    }
    if let Some(limit) = gpu_buffer_limit(&device) {
        let dims: Vec<[usize; 2]> = inputs.iter().map(|t| t.dims()).collect();
        let split_f16 =
            crate::distance_method::distance_method_in_use(&device) == DistanceMethod::SplitF16;
        check_gpu_buffers(plan, &dims, limit, split_f16)?;
    }
    for ((term, coef), options) in plan.terms.iter().zip(coefs).zip(options) {
        let term_error = |problem: String| LossError::Term {
            term: term.name.clone(),
            problem,
        };
        if let Some(problem) = coefficient_problem(*coef, first_dtype) {
            return Err(term_error(problem));
        }
        let primitive = term.primitive;
        // The grammar only writes these; a plan built by hand (`with_scopes`) is checked here.
        match term.scope() {
            Scope::Rank => {}
            Scope::Sharded if primitive != Primitive::MstLen => {
                return Err(term_error(
                    "`scope = sharded` is for `mst_len` only".to_string(),
                ))
            }
            _ if !primitive.couples_rows() => {
                return Err(term_error(format!(
                    "`{}` is a mean over rows and takes no scope",
                    primitive.name()
                )))
            }
            _ => {}
        }
        if let Some(problem) = option_problem(primitive, options) {
            return Err(term_error(problem));
        }
        if primitive.paired() {
            let (a, b) = (inputs[term.args[0]], inputs[term.args[1]]);
            if a.dims() != b.dims() {
                return Err(term_error(format!(
                    "shape mismatch {} vs {}",
                    shape_text(a),
                    shape_text(b)
                )));
            }
        }
        if primitive == Primitive::ClipScaled {
            let scale = inputs[term.args[2]];
            if scale.dims() != [1, 1] {
                return Err(term_error(format!(
                    "`{}` is the logit scale s (τ = e^(−s)): it must be 1x1, not {}",
                    plan.inputs[term.args[2]],
                    shape_text(scale)
                )));
            }
        }
        let [n, _] = inputs[term.args[0]].dims();
        if n < primitive.min_rows() {
            let purpose = if primitive.needs_tree() {
                " for a tree"
            } else {
                ""
            };
            return Err(term_error(format!(
                "needs at least {} points{purpose}; `{}` has {n} row",
                primitive.min_rows(),
                plan.inputs[term.args[0]]
            )));
        }
        if primitive.needs_tree() && on_gpu(&device) && n > tregs_kernels::gpu::MAX_ROWS {
            return Err(term_error(format!(
                "the GPU path builds trees of at most {} points; `{}` has {n} rows",
                tregs_kernels::gpu::MAX_ROWS,
                plan.inputs[term.args[0]]
            )));
        }
    }
    Ok(())
}

/// The first NaN or Inf of a row-major matrix of `d` columns, as "NaN at row r, column c".
pub(crate) fn first_non_finite<T: tregs_kernels::Real>(data: &[T], d: usize) -> Option<String> {
    let pos = data.iter().position(|v| !v.to_f64().is_finite())?;
    let what = if data[pos].to_f64().is_nan() {
        "NaN"
    } else {
        "Inf"
    };
    let d = d.max(1);
    Some(format!("{what} at row {}, column {}", pos / d, pos % d))
}

/// A term came out NaN or Inf: name the input row at fault, or say the inputs were fine.
pub(crate) fn diagnose_non_finite(
    plan: &LossPlan,
    inputs: &[&Tensor<2>],
    k: usize,
    value: f64,
) -> LossError {
    let term = &plan.terms[k];
    for &i in &term.args {
        let [_, d] = inputs[i].dims();
        let data: Vec<f64> = match crate::read_back::values(inputs[i], &plan.inputs[i]) {
            Ok(data) => data,
            Err(err) => return err,
        };
        if let Some(problem) = first_non_finite(&data, d) {
            return LossError::Input {
                input: plan.inputs[i].clone(),
                problem,
            };
        }
    }
    let options: Vec<&str> = term.primitive.options().iter().map(|o| o.name).collect();
    let remedy = if options.is_empty() {
        "rescale the inputs".to_string()
    } else {
        // e.g. a temperature near 0 overflows the exponentials of nt_xent and clip.
        format!(
            "check its options ({}) or rescale the inputs",
            options.join(", ")
        )
    };
    LossError::Term {
        term: term.name.clone(),
        problem: format!(
            "evaluates to {value} although its inputs are finite: the values overflow; {remedy}"
        ),
    }
}

/// Why `coef` cannot weight a term computed in `dtype`, if it cannot: it must be finite,
/// and, since the weights are applied in the inputs' dtype, within f32's range for f32
/// inputs (an infinite weight would make the total and every gradient infinite).
pub(crate) fn coefficient_problem(coef: f64, dtype: DType) -> Option<String> {
    if !coef.is_finite() {
        return Some(format!("its coefficient is {coef}"));
    }
    if dtype == DType::F32 && coef.abs() > f64::from(f32::MAX) {
        return Some(format!(
            "its coefficient is {coef:e}, past the range of the inputs' dtype F32"
        ));
    }
    None
}

/// Why a term's option values are unusable, if they are: each must be finite, and
/// positive or at least 0 as its [`tregs_macros_core::OptionSpec`] says.
pub(crate) fn option_problem(primitive: Primitive, options: &[f64]) -> Option<String> {
    let specs = primitive.options();
    let (spec, value) = specs
        .iter()
        .zip(options)
        .find(|(spec, v)| !spec.allows(**v))?;
    Some(format!(
        "option {} = {value}: it must be {}",
        spec.name,
        spec.requirement()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RuntimeLoss;
    use std::collections::BTreeMap;

    fn plan(source: &str) -> LossPlan {
        RuntimeLoss::parse(source, &BTreeMap::new())
            .expect("a valid expression")
            .plan()
            .clone()
    }

    /// `evaluate` is public: slices of the wrong length, or a hand-built plan whose terms
    /// read inputs it does not have, are errors, not panics or terms silently skipped.
    #[test]
    fn arguments_that_do_not_fit_the_plan_are_errors() {
        let device = Device::default();
        let z = Tensor::<2>::from_data(TensorData::new(vec![0f32, 1.0, 3.0, 7.0], [2, 2]), &device);
        let plan = plan("mst_len(z) + sphere(z)");
        let message = |coefs: &[f64], options: &[&[f64]]| {
            evaluate(&plan, &[&z], coefs, options)
                .expect_err("an error")
                .to_string()
        };
        assert_eq!(
            message(&[1.0], &[&[], &[]]),
            "the loss has 2 terms (mst_len(z), sphere(z)), 1 coefficients were given"
        );
        assert_eq!(
            message(&[1.0, 1.0], &[&[]]),
            "the loss has 2 terms (mst_len(z), sphere(z)), 1 option lists were given"
        );
        assert_eq!(
            message(&[1.0, 1.0], &[&[0.5], &[]]),
            "mst_len(z): takes 0 option values, 1 were given"
        );
        let mut hand_built = plan.clone();
        hand_built.terms[1].args = vec![3];
        let err = evaluate(&hand_built, &[&z], &[1.0, 1.0], &[&[], &[]]).expect_err("an error");
        assert_eq!(
            err.to_string(),
            "sphere(z): reads input 3, but the loss has 1"
        );
        assert!(evaluate(&plan, &[&z], &[1.0, 1.0], &[&[], &[]]).is_ok());
    }

    /// A device that binds anything: only the 32-bit index bounds can refuse.
    const UNBOUNDED: u64 = u64::MAX / 8;

    #[test]
    fn gpu_inputs_past_32_bit_indices_are_a_clear_error() {
        let plan = plan("sphere(z) + mse(z, z2)");
        // 2^31 rows of 2 columns: 16 GiB, bindable here, but 2^32 values.
        let big = [1 << 31, 2];
        let small = [1 << 20, 2];
        let err = check_gpu_buffers(&plan, &[big, big], UNBOUNDED, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("the first input takes 4294967296 values")
                && err.to_string().contains("32-bit indices"),
            "{err}"
        );
        let err = check_gpu_buffers(&plan, &[small, big], UNBOUNDED, false).unwrap_err();
        assert!(
            err.to_string().contains("the inputs after the first"),
            "{err}"
        );
        assert!(check_gpu_buffers(&plan, &[small, small], UNBOUNDED, false).is_ok());
        // The binding limit still comes first when it is the smaller.
        let err = check_gpu_buffers(&plan, &[small, small], 1 << 20, false).unwrap_err();
        assert!(
            err.to_string().contains("largest buffer this GPU binds"),
            "{err}"
        );
    }

    /// The n×n or d×d matrices of the tensor-op terms are checked too (burn would panic
    /// allocating them); terms of the inputs' shape are not refused.
    #[test]
    fn tensor_op_matrices_past_the_binding_limit_name_their_term() {
        let limit = 128 << 20;
        for (expression, dims, matrix) in [
            (
                "nt_xent(z, z2)",
                [[4096, 4], [4096, 4]],
                "8192×8192 similarity matrix",
            ),
            (
                "clip(z, z2)",
                [[8192, 4], [8192, 4]],
                "8192×8192 logit matrix",
            ),
            (
                "uniformity(z)",
                [[8192, 4], [8192, 4]],
                "8192×8192 matrix of pairwise",
            ),
            (
                "barlow(z, z2)",
                [[128, 8192], [128, 8192]],
                "8192×8192 cross-correlation",
            ),
            (
                "vicreg_cov(z)",
                [[128, 8192], [128, 8192]],
                "8192×8192 covariance matrix",
            ),
        ] {
            let plan = plan(expression);
            let message = check_gpu_buffers(&plan, &dims, limit, false)
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(expression) && message.contains(matrix),
                "{expression}: {message}"
            );
            let fits = dims.map(|[n, d]| [n / 2, d / 2]);
            assert!(
                check_gpu_buffers(&plan, &fits, limit, false).is_ok(),
                "{expression}"
            );
        }
        let plan = plan("byol(z, z2) + vicreg_var(z) + cosine(z, z2)");
        assert!(check_gpu_buffers(&plan, &[[8192, 1024], [8192, 1024]], limit, false).is_ok());
    }

    #[test]
    fn split_f16_operands_past_32_bit_indices_name_the_tree_term() {
        let plan = plan("mst_len(z) + mst_len(z2)");
        // 46 000 × 30 000 per view: each input indexable, but two trees' operands of
        // n × 2d f16 values take 5.5e9.
        let view = [46_000, 30_000];
        assert!(check_gpu_buffers(&plan, &[view, view], UNBOUNDED, false).is_ok());
        let err = check_gpu_buffers(&plan, &[view, view], UNBOUNDED, true).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("mst_len") && message.contains("split-f16 operands"),
            "{message}"
        );
        let view = [4_096, 2_048];
        assert!(check_gpu_buffers(&plan, &[view, view], UNBOUNDED, true).is_ok());
    }
}
