//! What reps write: notes, messages and InMails (messages and InMails live in threads), the
//! Copy to CRM choice on each, and the rep's remembered default for new ones.

use chrono::{DateTime, Utc};

use crate::ids::{ActivityId, CompanyId, PersonId, SeatId, TenantId, ThreadId};

/// The three kinds of item the companion app has a table for (`lb_note`, `lb_message`, `lb_inmail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActivityKind {
    Note,
    Message,
    InMail,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 3] = [
        ActivityKind::InMail,
        ActivityKind::Message,
        ActivityKind::Note,
    ];

    /// The custom activity table the companion app installs for this kind.
    pub fn crm_table(self) -> &'static str {
        match self {
            ActivityKind::Note => "lb_note",
            ActivityKind::Message => "lb_message",
            ActivityKind::InMail => "lb_inmail",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActivityKind::Note => "Note",
            ActivityKind::Message => "Message",
            ActivityKind::InMail => "InMail",
        }
    }
}

/// Who or what an activity is about. Messages and InMails are always with a person; a note can
/// also be on a company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActivityAbout {
    Person(PersonId),
    Company(CompanyId),
}

/// "Copy to CRM" on one item. A message or InMail may leave it to its thread ("Copy thread to
/// CRM") or decide for itself ("Copy message to CRM").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyToCrm {
    Item(bool),
    AsThread,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub id: ActivityId,
    pub tenant: TenantId,
    /// The rep who wrote or sent it.
    pub seat: SeatId,
    pub kind: ActivityKind,
    pub about: ActivityAbout,
    pub thread: Option<ThreadId>,
    pub body: String,
    pub written_at: DateTime<Utc>,
    pub copy_to_crm: CopyToCrm,
}

/// A conversation of messages or InMails between a rep and a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub id: ThreadId,
    pub tenant: TenantId,
    pub seat: SeatId,
    pub person: PersonId,
    /// InMails carry a subject; plain message threads usually do not.
    pub subject: Option<String>,
    pub copy_to_crm: bool,
}

impl Activity {
    /// The choice that applies: the item's own, else its thread's; an item left to a thread it does
    /// not have is not copied, so nothing reaches the CRM without a tick somewhere.
    pub fn copies_to_crm(&self, thread: Option<&Thread>) -> bool {
        match self.copy_to_crm {
            CopyToCrm::Item(ticked) => ticked,
            CopyToCrm::AsThread => {
                thread.is_some_and(|t| Some(t.id) == self.thread && t.copy_to_crm)
            }
        }
    }
}

/// The rep's remembered Copy to CRM choice: new items start with whatever the rep last chose.
/// Writeback is strongly recommended by the guide, so a rep who never chose starts ticked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyToCrmDefault {
    pub ticked: bool,
}

impl Default for CopyToCrmDefault {
    fn default() -> Self {
        CopyToCrmDefault { ticked: true }
    }
}

impl CopyToCrmDefault {
    /// The remembered default after the rep ticks or unticks the box on a new item.
    pub fn remember(self, ticked: bool) -> Self {
        CopyToCrmDefault { ticked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(copy: CopyToCrm, thread: Option<ThreadId>) -> Activity {
        Activity {
            id: ActivityId::new_random(),
            tenant: TenantId::new_random(),
            seat: SeatId::new_random(),
            kind: ActivityKind::Message,
            about: ActivityAbout::Person(PersonId::new_random()),
            thread,
            body: "hi".into(),
            written_at: DateTime::<Utc>::UNIX_EPOCH,
            copy_to_crm: copy,
        }
    }

    fn thread(id: ThreadId, ticked: bool) -> Thread {
        Thread {
            id,
            tenant: TenantId::new_random(),
            seat: SeatId::new_random(),
            person: PersonId::new_random(),
            subject: None,
            copy_to_crm: ticked,
        }
    }

    #[test]
    fn item_choice_overrides_thread_choice() {
        let t = ThreadId::new_random();
        let other = ThreadId::new_random();
        let cases = [
            (CopyToCrm::Item(true), Some(t), Some(thread(t, false)), true),
            (
                CopyToCrm::Item(false),
                Some(t),
                Some(thread(t, true)),
                false,
            ),
            (CopyToCrm::AsThread, Some(t), Some(thread(t, true)), true),
            (CopyToCrm::AsThread, Some(t), Some(thread(t, false)), false),
            (CopyToCrm::AsThread, None, None, false),
            (CopyToCrm::AsThread, Some(t), None, false),
            // A thread that is not this item's does not decide for it.
            (
                CopyToCrm::AsThread,
                Some(t),
                Some(thread(other, true)),
                false,
            ),
            (CopyToCrm::Item(true), None, None, true),
        ];
        for (copy, thread_id, thread, expected) in cases {
            let a = activity(copy, thread_id);
            assert_eq!(
                a.copies_to_crm(thread.as_ref()),
                expected,
                "{copy:?} {thread:?}"
            );
        }
    }

    #[test]
    fn the_default_starts_ticked_and_remembers_the_last_choice() {
        let default = CopyToCrmDefault::default();
        assert!(default.ticked);
        let unticked = default.remember(false);
        assert!(!unticked.ticked);
        assert!(unticked.remember(true).ticked);
    }

    #[test]
    fn each_kind_has_its_own_companion_table() {
        let tables: std::collections::BTreeSet<_> = ActivityKind::ALL
            .into_iter()
            .map(ActivityKind::crm_table)
            .collect();
        assert_eq!(tables.len(), 3);
    }
}
