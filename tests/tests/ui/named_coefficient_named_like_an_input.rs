tregs::loss! {
    pub struct TRegs(z) where z = 1.0 {
        z*mst_len(z)
    }
}

fn main() {}
