//! Matches between workspace people/companies and CRM contacts, leads and accounts: automatic
//! ones with confidence and explanation, a rep's pins, and rejected pairs that never come back.

use domain::crm::CrmPersonRef;
use domain::ids::{CompanyId, CrmAccountId, PersonId};
use domain::matches::{CompanyMatch, Confidence, MatchOrigin, PersonMatch};
use sqlx::any::AnyRow;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, chunk_rows, last_per_key, millis, values_placeholders};
use crate::error::{Result, StoreError};

pub(crate) fn crm_ref_parts(crm: CrmPersonRef) -> (&'static str, String) {
    match crm {
        CrmPersonRef::Contact(contact) => ("contact", contact.to_string()),
        CrmPersonRef::Lead(lead) => ("lead", lead.to_string()),
    }
}

pub(crate) fn crm_ref_from(table: &str, id: uuid::Uuid) -> Result<CrmPersonRef> {
    match table {
        "contact" => Ok(CrmPersonRef::Contact(id.into())),
        "lead" => Ok(CrmPersonRef::Lead(id.into())),
        other => Err(StoreError::corrupt(format!(
            "{other:?} is not a person's CRM table"
        ))),
    }
}

fn confidence(row: &AnyRow) -> Result<Confidence> {
    let percent = u8::try_from(row.int("confidence")?)
        .map_err(|_| StoreError::corrupt("confidence out of range"))?;
    Ok(Confidence::new(percent))
}

fn person_match(row: &AnyRow) -> Result<PersonMatch> {
    Ok(PersonMatch {
        person: row.id("person_id")?,
        crm: crm_ref_from(&row.text("crm_table")?, row.uuid("crm_id")?)?,
        confidence: confidence(row)?,
        origin: MatchOrigin::from_word(&row.text("origin")?)?,
        explanation: row.text("explanation")?,
    })
}

fn company_match(row: &AnyRow) -> Result<CompanyMatch> {
    Ok(CompanyMatch {
        company: row.id("company_id")?,
        account: row.id("account_id")?,
        confidence: confidence(row)?,
        origin: MatchOrigin::from_word(&row.text("origin")?)?,
        explanation: row.text("explanation")?,
    })
}

/// An automatic match never replaces a rep's; a rep's replaces anything.
const KEEP_REPS: &str = "WHERE {t}.origin <> 'by_rep' OR excluded.origin = 'by_rep'";

impl TenantStore {
    /// Records matches (updating confidence and explanation of known pairs). Pairs a rep rejected
    /// are not recorded, and a rep's pin is not overwritten by an automatic match.
    pub async fn upsert_person_matches(&mut self, matches: &[PersonMatch]) -> Result<()> {
        const COLUMNS: usize = 8;
        if matches.is_empty() {
            return Ok(());
        }
        let (tenant, now) = (self.tid(), millis(self.now()));
        let backend = self.backend();
        let matches = last_per_key(matches, |m| Some((m.person, m.crm)));
        let mut tx = self.atomic().await?;
        for chunk in matches.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO person_matches (tenant_id, person_id, crm_table, crm_id, confidence, \
                 origin, explanation, updated_at) VALUES {} \
                 ON CONFLICT (tenant_id, person_id, crm_table, crm_id) DO UPDATE SET \
                 confidence = excluded.confidence, origin = excluded.origin, \
                 explanation = excluded.explanation, updated_at = excluded.updated_at {}",
                values_placeholders(backend, chunk.len(), COLUMNS),
                KEEP_REPS.replace("{t}", "person_matches")
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for m in chunk {
                let (table, crm_id) = crm_ref_parts(m.crm);
                query = query
                    .bind(tenant.clone())
                    .bind(m.person.to_string())
                    .bind(table)
                    .bind(crm_id)
                    .bind(i64::from(m.confidence.percent()))
                    .bind(m.origin.word())
                    .bind(m.explanation.clone())
                    .bind(now);
            }
            query.execute(&mut *tx).await.map_err(|e| {
                StoreError::from(e).on_foreign_key("A match refers to an unknown person.")
            })?;
        }
        sqlx::query(
            "DELETE FROM person_matches WHERE (tenant_id, person_id, crm_table, crm_id) IN ( \
             SELECT tenant_id, subject_id, crm_table, crm_id FROM match_rejections \
             WHERE tenant_id = $1 AND subject_kind = 'person') AND origin <> 'by_rep'",
        )
        .bind(&tenant)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records company matches, with the same rules as [`TenantStore::upsert_person_matches`].
    pub async fn upsert_company_matches(&mut self, matches: &[CompanyMatch]) -> Result<()> {
        const COLUMNS: usize = 7;
        if matches.is_empty() {
            return Ok(());
        }
        let (tenant, now) = (self.tid(), millis(self.now()));
        let backend = self.backend();
        let matches = last_per_key(matches, |m| Some((m.company, m.account)));
        let mut tx = self.atomic().await?;
        for chunk in matches.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO company_matches (tenant_id, company_id, account_id, confidence, \
                 origin, explanation, updated_at) VALUES {} \
                 ON CONFLICT (tenant_id, company_id, account_id) DO UPDATE SET \
                 confidence = excluded.confidence, origin = excluded.origin, \
                 explanation = excluded.explanation, updated_at = excluded.updated_at {}",
                values_placeholders(backend, chunk.len(), COLUMNS),
                KEEP_REPS.replace("{t}", "company_matches")
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for m in chunk {
                query = query
                    .bind(tenant.clone())
                    .bind(m.company.to_string())
                    .bind(m.account.to_string())
                    .bind(i64::from(m.confidence.percent()))
                    .bind(m.origin.word())
                    .bind(m.explanation.clone())
                    .bind(now);
            }
            query.execute(&mut *tx).await.map_err(|e| {
                StoreError::from(e).on_foreign_key("A match refers to an unknown company.")
            })?;
        }
        sqlx::query(
            "DELETE FROM company_matches WHERE (tenant_id, company_id, account_id) IN ( \
             SELECT tenant_id, subject_id, crm_id FROM match_rejections \
             WHERE tenant_id = $1 AND subject_kind = 'company') AND origin <> 'by_rep'",
        )
        .bind(&tenant)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's person matches (or one person's), to build a [`domain::matches::MatchIndex`].
    pub async fn person_matches(&mut self, person: Option<PersonId>) -> Result<Vec<PersonMatch>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT person_id, crm_table, crm_id, confidence, origin, explanation FROM person_matches \
             WHERE tenant_id = $1 AND ($2 IS NULL OR person_id = $2) ORDER BY person_id, crm_table, crm_id",
        )
        .bind(tenant)
        .bind(person.map(|p| p.to_string()))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(person_match).collect()
    }

    /// The workspace people matched to one CRM contact or lead.
    pub async fn people_matched_to(&mut self, crm: CrmPersonRef) -> Result<Vec<PersonMatch>> {
        let tenant = self.tid();
        let (table, id) = crm_ref_parts(crm);
        let rows = sqlx::query(
            "SELECT person_id, crm_table, crm_id, confidence, origin, explanation FROM person_matches \
             WHERE tenant_id = $1 AND crm_table = $2 AND crm_id = $3 ORDER BY person_id",
        )
        .bind(tenant)
        .bind(table)
        .bind(id)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(person_match).collect()
    }

    pub async fn company_matches(
        &mut self,
        company: Option<CompanyId>,
    ) -> Result<Vec<CompanyMatch>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT company_id, account_id, confidence, origin, explanation FROM company_matches \
             WHERE tenant_id = $1 AND ($2 IS NULL OR company_id = $2) ORDER BY company_id, account_id",
        )
        .bind(tenant)
        .bind(company.map(|c| c.to_string()))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(company_match).collect()
    }

    /// A rep confirms or corrects a person's match: it becomes the person's only match, certain,
    /// and any earlier rejection of the pair is forgotten.
    pub async fn pin_person_match(
        &mut self,
        person: PersonId,
        crm: CrmPersonRef,
        explanation: &str,
    ) -> Result<()> {
        let started = self.enter().await?;
        let result = self.pin_person_match_inside(person, crm, explanation).await;
        self.leave(started, result).await
    }

    async fn pin_person_match_inside(
        &mut self,
        person: PersonId,
        crm: CrmPersonRef,
        explanation: &str,
    ) -> Result<()> {
        let tenant = self.tid();
        let (table, crm_id) = crm_ref_parts(crm);
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM person_matches WHERE tenant_id = $1 AND person_id = $2")
            .bind(&tenant)
            .bind(person.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM match_rejections WHERE tenant_id = $1 AND subject_kind = 'person' \
             AND subject_id = $2 AND crm_table = $3 AND crm_id = $4",
        )
        .bind(&tenant)
        .bind(person.to_string())
        .bind(table)
        .bind(&crm_id)
        .execute(&mut *conn)
        .await?;
        drop(conn);
        self.upsert_person_matches(&[PersonMatch {
            person,
            crm,
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::ByRep,
            explanation: explanation.to_owned(),
        }])
        .await
    }

    /// A rep says a person is not this CRM record: the match goes and is never made again
    /// automatically.
    pub async fn reject_person_match(&mut self, person: PersonId, crm: CrmPersonRef) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let (table, crm_id) = crm_ref_parts(crm);
        let mut tx = self.atomic().await?;
        sqlx::query(
            "DELETE FROM person_matches WHERE tenant_id = $1 AND person_id = $2 \
             AND crm_table = $3 AND crm_id = $4",
        )
        .bind(&tenant)
        .bind(person.to_string())
        .bind(table)
        .bind(&crm_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO match_rejections (tenant_id, subject_kind, subject_id, crm_table, crm_id, \
             rejected_at) SELECT tenant_id, 'person', id, $3, $4, $5 FROM people \
             WHERE tenant_id = $1 AND id = $2 \
             ON CONFLICT (tenant_id, subject_kind, subject_id, crm_table, crm_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(person.to_string())
        .bind(table)
        .bind(&crm_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A rep's pins on the person are removed; automatic matching decides again.
    pub async fn unpin_person(&mut self, person: PersonId) -> Result<()> {
        let tenant = self.tid();
        sqlx::query(
            "DELETE FROM person_matches WHERE tenant_id = $1 AND person_id = $2 AND origin = 'by_rep'",
        )
        .bind(tenant)
        .bind(person.to_string())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Removes the person's automatic matches (before recording freshly computed ones).
    pub async fn clear_automatic_person_matches(&mut self, person: PersonId) -> Result<()> {
        let tenant = self.tid();
        sqlx::query(
            "DELETE FROM person_matches WHERE tenant_id = $1 AND person_id = $2 AND origin <> 'by_rep'",
        )
        .bind(tenant)
        .bind(person.to_string())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Removes the company's automatic matches (before recording freshly computed ones).
    pub async fn clear_automatic_company_matches(&mut self, company: CompanyId) -> Result<()> {
        let tenant = self.tid();
        sqlx::query(
            "DELETE FROM company_matches WHERE tenant_id = $1 AND company_id = $2 \
             AND origin IN ('scored', 'exact')",
        )
        .bind(tenant)
        .bind(company.to_string())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    pub async fn pin_company_match(
        &mut self,
        company: CompanyId,
        account: CrmAccountId,
        explanation: &str,
    ) -> Result<()> {
        let started = self.enter().await?;
        let result = self
            .pin_company_match_inside(company, account, explanation)
            .await;
        self.leave(started, result).await
    }

    async fn pin_company_match_inside(
        &mut self,
        company: CompanyId,
        account: CrmAccountId,
        explanation: &str,
    ) -> Result<()> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM company_matches WHERE tenant_id = $1 AND company_id = $2")
            .bind(&tenant)
            .bind(company.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "DELETE FROM match_rejections WHERE tenant_id = $1 AND subject_kind = 'company' \
             AND subject_id = $2 AND crm_table = 'account' AND crm_id = $3",
        )
        .bind(&tenant)
        .bind(company.to_string())
        .bind(account.to_string())
        .execute(&mut *conn)
        .await?;
        drop(conn);
        self.upsert_company_matches(&[CompanyMatch {
            company,
            account,
            confidence: Confidence::CERTAIN,
            origin: MatchOrigin::ByRep,
            explanation: explanation.to_owned(),
        }])
        .await
    }

    pub async fn reject_company_match(
        &mut self,
        company: CompanyId,
        account: CrmAccountId,
    ) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let mut tx = self.atomic().await?;
        sqlx::query(
            "DELETE FROM company_matches WHERE tenant_id = $1 AND company_id = $2 AND account_id = $3",
        )
        .bind(&tenant)
        .bind(company.to_string())
        .bind(account.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO match_rejections (tenant_id, subject_kind, subject_id, crm_table, crm_id, \
             rejected_at) SELECT tenant_id, 'company', id, 'account', $3, $4 FROM companies \
             WHERE tenant_id = $1 AND id = $2 \
             ON CONFLICT (tenant_id, subject_kind, subject_id, crm_table, crm_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(company.to_string())
        .bind(account.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pairs reps rejected, for the matching index.
    pub async fn person_rejections(&mut self) -> Result<Vec<(PersonId, CrmPersonRef)>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT subject_id, crm_table, crm_id FROM match_rejections \
             WHERE tenant_id = $1 AND subject_kind = 'person' ORDER BY subject_id, crm_table, crm_id",
        )
        .bind(tenant)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.id("subject_id")?,
                    crm_ref_from(&row.text("crm_table")?, row.uuid("crm_id")?)?,
                ))
            })
            .collect()
    }

    pub async fn company_rejections(&mut self) -> Result<Vec<(CompanyId, CrmAccountId)>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT subject_id, crm_id FROM match_rejections \
             WHERE tenant_id = $1 AND subject_kind = 'company' ORDER BY subject_id, crm_id",
        )
        .bind(tenant)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| Ok((row.id("subject_id")?, row.id("crm_id")?)))
            .collect()
    }
}

impl TenantStore {
    /// The people a rep pinned to a CRM record.
    pub async fn pinned_people(&mut self) -> Result<Vec<PersonId>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT DISTINCT person_id FROM person_matches WHERE tenant_id = $1 AND origin = $2 \
             ORDER BY person_id",
        )
        .bind(tenant)
        .bind(MatchOrigin::ByRep.word())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(|row| row.id("person_id")).collect()
    }

    /// The companies a rep pinned to a CRM account.
    pub async fn pinned_companies(&mut self) -> Result<Vec<CompanyId>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT DISTINCT company_id FROM company_matches WHERE tenant_id = $1 AND origin = $2 \
             ORDER BY company_id",
        )
        .bind(tenant)
        .bind(MatchOrigin::ByRep.word())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(|row| row.id("company_id")).collect()
    }

    /// The stored matches to any of these CRM contacts and leads.
    pub async fn people_matched_to_any(
        &mut self,
        crm: &[CrmPersonRef],
    ) -> Result<Vec<PersonMatch>> {
        let mut out = Vec::new();
        for table in ["contact", "lead"] {
            let ids: Vec<String> = crm
                .iter()
                .map(|c| crm_ref_parts(*c))
                .filter(|(t, _)| *t == table)
                .map(|(_, id)| id)
                .collect();
            out.extend(
                self.person_matches_where_in("crm_table = $2 AND crm_id", Some(table), &ids)
                    .await?,
            );
        }
        Ok(out)
    }

    /// The stored matches to any of these CRM accounts.
    pub async fn companies_matched_to_any(
        &mut self,
        accounts: &[CrmAccountId],
    ) -> Result<Vec<CompanyMatch>> {
        let accounts: Vec<String> = accounts.iter().map(ToString::to_string).collect();
        self.company_matches_where_in("account_id", &accounts).await
    }

    /// The matches of the people whose ids lie between `first` and `last` (both included): those
    /// of a page of people read in id order, in one query whatever the page's size.
    pub async fn person_matches_between(
        &mut self,
        first: PersonId,
        last: PersonId,
    ) -> Result<Vec<PersonMatch>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT person_id, crm_table, crm_id, confidence, origin, explanation \
             FROM person_matches WHERE tenant_id = $1 AND person_id >= $2 AND person_id <= $3 \
             ORDER BY person_id, crm_table, crm_id",
        )
        .bind(tenant)
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(person_match).collect()
    }

    /// The matches of the companies whose ids lie between `first` and `last` (both included).
    pub async fn company_matches_between(
        &mut self,
        first: CompanyId,
        last: CompanyId,
    ) -> Result<Vec<CompanyMatch>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT company_id, account_id, confidence, origin, explanation \
             FROM company_matches WHERE tenant_id = $1 AND company_id >= $2 AND company_id <= $3 \
             ORDER BY company_id, account_id",
        )
        .bind(tenant)
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(company_match).collect()
    }

    /// The matches of the given people (a page of a list), in one query per chunk of ids.
    pub async fn person_matches_of(&mut self, people: &[PersonId]) -> Result<Vec<PersonMatch>> {
        let people: Vec<String> = people.iter().map(ToString::to_string).collect();
        self.person_matches_where_in("person_id", None, &people)
            .await
    }

    /// The person matches where `condition` (ending in a column, `$2` being `fixed` if given)
    /// holds one of `values`, one query per chunk of values, in person and CRM record order.
    async fn person_matches_where_in(
        &mut self,
        condition: &'static str,
        fixed: Option<&str>,
        values: &[String],
    ) -> Result<Vec<PersonMatch>> {
        let tenant = self.tid();
        let first = if fixed.is_some() { 3 } else { 2 };
        let mut conn = self.conn().await?;
        let mut out = Vec::new();
        for chunk in values.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT person_id, crm_table, crm_id, confidence, origin, explanation \
                 FROM person_matches WHERE tenant_id = $1 AND {condition} IN ({}) \
                 ORDER BY person_id, crm_table, crm_id",
                crate::db::list_placeholders(first, chunk.len())
            );
            let mut query =
                crate::db::chunk_query(sql, chunk.len(), chunk_rows(1)).bind(tenant.clone());
            if let Some(fixed) = fixed {
                query = query.bind(fixed.to_owned());
            }
            for value in chunk {
                query = query.bind(value.clone());
            }
            for row in query.fetch_all(&mut *conn).await? {
                out.push(person_match(&row)?);
            }
        }
        Ok(out)
    }

    /// The matches of the given companies, in one query per chunk of ids.
    pub async fn company_matches_of(
        &mut self,
        companies: &[CompanyId],
    ) -> Result<Vec<CompanyMatch>> {
        let companies: Vec<String> = companies.iter().map(ToString::to_string).collect();
        self.company_matches_where_in("company_id", &companies)
            .await
    }

    /// The company matches whose `column` holds one of `values`, one query per chunk of values,
    /// in company and account order.
    async fn company_matches_where_in(
        &mut self,
        column: &'static str,
        values: &[String],
    ) -> Result<Vec<CompanyMatch>> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let mut out = Vec::new();
        for chunk in values.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT company_id, account_id, confidence, origin, explanation \
                 FROM company_matches WHERE tenant_id = $1 AND {column} IN ({}) \
                 ORDER BY company_id, account_id",
                crate::db::list_placeholders(2, chunk.len())
            );
            let mut query =
                crate::db::chunk_query(sql, chunk.len(), chunk_rows(1)).bind(tenant.clone());
            for value in chunk {
                query = query.bind(value.clone());
            }
            for row in query.fetch_all(&mut *conn).await? {
                out.push(company_match(&row)?);
            }
        }
        Ok(out)
    }
}
