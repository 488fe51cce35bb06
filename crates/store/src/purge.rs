//! "Disconnect CRM Sync" with "Yes, clean up all previously imported CRM data": the domain's purge
//! plan carried out in one transaction, and the receipts kept afterwards.
//!
//! One transaction makes the purge all-or-nothing, so an interrupted purge is simply run again.

use chrono::{DateTime, Utc};
use domain::directory::{Company, Person};
use domain::purge::{PurgeInput, PurgeKept, PurgeReceipt, PurgeRemoved, plan_purge};
use domain::saved::SavedTarget;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantStore;
use crate::db::{RowExt, chunk_rows, list_placeholders, millis};
use crate::directory::{COMPANY_COLUMNS, PERSON_COLUMNS, company_from_row, person_from_row};
use crate::error::{Result, StoreError};

/// A purge that happened, as kept for the admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPurgeReceipt {
    pub id: Uuid,
    pub purged_at: DateTime<Utc>,
    pub receipt: PurgeReceipt,
}

/// The stored spelling of a receipt.
#[derive(Serialize, Deserialize)]
struct ReceiptJson {
    imported_leads: usize,
    imported_accounts: usize,
    crm_reasons: usize,
    people_created_from_crm: usize,
    companies_created_from_crm: usize,
    mirror_users: usize,
    mirror_accounts: usize,
    mirror_contacts: usize,
    mirror_leads: usize,
    mirror_opportunities: usize,
    matches: usize,
    delta_tokens: usize,
    credentials: bool,
    seat_crm_links: usize,
    writeback_records: usize,
    kept_hand_saved_leads: usize,
    kept_hand_saved_accounts: usize,
    kept_notes: usize,
    kept_messages: usize,
    kept_inmails: usize,
    kept_people_unlinked: usize,
    kept_companies_unlinked: usize,
}

impl From<&PurgeReceipt> for ReceiptJson {
    fn from(r: &PurgeReceipt) -> Self {
        let (removed, kept) = (&r.removed, &r.kept);
        ReceiptJson {
            imported_leads: removed.imported_leads,
            imported_accounts: removed.imported_accounts,
            crm_reasons: removed.crm_reasons,
            people_created_from_crm: removed.people_created_from_crm,
            companies_created_from_crm: removed.companies_created_from_crm,
            mirror_users: removed.mirror.users,
            mirror_accounts: removed.mirror.accounts,
            mirror_contacts: removed.mirror.contacts,
            mirror_leads: removed.mirror.leads,
            mirror_opportunities: removed.mirror.opportunities,
            matches: removed.matches,
            delta_tokens: removed.delta_tokens,
            credentials: removed.credentials,
            seat_crm_links: removed.seat_crm_links,
            writeback_records: removed.writeback_records,
            kept_hand_saved_leads: kept.hand_saved_leads,
            kept_hand_saved_accounts: kept.hand_saved_accounts,
            kept_notes: kept.notes,
            kept_messages: kept.messages,
            kept_inmails: kept.inmails,
            kept_people_unlinked: kept.people_unlinked,
            kept_companies_unlinked: kept.companies_unlinked,
        }
    }
}

impl From<ReceiptJson> for PurgeReceipt {
    fn from(r: ReceiptJson) -> Self {
        PurgeReceipt {
            removed: PurgeRemoved {
                imported_leads: r.imported_leads,
                imported_accounts: r.imported_accounts,
                crm_reasons: r.crm_reasons,
                people_created_from_crm: r.people_created_from_crm,
                companies_created_from_crm: r.companies_created_from_crm,
                mirror: domain::purge::MirrorCounts {
                    users: r.mirror_users,
                    accounts: r.mirror_accounts,
                    contacts: r.mirror_contacts,
                    leads: r.mirror_leads,
                    opportunities: r.mirror_opportunities,
                },
                matches: r.matches,
                delta_tokens: r.delta_tokens,
                credentials: r.credentials,
                seat_crm_links: r.seat_crm_links,
                writeback_records: r.writeback_records,
            },
            kept: PurgeKept {
                hand_saved_leads: r.kept_hand_saved_leads,
                hand_saved_accounts: r.kept_hand_saved_accounts,
                notes: r.kept_notes,
                messages: r.kept_messages,
                inmails: r.kept_inmails,
                people_unlinked: r.kept_people_unlinked,
                companies_unlinked: r.kept_companies_unlinked,
            },
        }
    }
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or_default()
}

impl TenantStore {
    async fn count(&mut self, sql: &str) -> Result<usize> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(tenant)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(to_usize(row.int("n")?))
    }

    /// Removes everything that came from the CRM — mirror rows, items only the import saved, the
    /// CRM reasons on hand-saved ones, people and companies created from the CRM that no rep's
    /// work uses, matches and rejections, delta tokens, credentials, settings, seat CRM links and
    /// writeback records — and marks the connections disconnected and purged. What reps did by
    /// hand stays. All in one transaction; the receipt is returned and kept.
    pub async fn purge_crm_data(&mut self) -> Result<PurgeReceipt> {
        let started = self.enter().await?;
        let result = self.purge_inside().await;
        self.leave(started, result).await
    }

    /// Only the records the plan can act on: people and companies created from the CRM, and the
    /// workspace people whose profile points at such a company (they keep it in use).
    async fn purge_candidates(&mut self) -> Result<(Vec<Person>, Vec<Company>)> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let people = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND (crm_contact_id IS NOT NULL \
             OR company_id IN (SELECT id FROM companies WHERE tenant_id = $1 \
             AND crm_account_id IS NOT NULL))"
        )))
        .bind(&tenant)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| person_from_row(row).map(|p| p.person))
        .collect::<Result<Vec<_>>>()?;
        let companies = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 \
             AND crm_account_id IS NOT NULL"
        )))
        .bind(&tenant)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| company_from_row(row).map(|c| c.company))
        .collect::<Result<Vec<_>>>()?;
        Ok((people, companies))
    }

    async fn purge_inside(&mut self) -> Result<PurgeReceipt> {
        let saved = self.saved_items(None).await?;
        let (people, companies) = self.purge_candidates().await?;
        let activities = self.all_activities().await?;
        let threads = self.threads(None).await?;
        let mirror = self.mirror_counts().await?;
        let person_matches = self
            .count("SELECT COUNT(*) AS n FROM person_matches WHERE tenant_id = $1")
            .await?;
        let company_matches = self
            .count("SELECT COUNT(*) AS n FROM company_matches WHERE tenant_id = $1")
            .await?;
        let mut delta_tokens = Vec::new();
        for connection in self.connections().await? {
            delta_tokens.extend(self.delta_tokens(connection.connection.id).await?);
        }
        let credentials = self
            .count("SELECT COUNT(*) AS n FROM crm_secrets WHERE tenant_id = $1")
            .await?;
        let seat_crm_links = self
            .count(
                "SELECT COUNT(*) AS n FROM seats WHERE tenant_id = $1 AND crm_user_id IS NOT NULL",
            )
            .await?;
        let writeback_records = self
            .count("SELECT COUNT(*) AS n FROM writeback_records WHERE tenant_id = $1")
            .await?;
        let plan = plan_purge(PurgeInput {
            saved: &saved,
            people: &people,
            companies: &companies,
            activities: &activities,
            threads: &threads,
            mirror,
            person_matches,
            company_matches,
            delta_tokens: &delta_tokens,
            credentials_stored: credentials > 0,
            seat_crm_links,
            writeback_records,
        });

        let (tenant, now) = (self.tid(), millis(self.now()));
        let mut conn = self.conn().await?;
        for key in &plan.unsave {
            let (table, column, target) = match key.target {
                SavedTarget::Lead(p) => ("saved_leads", "person_id", p.to_string()),
                SavedTarget::Account(c) => ("saved_accounts", "company_id", c.to_string()),
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND seat_id = $2 AND {column} = $3 \
                 AND by_hand = FALSE"
            )))
            .bind(&tenant)
            .bind(key.seat.to_string())
            .bind(target)
            .execute(&mut *conn)
            .await?;
        }
        // Every reason is a CRM reason: the ones on hand-saved items (plan.strip_reasons) are all
        // that is left once the imported items are gone.
        let tenant_wide = [
            "saved_lead_reasons",
            "saved_account_reasons",
            "person_matches",
            "company_matches",
            "match_rejections",
            "writeback_records",
            "crm_users",
            "crm_accounts",
            "crm_contacts",
            "crm_leads",
            "crm_opportunities",
            "crm_delta_tokens",
            "crm_secrets",
            "crm_settings",
        ];
        for table in tenant_wide {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1"
            )))
            .bind(&tenant)
            .execute(&mut *conn)
            .await?;
        }
        delete_ids(&mut conn, &tenant, "people", &ids(&plan.delete_people)).await?;
        delete_ids(
            &mut conn,
            &tenant,
            "companies",
            &ids(&plan.delete_companies),
        )
        .await?;
        unlink(
            &mut conn,
            &tenant,
            "people",
            "crm_contact_id",
            &ids(&plan.unlink_people),
        )
        .await?;
        unlink(
            &mut conn,
            &tenant,
            "companies",
            "crm_account_id",
            &ids(&plan.unlink_companies),
        )
        .await?;
        sqlx::query("UPDATE seats SET crm_user_id = NULL WHERE tenant_id = $1")
            .bind(&tenant)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE crm_connections SET disconnected_at = COALESCE(disconnected_at, $2), \
             purged = TRUE WHERE tenant_id = $1",
        )
        .bind(&tenant)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let receipt_json = serde_json::to_string(&ReceiptJson::from(&plan.receipt))
            .map_err(|e| StoreError::corrupt(format!("purge receipt: {e}")))?;
        sqlx::query(
            "INSERT INTO purge_receipts (tenant_id, id, purged_at, receipt) VALUES ($1, $2, $3, $4)",
        )
        .bind(&tenant)
        .bind(Uuid::new_v4().to_string())
        .bind(now)
        .bind(receipt_json)
        .execute(&mut *conn)
        .await?;
        Ok(plan.receipt)
    }

    /// Past purges, newest first.
    pub async fn purge_receipts(&mut self) -> Result<Vec<StoredPurgeReceipt>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT id, purged_at, receipt FROM purge_receipts WHERE tenant_id = $1 \
             ORDER BY purged_at DESC, id",
        )
        .bind(tenant)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                let receipt: ReceiptJson = serde_json::from_str(&row.text("receipt")?)
                    .map_err(|e| StoreError::corrupt(format!("purge receipt: {e}")))?;
                Ok(StoredPurgeReceipt {
                    id: row.uuid("id")?,
                    purged_at: row.time("purged_at")?,
                    receipt: receipt.into(),
                })
            })
            .collect()
    }
}

fn ids<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

async fn delete_ids(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    table: &str,
    ids: &[String],
) -> Result<()> {
    for chunk in ids.chunks(chunk_rows(1)) {
        let mut query = crate::db::chunk_query(
            format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND id IN ({})",
                list_placeholders(2, chunk.len())
            ),
            chunk.len(),
            chunk_rows(1),
        )
        .bind(tenant);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A record created from the CRM that stays loses its CRM link (both origin columns).
async fn unlink(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    table: &str,
    crm_column: &str,
    ids: &[String],
) -> Result<()> {
    for chunk in ids.chunks(chunk_rows(1)) {
        let mut query = crate::db::chunk_query(
            format!(
                "UPDATE {table} SET crm_connection_id = NULL, {crm_column} = NULL \
             WHERE tenant_id = $1 AND id IN ({})",
                list_placeholders(2, chunk.len())
            ),
            chunk.len(),
            chunk_rows(1),
        )
        .bind(tenant);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
