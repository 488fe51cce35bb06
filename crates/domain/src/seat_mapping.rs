//! Which CRM user each seat is (same email, trimmed and case-insensitive), why a seat has none,
//! and the "In CRM" badge: sync on for the seat and a CRM user found.

use std::collections::{BTreeMap, BTreeSet};

use crate::crm::CrmUser;
use crate::ids::{CrmUserId, SeatId};
use crate::tenant::{Seat, normalize_email};

/// Why a seat has no CRM user; shown next to the seat in Seat Management.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotMatched {
    #[error("This seat holder has no email address to look up in the CRM.")]
    SeatHasNoEmail,
    #[error("No CRM user has this email address.")]
    NoCrmUserWithEmail,
    #[error("The CRM user with this email address is disabled.")]
    CrmUserDisabled,
    #[error("Several active CRM users share this email address.")]
    SeveralCrmUsersShareEmail(Vec<CrmUserId>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatMapping {
    Matched(CrmUserId),
    NotMatched(NotMatched),
}

/// The org's users, indexed by normalized `internalemailaddress`. Application users are not people
/// and are left out.
#[derive(Clone, Debug, Default)]
pub struct CrmUsersByEmail<'a> {
    by_email: BTreeMap<String, Vec<&'a CrmUser>>,
}

impl<'a> CrmUsersByEmail<'a> {
    pub fn new(users: &'a [CrmUser]) -> Self {
        let mut by_email: BTreeMap<String, Vec<&'a CrmUser>> = BTreeMap::new();
        for user in users.iter().filter(|u| !u.application_user) {
            if let Some(email) = user.email.as_deref().and_then(normalize_email) {
                by_email.entry(email).or_default().push(user);
            }
        }
        CrmUsersByEmail { by_email }
    }

    /// A disabled user next to exactly one active user with the same email is a re-created account,
    /// a common sight in real orgs, so the active one wins; several active ones cannot be told apart.
    pub fn map(&self, seat_email: Option<&str>) -> SeatMapping {
        let Some(email) = seat_email.and_then(normalize_email) else {
            return SeatMapping::NotMatched(NotMatched::SeatHasNoEmail);
        };
        let Some(candidates) = self.by_email.get(&email) else {
            return SeatMapping::NotMatched(NotMatched::NoCrmUserWithEmail);
        };
        let active: BTreeSet<CrmUserId> = candidates
            .iter()
            .filter(|u| !u.disabled)
            .map(|u| u.id)
            .collect();
        let mut active = active.into_iter();
        match (active.next(), active.next()) {
            (None, _) => SeatMapping::NotMatched(NotMatched::CrmUserDisabled),
            (Some(only), None) => SeatMapping::Matched(only),
            (Some(first), Some(second)) => {
                let all = [first, second].into_iter().chain(active).collect();
                SeatMapping::NotMatched(NotMatched::SeveralCrmUsersShareEmail(all))
            }
        }
    }
}

/// Why a seat shows no "In CRM" badge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotInCrm {
    #[error("CRM sync is disabled for this seat.")]
    SyncOff,
    #[error(transparent)]
    NotMatched(NotMatched),
}

/// The "In CRM" badge of a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InCrm {
    Yes(CrmUserId),
    No(NotInCrm),
}

impl InCrm {
    pub fn crm_user(&self) -> Option<CrmUserId> {
        match self {
            InCrm::Yes(user) => Some(*user),
            InCrm::No(_) => None,
        }
    }
}

/// The badge: sync effectively on for the seat (auto sync all, or enabled for the seat) AND a CRM
/// user found. A seat with sync off reports that first: it is the admin's lever.
pub fn in_crm(seat: &Seat, auto_sync_all_seats: bool, users: &CrmUsersByEmail<'_>) -> InCrm {
    if !seat.crm_sync.is_on(auto_sync_all_seats) {
        return InCrm::No(NotInCrm::SyncOff);
    }
    match users.map(seat.email.as_deref()) {
        SeatMapping::Matched(user) => InCrm::Yes(user),
        SeatMapping::NotMatched(reason) => InCrm::No(NotInCrm::NotMatched(reason)),
    }
}

/// The seats that carry the badge, both ways. Two seats can share one CRM user (one person holding
/// two seats by mistake); both then get that user's opportunities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncedSeats {
    by_seat: BTreeMap<SeatId, CrmUserId>,
    by_crm_user: BTreeMap<CrmUserId, BTreeSet<SeatId>>,
}

impl SyncedSeats {
    pub fn new(seats: &[Seat], auto_sync_all_seats: bool, users: &[CrmUser]) -> Self {
        let index = CrmUsersByEmail::new(users);
        let mut synced = SyncedSeats::default();
        for seat in seats {
            if let InCrm::Yes(user) = in_crm(seat, auto_sync_all_seats, &index) {
                synced.insert(seat.id, user);
            }
        }
        synced
    }

    /// For callers (and tests) that already know the pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (SeatId, CrmUserId)>) -> Self {
        let mut synced = SyncedSeats::default();
        for (seat, user) in pairs {
            synced.insert(seat, user);
        }
        synced
    }

    fn insert(&mut self, seat: SeatId, user: CrmUserId) {
        if let Some(previous) = self.by_seat.insert(seat, user)
            && let Some(seats) = self.by_crm_user.get_mut(&previous)
        {
            seats.remove(&seat);
            if seats.is_empty() {
                self.by_crm_user.remove(&previous);
            }
        }
        self.by_crm_user.entry(user).or_default().insert(seat);
    }

    pub fn crm_user(&self, seat: SeatId) -> Option<CrmUserId> {
        self.by_seat.get(&seat).copied()
    }

    pub fn seats_of(&self, user: CrmUserId) -> impl Iterator<Item = SeatId> + '_ {
        self.by_crm_user.get(&user).into_iter().flatten().copied()
    }

    /// The CRM users some synced seat is matched to.
    pub fn users(&self) -> impl Iterator<Item = CrmUserId> + '_ {
        self.by_crm_user.keys().copied()
    }

    pub fn seats(&self) -> impl Iterator<Item = SeatId> + '_ {
        self.by_seat.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{TenantId, UserId};
    use crate::tenant::SeatCrmSync;
    use uuid::Uuid;

    fn user(n: u128, email: Option<&str>, disabled: bool) -> CrmUser {
        CrmUser {
            id: CrmUserId(Uuid::from_u128(n)),
            full_name: format!("User {n}"),
            email: email.map(str::to_owned),
            disabled,
            application_user: false,
        }
    }

    fn id(n: u128) -> CrmUserId {
        CrmUserId(Uuid::from_u128(n))
    }

    fn seat(n: u128, email: Option<&str>, crm_sync: SeatCrmSync) -> Seat {
        Seat {
            id: SeatId(Uuid::from_u128(n)),
            tenant: TenantId(Uuid::nil()),
            holder: UserId(Uuid::from_u128(n)),
            email: email.map(str::to_owned),
            crm_sync,
        }
    }

    fn org_users() -> Vec<CrmUser> {
        let mut app = user(9, Some("app@contoso.com"), false);
        app.application_user = true;
        vec![
            user(1, Some("Ana.Silva@Contoso.com"), false),
            user(2, Some("bob@contoso.com"), true),
            user(3, Some("carla@contoso.com"), false),
            user(4, Some(" CARLA@contoso.com "), false),
            user(5, Some("dan@contoso.com"), true),
            user(6, Some("dan@contoso.com"), false),
            user(7, None, false),
            user(8, Some("   "), false),
            app,
        ]
    }

    #[test]
    fn seats_map_to_crm_users_by_email() {
        let users = org_users();
        let index = CrmUsersByEmail::new(&users);
        let cases = [
            (Some("ana.silva@contoso.com"), SeatMapping::Matched(id(1))),
            (
                Some("  ANA.SILVA@CONTOSO.COM\t"),
                SeatMapping::Matched(id(1)),
            ),
            (
                Some("bob@contoso.com"),
                SeatMapping::NotMatched(NotMatched::CrmUserDisabled),
            ),
            (
                Some("carla@contoso.com"),
                SeatMapping::NotMatched(NotMatched::SeveralCrmUsersShareEmail(vec![id(3), id(4)])),
            ),
            (Some("dan@contoso.com"), SeatMapping::Matched(id(6))),
            (
                Some("erin@contoso.com"),
                SeatMapping::NotMatched(NotMatched::NoCrmUserWithEmail),
            ),
            (
                Some("app@contoso.com"),
                SeatMapping::NotMatched(NotMatched::NoCrmUserWithEmail),
            ),
            (
                Some("   "),
                SeatMapping::NotMatched(NotMatched::SeatHasNoEmail),
            ),
            (None, SeatMapping::NotMatched(NotMatched::SeatHasNoEmail)),
        ];
        for (email, expected) in cases {
            assert_eq!(index.map(email), expected, "{email:?}");
        }
    }

    #[test]
    fn badge_needs_sync_on_and_a_match() {
        let users = org_users();
        let index = CrmUsersByEmail::new(&users);
        let ana = Some("ana.silva@contoso.com");
        let cases = [
            (
                seat(1, ana, SeatCrmSync::FollowTenant),
                true,
                InCrm::Yes(id(1)),
            ),
            (
                seat(1, ana, SeatCrmSync::FollowTenant),
                false,
                InCrm::No(NotInCrm::SyncOff),
            ),
            (seat(1, ana, SeatCrmSync::Enabled), false, InCrm::Yes(id(1))),
            (
                seat(1, ana, SeatCrmSync::Disabled),
                true,
                InCrm::No(NotInCrm::SyncOff),
            ),
            (
                seat(1, Some("erin@contoso.com"), SeatCrmSync::Enabled),
                true,
                InCrm::No(NotInCrm::NotMatched(NotMatched::NoCrmUserWithEmail)),
            ),
            (
                seat(1, None, SeatCrmSync::Disabled),
                true,
                InCrm::No(NotInCrm::SyncOff),
            ),
        ];
        for (seat, auto, expected) in cases {
            assert_eq!(
                in_crm(&seat, auto, &index),
                expected,
                "{seat:?} auto={auto}"
            );
        }
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            NotInCrm::NotMatched(NotMatched::CrmUserDisabled).to_string(),
            "The CRM user with this email address is disabled."
        );
    }

    #[test]
    fn synced_seats_index_both_ways() {
        let users = org_users();
        let seats = vec![
            seat(10, Some("ana.silva@contoso.com"), SeatCrmSync::FollowTenant),
            seat(11, Some("ANA.silva@contoso.com"), SeatCrmSync::FollowTenant),
            seat(12, Some("dan@contoso.com"), SeatCrmSync::Disabled),
            seat(13, Some("nobody@contoso.com"), SeatCrmSync::Enabled),
        ];
        let synced = SyncedSeats::new(&seats, true, &users);
        assert_eq!(synced.crm_user(SeatId(Uuid::from_u128(10))), Some(id(1)));
        assert_eq!(synced.crm_user(SeatId(Uuid::from_u128(12))), None);
        assert_eq!(synced.crm_user(SeatId(Uuid::from_u128(13))), None);
        assert_eq!(
            synced.seats_of(id(1)).collect::<Vec<_>>(),
            vec![SeatId(Uuid::from_u128(10)), SeatId(Uuid::from_u128(11))]
        );
        assert_eq!(synced.seats_of(id(6)).count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn a_match_is_the_only_active_user_with_that_email(
            users in proptest::collection::vec((0usize..4, proptest::bool::ANY, 0usize..3), 0..8),
            seat_email in 0usize..5,
        ) {
            // Emails drawn from a small pool, in varying case and padding, so collisions happen.
            let pool = ["ana@x.com", " ANA@x.com", "bob@x.com", "Bob@X.com ", "carla@x.com"];
            let users: Vec<CrmUser> = users
                .iter()
                .enumerate()
                .map(|(n, (email, disabled, app))| CrmUser {
                    id: id(n as u128),
                    full_name: String::new(),
                    email: Some(pool[*email].to_owned()),
                    disabled: *disabled,
                    application_user: *app == 0,
                })
                .collect();
            let wanted = normalize_email(pool[seat_email]);
            let same_email = |u: &&CrmUser| {
                !u.application_user && u.email.as_deref().and_then(normalize_email) == wanted
            };
            let active: Vec<_> = users.iter().filter(same_email).filter(|u| !u.disabled).collect();
            let any = users.iter().filter(same_email).count();
            let got = CrmUsersByEmail::new(&users).map(Some(pool[seat_email]));
            let expected = match (any, active.as_slice()) {
                (0, _) => SeatMapping::NotMatched(NotMatched::NoCrmUserWithEmail),
                (_, []) => SeatMapping::NotMatched(NotMatched::CrmUserDisabled),
                (_, [only]) => SeatMapping::Matched(only.id),
                (_, several) => SeatMapping::NotMatched(NotMatched::SeveralCrmUsersShareEmail(
                    several.iter().map(|u| u.id).collect(),
                )),
            };
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn re_pairing_a_seat_moves_it() {
        let seat = SeatId(Uuid::from_u128(1));
        let synced = SyncedSeats::from_pairs([(seat, id(1)), (seat, id(2))]);
        assert_eq!(synced.crm_user(seat), Some(id(2)));
        assert_eq!(synced.seats_of(id(1)).count(), 0);
        assert_eq!(synced.seats_of(id(2)).collect::<Vec<_>>(), vec![seat]);
    }
}
