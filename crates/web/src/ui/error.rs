//! What a page shows when it cannot show itself: sign in first, not for you, not found, a form
//! that expired, or an error from the API code it called (in the page's language where the
//! message is one we know, such as the guide's four CRM errors).

use std::borrow::Cow;

use askama::Template;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode};
use store::StoreError;

use crate::problem::{Problem, ProblemCode};
use crate::ui::i18n::Tr;

/// A message with what to do about it, localized where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub message: String,
    pub next_step: Option<String>,
}

/// The English texts the API and the sync engine answer with that the UI translates, each with
/// its catalogue key (the four documented CRM errors come with their own next step).
const KNOWN: [(&str, &str, Option<&str>); 5] = [
    (
        "Could not connect to CRM. Please try again later.",
        "crm.error.connect",
        Some("crm.error.connect_next"),
    ),
    (
        "The CRM API reported an error. Please try again later.",
        "crm.error.api",
        Some("crm.error.api_next"),
    ),
    (
        "Your CRM account does not have sufficient access privileges. Please check with your CRM administrator.",
        "crm.error.privileges",
        Some("crm.error.privileges_next"),
    ),
    (
        "Could not read the required CRM objects from your org.",
        "crm.error.objects",
        Some("crm.error.objects_next"),
    ),
    ("No CRM is connected.", "crm.error.not_connected", None),
];

/// A CRM message (from the API or a stored sync error) in the page's language when it is one of
/// the known ones; otherwise as it came.
pub fn describe_crm_message(t: Tr, message: &str, next_step: Option<&str>) -> Described {
    let message = message.trim();
    if let Some((_, key, next)) = KNOWN.iter().find(|(text, _, _)| *text == message) {
        return Described {
            message: t.t(key).into_owned(),
            next_step: next
                .map(|k| t.t(k).into_owned())
                .or_else(|| next_step.map(str::to_owned)),
        };
    }
    let refusal = if message.contains("on-premises is not supported") {
        Some("crm.error.on_premises")
    } else if message.contains("sandbox") {
        Some("crm.error.sandbox")
    } else {
        None
    };
    match refusal {
        Some(key) => Described {
            message: t.t(key).into_owned(),
            next_step: Some(message.to_owned()),
        },
        None => Described {
            message: message.to_owned(),
            next_step: next_step.map(str::to_owned),
        },
    }
}

/// What a problem from the API code means for the person looking at the page.
pub fn describe_problem(t: Tr, problem: &Problem) -> Described {
    match problem.code {
        ProblemCode::CrmError | ProblemCode::NotConnected | ProblemCode::ValidationFailed
            if problem.detail.is_some() =>
        {
            describe_crm_message(
                t,
                problem.detail.as_deref().unwrap_or_default(),
                problem.next_step.as_deref(),
            )
        }
        code => Described {
            message: t.t(problem_key(code)).into_owned(),
            next_step: problem.detail.clone(),
        },
    }
}

fn problem_key(code: ProblemCode) -> &'static str {
    match code {
        ProblemCode::NotFound => "error.not_found",
        ProblemCode::Forbidden => "error.forbidden",
        ProblemCode::Conflict => "error.conflict",
        ProblemCode::NotConnected => "crm.error.not_connected",
        ProblemCode::CrmError => "crm.error.api",
        ProblemCode::TooManyRequests => "error.too_many",
        ProblemCode::PayloadTooLarge => "error.too_large",
        ProblemCode::CsrfFailed => "error.csrf",
        ProblemCode::Unauthenticated => "error.signed_out",
        ProblemCode::Internal => "error.internal",
        ProblemCode::MalformedJson
        | ProblemCode::InvalidBody
        | ProblemCode::InvalidQuery
        | ProblemCode::ValidationFailed
        | ProblemCode::UnsupportedMediaType
        | ProblemCode::UnreadableBody
        | ProblemCode::MethodNotAllowed => "error.bad_request",
    }
}

#[derive(Debug)]
enum Kind {
    /// Not signed in: to the sign-in page, then back to `next`.
    SignIn { next: String, htmx: bool },
    Page {
        status: StatusCode,
        described: Described,
    },
}

/// An error a page handler answers with; rendered as an HTML page in the viewer's language.
#[derive(Debug)]
pub struct UiError {
    t: Tr,
    kind: Kind,
}

impl UiError {
    pub fn sign_in(t: Tr, next: &str, htmx: bool) -> UiError {
        UiError {
            t,
            kind: Kind::SignIn {
                next: next.to_owned(),
                htmx,
            },
        }
    }

    pub fn message(t: Tr, status: StatusCode, key: &str) -> UiError {
        UiError {
            t,
            kind: Kind::Page {
                status,
                described: Described {
                    message: t.t(key).into_owned(),
                    next_step: None,
                },
            },
        }
    }

    pub fn forbidden(t: Tr, key: &str) -> UiError {
        UiError::message(t, StatusCode::FORBIDDEN, key)
    }

    pub fn not_found(t: Tr) -> UiError {
        UiError::message(t, StatusCode::NOT_FOUND, "error.not_found")
    }

    pub fn problem(t: Tr, problem: &Problem) -> UiError {
        UiError {
            t,
            kind: Kind::Page {
                status: problem.status(),
                described: describe_problem(t, problem),
            },
        }
    }

    pub fn store(t: Tr, error: StoreError) -> UiError {
        UiError::problem(t, &Problem::from(error))
    }

    /// A page that failed to render: the cause goes to the log.
    pub fn render(t: Tr, error: &askama::Error) -> UiError {
        tracing::error!(error = %error, "a page failed to render");
        UiError::message(t, StatusCode::INTERNAL_SERVER_ERROR, "error.internal")
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    t: Tr,
    title: Cow<'static, str>,
    described: &'a Described,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self.kind {
            Kind::SignIn { next, htmx } => {
                let location = format!(
                    "/signin?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if htmx {
                    // htmx would swap a redirect's target into the page; it follows this instead.
                    let mut response = StatusCode::NO_CONTENT.into_response();
                    if let Ok(value) = HeaderValue::from_str(&location) {
                        response.headers_mut().insert("hx-redirect", value);
                    }
                    response
                } else {
                    Redirect::to(&location).into_response()
                }
            }
            Kind::Page { status, described } => {
                let title = match status {
                    StatusCode::FORBIDDEN => self.t.t("error.title_forbidden"),
                    StatusCode::NOT_FOUND => self.t.t("error.title_not_found"),
                    _ => self.t.t("error.title"),
                };
                let page = ErrorPage {
                    t: self.t,
                    title,
                    described: &described,
                };
                let body = page.render().unwrap_or_else(|e| {
                    tracing::error!(error = %e, "the error page failed to render");
                    described.message.clone()
                });
                (status, Html(body)).into_response()
            }
        }
    }
}

/// `?`-friendly conversion of the API's and the store's errors into error pages.
pub trait OrPage<T> {
    fn or_page(self, t: Tr) -> Result<T, UiError>;
}

impl<T> OrPage<T> for Result<T, Problem> {
    fn or_page(self, t: Tr) -> Result<T, UiError> {
        self.map_err(|p| UiError::problem(t, &p))
    }
}

impl<T> OrPage<T> for Result<T, StoreError> {
    fn or_page(self, t: Tr) -> Result<T, UiError> {
        self.map_err(|e| UiError::store(t, e))
    }
}

impl<T> OrPage<T> for Result<T, askama::Error> {
    fn or_page(self, t: Tr) -> Result<T, UiError> {
        self.map_err(|e| UiError::render(t, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::Lang;

    #[test]
    fn the_four_crm_errors_come_with_their_next_step_in_the_page_language() {
        for lang in Lang::ALL {
            let t = Tr::new(lang);
            for (english, key, next) in KNOWN {
                let d = describe_crm_message(t, english, Some("from the API"));
                assert_eq!(d.message, t.t(key));
                match next {
                    Some(next) => assert_eq!(d.next_step.as_deref(), Some(&*t.t(next))),
                    None => assert_eq!(d.next_step.as_deref(), Some("from the API")),
                }
            }
        }
        let other = describe_crm_message(Tr::new(Lang::Fr), "Something else.", None);
        assert_eq!(other.message, "Something else.");
    }
}
