//! Errors of the Rust API ([`SandboxError`]) and the API-neutral failures handlers return,
//! which each API renders in its own shape.

use crate::schema::FieldError;

/// Why a sandbox could not start or a Rust-API call was refused.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration is unusable.
    #[error("sandbox configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (hint: is the port taken? use port 0 for ephemeral ports)"
    )]
    Bind {
        /// The address tried.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No such system or entity.
    #[error(
        "unknown entity `{system}/{entity}` (hint: use the documents' names, e.g. `powerofficego/Customers person`)"
    )]
    UnknownEntity {
        /// As asked.
        system: String,
        /// As asked.
        entity: String,
    },
    /// No record with that id.
    #[error("no `{entity}` record with id `{id}`")]
    NotFound {
        /// `system/collection`.
        entity: String,
        /// As asked.
        id: String,
    },
    /// The record was refused (wrong type, unknown field, dangling reference, taken id).
    #[error("invalid `{entity}` record: {message}")]
    Invalid {
        /// `system/collection`.
        entity: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// A failed request, before the API gives it its shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Fail {
    /// 401: missing or wrong credentials.
    Unauthorized(String),
    /// 404: no such resource.
    NotFound { what: String, id: String },
    /// 400: a parameter or field is wrong.
    Invalid {
        param: Option<String>,
        message: String,
    },
    /// 400 (Chargebee `duplicate_entry`) / 409 elsewhere: the id is taken.
    Duplicate { param: String, message: String },
    /// 415: wrong content type.
    UnsupportedMedia(String),
    /// 405: method not served here.
    MethodNotAllowed,
}

impl Fail {
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Fail::Invalid {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Fail::Invalid {
            param: None,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>, id: impl Into<String>) -> Self {
        Fail::NotFound {
            what: what.into(),
            id: id.into(),
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Fail::Unauthorized(m) | Fail::UnsupportedMedia(m) => m.clone(),
            Fail::NotFound { what, id } => format!("{what} `{id}` not found"),
            Fail::Invalid { message, .. } | Fail::Duplicate { message, .. } => message.clone(),
            Fail::MethodNotAllowed => "method not allowed on this resource".into(),
        }
    }

    #[cfg(test)]
    pub(crate) fn param(&self) -> Option<&str> {
        match self {
            Fail::Invalid { param, .. } => param.as_deref(),
            Fail::Duplicate { param, .. } => Some(param),
            _ => None,
        }
    }

    /// The Rust-API error for a failure on table `entity`.
    pub(crate) fn into_sandbox(self, entity: String) -> SandboxError {
        match self {
            Fail::NotFound { id, .. } => SandboxError::NotFound { entity, id },
            other => SandboxError::Invalid {
                entity,
                message: other.message(),
            },
        }
    }
}

impl From<FieldError> for Fail {
    fn from(e: FieldError) -> Self {
        Fail::Invalid {
            message: format!("{}: {}", e.path, e.message),
            param: Some(e.path),
        }
    }
}
