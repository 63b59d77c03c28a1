use tregs::loss;

fn main() {
    let _ = loss!();
}
