//! What reps follow: saved leads and accounts (by hand or brought by the CRM, with the
//! opportunities that brought them), their tags, and the import's diff applied in one transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use domain::ids::{SeatId, TagId};
use domain::import::ImportDiff;
use domain::saved::{CrmReason, SavedItem, SavedKey, SavedTarget, Tag, normalize_tag_name};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::Backend;
use crate::TenantStore;
use crate::db::{
    RowExt, chunk_rows, from_millis, last_per_key, list_placeholders, millis, values_placeholders,
};
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
    // Two spellings rather than `($2 IS NULL OR seat_id = $2)`: with that, neither database
    // uses the primary key's seat column, and one rep's list read every seat's rows.
    let seat = seat.map(|s| s.to_string());
    let filter = if seat.is_some() {
        "tenant_id = $1 AND seat_id = $2"
    } else {
        "tenant_id = $1"
    };
    let read = |columns: &str, table: &str| {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seat_id, {0}, {columns} FROM {table} WHERE {filter}",
            t.target
        )))
        .bind(tenant.to_owned());
        match &seat {
            Some(seat) => query.bind(seat.clone()),
            None => query,
        }
    };
    let mut items = BTreeMap::new();
    let key = |row: &sqlx::any::AnyRow| -> Result<SavedKey> {
        Ok(SavedKey {
            seat: row.id("seat_id")?,
            target: make(row.uuid(t.target)?),
        })
    };
    for row in &read("by_hand, saved_at", t.items)
        .fetch_all(&mut *conn)
        .await?
    {
        let item = SavedItem {
            key: key(row)?,
            by_hand: row.flag("by_hand")?,
            crm_reasons: BTreeSet::new(),
            tags: BTreeSet::new(),
        };
        items.insert(item.key, (item, row.time("saved_at")?));
    }
    for row in &read("opportunity_id, stage", t.reasons)
        .fetch_all(&mut *conn)
        .await?
    {
        if let Some((item, _)) = items.get_mut(&key(row)?) {
            item.crm_reasons.insert(reason_from_row(row)?);
        }
    }
    for row in &read("tag_id", t.tags).fetch_all(&mut *conn).await? {
        if let Some((item, _)) = items.get_mut(&key(row)?) {
            item.tags.insert(row.id("tag_id")?);
        }
    }
    Ok(items)
}

fn reason_from_row(row: &AnyRow) -> Result<CrmReason> {
    let stage = row
        .opt_int("stage")?
        .map(i32::try_from)
        .transpose()
        .map_err(|_| StoreError::corrupt("stage out of range"))?;
    Ok(CrmReason {
        opportunity: row.id("opportunity_id")?,
        stage,
    })
}

/// Where the next page of a rep's saved leads or accounts starts. Pages run from the most
/// recently saved item (ties by id), so a page is read through an index however long the list
/// is, and saving or unsaving between pages neither repeats nor skips an item. Clients get it
/// as opaque text ([`SavedCursor`]'s `Display`, read back with [`SavedCursor::parse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedCursor {
    saved_at: i64,
    id: Uuid,
}

impl SavedCursor {
    /// `None` for text that is not a cursor.
    pub fn parse(text: &str) -> Option<SavedCursor> {
        let (saved_at, id) = text.split_once('.')?;
        Some(SavedCursor {
            saved_at: saved_at.parse().ok()?,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

impl fmt::Display for SavedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.saved_at, self.id.simple())
    }
}

/// One page of a list and where the next one starts (`None` on the last page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedPage<T> {
    pub items: Vec<T>,
    pub next: Option<SavedCursor>,
}

/// What a page of saved items joins to: the directory table and its columns.
struct Target {
    table: &'static str,
    columns: &'static str,
}

/// One page of a seat's saved items of one kind, each with its row of `target` (read with the
/// target's columns) and its reasons and tags, which are read for the page's items only.
async fn saved_page(
    conn: &mut AnyConnection,
    tenant: &str,
    seat: SeatId,
    (t, target): (&Tables, Target),
    make: fn(Uuid) -> SavedTarget,
    after: Option<SavedCursor>,
    limit: u32,
) -> Result<(Vec<(AnyRow, SavedItem, DateTime<Utc>)>, Option<SavedCursor>)> {
    let seat_text = seat.to_string();
    let (after_clause, limit_param) = match after {
        None => ("", "$3"),
        Some(_) => (
            "AND (s.saved_at < $3 OR (s.saved_at = $3 AND s.{target} > $4))",
            "$5",
        ),
    };
    let sql = format!(
        "SELECT {columns}, s.by_hand, s.saved_at FROM {items} s \
         JOIN {table} x ON x.tenant_id = s.tenant_id AND x.id = s.{target} \
         WHERE s.tenant_id = $1 AND s.seat_id = $2 {after_clause} \
         ORDER BY s.saved_at DESC, s.{target} LIMIT {limit_param}",
        columns = prefixed(target.columns, "x"),
        items = t.items,
        table = target.table,
        after_clause = after_clause.replace("{target}", t.target),
        target = t.target,
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_owned())
        .bind(seat_text.clone());
    if let Some(after) = after {
        query = query.bind(after.saved_at).bind(after.id.to_string());
    }
    // One more than asked: whether it comes back says if there is a next page.
    let mut rows = query
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);

    let mut page = Vec::with_capacity(rows.len());
    let mut positions = HashMap::with_capacity(rows.len());
    let mut last_id = None;
    for row in rows {
        let id = row.uuid("id")?;
        last_id = Some(id);
        positions.insert(id, page.len());
        let item = SavedItem {
            key: SavedKey {
                seat,
                target: make(id),
            },
            by_hand: row.flag("by_hand")?,
            crm_reasons: BTreeSet::new(),
            tags: BTreeSet::new(),
        };
        let saved_at = row.int("saved_at")?;
        page.push((row, item, saved_at));
    }
    if !page.is_empty() {
        let ids = list_placeholders(3, page.len());
        let details = |columns: &str, table: &str| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {0}, {columns} FROM {table} \
                 WHERE tenant_id = $1 AND seat_id = $2 AND {0} IN ({ids})",
                t.target
            )))
            .bind(tenant.to_owned())
            .bind(seat_text.clone());
            for id in positions.keys() {
                query = query.bind(id.to_string());
            }
            query
        };
        for row in &details("opportunity_id, stage", t.reasons)
            .fetch_all(&mut *conn)
            .await?
        {
            if let Some(i) = positions.get(&row.uuid(t.target)?) {
                page[*i].1.crm_reasons.insert(reason_from_row(row)?);
            }
        }
        for row in &details("tag_id", t.tags).fetch_all(&mut *conn).await? {
            if let Some(i) = positions.get(&row.uuid(t.target)?) {
                page[*i].1.tags.insert(row.id("tag_id")?);
            }
        }
    }
    let next = match (page.last(), last_id) {
        (Some((_, _, saved_at)), Some(id)) if more => Some(SavedCursor {
            saved_at: *saved_at,
            id,
        }),
        _ => None,
    };
    let page = page
        .into_iter()
        .map(|(row, item, saved_at)| Ok((row, item, from_millis(saved_at)?)))
        .collect::<Result<_>>()?;
    Ok((page, next))
}

/// Entries with the seat and target of their key as stored: `(seat_id, target id, entry)`.
type StoredEntries<T> = Vec<(String, String, T)>;

/// Entries split by the kind of item their key names.
fn by_kind<T>(
    entries: impl IntoIterator<Item = (SavedKey, T)>,
) -> [(&'static Tables, StoredEntries<T>); 2] {
    let (mut leads, mut accounts) = (Vec::new(), Vec::new());
    for (key, value) in entries {
        let seat = key.seat.to_string();
        match key.target {
            SavedTarget::Lead(person) => leads.push((seat, person.to_string(), value)),
            SavedTarget::Account(company) => accounts.push((seat, company.to_string(), value)),
        }
    }
    [(&LEADS, leads), (&ACCOUNTS, accounts)]
}

/// Records reasons on saved items (a known one takes the new stage), in multi-row statements.
async fn insert_reasons(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &str,
    reasons: &[(SavedKey, CrmReason)],
) -> Result<()> {
    let reasons = last_per_key(reasons, |(key, reason)| Some((*key, reason.opportunity)));
    for (t, rows) in by_kind(reasons.into_iter().map(|(key, reason)| (*key, *reason))) {
        for chunk in rows.chunks(chunk_rows(5)) {
            let sql = format!(
                "INSERT INTO {0} (tenant_id, seat_id, {1}, opportunity_id, stage) VALUES {2} \
                 ON CONFLICT (tenant_id, seat_id, {1}, opportunity_id) DO UPDATE SET stage = excluded.stage",
                t.reasons,
                t.target,
                values_placeholders(backend, chunk.len(), 5)
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(5));
            for (seat, target, reason) in chunk {
                query = query
                    .bind(tenant.to_owned())
                    .bind(seat)
                    .bind(target)
                    .bind(reason.opportunity.to_string())
                    .bind(reason.stage.map(i64::from));
            }
            query.execute(&mut *conn).await?;
        }
    }
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

    /// Whether the seat has saved this person or company (read by its key).
    pub async fn is_saved(&mut self, seat: SeatId, target: SavedTarget) -> Result<bool> {
        let tenant = self.tid();
        let (t, target_id) = tables(target);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 AS one FROM {0} WHERE tenant_id = $1 AND seat_id = $2 AND {1} = $3",
            t.items, t.target
        )))
        .bind(tenant)
        .bind(seat.to_string())
        .bind(target_id)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.is_some())
    }

    /// A page of the rep's saved leads with their people, most recently saved first: the first
    /// page with `after: None`, then each page's `next`.
    pub async fn saved_leads(
        &mut self,
        seat: SeatId,
        after: Option<SavedCursor>,
        limit: u32,
    ) -> Result<SavedPage<SavedLead>> {
        let tenant = self.tid();
        let target = Target {
            table: "people",
            columns: crate::directory::PERSON_COLUMNS,
        };
        let (rows, next) = saved_page(
            &mut *self.conn().await?,
            &tenant,
            seat,
            (&LEADS, target),
            |u| SavedTarget::Lead(u.into()),
            after,
            limit,
        )
        .await?;
        let items = rows
            .into_iter()
            .map(|(row, item, saved_at)| {
                Ok(SavedLead {
                    item,
                    person: person_from_row(&row)?,
                    saved_at,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SavedPage { items, next })
    }

    /// A page of the rep's saved accounts with their companies, most recently saved first.
    pub async fn saved_accounts(
        &mut self,
        seat: SeatId,
        after: Option<SavedCursor>,
        limit: u32,
    ) -> Result<SavedPage<SavedAccount>> {
        let tenant = self.tid();
        let target = Target {
            table: "companies",
            columns: crate::directory::COMPANY_COLUMNS,
        };
        let (rows, next) = saved_page(
            &mut *self.conn().await?,
            &tenant,
            seat,
            (&ACCOUNTS, target),
            |u| SavedTarget::Account(u.into()),
            after,
            limit,
        )
        .await?;
        let items = rows
            .into_iter()
            .map(|(row, item, saved_at)| {
                Ok(SavedAccount {
                    item,
                    company: company_from_row(&row)?,
                    saved_at,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SavedPage { items, next })
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
        let (tenant, now, backend) = (self.tid(), millis(self.now()), self.backend());
        let mut conn = self.conn().await?;
        for (t, keys) in by_kind(diff.unsave.iter().map(|key| (*key, ()))) {
            for chunk in keys.chunks(chunk_rows(3)) {
                let sql = format!(
                    "DELETE FROM {0} WHERE by_hand = FALSE AND (tenant_id, seat_id, {1}) IN (VALUES {2})",
                    t.items,
                    t.target,
                    values_placeholders(backend, chunk.len(), 3)
                );
                let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(3));
                for (seat, target, ()) in chunk {
                    query = query.bind(&tenant).bind(seat).bind(target);
                }
                query.execute(&mut *conn).await?;
            }
        }
        // One statement per reason: a reason goes only when an opportunity changes stage or
        // owner, a handful per sync, and matching its stage (which may be NULL) row by row
        // would need a different statement on each database.
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
        insert_reasons(&mut conn, backend, &tenant, &diff.add_reasons).await?;

        // New items; the reasons of those that were not saved already go in after them.
        let mut first = HashSet::with_capacity(diff.save.len());
        let saves = diff
            .save
            .iter()
            .filter(|item| first.insert(item.key))
            .map(|item| (item.key, item));
        let mut new_reasons = Vec::new();
        for (t, items) in by_kind(saves) {
            for chunk in items.chunks(chunk_rows(5)) {
                let sql = format!(
                    "INSERT INTO {0} (tenant_id, seat_id, {1}, by_hand, saved_at) VALUES {2} \
                     ON CONFLICT (tenant_id, seat_id, {1}) DO NOTHING RETURNING seat_id, {1}",
                    t.items,
                    t.target,
                    values_placeholders(backend, chunk.len(), 5)
                );
                let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(5));
                for (seat, target, _) in chunk {
                    query = query
                        .bind(&tenant)
                        .bind(seat)
                        .bind(target)
                        .bind(false)
                        .bind(now);
                }
                let inserted: HashSet<(String, String)> = query
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| {
                        StoreError::from(e).on_foreign_key(
                            "An imported item refers to a seat, person or company that does not exist.",
                        )
                    })?
                    .iter()
                    .map(|row| Ok((row.text("seat_id")?, row.text(t.target)?)))
                    .collect::<Result<_>>()?;
                for (seat, target, item) in chunk {
                    if inserted.contains(&(seat.clone(), target.clone())) {
                        new_reasons.extend(item.crm_reasons.iter().map(|r| (item.key, *r)));
                    }
                }
            }
        }
        insert_reasons(&mut conn, backend, &tenant, &new_reasons).await?;
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
