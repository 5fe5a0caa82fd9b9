//! Compile-fail tests for `law!` and `sweep!`: each file in `tests/ui/` must fail to compile
//! with the error message stored beside it (`.stderr`), pointing at the offending tokens.

#[test]
fn macro_errors_point_at_the_offending_tokens() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
