//! Tenants (a customer organisation and its contract), the users who sign in, their roles, and the
//! licence seats reps hold, with each seat's CRM sync choice.

use crate::ids::{SeatId, TenantId, UserId};

/// A customer organisation. Everything else in the workspace belongs to exactly one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub contract: Contract,
}

/// What the customer bought: how many seats can be held at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contract {
    pub seat_count: u32,
}

impl Contract {
    /// Seats still free given how many are held; never negative even if a contract was lowered
    /// below the seats already held.
    pub fn seats_left(&self, held: usize) -> usize {
        usize::try_from(self.seat_count)
            .unwrap_or(usize::MAX)
            .saturating_sub(held)
    }
}

/// Someone who signs in. An admin may also hold a seat: the two roles are independent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub display_name: String,
    pub email: Option<String>,
    pub admin: bool,
    /// The seat this user holds, if any; holding one is what makes a user a seat holder.
    pub seat: Option<SeatId>,
    /// The UI language the user chose (a BCP 47 primary tag such as `fr`), which follows them to
    /// every browser; `None` lets each browser's own language decide.
    pub language: Option<String>,
}

/// The roles a user has. Both may be true at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    pub admin: bool,
    pub seat_holder: bool,
}

impl User {
    pub fn roles(&self) -> Roles {
        Roles {
            admin: self.admin,
            seat_holder: self.seat.is_some(),
        }
    }
}

/// A licence seat. The email is the seat holder's; it is what maps the seat to a CRM user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seat {
    pub id: SeatId,
    pub tenant: TenantId,
    pub holder: UserId,
    pub email: Option<String>,
    pub crm_sync: SeatCrmSync,
}

/// The per-seat answer in Seat Management. The seed guides let the admin change sync for an
/// individual even after answering "Auto sync all seat holders" with Yes, so a seat can also be
/// disabled explicitly; `FollowTenant` is what a seat has until the admin touches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeatCrmSync {
    #[default]
    FollowTenant,
    Enabled,
    Disabled,
}

impl SeatCrmSync {
    /// Whether CRM sync is on for this seat, given the tenant's "Auto sync all seat holders" answer.
    pub fn is_on(self, auto_sync_all_seats: bool) -> bool {
        match self {
            SeatCrmSync::FollowTenant => auto_sync_all_seats,
            SeatCrmSync::Enabled => true,
            SeatCrmSync::Disabled => false,
        }
    }
}

/// Emails compare trimmed and case-insensitively (Dataverse stores them as typed; Entra ID treats
/// them case-insensitively). An empty address is no address.
pub fn normalize_email(email: &str) -> Option<String> {
    let trimmed = email.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_sync_follows_tenant_unless_overridden() {
        let cases = [
            (SeatCrmSync::FollowTenant, true, true),
            (SeatCrmSync::FollowTenant, false, false),
            (SeatCrmSync::Enabled, false, true),
            (SeatCrmSync::Enabled, true, true),
            (SeatCrmSync::Disabled, true, false),
            (SeatCrmSync::Disabled, false, false),
        ];
        for (seat, auto, expected) in cases {
            assert_eq!(seat.is_on(auto), expected, "{seat:?} with auto={auto}");
        }
    }

    #[test]
    fn seats_left_never_goes_negative() {
        let contract = Contract { seat_count: 3 };
        assert_eq!(contract.seats_left(0), 3);
        assert_eq!(contract.seats_left(2), 1);
        assert_eq!(contract.seats_left(3), 0);
        assert_eq!(contract.seats_left(5), 0);
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let cases = [
            ("  Ana@Example.COM ", Some("ana@example.com")),
            ("bob@example.com", Some("bob@example.com")),
            ("ÉLODIE@exemple.fr", Some("élodie@exemple.fr")),
            ("   ", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_email(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn an_admin_can_also_hold_a_seat() {
        let user = User {
            id: UserId::new_random(),
            tenant: TenantId::new_random(),
            display_name: "Ana".into(),
            email: None,
            admin: true,
            seat: Some(SeatId::new_random()),
            language: None,
        };
        assert_eq!(
            user.roles(),
            Roles {
                admin: true,
                seat_holder: true
            }
        );
        let rep = User {
            admin: false,
            seat: None,
            ..user
        };
        assert_eq!(
            rep.roles(),
            Roles {
                admin: false,
                seat_holder: false
            }
        );
    }
}
