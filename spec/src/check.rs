//! STUB — owned by the resolve helper.
use crate::model::Spec;

/// Adds the findings that need the whole spec.
pub fn check(spec: &mut Spec) {
    let _ = spec;
}
