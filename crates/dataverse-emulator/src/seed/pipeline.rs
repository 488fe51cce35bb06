//! The sales pipeline: leads (some from existing customers, most new) and opportunities on
//! accounts, spread over stages and outcomes the way a live Dynamics 365 Sales org is.

use chrono::{Days, NaiveDate};
use uuid::Uuid;

use super::companies::{
    Customers, job_title, person, push_company_name, push_local_part, push_private_address,
    push_slug,
};
use super::locale::{DEAL_KINDS, LEAD_SOURCES, LOCALES, PRODUCTS};
use super::org::Staff;
use super::rng::Rng;
use super::text::{landline, mobile, push_num};
use super::{REFERENCE_DATE, SeedLead, SeedOpportunity};

pub(super) fn leads(
    wanted: usize,
    customers: &Customers,
    staff: &Staff,
    user_ids: &[Uuid],
    rng: &mut Rng,
) -> Vec<SeedLead> {
    let locale_weights: Vec<u32> = LOCALES.iter().map(|l| l.weight).collect();
    let mut leads = Vec::with_capacity(wanted);
    for _ in 0..wanted {
        let r = rng.below(100);
        // A third of leads come from people at existing customers (the classic duplicate a
        // matcher must catch); the rest are new companies or private persons.
        let existing =
            (r < 30 && !customers.accounts.is_empty()).then(|| rng.below(customers.accounts.len()));
        let (locale_index, city_index) = match existing {
            Some(a) => (
                customers.meta[a].locale as usize,
                customers.meta[a].city as usize,
            ),
            None => {
                let l = rng.weighted(&locale_weights);
                (l, rng.below(LOCALES[l].cities.len()))
            }
        };
        let locale = &LOCALES[locale_index];
        let city = &locale.cities[city_index];
        let who = person(locale, rng);
        let mut domain = String::new();
        let company_name = match existing {
            Some(a) => {
                let account = &customers.accounts[a];
                domain.push_str(&customers.meta[a].domain);
                // People write their employer without the legal form as often as with it.
                let name = if rng.chance(60) {
                    account.name.clone()
                } else {
                    account.name[..customers.meta[a].base_len as usize].to_owned()
                };
                Some(name)
            }
            None if r < 95 => {
                let mut name = String::with_capacity(40);
                let (base_len, _) = push_company_name(&mut name, locale, rng);
                push_slug(&mut domain, &name[..base_len], rng.chance(25));
                domain.push('.');
                domain.push_str(locale.tld);
                Some(name)
            }
            None => None,
        };
        let email = rng.chance(85).then(|| {
            let mut e = String::with_capacity(40);
            if !domain.is_empty() && rng.chance(70) {
                push_local_part(&mut e, &who, rng);
                e.push('@');
                e.push_str(&domain);
            } else {
                push_private_address(&mut e, &who, locale, rng);
            }
            e
        });
        let product = rng.pick(PRODUCTS);
        let mut subject = String::with_capacity(48);
        match rng.below(100) {
            0..=39 => {
                subject.push_str(rng.pick(locale.lead_topics));
                subject.push(' ');
                subject.push_str(product);
            }
            40..=69 => {
                subject.push_str(rng.pick(LEAD_SOURCES));
                subject.push_str(": ");
                subject.push_str(product);
            }
            _ => {
                subject.push_str(product);
                subject.push_str(" for ");
                match &company_name {
                    Some(c) => subject.push_str(c),
                    None => {
                        subject.push_str(who.first);
                        subject.push(' ');
                        subject.push_str(&who.last);
                    }
                }
            }
        }
        // Statecode and statuscode of lead: 0 Open (1 New, 2 Contacted), 1 Qualified (3),
        // 2 Disqualified (4 Lost, 5 Cannot Contact, 6 No Longer Interested, 7 Canceled).
        let (state, status) = match rng.below(100) {
            0..=44 => (0, 1),
            45..=74 => (0, 2),
            75..=89 => (1, 3),
            _ => (2, 4 + rng.below(4) as i64),
        };
        let owner = if rng.chance(95) {
            staff.active_owner(locale_index, rng)
        } else {
            staff.owner(locale_index, rng)
        };
        leads.push(SeedLead {
            id: rng.uuid(),
            subject,
            first_name: who.first.to_owned(),
            last_name: who.last,
            email,
            company_name,
            job_title: rng.chance(70).then(|| job_title(locale, rng)),
            phone: match rng.below(10) {
                0..=3 => Some(landline(locale, city, rng)),
                4..=6 => Some(mobile(locale, rng)),
                _ => None,
            },
            city: rng.chance(85).then(|| city.name.to_owned()),
            country: rng.chance(85).then(|| locale.country_name.to_owned()),
            state,
            status,
            owner: user_ids[owner as usize],
        });
    }
    leads
}

/// `stepname` of each `salesstage` in the default Dynamics 365 Sales process.
const STEP_NAMES: [&str; 4] = ["1-Qualify", "2-Develop", "3-Propose", "4-Close"];
/// The close probabilities reps enter at each stage.
const STAGE_PROBABILITIES: [&[i64]; 4] = [&[10, 20], &[25, 30, 40], &[50, 60, 70], &[75, 80, 90]];

#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Open,
    Won,
    Lost,
}

/// Opportunities: 60 % open, 25 % won, 15 % lost, in exact counts. With `every_rep_every_stage`
/// (the demo org), each active rep first gets one open opportunity at each stage, with a contact,
/// so every rep's seat has something to import whatever pipeline stage the admin picks.
pub(super) fn opportunities(
    wanted: usize,
    customers: &Customers,
    staff: &Staff,
    user_ids: &[Uuid],
    every_rep_every_stage: bool,
    rng: &mut Rng,
) -> Vec<SeedOpportunity> {
    let mut opportunities = Vec::with_capacity(wanted);
    if customers.accounts.is_empty() {
        return opportunities;
    }
    if every_rep_every_stage {
        for rep in &staff.active_reps {
            let with_contacts = |a: &usize| customers.meta[*a].contact_count > 0;
            let mut mine: Vec<usize> = (0..customers.meta.len())
                .filter(with_contacts)
                .filter(|a| customers.meta[*a].owner == *rep)
                .collect();
            if mine.is_empty() {
                // The rep owns no account with people yet: give them deals elsewhere.
                mine = (0..customers.meta.len()).filter(with_contacts).collect();
            }
            for stage in 0..4 {
                if opportunities.len() >= wanted {
                    break;
                }
                let account = match mine.len() {
                    0 => customers.busy_account(rng),
                    n => mine[rng.below(n)],
                };
                let mut o = opportunity(account, Outcome::Open, customers, staff, user_ids, rng);
                set_stage(&mut o, stage as i64, rng);
                o.status = 1;
                o.owner = user_ids[*rep as usize];
                o.contact = pick_contact(customers, account, rng);
                opportunities.push(o);
            }
        }
    }
    let remaining = wanted - opportunities.len();
    let open = (wanted * 60 / 100).saturating_sub(opportunities.len());
    let won = wanted * 25 / 100;
    let mut outcomes = Vec::with_capacity(remaining);
    outcomes.extend(std::iter::repeat_n(Outcome::Open, open.min(remaining)));
    outcomes.extend(std::iter::repeat_n(
        Outcome::Won,
        won.min(remaining - outcomes.len()),
    ));
    outcomes.resize(remaining, Outcome::Lost);
    rng.shuffle(&mut outcomes);
    for outcome in outcomes {
        let account = customers.busy_account(rng);
        opportunities.push(opportunity(
            account, outcome, customers, staff, user_ids, rng,
        ));
    }
    opportunities
}

fn pick_contact(customers: &Customers, account: usize, rng: &mut Rng) -> Option<Uuid> {
    let m = &customers.meta[account];
    (m.contact_count > 0).then(|| {
        let k = m.first_contact as usize + rng.below(m.contact_count as usize);
        customers.contacts[k].id
    })
}

fn set_stage(o: &mut SeedOpportunity, stage: i64, rng: &mut Rng) {
    o.sales_stage = stage;
    o.step_name = STEP_NAMES[stage as usize].to_owned();
    o.close_probability = rng.pick(STAGE_PROBABILITIES[stage as usize]);
}

fn opportunity(
    account: usize,
    outcome: Outcome,
    customers: &Customers,
    staff: &Staff,
    user_ids: &[Uuid],
    rng: &mut Rng,
) -> SeedOpportunity {
    let m = &customers.meta[account];
    let locale = m.locale as usize;
    // A leaver's closed deals stay theirs; their open ones have been handed to an active rep.
    let owner_is_active = staff.active[locale].contains(&m.owner);
    let owner = if rng.chance(85) && (owner_is_active || outcome != Outcome::Open) {
        m.owner
    } else {
        staff.active_owner(locale, rng)
    };
    let contact = if rng.chance(85) {
        pick_contact(customers, account, rng)
    } else {
        None
    };
    let product = rng.pick(PRODUCTS);
    let mut name = String::with_capacity(48);
    match rng.below(10) {
        0..=4 => {
            name.push_str(product);
            name.push(' ');
            name.push_str(rng.pick(DEAL_KINDS));
        }
        5..=7 => {
            name.push_str(&customers.accounts[account].name[..m.base_len as usize]);
            name.push_str(" - ");
            name.push_str(product);
        }
        _ => {
            push_num(
                &mut name,
                rng.pick(&[5u64, 10, 12, 20, 25, 50, 100, 250]),
                1,
            );
            name.push(' ');
            name.push_str(product);
        }
    }
    let estimated = estimated_value(rng);
    let (state, status, stage) = match outcome {
        Outcome::Open => (
            0,
            if rng.chance(88) { 1 } else { 2 },
            rng.weighted(&[35, 30, 20, 15]),
        ),
        Outcome::Won => (1, 3, if rng.chance(85) { 3 } else { 2 }),
        Outcome::Lost => (
            2,
            if rng.chance(40) { 4 } else { 5 },
            rng.weighted(&[30, 30, 25, 15]),
        ),
    };
    let (estimated_close_date, actual_close_date) = match outcome {
        Outcome::Open => (days_from_reference(rng.range(-20, 180)), None),
        Outcome::Won | Outcome::Lost => {
            let closed = rng.range(-540, -1);
            (
                days_from_reference(closed + rng.range(-30, 45)),
                Some(days_from_reference(closed)),
            )
        }
    };
    // Won deals rarely close at exactly the estimate; cents are computed as integers so the
    // value is the same everywhere.
    let actual_value = (outcome == Outcome::Won).then(|| {
        let cents = (estimated * 100.0).round() as u64;
        let factor = 80 + rng.below(31) as u64;
        (cents * factor / 100) as f64 / 100.0
    });
    let mut o = SeedOpportunity {
        id: rng.uuid(),
        name,
        account: customers.accounts[account].id,
        contact,
        owner: user_ids[owner as usize],
        state,
        status,
        sales_stage: 0,
        step_name: String::new(),
        estimated_value: estimated,
        actual_value,
        close_probability: 0,
        estimated_close_date,
        actual_close_date,
    };
    set_stage(&mut o, stage as i64, rng);
    o.close_probability = match outcome {
        Outcome::Open => o.close_probability,
        Outcome::Won => 100,
        Outcome::Lost => 0,
    };
    o
}

fn days_from_reference(days: i64) -> NaiveDate {
    let shifted = if days >= 0 {
        REFERENCE_DATE.checked_add_days(Days::new(days as u64))
    } else {
        REFERENCE_DATE.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    shifted.unwrap_or(REFERENCE_DATE)
}

/// A deal size between 1,000 and 2,000,000, skewed low within each order of magnitude the way
/// log-normal deal sizes are, using only exactly-rounded arithmetic. Most are round numbers.
fn estimated_value(rng: &mut Rng) -> f64 {
    let (lo, span) = match rng.weighted(&[30, 45, 21, 4]) {
        0 => (1_000.0, 9_000.0),
        1 => (10_000.0, 90_000.0),
        2 => (100_000.0, 900_000.0),
        _ => (1_000_000.0, 1_000_000.0),
    };
    let u = rng.unit();
    let value = lo + span * u * u;
    let cents = (value * 100.0) as u64;
    let cents = match rng.below(10) {
        0..=4 => cents / 10_000 * 10_000,
        5..=7 => cents / 100 * 100,
        _ => cents,
    };
    cents.max(100_000) as f64 / 100.0
}
