//! Scenarios for the auto-save rule and property tests of its invariants (hand-saved items kept,
//! an item stays while any opportunity brings it, planning is idempotent).

use super::*;
use crate::crm::{CrmOwner, OpportunityState};
use crate::ids::{CrmOpportunityId, CrmTeamId, CrmUserId, SeatId, TagId};
use proptest::prelude::*;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
fn seat(n: u128) -> SeatId {
    SeatId(uuid(n))
}
fn crm_user(n: u128) -> CrmUserId {
    CrmUserId(uuid(n))
}
fn opp_id(n: u128) -> CrmOpportunityId {
    CrmOpportunityId(uuid(1000 + n))
}
fn account(n: u128) -> CrmAccountId {
    CrmAccountId(uuid(2000 + n))
}
fn contact(n: u128) -> CrmContactId {
    CrmContactId(uuid(3000 + n))
}
fn company(n: u128) -> CompanyId {
    CompanyId(uuid(4000 + n))
}
fn person(n: u128) -> PersonId {
    PersonId(uuid(5000 + n))
}

const TENANT: TenantId = TenantId(Uuid::from_u128(1));
const CONNECTION: CrmConnectionId = CrmConnectionId(Uuid::from_u128(2));

fn opp(
    n: u128,
    owner: u128,
    stage: Option<i32>,
    acc: Option<u128>,
    contacts: &[u128],
) -> CrmOpportunity {
    CrmOpportunity {
        id: opp_id(n),
        name: format!("Opportunity {n}"),
        state: OpportunityState::Open,
        owner: CrmOwner::User(crm_user(owner)),
        sales_stage: stage,
        account: acc.map(account),
        contacts: contacts.iter().copied().map(contact).collect(),
        currency: None,
        money: BTreeMap::new(),
    }
}

fn reason(n: u128, stage: Option<i32>) -> CrmReason {
    CrmReason {
        opportunity: opp_id(n),
        stage,
    }
}

fn lead_key(s: u128, p: PersonId) -> SavedKey {
    SavedKey {
        seat: seat(s),
        target: SavedTarget::Lead(p),
    }
}
fn account_key(s: u128, c: CompanyId) -> SavedKey {
    SavedKey {
        seat: seat(s),
        target: SavedTarget::Account(c),
    }
}

fn item(key: SavedKey, by_hand: bool, reasons: &[CrmReason]) -> SavedItem {
    SavedItem {
        key,
        by_hand,
        crm_reasons: reasons.iter().copied().collect(),
        tags: BTreeSet::new(),
    }
}

/// A small org: seats 10 and 11 synced to CRM users 1 and 2; accounts 1–2 and contacts 1–3
/// matched to companies/people with the same number; account 9 and contact 9 only in the mirror.
struct World {
    opportunities: Vec<CrmOpportunity>,
    accounts: BTreeMap<CrmAccountId, CrmAccount>,
    contacts: BTreeMap<CrmContactId, CrmContact>,
    threshold: StageThreshold,
    synced: SyncedSeats,
    matches: MatchIndex,
    saved: Vec<SavedItem>,
}

impl World {
    fn new() -> Self {
        let company_matches: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| CompanyMatch {
                company: company(n),
                account: account(n),
                confidence: Confidence::new(90),
                origin: MatchOrigin::Exact,
                explanation: String::new(),
            })
            .collect();
        let person_matches: Vec<_> = [1, 2, 3]
            .into_iter()
            .map(|n| PersonMatch {
                person: person(n),
                crm: CrmPersonRef::Contact(contact(n)),
                confidence: Confidence::new(90),
                origin: MatchOrigin::Exact,
                explanation: String::new(),
            })
            .collect();
        let accounts = [9]
            .into_iter()
            .map(|n| {
                (
                    account(n),
                    CrmAccount {
                        id: account(n),
                        name: "Fabrikam".into(),
                        website: Some("https://fabrikam.example".into()),
                        industry: Some("Manufacturing".into()),
                        location: Some("Lyon".into()),
                        employees: Some(120),
                    },
                )
            })
            .collect();
        let contacts = [9]
            .into_iter()
            .map(|n| {
                (
                    contact(n),
                    CrmContact {
                        id: contact(n),
                        full_name: "Chloé Martin".into(),
                        job_title: Some("Directrice achats".into()),
                        email: Some("chloe@fabrikam.example".into()),
                        phone: None,
                        location: Some("Lyon".into()),
                        account: Some(account(9)),
                    },
                )
            })
            .collect();
        World {
            opportunities: vec![],
            accounts,
            contacts,
            threshold: StageThreshold::After {
                chosen: 1,
                later: BTreeSet::from([2, 3]),
            },
            synced: SyncedSeats::from_pairs([(seat(10), crm_user(1)), (seat(11), crm_user(2))]),
            matches: MatchIndex::build(&person_matches, &company_matches),
            saved: vec![],
        }
    }

    fn plan(&self) -> ImportPlan {
        plan(ImportInput {
            tenant: TENANT,
            connection: CONNECTION,
            opportunities: &self.opportunities,
            accounts: &self.accounts,
            contacts: &self.contacts,
            threshold: &self.threshold,
            synced: &self.synced,
            matches: &self.matches,
            saved: &self.saved,
        })
    }
}

#[test]
fn a_qualifying_opportunity_saves_its_account_and_contacts_for_the_owner() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(1), &[1, 2])];
    let plan = world.plan();
    let r = reason(1, Some(2));
    assert_eq!(
        plan.diff.save,
        vec![
            item(lead_key(10, person(1)), false, &[r]),
            item(lead_key(10, person(2)), false, &[r]),
            item(account_key(10, company(1)), false, &[r]),
        ]
    );
    assert!(plan.diff.create_people.is_empty() && plan.diff.create_companies.is_empty());
    assert!(plan.missing.is_empty());
}

#[test]
fn unmatched_crm_rows_become_workspace_records_created_from_the_crm() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(3), Some(9), &[9])];
    let plan = world.plan();
    let new_person = person_id_for_contact(CONNECTION, contact(9));
    let new_company = company_id_for_account(CONNECTION, account(9));
    assert_eq!(plan.diff.create_people.len(), 1);
    let created = &plan.diff.create_people[0];
    assert_eq!(created.id, new_person);
    assert_eq!(created.full_name, "Chloé Martin");
    assert_eq!(created.title.as_deref(), Some("Directrice achats"));
    assert_eq!(created.company, Some(new_company));
    assert_eq!(created.company_name.as_deref(), Some("Fabrikam"));
    assert_eq!(
        created.origin,
        PersonOrigin::CreatedFromCrm {
            connection: CONNECTION,
            contact: contact(9)
        }
    );
    assert_eq!(plan.diff.create_companies.len(), 1);
    assert_eq!(
        plan.diff.create_companies[0].size,
        Some(CompanySize::From51To200)
    );
    assert_eq!(
        plan.diff.person_matches[0].crm,
        CrmPersonRef::Contact(contact(9))
    );
    assert_eq!(
        plan.diff.person_matches[0].origin,
        MatchOrigin::CreatedFromCrm
    );
    assert_eq!(plan.diff.company_matches[0].account, account(9));
    let keys: Vec<_> = plan.diff.save.iter().map(|i| i.key).collect();
    assert_eq!(
        keys,
        vec![lead_key(10, new_person), account_key(10, new_company)]
    );
}

#[test]
fn derived_ids_are_stable_per_connection_and_differ_across_connections() {
    let other = CrmConnectionId(uuid(3));
    assert_eq!(
        person_id_for_contact(CONNECTION, contact(9)),
        person_id_for_contact(CONNECTION, contact(9))
    );
    assert_ne!(
        person_id_for_contact(CONNECTION, contact(9)),
        person_id_for_contact(other, contact(9))
    );
    assert_ne!(
        person_id_for_contact(CONNECTION, contact(9)).0,
        company_id_for_account(CONNECTION, CrmAccountId(contact(9).0)).0
    );
}

#[test]
fn rows_neither_matched_nor_read_are_reported_missing() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(7), &[7, 1])];
    let plan = world.plan();
    assert_eq!(
        plan.missing,
        BTreeSet::from([
            MissingCrmRow::Account(account(7)),
            MissingCrmRow::Contact(contact(7))
        ])
    );
    let keys: Vec<_> = plan.diff.save.iter().map(|i| i.key).collect();
    assert_eq!(keys, vec![lead_key(10, person(1))]);
}

#[test]
fn hand_saved_items_gain_and_lose_reasons_but_stay_manual() {
    let mut world = World::new();
    let key = lead_key(10, person(1));
    world.saved = vec![item(key, true, &[])];
    world.opportunities = vec![opp(1, 1, Some(2), None, &[1])];
    let plan = world.plan();
    assert_eq!(plan.diff.add_reasons, vec![(key, reason(1, Some(2)))]);
    assert!(plan.diff.save.is_empty() && plan.diff.unsave.is_empty());

    world.saved = apply(&world.saved, &plan.diff);
    world.opportunities[0].state = OpportunityState::Won;
    let plan = world.plan();
    assert_eq!(plan.diff.remove_reasons, vec![(key, reason(1, Some(2)))]);
    assert!(plan.diff.unsave.is_empty());
    world.saved = apply(&world.saved, &plan.diff);
    assert_eq!(world.saved, vec![item(key, true, &[])]);
}

#[test]
fn an_item_brought_by_two_opportunities_stays_until_both_are_gone() {
    let mut world = World::new();
    world.opportunities = vec![
        opp(1, 1, Some(2), Some(1), &[1]),
        opp(2, 1, Some(3), Some(1), &[2]),
    ];
    world.saved = apply(&[], &world.plan().diff);
    assert_eq!(world.saved.len(), 3);

    world.opportunities[0].state = OpportunityState::Lost;
    let plan = world.plan();
    assert_eq!(plan.diff.unsave, vec![lead_key(10, person(1))]);
    assert_eq!(
        plan.diff.remove_reasons,
        vec![(account_key(10, company(1)), reason(1, Some(2)))]
    );
    world.saved = apply(&world.saved, &plan.diff);

    world.opportunities[1].state = OpportunityState::Won;
    let plan = world.plan();
    assert_eq!(
        plan.diff.unsave,
        vec![lead_key(10, person(2)), account_key(10, company(1))]
    );
    world.saved = apply(&world.saved, &plan.diff);
    assert!(world.saved.is_empty());
}

#[test]
fn reassigned_opportunity_moves_its_items_to_the_new_owner() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(1), &[])];
    world.saved = apply(&[], &world.plan().diff);
    world.opportunities[0].owner = CrmOwner::User(crm_user(2));
    let plan = world.plan();
    assert_eq!(plan.diff.unsave, vec![account_key(10, company(1))]);
    assert_eq!(
        plan.diff.save,
        vec![item(
            account_key(11, company(1)),
            false,
            &[reason(1, Some(2))]
        )]
    );
}

#[test]
fn falling_back_to_the_chosen_stage_unsaves() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(1), &[])];
    world.saved = apply(&[], &world.plan().diff);
    world.opportunities[0].sales_stage = Some(1);
    assert_eq!(world.plan().diff.unsave, vec![account_key(10, company(1))]);
}

#[test]
fn moving_forward_a_stage_updates_the_reason() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(1), &[])];
    world.saved = apply(&[], &world.plan().diff);
    world.opportunities[0].sales_stage = Some(3);
    let plan = world.plan();
    let key = account_key(10, company(1));
    assert_eq!(plan.diff.add_reasons, vec![(key, reason(1, Some(3)))]);
    assert_eq!(plan.diff.remove_reasons, vec![(key, reason(1, Some(2)))]);
    assert!(plan.diff.unsave.is_empty());
}

#[test]
fn turning_sync_off_for_a_seat_unsaves_only_its_imported_items() {
    let mut world = World::new();
    world.opportunities = vec![opp(1, 1, Some(2), Some(1), &[1])];
    world.saved = vec![item(lead_key(10, person(1)), true, &[])];
    world.saved = apply(&world.saved, &world.plan().diff);
    world.synced = SyncedSeats::from_pairs([(seat(11), crm_user(2))]);
    let plan = world.plan();
    assert_eq!(plan.diff.unsave, vec![account_key(10, company(1))]);
    assert_eq!(
        plan.diff.remove_reasons,
        vec![(lead_key(10, person(1)), reason(1, Some(2)))]
    );
}

#[test]
fn team_owned_opportunities_and_leftover_items_without_reasons() {
    let mut world = World::new();
    let mut team_owned = opp(1, 1, Some(3), Some(1), &[1]);
    team_owned.owner = CrmOwner::Team(CrmTeamId(uuid(77)));
    world.opportunities = vec![team_owned];
    world.saved = vec![item(account_key(10, company(2)), false, &[])];
    let plan = world.plan();
    assert!(plan.desired.is_empty());
    assert!(plan.diff.save.is_empty());
    assert_eq!(plan.diff.unsave, vec![account_key(10, company(2))]);
}

#[test]
fn apply_never_unsaves_a_hand_saved_item_even_if_asked() {
    let key = lead_key(10, person(1));
    let mut tagged = item(key, true, &[reason(1, None)]);
    tagged.tags.insert(TagId(uuid(5)));
    let diff = ImportDiff {
        unsave: vec![key],
        ..ImportDiff::default()
    };
    assert_eq!(apply(std::slice::from_ref(&tagged), &diff), vec![tagged]);
}

// ---- properties -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Scenario {
    opportunities: Vec<CrmOpportunity>,
    mirror_accounts: BTreeSet<u128>,
    mirror_contacts: BTreeSet<u128>,
    account_matches: BTreeMap<u128, u128>,
    contact_matches: BTreeMap<u128, u128>,
    synced: Vec<(u128, u128)>,
    threshold: StageThreshold,
    saved: Vec<SavedItem>,
}

fn arb_opportunity() -> impl Strategy<Value = CrmOpportunity> {
    (
        0u128..6,
        prop_oneof![Just(OpportunityState::Open), Just(OpportunityState::Won), Just(OpportunityState::Lost)],
        prop_oneof![4 => (1u128..5).prop_map(|u| CrmOwner::User(crm_user(u))), 1 => Just(CrmOwner::Team(CrmTeamId(uuid(99))))],
        proptest::option::of(0i32..5),
        proptest::option::of(0u128..5),
        proptest::collection::btree_set(0u128..6, 0..4),
    )
        .prop_map(|(n, state, owner, stage, acc, contacts)| CrmOpportunity {
            id: opp_id(n),
            name: String::new(),
            state,
            owner,
            sales_stage: stage,
            account: acc.map(account),
            contacts: contacts.into_iter().map(contact).collect(),
            currency: None,
            money: BTreeMap::new(),
        })
}

fn arb_saved() -> impl Strategy<Value = SavedItem> {
    (
        10u128..13,
        prop_oneof![
            (0u128..8).prop_map(|p| SavedTarget::Lead(person(p))),
            (0u128..6).prop_map(|c| SavedTarget::Account(company(c)))
        ],
        any::<bool>(),
        proptest::collection::btree_set((0u128..6, proptest::option::of(0i32..5)), 0..3),
        proptest::collection::btree_set(0u128..3, 0..2),
    )
        .prop_map(|(s, target, by_hand, reasons, tags)| SavedItem {
            key: SavedKey {
                seat: seat(s),
                target,
            },
            by_hand,
            crm_reasons: reasons.into_iter().map(|(o, st)| reason(o, st)).collect(),
            tags: tags.into_iter().map(|t| TagId(uuid(t))).collect(),
        })
}

fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(arb_opportunity(), 0..7),
        proptest::collection::btree_set(0u128..5, 0..5),
        proptest::collection::btree_set(0u128..6, 0..6),
        proptest::collection::btree_map(0u128..5, 0u128..6, 0..4),
        proptest::collection::btree_map(0u128..6, 0u128..8, 0..5),
        proptest::collection::vec((10u128..13, 1u128..5), 0..4),
        prop_oneof![
            Just(StageThreshold::AnyOpen),
            (0i32..4).prop_map(|chosen| StageThreshold::After {
                chosen,
                later: (chosen + 1..4).collect()
            })
        ],
        proptest::collection::vec(arb_saved(), 0..10),
    )
        .prop_map(
            |(
                opportunities,
                mirror_accounts,
                mirror_contacts,
                account_matches,
                contact_matches,
                synced,
                threshold,
                saved,
            )| {
                // One opportunity per id, one saved item per key, as the store guarantees.
                let opportunities: BTreeMap<_, _> =
                    opportunities.into_iter().map(|o| (o.id, o)).collect();
                let saved: BTreeMap<_, _> = saved.into_iter().map(|i| (i.key, i)).collect();
                Scenario {
                    opportunities: opportunities.into_values().collect(),
                    mirror_accounts,
                    mirror_contacts,
                    account_matches,
                    contact_matches,
                    synced,
                    threshold,
                    saved: saved.into_values().collect(),
                }
            },
        )
}

struct Built {
    accounts: BTreeMap<CrmAccountId, CrmAccount>,
    contacts: BTreeMap<CrmContactId, CrmContact>,
    person_matches: Vec<PersonMatch>,
    company_matches: Vec<CompanyMatch>,
    synced: SyncedSeats,
}

fn build(s: &Scenario) -> Built {
    Built {
        accounts: s
            .mirror_accounts
            .iter()
            .map(|n| {
                (
                    account(*n),
                    CrmAccount {
                        id: account(*n),
                        name: format!("Account {n}"),
                        website: None,
                        industry: None,
                        location: None,
                        employees: None,
                    },
                )
            })
            .collect(),
        contacts: s
            .mirror_contacts
            .iter()
            .map(|n| {
                (
                    contact(*n),
                    CrmContact {
                        id: contact(*n),
                        full_name: format!("Contact {n}"),
                        job_title: None,
                        email: None,
                        phone: None,
                        location: None,
                        account: Some(account(n % 5)),
                    },
                )
            })
            .collect(),
        person_matches: s
            .contact_matches
            .iter()
            .map(|(c, p)| PersonMatch {
                person: person(*p),
                crm: CrmPersonRef::Contact(contact(*c)),
                confidence: Confidence::new(80),
                origin: MatchOrigin::Scored,
                explanation: String::new(),
            })
            .collect(),
        company_matches: s
            .account_matches
            .iter()
            .map(|(a, c)| CompanyMatch {
                company: company(*c),
                account: account(*a),
                confidence: Confidence::new(80),
                origin: MatchOrigin::Scored,
                explanation: String::new(),
            })
            .collect(),
        synced: SyncedSeats::from_pairs(s.synced.iter().map(|(s, u)| (seat(*s), crm_user(*u)))),
    }
}

fn run(s: &Scenario, built: &Built, saved: &[SavedItem]) -> ImportPlan {
    let matches = MatchIndex::build(&built.person_matches, &built.company_matches);
    plan(ImportInput {
        tenant: TENANT,
        connection: CONNECTION,
        opportunities: &s.opportunities,
        accounts: &built.accounts,
        contacts: &built.contacts,
        threshold: &s.threshold,
        synced: &built.synced,
        matches: &matches,
        saved,
    })
}

/// Applies a plan as the store would, including the created records' matches.
fn apply_all(built: &mut Built, saved: &[SavedItem], plan: &ImportPlan) -> Vec<SavedItem> {
    built
        .person_matches
        .extend(plan.diff.person_matches.iter().cloned());
    built
        .company_matches
        .extend(plan.diff.company_matches.iter().cloned());
    apply(saved, &plan.diff)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_then_planning_again_changes_nothing(s in arb_scenario()) {
        let mut built = build(&s);
        let first = run(&s, &built, &s.saved);
        let after = apply_all(&mut built, &s.saved, &first);
        let second = run(&s, &built, &after);
        prop_assert!(second.diff.is_empty(), "second diff: {:?}", second.diff);
        prop_assert!(second.diff.create_people.is_empty() && second.diff.create_companies.is_empty());
        prop_assert_eq!(second.desired, first.desired);
    }

    #[test]
    fn hand_saved_items_are_never_unsaved_nor_changed_in_source(s in arb_scenario()) {
        let mut built = build(&s);
        let plan = run(&s, &built, &s.saved);
        let after = apply_all(&mut built, &s.saved, &plan);
        for before in s.saved.iter().filter(|i| i.by_hand) {
            let now = after.iter().find(|i| i.key == before.key);
            prop_assert!(now.is_some_and(|i| i.by_hand && i.tags == before.tags), "{:?} lost", before.key);
            prop_assert!(!plan.diff.unsave.contains(&before.key));
        }
    }

    #[test]
    fn after_applying_imported_items_are_exactly_the_desired_ones(s in arb_scenario()) {
        let mut built = build(&s);
        let plan = run(&s, &built, &s.saved);
        let after = apply_all(&mut built, &s.saved, &plan);
        for item in &after {
            let wanted = plan.desired.get(&item.key);
            if item.by_hand {
                prop_assert_eq!(&item.crm_reasons, &wanted.cloned().unwrap_or_default());
            } else {
                prop_assert_eq!(Some(&item.crm_reasons), wanted);
            }
        }
        for key in plan.desired.keys() {
            prop_assert!(after.iter().any(|i| i.key == *key), "{:?} not saved", key);
        }
    }

    #[test]
    fn closing_one_opportunity_unsaves_only_what_it_alone_brought(s in arb_scenario(), pick in any::<prop::sample::Index>()) {
        let mut built = build(&s);
        let plan = run(&s, &built, &s.saved);
        let settled = apply_all(&mut built, &s.saved, &plan);
        if s.opportunities.is_empty() {
            return Ok(());
        }
        let closed = pick.index(s.opportunities.len());
        let closed_id = s.opportunities[closed].id;
        let mut changed = s.clone();
        changed.opportunities[closed].state = OpportunityState::Won;
        let next = run(&changed, &built, &settled);
        for item in &settled {
            let others = item.crm_reasons.iter().any(|r| r.opportunity != closed_id);
            let unsaved = next.diff.unsave.contains(&item.key);
            prop_assert_eq!(unsaved, !item.by_hand && !others, "{:?}", item);
        }
        for (_, r) in &next.diff.remove_reasons {
            prop_assert_eq!(r.opportunity, closed_id);
        }
        prop_assert!(next.diff.save.is_empty() && next.diff.add_reasons.is_empty());
    }
}
