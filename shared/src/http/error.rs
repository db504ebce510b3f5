use http::StatusCode;
use serde_json::{Value, json};

use crate::db::DbError;
use crate::service::{Category, ServiceError};

/// Why a request failed: a use case's error, or something about the request itself.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(
        "the body is larger than {limit} bytes; upload large files through POST /api/v1/uploads, which answers with an upload URL"
    )]
    PayloadTooLarge { limit: usize },
    #[error("no such route")]
    RouteNotFound,
    /// `allow` lists the methods the path does accept, for the `Allow` header.
    #[error("this route does not accept that method; it accepts {allow}")]
    MethodNotAllowed { allow: String },
}

impl ApiError {
    /// The one mapping from failures to HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Service(error) => match error.category() {
                Category::Validation => StatusCode::BAD_REQUEST,
                Category::Conflict => StatusCode::CONFLICT,
                Category::NotFound => StatusCode::NOT_FOUND,
                Category::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                Category::Inconsistent => StatusCode::INTERNAL_SERVER_ERROR,
                Category::Infrastructure => match error {
                    ServiceError::Db(db) if db.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
                    ServiceError::Db(DbError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                },
            },
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) | ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The stable wire name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Service(error) => error.kind(),
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "tenant_mismatch",
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }

    /// `{"error": {"type", "message", …details}}`.
    pub fn envelope(&self) -> Value {
        match self {
            ApiError::Service(error) => error.envelope(),
            ApiError::PayloadTooLarge { limit } => json!({ "error": {
                "type": self.kind(), "message": self.to_string(), "limit_bytes": limit, "large_upload": "/api/v1/uploads"
            }}),
            _ => json!({ "error": { "type": self.kind(), "message": self.to_string() } }),
        }
    }
}
