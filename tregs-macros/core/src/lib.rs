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
    check_characters(source)?;
    let tokens: proc_macro2::TokenStream = source.parse().map_err(|e: proc_macro2::LexError| {
        let message = "cannot read the loss expression: unbalanced parentheses or an invalid token";
        render_error(source, &syn::Error::new(e.span(), message))
    })?;
    Plan::from_tokens(tokens, Mode::Runtime).map_err(|e| render_error(source, &e))
}

/// Refuses, before tokenizing, what Rust's tokenizer would quietly drop or misname in a
/// run-time string: a comment (`0.2*mst_len(z) // 2 + …` would lose everything after
/// `//`), and a character that is no part of the grammar, named with its code point
/// (`−`, U+2212, looks like `-`).
fn check_characters(source: &str) -> Result<(), String> {
    for (row, line) in source.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        for (column, &c) in chars.iter().enumerate() {
            let at =
                |width: usize, message: &str| render_at(source, row + 1, column, width, message);
            if c == '/' && matches!(chars.get(column + 1), Some('/' | '*')) {
                return Err(at(
                    2,
                    "a loss expression has no comments: the tokenizer would drop what follows \
                     `//` or sits inside `/* */`",
                ));
            }
            if !(c.is_ascii() || c.is_alphanumeric() || c == '_') {
                let instead = match c {
                    '\u{2212}' | '\u{2013}' | '\u{2014}' | '\u{FE63}' | '\u{FF0D}' => " write `-`",
                    '\u{00B7}' | '\u{00D7}' | '\u{2217}' | '\u{22C5}' | '\u{2219}' | '\u{FF0A}' => {
                        " write `*`"
                    }
                    '\u{FF0B}' => " write `+`",
                    '\u{FF08}' => " write `(`",
                    '\u{FF09}' => " write `)`",
                    '\u{FF0C}' | '\u{3001}' => " write `,`",
                    '\u{FF1D}' => " write `=`",
                    _ => " use ASCII operators `+ - * ( ) , =`",
                };
                return Err(at(
                    1,
                    &format!(
                        "`{c}` (U+{:04X}) is not part of a loss expression:{instead}",
                        c as u32
                    ),
                ));
            }
        }
    }
    Ok(())
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
        let width = if end.line == start.line && end.column > start.column {
            end.column - start.column
        } else {
            1
        };
        out.push(render_at(
            source,
            start.line,
            start.column,
            width,
            &err.to_string(),
        ));
    }
    out.join("\n")
}

/// `line:column: message`, the source line, and a caret under `width` characters from
/// `column` (0-based, in characters).
fn render_at(source: &str, line: usize, column: usize, width: usize, message: &str) -> String {
    let text = source.lines().nth(line - 1).unwrap_or("");
    format!(
        "{line}:{}: {message}\n  {text}\n  {}{}",
        column + 1,
        " ".repeat(text.chars().take(column).count()),
        "^".repeat(width)
    )
}
