//! Writeback records: one per activity meant for the CRM, its state as the domain's state machine
//! moves it, the timeline of every event, the Unassigned Activities list, and the writeback job.

use chrono::{DateTime, Utc};
use domain::activity::ActivityKind;
use domain::ids::{ActivityId, CrmActivityId, SeatId};
use domain::timeline::{
    TimelineEntry, UnassignedActivity, WritebackEvent, WritebackRecord, WritebackState, transition,
};
use domain::writeback::ExternalKey;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, millis};
use crate::error::{Result, StoreError};
use crate::jobs::Job;

/// Write (or remove) one activity in the CRM. Enqueued with every change that affects what the CRM
/// should hold; several changes before it runs make one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritebackJob {
    pub activity: uuid::Uuid,
}

impl Job for WritebackJob {
    const KIND: &'static str = "writeback";

    fn dedup_key(&self) -> Option<String> {
        Some(self.activity.to_string())
    }
}

/// The stored spelling of the domain's writeback states and events (the domain types are not
/// serialisable by design: wire formats live at the edges).
mod wire {
    use domain::activity::ActivityKind;
    use domain::ids::CrmUserId;
    use domain::seat_mapping::{NotInCrm, NotMatched};
    use domain::timeline::{Operation, Resolution, WritebackEvent, WritebackState};
    use domain::writeback::{NotWritten, Regarding};
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "table", content = "id", rename_all = "snake_case")]
    pub enum RegardingJson {
        Contact(Uuid),
        Lead(Uuid),
        Account(Uuid),
    }

    impl From<Regarding> for RegardingJson {
        fn from(r: Regarding) -> Self {
            match r {
                Regarding::Contact(id) => RegardingJson::Contact(id.0),
                Regarding::Lead(id) => RegardingJson::Lead(id.0),
                Regarding::Account(id) => RegardingJson::Account(id.0),
            }
        }
    }

    impl From<RegardingJson> for Regarding {
        fn from(r: RegardingJson) -> Self {
            match r {
                RegardingJson::Contact(id) => Regarding::Contact(id.into()),
                RegardingJson::Lead(id) => Regarding::Lead(id.into()),
                RegardingJson::Account(id) => Regarding::Account(id.into()),
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum OperationJson {
        Write,
        Remove,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "state", rename_all = "snake_case")]
    pub enum StateJson {
        Pending,
        Written {
            crm_activity: Uuid,
            regarding: RegardingJson,
        },
        Unassigned {
            crm_activity: Uuid,
        },
        RemovalPending,
        Failed {
            reason: String,
            retriable: bool,
            during: OperationJson,
        },
        Removed,
        Dropped {
            reason: String,
        },
    }

    impl From<&WritebackState> for StateJson {
        fn from(state: &WritebackState) -> Self {
            match state {
                WritebackState::Pending => StateJson::Pending,
                WritebackState::Written {
                    crm_activity,
                    regarding,
                } => StateJson::Written {
                    crm_activity: crm_activity.0,
                    regarding: (*regarding).into(),
                },
                WritebackState::Unassigned { crm_activity } => StateJson::Unassigned {
                    crm_activity: crm_activity.0,
                },
                WritebackState::RemovalPending => StateJson::RemovalPending,
                WritebackState::Failed {
                    reason,
                    retriable,
                    during,
                } => StateJson::Failed {
                    reason: reason.clone(),
                    retriable: *retriable,
                    during: match during {
                        Operation::Write => OperationJson::Write,
                        Operation::Remove => OperationJson::Remove,
                    },
                },
                WritebackState::Removed => StateJson::Removed,
                WritebackState::Dropped { reason } => StateJson::Dropped {
                    reason: reason.clone(),
                },
            }
        }
    }

    impl From<StateJson> for WritebackState {
        fn from(state: StateJson) -> Self {
            match state {
                StateJson::Pending => WritebackState::Pending,
                StateJson::Written {
                    crm_activity,
                    regarding,
                } => WritebackState::Written {
                    crm_activity: crm_activity.into(),
                    regarding: regarding.into(),
                },
                StateJson::Unassigned { crm_activity } => WritebackState::Unassigned {
                    crm_activity: crm_activity.into(),
                },
                StateJson::RemovalPending => WritebackState::RemovalPending,
                StateJson::Failed {
                    reason,
                    retriable,
                    during,
                } => WritebackState::Failed {
                    reason,
                    retriable,
                    during: match during {
                        OperationJson::Write => Operation::Write,
                        OperationJson::Remove => Operation::Remove,
                    },
                },
                StateJson::Removed => WritebackState::Removed,
                StateJson::Dropped { reason } => WritebackState::Dropped { reason },
            }
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ResolutionJson {
        CreatedContact,
        CreatedLead,
        LinkedToRecord,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
    pub enum NotWrittenJson {
        WritebackOff,
        CompanionAppMissing,
        KindNotChosen(String),
        NotCopiedToCrm,
        SeatSyncOff,
        SeatHasNoEmail,
        NoCrmUserWithEmail,
        CrmUserDisabled,
        SeveralCrmUsersShareEmail(Vec<Uuid>),
    }

    fn kind_word(kind: ActivityKind) -> String {
        super::Word::word(kind).to_owned()
    }

    impl From<&NotWritten> for NotWrittenJson {
        fn from(n: &NotWritten) -> Self {
            match n {
                NotWritten::WritebackOff => NotWrittenJson::WritebackOff,
                NotWritten::CompanionAppMissing => NotWrittenJson::CompanionAppMissing,
                NotWritten::KindNotChosen(kind) => NotWrittenJson::KindNotChosen(kind_word(*kind)),
                NotWritten::NotCopiedToCrm => NotWrittenJson::NotCopiedToCrm,
                NotWritten::RepNotInCrm(NotInCrm::SyncOff) => NotWrittenJson::SeatSyncOff,
                NotWritten::RepNotInCrm(NotInCrm::NotMatched(m)) => match m {
                    NotMatched::SeatHasNoEmail => NotWrittenJson::SeatHasNoEmail,
                    NotMatched::NoCrmUserWithEmail => NotWrittenJson::NoCrmUserWithEmail,
                    NotMatched::CrmUserDisabled => NotWrittenJson::CrmUserDisabled,
                    NotMatched::SeveralCrmUsersShareEmail(users) => {
                        NotWrittenJson::SeveralCrmUsersShareEmail(
                            users.iter().map(|u| u.0).collect(),
                        )
                    }
                },
            }
        }
    }

    impl TryFrom<NotWrittenJson> for NotWritten {
        type Error = crate::StoreError;

        fn try_from(n: NotWrittenJson) -> Result<Self, Self::Error> {
            let not_matched = |m| NotWritten::RepNotInCrm(NotInCrm::NotMatched(m));
            Ok(match n {
                NotWrittenJson::WritebackOff => NotWritten::WritebackOff,
                NotWrittenJson::CompanionAppMissing => NotWritten::CompanionAppMissing,
                NotWrittenJson::KindNotChosen(kind) => {
                    NotWritten::KindNotChosen(<ActivityKind as super::Word>::from_word(&kind)?)
                }
                NotWrittenJson::NotCopiedToCrm => NotWritten::NotCopiedToCrm,
                NotWrittenJson::SeatSyncOff => NotWritten::RepNotInCrm(NotInCrm::SyncOff),
                NotWrittenJson::SeatHasNoEmail => not_matched(NotMatched::SeatHasNoEmail),
                NotWrittenJson::NoCrmUserWithEmail => not_matched(NotMatched::NoCrmUserWithEmail),
                NotWrittenJson::CrmUserDisabled => not_matched(NotMatched::CrmUserDisabled),
                NotWrittenJson::SeveralCrmUsersShareEmail(users) => {
                    not_matched(NotMatched::SeveralCrmUsersShareEmail(
                        users.into_iter().map(CrmUserId::from).collect(),
                    ))
                }
            })
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "event", rename_all = "snake_case")]
    pub enum EventJson {
        Edited,
        Matched {
            regarding: RegardingJson,
        },
        Written {
            crm_activity: Uuid,
            regarding: Option<RegardingJson>,
        },
        Failed {
            reason: String,
            retriable: bool,
        },
        Retried,
        Read {
            regarding: Option<RegardingJson>,
        },
        DeletedInCrm,
        Resolved {
            how: ResolutionJson,
            regarding: RegardingJson,
        },
        CopyUnticked,
        CopyTicked,
        Skipped {
            why: NotWrittenJson,
        },
        Removed,
    }

    impl From<&WritebackEvent> for EventJson {
        fn from(event: &WritebackEvent) -> Self {
            match event {
                WritebackEvent::Edited => EventJson::Edited,
                WritebackEvent::Matched { regarding } => EventJson::Matched {
                    regarding: (*regarding).into(),
                },
                WritebackEvent::Written {
                    crm_activity,
                    regarding,
                } => EventJson::Written {
                    crm_activity: crm_activity.0,
                    regarding: regarding.map(Into::into),
                },
                WritebackEvent::Failed { reason, retriable } => EventJson::Failed {
                    reason: reason.clone(),
                    retriable: *retriable,
                },
                WritebackEvent::Retried => EventJson::Retried,
                WritebackEvent::Read { regarding } => EventJson::Read {
                    regarding: regarding.map(Into::into),
                },
                WritebackEvent::DeletedInCrm => EventJson::DeletedInCrm,
                WritebackEvent::Resolved { how, regarding } => EventJson::Resolved {
                    how: match how {
                        Resolution::CreatedContact => ResolutionJson::CreatedContact,
                        Resolution::CreatedLead => ResolutionJson::CreatedLead,
                        Resolution::LinkedToRecord => ResolutionJson::LinkedToRecord,
                    },
                    regarding: (*regarding).into(),
                },
                WritebackEvent::CopyUnticked => EventJson::CopyUnticked,
                WritebackEvent::CopyTicked => EventJson::CopyTicked,
                WritebackEvent::Skipped(why) => EventJson::Skipped { why: why.into() },
                WritebackEvent::Removed => EventJson::Removed,
            }
        }
    }

    impl TryFrom<EventJson> for WritebackEvent {
        type Error = crate::StoreError;

        fn try_from(event: EventJson) -> Result<Self, Self::Error> {
            Ok(match event {
                EventJson::Edited => WritebackEvent::Edited,
                EventJson::Matched { regarding } => WritebackEvent::Matched {
                    regarding: regarding.into(),
                },
                EventJson::Written {
                    crm_activity,
                    regarding,
                } => WritebackEvent::Written {
                    crm_activity: crm_activity.into(),
                    regarding: regarding.map(Into::into),
                },
                EventJson::Failed { reason, retriable } => {
                    WritebackEvent::Failed { reason, retriable }
                }
                EventJson::Retried => WritebackEvent::Retried,
                EventJson::Read { regarding } => WritebackEvent::Read {
                    regarding: regarding.map(Into::into),
                },
                EventJson::DeletedInCrm => WritebackEvent::DeletedInCrm,
                EventJson::Resolved { how, regarding } => WritebackEvent::Resolved {
                    how: match how {
                        ResolutionJson::CreatedContact => Resolution::CreatedContact,
                        ResolutionJson::CreatedLead => Resolution::CreatedLead,
                        ResolutionJson::LinkedToRecord => Resolution::LinkedToRecord,
                    },
                    regarding: regarding.into(),
                },
                EventJson::CopyUnticked => WritebackEvent::CopyUnticked,
                EventJson::CopyTicked => WritebackEvent::CopyTicked,
                EventJson::Skipped { why } => WritebackEvent::Skipped(why.try_into()?),
                EventJson::Removed => WritebackEvent::Removed,
            })
        }
    }
}

/// The word in the `state` column, what lists filter on.
pub fn state_word(state: &WritebackState) -> &'static str {
    match state {
        WritebackState::Pending => "pending",
        WritebackState::Written { .. } => "written",
        WritebackState::Unassigned { .. } => "unassigned",
        WritebackState::RemovalPending => "removal_pending",
        WritebackState::Failed { .. } => "failed",
        WritebackState::Removed => "removed",
        WritebackState::Dropped { .. } => "dropped",
    }
}

fn state_json(state: &WritebackState) -> String {
    serde_json::to_string(&wire::StateJson::from(state)).unwrap_or_default()
}

fn event_json(event: &WritebackEvent) -> String {
    serde_json::to_string(&wire::EventJson::from(event)).unwrap_or_default()
}

fn parse_state(text: &str) -> Result<WritebackState> {
    serde_json::from_str::<wire::StateJson>(text)
        .map(Into::into)
        .map_err(|e| StoreError::corrupt(format!("writeback state {text:?}: {e}")))
}

fn parse_event(text: &str) -> Result<WritebackEvent> {
    serde_json::from_str::<wire::EventJson>(text)
        .map_err(|e| StoreError::corrupt(format!("writeback event {text:?}: {e}")))?
        .try_into()
}

fn crm_activity_of(state: &WritebackState) -> Option<CrmActivityId> {
    match state {
        WritebackState::Written { crm_activity, .. }
        | WritebackState::Unassigned { crm_activity } => Some(*crm_activity),
        _ => None,
    }
}

/// Starts the record of an activity saved (or ticked) with Copy to CRM: state Pending.
pub(crate) async fn start_record(
    conn: &mut AnyConnection,
    tenant: &str,
    record: &WritebackRecord,
) -> Result<()> {
    let at = record.timeline.first().map_or(0, |entry| millis(entry.at));
    sqlx::query(
        "INSERT INTO writeback_records (tenant_id, activity_id, seat_id, kind, external_key, state, \
         state_detail, crm_activity_id, state_since, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8)",
    )
    .bind(tenant)
    .bind(record.activity.to_string())
    .bind(record.seat.to_string())
    .bind(record.kind.word())
    .bind(record.key.as_str())
    .bind(state_word(&record.state))
    .bind(state_json(&record.state))
    .bind(at)
    .execute(&mut *conn)
    .await?;
    for (seq, entry) in record.timeline.iter().enumerate() {
        insert_entry(conn, tenant, record.activity, seq as i64 + 1, entry).await?;
    }
    Ok(())
}

async fn insert_entry(
    conn: &mut AnyConnection,
    tenant: &str,
    activity: ActivityId,
    seq: i64,
    entry: &TimelineEntry,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO writeback_events (tenant_id, activity_id, seq, at, event, state) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(activity.to_string())
    .bind(seq)
    .bind(millis(entry.at))
    .bind(entry.event.as_ref().map(event_json))
    .bind(state_json(&entry.state))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies an event under the record's row lock; `None` when the activity has no record.
pub(crate) async fn apply_event(
    conn: &mut AnyConnection,
    tenant: &str,
    activity: ActivityId,
    event: &WritebackEvent,
    at: DateTime<Utc>,
) -> Result<Option<WritebackState>> {
    // Touching the row first takes its lock, so two workers cannot both move one state.
    let locked = sqlx::query(
        "UPDATE writeback_records SET state = state WHERE tenant_id = $1 AND activity_id = $2",
    )
    .bind(tenant)
    .bind(activity.to_string())
    .execute(&mut *conn)
    .await?;
    if locked.rows_affected() == 0 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT r.state_detail, (SELECT MAX(e.seq) FROM writeback_events e \
         WHERE e.tenant_id = r.tenant_id AND e.activity_id = r.activity_id) AS last_seq \
         FROM writeback_records r WHERE r.tenant_id = $1 AND r.activity_id = $2",
    )
    .bind(tenant)
    .bind(activity.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let state = parse_state(&row.text("state_detail")?)?;
    let next = transition(&state, event).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let seq = row.opt_int("last_seq")?.unwrap_or(0) + 1;
    sqlx::query(
        "UPDATE writeback_records SET state = $3, state_detail = $4, crm_activity_id = $5, \
         state_since = $6 WHERE tenant_id = $1 AND activity_id = $2",
    )
    .bind(tenant)
    .bind(activity.to_string())
    .bind(state_word(&next))
    .bind(state_json(&next))
    .bind(crm_activity_of(&next).map(|a| a.to_string()))
    .bind(millis(at))
    .execute(&mut *conn)
    .await?;
    let entry = TimelineEntry {
        at,
        event: Some(event.clone()),
        state: next.clone(),
    };
    insert_entry(conn, tenant, activity, seq, &entry).await?;
    Ok(Some(next))
}

pub(crate) async fn record_state(
    conn: &mut AnyConnection,
    tenant: &str,
    activity: ActivityId,
) -> Result<Option<WritebackState>> {
    let row = sqlx::query(
        "SELECT state_detail FROM writeback_records WHERE tenant_id = $1 AND activity_id = $2",
    )
    .bind(tenant)
    .bind(activity.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| parse_state(&r.text("state_detail")?))
        .transpose()
}

fn record_from_row(row: &AnyRow, timeline: Vec<TimelineEntry>) -> Result<WritebackRecord> {
    Ok(WritebackRecord {
        activity: row.id("activity_id")?,
        seat: row.id("seat_id")?,
        kind: ActivityKind::from_word(&row.text("kind")?)?,
        key: ExternalKey::for_activity(row.id("tenant_id")?, row.id("activity_id")?),
        state: parse_state(&row.text("state_detail")?)?,
        timeline,
    })
}

impl TenantStore {
    /// The activity's writeback with its whole timeline; `None` when it was never meant for the CRM.
    pub async fn writeback_record(
        &mut self,
        activity: ActivityId,
    ) -> Result<Option<WritebackRecord>> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let Some(row) = sqlx::query(
            "SELECT tenant_id, activity_id, seat_id, kind, state_detail FROM writeback_records \
             WHERE tenant_id = $1 AND activity_id = $2",
        )
        .bind(&tenant)
        .bind(activity.to_string())
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let events = sqlx::query(
            "SELECT at, event, state FROM writeback_events WHERE tenant_id = $1 AND activity_id = $2 \
             ORDER BY seq",
        )
        .bind(&tenant)
        .bind(activity.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let timeline = events
            .iter()
            .map(|e| {
                Ok(TimelineEntry {
                    at: e.time("at")?,
                    event: e.opt_text("event")?.map(|t| parse_event(&t)).transpose()?,
                    state: parse_state(&e.text("state")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        record_from_row(&row, timeline).map(Some)
    }

    /// Moves the writeback by one event (as the domain's [`transition`] allows) and appends it to
    /// the timeline. An event the state does not allow is [`StoreError::Invalid`] and changes nothing.
    pub async fn apply_writeback_event(
        &mut self,
        activity: ActivityId,
        event: &WritebackEvent,
    ) -> Result<WritebackState> {
        let (tenant, now) = (self.tid(), self.now());
        let mut tx = self.atomic().await?;
        let next = apply_event(&mut tx, &tenant, activity, event, now)
            .await?
            .ok_or(StoreError::NotFound("writeback"))?;
        tx.commit().await?;
        Ok(next)
    }

    /// Activities whose writeback is in one of `states` (words of [`state_word`]), oldest change
    /// first: e.g. the pending ones a sync re-tries, or the failed ones to show.
    pub async fn writebacks_in_state(
        &mut self,
        states: &[&str],
        limit: u32,
    ) -> Result<Vec<(ActivityId, WritebackState)>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let tenant = self.tid();
        let sql = format!(
            "SELECT activity_id, state_detail FROM writeback_records WHERE tenant_id = $1 \
             AND state IN ({}) ORDER BY state_since, activity_id LIMIT $2",
            crate::db::list_placeholders(3, states.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(i64::from(limit));
        for state in states {
            query = query.bind(*state);
        }
        let rows = query.fetch_all(&mut *self.conn().await?).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.id("activity_id")?,
                    parse_state(&row.text("state_detail")?)?,
                ))
            })
            .collect()
    }

    /// The Unassigned Activities report: written Open without a match, oldest first; one rep's or
    /// everyone's.
    pub async fn unassigned_activities(
        &mut self,
        seat: Option<SeatId>,
    ) -> Result<Vec<UnassignedActivity>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT activity_id, seat_id, kind, crm_activity_id, state_since FROM writeback_records \
             WHERE tenant_id = $1 AND state = 'unassigned' AND ($2 IS NULL OR seat_id = $2) \
             ORDER BY state_since, activity_id",
        )
        .bind(tenant)
        .bind(seat.map(|s| s.to_string()))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UnassignedActivity {
                    activity: row.id("activity_id")?,
                    seat: row.id("seat_id")?,
                    kind: ActivityKind::from_word(&row.text("kind")?)?,
                    crm_activity: row.id("crm_activity_id")?,
                    since: row.time("state_since")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::{CrmContactId, CrmUserId};
    use domain::seat_mapping::{NotInCrm, NotMatched};
    use domain::timeline::{Operation, Resolution};
    use domain::writeback::{NotWritten, Regarding};
    use uuid::Uuid;

    #[test]
    fn every_state_reads_back_as_written() {
        let activity = CrmActivityId(Uuid::from_u128(5));
        let states = [
            WritebackState::Pending,
            WritebackState::Written {
                crm_activity: activity,
                regarding: Regarding::Contact(CrmContactId(Uuid::from_u128(6))),
            },
            WritebackState::Unassigned {
                crm_activity: activity,
            },
            WritebackState::RemovalPending,
            WritebackState::Failed {
                reason: "HTTP 503 — réessayer".into(),
                retriable: true,
                during: Operation::Remove,
            },
            WritebackState::Removed,
            WritebackState::Dropped {
                reason: "unticked".into(),
            },
        ];
        for state in states {
            assert_eq!(parse_state(&state_json(&state)).unwrap(), state);
        }
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let regarding = Regarding::Account(domain::ids::CrmAccountId(Uuid::from_u128(7)));
        let events = [
            WritebackEvent::Edited,
            WritebackEvent::Matched { regarding },
            WritebackEvent::Written {
                crm_activity: CrmActivityId(Uuid::from_u128(1)),
                regarding: None,
            },
            WritebackEvent::Failed {
                reason: "429".into(),
                retriable: true,
            },
            WritebackEvent::Retried,
            WritebackEvent::Read {
                regarding: Some(regarding),
            },
            WritebackEvent::DeletedInCrm,
            WritebackEvent::Resolved {
                how: Resolution::CreatedLead,
                regarding,
            },
            WritebackEvent::CopyUnticked,
            WritebackEvent::CopyTicked,
            WritebackEvent::Skipped(NotWritten::KindNotChosen(ActivityKind::InMail)),
            WritebackEvent::Skipped(NotWritten::RepNotInCrm(NotInCrm::NotMatched(
                NotMatched::SeveralCrmUsersShareEmail(vec![CrmUserId(Uuid::from_u128(3))]),
            ))),
            WritebackEvent::Skipped(NotWritten::RepNotInCrm(NotInCrm::SyncOff)),
            WritebackEvent::Removed,
        ];
        for event in events {
            assert_eq!(parse_event(&event_json(&event)).unwrap(), event);
        }
    }
}
