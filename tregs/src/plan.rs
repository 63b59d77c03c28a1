//! The runtime form of a loss: which primitive reads which inputs, and the values of the
//! coefficients and options for one evaluation.

use std::sync::Arc;
use tregs_kernels::gpu::GradientPlan;
use tregs_macros_core::{Primitive, Scope};

/// One term of a [`LossPlan`].
#[derive(Debug, Clone, PartialEq)]
pub struct TermPlan {
    pub primitive: Primitive,
    /// Indices into [`LossPlan::inputs`].
    pub args: Vec<usize>,
    /// Canonical text, e.g. `mst_len(z)`: the term's name in outputs and logs.
    pub name: String,
    /// `scope = …` as written; `None` when not written (see [`TermPlan::scope`]).
    pub written_scope: Option<Scope>,
}

impl TermPlan {
    /// The rows the term sees: as written, this process's rows by default.
    pub fn scope(&self) -> Scope {
        self.written_scope.unwrap_or(Scope::Rank)
    }
}

/// The static part of a loss: inputs and terms, without coefficient values.
///
/// `loss!` builds one per call site, once; the runtime builds one from a string with
/// [`crate::RuntimeLoss::parse`]. Both come from the same grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct LossPlan {
    /// The expression as written.
    pub source: String,
    /// Tensor input names, in order of first use.
    pub inputs: Vec<String>,
    pub terms: Vec<TermPlan>,
}

impl LossPlan {
    /// Builds the plan from the static tables `loss!` emits.
    pub fn from_static(
        source: &str,
        inputs: &[&str],
        terms: &[(Primitive, &[usize], &str)],
    ) -> LossPlan {
        LossPlan {
            source: source.to_string(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            terms: terms
                .iter()
                .map(|(primitive, args, name)| TermPlan {
                    primitive: *primitive,
                    args: args.to_vec(),
                    name: name.to_string(),
                    written_scope: None,
                })
                .collect(),
        }
    }

    pub(crate) fn from_core(source: &str, plan: &tregs_macros_core::Plan) -> LossPlan {
        LossPlan {
            source: source.to_string(),
            inputs: plan.inputs.iter().map(|i| i.to_string()).collect(),
            terms: plan
                .terms
                .iter()
                .map(|t| TermPlan {
                    primitive: t.primitive,
                    args: t.args.clone(),
                    name: t.name.clone(),
                    written_scope: t.scope,
                })
                .collect(),
        }
    }

    /// Sets each term's written scope (`loss!` calls it when the expression writes one).
    ///
    /// # Panics
    /// If `scopes` does not hold one entry per term.
    pub fn with_scopes(mut self, scopes: &[Option<Scope>]) -> LossPlan {
        assert_eq!(scopes.len(), self.terms.len(), "one scope per term");
        for (term, scope) in self.terms.iter_mut().zip(scopes) {
            term.written_scope = *scope;
        }
        self
    }

    /// Gives every term that couples rows and has no written scope the global scope: what a
    /// data-parallel recipe does so that its objective is that of the global batch. Term
    /// names do not change, so logs read the same with one process or several.
    pub fn promote_to_global(&mut self) {
        for term in &mut self.terms {
            if term.written_scope.is_none() && term.primitive.couples_rows() {
                term.written_scope = Some(Scope::Global);
            }
        }
    }

    /// Whether some term reads rows of other processes.
    pub fn is_distributed(&self) -> bool {
        self.terms.iter().any(|t| t.scope() != Scope::Rank)
    }

    /// Term names, in order.
    pub fn term_names(&self) -> Vec<String> {
        self.terms.iter().map(|t| t.name.clone()).collect()
    }

    /// Per input, the terms its fused gradient kernel is compiled for (the GPU path).
    pub fn gradient_plans(&self) -> Vec<GradientPlan> {
        (0..self.inputs.len())
            .map(|i| gradient_plan(self.terms.iter().map(|t| (t.primitive, &t.args[..])), i))
            .collect()
    }
}

/// The terms that read input `i`, for the compile-time specialization of its gradient
/// kernel: at most one `mst_len` and one `sphere`, and one entry per `mse` side, in term
/// order (the order the backward lists the partners in). Identical terms are merged by the
/// grammar; terms that differ only in their written scope (`mst_len(z)` beside
/// `mst_len(z, scope = global)`) are computed once by the fused operation, so the first of
/// them stands for all.
pub(crate) fn gradient_plan<'a>(
    terms: impl Iterator<Item = (Primitive, &'a [usize])>,
    i: usize,
) -> GradientPlan {
    let mut plan = GradientPlan::default();
    for (k, (primitive, args)) in terms.enumerate() {
        let k = k as u32;
        match primitive {
            Primitive::MstLen if args[0] == i => {
                plan.tree_term.get_or_insert(k);
            }
            Primitive::Sphere if args[0] == i => {
                plan.sphere_term.get_or_insert(k);
            }
            Primitive::Mse => {
                // The first input has a buffer of its own, the others share the second.
                let same_buffer = |j: usize| (i == 0) == (j == 0);
                if args[0] == i {
                    plan.mse_terms.push(k);
                    plan.mse_partner_in_own_buffer.push(same_buffer(args[1]));
                }
                if args[1] == i {
                    plan.mse_terms.push(k);
                    plan.mse_partner_in_own_buffer.push(same_buffer(args[0]));
                }
            }
            _ => {}
        }
    }
    plan
}

/// What the fused operation needs: the terms with their option values. Coefficients are
/// not part of it: the operation returns every term's unweighted value, and the weights are
/// applied outside, so that the backward receives `c_k · upstream` per term.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedPlan {
    /// `[n, d]` of each input, in packing order.
    pub shapes: Vec<[usize; 2]>,
    pub terms: Vec<FusedTerm>,
}

/// One term of a [`FusedPlan`].
#[derive(Debug, Clone, PartialEq)]
pub struct FusedTerm {
    pub primitive: Primitive,
    pub args: Vec<usize>,
    pub options: Vec<f64>,
}

impl FusedPlan {
    pub(crate) fn new(
        plan: &LossPlan,
        shapes: Vec<[usize; 2]>,
        options: &[&[f64]],
    ) -> Arc<FusedPlan> {
        Arc::new(FusedPlan {
            shapes,
            terms: plan
                .terms
                .iter()
                .zip(options)
                .map(|(t, o)| FusedTerm {
                    primitive: t.primitive,
                    args: t.args.clone(),
                    options: o.to_vec(),
                })
                .collect(),
        })
    }

    /// Where each input starts in the inputs packed end to end, plus the total length at the
    /// end. The operation receives them in two slots: input 0 alone (the head), and inputs
    /// 1.. packed (the tail), so that one- and two-input losses travel without a copy.
    /// Input i ≥ 1 starts at `offsets()[i] − offsets()[1]` in the tail.
    pub fn offsets(&self) -> Vec<usize> {
        let mut offsets = vec![0];
        for [n, d] in &self.shapes {
            offsets.push(offsets.last().copied().unwrap_or(0) + n * d);
        }
        offsets
    }

    /// The terms input `i`'s fused gradient kernel is compiled for (the GPU path).
    pub fn gradient_plan(&self, i: usize) -> GradientPlan {
        gradient_plan(self.terms.iter().map(|t| (t.primitive, &t.args[..])), i)
    }

    /// The inputs whose minimum spanning tree some term needs, in input order. The forward
    /// returns one tree per entry, in this order.
    pub fn tree_inputs(&self) -> Vec<usize> {
        let mut inputs: Vec<usize> = self
            .terms
            .iter()
            .filter(|t| t.primitive.needs_tree())
            .map(|t| t.args[0])
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        inputs
    }
}
