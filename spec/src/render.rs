//! STUB — owned by the reader helper.
use crate::load::Sources;
use crate::model::Diagnostic;

/// Renders a diagnostic as rustc does (file:line:column, the source line, label, help).
pub fn render(diagnostic: &Diagnostic, sources: &Sources, color: bool) -> String {
    let _ = (sources, color);
    format!("{diagnostic}\n")
}
