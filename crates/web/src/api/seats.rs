//! Admin, seats: Seat Management (per-seat CRM sync and the In CRM badge with the reason when it
//! is missing), the org's CRM users, and assigning seats to them in bulk within the contract.

use axum::Json;
use axum::extract::State;
use domain::crm::CrmUser;
use domain::ids::{CrmUserId, SeatId};
use domain::seat_assignment::{SeatSkip, assign_seats_from_crm, assignable_crm_users};
use domain::seat_mapping::{CrmUsersByEmail, InCrm, NotInCrm, NotMatched, in_crm};
use domain::tenant::{SeatCrmSync, normalize_email};
use serde::{Deserialize, Serialize};
use store::tenants::{NewUser, SeatInfo};
use store::{StoreError, TenantStore};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::AdminUser;
use crate::json::{StrictJson, StrictPath, StrictQuery};
use crate::page::{Page, PageQuery};
use crate::problem::Problem;
use crate::state::AppState;
use crate::sync::SyncError;

/// The admin's CRM sync choice for one seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrmSyncChoice {
    /// As the tenant's "Auto sync all seat holders with CRM?" answer says.
    FollowTenant,
    Enabled,
    Disabled,
}

impl From<SeatCrmSync> for CrmSyncChoice {
    fn from(sync: SeatCrmSync) -> Self {
        match sync {
            SeatCrmSync::FollowTenant => CrmSyncChoice::FollowTenant,
            SeatCrmSync::Enabled => CrmSyncChoice::Enabled,
            SeatCrmSync::Disabled => CrmSyncChoice::Disabled,
        }
    }
}

impl From<CrmSyncChoice> for SeatCrmSync {
    fn from(choice: CrmSyncChoice) -> Self {
        match choice {
            CrmSyncChoice::FollowTenant => SeatCrmSync::FollowTenant,
            CrmSyncChoice::Enabled => SeatCrmSync::Enabled,
            CrmSyncChoice::Disabled => SeatCrmSync::Disabled,
        }
    }
}

/// Why something did not happen, with a stable code and a sentence for the admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reason {
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct SeatHolderView {
    pub user_id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CrmUserView {
    pub id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SeatView {
    pub id: Uuid,
    pub holder: SeatHolderView,
    pub crm_sync: CrmSyncChoice,
    /// Whether CRM sync is on for this seat: its own choice, or the auto-sync answer.
    pub crm_sync_enabled: bool,
    /// The In CRM badge: sync on and the seat matched to a CRM user by email.
    pub in_crm: bool,
    pub crm_user: Option<CrmUserView>,
    /// Why there is no In CRM badge.
    pub not_in_crm: Option<Reason>,
}

/// What the seat list needs to know about the CRM side.
struct CrmContext {
    auto_sync_all_seats: bool,
    /// The org's users from the mirror; `None` when no CRM is connected.
    users: Option<Vec<CrmUser>>,
}

async fn crm_context(tenant: &mut TenantStore) -> Result<CrmContext, StoreError> {
    let auto_sync_all_seats = tenant
        .crm_settings()
        .await?
        .is_some_and(|s| s.auto_sync_all_seats);
    let users = match tenant.live_connection().await? {
        Some(live) => Some(tenant.crm_rows::<CrmUser>(live.connection.id).await?),
        None => None,
    };
    Ok(CrmContext {
        auto_sync_all_seats,
        users,
    })
}

fn not_matched_reason(reason: &NotMatched) -> Reason {
    let code = match reason {
        NotMatched::SeatHasNoEmail => "seat_has_no_email",
        NotMatched::NoCrmUserWithEmail => "no_crm_user_with_email",
        NotMatched::CrmUserDisabled => "crm_user_disabled",
        NotMatched::SeveralCrmUsersShareEmail(_) => "several_crm_users_share_email",
    };
    Reason {
        code,
        message: reason.to_string(),
    }
}

fn seat_view(info: &SeatInfo, crm: &CrmContext, index: Option<&CrmUsersByEmail<'_>>) -> SeatView {
    let sync_on = info.seat.crm_sync.is_on(crm.auto_sync_all_seats);
    let (crm_user, not_in_crm) = match index {
        Some(index) => match in_crm(&info.seat, crm.auto_sync_all_seats, index) {
            InCrm::Yes(user) => (Some(user), None),
            InCrm::No(NotInCrm::SyncOff) => (
                None,
                Some(Reason {
                    code: "sync_off",
                    message: NotInCrm::SyncOff.to_string(),
                }),
            ),
            InCrm::No(NotInCrm::NotMatched(reason)) => (None, Some(not_matched_reason(&reason))),
        },
        None if !sync_on => (
            None,
            Some(Reason {
                code: "sync_off",
                message: NotInCrm::SyncOff.to_string(),
            }),
        ),
        None => (
            None,
            Some(Reason {
                code: "not_connected",
                message: SyncError::NotConnected.to_string(),
            }),
        ),
    };
    let crm_user = crm_user.and_then(|id| {
        crm.users
            .iter()
            .flatten()
            .find(|u| u.id == id)
            .map(|u| CrmUserView {
                id: u.id.0,
                full_name: u.full_name.clone(),
                email: u.email.clone(),
            })
    });
    SeatView {
        id: info.seat.id.as_uuid(),
        holder: SeatHolderView {
            user_id: info.seat.holder.as_uuid(),
            display_name: info.holder_name.clone(),
            email: info.seat.email.clone(),
        },
        crm_sync: info.seat.crm_sync.into(),
        crm_sync_enabled: sync_on,
        in_crm: crm_user.is_some(),
        crm_user,
        not_in_crm,
    }
}

/// Seat Management: every seat with its CRM sync choice and In CRM badge.
#[utoipa::path(get, path = "/api/v1/admin/seats", tag = "admin: seats",
    params(PageQuery),
    responses((status = 200, description = "The seats, by holder name", body = Page<SeatView>)))]
pub(crate) async fn list_seats(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictQuery(page): StrictQuery<PageQuery>,
) -> Result<Json<Page<SeatView>>, Problem> {
    let mut tenant = admin.0.tenant(&state);
    let seats = tenant.seats().await?;
    let crm = crm_context(&mut tenant).await?;
    let index = crm.users.as_deref().map(CrmUsersByEmail::new);
    let views = seats
        .iter()
        .map(|s| seat_view(s, &crm, index.as_ref()))
        .collect();
    Ok(Json(page.slice(views)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatPatch {
    /// "Enable CRM Sync" / "Disable CRM Sync" for this seat, or back to the auto-sync answer.
    pub crm_sync: CrmSyncChoice,
}

/// Turns CRM sync on or off for one seat.
#[utoipa::path(patch, path = "/api/v1/admin/seats/{id}", tag = "admin: seats",
    params(("id" = Uuid, Path, description = "The seat's id")),
    request_body = SeatPatch,
    responses((status = 200, description = "The seat as it is now", body = SeatView)))]
pub(crate) async fn update_seat(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictPath(id): StrictPath<Uuid>,
    StrictJson(patch): StrictJson<SeatPatch>,
) -> Result<Json<SeatView>, Problem> {
    let mut tenant = admin.0.tenant(&state);
    let seat = SeatId(id);
    tenant
        .set_seat_crm_sync(seat, patch.crm_sync.into())
        .await?;
    let info = tenant
        .seat(seat)
        .await?
        .ok_or_else(|| Problem::not_found("seat"))?;
    let crm = crm_context(&mut tenant).await?;
    let index = crm.users.as_deref().map(CrmUsersByEmail::new);
    Ok(Json(seat_view(&info, &crm, index.as_ref())))
}

#[derive(Serialize, ToSchema)]
pub struct CrmUserEntry {
    pub id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
    pub disabled: bool,
    /// An application user is not a person and cannot hold a seat.
    pub application_user: bool,
    /// The seat held by the workspace user with this email, if any.
    pub seat_id: Option<Uuid>,
    /// Offered by "Assign seats from CRM": an active person with an email and no seat yet.
    pub assignable: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CrmUsersQuery {
    /// Only the users "Assign seats from CRM" offers (`true`) or only the others (`false`).
    pub assignable: Option<bool>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The org's CRM users as last read, with who holds a seat already.
#[utoipa::path(get, path = "/api/v1/admin/crm/users", tag = "admin: seats",
    params(CrmUsersQuery),
    responses((status = 200, description = "The CRM users, by name", body = Page<CrmUserEntry>)))]
pub(crate) async fn crm_users(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<CrmUsersQuery>,
) -> Result<Json<Page<CrmUserEntry>>, Problem> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    page.limit()?;
    let mut tenant = admin.0.tenant(&state);
    let live = tenant
        .live_connection()
        .await?
        .ok_or(SyncError::NotConnected)?;
    let mut users = tenant.crm_rows::<CrmUser>(live.connection.id).await?;
    users.sort_by(|a, b| a.full_name.cmp(&b.full_name).then(a.id.cmp(&b.id)));
    let seats = tenant.seats().await?;
    let domain_seats: Vec<_> = seats.iter().map(|s| s.seat.clone()).collect();
    let assignable: Vec<CrmUserId> = assignable_crm_users(&users, &domain_seats)
        .into_iter()
        .map(|u| u.id)
        .collect();
    let entries = users
        .into_iter()
        .map(|u| {
            let email = u.email.as_deref().and_then(normalize_email);
            let seat_id = email.and_then(|email| {
                seats
                    .iter()
                    .find(|s| {
                        s.seat.email.as_deref().and_then(normalize_email) == Some(email.clone())
                    })
                    .map(|s| s.seat.id.as_uuid())
            });
            CrmUserEntry {
                id: u.id.0,
                assignable: assignable.contains(&u.id),
                full_name: u.full_name,
                email: u.email,
                disabled: u.disabled,
                application_user: u.application_user,
                seat_id,
            }
        })
        .filter(|e| query.assignable.is_none_or(|wanted| e.assignable == wanted))
        .collect();
    Ok(Json(page.slice(entries)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignFromCrm {
    /// The CRM users to give seats to, in the order seats are handed out.
    pub crm_user_ids: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct AssignedSeat {
    pub crm_user_id: Uuid,
    pub seat_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SkippedCrmUser {
    pub crm_user_id: Uuid,
    pub reason: Reason,
}

#[derive(Serialize, ToSchema)]
pub struct AssignReport {
    pub assigned: Vec<AssignedSeat>,
    /// Every selected user who did not get a seat, with why.
    pub skipped: Vec<SkippedCrmUser>,
}

fn skip_reason(skip: &SeatSkip) -> Reason {
    let code = match skip {
        SeatSkip::NoSeatsLeft => "no_seats_left",
        SeatSkip::AlreadyASeat => "already_a_seat",
        SeatSkip::DisabledUser => "disabled_user",
        SeatSkip::NotAPerson => "not_a_person",
        SeatSkip::NoEmail => "no_email",
        SeatSkip::UnknownUser => "unknown_user",
        SeatSkip::SelectedTwice => "selected_twice",
    };
    Reason {
        code,
        message: skip.to_string(),
    }
}

/// The most CRM users one request may select.
const MAX_SELECTED: usize = 10_000;

/// "Assign seats from CRM": gives the selected CRM users seats (creating their workspace users,
/// who sign in once a password is set) until the contract's seats run out.
#[utoipa::path(post, path = "/api/v1/admin/seats/assign-from-crm", tag = "admin: seats",
    request_body = AssignFromCrm,
    responses((status = 200, description = "Who got a seat and who did not, with why", body = AssignReport)))]
pub(crate) async fn assign_from_crm(
    admin: AdminUser,
    State(state): State<AppState>,
    StrictJson(request): StrictJson<AssignFromCrm>,
) -> Result<Json<AssignReport>, Problem> {
    if request.crm_user_ids.len() > MAX_SELECTED {
        return Err(
            Problem::new(crate::problem::ProblemCode::ValidationFailed).field(
                "crm_user_ids",
                format!("select at most {MAX_SELECTED} users at a time"),
            ),
        );
    }
    let mut tenant = admin.0.tenant(&state);
    let live = tenant
        .live_connection()
        .await?
        .ok_or(SyncError::NotConnected)?;
    let users = tenant.crm_rows::<CrmUser>(live.connection.id).await?;
    let contract = tenant.tenant_info().await?.contract;
    let seats: Vec<_> = tenant.seats().await?.into_iter().map(|s| s.seat).collect();
    let selected: Vec<CrmUserId> = request
        .crm_user_ids
        .iter()
        .copied()
        .map(CrmUserId)
        .collect();
    let plan = assign_seats_from_crm(contract, &seats, &users, &selected);
    let mut report = AssignReport {
        assigned: Vec::new(),
        skipped: plan
            .skipped
            .iter()
            .map(|(id, skip)| SkippedCrmUser {
                crm_user_id: id.0,
                reason: skip_reason(skip),
            })
            .collect(),
    };
    // Each seat on its own: the store checks the contract under a lock for every one, so a
    // concurrent assignment can only make a later one come back as "no seats left".
    for to_assign in plan.assigned {
        let user = match tenant.user_by_email(&to_assign.email).await? {
            Some(user) => Ok(user),
            None => {
                tenant
                    .create_user(NewUser {
                        email: to_assign.email.clone(),
                        display_name: to_assign.full_name.clone(),
                        admin: false,
                        password: None,
                    })
                    .await
            }
        };
        let seat = match user {
            Ok(user) => tenant.assign_seat(user.id).await.map(|seat| (user, seat)),
            Err(e) => Err(e),
        };
        match seat {
            Ok((user, seat)) => report.assigned.push(AssignedSeat {
                crm_user_id: to_assign.crm_user.0,
                seat_id: seat.seat.id.as_uuid(),
                user_id: user.id.as_uuid(),
                email: to_assign.email,
                full_name: to_assign.full_name,
            }),
            Err(StoreError::NoSeatLeft { .. }) => report.skipped.push(SkippedCrmUser {
                crm_user_id: to_assign.crm_user.0,
                reason: skip_reason(&SeatSkip::NoSeatsLeft),
            }),
            Err(StoreError::Conflict(_)) => report.skipped.push(SkippedCrmUser {
                crm_user_id: to_assign.crm_user.0,
                reason: Reason {
                    code: "email_in_use",
                    message:
                        "This email address belongs to a user who cannot be given a seat here."
                            .to_owned(),
                },
            }),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(report))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_seats))
        .routes(routes!(update_seat))
        .routes(routes!(crm_users))
        .routes(routes!(assign_from_crm))
}
