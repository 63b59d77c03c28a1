//! Cross-crate tests of tregs live in `tests/`: trybuild compile-error cases (`ui/`), insta
//! snapshots of `loss!` expansions, named losses with their configs.
