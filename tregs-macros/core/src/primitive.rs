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
}

impl OptionSpec {
    /// Whether `name` (as written in a call) refers to this option.
    pub fn matches(&self, name: &str) -> bool {
        name == self.name || name == self.ascii
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
}

impl Primitive {
    /// Every primitive, in the order of the reference table.
    pub const ALL: &'static [Primitive] = &[Primitive::MstLen, Primitive::Sphere, Primitive::Mse];

    /// The name used in expressions.
    pub fn name(self) -> &'static str {
        match self {
            Primitive::MstLen => "mst_len",
            Primitive::Sphere => "sphere",
            Primitive::Mse => "mse",
        }
    }

    /// Looks a primitive up by its expression name.
    pub fn from_name(name: &str) -> Option<Primitive> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// The names of its tensor parameters (its arity is their number).
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Primitive::MstLen | Primitive::Sphere => &["z"],
            Primitive::Mse => &["a", "b"],
        }
    }

    /// Its named options, in the order their values are passed to the runtime.
    pub fn options(self) -> &'static [OptionSpec] {
        match self {
            Primitive::MstLen | Primitive::Sphere | Primitive::Mse => &[],
        }
    }

    /// Whether the term couples rows through the minimum spanning tree of its input.
    pub fn needs_tree(self) -> bool {
        matches!(self, Primitive::MstLen)
    }

    /// The formula in one line, for help texts and the README table.
    pub fn formula(self) -> &'static str {
        match self {
            Primitive::MstLen => "-(1/n) Σ_{(u,v) ∈ MST(z)} ‖z_u − z_v‖",
            Primitive::Sphere => "(1/n) Σ_i (‖z_i‖ − 1)²",
            Primitive::Mse => "(1/(n·d)) Σ_ij (a_ij − b_ij)²",
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
