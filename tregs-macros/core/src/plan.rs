//! [`Expr`] → [`Plan`]: a loss is linear in its terms, so every expression normalizes to a
//! flat weighted sum `Σ_k c_k · prim_k(inputs_k; options_k)`.

use crate::expr::{BinOp, Call, Expr};
use crate::parse::{parse_expr, Mode};
use crate::primitive::{Primitive, Scope};
use proc_macro2::{Span, TokenStream};
use std::fmt;
use syn::Ident;

/// A coefficient: a constant expression of numbers, names and (in the macro) Rust expressions.
#[derive(Debug, Clone)]
pub enum Coef {
    Num {
        value: f64,
        span: Span,
        text: String,
    },
    Var(Ident),
    Rust {
        tokens: TokenStream,
        span: Span,
    },
    Neg(Box<Coef>),
    Binary(BinOp, Box<Coef>, Box<Coef>),
}

impl Coef {
    fn one() -> Coef {
        Coef::Num {
            value: 1.0,
            span: Span::call_site(),
            text: "1".into(),
        }
    }

    fn is_one(&self) -> bool {
        matches!(self, Coef::Num { value, .. } if *value == 1.0)
    }

    fn times(self, other: Coef) -> Coef {
        if self.is_one() {
            other
        } else if other.is_one() {
            self
        } else {
            Coef::Binary(BinOp::Mul, Box::new(self), Box::new(other))
        }
    }

    /// The span an error about this coefficient points at.
    pub fn span(&self) -> Span {
        match self {
            Coef::Num { span, .. } | Coef::Rust { span, .. } => *span,
            Coef::Var(ident) => ident.span(),
            Coef::Neg(inner) => inner.span(),
            Coef::Binary(_, lhs, _) => lhs.span(),
        }
    }

    /// Every name the coefficient refers to.
    pub fn names(&self) -> Vec<Ident> {
        match self {
            Coef::Var(ident) => vec![ident.clone()],
            Coef::Num { .. } | Coef::Rust { .. } => Vec::new(),
            Coef::Neg(inner) => inner.names(),
            Coef::Binary(_, lhs, rhs) => {
                let mut names = lhs.names();
                names.extend(rhs.names());
                names
            }
        }
    }

    /// Evaluates the coefficient at run time; `lookup` gives each name's value or the error
    /// message to show at its span.
    pub fn eval(&self, lookup: &dyn Fn(&Ident) -> Result<f64, String>) -> syn::Result<f64> {
        Ok(match self {
            Coef::Num { value, .. } => *value,
            Coef::Var(ident) => lookup(ident).map_err(|msg| syn::Error::new(ident.span(), msg))?,
            Coef::Rust { span, .. } => {
                return Err(syn::Error::new(
                    *span,
                    crate::parse::RUST_EXPRESSIONS_MACRO_ONLY,
                ))
            }
            Coef::Neg(inner) => -inner.eval(lookup)?,
            Coef::Binary(op, lhs, rhs) => {
                let (a, b) = (lhs.eval(lookup)?, rhs.eval(lookup)?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                }
            }
        })
    }
}

impl fmt::Display for Coef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coef::Num { text, .. } => write!(f, "{text}"),
            Coef::Var(ident) => write!(f, "{ident}"),
            Coef::Rust { tokens, .. } => write!(f, "({tokens})"),
            Coef::Neg(inner) => write!(f, "-{inner}"),
            Coef::Binary(op, lhs, rhs) => {
                let symbol = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                };
                write!(f, "({lhs} {symbol} {rhs})")
            }
        }
    }
}

/// One term of the flat sum.
#[derive(Debug, Clone)]
pub struct Term {
    /// Its weight.
    pub coef: Coef,
    pub primitive: Primitive,
    /// Indices into [`Plan::inputs`].
    pub args: Vec<usize>,
    /// One value per entry of `primitive.options()`, defaults filled in.
    pub options: Vec<Coef>,
    /// `scope = …` as written; `None`: not written (this process's rows, unless a
    /// data-parallel recipe promotes the term to the global batch).
    pub scope: Option<Scope>,
    /// Canonical text, e.g. `mse(z, z2)`: the term's name in logs and outputs.
    pub name: String,
    pub span: Span,
}

/// A loss expression normalized to `Σ_k c_k · prim_k(inputs_k; options_k)`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The distinct tensor inputs, in order of first use.
    pub inputs: Vec<Ident>,
    /// The terms; identical terms are merged (their coefficients add).
    pub terms: Vec<Term>,
}

impl Plan {
    /// Parses and normalizes a loss expression.
    pub fn from_tokens(tokens: TokenStream, mode: Mode) -> syn::Result<Plan> {
        let expr = parse_expr(tokens, mode)?;
        Plan::from_expr(&expr)
    }

    /// Normalizes a parsed expression.
    pub fn from_expr(expr: &Expr) -> syn::Result<Plan> {
        check_option_values(expr)?;
        let terms = match normalize(expr)? {
            Normal::Terms(terms) => terms,
            Normal::Coef(coef) => {
                return Err(syn::Error::new(
                    coef.span(),
                    "this loss has no term: a constant has no gradient; write a weighted sum \
                     of terms such as `γ*mst_len(z)`",
                ))
            }
        };
        let mut plan = Plan {
            inputs: Vec::new(),
            terms: Vec::new(),
        };
        for (coef, call) in terms {
            let args: Vec<usize> = call.args.iter().map(|a| plan.input_index(a)).collect();
            let options = resolve_options(&call);
            let name = term_name(&call, &options);
            if let Some(existing) = plan.terms.iter_mut().find(|t| t.name == name) {
                let previous = std::mem::replace(&mut existing.coef, Coef::one());
                existing.coef = Coef::Binary(BinOp::Add, Box::new(previous), Box::new(coef));
                continue;
            }
            plan.terms.push(Term {
                coef,
                primitive: call.primitive,
                args,
                options,
                scope: call.scope.as_ref().map(|(_, scope)| *scope),
                name,
                span: call.name.span(),
            });
        }
        Ok(plan)
    }

    fn input_index(&mut self, ident: &Ident) -> usize {
        match self.inputs.iter().position(|i| i == ident) {
            Some(index) => index,
            None => {
                self.inputs.push(ident.clone());
                self.inputs.len() - 1
            }
        }
    }

    /// Every coefficient name used, in order of first use, without repeats.
    pub fn coefficient_names(&self) -> Vec<Ident> {
        let mut names: Vec<Ident> = Vec::new();
        for term in &self.terms {
            let all = std::iter::once(&term.coef).chain(term.options.iter());
            for name in all.flat_map(Coef::names) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

enum Normal {
    Coef(Coef),
    Terms(Vec<(Coef, Call)>),
}

fn normalize(expr: &Expr) -> syn::Result<Normal> {
    Ok(match expr {
        Expr::Num { value, span, text } => Normal::Coef(Coef::Num {
            value: *value,
            span: *span,
            text: text.clone(),
        }),
        Expr::Var(ident) => Normal::Coef(Coef::Var(ident.clone())),
        Expr::Rust { tokens, span } => Normal::Coef(Coef::Rust {
            tokens: tokens.clone(),
            span: *span,
        }),
        Expr::Call(call) => Normal::Terms(vec![(Coef::one(), call.clone())]),
        Expr::Neg { inner, .. } => match normalize(inner)? {
            Normal::Coef(c) => Normal::Coef(Coef::Neg(Box::new(c))),
            Normal::Terms(terms) => Normal::Terms(
                terms
                    .into_iter()
                    .map(|(c, call)| (Coef::Neg(Box::new(c)), call))
                    .collect(),
            ),
        },
        Expr::Binary { op, lhs, rhs, span } => {
            let (l, r) = (normalize(lhs)?, normalize(rhs)?);
            match (op, l, r) {
                (op, Normal::Coef(a), Normal::Coef(b)) => {
                    Normal::Coef(Coef::Binary(*op, Box::new(a), Box::new(b)))
                }
                (BinOp::Mul, Normal::Coef(c), Normal::Terms(terms))
                | (BinOp::Mul, Normal::Terms(terms), Normal::Coef(c)) => Normal::Terms(
                    terms
                        .into_iter()
                        .map(|(t, call)| (c.clone().times(t), call))
                        .collect(),
                ),
                (BinOp::Mul, Normal::Terms(_), Normal::Terms(_)) => {
                    return Err(syn::Error::new(
                        *span,
                        "a loss term cannot multiply another: a loss is a weighted sum of \
                         terms; weight each term by a coefficient instead (`γ*mst_len(z)`)",
                    ))
                }
                (BinOp::Add, Normal::Terms(mut a), Normal::Terms(b)) => {
                    a.extend(b);
                    Normal::Terms(a)
                }
                (BinOp::Sub, Normal::Terms(mut a), Normal::Terms(b)) => {
                    a.extend(
                        b.into_iter()
                            .map(|(c, call)| (Coef::Neg(Box::new(c)), call)),
                    );
                    Normal::Terms(a)
                }
                (_, Normal::Coef(c), Normal::Terms(_)) | (_, Normal::Terms(_), Normal::Coef(c)) => {
                    return Err(syn::Error::new(
                        c.span(),
                        format!(
                            "the constant `{c}` is added to the loss: it has no gradient and \
                             changes nothing; multiply a term by it (`{c}*mst_len(z)`) or remove it"
                        ),
                    ))
                }
            }
        }
    })
}

fn resolve_options(call: &Call) -> Vec<Coef> {
    call.primitive
        .options()
        .iter()
        .map(|spec| {
            call.options
                .iter()
                .find(|(name, _)| spec.matches(&name.to_string()))
                .map(|(_, value)| match normalize(value) {
                    Ok(Normal::Coef(c)) => c,
                    // parse_call only admits option values of the coefficient grammar; a
                    // value holding a term is caught by `check_option_values`.
                    _ => Coef::one(),
                })
                .unwrap_or_else(|| Coef::Num {
                    value: spec.default,
                    span: Span::call_site(),
                    text: format!("{:?}", spec.default),
                })
        })
        .collect()
}

fn term_name(call: &Call, options: &[Coef]) -> String {
    let mut parts: Vec<String> = call.args.iter().map(|a| a.to_string()).collect();
    for (spec, value) in call.primitive.options().iter().zip(options) {
        if call
            .options
            .iter()
            .any(|(n, _)| spec.matches(&n.to_string()))
        {
            parts.push(format!("{} = {value}", spec.name));
        }
    }
    if let Some((_, scope)) = &call.scope {
        parts.push(format!("scope = {}", scope.name()));
    }
    format!("{}({})", call.primitive.name(), parts.join(", "))
}

/// Rejects option values that contain terms (`mst_len(z, τ = sphere(z))`).
fn check_option_values(expr: &Expr) -> syn::Result<()> {
    match expr {
        Expr::Call(call) => {
            for (name, value) in &call.options {
                let coef = match normalize(value)? {
                    Normal::Terms(_) => {
                        return Err(syn::Error::new(
                            value.span(),
                            format!("option `{name}` must be a coefficient, not a loss term"),
                        ))
                    }
                    Normal::Coef(coef) => coef,
                };
                // A value written as numbers alone is checked here, at its span; one that
                // names coefficients is checked once they have values.
                let spec = call
                    .primitive
                    .options()
                    .iter()
                    .find(|o| o.matches(&name.to_string()));
                let constant = coef.eval(&|_| Err(String::new()));
                if let (Some(spec), Ok(v)) = (spec, constant) {
                    if !spec.allows(v) {
                        return Err(syn::Error::new(
                            value.span(),
                            format!(
                                "option `{name}` of `{}` is {v}: it must be {}",
                                call.primitive.name(),
                                spec.requirement()
                            ),
                        ));
                    }
                }
            }
            Ok(())
        }
        Expr::Neg { inner, .. } => check_option_values(inner),
        Expr::Binary { lhs, rhs, .. } => {
            check_option_values(lhs)?;
            check_option_values(rhs)
        }
        _ => Ok(()),
    }
}
