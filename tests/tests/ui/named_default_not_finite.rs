// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

tregs::loss! {
    pub struct TRegs(z) where β = 1e999 {
        β*mst_len(z)
    }
}

fn main() {}
