//! The `loss!` grammar of tregs, shared by the proc macro (`tregs-macros`) and the runtime
//! (`tregs eval`, config files): one parser, one set of error messages.
//!
//! The data's path: tokens → [`Expr`] ([`parse`]) → [`Plan`] ([`plan`]) → code ([`expand`])
//! or, at run time, → evaluated coefficients.

pub mod expand;
pub mod expr;
pub mod parse;
pub mod plan;
pub mod primitive;

pub use expand::expand_loss;
pub use expr::{BinOp, Call, Expr};
pub use parse::{parse_expr, Mode};
pub use plan::{Coef, Plan, Term};
pub use primitive::{ascii_name, closest, OptionSpec, Primitive, Scope};

/// Parses a loss expression read at run time (CLI, configs).
///
/// Errors carry the line and column of the token at fault and a caret under it; see
/// [`render_error`].
pub fn parse_runtime(source: &str) -> Result<Plan, String> {
    let tokens: proc_macro2::TokenStream = source.parse().map_err(|e: proc_macro2::LexError| {
        let message = "cannot read the loss expression: unbalanced parentheses or an invalid token";
        render_error(source, &syn::Error::new(e.span(), message))
    })?;
    Plan::from_tokens(tokens, Mode::Runtime).map_err(|e| render_error(source, &e))
}

/// Formats a grammar error against the source text it came from:
/// `1:5: unknown loss primitive …` followed by the line and a caret.
pub fn render_error(source: &str, error: &syn::Error) -> String {
    let mut out = Vec::new();
    for err in error.clone() {
        let span = err.span();
        let (start, end) = (span.start(), span.end());
        if start.line == 0 {
            out.push(err.to_string());
            continue;
        }
        let line = source.lines().nth(start.line - 1).unwrap_or("");
        let width = if end.line == start.line && end.column > start.column {
            end.column - start.column
        } else {
            1
        };
        out.push(format!(
            "{}:{}: {}\n  {}\n  {}{}",
            start.line,
            start.column + 1,
            err,
            line,
            " ".repeat(line.chars().take(start.column).count()),
            "^".repeat(width)
        ));
    }
    out.join("\n")
}
