//! Dataverse's error responses: `{"error":{"code":"0x…","message":"…"}}` with the status and code
//! the real service uses for each failure.

use http::StatusCode;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 responses.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 0x80060888: the generic OData request error (bad query, unknown property or segment).
    pub fn odata(message: impl Into<String>) -> Self {
        Self::bad_request("0x80060888", message)
    }

    pub fn payload(table: &str, detail: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "0x80048d19",
            format!(
                "Error identified in Payload provided by the user for Entity :'{table}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: {detail}"
            ),
        )
    }

    pub fn not_found(table: &str, id: Uuid) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "0x80040217",
            format!("{table} With Id = {id} Does Not Exist"),
        )
    }

    pub fn resource_not_found(segment: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "0x80060888",
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    pub fn unknown_property(property: &str, table: &str) -> Self {
        Self::odata(format!(
            "Could not find a property named '{property}' on type 'Microsoft.Dynamics.CRM.{table}'."
        ))
    }

    pub fn payload_unknown_property(property: &str, table: &str) -> Self {
        Self::bad_request(
            "0x80048d19",
            format!(
                "Error identified in Payload provided by the user for Entity :'{table}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: The property '{property}' does not exist on type 'Microsoft.Dynamics.CRM.{table}'. Make sure to only use property names that are defined by the type or mark the type as open type."
            ),
        )
    }

    pub fn concurrency() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "0x80060882",
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<crate::odata::QueryError> for ApiError {
    fn from(e: crate::odata::QueryError) -> Self {
        ApiError::bad_request(e.code, e.message)
    }
}
