//! Which opportunities are in a rep's pipeline: open, owned by the CRM user of a seat with the
//! "In CRM" badge, and past the stage the admin chose (or any open one with Not Sure).

use std::collections::BTreeSet;

use crate::crm::{CrmOpportunity, CrmOwner, OpportunityState};
use crate::ids::SeatId;
use crate::seat_mapping::SyncedSeats;
use crate::settings::StageThreshold;

/// The verdict on one opportunity, with the reason when it is left out so a rep asking "why is
/// this account not saved?" can be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Qualification {
    /// In the pipeline of these seats (usually one).
    Qualifies(BTreeSet<SeatId>),
    NotOpen(OpportunityState),
    /// Team-owned opportunities belong to no single rep.
    OwnedByTeam,
    /// Owned by a CRM user no seat with CRM sync on is matched to.
    OwnerHasNoSyncedSeat,
    /// Open, but not past the chosen stage (or without a stage while one was chosen).
    StageNotPast(Option<i32>),
}

pub fn qualify(
    opportunity: &CrmOpportunity,
    threshold: &StageThreshold,
    synced: &SyncedSeats,
) -> Qualification {
    if opportunity.state != OpportunityState::Open {
        return Qualification::NotOpen(opportunity.state);
    }
    let owner = match opportunity.owner {
        CrmOwner::User(user) => user,
        CrmOwner::Team(_) => return Qualification::OwnedByTeam,
    };
    let seats: BTreeSet<SeatId> = synced.seats_of(owner).collect();
    if seats.is_empty() {
        return Qualification::OwnerHasNoSyncedSeat;
    }
    if !threshold.admits(opportunity.sales_stage) {
        return Qualification::StageNotPast(opportunity.sales_stage);
    }
    Qualification::Qualifies(seats)
}

/// The opportunities in some rep's pipeline, each with the seats it counts for.
pub fn qualifying_opportunities<'a>(
    opportunities: &'a [CrmOpportunity],
    threshold: &StageThreshold,
    synced: &SyncedSeats,
) -> Vec<(&'a CrmOpportunity, BTreeSet<SeatId>)> {
    opportunities
        .iter()
        .filter_map(
            |opportunity| match qualify(opportunity, threshold, synced) {
                Qualification::Qualifies(seats) => Some((opportunity, seats)),
                _ => None,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CrmOpportunityId, CrmTeamId, CrmUserId};
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn user(n: u128) -> CrmUserId {
        CrmUserId(Uuid::from_u128(n))
    }
    fn seat(n: u128) -> SeatId {
        SeatId(Uuid::from_u128(n))
    }

    fn opportunity(state: OpportunityState, owner: CrmOwner, stage: Option<i32>) -> CrmOpportunity {
        CrmOpportunity {
            id: CrmOpportunityId(Uuid::from_u128(1)),
            name: "Renewal".into(),
            state,
            owner,
            sales_stage: stage,
            account: None,
            contacts: vec![],
            currency: None,
            money: BTreeMap::new(),
        }
    }

    #[test]
    fn qualification_table() {
        use OpportunityState::*;
        let synced = SyncedSeats::from_pairs([
            (seat(10), user(1)),
            (seat(11), user(2)),
            (seat(12), user(2)),
        ]);
        let after_develop = StageThreshold::After {
            chosen: 1,
            later: BTreeSet::from([2, 3]),
        };
        let mine = CrmOwner::User(user(1));
        let cases = [
            (
                Open,
                mine,
                Some(2),
                &after_develop,
                Qualification::Qualifies(BTreeSet::from([seat(10)])),
            ),
            (
                Open,
                mine,
                Some(3),
                &after_develop,
                Qualification::Qualifies(BTreeSet::from([seat(10)])),
            ),
            (
                Open,
                mine,
                Some(1),
                &after_develop,
                Qualification::StageNotPast(Some(1)),
            ),
            (
                Open,
                mine,
                Some(0),
                &after_develop,
                Qualification::StageNotPast(Some(0)),
            ),
            (
                Open,
                mine,
                None,
                &after_develop,
                Qualification::StageNotPast(None),
            ),
            (
                Open,
                mine,
                None,
                &StageThreshold::AnyOpen,
                Qualification::Qualifies(BTreeSet::from([seat(10)])),
            ),
            (
                Open,
                mine,
                Some(0),
                &StageThreshold::AnyOpen,
                Qualification::Qualifies(BTreeSet::from([seat(10)])),
            ),
            (
                Won,
                mine,
                Some(3),
                &after_develop,
                Qualification::NotOpen(Won),
            ),
            (
                Lost,
                mine,
                Some(3),
                &StageThreshold::AnyOpen,
                Qualification::NotOpen(Lost),
            ),
            (
                Open,
                CrmOwner::Team(CrmTeamId(Uuid::from_u128(5))),
                Some(3),
                &StageThreshold::AnyOpen,
                Qualification::OwnedByTeam,
            ),
            (
                Open,
                CrmOwner::User(user(3)),
                Some(3),
                &StageThreshold::AnyOpen,
                Qualification::OwnerHasNoSyncedSeat,
            ),
            (
                Open,
                CrmOwner::User(user(2)),
                Some(3),
                &after_develop,
                Qualification::Qualifies(BTreeSet::from([seat(11), seat(12)])),
            ),
        ];
        for (state, owner, stage, threshold, expected) in cases {
            let opp = opportunity(state, owner, stage);
            assert_eq!(
                qualify(&opp, threshold, &synced),
                expected,
                "{state:?} {owner:?} {stage:?} {threshold:?}"
            );
        }
    }

    #[test]
    fn only_qualifying_opportunities_are_listed() {
        let synced = SyncedSeats::from_pairs([(seat(10), user(1))]);
        let mut open = opportunity(OpportunityState::Open, CrmOwner::User(user(1)), Some(2));
        open.id = CrmOpportunityId(Uuid::from_u128(7));
        let won = opportunity(OpportunityState::Won, CrmOwner::User(user(1)), Some(2));
        let opportunities = [won, open];
        let listed = qualifying_opportunities(&opportunities, &StageThreshold::AnyOpen, &synced);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0.id, CrmOpportunityId(Uuid::from_u128(7)));
        assert_eq!(listed[0].1, BTreeSet::from([seat(10)]));
    }
}
