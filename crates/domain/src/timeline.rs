//! The life of one writeback: its states, the events that move it, the transitions allowed, a
//! per-record timeline of what happened, and the Unassigned Activities list.

use chrono::{DateTime, Utc};

use crate::activity::{ActivityAbout, ActivityKind};
use crate::crm::CrmPersonRef;
use crate::ids::{ActivityId, CrmActivityId, SeatId};
use crate::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use crate::writeback::{ExternalKey, NotWritten, Regarding};

/// Which CRM call a failure interrupted, so a retry resumes the right one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Write,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WritebackState {
    /// To be written (or rewritten) by the next writeback job.
    Pending,
    /// Written Completed and linked to the record, so it shows in its Activity History.
    Written {
        crm_activity: CrmActivityId,
        regarding: Regarding,
    },
    /// Written Open with nothing to link to: listed in Unassigned Activities until resolved.
    Unassigned { crm_activity: CrmActivityId },
    /// Copy to CRM was unticked after the write; the CRM row is to be deleted (by our key).
    RemovalPending,
    Failed {
        reason: String,
        retriable: bool,
        during: Operation,
    },
    /// Deleted from the CRM, by us or by someone in the CRM.
    Removed,
    /// Never written: unticked before it was, or the writeback rules left it out.
    Dropped { reason: String },
}

/// How a rep resolved an unassigned activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    CreatedContact,
    CreatedLead,
    LinkedToRecord,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WritebackEvent {
    /// The rep edited the text; the CRM row is updated in place by our key.
    Edited,
    /// The person (or company) got matched, or rematched, to a CRM record.
    Matched {
        regarding: Regarding,
    },
    /// The upsert succeeded; `regarding` is what it was linked to, if anything.
    Written {
        crm_activity: CrmActivityId,
        regarding: Option<Regarding>,
    },
    Failed {
        reason: String,
        retriable: bool,
    },
    Retried,
    /// A sync read the row back: someone may have linked it in the CRM directly.
    Read {
        regarding: Option<Regarding>,
    },
    DeletedInCrm,
    /// The rep resolved it from Unassigned Activities and the CRM row is now linked and Completed.
    Resolved {
        how: Resolution,
        regarding: Regarding,
    },
    CopyUnticked,
    CopyTicked,
    /// The writeback decision left it out (writeback off, kind not chosen, rep not in CRM…).
    Skipped(NotWritten),
    /// Our delete in the CRM succeeded.
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} cannot happen to a writeback in state {state:?}")]
pub struct InvalidTransition {
    pub state: WritebackState,
    pub event: WritebackEvent,
}

/// The state after `event`, or why it cannot happen. Pure: the record and the store apply it.
pub fn transition(
    state: &WritebackState,
    event: &WritebackEvent,
) -> Result<WritebackState, InvalidTransition> {
    use WritebackEvent as E;
    use WritebackState as S;
    let next = match (state, event) {
        (S::Pending, E::Edited | E::Matched { .. }) => Some(S::Pending),
        // Matched to the record it is already linked to: nothing to rewrite.
        (S::Written { regarding, .. }, E::Matched { regarding: new }) if regarding == new => {
            Some(state.clone())
        }
        (S::Written { .. } | S::Unassigned { .. }, E::Edited | E::Matched { .. }) => {
            Some(S::Pending)
        }
        // Reps edit and people get matched whatever the writeback is doing; for an item that is
        // not (or no longer) meant for the CRM that changes nothing, and is not an error.
        (
            S::RemovalPending
            | S::Removed
            | S::Dropped { .. }
            | S::Failed {
                during: Operation::Remove,
                ..
            },
            E::Edited | E::Matched { .. },
        ) => Some(state.clone()),
        (
            S::Failed {
                during: Operation::Write,
                ..
            },
            E::Edited | E::Matched { .. },
        ) => Some(S::Pending),

        (
            S::Pending,
            E::Written {
                crm_activity,
                regarding,
            },
        ) => Some(written(*crm_activity, *regarding)),
        (S::Pending, E::Failed { reason, retriable }) => Some(S::Failed {
            reason: reason.clone(),
            retriable: *retriable,
            during: Operation::Write,
        }),
        (S::RemovalPending, E::Failed { reason, retriable }) => Some(S::Failed {
            reason: reason.clone(),
            retriable: *retriable,
            during: Operation::Remove,
        }),
        (S::Failed { during, .. }, E::Retried) => Some(match during {
            Operation::Write => S::Pending,
            Operation::Remove => S::RemovalPending,
        }),

        (
            S::Written { crm_activity, .. } | S::Unassigned { crm_activity },
            E::Read { regarding },
        ) => Some(written(*crm_activity, *regarding)),
        (S::Written { .. } | S::Unassigned { .. } | S::RemovalPending, E::DeletedInCrm) => {
            Some(S::Removed)
        }
        (S::Unassigned { crm_activity }, E::Resolved { regarding, .. }) => Some(S::Written {
            crm_activity: *crm_activity,
            regarding: *regarding,
        }),

        (
            S::Pending
            | S::Failed {
                during: Operation::Write,
                ..
            },
            E::CopyUnticked,
        ) => Some(S::Dropped {
            reason: "Copy to CRM was unticked before it was written.".to_owned(),
        }),
        (S::Written { .. } | S::Unassigned { .. }, E::CopyUnticked) => Some(S::RemovalPending),
        (
            S::Dropped { .. }
            | S::Removed
            | S::RemovalPending
            | S::Failed {
                during: Operation::Remove,
                ..
            },
            E::CopyTicked,
        ) => Some(S::Pending),

        (S::Pending, E::Skipped(reason)) => Some(S::Dropped {
            reason: reason.to_string(),
        }),
        (S::RemovalPending, E::Removed) => Some(S::Removed),
        _ => None,
    };
    next.ok_or_else(|| InvalidTransition {
        state: state.clone(),
        event: event.clone(),
    })
}

fn written(crm_activity: CrmActivityId, regarding: Option<Regarding>) -> WritebackState {
    match regarding {
        Some(regarding) => WritebackState::Written {
            crm_activity,
            regarding,
        },
        None => WritebackState::Unassigned { crm_activity },
    }
}

/// The match a resolution teaches us, so the person's (or company's) next activities are linked
/// and the other unassigned ones can be rewritten as Completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolvedMatch {
    Person(PersonMatch),
    Company(CompanyMatch),
}

/// None when the record picked cannot stand for what the activity is about (an account for a
/// person, a contact for a company): the resolution links the activity but teaches no match.
pub fn match_for_resolution(
    about: ActivityAbout,
    how: Resolution,
    regarding: Regarding,
) -> Option<ResolvedMatch> {
    let explanation = match how {
        Resolution::CreatedContact => "Contact created from Unassigned Activities.",
        Resolution::CreatedLead => "Lead created from Unassigned Activities.",
        Resolution::LinkedToRecord => "Linked by a rep from Unassigned Activities.",
    }
    .to_owned();
    let person = |person, crm| {
        Some(ResolvedMatch::Person(PersonMatch {
            person,
            crm,
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::ByRep,
            explanation: explanation.clone(),
        }))
    };
    match (about, regarding) {
        (ActivityAbout::Person(p), Regarding::Contact(contact)) => {
            person(p, CrmPersonRef::Contact(contact))
        }
        (ActivityAbout::Person(p), Regarding::Lead(lead)) => person(p, CrmPersonRef::Lead(lead)),
        (ActivityAbout::Company(company), Regarding::Account(account)) => {
            Some(ResolvedMatch::Company(CompanyMatch {
                company,
                account,
                confidence: Confidence::CERTAIN,
                origin: MatchOrigin::ByRep,
                explanation,
            }))
        }
        (ActivityAbout::Person(_), Regarding::Account(_))
        | (ActivityAbout::Company(_), Regarding::Contact(_) | Regarding::Lead(_)) => None,
    }
}

/// One line of a record's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `None` for the first entry: the item was saved with Copy to CRM ticked.
    pub event: Option<WritebackEvent>,
    pub state: WritebackState,
}

/// One activity's writeback, with everything that happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritebackRecord {
    pub activity: ActivityId,
    pub seat: SeatId,
    pub kind: ActivityKind,
    pub key: ExternalKey,
    pub state: WritebackState,
    pub timeline: Vec<TimelineEntry>,
}

impl WritebackRecord {
    /// A record starts when an item is saved with Copy to CRM ticked.
    pub fn saved(
        activity: ActivityId,
        seat: SeatId,
        kind: ActivityKind,
        key: ExternalKey,
        at: DateTime<Utc>,
    ) -> Self {
        WritebackRecord {
            activity,
            seat,
            kind,
            key,
            state: WritebackState::Pending,
            timeline: vec![TimelineEntry {
                at,
                event: None,
                state: WritebackState::Pending,
            }],
        }
    }

    /// Applies an event; a refused one leaves the record untouched.
    pub fn apply(
        &mut self,
        event: WritebackEvent,
        at: DateTime<Utc>,
    ) -> Result<(), InvalidTransition> {
        let next = transition(&self.state, &event)?;
        self.state = next.clone();
        self.timeline.push(TimelineEntry {
            at,
            event: Some(event),
            state: next,
        });
        Ok(())
    }
}

/// A line of the Unassigned Activities report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnassignedActivity {
    pub activity: ActivityId,
    pub seat: SeatId,
    pub kind: ActivityKind,
    pub crm_activity: CrmActivityId,
    /// When it became unassigned.
    pub since: DateTime<Utc>,
}

/// Activities written Open without a match, oldest first; one rep's or everyone's.
pub fn unassigned_activities(
    records: &[WritebackRecord],
    seat: Option<SeatId>,
) -> Vec<UnassignedActivity> {
    let mut list: Vec<UnassignedActivity> = records
        .iter()
        .filter(|r| seat.is_none_or(|s| s == r.seat))
        .filter_map(|r| match r.state {
            WritebackState::Unassigned { crm_activity } => Some(UnassignedActivity {
                activity: r.activity,
                seat: r.seat,
                kind: r.kind,
                crm_activity,
                since: r
                    .timeline
                    .last()
                    .map_or(DateTime::<Utc>::UNIX_EPOCH, |e| e.at),
            }),
            _ => None,
        })
        .collect();
    list.sort_by_key(|u| (u.since, u.activity));
    list
}

#[cfg(test)]
mod tests;
