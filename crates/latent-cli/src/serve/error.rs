//! [`ApiError`]: every failure of a request, answered as a status code and a JSON body
//! `{"error": "...", "status": N}`, including axum's own refusals (bad JSON, a body over the
//! limit, a wrong content type, an unknown path or method).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A request that could not be answered: the status and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status (4xx for the client's mistakes, 503 when busy, 500 for a bug).
    pub status: StatusCode,
    /// What went wrong, naming the field or value.
    pub message: String,
}

impl ApiError {
    /// A malformed request (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// A well-formed request the run cannot satisfy (422): a field out of range, an operation
    /// the model does not have.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, message: message.into() }
    }

    /// Nothing here by that name (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// Too many requests are waiting (503); the client may retry.
    pub fn busy(message: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into() }
    }

    /// A failure that is the server's fault (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status.as_u16())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "status": self.status.as_u16() });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    /// axum's status (400 for a syntax error, 413 over the body limit, 415 without the JSON
    /// content type, 422 for a field of the wrong type) with its message, which names the
    /// field and position.
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the request body is larger than the {} bytes a request may send", super::MAX_BODY_BYTES)
            }
            _ => rejection.body_text(),
        };
        Self { status, message }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: rejection.body_text() }
    }
}

impl From<latent_models::ModelError> for ApiError {
    /// The model's refusals of a request (a label out of range, a wrong width, more memory than
    /// the limit) are the client's mistakes; anything else is the server's.
    fn from(e: latent_models::ModelError) -> Self {
        use latent_models::ModelError;
        match e {
            ModelError::Input { .. } | ModelError::Unsupported { .. } | ModelError::Memory { .. } => {
                Self::unprocessable(e.to_string())
            }
            other => Self::internal(other.to_string()),
        }
    }
}

/// The answer to a path that names nothing.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("nothing is served at {}; GET /api/runs lists the runs", uri.path()))
}

/// The answer to a known path asked with the wrong method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed on {}: see the API documentation (docs/serve.md)", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_answer_with_their_status_and_a_json_body() {
        let response = ApiError::unprocessable("label 12 is out of range").into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let busy = ApiError::busy("later").into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_model_refusing_its_input_is_the_clients_mistake() {
        let e = ApiError::from(latent_models::ModelError::input("labels", "expected 2"));
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("expected 2"), "{e}");
    }
}
