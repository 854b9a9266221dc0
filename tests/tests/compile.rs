//! Compile checks of generated code (trybuild): each document problem the issue lists is a
//! compile error naming the document location, and the generated crates compile with no
//! warnings (`#![deny(warnings)]` in every pass case).
//!
//! The cases live in `tests/ui/{pass,fail}`, each with its own documents under
//! `tests/fixtures/`. Regenerate the `.stderr` files with `TRYBUILD=overwrite`.

#[test]
fn compile_checks() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
