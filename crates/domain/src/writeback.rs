//! Whether and how one note, message or InMail is written to the CRM: the target and its state
//! (Completed and linked, or Open and unassigned), texts cut to Dataverse limits, and its key.

use chrono::{DateTime, Utc};
use unicode_segmentation::UnicodeSegmentation;
use uuid::Uuid;

use crate::activity::{Activity, ActivityAbout, ActivityKind, Thread};
use crate::crm::{CompanionApp, CrmPersonRef};
use crate::ids::{ActivityId, CrmAccountId, CrmContactId, CrmLeadId, CrmUserId, TenantId};
use crate::matches::MatchIndex;
use crate::seat_mapping::{InCrm, NotInCrm};
use crate::settings::WritebackSettings;

/// Longest `subject` the companion app's activity tables accept.
pub const SUBJECT_MAX: usize = 200;
/// Longest `description` on activities (activitypointer, MS Learn entity reference).
pub const DESCRIPTION_MAX: usize = 2000;

/// Our stable key for an activity, written to the companion tables' alternate key column so a
/// retried upsert updates the row it already wrote instead of adding a second one. It includes the
/// tenant so two workspaces writing to one org cannot collide, and survives a purge and reconnect,
/// so rewriting after a reconnect updates rather than duplicates.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalKey(String);

impl ExternalKey {
    pub fn for_activity(tenant: TenantId, activity: ActivityId) -> Self {
        ExternalKey(format!("lb-{}-{}", tenant.0.simple(), activity.0.simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the note (annotation) holding the full text when it did not fit. Dataverse lets a
    /// create set the primary key, so a retry upserts the same note.
    pub fn overflow_note_id(&self) -> Uuid {
        Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("{}:overflow", self.0).as_bytes(),
        )
    }
}

/// The record an activity is linked to ("regarding").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regarding {
    Contact(CrmContactId),
    Lead(CrmLeadId),
    Account(CrmAccountId),
}

/// Closed (Completed, shown in the record's Activity History) when linked; Open and listed in
/// Unassigned Activities when there is no record to link to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrmActivityState {
    Completed,
    Open,
}

/// The full text, attached as a note on the activity when the subject or description had to be cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overflow {
    pub note_id: Uuid,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritebackPlan {
    pub key: ExternalKey,
    pub kind: ActivityKind,
    /// The rep's CRM user owns the activity.
    pub owner: CrmUserId,
    /// Impersonate the rep (so the rep is also the creator) when the connection may.
    pub on_behalf_of: Option<CrmUserId>,
    pub regarding: Option<Regarding>,
    pub state: CrmActivityState,
    pub subject: String,
    pub description: String,
    pub overflow: Option<Overflow>,
    pub occurred_at: DateTime<Utc>,
}

/// Why an item is not written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotWritten {
    #[error("Writeback to the CRM is turned off.")]
    WritebackOff,
    #[error("The leadbridge for Dynamics app is not installed in the CRM.")]
    CompanionAppMissing,
    #[error("Your admin does not sync back this kind of item.")]
    KindNotChosen(ActivityKind),
    #[error("Copy to CRM is not ticked.")]
    NotCopiedToCrm,
    #[error("Your seat is not in the CRM: {0}")]
    RepNotInCrm(NotInCrm),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WritebackDecision {
    Write(Box<WritebackPlan>),
    Skip(NotWritten),
}

#[derive(Clone, Copy, Debug)]
pub struct WritebackInput<'a> {
    pub settings: &'a WritebackSettings,
    pub companion_app: &'a CompanionApp,
    pub can_act_on_behalf_of_reps: bool,
    /// The "In CRM" badge of the activity's seat: sync on and a CRM user found.
    pub rep: &'a InCrm,
    pub activity: &'a Activity,
    pub thread: Option<&'a Thread>,
    pub matches: &'a MatchIndex,
}

pub fn decide(input: WritebackInput<'_>) -> WritebackDecision {
    let activity = input.activity;
    if !input.settings.enabled {
        return WritebackDecision::Skip(NotWritten::WritebackOff);
    }
    if !input.companion_app.is_installed() {
        return WritebackDecision::Skip(NotWritten::CompanionAppMissing);
    }
    if !input.settings.covers(activity.kind) {
        return WritebackDecision::Skip(NotWritten::KindNotChosen(activity.kind));
    }
    if !activity.copies_to_crm(input.thread) {
        return WritebackDecision::Skip(NotWritten::NotCopiedToCrm);
    }
    let owner = match input.rep {
        InCrm::Yes(user) => *user,
        InCrm::No(reason) => {
            return WritebackDecision::Skip(NotWritten::RepNotInCrm(reason.clone()));
        }
    };
    let regarding = match activity.about {
        ActivityAbout::Person(person) => {
            input.matches.crm_for_person(person).map(|crm| match crm {
                CrmPersonRef::Contact(contact) => Regarding::Contact(contact),
                CrmPersonRef::Lead(lead) => Regarding::Lead(lead),
            })
        }
        ActivityAbout::Company(company) => input
            .matches
            .account_for_company(company)
            .map(Regarding::Account),
    };
    let state = if regarding.is_some() {
        CrmActivityState::Completed
    } else {
        CrmActivityState::Open
    };
    let key = ExternalKey::for_activity(activity.tenant, activity.id);
    let texts = activity_texts(
        activity.kind,
        input.thread.and_then(|t| t.subject.as_deref()),
        &activity.body,
    );
    WritebackDecision::Write(Box::new(WritebackPlan {
        overflow: texts.overflow.map(|text| Overflow {
            note_id: key.overflow_note_id(),
            text,
        }),
        key,
        kind: activity.kind,
        owner,
        on_behalf_of: input.can_act_on_behalf_of_reps.then_some(owner),
        regarding,
        state,
        subject: texts.subject,
        description: texts.description,
        occurred_at: activity.written_at,
    }))
}

/// Subject, description and, when anything had to be cut, the whole text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityTexts {
    pub subject: String,
    pub description: String,
    pub overflow: Option<String>,
}

const ELLIPSIS: &str = "…";
const OVERFLOW_NOTICE: &str = "\n\n[…] The full text is attached as a note.";

/// `InMail: <thread subject>`, or the first line of the body when the thread has no subject.
/// Nothing is lost: whenever the subject or the body is cut, `overflow` holds both whole.
pub fn activity_texts(
    kind: ActivityKind,
    thread_subject: Option<&str>,
    body: &str,
) -> ActivityTexts {
    let from_thread = thread_subject.map(one_line).filter(|s| !s.is_empty());
    let headline = from_thread
        .clone()
        .or_else(|| body.lines().map(one_line).find(|l| !l.is_empty()));
    let full_subject = match &headline {
        Some(headline) => format!("{}: {headline}", kind.label()),
        None => kind.label().to_owned(),
    };
    let (subject, subject_cut) = cut(&full_subject, SUBJECT_MAX, ELLIPSIS);
    let (description, body_cut) = cut(body, DESCRIPTION_MAX, OVERFLOW_NOTICE);
    // A subject taken from the body's first line is whole in the description unless that is cut too.
    let lost_subject = subject_cut && from_thread.is_some();
    let overflow = (lost_subject || body_cut).then(|| format!("{full_subject}\n\n{body}"));
    ActivityTexts {
        subject,
        description,
        overflow,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Length as Dataverse counts it. It is a .NET service and string lengths there are UTF-16 code
/// units (an inference, not documented); counting those is never more lenient than counting characters.
pub fn dataverse_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` if it fits in `max`, else its longest prefix that ends on a grapheme boundary followed
/// by `marker`, together fitting in `max`. A single grapheme longer than the room (only seen in
/// abuse) is cut between characters instead, as the fallback.
fn cut(text: &str, max: usize, marker: &str) -> (String, bool) {
    if dataverse_len(text) <= max {
        return (text.to_owned(), false);
    }
    let room = max.saturating_sub(dataverse_len(marker));
    let mut end = 0;
    let mut used = 0;
    for (start, grapheme) in text.grapheme_indices(true) {
        let len = dataverse_len(grapheme);
        if used + len > room {
            break;
        }
        used += len;
        end = start + grapheme.len();
    }
    if end == 0 {
        for (start, ch) in text.char_indices() {
            if used + ch.len_utf16() > room {
                break;
            }
            used += ch.len_utf16();
            end = start + ch.len_utf8();
        }
    }
    let mut kept = text.get(..end).unwrap_or_default();
    while let Some(last) = kept.graphemes(true).next_back()
        && last.chars().all(char::is_whitespace)
    {
        kept = kept.get(..kept.len() - last.len()).unwrap_or_default();
    }
    (format!("{kept}{marker}"), true)
}

#[cfg(test)]
mod tests;
