//! The primitives a loss expression may call: names, tensor parameters and named options.
//!
//! This table is the single source of truth for the grammar's error messages (arity,
//! unknown names, unknown options) and for the runtime's dispatch.

/// A named option of a primitive, e.g. a temperature `τ = 0.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    /// The name as written in the expression (may be Greek).
    pub name: &'static str,
    /// An ASCII spelling accepted everywhere the name is (`tau` for `τ`).
    pub ascii: &'static str,
    /// The value used when the option is not given.
    pub default: f64,
    /// Whether the value must be strictly positive (a temperature, a scale, a target
    /// deviation); otherwise it must be at least 0 (a weight).
    pub positive: bool,
}

impl OptionSpec {
    /// Whether `name` (as written in a call) refers to this option.
    pub fn matches(&self, name: &str) -> bool {
        name == self.name || name == self.ascii
    }

    /// Whether `value` is a valid setting: finite, and positive or non-negative.
    pub fn allows(&self, value: f64) -> bool {
        value.is_finite()
            && if self.positive {
                value > 0.0
            } else {
                value >= 0.0
            }
    }

    /// What [`OptionSpec::allows`] asks for, in words.
    pub fn requirement(&self) -> &'static str {
        if self.positive {
            "a positive number"
        } else {
            "a finite number at least 0"
        }
    }
}

/// Which rows a term sees when a batch is spread over several processes (data-parallel
/// training): written `scope = rank | global | sharded` in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// This process's rows only (the default).
    Rank,
    /// The global batch: the other processes' rows are gathered (as constants) and the term
    /// is computed on the concatenation, exactly as one process holding the whole batch
    /// would; the gradient flows to this process's rows.
    Global,
    /// `mst_len` only: the global batch's tree by distributed Borůvka, each process computing
    /// the distances of its own rows only (no n × n matrix anywhere).
    Sharded,
}

impl Scope {
    /// Every scope, as written in expressions.
    pub const ALL: &'static [Scope] = &[Scope::Rank, Scope::Global, Scope::Sharded];

    /// The name used in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Rank => "rank",
            Scope::Global => "global",
            Scope::Sharded => "sharded",
        }
    }

    /// Looks a scope up by its expression name.
    pub fn from_name(name: &str) -> Option<Scope> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }
}

/// A loss primitive of the DSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Primitive {
    /// `mst_len(z)`: L_E = -(1/n) Σ_{(u,v) ∈ MST(z)} ‖z_u − z_v‖ (T-REGS, arXiv 2510.23484).
    MstLen,
    /// `sphere(z)`: L_S = (1/n) Σ_i (‖z_i‖ − 1)² (T-REGS, arXiv 2510.23484).
    Sphere,
    /// `mse(a, b)`: mean over all n·d elements of (a − b)², as PyTorch's `mse_loss`.
    Mse,
    /// `nt_xent(z, z2, τ = 0.1)`: SimCLR's normalized-temperature cross entropy over the 2n
    /// views (Chen et al., ICML 2020).
    NtXent,
    /// `clip(a, b, τ = 0.07)`: CLIP's symmetric InfoNCE between paired rows (Radford et al.,
    /// ICML 2021).
    Clip,
    /// `clip_scaled(a, b, s)`: `clip` with a learnable temperature: s is a 1×1 tensor holding
    /// CLIP's logit scale, logits = e^s â b̂ᵀ (τ = e^{−s}).
    ClipScaled,
    /// `barlow(z, z2, λ = 5e-3)`: Barlow Twins' cross-correlation loss (Zbontar et al., ICML
    /// 2021).
    Barlow,
    /// `vicreg_var(z, γ = 1)`: VICReg's variance hinge (Bardes et al., ICLR 2022).
    VicregVar,
    /// `vicreg_cov(z)`: VICReg's covariance penalty (Bardes et al., ICLR 2022).
    VicregCov,
    /// `byol(p, z)`: BYOL's normalized MSE, 2 − 2 cos (Grill et al., NeurIPS 2020).
    Byol,
    /// `uniformity(z, t = 2)`: Wang and Isola's L_u (ICML 2020).
    Uniformity,
    /// `w2(z)`: the Wasserstein-2 distance of the normalized rows to N(0, I/d) (Fang et al.,
    /// ICLR 2024).
    W2,
    /// `cosine(a, b)`: mean cosine distance 1 − cos between paired rows.
    Cosine,
}

const TAU_SIMCLR: OptionSpec = OptionSpec {
    name: "τ",
    ascii: "tau",
    default: 0.1,
    positive: true,
};
const TAU_CLIP: OptionSpec = OptionSpec {
    name: "τ",
    ascii: "tau",
    default: 0.07,
    positive: true,
};
const LAMBDA_BARLOW: OptionSpec = OptionSpec {
    name: "λ",
    ascii: "lambda",
    default: 5e-3,
    positive: false,
};
const GAMMA_VICREG: OptionSpec = OptionSpec {
    name: "γ",
    ascii: "gamma",
    default: 1.0,
    positive: true,
};
const T_UNIFORMITY: OptionSpec = OptionSpec {
    name: "t",
    ascii: "t",
    default: 2.0,
    positive: true,
};

impl Primitive {
    /// Every primitive, in the order of the reference table.
    pub const ALL: &'static [Primitive] = &[
        Primitive::MstLen,
        Primitive::Sphere,
        Primitive::Mse,
        Primitive::NtXent,
        Primitive::Clip,
        Primitive::ClipScaled,
        Primitive::Barlow,
        Primitive::VicregVar,
        Primitive::VicregCov,
        Primitive::Byol,
        Primitive::Uniformity,
        Primitive::W2,
        Primitive::Cosine,
    ];

    /// Whether the term's value couples the rows of a batch (a tree, pairwise similarities,
    /// batch statistics), so that the value on a global batch differs from the mean of the
    /// values on its parts: only these terms take a `scope`. Row-wise terms (`sphere`,
    /// `mse`, `byol`, `cosine`) are means over rows, whose global value is already the
    /// mean of the processes' values.
    pub fn couples_rows(self) -> bool {
        !matches!(
            self,
            Primitive::Sphere | Primitive::Mse | Primitive::Byol | Primitive::Cosine
        )
    }

    /// Its tensor parameters that hold batch rows (gathered under `scope = global`): all of
    /// them but `clip_scaled`'s logit scale.
    pub fn row_params(self) -> usize {
        match self {
            Primitive::ClipScaled => 2,
            other => other.params().len(),
        }
    }

    /// The name used in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Primitive::MstLen => "mst_len",
            Primitive::Sphere => "sphere",
            Primitive::Mse => "mse",
            Primitive::NtXent => "nt_xent",
            Primitive::Clip => "clip",
            Primitive::ClipScaled => "clip_scaled",
            Primitive::Barlow => "barlow",
            Primitive::VicregVar => "vicreg_var",
            Primitive::VicregCov => "vicreg_cov",
            Primitive::Byol => "byol",
            Primitive::Uniformity => "uniformity",
            Primitive::W2 => "w2",
            Primitive::Cosine => "cosine",
        }
    }

    /// Looks a primitive up by its expression name.
    pub fn from_name(name: &str) -> Option<Primitive> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// The names of its tensor parameters (its arity is their number).
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Primitive::MstLen
            | Primitive::Sphere
            | Primitive::VicregVar
            | Primitive::VicregCov
            | Primitive::Uniformity
            | Primitive::W2 => &["z"],
            Primitive::Mse | Primitive::Clip | Primitive::Cosine => &["a", "b"],
            Primitive::NtXent | Primitive::Barlow => &["z", "z2"],
            Primitive::Byol => &["p", "z"],
            Primitive::ClipScaled => &["a", "b", "s"],
        }
    }

    /// Its named options, in the order their values are passed to the runtime.
    pub fn options(self) -> &'static [OptionSpec] {
        match self {
            Primitive::NtXent => &[TAU_SIMCLR],
            Primitive::Clip => &[TAU_CLIP],
            Primitive::Barlow => &[LAMBDA_BARLOW],
            Primitive::VicregVar => &[GAMMA_VICREG],
            Primitive::Uniformity => &[T_UNIFORMITY],
            _ => &[],
        }
    }

    /// Whether the term couples rows through the minimum spanning tree of its input.
    pub fn needs_tree(self) -> bool {
        matches!(self, Primitive::MstLen)
    }

    /// Whether the term runs inside the fused operation (shared norms and trees, a
    /// hand-written backward); the others are written with burn tensor ops and differentiated
    /// by burn's autodiff, on any backend.
    pub fn is_fused(self) -> bool {
        matches!(self, Primitive::MstLen | Primitive::Sphere | Primitive::Mse)
    }

    /// Whether its first two tensors must have the same shape (paired rows, same dimension).
    pub fn paired(self) -> bool {
        matches!(
            self,
            Primitive::Mse
                | Primitive::NtXent
                | Primitive::Clip
                | Primitive::ClipScaled
                | Primitive::Barlow
                | Primitive::Byol
                | Primitive::Cosine
        )
    }

    /// The fewest rows an input needs (a tree, a variance or a pair needs 2).
    pub fn min_rows(self) -> usize {
        match self {
            Primitive::MstLen
            | Primitive::Barlow
            | Primitive::VicregVar
            | Primitive::VicregCov
            | Primitive::Uniformity
            | Primitive::W2 => 2,
            _ => 1,
        }
    }

    /// The formula in one line, for help texts and the README table.
    pub fn formula(self) -> &'static str {
        match self {
            Primitive::MstLen => "-(1/n) Σ_{(u,v) ∈ MST(z)} ‖z_u − z_v‖",
            Primitive::Sphere => "(1/n) Σ_i (‖z_i‖ − 1)²",
            Primitive::Mse => "(1/(n·d)) Σ_ij (a_ij − b_ij)²",
            Primitive::NtXent => {
                "u = rows of [z; z2] normalized: (1/2n) Σ_i −log(e^{u_i·u_i⁺/τ} / Σ_{j≠i} e^{u_i·u_j/τ})"
            }
            Primitive::Clip => {
                "L = â b̂ᵀ/τ: ½ [(1/n) Σ_i −log softmax(L_i·)_i + (1/n) Σ_j −log softmax(L_·j)_j]"
            }
            Primitive::ClipScaled => "clip(a, b) with τ = e^{−s}, s a learnable 1×1 tensor",
            Primitive::Barlow => {
                "C = (1/n) ẑᵀ ẑ2 (batch-standardized, biased var + 1e-5): Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl²"
            }
            Primitive::VicregVar => "(1/d) Σ_k max(0, γ − sqrt(Var_unbiased(z_·k) + 1e-4))",
            Primitive::VicregCov => "C = cov(z) with 1/(n−1): (1/d) Σ_{k≠l} C_kl²",
            Primitive::Byol => "(1/n) Σ_i (2 − 2 p̂_i·ẑ_i)",
            Primitive::Uniformity => "log (2/(n(n−1))) Σ_{i<j} e^{−t ‖ẑ_i − ẑ_j‖²}",
            Primitive::W2 => {
                "ẑ normalized rows, μ, Σ (1/n): sqrt(‖μ‖² + 1 + tr Σ − (2/√d) tr Σ^{1/2})"
            }
            Primitive::Cosine => "(1/n) Σ_i (1 − â_i·b̂_i)",
        }
    }

    /// Where the loss comes from, for the README table and doc comments.
    pub fn reference(self) -> &'static str {
        match self {
            Primitive::MstLen | Primitive::Sphere => "T-REGS, Mordacq et al., arXiv 2510.23484",
            Primitive::Mse => "PyTorch `F.mse_loss`",
            Primitive::NtXent => "SimCLR, Chen et al., ICML 2020",
            Primitive::Clip | Primitive::ClipScaled => "CLIP, Radford et al., ICML 2021",
            Primitive::Barlow => "Barlow Twins, Zbontar et al., ICML 2021",
            Primitive::VicregVar | Primitive::VicregCov => "VICReg, Bardes et al., ICLR 2022",
            Primitive::Byol => "BYOL, Grill et al., NeurIPS 2020",
            Primitive::Uniformity => "Wang & Isola, ICML 2020",
            Primitive::W2 => "Fang et al., ICLR 2024 (arXiv 2403.00642)",
            Primitive::Cosine => "SimSiam-style cosine distance",
        }
    }

    /// The signature as a user writes it, e.g. `mse(a, b)`.
    pub fn signature(self) -> String {
        let mut parts: Vec<String> = self.params().iter().map(|p| p.to_string()).collect();
        parts.extend(
            self.options()
                .iter()
                .map(|o| format!("{} = {}", o.name, o.default)),
        );
        format!("{}({})", self.name(), parts.join(", "))
    }
}

/// The known name closest to `name` (edit distance), to suggest in an error.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(dist, c)| *dist <= (c.chars().count().max(name.chars().count()) / 2).max(1))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The ASCII spelling of a coefficient or option name: Greek letters become their English
/// names (`β` → `beta`, `λ2` → `lambda2`), so that config files keep ASCII keys.
pub fn ascii_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match greek_name(c) {
            Some(g) => out.push_str(g),
            None => out.push(c),
        }
    }
    out
}

fn greek_name(c: char) -> Option<&'static str> {
    // Variant forms and the micro sign, which keyboards and LaTeX habits produce for μ, ε,
    // φ and θ.
    match c {
        '\u{00B5}' => return Some("mu"),
        '\u{03F5}' => return Some("epsilon"),
        '\u{03D5}' => return Some("phi"),
        '\u{03D1}' => return Some("theta"),
        _ => {}
    }
    const LOWER: [&str; 25] = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "omicron",
        "pi",
        "rho",
        "final_sigma",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "chi",
        "psi",
        "omega",
    ];
    let code = c as u32;
    if (0x3B1..=0x3C9).contains(&code) {
        return Some(LOWER[(code - 0x3B1) as usize]);
    }
    if (0x391..=0x3A9).contains(&code) && code != 0x3A2 {
        const UPPER: [&str; 25] = [
            "Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa",
            "Lambda", "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho", "", "Sigma", "Tau", "Upsilon",
            "Phi", "Chi", "Psi", "Omega",
        ];
        return Some(UPPER[(code - 0x391) as usize]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greek_names_map_to_ascii() {
        assert_eq!(ascii_name("β"), "beta");
        assert_eq!(ascii_name("λ2"), "lambda2");
        assert_eq!(ascii_name("γ_z"), "gamma_z");
        assert_eq!(ascii_name("τ"), "tau");
        assert_eq!(ascii_name("Ω"), "Omega");
        assert_eq!(ascii_name("gamma"), "gamma");
        assert_eq!(ascii_name("\u{00B5}"), "mu");
        assert_eq!(ascii_name("\u{03F5}2"), "epsilon2");
    }

    #[test]
    fn closest_suggests_near_names_only() {
        let names = Primitive::ALL.iter().map(|p| p.name());
        assert_eq!(closest("mst_lenn", names.clone()), Some("mst_len"));
        assert_eq!(closest("msee", names.clone()), Some("mse"));
        assert_eq!(closest("sphre", names.clone()), Some("sphere"));
        assert_eq!(closest("completely_else", names), None);
    }
}
