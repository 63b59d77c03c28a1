tregs::loss! {
    pub struct TRegs(z, z2) where γ = 0.2 {
        γ*mst_len(z)
    }
}

fn main() {}
