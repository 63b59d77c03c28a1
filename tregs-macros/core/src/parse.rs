//! tokens → [`Expr`]: the one grammar of loss expressions, for the macro and the runtime.
//!
//! ```text
//! loss    := sum
//! sum     := product (("+" | "-") product)*
//! product := unary ("*" unary)*
//! unary   := "-" unary | atom
//! atom    := NUMBER | IDENT | "(" sum ")" | "(" RUST_EXPR ")" | call
//! call    := PRIMITIVE "(" arg ("," arg)* ")"
//! arg     := IDENT | IDENT "=" sum
//! ```

use crate::expr::{BinOp, Call, Expr};
use crate::primitive::{closest, Primitive, Scope};
use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser as _};
use syn::{Ident, Token};

/// Where the expression comes from, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Inside `loss!( … )`: parenthesized Rust expressions may serve as coefficients.
    Macro,
    /// A string read at run time (CLI, config files): numbers and named coefficients only.
    Runtime,
}

/// Parses a whole loss expression.
pub fn parse_expr(tokens: TokenStream, mode: Mode) -> syn::Result<Expr> {
    let parser = move |input: ParseStream| {
        if input.is_empty() {
            return Err(syn::Error::new(
                input.span(),
                "empty loss expression: write a weighted sum of terms, e.g. \
                 `β*mse(z, z2) + γ*mst_len(z) + λ*sphere(z)`",
            ));
        }
        let expr = parse_sum(input, mode)?;
        expect_end(input, mode)?;
        Ok(expr)
    };
    check_depth(&tokens)?;
    parser.parse2(tokens)
}

/// The deepest nesting of parentheses, and the longest run of `-`, an expression may have:
/// the parser recurses once per level, and a machine-made expression thousands deep would
/// overflow its stack. No loss written by hand comes near.
pub const MAX_NESTING: usize = 64;

/// Refuses nesting past [`MAX_NESTING`], walking the tokens without recursion.
fn check_depth(tokens: &TokenStream) -> syn::Result<()> {
    let mut stack = vec![(tokens.clone().into_iter(), 0usize)];
    while let Some((trees, minus_run)) = stack.last_mut() {
        let Some(tree) = trees.next() else {
            stack.pop();
            continue;
        };
        match &tree {
            TokenTree::Punct(p) if p.as_char() == '-' => *minus_run += 1,
            _ => *minus_run = 0,
        }
        let too_deep = |what: &str| {
            syn::Error::new(
                tree.span(),
                format!("{what} nested more than {MAX_NESTING} deep: simplify the expression"),
            )
        };
        if *minus_run > MAX_NESTING {
            return Err(too_deep("`-` signs"));
        }
        if let TokenTree::Group(group) = &tree {
            if stack.len() > MAX_NESTING {
                return Err(too_deep("parentheses"));
            }
            stack.push((group.stream().into_iter(), 0));
        }
    }
    Ok(())
}

/// What a run-time expression gets where the macro would take a Rust expression.
pub(crate) const RUST_EXPRESSIONS_MACRO_ONLY: &str = "Rust expressions are only available inside \
    `loss!`; at run time a coefficient is a number or a name";

fn expect_end(input: ParseStream, mode: Mode) -> syn::Result<()> {
    if input.is_empty() {
        return Ok(());
    }
    // (`/` never reaches here: `parse_product` refuses it with its own advice.)
    let rust_like = input.peek(Token![.]) || input.peek(Token![::]);
    let hint = match (rust_like, mode) {
        (false, _) => String::new(),
        (true, Mode::Macro) => "; to use a Rust expression as a coefficient, wrap it in \
                                parentheses, e.g. `(cfg.beta) * mse(z, z2)`"
            .to_string(),
        (true, Mode::Runtime) => format!("; {RUST_EXPRESSIONS_MACRO_ONLY}"),
    };
    let found = input.fork().parse::<TokenTree>()?;
    Err(syn::Error::new(
        found.span(),
        format!("expected `+`, `-` or `*`, found `{found}`{hint}"),
    ))
}

fn parse_sum(input: ParseStream, mode: Mode) -> syn::Result<Expr> {
    let mut lhs = parse_product(input, mode)?;
    loop {
        let (op, span) = if input.peek(Token![+]) {
            (BinOp::Add, input.parse::<Token![+]>()?.span)
        } else if input.peek(Token![-]) {
            (BinOp::Sub, input.parse::<Token![-]>()?.span)
        } else {
            return Ok(lhs);
        };
        expect_more(input, span, if op == BinOp::Add { "+" } else { "-" })?;
        let rhs = parse_product(input, mode)?;
        lhs = Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        };
    }
}

/// After an operator, the expression must go on: an error at the operator otherwise (the
/// end of a run-time string has no span of its own; it would point at 1:1).
fn expect_more(input: ParseStream, op_span: proc_macro2::Span, op: &str) -> syn::Result<()> {
    if input.is_empty() {
        return Err(syn::Error::new(
            op_span,
            format!(
                "the expression ends after `{op}`: expected a coefficient or a term such as \
                 `mst_len(z)`"
            ),
        ));
    }
    Ok(())
}

fn parse_product(input: ParseStream, mode: Mode) -> syn::Result<Expr> {
    let mut lhs = parse_unary(input, mode)?;
    while input.peek(Token![*]) {
        let span = input.parse::<Token![*]>()?.span;
        expect_more(input, span, "*")?;
        let rhs = parse_unary(input, mode)?;
        lhs = Expr::Binary {
            op: BinOp::Mul,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        };
    }
    if input.peek(Token![/]) {
        let slash = input.fork().parse::<Token![/]>()?.span;
        let message = match (lhs.calls_primitive(), mode) {
            (true, _) => format!(
                "a loss term cannot be divided: multiply it by the reciprocal instead, \
                 e.g. `0.5*{lhs}` for `{lhs}/2`"
            ),
            (false, Mode::Macro) => format!(
                "the grammar has no `/`: divide as a Rust expression in parentheses, e.g. \
                 `({lhs} / 2.0) * mst_len(z)`"
            ),
            (false, Mode::Runtime) => format!(
                "a run-time expression has no `/`: write the quotient as a number (`0.5`), \
                 or multiply (`0.5*{lhs}`)"
            ),
        };
        return Err(syn::Error::new(slash, message));
    }
    Ok(lhs)
}

fn parse_unary(input: ParseStream, mode: Mode) -> syn::Result<Expr> {
    if input.peek(Token![-]) {
        let span = input.parse::<Token![-]>()?.span;
        expect_more(input, span, "-")?;
        let inner = parse_unary(input, mode)?;
        return Ok(Expr::Neg {
            inner: Box::new(inner),
            span,
        });
    }
    parse_atom(input, mode)
}

fn parse_atom(input: ParseStream, mode: Mode) -> syn::Result<Expr> {
    if input.peek(syn::Lit) {
        return parse_number(input);
    }
    if input.peek(syn::token::Paren) {
        return parse_group(input, mode);
    }
    if input.peek(Ident) {
        let ident: Ident = input.parse()?;
        if input.peek(syn::token::Paren) {
            return parse_call(ident, input, mode).map(Expr::Call);
        }
        if let Some(primitive) = Primitive::from_name(&ident.to_string()) {
            return Err(syn::Error::new(
                ident.span(),
                format!(
                    "`{ident}` is a loss primitive, not a coefficient: call it on its \
                     tensors, as in `{}`",
                    primitive.signature()
                ),
            ));
        }
        return Ok(Expr::Var(ident));
    }
    if input.is_empty() {
        return Err(input.error(
            "the expression ends too early: expected a coefficient or a term such as `mst_len(z)`",
        ));
    }
    let found = input.fork().parse::<TokenTree>()?;
    let coefficient = match mode {
        Mode::Macro => "a number, a name or a parenthesized Rust expression",
        Mode::Runtime => "a number or a name",
    };
    Err(syn::Error::new(
        found.span(),
        format!(
            "expected a coefficient ({coefficient}) or a term such as `mst_len(z)`, \
             found `{found}`"
        ),
    ))
}

fn parse_number(input: ParseStream) -> syn::Result<Expr> {
    let lit: syn::Lit = input.parse()?;
    let (value, text) = literal_number(&lit)?;
    Ok(Expr::Num {
        value,
        span: lit.span(),
        text,
    })
}

/// A number literal's value and its digits: finite, not a non-zero that reads as 0, and
/// with no suffix but `f32`/`f64` (shared with the named form's defaults).
pub(crate) fn literal_number(lit: &syn::Lit) -> syn::Result<(f64, String)> {
    let span = lit.span();
    let (value, text, suffix) = match lit {
        syn::Lit::Float(f) => (f.base10_parse::<f64>()?, f.base10_digits(), f.suffix()),
        syn::Lit::Int(i) => (i.base10_parse::<f64>()?, i.base10_digits(), i.suffix()),
        other => {
            let kind = match other {
                syn::Lit::Str(_) => "a string literal",
                syn::Lit::Bool(_) => "a boolean",
                syn::Lit::Char(_) => "a character literal",
                _ => "a non-numeric literal",
            };
            return Err(syn::Error::new(
                span,
                format!("a coefficient must be a number, found {kind}: write e.g. `0.2`"),
            ));
        }
    };
    let text = text.to_string();
    // Rust reads `2gamma` as the number 2 with the suffix `gamma`, which would otherwise be
    // dropped without a word.
    if !suffix.is_empty() && suffix != "f64" && suffix != "f32" {
        return Err(syn::Error::new(
            span,
            format!(
                "`{}` is the number `{text}` followed by `{suffix}`: write `{text}*{suffix}` \
                 for a product, or `{text}` alone",
                quote::ToTokens::to_token_stream(lit)
            ),
        ));
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    if value == 0.0 && mantissa.chars().any(|c| matches!(c, '1'..='9')) {
        return Err(syn::Error::new(
            span,
            format!("`{text}` is below f64's smallest number: it would read as 0"),
        ));
    }
    if !value.is_finite() {
        return Err(syn::Error::new(
            span,
            format!(
                "`{text}` is beyond f64's range (it reads as {value}): a number must be finite"
            ),
        ));
    }
    Ok((value, text))
}

/// `( … )`: a sub-expression of the grammar or, inside the macro, a Rust expression used as a
/// coefficient.
fn parse_group(input: ParseStream, mode: Mode) -> syn::Result<Expr> {
    let group: proc_macro2::Group = input.parse()?;
    let inner = group.stream();
    if inner.is_empty() {
        return Err(syn::Error::new(
            group.span(),
            "empty parentheses: expected a coefficient or a sum of terms inside",
        ));
    }
    let grammar = (|stream: ParseStream| {
        let expr = parse_sum(stream, mode)?;
        expect_end(stream, mode)?;
        Ok(expr)
    })
    .parse2(inner.clone());
    match grammar {
        Ok(expr) => Ok(expr),
        Err(err) => {
            // Inside the macro, a group that calls no primitive is a Rust expression
            // (`(1.0 / n as f64)`, `(cfg.beta)`): rustc type-checks it as a coefficient.
            if !calls_primitive(&inner) {
                if let Ok(rust) = syn::parse2::<syn::Expr>(inner.clone()) {
                    if mode == Mode::Runtime {
                        return Err(syn::Error::new(group.span(), RUST_EXPRESSIONS_MACRO_ONLY));
                    }
                    if let Some(division) = integer_division(&rust) {
                        return Err(division);
                    }
                    return Ok(Expr::Rust {
                        tokens: quote::ToTokens::to_token_stream(&rust),
                        span: group.span(),
                    });
                }
            }
            Err(err)
        }
    }
}

/// `(1/2)`: Rust divides two integer literals as integers (0 here), which as a
/// coefficient is surely not what was meant.
fn integer_division(rust: &syn::Expr) -> Option<syn::Error> {
    let syn::Expr::Binary(binary) = rust else {
        return None;
    };
    let integer = |e: &syn::Expr| match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => Some(i.base10_digits().to_string()),
        _ => None,
    };
    match (&binary.op, integer(&binary.left), integer(&binary.right)) {
        (syn::BinOp::Div(slash), Some(a), Some(b)) => Some(syn::Error::new(
            slash.span,
            format!(
                "`{a}/{b}` divides integers in Rust (it is {}): write `{a}.0/{b}.0` or the \
                 number itself",
                a.parse::<u128>()
                    .ok()
                    .zip(b.parse::<u128>().ok())
                    .and_then(|(a, b)| a.checked_div(b))
                    .map_or("an integer".to_string(), |q| q.to_string())
            ),
        )),
        _ => None,
    }
}

fn calls_primitive(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    trees.windows(2).any(|pair| match (&pair[0], &pair[1]) {
        (TokenTree::Ident(ident), TokenTree::Group(group)) => {
            group.delimiter() == Delimiter::Parenthesis
                && Primitive::from_name(&ident.to_string()).is_some()
        }
        _ => false,
    }) || trees.iter().any(|tree| match tree {
        TokenTree::Group(group) => calls_primitive(&group.stream()),
        _ => false,
    })
}

fn parse_call(name: Ident, input: ParseStream, mode: Mode) -> syn::Result<Call> {
    let name_text = name.to_string();
    let Some(primitive) = Primitive::from_name(&name_text) else {
        let known: Vec<&str> = Primitive::ALL.iter().map(|p| p.name()).collect();
        let suggestion = match closest(&name_text, known.iter().copied()) {
            Some(best) => format!("; did you mean `{best}`?"),
            None => String::new(),
        };
        // A look-alike letter (Cyrillic `е` for `e`) makes a name that reads right but is
        // not: name the letter.
        let foreign = name_text
            .chars()
            .find(|c| !c.is_ascii())
            .map(|c| format!(" (it holds `{c}`, U+{:04X}, not an ASCII letter)", c as u32))
            .unwrap_or_default();
        return Err(syn::Error::new(
            name.span(),
            format!(
                "unknown loss primitive `{name_text}`{foreign}{suggestion} (known primitives: {})",
                known.join(", ")
            ),
        ));
    };
    let content;
    let paren = syn::parenthesized!(content in input);
    let mut args: Vec<Ident> = Vec::new();
    let mut options: Vec<(Ident, Expr)> = Vec::new();
    let mut scope: Option<(Ident, Scope)> = None;
    let mut position = 0usize;
    while !content.is_empty() {
        position += 1;
        if content.peek(Ident) && content.peek2(Token![=]) && !content.peek2(Token![==]) {
            let option: Ident = content.parse()?;
            content.parse::<Token![=]>()?;
            if content.is_empty() || content.peek(Token![,]) {
                return Err(syn::Error::new(
                    option.span(),
                    format!(
                        "option `{option}` of `{name_text}` has no value: write e.g. `{option} = {}`",
                        option_example(primitive, &option)
                    ),
                ));
            }
            if option == "scope" {
                if scope.is_some() {
                    return Err(syn::Error::new(
                        option.span(),
                        format!("option `scope` is given twice in `{name_text}(…)`"),
                    ));
                }
                scope = Some(parse_scope(primitive, &option, &content)?);
                if !expect_separator(&content, &name_text, mode)? {
                    break;
                }
                continue;
            }
            check_option(primitive, &option)?;
            if options
                .iter()
                .any(|(seen, _)| same_option(primitive, seen, &option))
            {
                return Err(syn::Error::new(
                    option.span(),
                    format!("option `{option}` is given twice in `{name_text}(…)`"),
                ));
            }
            let value = parse_sum(&content, mode)?;
            options.push((option, value));
        } else if content.peek(Ident) && (content.peek2(Token![,]) || peek_last(&content)) {
            if !options.is_empty() || scope.is_some() {
                return Err(content.error(format!(
                    "tensor arguments of `{name_text}` come before its named options"
                )));
            }
            args.push(content.parse()?);
        } else {
            return Err(bad_argument(primitive, position, &content, mode));
        }
        if !expect_separator(&content, &name_text, mode)? {
            break;
        }
    }
    let params = primitive.params();
    if args.len() != params.len() {
        let plural = if params.len() == 1 { "" } else { "s" };
        return Err(syn::Error::new(
            // Too many: point at the first extra tensor; none: at the parentheses; too few:
            // at the name.
            match args.get(params.len()) {
                Some(extra) => extra.span(),
                None if args.is_empty() => paren.span.join(),
                None => name.span(),
            },
            format!(
                "`{name_text}` takes {} tensor{plural}, as in `{}`, but {} given",
                params.len(),
                primitive.signature(),
                match args.len() {
                    0 => "none was".to_string(),
                    1 => "1 was".to_string(),
                    k => format!("{k} were"),
                }
            ),
        ));
    }
    Ok(Call {
        primitive,
        name,
        args,
        options,
        scope,
    })
}

/// After an argument: `,` (then more may follow: `true`) or the end of the call (`false`);
/// anything else is an error at the token found.
fn expect_separator(content: ParseStream, name: &str, mode: Mode) -> syn::Result<bool> {
    if content.is_empty() {
        return Ok(false);
    }
    if content.peek(Token![,]) {
        content.parse::<Token![,]>()?;
        return Ok(!content.is_empty());
    }
    let found = content.fork().parse::<TokenTree>()?;
    let hint = match mode {
        Mode::Macro if !matches!(found, TokenTree::Ident(_)) => {
            "; an option's value is a number, a name, or a Rust expression in parentheses \
             (`τ = (cfg.tau)`)"
        }
        Mode::Runtime if !matches!(found, TokenTree::Ident(_)) => {
            "; an option's value is a number or a name"
        }
        _ => "",
    };
    Err(syn::Error::new(
        found.span(),
        format!("expected `,` or `)` in `{name}(…)`, found `{found}`{hint}"),
    ))
}

/// An argument that is neither a tensor name nor `option = value`: say what it looks like.
fn bad_argument(
    primitive: Primitive,
    position: usize,
    content: ParseStream,
    mode: Mode,
) -> syn::Error {
    let name = primitive.name();
    let found = match content.fork().parse::<TokenTree>() {
        Ok(tree) => tree,
        Err(e) => return e,
    };
    // `τ: 0.5`, `τ == 0.5`: an option written with the wrong sign.
    if let TokenTree::Ident(option) = &found {
        let after = content.fork();
        let _ = after.parse::<TokenTree>();
        let written = if after.peek(Token![:]) {
            Some(format!("{option}: value"))
        } else if after.peek(Token![==]) {
            Some(format!("{option} == value"))
        } else {
            None
        };
        if let Some(written) = written {
            let sign = after.fork().parse::<TokenTree>().map(|t| t.span());
            return syn::Error::new(
                sign.unwrap_or(option.span()),
                format!("an option is written `{option} = value`, not `{written}`"),
            );
        }
        if let Ok(next @ (TokenTree::Ident(_) | TokenTree::Literal(_))) = after.parse() {
            return syn::Error::new(
                next.span(),
                format!("expected `,` between the arguments of `{name}(…)`, found `{next}`"),
            );
        }
    }
    let options = primitive.options();
    if let TokenTree::Literal(literal) = &found {
        return syn::Error::new(
            found.span(),
            match options.first() {
                Some(first) => format!(
                    "argument {position} of `{name}` is a number: options are named, as in \
                     `{} = {literal}`",
                    first.name
                ),
                None => format!(
                    "`{name}` takes tensors and no options, as in `{}`; found the number \
                     `{literal}`",
                    primitive.signature()
                ),
            },
        );
    }
    if let TokenTree::Punct(p) = &found {
        if p.as_char() == ',' {
            return syn::Error::new(
                found.span(),
                format!("expected argument {position} of `{name}(…)`, found `,`"),
            );
        }
    }
    let shown = content
        .fork()
        .parse::<syn::Expr>()
        .map(|e| quote::ToTokens::to_token_stream(&e).to_string())
        .unwrap_or_else(|_| found.to_string());
    let advice = match mode {
        Mode::Macro => ": bind the tensor to a variable first (`let z = …;`) and pass `z`",
        Mode::Runtime => " (an input such as `z`)",
    };
    syn::Error::new(
        found.span(),
        format!("argument {position} of `{name}` must be a tensor name, found `{shown}`{advice}"),
    )
}

/// A value to show in `option = value` advice: the option's default.
fn option_example(primitive: Primitive, option: &Ident) -> String {
    if option == "scope" {
        return "global".to_string();
    }
    let text = option.to_string();
    primitive
        .options()
        .iter()
        .find(|o| o.matches(&text))
        .map_or("0.1".to_string(), |o| o.default.to_string())
}

/// The value of `scope = …`: `rank`, `global`, or `sharded` (`mst_len` only), on a term
/// that couples rows.
fn parse_scope(
    primitive: Primitive,
    option: &Ident,
    content: ParseStream,
) -> syn::Result<(Ident, Scope)> {
    let names: Vec<String> = Scope::ALL
        .iter()
        .map(|s| format!("`{}`", s.name()))
        .collect();
    let value: Ident = content.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`scope` takes a name: {}", names.join(", ")),
        )
    })?;
    let Some(scope) = Scope::from_name(&value.to_string()) else {
        return Err(syn::Error::new(
            value.span(),
            format!(
                "unknown scope `{value}`; valid scopes: {}",
                names.join(", ")
            ),
        ));
    };
    if !primitive.couples_rows() {
        let coupled: Vec<&str> = Primitive::ALL
            .iter()
            .filter(|p| p.couples_rows())
            .map(|p| p.name())
            .collect();
        return Err(syn::Error::new(
            option.span(),
            format!(
                "`{}` is a mean over rows: its global value is already the mean of the \
                 processes' values, so it takes no `scope`; `scope` applies to terms that \
                 couple rows ({})",
                primitive.name(),
                coupled.join(", ")
            ),
        ));
    }
    if scope == Scope::Sharded && primitive != Primitive::MstLen {
        return Err(syn::Error::new(
            value.span(),
            format!(
                "`scope = sharded` (distributed Borůvka) is for `mst_len` only; use \
                 `scope = global` for `{}`",
                primitive.name()
            ),
        ));
    }
    Ok((value, scope))
}

fn peek_last(content: ParseStream) -> bool {
    let fork = content.fork();
    fork.parse::<TokenTree>().is_ok() && fork.is_empty()
}

fn same_option(primitive: Primitive, a: &Ident, b: &Ident) -> bool {
    let find = |ident: &Ident| {
        let text = ident.to_string();
        primitive.options().iter().position(|o| o.matches(&text))
    };
    find(a) == find(b)
}

fn check_option(primitive: Primitive, option: &Ident) -> syn::Result<()> {
    let text = option.to_string();
    let specs = primitive.options();
    if specs.iter().any(|o| o.matches(&text)) {
        return Ok(());
    }
    let message = if specs.is_empty() {
        format!(
            "unknown option `{text}`: `{}` takes no options",
            primitive.name()
        )
    } else {
        let valid: Vec<String> = specs
            .iter()
            .map(|o| format!("`{}` (or `{}`, default {})", o.name, o.ascii, o.default))
            .collect();
        format!(
            "unknown option `{text}` for `{}`; valid options: {}",
            primitive.name(),
            valid.join(", ")
        )
    };
    Err(syn::Error::new(option.span(), message))
}
