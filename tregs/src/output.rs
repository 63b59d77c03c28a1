//! What evaluating a loss returns: the total to differentiate and every term by name.

use burn::tensor::Tensor;

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
    pub(crate) terms: Vec<TermValue>,
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
        self.terms.iter().map(TermValue::weighted).sum()
    }

    /// The unweighted term values as a tensor of shape `[K]` (part of the autodiff graph).
    pub fn values(&self) -> Tensor<1> {
        self.values.clone()
    }

    /// Every term, in expression order.
    pub fn terms(&self) -> &[TermValue] {
        &self.terms
    }

    /// A term by its canonical name, e.g. `out.term("mst_len(z)")`.
    pub fn term(&self, name: &str) -> Option<&TermValue> {
        self.terms.iter().find(|t| t.name == name)
    }

    /// Backpropagates from the total.
    pub fn backward(&self) -> burn::tensor::Gradients {
        self.total.backward()
    }
}
