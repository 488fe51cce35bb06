//! Directory records on the wire: people and companies as a JSON array, NDJSON or CSV, read record
//! by record with per-record errors (item index and line), then upserted by the caller's external
//! id, all or nothing. Shared by the import API and `leadbridge import`.
//!
//! Reading is synchronous and streams (a file of a million people never sits in memory whole);
//! storing is async and runs in one transaction, fed in batches.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use domain::directory::CompanySize;
use domain::ids::CompanyId;
use http::HeaderValue;
use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use store::TenantStore;
use store::directory::{NewCompany, NewPerson};
use utoipa::ToSchema;

use crate::problem::{FieldError, Problem, ProblemCode};

/// Errors past this many are counted, not listed.
pub const MAX_LISTED_ERRORS: usize = 100;
/// Longest text value accepted in a record, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Longest name accepted, in characters: names are indexed, and an index entry must stay well
/// under PostgreSQL's limit (about 2,700 bytes) even in four-byte characters.
pub const MAX_NAME_CHARS: usize = 300;
/// Longest external id accepted, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;
/// Records stored per batch inside the import's transaction.
pub const BATCH: usize = 5000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON array of records.
    Json,
    /// One JSON record per line.
    Ndjson,
    /// A header line naming the columns, then one record per line.
    Csv,
}

impl Format {
    pub fn from_content_type(value: Option<&HeaderValue>) -> Option<Format> {
        let value = value?.to_str().ok()?;
        let essence = value.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Format::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Format::Ndjson),
            "text/csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A person to create or update.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRow {
    /// Your own id for this person: importing the same id again updates the person.
    pub external_id: String,
    pub full_name: String,
    pub title: Option<String>,
    /// The company as shown on the profile.
    pub company_name: Option<String>,
    /// The `external_id` of a company imported before: links the person to it.
    pub company_external_id: Option<String>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub profile_url: Option<String>,
    /// Earlier employers, most recent first, separated by `;` (`"Contoso Ltd; Fabrikam"`):
    /// matching finds a person who changed jobs through them when the CRM still has the old
    /// company.
    pub past_companies: Option<String>,
}

/// A company to create or update.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyRow {
    /// Your own id for this company: importing the same id again updates the company.
    pub external_id: String,
    pub name: String,
    pub website: Option<String>,
    /// The web domain, e.g. `contoso.com`.
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub location: Option<String>,
    pub size: Option<SizeBand>,
}

/// A head-count band on the wire: `1-10`, `11-50`, … `10001+`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeBand(pub CompanySize);

impl utoipa::PartialSchema for SizeBand {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(SIZES.iter().map(|(word, _)| *word)))
            .description(Some("Head-count band."))
            .into()
    }
}

impl ToSchema for SizeBand {}

impl<'de> Deserialize<'de> for SizeBand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        SIZES
            .iter()
            .find(|(word, _)| *word == text)
            .map(|(_, size)| SizeBand(*size))
            .ok_or_else(|| {
                let words: Vec<&str> = SIZES.iter().map(|(w, _)| *w).collect();
                serde::de::Error::custom(format!(
                    "{text:?} is not a size band; use one of {}",
                    words.join(", ")
                ))
            })
    }
}

impl Serialize for SizeBand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(company_size_word(self.0))
    }
}

const SIZES: [(&str, CompanySize); 8] = [
    ("1-10", CompanySize::From1To10),
    ("11-50", CompanySize::From11To50),
    ("51-200", CompanySize::From51To200),
    ("201-500", CompanySize::From201To500),
    ("501-1000", CompanySize::From501To1000),
    ("1001-5000", CompanySize::From1001To5000),
    ("5001-10000", CompanySize::From5001To10000),
    ("10001+", CompanySize::Over10000),
];

pub fn company_size_word(size: CompanySize) -> &'static str {
    SIZES
        .iter()
        .find(|(_, s)| *s == size)
        .map_or("", |(word, _)| word)
}

/// What every kind of record has: its columns (for CSV headers) and its own checks.
pub trait Row: DeserializeOwned + Send + 'static {
    const COLUMNS: &'static [&'static str];
    const REQUIRED: &'static [&'static str];
    /// Problems with the values, as (field, message).
    fn check(&self) -> Vec<(&'static str, String)>;
}

fn check_text(
    errors: &mut Vec<(&'static str, String)>,
    field: &'static str,
    value: Option<&str>,
    max: usize,
) {
    if let Some(value) = value
        && value.chars().count() > max
    {
        errors.push((field, format!("must be at most {max} characters")));
    }
}

fn check_required(errors: &mut Vec<(&'static str, String)>, field: &'static str, value: &str) {
    if value.trim().is_empty() {
        errors.push((field, "must not be empty".to_owned()));
    }
}

impl Row for PersonRow {
    const COLUMNS: &'static [&'static str] = &[
        "external_id",
        "full_name",
        "title",
        "company_name",
        "company_external_id",
        "location",
        "email",
        "phone",
        "profile_url",
        "past_companies",
    ];
    const REQUIRED: &'static [&'static str] = &["external_id", "full_name"];

    fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        check_required(&mut errors, "external_id", &self.external_id);
        check_required(&mut errors, "full_name", &self.full_name);
        check_text(
            &mut errors,
            "external_id",
            Some(&self.external_id),
            MAX_EXTERNAL_ID_CHARS,
        );
        check_text(
            &mut errors,
            "company_external_id",
            self.company_external_id.as_deref(),
            MAX_EXTERNAL_ID_CHARS,
        );
        check_text(
            &mut errors,
            "full_name",
            Some(&self.full_name),
            MAX_NAME_CHARS,
        );
        for (field, value) in [
            ("title", self.title.as_deref()),
            ("company_name", self.company_name.as_deref()),
            ("location", self.location.as_deref()),
            ("email", self.email.as_deref()),
            ("phone", self.phone.as_deref()),
            ("profile_url", self.profile_url.as_deref()),
            ("past_companies", self.past_companies.as_deref()),
        ] {
            check_text(&mut errors, field, value, MAX_TEXT_CHARS);
        }
        if let Some(email) = self.email.as_deref().map(str::trim)
            && !email.is_empty()
            && !looks_like_email(email)
        {
            errors.push(("email", format!("{email:?} is not an email address")));
        }
        errors
    }
}

impl Row for CompanyRow {
    const COLUMNS: &'static [&'static str] = &[
        "external_id",
        "name",
        "website",
        "domain",
        "industry",
        "location",
        "size",
    ];
    const REQUIRED: &'static [&'static str] = &["external_id", "name"];

    fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        check_required(&mut errors, "external_id", &self.external_id);
        check_required(&mut errors, "name", &self.name);
        check_text(
            &mut errors,
            "external_id",
            Some(&self.external_id),
            MAX_EXTERNAL_ID_CHARS,
        );
        check_text(&mut errors, "name", Some(&self.name), MAX_NAME_CHARS);
        for (field, value) in [
            ("website", self.website.as_deref()),
            ("domain", self.domain.as_deref()),
            ("industry", self.industry.as_deref()),
            ("location", self.location.as_deref()),
        ] {
            check_text(&mut errors, field, value, MAX_TEXT_CHARS);
        }
        errors
    }
}

/// One `@` with something on both sides and no whitespace: enough to catch a column mix-up
/// without refusing the odd but valid addresses real directories hold.
fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Where a record is in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 0-based index of the record among all records.
    pub index: usize,
    /// 1-based line in NDJSON and CSV input.
    pub line: Option<u64>,
}

impl Position {
    fn error(self, field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            path: if field.is_empty() {
                format!("[{}]", self.index)
            } else {
                format!("[{}].{field}", self.index)
            },
            message: message.into(),
            line: self.line,
        }
    }
}

/// A record read, or what is wrong with it.
pub type Record<R> = (Position, Result<R, Vec<FieldError>>);

/// Reads every record of `input`, handing each (or its errors) to `each`. Only a problem with the
/// input as a whole (not a JSON array, a CSV header naming unknown columns, an unreadable stream)
/// stops the reading; it is returned as a problem.
pub fn read_records<R: Row>(
    format: Format,
    input: impl Read,
    mut each: impl FnMut(Record<R>),
) -> Result<(), Problem> {
    let mut checked = |position: Position, parsed: Result<R, Vec<FieldError>>| {
        let parsed = parsed.and_then(|row| {
            let errors: Vec<FieldError> = row
                .check()
                .into_iter()
                .map(|(field, message)| position.error(field, message))
                .collect();
            if errors.is_empty() {
                Ok(row)
            } else {
                Err(errors)
            }
        });
        each((position, parsed));
    };
    match format {
        Format::Json => read_json_array(input, &mut checked),
        Format::Ndjson => read_ndjson(input, &mut checked),
        Format::Csv => read_csv(input, &mut checked),
    }
}

fn value_error<E: std::fmt::Display>(
    position: Position,
    e: serde_path_to_error::Error<E>,
) -> FieldError {
    let path = e.path().to_string();
    let message = crate::json::strip_position(&e.into_inner().to_string());
    position.error(crate::json::path_text(&path), message)
}

/// A record from its JSON value; text with U+0000 is refused as everywhere in the API.
fn from_value<R: Row>(position: Position, value: serde_json::Value) -> Result<R, Vec<FieldError>> {
    if has_nul(&value) {
        return Err(vec![
            position.error("", "text cannot contain the NUL character (U+0000)"),
        ]);
    }
    serde_path_to_error::deserialize(value).map_err(|e| vec![value_error(position, e)])
}

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn read_json_array<R: Row>(
    input: impl Read,
    each: &mut dyn FnMut(Position, Result<R, Vec<FieldError>>),
) -> Result<(), Problem> {
    struct Records<'a, R> {
        each: &'a mut dyn FnMut(Position, Result<R, Vec<FieldError>>),
    }

    impl<'de, R: Row> Visitor<'de> for Records<'_, R> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of records")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0;
            // Each record is read as a JSON value first, so a record of the wrong shape is
            // reported and the reading goes on to the next one.
            while let Some(value) = seq.next_element::<serde_json::Value>()? {
                let position = Position { index, line: None };
                let parsed = from_value(position, value);
                (self.each)(position, parsed);
                index += 1;
            }
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_reader(BufReader::new(input));
    de.deserialize_seq(Records { each })
        .and_then(|()| de.end())
        .map_err(|e| {
            let code = match e.classify() {
                serde_json::error::Category::Data => ProblemCode::InvalidBody,
                _ => ProblemCode::MalformedJson,
            };
            Problem::new(code).detail(e.to_string())
        })
}

fn read_ndjson<R: Row>(
    input: impl Read,
    each: &mut dyn FnMut(Position, Result<R, Vec<FieldError>>),
) -> Result<(), Problem> {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let (mut number, mut index) = (0u64, 0usize);
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| {
            Problem::new(ProblemCode::UnreadableBody)
                .detail(format!("reading line {}: {e}", number + 1))
        })?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let position = Position {
            index,
            line: Some(number),
        };
        let parsed = match serde_json::from_slice::<serde_json::Value>(&line) {
            Ok(value) => from_value(position, value),
            Err(e) => Err(vec![position.error("", e.to_string())]),
        };
        each(position, parsed);
        index += 1;
    }
}

fn read_csv<R: Row>(
    input: impl Read,
    each: &mut dyn FnMut(Position, Result<R, Vec<FieldError>>),
) -> Result<(), Problem> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| {
            Problem::new(ProblemCode::InvalidBody)
                .detail(format!("The header line cannot be read: {e}"))
        })?
        .clone();
    let mut problem =
        Problem::new(ProblemCode::InvalidBody).detail("The first line must name the columns.");
    for name in &headers {
        if !R::COLUMNS.contains(&name) {
            problem = problem.field(
                "columns",
                format!(
                    "unknown column {name:?}; the columns are {}",
                    R::COLUMNS.join(", ")
                ),
            );
        }
    }
    for required in R::REQUIRED {
        if !headers.iter().any(|h| h == *required) {
            problem = problem.field("columns", format!("the column {required:?} is missing"));
        }
    }
    if !problem.errors.is_empty() {
        return Err(problem);
    }
    let mut record = csv::StringRecord::new();
    let mut index = 0;
    loop {
        let position_after_header = |line| Position { index, line };
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let position = position_after_header(record.position().map(|p| p.line()));
                // Through a JSON object, so a CSV record is checked and reported exactly as the
                // same record in JSON would be; an empty field is no value.
                let object: serde_json::Map<String, serde_json::Value> = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(column, value)| {
                        let value = if value.is_empty() {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(value.to_owned())
                        };
                        (column.to_owned(), value)
                    })
                    .collect();
                let parsed = from_value(position, serde_json::Value::Object(object));
                each(position, parsed);
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(Problem::new(ProblemCode::UnreadableBody).detail(e.to_string()));
            }
            Err(e) => {
                let position = position_after_header(e.position().map(|p| p.line()));
                each(position, Err(vec![position.error("", e.to_string())]));
            }
        }
        index += 1;
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportReport {
    /// Records created or updated.
    pub upserted: usize,
}

/// Why an import stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Records with errors; `total` counts them all, `listed` holds the first ones.
    #[error("{total} record(s) have errors")]
    Records {
        total: usize,
        listed: Vec<FieldError>,
    },
    #[error("{}", .0.detail.clone().unwrap_or_default())]
    Input(Problem),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<ImportError> for Problem {
    fn from(error: ImportError) -> Problem {
        match error {
            ImportError::Records { total, listed } => Problem::new(ProblemCode::ValidationFailed)
                .detail(format!(
                    "{total} record(s) have errors; nothing was imported."
                ))
                .next_step("Correct the records listed and send them all again.")
                .fields(listed),
            ImportError::Input(problem) => problem,
            ImportError::Store(e) => e.into(),
        }
    }
}

/// Collects record errors, listing the first [`MAX_LISTED_ERRORS`].
#[derive(Default)]
pub struct Errors {
    total: usize,
    listed: Vec<FieldError>,
}

impl Errors {
    pub fn add(&mut self, errors: Vec<FieldError>) {
        self.total += 1;
        let room = MAX_LISTED_ERRORS.saturating_sub(self.listed.len());
        self.listed.extend(errors.into_iter().take(room));
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn into_result(self) -> Result<(), ImportError> {
        if self.total == 0 {
            Ok(())
        } else {
            Err(ImportError::Records {
                total: self.total,
                listed: self.listed,
            })
        }
    }
}

/// How records of one kind are stored: people link to companies by external id, looked up once
/// per id and remembered for the rest of the import.
pub trait Upsert: Row {
    type New: Send;

    fn into_new(
        self,
        position: Position,
        companies: &HashMap<String, Option<CompanyId>>,
    ) -> Result<Self::New, FieldError>;

    /// The company external ids the record refers to.
    fn company_reference(&self) -> Option<&str>;

    fn upsert(
        tenant: &mut TenantStore,
        batch: &[Self::New],
    ) -> impl Future<Output = store::Result<usize>> + Send;
}

impl Upsert for PersonRow {
    type New = NewPerson;

    fn into_new(
        self,
        position: Position,
        companies: &HashMap<String, Option<CompanyId>>,
    ) -> Result<NewPerson, FieldError> {
        let company = match self.company_external_id.as_deref().map(str::trim) {
            Some(reference) if !reference.is_empty() => {
                match companies.get(reference).copied().flatten() {
                    Some(id) => Some(id),
                    None => {
                        return Err(position.error(
                            "company_external_id",
                            format!("no company has the external id {reference:?}; import the company first"),
                        ));
                    }
                }
            }
            _ => None,
        };
        Ok(NewPerson {
            external_id: Some(self.external_id),
            full_name: self.full_name,
            title: self.title,
            company_name: self.company_name,
            company,
            location: self.location,
            email: self.email,
            phone: self.phone,
            profile_url: self.profile_url,
            past_companies: self
                .past_companies
                .as_deref()
                .map(domain::directory::past_companies)
                .unwrap_or_default(),
        })
    }

    fn company_reference(&self) -> Option<&str> {
        self.company_external_id
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }

    async fn upsert(tenant: &mut TenantStore, batch: &[NewPerson]) -> store::Result<usize> {
        Ok(tenant.upsert_people(batch).await?.len())
    }
}

impl Upsert for CompanyRow {
    type New = NewCompany;

    fn into_new(
        self,
        _: Position,
        _: &HashMap<String, Option<CompanyId>>,
    ) -> Result<NewCompany, FieldError> {
        Ok(NewCompany {
            external_id: Some(self.external_id),
            name: self.name,
            website: self.website,
            domain: self.domain,
            industry: self.industry,
            location: self.location,
            size: self.size.map(|s| s.0),
        })
    }

    fn company_reference(&self) -> Option<&str> {
        None
    }

    async fn upsert(tenant: &mut TenantStore, batch: &[NewCompany]) -> store::Result<usize> {
        Ok(tenant.upsert_companies(batch).await?.len())
    }
}

/// An import in progress: batches go in as they are read; nothing is visible to others until
/// [`Importer::finish`] commits, and a record with errors means nothing is committed at all.
pub struct Importer<R: Upsert> {
    tenant: Option<TenantStore>,
    companies: HashMap<String, Option<CompanyId>>,
    errors: Errors,
    report: ImportReport,
    _kind: std::marker::PhantomData<R>,
}

impl<R: Upsert> Importer<R> {
    /// `tenant` should be in a transaction ([`TenantStore::begin`]) so the batches commit together.
    pub fn new(tenant: TenantStore) -> Self {
        Importer {
            tenant: Some(tenant),
            companies: HashMap::new(),
            errors: Errors::default(),
            report: ImportReport::default(),
            _kind: std::marker::PhantomData,
        }
    }

    /// Stores a batch of records; once any record had errors, the rest are only checked.
    pub async fn add(&mut self, batch: Vec<Record<R>>) -> Result<(), ImportError> {
        let mut rows = Vec::with_capacity(batch.len());
        for (position, parsed) in batch {
            match parsed {
                Ok(row) => rows.push((position, row)),
                Err(errors) => self.errors.add(errors),
            }
        }
        let Some(tenant) = self.tenant.as_mut() else {
            return Ok(());
        };
        // The batch's companies not looked up yet, in one query per few hundred.
        let mut unknown: Vec<&str> = rows
            .iter()
            .filter_map(|(_, row)| row.company_reference())
            .filter(|reference| !self.companies.contains_key(*reference))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        let found = tenant.company_ids_by_external_ids(&unknown).await?;
        for reference in unknown {
            self.companies
                .insert(reference.to_owned(), found.get(reference).copied());
        }
        let mut news = Vec::with_capacity(rows.len());
        for (position, row) in rows {
            match row.into_new(position, &self.companies) {
                Ok(new) => news.push(new),
                Err(error) => self.errors.add(vec![error]),
            }
        }
        if self.errors.is_empty() && !news.is_empty() {
            self.report.upserted += R::upsert(tenant, &news).await?;
        }
        Ok(())
    }

    /// Commits when every record was fine; otherwise rolls back and lists the errors.
    pub async fn finish(mut self) -> Result<ImportReport, ImportError> {
        let Some(tenant) = self.tenant.take() else {
            return Err(ImportError::Input(Problem::new(ProblemCode::Internal)));
        };
        if self.errors.is_empty() {
            tenant.commit().await?;
            Ok(self.report)
        } else {
            tenant.rollback().await?;
            self.errors.into_result().map(|()| self.report)
        }
    }
}

/// Imports a file in one transaction: a thread reads and checks records while batches are stored
/// as they come, so memory holds a few batches, not the file.
pub async fn import_file<R: Upsert>(
    tenant: TenantStore,
    format: Format,
    path: &Path,
) -> Result<ImportReport, ImportError> {
    let file = std::fs::File::open(path).map_err(|e| {
        ImportError::Input(
            Problem::new(ProblemCode::UnreadableBody).detail(format!("{}: {e}", path.display())),
        )
    })?;
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Vec<Record<R>>>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let result = read_records::<R>(format, file, |record| {
            batch.push(record);
            if batch.len() == BATCH {
                // A closed channel means storing failed; reading on finds nothing more to report.
                let _ =
                    sender.blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
        result
    });
    let mut importer = Importer::<R>::new(tenant.begin().await?);
    while let Some(batch) = batches.recv().await {
        importer.add(batch).await?;
    }
    reader
        .await
        .map_err(|e| ImportError::Input(Problem::internal(&e)))?
        .map_err(ImportError::Input)?;
    importer.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<R: Row>(format: Format, input: &str) -> Result<Vec<Record<R>>, Problem> {
        let mut records = Vec::new();
        read_records::<R>(format, input.as_bytes(), |r| records.push(r))?;
        Ok(records)
    }

    fn errors<R: Row>(records: &[Record<R>]) -> Vec<(String, Option<u64>, String)> {
        records
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .flatten()
            .map(|e| (e.path.clone(), e.line, e.message.clone()))
            .collect()
    }

    #[test]
    fn formats_by_media_type_and_extension() {
        let ct = |v: &'static str| Format::from_content_type(Some(&HeaderValue::from_static(v)));
        assert_eq!(ct("application/json; charset=utf-8"), Some(Format::Json));
        assert_eq!(ct("application/x-ndjson"), Some(Format::Ndjson));
        assert_eq!(ct("Text/CSV"), Some(Format::Csv));
        assert_eq!(ct("text/plain"), None);
        assert_eq!(
            Format::from_path(Path::new("people.JSONL")),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::from_path(Path::new("people.csv")),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_path(Path::new("people")), None);
    }

    #[test]
    fn the_three_formats_read_the_same_people() {
        let json = r#"[{"external_id":"p1","full_name":"Zoë Ødegård","email":"zoe@example.no"},
                       {"external_id":"p2","full_name":"李雷","company_external_id":"c1"}]"#;
        let ndjson = "{\"external_id\":\"p1\",\"full_name\":\"Zoë Ødegård\",\"email\":\"zoe@example.no\"}\n\n\
                      {\"external_id\":\"p2\",\"full_name\":\"李雷\",\"company_external_id\":\"c1\"}\n";
        let csv = "\u{feff}external_id,full_name,email,company_external_id\n\
                   p1,Zoë Ødegård,zoe@example.no,\n\
                   p2,李雷,,c1\n";
        for (format, input) in [
            (Format::Json, json),
            (Format::Ndjson, ndjson),
            (Format::Csv, csv),
        ] {
            let records = read::<PersonRow>(format, input).unwrap();
            assert_eq!(records.len(), 2, "{format:?}");
            let rows: Vec<&PersonRow> = records.iter().map(|(_, r)| r.as_ref().unwrap()).collect();
            assert_eq!(rows[0].full_name, "Zoë Ødegård");
            assert_eq!(rows[0].email.as_deref(), Some("zoe@example.no"));
            assert_eq!(rows[1].full_name, "李雷");
            assert_eq!(
                rows[1].email, None,
                "{format:?}: an empty CSV field is no value"
            );
            assert_eq!(rows[1].company_reference(), Some("c1"));
        }
    }

    #[test]
    fn every_bad_record_is_reported_with_where_it_is() {
        let ndjson = "{\"external_id\":\"p1\",\"full_name\":\"Ana\"}\n\
                      {\"external_id\":\"p2\",\"full_name\":\"\"}\n\
                      not json\n\
                      {\"external_id\":\"p4\",\"full_name\":\"Bo\",\"emial\":\"x\"}\n\
                      {\"external_id\":7,\"full_name\":\"Cy\"}\n\
                      {\"external_id\":\"p6\",\"full_name\":\"Di\",\"email\":\"not an email\"}\n";
        let records = read::<PersonRow>(Format::Ndjson, ndjson).unwrap();
        assert_eq!(records.len(), 6);
        let errors = errors(&records);
        let lines: Vec<Option<u64>> = errors.iter().map(|(_, line, _)| *line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5), Some(6)]);
        assert_eq!(errors[0].0, "[1].full_name");
        assert!(errors[2].2.contains("unknown field `emial`"), "{errors:?}");
        assert_eq!(errors[3].0, "[4].external_id");
        assert!(errors[4].2.contains("not an email address"));
    }

    #[test]
    fn csv_headers_are_checked_before_any_record() {
        let p = read::<PersonRow>(Format::Csv, "external_id,name,mail\np1,Ana,a@x\n").unwrap_err();
        let messages: Vec<&str> = p.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("unknown column \"name\""));
        assert!(messages[2].contains("\"full_name\" is missing"));
    }

    #[test]
    fn csv_record_errors_carry_their_line() {
        let csv =
            "external_id,name,size\nc1,Contoso,51-200\nc2,Fabrikam,huge\nc3,\"Quoted, Inc\",\nc4\n";
        let records = read::<CompanyRow>(Format::Csv, csv).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(
            records[0].1.as_ref().unwrap().size,
            Some(SizeBand(CompanySize::From51To200))
        );
        assert_eq!(records[2].1.as_ref().unwrap().name, "Quoted, Inc");
        let errors = errors(&records);
        assert_eq!(errors[0].0, "[1].size");
        assert_eq!(errors[0].1, Some(3));
        assert!(errors[0].2.contains("not a size band"));
        assert_eq!(errors[1].1, Some(5), "a short record: {errors:?}");
    }

    #[test]
    fn a_json_body_that_is_not_an_array_of_records() {
        let p = read::<PersonRow>(Format::Json, r#"{"external_id":"p1"}"#).unwrap_err();
        assert_eq!(p.code, ProblemCode::InvalidBody);
        let p = read::<PersonRow>(Format::Json, r#"[{"external_id":"p1",}]"#).unwrap_err();
        assert_eq!(p.code, ProblemCode::MalformedJson);
        let records = read::<PersonRow>(Format::Json, r#"[1, {"external_id":"p1"}]"#).unwrap();
        let errors = errors(&records);
        assert_eq!(errors[0].0, "[0]");
        assert!(
            errors[1].2.contains("missing field `full_name`"),
            "{errors:?}"
        );
    }

    #[test]
    fn nul_characters_are_refused_in_every_format() {
        let json = r#"[{"external_id":"p1","full_name":"A\u0000"}]"#;
        let ndjson = "{\"external_id\":\"p1\",\"full_name\":\"A\\u0000\"}\n";
        let csv = "external_id,full_name\np1,A\0\n";
        for (format, input) in [
            (Format::Json, json),
            (Format::Ndjson, ndjson),
            (Format::Csv, csv),
        ] {
            let records = read::<PersonRow>(format, input).unwrap();
            let errors = errors(&records);
            assert_eq!(errors.len(), 1, "{format:?}");
            assert!(errors[0].2.contains("NUL"), "{format:?}: {errors:?}");
        }
    }

    #[test]
    fn long_values_are_refused() {
        let row = PersonRow {
            external_id: "x".repeat(MAX_EXTERNAL_ID_CHARS + 1),
            full_name: "é".repeat(MAX_NAME_CHARS),
            title: Some("t".repeat(MAX_TEXT_CHARS + 1)),
            company_name: None,
            company_external_id: None,
            location: None,
            email: None,
            phone: None,
            profile_url: None,
            past_companies: None,
        };
        let fields: Vec<&str> = row.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["external_id", "title"]);
    }

    #[test]
    fn errors_are_counted_beyond_those_listed() {
        let mut errors = Errors::default();
        for i in 0..(MAX_LISTED_ERRORS + 5) {
            errors.add(vec![
                Position {
                    index: i,
                    line: None,
                }
                .error("x", "bad"),
            ]);
        }
        match errors.into_result() {
            Err(ImportError::Records { total, listed }) => {
                assert_eq!(total, MAX_LISTED_ERRORS + 5);
                assert_eq!(listed.len(), MAX_LISTED_ERRORS);
            }
            other => panic!("{other:?}"),
        }
    }
}
