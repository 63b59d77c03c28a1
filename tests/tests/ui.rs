//! Every user mistake in `loss!` is a compile error at the span at fault, with a message
//! that says what to write instead. The expected messages are the `.stderr` files.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
