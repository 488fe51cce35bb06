//! "Assign seats from CRM": which of the selected CRM users get a seat within the contract's seat
//! count, and why each of the others did not.

use std::collections::{BTreeMap, BTreeSet};

use crate::crm::CrmUser;
use crate::ids::CrmUserId;
use crate::tenant::{Contract, Seat, normalize_email};

/// A seat to create (with its holder, invited by email).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatToAssign {
    pub crm_user: CrmUserId,
    pub full_name: String,
    /// Normalized, so the new seat maps back to this CRM user.
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeatSkip {
    #[error("No seats left on the contract.")]
    NoSeatsLeft,
    #[error("Already holds a seat.")]
    AlreadyASeat,
    #[error("This CRM user is disabled.")]
    DisabledUser,
    #[error("This CRM user is an application user, not a person.")]
    NotAPerson,
    #[error("This CRM user has no email address.")]
    NoEmail,
    #[error("This CRM user is not in the list read from the CRM.")]
    UnknownUser,
    #[error("Selected more than once.")]
    SelectedTwice,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeatAssignment {
    pub assigned: Vec<SeatToAssign>,
    pub skipped: Vec<(CrmUserId, SeatSkip)>,
}

/// The CRM users the picker offers: active people with an email who hold no seat yet.
pub fn assignable_crm_users<'a>(users: &'a [CrmUser], seats: &[Seat]) -> Vec<&'a CrmUser> {
    let held = held_emails(seats);
    users
        .iter()
        .filter(|u| !u.disabled && !u.application_user)
        .filter(|u| {
            u.email
                .as_deref()
                .and_then(normalize_email)
                .is_some_and(|email| !held.contains(&email))
        })
        .collect()
}

fn held_emails(seats: &[Seat]) -> BTreeSet<String> {
    seats
        .iter()
        .filter_map(|s| s.email.as_deref().and_then(normalize_email))
        .collect()
}

/// Assigns in the order selected until the seats run out. A user who could never get a seat is
/// reported with that reason even when seats have run out, so the admin fixes the right thing.
pub fn assign_seats_from_crm(
    contract: Contract,
    seats: &[Seat],
    users: &[CrmUser],
    selected: &[CrmUserId],
) -> SeatAssignment {
    let by_id: BTreeMap<CrmUserId, &CrmUser> = users.iter().map(|u| (u.id, u)).collect();
    let mut held = held_emails(seats);
    let mut left = contract.seats_left(seats.len());
    let mut seen = BTreeSet::new();
    let mut result = SeatAssignment::default();
    for id in selected {
        let skip = |result: &mut SeatAssignment, reason| result.skipped.push((*id, reason));
        if !seen.insert(*id) {
            skip(&mut result, SeatSkip::SelectedTwice);
            continue;
        }
        let Some(user) = by_id.get(id) else {
            skip(&mut result, SeatSkip::UnknownUser);
            continue;
        };
        if user.application_user {
            skip(&mut result, SeatSkip::NotAPerson);
            continue;
        }
        if user.disabled {
            skip(&mut result, SeatSkip::DisabledUser);
            continue;
        }
        let Some(email) = user.email.as_deref().and_then(normalize_email) else {
            skip(&mut result, SeatSkip::NoEmail);
            continue;
        };
        if held.contains(&email) {
            skip(&mut result, SeatSkip::AlreadyASeat);
            continue;
        }
        if left == 0 {
            skip(&mut result, SeatSkip::NoSeatsLeft);
            continue;
        }
        left -= 1;
        held.insert(email.clone());
        result.assigned.push(SeatToAssign {
            crm_user: user.id,
            full_name: user.full_name.clone(),
            email,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SeatId, TenantId, UserId};
    use crate::tenant::SeatCrmSync;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn id(n: u128) -> CrmUserId {
        CrmUserId(Uuid::from_u128(n))
    }

    fn user(n: u128, email: Option<&str>, disabled: bool, application_user: bool) -> CrmUser {
        CrmUser {
            id: id(n),
            full_name: format!("User {n}"),
            email: email.map(str::to_owned),
            disabled,
            application_user,
        }
    }

    fn seat(email: &str) -> Seat {
        Seat {
            id: SeatId::new_random(),
            tenant: TenantId(Uuid::nil()),
            holder: UserId::new_random(),
            email: Some(email.to_owned()),
            crm_sync: SeatCrmSync::FollowTenant,
        }
    }

    fn org() -> Vec<CrmUser> {
        vec![
            user(1, Some("ana@contoso.com"), false, false),
            user(2, Some("Bob@Contoso.com "), false, false),
            user(3, Some("carla@contoso.com"), true, false),
            user(4, None, false, false),
            user(5, Some("svc@contoso.com"), false, true),
            user(6, Some("dan@contoso.com"), false, false),
            user(7, Some("erin@contoso.com"), false, false),
            user(8, Some("ANA@contoso.com"), false, false),
        ]
    }

    #[test]
    fn bulk_assignment_reports_every_selected_user() {
        let seats = vec![seat("bob@contoso.com")];
        let contract = Contract { seat_count: 3 };
        let selected = [1, 2, 3, 4, 5, 99, 1, 8, 6, 7].map(id);
        let result = assign_seats_from_crm(contract, &seats, &org(), &selected);
        let assigned: Vec<_> = result
            .assigned
            .iter()
            .map(|s| (s.crm_user, s.email.as_str()))
            .collect();
        assert_eq!(
            assigned,
            vec![(id(1), "ana@contoso.com"), (id(6), "dan@contoso.com")]
        );
        assert_eq!(
            result.skipped,
            vec![
                (id(2), SeatSkip::AlreadyASeat),
                (id(3), SeatSkip::DisabledUser),
                (id(4), SeatSkip::NoEmail),
                (id(5), SeatSkip::NotAPerson),
                (id(99), SeatSkip::UnknownUser),
                (id(1), SeatSkip::SelectedTwice),
                // Same email as user 1, who just got a seat.
                (id(8), SeatSkip::AlreadyASeat),
                (id(7), SeatSkip::NoSeatsLeft),
            ]
        );
    }

    #[test]
    fn a_full_contract_assigns_nothing() {
        let seats = vec![seat("x@contoso.com"), seat("y@contoso.com")];
        let result = assign_seats_from_crm(Contract { seat_count: 2 }, &seats, &org(), &[id(1)]);
        assert!(result.assigned.is_empty());
        assert_eq!(result.skipped, vec![(id(1), SeatSkip::NoSeatsLeft)]);
    }

    #[test]
    fn the_picker_lists_active_people_without_a_seat() {
        let users = org();
        let listed: Vec<_> = assignable_crm_users(&users, &[seat(" bob@CONTOSO.com")])
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(listed, vec![id(1), id(6), id(7), id(8)]);
    }

    proptest! {
        #[test]
        fn never_more_than_the_contract_and_every_selection_answered(
            seat_count in 0u32..6,
            held in 0usize..5,
            selected in proptest::collection::vec(0u128..10, 0..15),
        ) {
            let seats: Vec<_> = (0..held).map(|n| seat(&format!("held{n}@contoso.com"))).collect();
            let selected: Vec<_> = selected.into_iter().map(id).collect();
            let result = assign_seats_from_crm(Contract { seat_count }, &seats, &org(), &selected);
            let left = Contract { seat_count }.seats_left(held);
            prop_assert!(result.assigned.len() <= left);
            prop_assert_eq!(result.assigned.len() + result.skipped.len(), selected.len());
            let emails: BTreeSet<_> = result.assigned.iter().map(|s| s.email.clone()).collect();
            prop_assert_eq!(emails.len(), result.assigned.len());
        }
    }
}
