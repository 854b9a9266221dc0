//! The whole spec of the five real documents, as `flowgen spec` prints it (YAML).
//! Reviewed by eye; a change here is a change of the contract codegen and the runtime read.

#[test]
fn five_documents() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../generated/dataflows");
    let sources = flowgen_spec::load(&[dir]).expect("the five documents load");
    let spec = flowgen_spec::build_spec(&sources);
    assert!(!spec.has_errors());
    insta::assert_yaml_snapshot!("five_documents", spec);
}
