//! The server-rendered web UI: askama pages with htmx where it helps, in six languages. Every page
//! does what the REST API does by calling the same handler code with the same checks, then renders
//! the answer; forms post back with the session's CSRF token.

pub mod assets;
pub mod charts;
pub mod crm;
pub mod crm_records;
pub mod dashboard;
pub mod error;
pub mod i18n;
pub mod person;
pub mod rep;
pub mod seats;
pub mod session;
pub mod signin;
pub mod unassigned;

use std::borrow::Cow;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::ui::i18n::{Lang, Tr};
use crate::ui::session::Viewer;

/// The UI's routes, to merge into the app beside the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::home))
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/language", post(signin::language))
        .route("/static/{file}", get(assets::serve))
        .route("/admin/crm", get(crm::page))
        .route("/admin/crm/status", get(crm::status_fragment))
        .route("/admin/crm/preview", get(crm::preview))
        .route("/admin/crm/connect", post(crm::connect))
        .route("/admin/crm/connect/callback", get(crm::connect_callback))
        .route("/admin/crm/sync", post(crm::sync_now))
        .route("/admin/crm/settings", post(crm::save_settings))
        .route("/admin/crm/app/install", post(crm::install_app))
        .route("/admin/crm/disconnect", post(crm::disconnect))
        .route("/admin/seats", get(seats::page))
        .route("/admin/seats/{id}/crm-sync", post(seats::set_crm_sync))
        .route(
            "/admin/seats/assign",
            get(seats::assign).post(seats::assign_selected),
        )
        .route("/leads", get(rep::leads))
        .route("/accounts", get(rep::accounts))
        .route("/people", get(rep::people))
        .route("/people/{id}", get(person::page))
        .route("/people/{id}/save", post(person::save))
        .route("/people/{id}/unsave", post(person::unsave))
        .route("/people/{id}/notes", post(person::add_note))
        .route("/people/{id}/messages", post(person::add_message))
        .route("/people/{id}/match", post(person::pin_match))
        .route("/people/{id}/match/reject", post(person::reject_match))
        .route("/activities/{id}/copy", post(person::set_copy))
        .route("/activities/{id}/resolve", post(unassigned::resolve))
        .route("/unassigned", get(unassigned::page))
        .route("/admin/sync", get(dashboard::page))
        .route("/admin/sync/jobs/{id}/requeue", post(dashboard::requeue))
        .route("/admin/sync/activities/{id}", get(dashboard::timeline))
}

/// What every page has around its content: who is signed in, the navigation, the language
/// switcher, the form token and a notice from the action before.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub csrf: String,
    /// The page's own path and query, for the language switcher to come back to.
    pub here: String,
    pub user_name: Option<String>,
    pub admin: bool,
    pub rep: bool,
    /// The navigation entry to mark as the current page.
    pub active: &'static str,
    pub notice: Option<Cow<'static, str>>,
}

impl Chrome {
    pub fn of(viewer: &Viewer, active: &'static str) -> Chrome {
        Chrome {
            csrf: viewer.csrf.clone(),
            here: viewer.here.clone(),
            user_name: Some(viewer.caller.user.display_name.clone()),
            admin: viewer.caller.user.admin,
            rep: viewer.caller.user.seat.is_some(),
            active,
            notice: None,
        }
    }

    pub fn anonymous(csrf: String, here: String) -> Chrome {
        Chrome {
            csrf,
            here,
            user_name: None,
            admin: false,
            rep: false,
            active: "",
            notice: None,
        }
    }

    /// Shows the notice named in a redirect's `?notice=` (only known ones: the URL cannot put
    /// arbitrary text on the page).
    pub fn notice(mut self, t: Tr, word: Option<&str>) -> Chrome {
        self.notice = word
            .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(|w| format!("notice.{w}"))
            .filter(|key| i18n::has(key))
            .map(|key| t.t(&key));
        self
    }

    pub fn langs(&self) -> [Lang; 6] {
        Lang::ALL
    }
}

/// Where to go after an action, with the notice to show there.
pub fn with_notice(path: &str, notice: &str) -> String {
    let joiner = if path.contains('?') { '&' } else { '?' };
    format!("{path}{joiner}notice={notice}")
}
