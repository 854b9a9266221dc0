//! Collects the reader's diagnostics for one file.

use std::sync::Arc;

use super::rst::{Finding, Pos};
use crate::model::{Diagnostic, Location, Severity};

#[derive(Debug)]
pub struct Report<'f> {
    pub file: &'f str,
    /// The name every [`Location`] of this file shares.
    shared: Arc<str>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'f> Report<'f> {
    pub fn new(file: &'f str) -> Self {
        Report {
            file,
            shared: Arc::from(file),
            diagnostics: Vec::new(),
        }
    }

    pub fn loc(&self, pos: Pos) -> Location {
        Location {
            file: Arc::clone(&self.shared),
            line: pos.line,
            column: pos.column,
        }
    }

    /// Adds a diagnostic at `pos`; the returned value adds the label and help.
    pub fn add(&mut self, severity: Severity, pos: Pos, message: impl Into<String>) -> Emitted<'_> {
        let location = self.loc(pos);
        self.diagnostics
            .push(Diagnostic::new(severity, message).at(&location));
        Emitted(self.diagnostics.last_mut())
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) -> Emitted<'_> {
        self.add(Severity::Error, pos, message)
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) -> Emitted<'_> {
        self.add(Severity::Warning, pos, message)
    }

    pub fn finding(&mut self, f: Finding) {
        let mut e = self.add(f.severity, f.pos, f.message);
        if let Some(label) = f.label {
            e = e.label(label);
        }
        if let Some(help) = f.help {
            e.help(help);
        }
    }

    /// The diagnostics in document order (stable for equal places).
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics
            .sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
        self.diagnostics
    }
}

/// A just-added diagnostic, to attach a label and a help.
#[derive(Debug)]
pub struct Emitted<'r>(Option<&'r mut Diagnostic>);

impl Emitted<'_> {
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let Some(d) = self.0.as_deref_mut() {
            d.label = Some(label.into());
        }
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        if let Some(d) = self.0.as_deref_mut() {
            d.help = Some(help.into());
        }
        self
    }
}
