tregs::loss! {
    pub struct TRegs(z) where γ = 0.2 {
        γ*mst_len(z) + λ*sphere(z)
    }
}

fn main() {}
