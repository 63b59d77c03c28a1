// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::loss;

fn main() {
    let _ = loss!();
}
