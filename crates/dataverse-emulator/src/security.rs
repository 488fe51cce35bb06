//! Security roles, their privileges and depths, and the user ↔ role assignments: what lets a
//! principal read, create or act on behalf of someone, and the exact 403 Dataverse gives when not.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::metadata::stable_id;

/// `PrivilegeDepth`, returned by name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Depth {
    Basic,
    Local,
    Deep,
    Global,
}

impl Depth {
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::Basic => "Basic",
            Depth::Local => "Local",
            Depth::Deep => "Deep",
            Depth::Global => "Global",
        }
    }

    pub fn parse(s: &str) -> Option<Depth> {
        match s {
            "Basic" | "User" | "0" => Some(Depth::Basic),
            "Local" | "BusinessUnit" | "1" => Some(Depth::Local),
            "Deep" | "ParentChildBusinessUnit" | "2" => Some(Depth::Deep),
            "Global" | "Organization" | "3" => Some(Depth::Global),
            _ => None,
        }
    }
}

/// The privilege verbs every table has.
pub const VERBS: &[&str] = &[
    "Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share",
];

/// The privilege that lets a caller impersonate another user (`CallerObjectId`).
pub const ACT_ON_BEHALF: &str = "prvActOnBehalfOfAnotherUser";

pub fn privilege_id(name: &str) -> Uuid {
    stable_id(&["privilege", &name.to_ascii_lowercase()])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub business_unit: Uuid,
    /// System Administrator holds every privilege at organization depth.
    pub all_privileges: bool,
    pub privileges: BTreeMap<String, Depth>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Security {
    pub roles: HashMap<Uuid, Role>,
    pub user_roles: HashMap<Uuid, Vec<Uuid>>,
    /// Every privilege name the org knows (for System Administrator listings).
    pub known_privileges: Vec<String>,
}

impl Security {
    /// The deepest depth at which `user` holds `privilege` through any of its roles.
    pub fn depth(&self, user: Uuid, privilege: &str) -> Option<Depth> {
        let roles = self.user_roles.get(&user)?;
        roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .filter_map(|r| {
                if r.all_privileges {
                    Some(Depth::Global)
                } else {
                    r.privileges
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(privilege))
                        .map(|(_, d)| *d)
                }
            })
            .max()
    }

    /// Every privilege the user holds, with its deepest depth and the business unit of the role
    /// granting it.
    pub fn privileges_of(&self, user: Uuid) -> BTreeMap<String, (Depth, Uuid)> {
        let mut out: BTreeMap<String, (Depth, Uuid)> = BTreeMap::new();
        for role in self
            .user_roles
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|r| self.roles.get(r))
        {
            let granted: Vec<(String, Depth)> = if role.all_privileges {
                self.known_privileges
                    .iter()
                    .map(|p| (p.clone(), Depth::Global))
                    .collect()
            } else {
                role.privileges
                    .iter()
                    .map(|(p, d)| (p.clone(), *d))
                    .collect()
            };
            for (p, d) in granted {
                let entry = out.entry(p).or_insert((d, role.business_unit));
                if d > entry.0 {
                    *entry = (d, role.business_unit);
                }
            }
        }
        out
    }

    pub fn role_count(&self, user: Uuid) -> usize {
        self.user_roles.get(&user).map_or(0, Vec::len)
    }

    pub fn privilege_count(&self, user: Uuid) -> usize {
        self.privileges_of(user).len()
    }

    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles
            .values()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// The standard roles a Dynamics 365 Sales org comes with (the parts leadbridge cares about).
pub fn standard_roles(business_unit: Uuid) -> Vec<Role> {
    let mut salesperson = BTreeMap::new();
    for t in ["Account", "Contact", "Lead", "Opportunity"] {
        salesperson.insert(format!("prvRead{t}"), Depth::Local);
        for v in ["Create", "Write", "Append", "AppendTo"] {
            salesperson.insert(format!("prv{v}{t}"), Depth::Basic);
        }
    }
    for v in ["Create", "Read", "Write", "Delete", "Append", "AppendTo"] {
        salesperson.insert(format!("prv{v}Activity"), Depth::Basic);
        salesperson.insert(format!("prv{v}Note"), Depth::Basic);
    }
    for t in [
        "User",
        "BusinessUnit",
        "TransactionCurrency",
        "Organization",
    ] {
        salesperson.insert(format!("prvRead{t}"), Depth::Global);
    }
    let mut manager = salesperson.clone();
    for (name, depth) in manager.iter_mut() {
        if name.starts_with("prvRead") {
            *depth = Depth::Global;
        } else {
            *depth = Depth::Deep;
        }
    }
    vec![
        Role {
            id: stable_id(&["role", "System Administrator"]),
            name: "System Administrator".into(),
            business_unit,
            all_privileges: true,
            privileges: BTreeMap::new(),
        },
        Role {
            id: stable_id(&["role", "Sales Manager"]),
            name: "Sales Manager".into(),
            business_unit,
            all_privileges: false,
            privileges: manager,
        },
        Role {
            id: stable_id(&["role", "Salesperson"]),
            name: "Salesperson".into(),
            business_unit,
            all_privileges: false,
            privileges: salesperson,
        },
    ]
}
