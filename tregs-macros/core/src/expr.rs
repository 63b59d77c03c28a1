//! The syntax tree of a loss expression, straight from the tokens.

use proc_macro2::{Span, TokenStream};
use syn::Ident;

/// A loss expression as written, before normalization into a [`crate::Plan`].
#[derive(Debug, Clone)]
pub enum Expr {
    /// A number literal, e.g. `8e-4`.
    Num {
        value: f64,
        span: Span,
        text: String,
    },
    /// An identifier used as a coefficient, e.g. `β`.
    Var(Ident),
    /// A parenthesized Rust expression used as a coefficient, e.g. `(cfg.beta)` (macro only).
    Rust { tokens: TokenStream, span: Span },
    /// A call of a primitive, e.g. `mse(z, z2)`.
    Call(Call),
    /// `-x`.
    Neg { inner: Box<Expr>, span: Span },
    /// `a + b`, `a - b`, `a * b`.
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        span: Span,
    },
}

/// A binary operator of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
}

/// A primitive call: `name(tensor, ..., option = coefficient, ...)`.
#[derive(Debug, Clone)]
pub struct Call {
    pub primitive: crate::Primitive,
    pub name: Ident,
    pub args: Vec<Ident>,
    /// Named options given in the call, already checked against the primitive's table.
    pub options: Vec<(Ident, Expr)>,
    /// `scope = …` when given: the value as written and what it names.
    pub scope: Option<(Ident, crate::Scope)>,
}

impl Expr {
    /// The span of the expression's first token: where an error about it points.
    pub fn span(&self) -> Span {
        match self {
            Expr::Num { span, .. } | Expr::Rust { span, .. } | Expr::Neg { span, .. } => *span,
            Expr::Var(ident) => ident.span(),
            Expr::Call(call) => call.name.span(),
            Expr::Binary { lhs, .. } => lhs.span(),
        }
    }

    /// Whether the expression calls a primitive somewhere (is or holds a loss term).
    pub fn calls_primitive(&self) -> bool {
        match self {
            Expr::Call(_) => true,
            Expr::Neg { inner, .. } => inner.calls_primitive(),
            Expr::Binary { lhs, rhs, .. } => lhs.calls_primitive() || rhs.calls_primitive(),
            Expr::Num { .. } | Expr::Var(_) | Expr::Rust { .. } => false,
        }
    }
}

/// The canonical text of an expression: `β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2))`,
/// with parentheses only where the grammar needs them.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Num { text, .. } => write!(f, "{text}"),
            Expr::Var(ident) => write!(f, "{ident}"),
            Expr::Rust { tokens, .. } => write!(f, "({tokens})"),
            Expr::Call(call) => {
                let mut parts: Vec<String> = call.args.iter().map(|a| a.to_string()).collect();
                parts.extend(call.options.iter().map(|(n, v)| format!("{n} = {v}")));
                parts.extend(
                    call.scope
                        .iter()
                        .map(|(_, scope)| format!("scope = {}", scope.name())),
                );
                write!(f, "{}({})", call.name, parts.join(", "))
            }
            Expr::Neg { inner, .. } => match **inner {
                Expr::Binary { .. } => write!(f, "-({inner})"),
                _ => write!(f, "-{inner}"),
            },
            Expr::Binary { op, lhs, rhs, .. } => {
                let is_sum = |e: &Expr| {
                    matches!(
                        e,
                        Expr::Binary {
                            op: BinOp::Add | BinOp::Sub,
                            ..
                        }
                    )
                };
                match op {
                    BinOp::Mul => {
                        let side = |e: &Expr| {
                            if is_sum(e) {
                                format!("({e})")
                            } else {
                                e.to_string()
                            }
                        };
                        write!(f, "{}*{}", side(lhs), side(rhs))
                    }
                    BinOp::Add => write!(f, "{lhs} + {rhs}"),
                    BinOp::Sub if is_sum(rhs) => write!(f, "{lhs} - ({rhs})"),
                    BinOp::Sub => write!(f, "{lhs} - {rhs}"),
                }
            }
        }
    }
}
