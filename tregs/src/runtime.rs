//! Losses written as strings (CLI, config files): the same grammar and the same error
//! messages as `loss!`, with coefficients given by name.

use crate::error::LossError;
use crate::evaluate::{coefficient_problem, evaluate, option_problem};
use crate::output::LossOutput;
use crate::plan::LossPlan;
use burn::tensor::{DType, Tensor};
use std::collections::BTreeMap;
use tregs_macros_core::{ascii_name, render_error};

/// A loss parsed at run time, its coefficients evaluated.
#[derive(Debug, Clone)]
pub struct RuntimeLoss {
    plan: LossPlan,
    coefs: Vec<f64>,
    options: Vec<Vec<f64>>,
    unread: Vec<String>,
}

impl RuntimeLoss {
    /// Parses `source` and evaluates its coefficients; a name such as `β` is looked up as
    /// written or by its ASCII spelling (`beta`).
    pub fn parse(
        source: &str,
        coefficients: &BTreeMap<String, f64>,
    ) -> Result<RuntimeLoss, LossError> {
        let plan = tregs_macros_core::parse_runtime(source).map_err(LossError::Expression)?;
        let inputs: Vec<String> = plan.inputs.iter().map(|i| i.to_string()).collect();
        // The given names the expression reads, to report the ones it does not (a misspelt
        // coefficient would otherwise be ignored without a word).
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let lookup = |ident: &syn::Ident| -> Result<f64, String> {
            let name = ident.to_string();
            for key in [name.clone(), ascii_name(&name)] {
                if let Some(v) = coefficients.get(&key) {
                    read.borrow_mut().insert(key);
                    return Ok(*v);
                }
            }
            if inputs.contains(&name) {
                return Err(format!("`{name}` is a tensor input, not a coefficient"));
            }
            let given: Vec<&str> = coefficients.keys().map(String::as_str).collect();
            Err(format!(
                "unknown coefficient `{name}`: give it a value (`{}=…`){}",
                ascii_name(&name),
                if given.is_empty() {
                    String::new()
                } else {
                    format!("; given: {}", given.join(", "))
                }
            ))
        };
        let eval = |coef: &tregs_macros_core::Coef| {
            coef.eval(&lookup)
                .map_err(|e| LossError::Expression(render_error(source, &e)))
        };
        let coefs: Vec<f64> = plan
            .terms
            .iter()
            .map(|t| eval(&t.coef))
            .collect::<Result<_, _>>()?;
        let options: Vec<Vec<f64>> = plan
            .terms
            .iter()
            .map(|t| t.options.iter().map(eval).collect::<Result<Vec<f64>, _>>())
            .collect::<Result<_, _>>()?;
        let read = read.into_inner();
        let unread = coefficients
            .keys()
            .filter(|k| !read.contains(*k))
            .cloned()
            .collect();
        let plan = LossPlan::from_core(source, &plan);
        // `evaluate` makes these checks at every call; made here too, a config file or
        // `--coef` fails before any data is read. No dtype is known yet: f64, the widest,
        // asks only that coefficients be finite (`check_dtype` narrows it).
        for (term, (&coef, opts)) in plan.terms.iter().zip(coefs.iter().zip(&options)) {
            let problem = coefficient_problem(coef, DType::F64)
                .or_else(|| option_problem(term.primitive, opts));
            if let Some(problem) = problem {
                return Err(LossError::Term {
                    term: term.name.clone(),
                    problem,
                });
            }
        }
        Ok(RuntimeLoss {
            plan,
            coefs,
            options,
            unread,
        })
    }

    /// Checks the coefficients against the dtype the loss will be evaluated in, as
    /// evaluation does, so that a config fails before any data is read: with f32 inputs a
    /// coefficient past f32's range is refused (`mst_len(z): its coefficient is 1e300, past
    /// the range of the inputs' dtype F32`).
    pub fn check_dtype(&self, dtype: DType) -> Result<(), LossError> {
        for (term, &coef) in self.plan.terms.iter().zip(&self.coefs) {
            if let Some(problem) = coefficient_problem(coef, dtype) {
                return Err(LossError::Term {
                    term: term.name.clone(),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// The given coefficients the expression does not read (by either spelling), most
    /// likely misspelt: the CLI warns of them, the recipes' configs refuse them.
    pub fn unread_coefficients(&self) -> &[String] {
        &self.unread
    }

    /// The plan: inputs and terms.
    pub fn plan(&self) -> &LossPlan {
        &self.plan
    }

    /// See [`LossPlan::promote_to_global`].
    pub fn promote_to_global(&mut self) {
        self.plan.promote_to_global();
    }

    /// The coefficient of each term.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefs
    }

    /// Evaluates with tensors bound by name (`[("z", &z), ("z2", &z2)]`), checking the term
    /// values unless checks are deferred ([`crate::defer_checks`]).
    pub fn evaluate(&self, bindings: &[(&str, &Tensor<2>)]) -> Result<LossOutput, LossError> {
        let inputs = self
            .plan
            .inputs
            .iter()
            .map(|name| {
                bindings
                    .iter()
                    .find(|(bound, _)| bound == name)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| LossError::Input {
                        input: name.clone(),
                        problem: format!(
                            "the loss reads it but no tensor is bound to it (bound: {})",
                            bindings
                                .iter()
                                .map(|(b, _)| *b)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
            })
            .collect::<Result<Vec<&Tensor<2>>, _>>()?;
        let options: Vec<&[f64]> = self.options.iter().map(Vec::as_slice).collect();
        evaluate(&self.plan, &inputs, &self.coefs, &options)
    }
}
