//! [`Plan`] → Rust code: what `loss!` expands to.
//!
//! The plan's static part (primitives, argument indices, term names) becomes a `static`
//! built once; the coefficients are evaluated where the macro stands, with rustc checking
//! that each is a number, and the call goes to `tregs::__private::evaluate`, which runs the
//! whole expression as one fused operation.

use crate::expr::BinOp;
use crate::parse::{parse_expr, Mode};
use crate::plan::{Coef, Plan};
use crate::primitive::ascii_name;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::{braced, parenthesized, Attribute, Ident, Token, Visibility};

/// Expands the tokens of `loss!( … )`: either an expression, evaluated in place, or the
/// named form `struct Name(inputs) where coefficients { expression }`, which defines a type.
pub fn expand_loss(tokens: TokenStream) -> syn::Result<TokenStream> {
    if is_named_form(&tokens) {
        let named: NamedLoss = syn::parse2(tokens)?;
        return named.expand();
    }
    let expr = parse_expr(tokens, Mode::Macro)?;
    let plan = Plan::from_expr(&expr)?;
    Ok(evaluation(&plan, &expr.to_string(), &|coef| {
        coef_tokens(coef)
    }))
}

fn is_named_form(tokens: &TokenStream) -> bool {
    syn::parse::Parser::parse2(
        |input: ParseStream| {
            input.call(Attribute::parse_outer)?;
            input.parse::<Visibility>()?;
            let named = input.peek(Token![struct]);
            input.parse::<TokenStream>()?;
            Ok(named)
        },
        tokens.clone(),
    )
    .unwrap_or(false)
}

/// The block that builds the plan once and evaluates it with the given coefficient code.
fn evaluation(plan: &Plan, source: &str, coef: &dyn Fn(&Coef) -> TokenStream) -> TokenStream {
    let input_names = plan.inputs.iter().map(|i| i.to_string());
    let term_specs = plan.terms.iter().map(|term| {
        let primitive = format_ident!("{}", format!("{:?}", term.primitive));
        let args = term.args.iter().map(|a| Literal::usize_unsuffixed(*a));
        let name = &term.name;
        quote! { (::tregs::Primitive::#primitive, &[#(#args),*], #name) }
    });
    let inputs = plan.inputs.iter().map(|ident| {
        quote_spanned! {ident.span()=> ::tregs::__private::input(&#ident) }
    });
    let coefs = plan.terms.iter().map(|t| coef(&t.coef));
    // Only a plan that writes a scope says so: the expansion of every other loss is unchanged.
    let with_scopes = plan.terms.iter().any(|t| t.scope.is_some()).then(|| {
        let scopes = plan.terms.iter().map(|t| match t.scope {
            Some(scope) => {
                let variant = format_ident!("{}", format!("{scope:?}"));
                quote! { ::core::option::Option::Some(::tregs::Scope::#variant) }
            }
            None => quote! { ::core::option::Option::None },
        });
        quote! { .with_scopes(&[#(#scopes),*]) }
    });
    let options = plan.terms.iter().map(|t| {
        let values = t.options.iter().map(coef);
        quote! { &[#(#values),*] }
    });
    quote! {
        {
            static __TREGS_PLAN: ::std::sync::LazyLock<::tregs::LossPlan> =
                ::std::sync::LazyLock::new(|| {
                    ::tregs::LossPlan::from_static(#source, &[#(#input_names),*], &[#(#term_specs),*])
                    #with_scopes
                });
            ::tregs::__private::evaluate(
                &__TREGS_PLAN,
                &[#(#inputs),*],
                &[#(#coefs),*],
                &[#(#options),*],
            )
        }
    }
}

/// A coefficient as Rust code of type `f64`; names and Rust expressions go through
/// `tregs::__private::coef`, whose trait bound reports a non-number at the coefficient's span.
fn coef_tokens(coef: &Coef) -> TokenStream {
    match coef {
        Coef::Num { value, span, .. } => {
            let mut lit = Literal::f64_suffixed(*value);
            lit.set_span(*span);
            lit.into_token_stream()
        }
        Coef::Var(ident) => quote_spanned! {ident.span()=> ::tregs::__private::coef(&#ident) },
        Coef::Rust { tokens, span } => {
            quote_spanned! {*span=> ::tregs::__private::coef(&(#tokens)) }
        }
        Coef::Neg(inner) => {
            let inner = coef_tokens(inner);
            quote! { (-#inner) }
        }
        Coef::Binary(op, lhs, rhs) => {
            let (lhs, rhs) = (coef_tokens(lhs), coef_tokens(rhs));
            match op {
                BinOp::Add => quote! { (#lhs + #rhs) },
                BinOp::Sub => quote! { (#lhs - #rhs) },
                BinOp::Mul => quote! { (#lhs * #rhs) },
            }
        }
    }
}

/// A default's value, checked as a number in the expression is (finite, no suffix).
fn default_value(ident: &Ident, lit: &syn::Lit) -> syn::Result<f64> {
    match lit {
        syn::Lit::Float(_) | syn::Lit::Int(_) => {
            crate::parse::literal_number(lit).map(|(value, _)| value)
        }
        _ => {
            let message =
                format!("the default of `{ident}` must be a number, e.g. `{ident} = 0.2`");
            Err(syn::Error::new(lit.span(), message))
        }
    }
}

/// `struct Name(z, z2) where β = 10.0, γ = 0.2 { expression }`.
struct NamedLoss {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    inputs: Vec<Ident>,
    defaults: Vec<(Ident, f64, Literal)>,
    body: TokenStream,
    body_span: Span,
}

impl Parse for NamedLoss {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if !input.peek(syn::token::Paren) {
            return Err(input.error(format!(
                "expected the loss inputs in parentheses after `{name}`, e.g. `struct {name}(z, z2)`"
            )));
        }
        let content;
        parenthesized!(content in input);
        let mut inputs: Vec<Ident> = Vec::new();
        while !content.is_empty() {
            let ident: Ident = content
                .parse()
                .map_err(|e| syn::Error::new(e.span(), "expected a tensor input name, e.g. `z`"))?;
            if inputs.contains(&ident) {
                return Err(syn::Error::new(
                    ident.span(),
                    format!("input `{ident}` is declared twice"),
                ));
            }
            inputs.push(ident);
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
        let mut defaults = Vec::new();
        if input.peek(Token![where]) {
            input.parse::<Token![where]>()?;
            while !input.peek(syn::token::Brace) && !input.is_empty() {
                let ident: Ident = input.parse()?;
                if inputs.contains(&ident) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!(
                            "`{ident}` is an input of `{name}`: give the coefficient another name"
                        ),
                    ));
                }
                input.parse::<Token![=]>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!("expected `=` and a default value: `{ident} = 1.0`"),
                    )
                })?;
                let negative = input.peek(Token![-]);
                if negative {
                    input.parse::<Token![-]>()?;
                }
                let lit: syn::Lit = input.parse()?;
                let value = default_value(&ident, &lit)?;
                let value = if negative { -value } else { value };
                if defaults.iter().any(|(seen, _, _)| seen == &ident) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("coefficient `{ident}` is declared twice"),
                    ));
                }
                let mut literal = Literal::f64_suffixed(value);
                literal.set_span(lit.span());
                defaults.push((ident, value, literal));
                if !input.peek(syn::token::Brace) {
                    input.parse::<Token![,]>()?;
                }
            }
        }
        if !input.peek(syn::token::Brace) {
            return Err(
                input.error("expected the loss expression in braces: `{ β*mse(z, z2) + … }`")
            );
        }
        let body;
        let brace = braced!(body in input);
        let body: TokenStream = body.parse()?;
        Ok(NamedLoss {
            attrs,
            vis,
            name,
            inputs,
            defaults,
            body,
            body_span: brace.span.join(),
        })
    }
}

impl NamedLoss {
    fn expand(&self) -> syn::Result<TokenStream> {
        if self.body.is_empty() {
            return Err(syn::Error::new(
                self.body_span,
                "empty loss expression: write a weighted sum of terms, e.g. \
                 `β*mse(z, z2) + γ*mst_len(z) + λ*sphere(z)`",
            ));
        }
        let expr = parse_expr(self.body.clone(), Mode::Macro)?;
        let source = expr.to_string();
        let plan = Plan::from_expr(&expr)?;
        self.check(&plan)?;

        let NamedLoss {
            attrs, vis, name, ..
        } = self;
        let fields = self.defaults.iter().map(|(ident, value, _)| {
            let key = ascii_name(&ident.to_string());
            let doc = format!("Coefficient `{ident}` (config key `{key}`), default {value:?}.");
            quote! {
                #[doc = #doc]
                #[serde(rename = #key, deserialize_with = "::tregs::__private::finite_coefficient")]
                pub #ident: f64
            }
        });
        let field_defaults = self
            .defaults
            .iter()
            .map(|(ident, _, literal)| quote! { #ident: #literal });
        let params = self
            .inputs
            .iter()
            .map(|i| quote! { #i: &::tregs::Tensor<2> });
        let bind_coefs = self
            .defaults
            .iter()
            .map(|(ident, _, _)| quote! { let #ident: f64 = self.#ident; });
        let inputs_text = self.inputs.iter().map(|i| i.to_string());
        let evaluation = evaluation(&plan, &source, &|coef| coef_tokens(coef));
        let forward_doc = format!("Evaluates `{source}` as one fused operation.");
        Ok(quote! {
            #(#attrs)*
            #[derive(Debug, Clone, PartialEq, ::tregs::__private::serde::Serialize, ::tregs::__private::serde::Deserialize)]
            #[serde(crate = "::tregs::__private::serde", default, deny_unknown_fields)]
            #[allow(non_snake_case)]
            #vis struct #name {
                #(#fields,)*
            }

            impl ::core::default::Default for #name {
                fn default() -> Self {
                    Self { #(#field_defaults,)* }
                }
            }

            #[allow(non_snake_case)]
            impl #name {
                /// The loss expression, as written.
                pub const EXPRESSION: &'static str = #source;
                /// The names of the tensor inputs, in the order `forward` takes them.
                pub const INPUTS: &'static [&'static str] = &[#(#inputs_text),*];

                #[doc = #forward_doc]
                pub fn forward(&self, #(#params),*) -> ::core::result::Result<::tregs::LossOutput, ::tregs::LossError> {
                    #(#bind_coefs)*
                    #evaluation
                }

                /// Reads the coefficients from TOML (ASCII keys; missing keys keep their defaults).
                pub fn from_toml(text: &str) -> ::core::result::Result<Self, ::tregs::ConfigError> {
                    ::tregs::__private::from_toml(text)
                }

                /// Reads the coefficients from JSON (ASCII keys; missing keys keep their defaults).
                pub fn from_json(text: &str) -> ::core::result::Result<Self, ::tregs::ConfigError> {
                    ::tregs::__private::from_json(text)
                }

                /// Reads the coefficients from a `.toml` or `.json` file.
                pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, ::tregs::ConfigError> {
                    ::tregs::__private::load_config(path.as_ref())
                }
            }
        })
    }

    /// Names in the body must be declared: inputs in the parentheses, coefficients after `where`.
    fn check(&self, plan: &Plan) -> syn::Result<()> {
        for used in &plan.inputs {
            if !self.inputs.contains(used) {
                return Err(syn::Error::new(
                    used.span(),
                    format!(
                        "`{used}` is not an input of `{}`: declare it in `struct {}({})`",
                        self.name,
                        self.name,
                        self.inputs
                            .iter()
                            .map(|i| i.to_string())
                            .chain(std::iter::once(used.to_string()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        if let Some(unused) = self.inputs.iter().find(|i| !plan.inputs.contains(i)) {
            return Err(syn::Error::new(
                unused.span(),
                format!("input `{unused}` is not used by the loss expression"),
            ));
        }
        for term in &plan.terms {
            for coef in std::iter::once(&term.coef).chain(term.options.iter()) {
                check_named_coef(self, coef)?;
            }
        }
        let used = plan.coefficient_names();
        if let Some((unused, _, _)) = self.defaults.iter().find(|(i, _, _)| !used.contains(i)) {
            return Err(syn::Error::new(
                unused.span(),
                format!("coefficient `{unused}` is declared but not used by the loss expression"),
            ));
        }
        Ok(())
    }
}

fn check_named_coef(named: &NamedLoss, coef: &Coef) -> syn::Result<()> {
    match coef {
        Coef::Num { .. } => Ok(()),
        Coef::Var(ident) => {
            if named.defaults.iter().any(|(d, _, _)| d == ident) {
                Ok(())
            } else {
                Err(syn::Error::new(
                    ident.span(),
                    format!(
                        "`{ident}` is not a coefficient of `{}`: declare it with a default, \
                         `where {ident} = 1.0`",
                        named.name
                    ),
                ))
            }
        }
        Coef::Rust { span, .. } => Err(syn::Error::new(
            *span,
            "a named loss cannot use Rust expressions as coefficients: declare a coefficient \
             after `where` and set it in the config instead",
        )),
        Coef::Neg(inner) => check_named_coef(named, inner),
        Coef::Binary(_, lhs, rhs) => {
            check_named_coef(named, lhs)?;
            check_named_coef(named, rhs)
        }
    }
}
