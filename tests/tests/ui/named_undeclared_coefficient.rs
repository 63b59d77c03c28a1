// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

tregs::loss! {
    pub struct TRegs(z) where γ = 0.2 {
        γ*mst_len(z) + λ*sphere(z)
    }
}

fn main() {}
