//! Notes, messages and InMails (messages and InMails in threads), the Copy to CRM choice on each,
//! and the rep's remembered default. Every change that affects what the CRM should hold is written
//! in one transaction with its writeback record and the writeback job (the outbox).

use domain::activity::{
    Activity, ActivityAbout, ActivityKind, CopyToCrm, CopyToCrmDefault, Thread,
};
use domain::ids::{ActivityId, PersonId, SeatId, ThreadId};
use domain::timeline::{WritebackEvent, WritebackRecord, WritebackState, transition};
use domain::writeback::ExternalKey;
use sqlx::any::AnyRow;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, millis};
use crate::error::{Result, StoreError};
use crate::tenants::found;
use crate::writeback::{self, WritebackJob};

/// A note, message or InMail to save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewActivity {
    pub seat: SeatId,
    pub kind: ActivityKind,
    pub about: ActivityAbout,
    /// Messages and InMails may belong to a thread of the same rep with the same person.
    pub thread: Option<ThreadId>,
    pub body: String,
    pub copy_to_crm: CopyToCrm,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewThread {
    pub seat: SeatId,
    pub person: PersonId,
    pub subject: Option<String>,
    pub copy_to_crm: bool,
}

fn copy_word(copy: CopyToCrm) -> &'static str {
    match copy {
        CopyToCrm::Item(true) => "yes",
        CopyToCrm::Item(false) => "no",
        CopyToCrm::AsThread => "thread",
    }
}

fn copy_from(word: &str) -> Result<CopyToCrm> {
    match word {
        "yes" => Ok(CopyToCrm::Item(true)),
        "no" => Ok(CopyToCrm::Item(false)),
        "thread" => Ok(CopyToCrm::AsThread),
        other => Err(StoreError::corrupt(format!(
            "{other:?} is not a Copy to CRM choice"
        ))),
    }
}

const ACTIVITY_COLUMNS: &str = "tenant_id, id, seat_id, kind, person_id, company_id, thread_id, \
     body, written_at, copy_to_crm";

fn activity_from_row(row: &AnyRow) -> Result<Activity> {
    let about = match (row.opt_id("person_id")?, row.opt_id("company_id")?) {
        (Some(person), None) => ActivityAbout::Person(person),
        (None, Some(company)) => ActivityAbout::Company(company),
        _ => return Err(StoreError::corrupt("an activity about no one, or two")),
    };
    Ok(Activity {
        id: row.id("id")?,
        tenant: row.id("tenant_id")?,
        seat: row.id("seat_id")?,
        kind: ActivityKind::from_word(&row.text("kind")?)?,
        about,
        thread: row.opt_id("thread_id")?,
        body: row.text("body")?,
        written_at: row.time("written_at")?,
        copy_to_crm: copy_from(&row.text("copy_to_crm")?)?,
    })
}

const THREAD_COLUMNS: &str = "tenant_id, id, seat_id, person_id, subject, copy_to_crm";

fn thread_from_row(row: &AnyRow) -> Result<Thread> {
    Ok(Thread {
        id: row.id("id")?,
        tenant: row.id("tenant_id")?,
        seat: row.id("seat_id")?,
        person: row.id("person_id")?,
        subject: row.opt_text("subject")?,
        copy_to_crm: row.flag("copy_to_crm")?,
    })
}

impl TenantStore {
    pub async fn create_thread(&mut self, new: NewThread) -> Result<Thread> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let thread = Thread {
            id: ThreadId::new_random(),
            tenant: self.tenant,
            seat: new.seat,
            person: new.person,
            subject: new
                .subject
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            copy_to_crm: new.copy_to_crm,
        };
        sqlx::query(
            "INSERT INTO threads (tenant_id, id, seat_id, person_id, subject, copy_to_crm, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(thread.id.to_string())
        .bind(thread.seat.to_string())
        .bind(thread.person.to_string())
        .bind(thread.subject.clone())
        .bind(thread.copy_to_crm)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| StoreError::from(e).on_foreign_key("No such seat or person."))?;
        Ok(thread)
    }

    pub async fn thread(&mut self, id: ThreadId) -> Result<Option<Thread>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {THREAD_COLUMNS} FROM threads WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(thread_from_row).transpose()
    }

    /// Every thread of the tenant (what purge reads), or of one seat.
    pub async fn threads(&mut self, seat: Option<SeatId>) -> Result<Vec<Thread>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {THREAD_COLUMNS} FROM threads WHERE tenant_id = $1 \
             AND ($2 IS NULL OR seat_id = $2) ORDER BY created_at, id"
        )))
        .bind(tenant)
        .bind(seat.map(|s| s.to_string()))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(thread_from_row).collect()
    }

    /// Saves a note, message or InMail. When Copy to CRM applies to it (its own choice, or its
    /// thread's), its writeback record starts and a [`WritebackJob`] is enqueued, in the same
    /// transaction as the item. The item's own choice becomes the rep's remembered default.
    pub async fn add_activity(&mut self, new: NewActivity) -> Result<Activity> {
        let started = self.enter().await?;
        let result = self.add_activity_inside(new).await;
        self.leave(started, result).await
    }

    async fn add_activity_inside(&mut self, new: NewActivity) -> Result<Activity> {
        if new.body.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "A {} cannot be empty.",
                new.kind.label().to_lowercase()
            )));
        }
        if new.kind != ActivityKind::Note && !matches!(new.about, ActivityAbout::Person(_)) {
            return Err(StoreError::Invalid(format!(
                "A {} is always with a person.",
                new.kind.label()
            )));
        }
        let thread = match new.thread {
            Some(id) => {
                let thread = self
                    .thread(id)
                    .await?
                    .ok_or(StoreError::NotFound("thread"))?;
                if thread.seat != new.seat || new.about != ActivityAbout::Person(thread.person) {
                    return Err(StoreError::Invalid(
                        "The thread is another rep's or with another person.".to_owned(),
                    ));
                }
                Some(thread)
            }
            None => None,
        };
        let now = self.now();
        let activity = Activity {
            id: ActivityId::new_random(),
            tenant: self.tenant,
            seat: new.seat,
            kind: new.kind,
            about: new.about,
            thread: new.thread,
            body: new.body,
            written_at: now,
            copy_to_crm: new.copy_to_crm,
        };
        let (person, company) = match activity.about {
            ActivityAbout::Person(p) => (Some(p.to_string()), None),
            ActivityAbout::Company(c) => (None, Some(c.to_string())),
        };
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO activities (tenant_id, id, seat_id, kind, person_id, company_id, thread_id, \
             body, written_at, copy_to_crm, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)",
        )
        .bind(&tenant)
        .bind(activity.id.to_string())
        .bind(activity.seat.to_string())
        .bind(activity.kind.word())
        .bind(person)
        .bind(company)
        .bind(activity.thread.map(|t| t.to_string()))
        .bind(&activity.body)
        .bind(millis(now))
        .bind(copy_word(activity.copy_to_crm))
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::from(e).on_foreign_key("No such seat, person or company."))?;
        if let CopyToCrm::Item(ticked) = activity.copy_to_crm {
            sqlx::query(
                "UPDATE seats SET copy_to_crm_default = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(activity.seat.to_string())
            .bind(ticked)
            .execute(&mut *conn)
            .await?;
        }
        drop(conn);
        if activity.copies_to_crm(thread.as_ref()) {
            self.copy_choice_changed(&activity, false, true).await?;
        }
        Ok(activity)
    }

    pub async fn activity(&mut self, id: ActivityId) -> Result<Option<Activity>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(activity_from_row).transpose()
    }

    /// A rep's activities, newest first, at most `limit`.
    pub async fn seat_activities(&mut self, seat: SeatId, limit: u32) -> Result<Vec<Activity>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE tenant_id = $1 AND seat_id = $2 \
             ORDER BY written_at DESC, id LIMIT $3"
        )))
        .bind(tenant)
        .bind(seat.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(activity_from_row).collect()
    }

    /// Every activity of the tenant, oldest first (what purge and the writeback sweep read).
    pub async fn all_activities(&mut self) -> Result<Vec<Activity>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE tenant_id = $1 ORDER BY written_at, id"
        )))
        .bind(tenant)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(activity_from_row).collect()
    }

    /// The rep edits the text; a written activity is then rewritten in the CRM.
    pub async fn edit_activity(&mut self, id: ActivityId, body: &str) -> Result<()> {
        if body.trim().is_empty() {
            return Err(StoreError::Invalid("The text cannot be empty.".to_owned()));
        }
        let started = self.enter().await?;
        let result = self.edit_activity_inside(id, body).await;
        self.leave(started, result).await
    }

    async fn edit_activity_inside(&mut self, id: ActivityId, body: &str) -> Result<()> {
        let (tenant, now) = (self.tid(), self.now());
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE activities SET body = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tenant)
        .bind(id.to_string())
        .bind(body)
        .bind(millis(now))
        .execute(&mut *conn)
        .await?;
        found(done.rows_affected(), "activity")?;
        let next =
            writeback::apply_event(&mut conn, &tenant, id, &WritebackEvent::Edited, now).await?;
        drop(conn);
        if next == Some(WritebackState::Pending) {
            self.enqueue(&WritebackJob { activity: id.0 }).await?;
        }
        Ok(())
    }

    /// Ticks or unticks Copy to CRM on one item after the fact: an item not yet written is dropped,
    /// one already written is removed from the CRM, one ticked again is written.
    pub async fn set_activity_copy_to_crm(
        &mut self,
        id: ActivityId,
        copy: CopyToCrm,
    ) -> Result<()> {
        let started = self.enter().await?;
        let result = self.set_activity_copy_inside(id, copy).await;
        self.leave(started, result).await
    }

    async fn set_activity_copy_inside(&mut self, id: ActivityId, copy: CopyToCrm) -> Result<()> {
        let before = self
            .activity(id)
            .await?
            .ok_or(StoreError::NotFound("activity"))?;
        let thread = match before.thread {
            Some(t) => self.thread(t).await?,
            None => None,
        };
        let tenant = self.tid();
        sqlx::query("UPDATE activities SET copy_to_crm = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant)
            .bind(id.to_string())
            .bind(copy_word(copy))
            .execute(&mut *self.conn().await?)
            .await?;
        let after = Activity {
            copy_to_crm: copy,
            ..before.clone()
        };
        let (was, now) = (
            before.copies_to_crm(thread.as_ref()),
            after.copies_to_crm(thread.as_ref()),
        );
        self.copy_choice_changed(&after, was, now).await
    }

    /// "Copy thread to CRM": changes every item of the thread that leaves the choice to it.
    pub async fn set_thread_copy_to_crm(&mut self, id: ThreadId, ticked: bool) -> Result<()> {
        let started = self.enter().await?;
        let result = self.set_thread_copy_inside(id, ticked).await;
        self.leave(started, result).await
    }

    async fn set_thread_copy_inside(&mut self, id: ThreadId, ticked: bool) -> Result<()> {
        let before = self
            .thread(id)
            .await?
            .ok_or(StoreError::NotFound("thread"))?;
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        sqlx::query("UPDATE threads SET copy_to_crm = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant)
            .bind(id.to_string())
            .bind(ticked)
            .execute(&mut *conn)
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE tenant_id = $1 AND thread_id = $2 \
             ORDER BY written_at, id"
        )))
        .bind(&tenant)
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        drop(conn);
        let after = Thread {
            copy_to_crm: ticked,
            ..before.clone()
        };
        for row in &rows {
            let activity = activity_from_row(row)?;
            let (was, now) = (
                activity.copies_to_crm(Some(&before)),
                activity.copies_to_crm(Some(&after)),
            );
            self.copy_choice_changed(&activity, was, now).await?;
        }
        Ok(())
    }

    /// Records what a change of the effective Copy to CRM choice means for the writeback, and
    /// enqueues the job when the CRM side has something to do.
    async fn copy_choice_changed(
        &mut self,
        activity: &Activity,
        was: bool,
        now: bool,
    ) -> Result<()> {
        if was == now {
            return Ok(());
        }
        let (tenant, tenant_id, at) = (self.tid(), self.tenant, self.now());
        let mut conn = self.conn().await?;
        let state = writeback::record_state(&mut conn, &tenant, activity.id).await?;
        let needs_job = match state {
            None if now => {
                let record = WritebackRecord::saved(
                    activity.id,
                    activity.seat,
                    activity.kind,
                    ExternalKey::for_activity(tenant_id, activity.id),
                    at,
                );
                writeback::start_record(&mut conn, &tenant, &record).await?;
                true
            }
            None => false,
            Some(state) => {
                let event = if now {
                    WritebackEvent::CopyTicked
                } else {
                    WritebackEvent::CopyUnticked
                };
                // A choice flipped twice before the job ran can ask for a move the state does
                // not make (e.g. ticking what is still pending); nothing changes then.
                if transition(&state, &event).is_err() {
                    false
                } else {
                    let next =
                        writeback::apply_event(&mut conn, &tenant, activity.id, &event, at).await?;
                    matches!(
                        next,
                        Some(WritebackState::Pending | WritebackState::RemovalPending)
                    )
                }
            }
        };
        drop(conn);
        if needs_job {
            self.enqueue(&WritebackJob {
                activity: activity.id.0,
            })
            .await?;
        }
        Ok(())
    }

    /// The rep's remembered Copy to CRM choice for new items.
    pub async fn copy_to_crm_default(&mut self, seat: SeatId) -> Result<CopyToCrmDefault> {
        let tenant = self.tid();
        let row =
            sqlx::query("SELECT copy_to_crm_default FROM seats WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(seat.to_string())
                .fetch_optional(&mut *self.conn().await?)
                .await?
                .ok_or(StoreError::NotFound("seat"))?;
        Ok(CopyToCrmDefault {
            ticked: row.flag("copy_to_crm_default")?,
        })
    }
}
