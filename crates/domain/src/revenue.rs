//! Won revenue per seat: the won opportunities each rep's CRM user owns, valued with the column the
//! admin named as "where do you store the value for a won opportunity".

use std::collections::BTreeMap;

use crate::crm::{
    ACTUAL_VALUE, CrmOpportunity, CrmOwner, ESTIMATED_VALUE, Money, OpportunityState,
};
use crate::ids::{CrmCurrencyId, SeatId};
use crate::seat_mapping::SyncedSeats;
use crate::settings::WonValueField;

/// One seat's won business. Amounts stay per currency: adding euros to dollars would be wrong,
/// and converting is the CRM's job (its `_base` columns), not ours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WonRevenue {
    pub won: usize,
    /// Won opportunities with no value in the chosen column; counted, not guessed.
    pub without_value: usize,
    pub by_currency: BTreeMap<Option<CrmCurrencyId>, Money>,
}

/// The value of a won opportunity. Not Sure reads `actualvalue`, which Dynamics fills from the
/// estimate when an opportunity is won (MS Learn, opportunity entity), and falls back to
/// `estimatedvalue` for rows closed without it.
pub fn won_value(opportunity: &CrmOpportunity, field: &WonValueField) -> Option<Money> {
    match field {
        WonValueField::Column(name) => opportunity.money.get(name).copied(),
        WonValueField::NotSure => opportunity
            .money
            .get(ACTUAL_VALUE)
            .or_else(|| opportunity.money.get(ESTIMATED_VALUE))
            .copied(),
    }
}

/// Every seat with the "In CRM" badge gets an entry, zero when it has won nothing.
pub fn won_revenue_per_seat(
    opportunities: &[CrmOpportunity],
    field: &WonValueField,
    synced: &SyncedSeats,
) -> BTreeMap<SeatId, WonRevenue> {
    let mut revenue: BTreeMap<SeatId, WonRevenue> = synced
        .seats()
        .map(|seat| (seat, WonRevenue::default()))
        .collect();
    for opportunity in opportunities {
        if opportunity.state != OpportunityState::Won {
            continue;
        }
        let CrmOwner::User(owner) = opportunity.owner else {
            continue;
        };
        let value = won_value(opportunity, field);
        for seat in synced.seats_of(owner) {
            let entry = revenue.entry(seat).or_default();
            entry.won += 1;
            match value {
                Some(amount) => {
                    let total = entry.by_currency.entry(opportunity.currency).or_default();
                    *total = total.saturating_add(amount);
                }
                None => entry.without_value += 1,
            }
        }
    }
    revenue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CrmOpportunityId, CrmTeamId, CrmUserId};
    use uuid::Uuid;

    fn opportunity(
        state: OpportunityState,
        owner: CrmOwner,
        currency: u128,
        money: &[(&str, i64)],
    ) -> CrmOpportunity {
        CrmOpportunity {
            id: CrmOpportunityId::new_random(),
            name: String::new(),
            state,
            owner,
            sales_stage: None,
            account: None,
            contacts: vec![],
            currency: Some(CrmCurrencyId(Uuid::from_u128(currency))),
            money: money
                .iter()
                .map(|(name, units)| ((*name).to_owned(), Money::from_units(*units)))
                .collect(),
        }
    }

    #[test]
    fn won_value_follows_the_chosen_column() {
        let column = |name: &str| WonValueField::Column(name.into());
        let both = [
            (ACTUAL_VALUE, 100),
            (ESTIMATED_VALUE, 80),
            ("new_signed", 90),
        ];
        type Columns<'a> = &'a [(&'a str, i64)];
        let cases: Vec<(Columns, WonValueField, Option<i64>)> = vec![
            (&both, WonValueField::NotSure, Some(100)),
            (&[(ESTIMATED_VALUE, 80)], WonValueField::NotSure, Some(80)),
            (&[("new_signed", 90)], WonValueField::NotSure, None),
            (&both, column("new_signed"), Some(90)),
            (&both, column(ESTIMATED_VALUE), Some(80)),
            (&[(ACTUAL_VALUE, 100)], column("new_signed"), None),
        ];
        for (money, field, expected) in cases {
            let opp = opportunity(
                OpportunityState::Won,
                CrmOwner::User(CrmUserId::new_random()),
                1,
                money,
            );
            assert_eq!(
                won_value(&opp, &field),
                expected.map(Money::from_units),
                "{money:?} {field:?}"
            );
        }
    }

    #[test]
    fn revenue_sums_won_opportunities_per_seat_and_currency() {
        let ana = CrmUserId(Uuid::from_u128(1));
        let bob = CrmUserId(Uuid::from_u128(2));
        let seat_ana = SeatId(Uuid::from_u128(10));
        let seat_bob = SeatId(Uuid::from_u128(11));
        let synced = SyncedSeats::from_pairs([(seat_ana, ana), (seat_bob, bob)]);
        let eur = 1;
        let usd = 2;
        let opportunities = vec![
            opportunity(
                OpportunityState::Won,
                CrmOwner::User(ana),
                eur,
                &[(ACTUAL_VALUE, 1000)],
            ),
            opportunity(
                OpportunityState::Won,
                CrmOwner::User(ana),
                eur,
                &[(ESTIMATED_VALUE, 500)],
            ),
            opportunity(
                OpportunityState::Won,
                CrmOwner::User(ana),
                usd,
                &[(ACTUAL_VALUE, 70)],
            ),
            opportunity(OpportunityState::Won, CrmOwner::User(ana), eur, &[]),
            opportunity(
                OpportunityState::Open,
                CrmOwner::User(ana),
                eur,
                &[(ACTUAL_VALUE, 9999)],
            ),
            opportunity(
                OpportunityState::Lost,
                CrmOwner::User(ana),
                eur,
                &[(ACTUAL_VALUE, 9999)],
            ),
            opportunity(
                OpportunityState::Won,
                CrmOwner::Team(CrmTeamId::new_random()),
                eur,
                &[(ACTUAL_VALUE, 9999)],
            ),
            opportunity(
                OpportunityState::Won,
                CrmOwner::User(CrmUserId(Uuid::from_u128(3))),
                eur,
                &[(ACTUAL_VALUE, 9999)],
            ),
        ];
        let revenue = won_revenue_per_seat(&opportunities, &WonValueField::NotSure, &synced);
        let currency = |n| Some(CrmCurrencyId(Uuid::from_u128(n)));
        assert_eq!(
            revenue.get(&seat_ana),
            Some(&WonRevenue {
                won: 4,
                without_value: 1,
                by_currency: BTreeMap::from([
                    (currency(eur), Money::from_units(1500)),
                    (currency(usd), Money::from_units(70)),
                ]),
            })
        );
        assert_eq!(revenue.get(&seat_bob), Some(&WonRevenue::default()));
        assert_eq!(revenue.len(), 2);
    }
}
