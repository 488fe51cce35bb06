//! The workspace directory: people and companies, upserted by the caller's external id in large
//! batches, and the records the import creates from CRM rows that matched nobody.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::directory::{
    Company, CompanyOrigin, CompanySize, Person, PersonOrigin, past_companies,
};
use domain::ids::{CompanyId, PersonId};
use sqlx::any::AnyRow;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, chunk_rows, last_per_key, list_placeholders, millis, values_placeholders};
use crate::error::{Result, StoreError};

/// A person to create or update. With an `external_id` (the caller's own id) a second upsert
/// updates the same person; without one, every upsert creates a new person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewPerson {
    pub external_id: Option<String>,
    pub full_name: String,
    pub title: Option<String>,
    pub company_name: Option<String>,
    pub company: Option<CompanyId>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub profile_url: Option<String>,
    /// Earlier employers, most recent first; cleaned as [`past_companies`] does.
    pub past_companies: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewCompany {
    pub external_id: Option<String>,
    pub name: String,
    pub website: Option<String>,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub size: Option<CompanySize>,
}

/// A directory person with the caller's external id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonRecord {
    pub person: Person,
    pub external_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyRecord {
    pub company: Company,
    pub external_id: Option<String>,
}

/// Lowercased, for case-insensitive name search in both databases.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

fn trimmed(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Earlier employers as stored: one per line, cleaned; none is NULL.
fn encode_past(names: &[String]) -> Option<String> {
    let names = past_companies(&names.join("\n"));
    (!names.is_empty()).then(|| names.join("\n"))
}

/// The stored form is written only by [`encode_past`], already clean: reading splits it.
fn decode_past(text: Option<String>) -> Vec<String> {
    text.map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn required_name(what: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        Err(StoreError::Invalid(format!("{what} needs a name.")))
    } else {
        Ok(name.to_owned())
    }
}

/// `%text%` for LIKE, with the wildcards in `text` taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in name_key(text.trim()).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) const PERSON_COLUMNS: &str = "tenant_id, id, external_id, full_name, title, \
     company_name, company_id, location, email, phone, profile_url, past_companies, crm_connection_id, \
     crm_contact_id";

pub(crate) fn person_from_row(row: &AnyRow) -> Result<PersonRecord> {
    let origin = match (
        row.opt_id("crm_connection_id")?,
        row.opt_id("crm_contact_id")?,
    ) {
        (Some(connection), Some(contact)) => PersonOrigin::CreatedFromCrm {
            connection,
            contact,
        },
        _ => PersonOrigin::Workspace,
    };
    Ok(PersonRecord {
        person: Person {
            id: row.id("id")?,
            tenant: row.id("tenant_id")?,
            full_name: row.text("full_name")?,
            title: row.opt_text("title")?,
            company_name: row.opt_text("company_name")?,
            company: row.opt_id("company_id")?,
            location: row.opt_text("location")?,
            email: row.opt_text("email")?,
            phone: row.opt_text("phone")?,
            profile_url: row.opt_text("profile_url")?,
            past_companies: decode_past(row.opt_text("past_companies")?),
            origin,
        },
        external_id: row.opt_text("external_id")?,
    })
}

pub(crate) const COMPANY_COLUMNS: &str = "tenant_id, id, external_id, name, website, domain, \
     industry, location, size, crm_connection_id, crm_account_id";

pub(crate) fn company_from_row(row: &AnyRow) -> Result<CompanyRecord> {
    let origin = match (
        row.opt_id("crm_connection_id")?,
        row.opt_id("crm_account_id")?,
    ) {
        (Some(connection), Some(account)) => CompanyOrigin::CreatedFromCrm {
            connection,
            account,
        },
        _ => CompanyOrigin::Workspace,
    };
    Ok(CompanyRecord {
        company: Company {
            id: row.id("id")?,
            tenant: row.id("tenant_id")?,
            name: row.text("name")?,
            website: row.opt_text("website")?,
            domain: row.opt_text("domain")?,
            industry: row.opt_text("industry")?,
            location: row.opt_text("location")?,
            size: row
                .opt_text("size")?
                .map(|s| CompanySize::from_word(&s))
                .transpose()?,
            origin,
        },
        external_id: row.opt_text("external_id")?,
    })
}

impl TenantStore {
    /// Creates or updates people by external id, all or nothing; returns their ids in input order.
    pub async fn upsert_people(&mut self, people: &[NewPerson]) -> Result<Vec<PersonId>> {
        const COLUMNS: usize = 15;
        let (t, now) = (self.tid(), millis(self.now()));
        let mut prepared = Vec::with_capacity(people.len());
        for (i, p) in people.iter().enumerate() {
            prepared.push((
                i,
                p,
                required_name("A person", &p.full_name)?,
                trimmed(&p.external_id),
            ));
        }
        let unique = last_per_key(&prepared, |(_, _, _, e)| e.as_deref());
        let mut ids_by_external: HashMap<String, PersonId> = HashMap::new();
        let mut ids_without: HashMap<usize, PersonId> = HashMap::new();
        let backend = self.backend();
        let mut tx = self.atomic().await?;
        for chunk in unique.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO people (tenant_id, id, external_id, full_name, name_key, title, \
                 company_name, company_id, location, email, phone, profile_url, past_companies, \
                 created_at, updated_at) VALUES {} \
                 ON CONFLICT (tenant_id, external_id) DO UPDATE SET \
                 full_name = excluded.full_name, name_key = excluded.name_key, \
                 title = excluded.title, company_name = excluded.company_name, \
                 company_id = excluded.company_id, location = excluded.location, \
                 email = excluded.email, phone = excluded.phone, \
                 profile_url = excluded.profile_url, past_companies = excluded.past_companies, \
                 updated_at = excluded.updated_at \
                 RETURNING id, external_id",
                values_placeholders(backend, chunk.len(), COLUMNS)
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for (i, p, name, external_id) in chunk.iter().copied() {
                let id = PersonId::new_random();
                if external_id.is_none() {
                    ids_without.insert(*i, id);
                }
                query = query
                    .bind(t.clone())
                    .bind(id.to_string())
                    .bind(external_id.clone())
                    .bind(name.clone())
                    .bind(name_key(name))
                    .bind(trimmed(&p.title))
                    .bind(trimmed(&p.company_name))
                    .bind(p.company.map(|c| c.to_string()))
                    .bind(trimmed(&p.location))
                    .bind(trimmed(&p.email))
                    .bind(trimmed(&p.phone))
                    .bind(trimmed(&p.profile_url))
                    .bind(encode_past(&p.past_companies))
                    .bind(now)
                    .bind(now);
            }
            let rows = query.fetch_all(&mut *tx).await.map_err(|e| {
                StoreError::from(e)
                    .on_foreign_key("A person refers to a company that does not exist.")
            })?;
            for row in &rows {
                if let Some(external_id) = row.opt_text("external_id")? {
                    ids_by_external.insert(external_id, row.id("id")?);
                }
            }
        }
        tx.commit().await?;
        prepared
            .iter()
            .map(|(i, _, _, external_id)| {
                let id = match external_id {
                    Some(e) => ids_by_external.get(e),
                    None => ids_without.get(i),
                };
                id.copied()
                    .ok_or_else(|| StoreError::corrupt("an upserted person has no id"))
            })
            .collect()
    }

    /// Creates or updates companies by external id, all or nothing; returns ids in input order.
    pub async fn upsert_companies(&mut self, companies: &[NewCompany]) -> Result<Vec<CompanyId>> {
        const COLUMNS: usize = 12;
        let (t, now) = (self.tid(), millis(self.now()));
        let mut prepared = Vec::with_capacity(companies.len());
        for (i, c) in companies.iter().enumerate() {
            prepared.push((
                i,
                c,
                required_name("A company", &c.name)?,
                trimmed(&c.external_id),
            ));
        }
        let unique = last_per_key(&prepared, |(_, _, _, e)| e.as_deref());
        let mut ids_by_external: HashMap<String, CompanyId> = HashMap::new();
        let mut ids_without: HashMap<usize, CompanyId> = HashMap::new();
        let backend = self.backend();
        let mut tx = self.atomic().await?;
        for chunk in unique.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO companies (tenant_id, id, external_id, name, name_key, website, \
                 domain, industry, location, size, created_at, updated_at) VALUES {} \
                 ON CONFLICT (tenant_id, external_id) DO UPDATE SET \
                 name = excluded.name, name_key = excluded.name_key, website = excluded.website, \
                 domain = excluded.domain, industry = excluded.industry, \
                 location = excluded.location, size = excluded.size, \
                 updated_at = excluded.updated_at \
                 RETURNING id, external_id",
                values_placeholders(backend, chunk.len(), COLUMNS)
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for (i, c, name, external_id) in chunk.iter().copied() {
                let id = CompanyId::new_random();
                if external_id.is_none() {
                    ids_without.insert(*i, id);
                }
                query = query
                    .bind(t.clone())
                    .bind(id.to_string())
                    .bind(external_id.clone())
                    .bind(name.clone())
                    .bind(name_key(name))
                    .bind(trimmed(&c.website))
                    .bind(trimmed(&c.domain).map(|d| d.to_lowercase()))
                    .bind(trimmed(&c.industry))
                    .bind(trimmed(&c.location))
                    .bind(c.size.map(Word::word))
                    .bind(now)
                    .bind(now);
            }
            let rows = query.fetch_all(&mut *tx).await?;
            for row in &rows {
                if let Some(external_id) = row.opt_text("external_id")? {
                    ids_by_external.insert(external_id, row.id("id")?);
                }
            }
        }
        tx.commit().await?;
        prepared
            .iter()
            .map(|(i, _, _, external_id)| {
                let id = match external_id {
                    Some(e) => ids_by_external.get(e),
                    None => ids_without.get(i),
                };
                id.copied()
                    .ok_or_else(|| StoreError::corrupt("an upserted company has no id"))
            })
            .collect()
    }

    /// Adds the people the import created from CRM contacts, keeping their derived ids; one that
    /// exists already is left as it is, so a retried import changes nothing.
    pub async fn insert_people_from_crm(&mut self, people: &[Person]) -> Result<u64> {
        const COLUMNS: usize = 16;
        let (t, now) = (self.tid(), millis(self.now()));
        if people.iter().any(|p| p.tenant != self.tenant) {
            return Err(StoreError::Invalid("a person of another tenant".to_owned()));
        }
        let mut inserted = 0;
        let backend = self.backend();
        let mut tx = self.atomic().await?;
        for chunk in people.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO people (tenant_id, id, full_name, name_key, title, company_name, \
                 company_id, location, email, phone, profile_url, past_companies, \
                 crm_connection_id, crm_contact_id, created_at, updated_at) VALUES {} \
                 ON CONFLICT (tenant_id, id) DO NOTHING",
                values_placeholders(backend, chunk.len(), COLUMNS)
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for p in chunk {
                let (connection, contact) = match p.origin {
                    PersonOrigin::CreatedFromCrm {
                        connection,
                        contact,
                    } => (Some(connection.to_string()), Some(contact.to_string())),
                    PersonOrigin::Workspace => (None, None),
                };
                query = query
                    .bind(t.clone())
                    .bind(p.id.to_string())
                    .bind(p.full_name.clone())
                    .bind(name_key(&p.full_name))
                    .bind(p.title.clone())
                    .bind(p.company_name.clone())
                    .bind(p.company.map(|c| c.to_string()))
                    .bind(p.location.clone())
                    .bind(p.email.clone())
                    .bind(p.phone.clone())
                    .bind(p.profile_url.clone())
                    .bind(encode_past(&p.past_companies))
                    .bind(connection)
                    .bind(contact)
                    .bind(now)
                    .bind(now);
            }
            inserted += query
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from(e).on_foreign_key("unknown company"))?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Adds the companies the import created from CRM accounts; existing ones are left as they are.
    pub async fn insert_companies_from_crm(&mut self, companies: &[Company]) -> Result<u64> {
        const COLUMNS: usize = 13;
        let (t, now) = (self.tid(), millis(self.now()));
        if companies.iter().any(|c| c.tenant != self.tenant) {
            return Err(StoreError::Invalid(
                "a company of another tenant".to_owned(),
            ));
        }
        let mut inserted = 0;
        let backend = self.backend();
        let mut tx = self.atomic().await?;
        for chunk in companies.chunks(chunk_rows(COLUMNS)) {
            let sql = format!(
                "INSERT INTO companies (tenant_id, id, name, name_key, website, domain, industry, \
                 location, size, crm_connection_id, crm_account_id, created_at, updated_at) \
                 VALUES {} ON CONFLICT (tenant_id, id) DO NOTHING",
                values_placeholders(backend, chunk.len(), COLUMNS)
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(COLUMNS));
            for c in chunk {
                let (connection, account) = match c.origin {
                    CompanyOrigin::CreatedFromCrm {
                        connection,
                        account,
                    } => (Some(connection.to_string()), Some(account.to_string())),
                    CompanyOrigin::Workspace => (None, None),
                };
                query = query
                    .bind(t.clone())
                    .bind(c.id.to_string())
                    .bind(c.name.clone())
                    .bind(name_key(&c.name))
                    .bind(c.website.clone())
                    .bind(c.domain.clone())
                    .bind(c.industry.clone())
                    .bind(c.location.clone())
                    .bind(c.size.map(Word::word))
                    .bind(connection)
                    .bind(account)
                    .bind(now)
                    .bind(now);
            }
            inserted += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn person(&mut self, id: PersonId) -> Result<Option<PersonRecord>> {
        let t = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    pub async fn person_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<PersonRecord>> {
        let t = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND external_id = $2"
        )))
        .bind(t)
        .bind(external_id.trim())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// The given people that exist, in id order.
    pub async fn people_by_ids(&mut self, ids: &[PersonId]) -> Result<Vec<PersonRecord>> {
        let t = self.tid();
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn().await?;
        for chunk in ids.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND id IN ({}) ORDER BY id",
                list_placeholders(2, chunk.len())
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(1)).bind(t.clone());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&mut *conn).await? {
                out.push(person_from_row(&row)?);
            }
        }
        out.sort_by_key(|p| p.person.id);
        Ok(out)
    }

    /// The people added or changed at `since` or later, each with the time of its last change
    /// (for matching only what changed, and each version once).
    pub async fn people_changed_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(PersonRecord, DateTime<Utc>)>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS}, updated_at FROM people WHERE tenant_id = $1 AND updated_at >= $2 \
             ORDER BY id"
        )))
        .bind(t)
        .bind(millis(since))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| Ok((person_from_row(row)?, row.time("updated_at")?)))
            .collect()
    }

    /// The companies added or changed at `since` or later, each with the time of its last change.
    pub async fn companies_changed_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(CompanyRecord, DateTime<Utc>)>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS}, updated_at FROM companies WHERE tenant_id = $1 \
             AND updated_at >= $2 ORDER BY id"
        )))
        .bind(t)
        .bind(millis(since))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| Ok((company_from_row(row)?, row.time("updated_at")?)))
            .collect()
    }

    /// The given companies that exist, in id order.
    pub async fn companies_by_ids(&mut self, ids: &[CompanyId]) -> Result<Vec<CompanyRecord>> {
        let t = self.tid();
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn().await?;
        for chunk in ids.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id IN ({}) ORDER BY id",
                list_placeholders(2, chunk.len())
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(1)).bind(t.clone());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(&mut *conn).await? {
                out.push(company_from_row(&row)?);
            }
        }
        out.sort_by_key(|c| c.company.id);
        Ok(out)
    }

    /// A page of people in id order, after `after`; page through all of them with the last id.
    pub async fn people_page(
        &mut self,
        after: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<PersonRecord>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        )))
        .bind(t)
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(person_from_row).collect()
    }

    /// People whose name contains `text`, case-insensitively, by name.
    pub async fn search_people(&mut self, text: &str, limit: u32) -> Result<Vec<PersonRecord>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 \
             AND name_key LIKE $2 ESCAPE '\\' ORDER BY name_key, id LIMIT $3"
        )))
        .bind(t)
        .bind(contains_pattern(text))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(person_from_row).collect()
    }

    /// Whether the workspace has people of its own (not created by the import from CRM rows):
    /// without them there is nothing to match.
    pub async fn has_own_people(&mut self) -> Result<bool> {
        let t = self.tid();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM people WHERE tenant_id = $1 \
             AND crm_contact_id IS NULL LIMIT 1) AS one",
        )
        .bind(t)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(row.int("n")? > 0)
    }

    /// Whether the workspace has companies of its own (not created by the import).
    pub async fn has_own_companies(&mut self) -> Result<bool> {
        let t = self.tid();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM companies WHERE tenant_id = $1 \
             AND crm_account_id IS NULL LIMIT 1) AS one",
        )
        .bind(t)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(row.int("n")? > 0)
    }

    pub async fn count_people(&mut self) -> Result<u64> {
        let t = self.tid();
        let row = sqlx::query("SELECT COUNT(*) AS n FROM people WHERE tenant_id = $1")
            .bind(t)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(u64::try_from(row.int("n")?).unwrap_or_default())
    }

    pub async fn company(&mut self, id: CompanyId) -> Result<Option<CompanyRecord>> {
        let t = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(t)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(company_from_row).transpose()
    }

    pub async fn company_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<CompanyRecord>> {
        let t = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND external_id = $2"
        )))
        .bind(t)
        .bind(external_id.trim())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(company_from_row).transpose()
    }

    /// The ids of the companies with these external ids (those that exist), read in large
    /// batches: what an import of people looks their companies up with.
    pub async fn company_ids_by_external_ids(
        &mut self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, CompanyId>> {
        let t = self.tid();
        let mut found = HashMap::with_capacity(external_ids.len());
        let mut conn = self.conn().await?;
        for chunk in external_ids.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT id, external_id FROM companies WHERE tenant_id = $1 AND external_id IN ({})",
                list_placeholders(2, chunk.len())
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(1)).bind(t.clone());
            for external_id in chunk {
                query = query.bind(external_id.trim().to_owned());
            }
            for row in query.fetch_all(&mut *conn).await? {
                found.insert(row.text("external_id")?, row.id("id")?);
            }
        }
        Ok(found)
    }

    pub async fn companies_page(
        &mut self,
        after: Option<CompanyId>,
        limit: u32,
    ) -> Result<Vec<CompanyRecord>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        )))
        .bind(t)
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(company_from_row).collect()
    }

    /// Companies whose name contains `text`, case-insensitively, by name.
    pub async fn search_companies(&mut self, text: &str, limit: u32) -> Result<Vec<CompanyRecord>> {
        let t = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE tenant_id = $1 \
             AND name_key LIKE $2 ESCAPE '\\' ORDER BY name_key, id LIMIT $3"
        )))
        .bind(t)
        .bind(contains_pattern(text))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(company_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern(" Ana "), "%ana%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("ÉLODIE"), "%élodie%");
    }
}
