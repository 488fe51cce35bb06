//! The seeded org's structure: business units by sales territory and the users in them (one
//! administrator, sales managers, reps, a few disabled leavers), and who may own what where.

use std::collections::HashSet;

use super::locale::{Country, LOCALES};
use super::rng::Rng;
use super::text::push_folded;
use super::{SeedBusinessUnit, SeedRole, SeedSize, SeedUser};
use Country::{France, Germany, Italy, Netherlands, Portugal, Spain, Uk, Us};

/// A business unit to create: its parent (by index; the root's is ignored), the countries whose
/// customers its reps own, and its share of the reps.
struct BuSpec {
    name: &'static str,
    parent: usize,
    countries: &'static [Country],
    reps: u32,
}

const fn bu(name: &'static str, parent: usize, countries: &'static [Country], reps: u32) -> BuSpec {
    BuSpec {
        name,
        parent,
        countries,
        reps,
    }
}

const EUROPE: &[Country] = &[Uk, Germany, France, Italy, Spain, Netherlands, Portugal];

const SMALL_BUS: &[BuSpec] = &[
    bu("", 0, &[], 0),
    bu("Sales Europe", 0, EUROPE, 1),
    bu("Sales North America", 0, &[Us], 1),
];

const MEDIUM_BUS: &[BuSpec] = &[
    bu("", 0, &[], 0),
    bu("Sales North America", 0, &[Us], 30),
    bu("Sales UK & Ireland", 0, &[Uk], 14),
    bu("Sales DACH", 0, &[Germany], 13),
    bu("Sales France", 0, &[France], 11),
    bu("Sales Italy", 0, &[Italy], 11),
    bu("Sales Iberia", 0, &[Spain, Portugal], 14),
    bu("Sales Benelux", 0, &[Netherlands], 7),
];

const LARGE_BUS: &[BuSpec] = &[
    bu("", 0, &[], 0),
    bu("Americas", 0, &[], 0),
    bu("US East", 1, &[Us], 10),
    bu("US Central", 1, &[Us], 8),
    bu("US West", 1, &[Us], 9),
    bu("US Inside Sales", 1, &[Us], 3),
    bu("EMEA", 0, &[], 0),
    bu("UK & Ireland", 6, &[], 0),
    bu("UK Enterprise", 7, &[Uk], 6),
    bu("UK Commercial", 7, &[Uk], 8),
    bu("DACH", 6, &[], 0),
    bu("Germany North", 10, &[Germany], 7),
    bu("Germany South", 10, &[Germany], 6),
    bu("France", 6, &[France], 11),
    bu("Italy", 6, &[], 0),
    bu("Italy North", 14, &[Italy], 7),
    bu("Italy Centre-South", 14, &[Italy], 4),
    bu("Iberia", 6, &[], 0),
    bu("Spain", 17, &[Spain], 9),
    bu("Portugal", 17, &[Portugal], 5),
    bu("Benelux", 6, &[Netherlands], 7),
];

/// The demo cast: names that show accents, apostrophes and particles in every list and e-mail.
/// Half carry an apostrophe, so any seven of them include one.
const SMALL_CAST: &[(&str, &str, Country)] = &[
    ("José", "Gonçalves", Portugal),
    ("Chloé", "Lefèvre", France),
    ("Jürgen", "Müller", Germany),
    ("Giulia", "D'Angelo", Italy),
    ("Sean", "O'Brien", Us),
    ("Emma", "van der Berg", Netherlands),
    ("Lucía", "Fernández", Spain),
    ("Siobhán", "O'Neill", Uk),
    ("Niccolò", "Dell'Acqua", Italy),
    ("Zoë", "D'Souza", Us),
    ("Björn", "Schäfer", Germany),
    ("Anaïs", "N'Diaye", France),
];

const MANAGER_TITLES: &[&str] = &[
    "Sales Manager",
    "Regional Sales Manager",
    "Sales Director",
    "Head of Sales",
];
const REP_TITLES: &[&str] = &[
    "Account Executive",
    "Sales Representative",
    "Key Account Manager",
    "Business Development Representative",
    "Inside Sales Representative",
    "Senior Account Executive",
    "Account Manager",
];

/// Who may own records in each country, as indices into the org's users.
pub(super) struct Staff {
    /// Per locale: owners weighted by how much they own (reps most, managers and leavers some).
    pub owners: Vec<Vec<u32>>,
    /// Per locale: active reps only, who take over open work.
    pub active: Vec<Vec<u32>>,
    /// Every active rep of the org, in user order.
    pub active_reps: Vec<u32>,
}

impl Staff {
    pub(super) fn owner(&self, locale: usize, rng: &mut Rng) -> u32 {
        rng.pick(&self.owners[locale])
    }

    pub(super) fn active_owner(&self, locale: usize, rng: &mut Rng) -> u32 {
        rng.pick(&self.active[locale])
    }
}

pub(super) struct OrgPeople {
    pub business_units: Vec<SeedBusinessUnit>,
    pub users: Vec<SeedUser>,
    pub staff: Staff,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Manager,
    Rep,
    Leaver,
}

pub(super) fn generate(size: SeedSize, org_name: &str, domain: &str, rng: &mut Rng) -> OrgPeople {
    let specs = match size {
        SeedSize::Small => SMALL_BUS,
        SeedSize::Medium => MEDIUM_BUS,
        SeedSize::Large => LARGE_BUS,
    };
    let mut business_units: Vec<SeedBusinessUnit> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let id = rng.uuid();
        let parent = if i == 0 {
            None
        } else {
            Some(business_units[spec.parent].id)
        };
        let name = if i == 0 { org_name } else { spec.name };
        business_units.push(SeedBusinessUnit {
            id,
            name: name.to_owned(),
            parent,
        });
    }

    let mut mailroom = Mailroom {
        domain,
        taken: HashSet::new(),
    };
    let mut users = Vec::new();
    mailroom.taken.insert(format!("admin@{domain}"));
    users.push(SeedUser {
        id: rng.uuid(),
        entra_object_id: rng.uuid(),
        first_name: "CRM".to_owned(),
        last_name: "Administrator".to_owned(),
        email: format!("admin@{domain}"),
        title: Some("CRM Administrator".to_owned()),
        business_unit: business_units[0].id,
        roles: vec![SeedRole::SystemAdministrator],
        is_disabled: false,
    });
    // The business unit of each user after the administrator, and what they do there.
    let mut placed: Vec<(usize, Kind)> = Vec::new();
    let leaves: Vec<usize> = (0..specs.len()).filter(|i| specs[*i].reps > 0).collect();
    let weights: Vec<u32> = leaves.iter().map(|i| specs[*i].reps).collect();

    if size == SeedSize::Small {
        let mut cast: Vec<usize> = (0..SMALL_CAST.len()).collect();
        rng.shuffle(&mut cast);
        for (n, c) in cast.iter().take(7).enumerate() {
            let (first, last, country) = SMALL_CAST[*c];
            let unit = leaves
                .iter()
                .copied()
                .find(|b| specs[*b].countries.contains(&country))
                .unwrap_or(leaves[0]);
            let kind = match n {
                0 => Kind::Manager,
                6 => Kind::Leaver,
                _ => Kind::Rep,
            };
            placed.push((unit, kind));
            users.push(user(
                first,
                last.to_owned(),
                last,
                kind,
                &business_units[unit],
                &mut mailroom,
                rng,
            ));
        }
    } else {
        let total = if size == SeedSize::Medium { 120 } else { 500 };
        let extra_managers = total / 60;
        let leavers = total / 35;
        for b in 1..specs.len() {
            placed.push((b, Kind::Manager));
        }
        for _ in 0..extra_managers {
            placed.push((leaves[rng.weighted(&weights)], Kind::Manager));
        }
        for _ in 0..leavers {
            placed.push((leaves[rng.weighted(&weights)], Kind::Leaver));
        }
        // Every territory gets a rep before the rest are spread by territory size.
        for b in &leaves {
            placed.push((*b, Kind::Rep));
        }
        while placed.len() + 1 < total {
            placed.push((leaves[rng.weighted(&weights)], Kind::Rep));
        }
        rng.shuffle(&mut placed[specs.len() - 1..]);
        for (unit, kind) in &placed {
            // Regional heads (EMEA, Americas) come from anywhere in their region.
            let locale = match specs[*unit].countries.first() {
                Some(country) => locale_of(*country),
                None => rng.weighted(&LOCALES.iter().map(|l| l.weight).collect::<Vec<_>>()),
            };
            let l = &LOCALES[locale];
            let female = rng.chance(50);
            let first = if female {
                rng.pick_common(l.female)
            } else {
                rng.pick_common(l.male)
            };
            let last = rng.pick_common(l.surnames);
            users.push(user(
                first,
                (*last).to_owned(),
                last,
                *kind,
                &business_units[*unit],
                &mut mailroom,
                rng,
            ));
        }
    }

    let mut owners = vec![Vec::new(); LOCALES.len()];
    let mut active = vec![Vec::new(); LOCALES.len()];
    let mut active_reps = Vec::new();
    for (i, (unit, kind)) in placed.iter().enumerate() {
        let user_index = (i + 1) as u32;
        if *kind == Kind::Rep {
            active_reps.push(user_index);
        }
        for country in specs[*unit].countries {
            let locale = locale_of(*country);
            let weight = match kind {
                Kind::Rep => 10,
                Kind::Manager | Kind::Leaver => 1,
            };
            owners[locale].extend(std::iter::repeat_n(user_index, weight));
            if *kind == Kind::Rep {
                active[locale].push(user_index);
            }
        }
    }
    // A country no territory covers is worked by the whole sales team.
    for locale in 0..LOCALES.len() {
        if active[locale].is_empty() {
            active[locale] = active_reps.clone();
        }
        if owners[locale].is_empty() {
            owners[locale] = active_reps.clone();
        }
    }
    OrgPeople {
        business_units,
        users,
        staff: Staff {
            owners,
            active,
            active_reps,
        },
    }
}

pub(super) fn locale_of(country: Country) -> usize {
    LOCALES
        .iter()
        .position(|l| l.country == country)
        .unwrap_or(0)
}

/// The org's mailboxes handed out so far.
struct Mailroom<'a> {
    domain: &'a str,
    taken: HashSet<String>,
}

impl Mailroom<'_> {
    /// `first.last@domain`, with a number for namesakes, as mail admins do ("john.smith2@").
    fn claim(&mut self, first: &str, last: &str) -> String {
        let mut local = String::with_capacity(24);
        push_folded(&mut local, first);
        local.push('.');
        push_folded(&mut local, last);
        let domain = self.domain;
        let mut email = format!("{local}@{domain}");
        let mut n = 2;
        while !self.taken.insert(email.clone()) {
            email = format!("{local}{n}@{domain}");
            n += 1;
        }
        email
    }
}

fn user(
    first: &str,
    last: String,
    mail_last: &str,
    kind: Kind,
    unit: &SeedBusinessUnit,
    mailroom: &mut Mailroom<'_>,
    rng: &mut Rng,
) -> SeedUser {
    let email = mailroom.claim(first, mail_last);
    let (role, titles) = match kind {
        Kind::Manager => (SeedRole::SalesManager, MANAGER_TITLES),
        Kind::Rep | Kind::Leaver => (SeedRole::Salesperson, REP_TITLES),
    };
    SeedUser {
        id: rng.uuid(),
        entra_object_id: rng.uuid(),
        first_name: first.to_owned(),
        last_name: last,
        email,
        title: rng.chance(90).then(|| rng.pick(titles).to_owned()),
        business_unit: unit.id,
        roles: vec![role],
        is_disabled: kind == Kind::Leaver,
    }
}
