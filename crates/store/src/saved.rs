//! What reps follow: saved leads and accounts (by hand or brought by the CRM, with the
//! opportunities that brought them), their tags, and the import's diff applied in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use domain::ids::{SeatId, TagId};
use domain::import::ImportDiff;
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget, Tag, normalize_tag_name};
use sqlx::AnyConnection;

use crate::TenantStore;
use crate::db::{RowExt, millis};
use crate::directory::{CompanyRecord, PersonRecord, company_from_row, person_from_row};
use crate::error::{Result, StoreError};
use crate::tenants::found;

/// The tables of one kind of saved item.
struct Tables {
    items: &'static str,
    reasons: &'static str,
    tags: &'static str,
    target: &'static str,
}

const LEADS: Tables = Tables {
    items: "saved_leads",
    reasons: "saved_lead_reasons",
    tags: "saved_lead_tags",
    target: "person_id",
};

const ACCOUNTS: Tables = Tables {
    items: "saved_accounts",
    reasons: "saved_account_reasons",
    tags: "saved_account_tags",
    target: "company_id",
};

fn tables(target: SavedTarget) -> (&'static Tables, String) {
    match target {
        SavedTarget::Lead(person) => (&LEADS, person.to_string()),
        SavedTarget::Account(company) => (&ACCOUNTS, company.to_string()),
    }
}

/// A saved lead with its person, for the rep's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedLead {
    pub item: SavedItem,
    pub person: PersonRecord,
    pub saved_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedAccount {
    pub item: SavedItem,
    pub company: CompanyRecord,
    pub saved_at: DateTime<Utc>,
}

async fn load_items(
    conn: &mut AnyConnection,
    tenant: &str,
    seat: Option<SeatId>,
    t: &Tables,
    make: fn(uuid::Uuid) -> SavedTarget,
) -> Result<BTreeMap<SavedKey, (SavedItem, DateTime<Utc>)>> {
    let seat = seat.map(|s| s.to_string());
    let mut items = BTreeMap::new();
    let key = |row: &sqlx::any::AnyRow| -> Result<SavedKey> {
        Ok(SavedKey {
            seat: row.id("seat_id")?,
            target: make(row.uuid(t.target)?),
        })
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT seat_id, {0}, by_hand, saved_at FROM {1} \
         WHERE tenant_id = $1 AND ($2 IS NULL OR seat_id = $2)",
        t.target, t.items
    )))
    .bind(tenant)
    .bind(seat.clone())
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let item = SavedItem {
            key: key(row)?,
            by_hand: row.flag("by_hand")?,
            crm_reasons: BTreeSet::new(),
            tags: BTreeSet::new(),
        };
        items.insert(item.key, (item, row.time("saved_at")?));
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT seat_id, {0}, opportunity_id, stage FROM {1} \
         WHERE tenant_id = $1 AND ($2 IS NULL OR seat_id = $2)",
        t.target, t.reasons
    )))
    .bind(tenant)
    .bind(seat.clone())
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        if let Some((item, _)) = items.get_mut(&key(row)?) {
            let stage = row
                .opt_int("stage")?
                .map(i32::try_from)
                .transpose()
                .map_err(|_| StoreError::corrupt("stage out of range"))?;
            item.crm_reasons.insert(CrmReason {
                opportunity: row.id("opportunity_id")?,
                stage,
            });
        }
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT seat_id, {0}, tag_id FROM {1} WHERE tenant_id = $1 AND ($2 IS NULL OR seat_id = $2)",
        t.target, t.tags
    )))
    .bind(tenant)
    .bind(seat)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        if let Some((item, _)) = items.get_mut(&key(row)?) {
            item.tags.insert(row.id("tag_id")?);
        }
    }
    Ok(items)
}

async fn insert_reason(
    conn: &mut AnyConnection,
    tenant: &str,
    key: &SavedKey,
    reason: &CrmReason,
) -> Result<()> {
    let (t, target) = tables(key.target);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {0} (tenant_id, seat_id, {1}, opportunity_id, stage) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, seat_id, {1}, opportunity_id) DO UPDATE SET stage = excluded.stage",
        t.reasons, t.target
    )))
    .bind(tenant)
    .bind(key.seat.to_string())
    .bind(target)
    .bind(reason.opportunity.to_string())
    .bind(reason.stage.map(i64::from))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl TenantStore {
    /// The rep saves a person or company; an item the import had saved becomes the rep's own.
    pub async fn save_by_hand(&mut self, seat: SeatId, target: SavedTarget) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let (t, target_id) = tables(target);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {0} (tenant_id, seat_id, {1}, by_hand, saved_at) VALUES ($1, $2, $3, TRUE, $4) \
             ON CONFLICT (tenant_id, seat_id, {1}) DO UPDATE SET by_hand = TRUE",
            t.items, t.target
        )))
        .bind(tenant)
        .bind(seat.to_string())
        .bind(target_id)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| StoreError::from(e).on_foreign_key("No such seat, person or company."))?;
        Ok(())
    }

    /// The rep unsaves an item, whoever saved it; `false` when it was not saved.
    pub async fn unsave(&mut self, seat: SeatId, target: SavedTarget) -> Result<bool> {
        let tenant = self.tid();
        let (t, target_id) = tables(target);
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {0} WHERE tenant_id = $1 AND seat_id = $2 AND {1} = $3",
            t.items, t.target
        )))
        .bind(tenant)
        .bind(seat.to_string())
        .bind(target_id)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every saved item of one seat, or of all seats (what the import rule reads), in key order.
    pub async fn saved_items(&mut self, seat: Option<SeatId>) -> Result<Vec<SavedItem>> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let mut items = load_items(&mut conn, &tenant, seat, &LEADS, |u| {
            SavedTarget::Lead(u.into())
        })
        .await?;
        items.extend(
            load_items(&mut conn, &tenant, seat, &ACCOUNTS, |u| {
                SavedTarget::Account(u.into())
            })
            .await?,
        );
        Ok(items.into_values().map(|(item, _)| item).collect())
    }

    /// The rep's saved leads with their people, most recently saved first.
    pub async fn saved_leads(&mut self, seat: SeatId) -> Result<Vec<SavedLead>> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let items = load_items(&mut conn, &tenant, Some(seat), &LEADS, |u| {
            SavedTarget::Lead(u.into())
        })
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM people p JOIN saved_leads s ON s.tenant_id = p.tenant_id \
             AND s.person_id = p.id WHERE s.tenant_id = $1 AND s.seat_id = $2",
            prefixed(crate::directory::PERSON_COLUMNS, "p")
        )))
        .bind(&tenant)
        .bind(seat.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let mut leads = Vec::with_capacity(rows.len());
        for row in &rows {
            let person = person_from_row(row)?;
            let key = SavedKey {
                seat,
                target: SavedTarget::Lead(person.person.id),
            };
            if let Some((item, saved_at)) = items.get(&key) {
                leads.push(SavedLead {
                    item: item.clone(),
                    person,
                    saved_at: *saved_at,
                });
            }
        }
        leads.sort_by(|a, b| {
            b.saved_at
                .cmp(&a.saved_at)
                .then(a.person.person.id.cmp(&b.person.person.id))
        });
        Ok(leads)
    }

    /// The rep's saved accounts with their companies, most recently saved first.
    pub async fn saved_accounts(&mut self, seat: SeatId) -> Result<Vec<SavedAccount>> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let items = load_items(&mut conn, &tenant, Some(seat), &ACCOUNTS, |u| {
            SavedTarget::Account(u.into())
        })
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM companies c JOIN saved_accounts s ON s.tenant_id = c.tenant_id \
             AND s.company_id = c.id WHERE s.tenant_id = $1 AND s.seat_id = $2",
            prefixed(crate::directory::COMPANY_COLUMNS, "c")
        )))
        .bind(&tenant)
        .bind(seat.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let mut accounts = Vec::with_capacity(rows.len());
        for row in &rows {
            let company = company_from_row(row)?;
            let key = SavedKey {
                seat,
                target: SavedTarget::Account(company.company.id),
            };
            if let Some((item, saved_at)) = items.get(&key) {
                accounts.push(SavedAccount {
                    item: item.clone(),
                    company,
                    saved_at: *saved_at,
                });
            }
        }
        accounts.sort_by(|a, b| {
            b.saved_at
                .cmp(&a.saved_at)
                .then(a.company.company.id.cmp(&b.company.company.id))
        });
        Ok(accounts)
    }

    /// Applies the import rule's diff in one transaction, in the order the domain's
    /// [`domain::import::apply`] defines: records created from the CRM and their matches, then
    /// unsaves (never of a hand-saved item), reason removals, reason additions, new items.
    pub async fn apply_import_diff(&mut self, diff: &ImportDiff) -> Result<()> {
        let started = self.enter().await?;
        let result = self.apply_import_diff_inside(diff).await;
        self.leave(started, result).await
    }

    async fn apply_import_diff_inside(&mut self, diff: &ImportDiff) -> Result<()> {
        self.insert_companies_from_crm(&diff.create_companies)
            .await?;
        self.insert_people_from_crm(&diff.create_people).await?;
        self.upsert_person_matches(&diff.person_matches).await?;
        self.upsert_company_matches(&diff.company_matches).await?;
        let (tenant, now) = (self.tid(), millis(self.now()));
        let mut conn = self.conn().await?;
        for key in &diff.unsave {
            let (t, target) = tables(key.target);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {0} WHERE tenant_id = $1 AND seat_id = $2 AND {1} = $3 AND by_hand = FALSE",
                t.items, t.target
            )))
            .bind(&tenant)
            .bind(key.seat.to_string())
            .bind(target)
            .execute(&mut *conn)
            .await?;
        }
        for (key, reason) in &diff.remove_reasons {
            let (t, target) = tables(key.target);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {0} WHERE tenant_id = $1 AND seat_id = $2 AND {1} = $3 \
                 AND opportunity_id = $4 AND (stage = $5 OR (stage IS NULL AND $5 IS NULL))",
                t.reasons, t.target
            )))
            .bind(&tenant)
            .bind(key.seat.to_string())
            .bind(target)
            .bind(reason.opportunity.to_string())
            .bind(reason.stage.map(i64::from))
            .execute(&mut *conn)
            .await?;
        }
        for (key, reason) in &diff.add_reasons {
            insert_reason(&mut conn, &tenant, key, reason).await?;
        }
        for item in &diff.save {
            let (t, target) = tables(item.key.target);
            let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {0} (tenant_id, seat_id, {1}, by_hand, saved_at) VALUES ($1, $2, $3, FALSE, $4) \
                 ON CONFLICT (tenant_id, seat_id, {1}) DO NOTHING",
                t.items, t.target
            )))
            .bind(&tenant)
            .bind(item.key.seat.to_string())
            .bind(target)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from(e).on_foreign_key("An imported item refers to a seat, person or company that does not exist."))?;
            if inserted.rows_affected() == 1 {
                for reason in &item.crm_reasons {
                    insert_reason(&mut conn, &tenant, &item.key, reason).await?;
                }
            }
        }
        Ok(())
    }

    /// Creates a tag, or returns the one with the same (normalised) name.
    pub async fn create_tag(&mut self, name: &str) -> Result<Tag> {
        let name = normalize_tag_name(name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (tenant, now) = (self.tid(), millis(self.now()));
        let row = sqlx::query(
            "INSERT INTO tags (tenant_id, id, name, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(tenant)
        .bind(TagId::new_random().to_string())
        .bind(&name)
        .bind(now)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(Tag {
            id: row.id("id")?,
            tenant: self.tenant,
            name,
        })
    }

    pub async fn tags(&mut self) -> Result<Vec<Tag>> {
        let tenant = self.tid();
        let rows = sqlx::query("SELECT id, name FROM tags WHERE tenant_id = $1 ORDER BY name, id")
            .bind(tenant)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Tag {
                    id: row.id("id")?,
                    tenant: self.tenant,
                    name: row.text("name")?,
                })
            })
            .collect()
    }

    /// Deletes a tag and removes it from every item.
    pub async fn delete_tag(&mut self, tag: TagId) -> Result<()> {
        let tenant = self.tid();
        let done = sqlx::query("DELETE FROM tags WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(tag.to_string())
            .execute(&mut *self.conn().await?)
            .await?;
        found(done.rows_affected(), "tag")
    }

    /// Puts a tag on a saved item (idempotent).
    pub async fn tag_item(&mut self, key: SavedKey, tag: TagId) -> Result<()> {
        let tenant = self.tid();
        let (t, target) = tables(key.target);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {0} (tenant_id, seat_id, {1}, tag_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, seat_id, {1}, tag_id) DO NOTHING",
            t.tags, t.target
        )))
        .bind(tenant)
        .bind(key.seat.to_string())
        .bind(target)
        .bind(tag.to_string())
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| StoreError::from(e).on_foreign_key("No such saved item or tag."))?;
        Ok(())
    }

    pub async fn untag_item(&mut self, key: SavedKey, tag: TagId) -> Result<()> {
        let tenant = self.tid();
        let (t, target) = tables(key.target);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {0} WHERE tenant_id = $1 AND seat_id = $2 AND {1} = $3 AND tag_id = $4",
            t.tags, t.target
        )))
        .bind(tenant)
        .bind(key.seat.to_string())
        .bind(target)
        .bind(tag.to_string())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }
}

/// `a, b` → `p.a, p.b`.
fn prefixed(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
