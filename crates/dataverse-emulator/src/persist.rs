//! The org on disk: one data file in the state directory with everything a restart must keep
//! (rows, tombstones, the version clock, table definitions with their keys, solutions, roles and
//! users, app registrations and refresh tokens). It is written whole to a temporary file, flushed and renamed into
//! place, and read back at start-up, where a torn or corrupt file is an error, never a reason to
//! start afresh.
//!
//! Layout: `LBEMUORG`, the format number (u32 LE), the length (u64 LE) and JSON text of the
//! header (identity, roles, table definitions, apps), then per table its rows and its tombstones
//! in a compact binary form, then the SHA-256 of everything before it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entra::{AppRegistration, RefreshGrant};
use crate::metadata::Table;
use crate::org::{Org, OrgIdentity};
use crate::security::Security;
use crate::store::{Store, StoredRow};
use crate::value::Value;

/// The data file's name in the state directory.
pub const DATA_FILE: &str = "org.data";
const TEMP_FILE: &str = "org.data.tmp";
const MAGIC: &[u8; 8] = b"LBEMUORG";
const FORMAT: u32 = 1;
/// Rows are encoded into a buffer of about this size, which is hashed and written as one piece.
const CHUNK: usize = 1 << 20;
/// Value tags that refer to what is already known: the row's own id (its primary key column),
/// and the same column of the previous row of the table (owners, states, currencies and audit
/// dates repeat from row to row). Tags 0–8 are the value kinds.
const ROW_ID: u8 = 9;
const AS_ABOVE: u8 = 10;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a readable emulator data file ({detail}); nothing was changed. Move the \
         file away, or reset the emulator (`leadbridge emulator --reset`) to start again from the \
         seed, which deletes the data in it"
    )]
    Corrupt { path: PathBuf, detail: String },
}

/// An app registration as saved, secrets included (the file is private to its owner).
#[derive(Serialize, Deserialize)]
struct SavedApp {
    client_id: Uuid,
    display_name: String,
    secrets: Vec<String>,
    service_principal_id: Uuid,
    redirect_uris: Vec<String>,
    admin_consented: bool,
}

#[derive(Serialize, Deserialize)]
struct SavedTable {
    def: Table,
    /// False for the slot of a deleted custom table.
    live: bool,
}

#[derive(Serialize, Deserialize)]
struct Header {
    identity: OrgIdentity,
    security: Security,
    /// The row-version clock.
    version: u64,
    tables: Vec<SavedTable>,
    apps: Vec<SavedApp>,
    refresh_tokens: HashMap<String, RefreshGrant>,
}

/// What a save writes, copied from the org under its read lock. Rows are shared, not copied,
/// so taking it is quick and writes can go on while it is written out.
pub struct Capture {
    header: Header,
    rows: Vec<(BTreeMap<Uuid, StoredRow>, BTreeMap<u64, Uuid>)>,
}

/// An org, the app registrations and the refresh tokens read back from disk.
pub struct Restored {
    pub org: Org,
    pub apps: Vec<AppRegistration>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
}

pub fn capture(
    org: &Org,
    apps: impl IntoIterator<Item = AppRegistration>,
    refresh_tokens: HashMap<String, RefreshGrant>,
) -> Capture {
    let tables = org
        .store
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| SavedTable {
            def: t.def.clone(),
            live: org.is_live(i),
        })
        .collect();
    let apps = apps
        .into_iter()
        .map(|a| SavedApp {
            client_id: a.client_id,
            display_name: a.display_name,
            secrets: a.secrets,
            service_principal_id: a.service_principal_id,
            redirect_uris: a.redirect_uris,
            admin_consented: a.admin_consented,
        })
        .collect();
    Capture {
        header: Header {
            identity: org.identity(),
            security: org.security.clone(),
            version: org.store.version,
            tables,
            apps,
            refresh_tokens,
        },
        rows: org
            .store
            .tables
            .iter()
            .map(|t| (t.rows.clone(), t.tombstones.clone()))
            .collect(),
    }
}

/// Deletes the data file (a reset).
pub fn remove(dir: &Path) -> Result<(), PersistError> {
    let path = dir.join(DATA_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(PersistError::Io { path, source: e })
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Encoded bytes on their way to the file, hashed as they go.
struct Sink {
    file: File,
    buf: Vec<u8>,
    hasher: Sha256,
}

impl Sink {
    fn flush(&mut self) -> std::io::Result<()> {
        self.hasher.update(&self.buf);
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn flush_if_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn put_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => buf.push(0),
        Value::Bool(false) => buf.push(1),
        Value::Bool(true) => buf.push(2),
        Value::Int(i) => {
            buf.push(3);
            put_varint(buf, zigzag(*i));
        }
        Value::Decimal(d) => {
            buf.push(4);
            buf.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            buf.push(5);
            put_varint(buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
        }
        Value::Guid(g) => {
            buf.push(6);
            buf.extend_from_slice(g.as_bytes());
        }
        Value::DateTime(d) => {
            buf.push(7);
            put_varint(buf, zigzag(d.timestamp()));
            put_varint(buf, u64::from(d.timestamp_subsec_nanos()));
        }
        Value::Date(d) => {
            buf.push(8);
            put_varint(buf, zigzag(i64::from(Datelike::num_days_from_ce(d))));
        }
    }
}

/// Writes the capture to `dir/org.data`: a temporary file first, flushed to disk, then renamed
/// over the old one, so a crash leaves either the old file or the new one.
pub fn write(dir: &Path, capture: &Capture) -> Result<(), PersistError> {
    let temp = dir.join(TEMP_FILE);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PersistError::Io { path, source }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&temp).map_err(io(&temp))?;
    let mut sink = Sink {
        file,
        buf: Vec::with_capacity(CHUNK + (64 << 10)),
        hasher: Sha256::new(),
    };
    let header = serde_json::to_vec(&capture.header).map_err(|e| PersistError::Io {
        path: temp.clone(),
        source: std::io::Error::other(e),
    })?;
    sink.buf.extend_from_slice(MAGIC);
    sink.buf.extend_from_slice(&FORMAT.to_le_bytes());
    sink.buf
        .extend_from_slice(&(header.len() as u64).to_le_bytes());
    sink.buf.extend_from_slice(&header);
    sink.flush().map_err(io(&temp))?;
    for (rows, tombstones) in &capture.rows {
        let mut previous: &[Value] = &[];
        put_varint(&mut sink.buf, rows.len() as u64);
        for (id, row) in rows {
            let buf = &mut sink.buf;
            buf.extend_from_slice(id.as_bytes());
            put_varint(buf, row.version);
            // Trailing nulls read back as nulls anyway (a row may be shorter than its table).
            let used = row
                .values
                .iter()
                .rposition(|v| !v.is_null())
                .map_or(0, |i| i + 1);
            put_varint(buf, used as u64);
            for (i, value) in row.values[..used].iter().enumerate() {
                if *value == Value::Guid(*id) {
                    buf.push(ROW_ID);
                } else if !value.is_null() && previous.get(i) == Some(value) {
                    buf.push(AS_ABOVE);
                } else {
                    put_value(buf, value);
                }
            }
            previous = &row.values;
            sink.flush_if_full().map_err(io(&temp))?;
        }
        put_varint(&mut sink.buf, tombstones.len() as u64);
        for (version, id) in tombstones {
            put_varint(&mut sink.buf, *version);
            sink.buf.extend_from_slice(id.as_bytes());
            sink.flush_if_full().map_err(io(&temp))?;
        }
    }
    sink.flush().map_err(io(&temp))?;
    let Sink {
        mut file, hasher, ..
    } = sink;
    file.write_all(&hasher.finalize()).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    drop(file);
    let path = dir.join(DATA_FILE);
    std::fs::rename(&temp, &path).map_err(io(&path))?;
    // The rename is durable once the directory entry is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// The file being read: a buffer refilled from it, hashed in bulk as it is consumed. Every
/// length read from the file is checked against what is left of it before anything is
/// allocated, so a damaged file cannot make the reader allocate without bound.
struct Source {
    file: File,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes before this position in `buf` are already hashed.
    hashed: usize,
    /// Bytes of the file not yet read into `buf`.
    unread: u64,
    hasher: Sha256,
}

/// A decoding failure, turned into `PersistError::Corrupt` (or `Io`) with the path by the caller.
enum Fault {
    Io(std::io::Error),
    Corrupt(String),
}

fn corrupt<T>(detail: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Corrupt(detail.into()))
}

impl Source {
    fn left(&self) -> u64 {
        (self.end - self.pos) as u64 + self.unread
    }

    fn hash_consumed(&mut self) {
        self.hasher.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
    }

    fn need(&mut self, n: usize) -> Result<(), Fault> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        if (n as u64) > self.left() {
            return corrupt("the file ends early");
        }
        self.hash_consumed();
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.hashed = 0;
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n {
            let read = self
                .file
                .read(&mut self.buf[self.end..])
                .map_err(Fault::Io)?;
            if read == 0 {
                return corrupt("the file ends early");
            }
            self.end += read;
            self.unread = self.unread.saturating_sub(read as u64);
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Fault> {
        self.need(n)?;
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, Fault> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, Fault> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        corrupt("a number is too long")
    }

    fn signed(&mut self) -> Result<i64, Fault> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    /// A count of items each at least `min_size` bytes long, checked against what is left.
    fn count(&mut self, min_size: u64) -> Result<usize, Fault> {
        let n = self.varint()?;
        if n.saturating_mul(min_size) > self.left() {
            return corrupt("a count is larger than the rest of the file");
        }
        usize::try_from(n).or_else(|_| corrupt("a count is too large"))
    }

    fn uuid(&mut self) -> Result<Uuid, Fault> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    /// Column `column` of the row `id`, following `previous` (the table's previous row).
    fn cell(&mut self, id: Uuid, previous: &[Value], column: usize) -> Result<Value, Fault> {
        self.need(1)?;
        match self.buf[self.pos] {
            ROW_ID => {
                self.pos += 1;
                Ok(Value::Guid(id))
            }
            AS_ABOVE => {
                self.pos += 1;
                match previous.get(column) {
                    Some(value) => Ok(value.clone()),
                    None => corrupt("a value refers to a row before the first"),
                }
            }
            _ => self.value(),
        }
    }

    fn value(&mut self) -> Result<Value, Fault> {
        Ok(match self.byte()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Int(self.signed()?),
            4 => Value::Decimal(f64::from_bits(u64::from_le_bytes(self.array()?))),
            5 => {
                let len = self.count(1)?;
                match std::str::from_utf8(self.take(len)?) {
                    Ok(s) => Value::String(s.into()),
                    Err(_) => return corrupt("a text value is not UTF-8"),
                }
            }
            6 => Value::Guid(self.uuid()?),
            7 => {
                let secs = self.signed()?;
                let nanos = u32::try_from(self.varint()?).unwrap_or(u32::MAX);
                match DateTime::from_timestamp(secs, nanos) {
                    Some(d) => Value::DateTime(d),
                    None => return corrupt("a date and time is out of range"),
                }
            }
            8 => {
                let days = i32::try_from(self.signed()?).unwrap_or(i32::MAX);
                match NaiveDate::from_num_days_from_ce_opt(days) {
                    Some(d) => Value::Date(d),
                    None => return corrupt("a date is out of range"),
                }
            }
            tag => return corrupt(format!("unknown value tag {tag}")),
        })
    }
}

/// Reads `dir/org.data`; `None` when there is none (a new state directory).
pub fn read(dir: &Path) -> Result<Option<Restored>, PersistError> {
    let path = dir.join(DATA_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PersistError::Io { path, source }),
    };
    let size = file
        .metadata()
        .map_err(|source| PersistError::Io {
            path: path.clone(),
            source,
        })?
        .len();
    let mut source = Source {
        file,
        buf: vec![0; 4 << 20],
        pos: 0,
        end: 0,
        hashed: 0,
        unread: size,
        hasher: Sha256::new(),
    };
    match decode(&mut source) {
        Ok(restored) => Ok(Some(restored)),
        Err(Fault::Io(source)) => Err(PersistError::Io { path, source }),
        Err(Fault::Corrupt(detail)) => Err(PersistError::Corrupt { path, detail }),
    }
}

fn decode(source: &mut Source) -> Result<Restored, Fault> {
    if source.left() < (MAGIC.len() + 12) as u64 || source.take(MAGIC.len())? != MAGIC {
        return corrupt("it does not start like one");
    }
    let format = u32::from_le_bytes(source.array()?);
    if format != FORMAT {
        return corrupt(format!(
            "format {format}, while this emulator reads format {FORMAT}"
        ));
    }
    let header_len = u64::from_le_bytes(source.array()?);
    if header_len > source.left() {
        return corrupt("the file ends early");
    }
    let header_len = usize::try_from(header_len).or_else(|_| corrupt("the header is too large"))?;
    let header: Header = match serde_json::from_slice(source.take(header_len)?) {
        Ok(h) => h,
        Err(e) => return corrupt(format!("the header is not valid: {e}")),
    };
    let mut tables = Vec::with_capacity(header.tables.len());
    let mut live = Vec::with_capacity(header.tables.len());
    for saved in header.tables {
        let mut def = saved.def;
        def.reindex();
        let columns = def.attributes.len();
        if def.ordinal(&def.primary_id).is_none()
            || def
                .attributes
                .iter()
                .enumerate()
                .any(|(i, a)| a.ordinal != i)
        {
            return corrupt(format!(
                "the definition of '{}' is not valid",
                def.logical_name
            ));
        }
        // A row is at least its id, a version and a value count.
        let row_count = source.count(18)?;
        let mut rows: Vec<(Uuid, StoredRow)> = Vec::with_capacity(row_count);
        for _ in 0..row_count {
            let id = source.uuid()?;
            let version = source.varint()?;
            let n = source.count(1)?;
            if n > columns {
                return corrupt(format!(
                    "a row of '{}' has too many values",
                    def.logical_name
                ));
            }
            let previous: &[Value] = rows.last().map_or(&[], |(_, r)| &r.values);
            let mut values = Vec::with_capacity(n);
            for column in 0..n {
                values.push(source.cell(id, previous, column)?);
            }
            if version > header.version {
                return corrupt("a row is newer than the version clock");
            }
            rows.push((
                id,
                StoredRow {
                    version,
                    values: values.into(),
                },
            ));
        }
        // Written in key order, so this builds the map in one pass.
        let rows = BTreeMap::from_iter(rows);
        if rows.len() != row_count {
            return corrupt(format!("'{}' lists a row twice", def.logical_name));
        }
        let tombstone_count = source.count(17)?;
        let mut tombstones = BTreeMap::new();
        for _ in 0..tombstone_count {
            let version = source.varint()?;
            tombstones.insert(version, source.uuid()?);
        }
        tables.push((def, rows, tombstones));
        live.push(saved.live);
    }
    source.hash_consumed();
    let expected = source.hasher.clone().finalize();
    if source.left() != expected.len() as u64 || source.take(expected.len())? != &expected[..] {
        return corrupt("its checksum does not match its contents");
    }
    let store = match Store::restore(tables, header.version) {
        Ok(store) => store,
        Err(duplicate) => {
            return corrupt(format!(
                "two rows share a value of the key '{}'",
                duplicate.key_name
            ));
        }
    };
    if store
        .tables
        .iter()
        .any(|t| t.by_version.len() != t.rows.len())
    {
        return corrupt("two rows share a version");
    }
    let apps = header
        .apps
        .into_iter()
        .map(|a| AppRegistration {
            client_id: a.client_id,
            display_name: a.display_name,
            secrets: a.secrets,
            service_principal_id: a.service_principal_id,
            redirect_uris: a.redirect_uris,
            admin_consented: a.admin_consented,
        })
        .collect();
    Ok(Restored {
        org: Org::restore(header.identity, header.security, store, &live),
        apps,
        refresh_tokens: header.refresh_tokens,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap

    use super::*;
    use crate::org::s;

    fn now() -> DateTime<chrono::Utc> {
        DateTime::parse_from_rfc3339("2024-06-01T12:00:00.123456789Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    /// An org with every kind of value, a deleted row, a deleted custom table's slot, a text
    /// longer than the read buffer, and enough rows to span many write chunks.
    fn sample_org() -> Org {
        let mut org = Org::new("Persisted", Uuid::from_u128(7), now());
        let huge = "é".repeat(3 << 20);
        for i in 0..20_000u128 {
            org.put(
                "opportunity",
                Uuid::from_u128(i),
                &[
                    ("name", s(if i == 3 { &huge } else { "Déal ✓" })),
                    ("estimatedvalue", Value::Decimal(i as f64 * -0.25)),
                    ("closeprobability", Value::Int(i as i64 - 10_000)),
                    (
                        "estimatedclosedate",
                        Value::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()),
                    ),
                    ("description", s("")),
                ],
                Some(Uuid::from_u128(99)),
                now(),
            );
        }
        org.put(
            "systemuser",
            Uuid::from_u128(1 << 100),
            &[("isdisabled", Value::Bool(true)), ("firstname", s("Ann"))],
            None,
            now(),
        );
        org.store
            .delete(org.table_index("opportunity").unwrap(), Uuid::from_u128(5));
        let t = org.table_index("account").unwrap();
        let mut custom = org.def(t).clone();
        custom.logical_name = "new_gone".into();
        custom.entity_set_name = "new_gones".into();
        let gone = org.register_table(custom);
        org.forget_table(gone);
        org.store.commit();
        org
    }

    fn round_trip(org: &Org, dir: &Path) -> Restored {
        write(dir, &capture(org, Vec::new(), HashMap::new())).unwrap();
        read(dir).unwrap().unwrap()
    }

    #[test]
    fn an_org_reads_back_as_it_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let org = sample_org();
        let app = AppRegistration {
            client_id: Uuid::from_u128(3),
            display_name: "Visits".into(),
            secrets: vec!["s3cret".into()],
            service_principal_id: Uuid::from_u128(4),
            redirect_uris: vec!["http://localhost/cb".into()],
            admin_consented: true,
        };
        write(dir.path(), &capture(&org, vec![app], HashMap::new())).unwrap();
        assert!(!dir.path().join(TEMP_FILE).exists());
        let restored = read(dir.path()).unwrap().unwrap();
        let back = &restored.org;
        assert_eq!(back.store.version, org.store.version);
        assert_eq!(back.identity().unique_name, org.identity().unique_name);
        assert_eq!(back.security.roles.len(), org.security.roles.len());
        assert_eq!(back.table_count(), org.table_count());
        for (i, (a, b)) in org.store.tables.iter().zip(&back.store.tables).enumerate() {
            assert_eq!(org.is_live(i), back.is_live(i), "{}", a.def.logical_name);
            assert_eq!(a.def.logical_name, b.def.logical_name);
            assert_eq!(a.rows.len(), b.rows.len(), "{}", a.def.logical_name);
            for ((ia, ra), (ib, rb)) in a.rows.iter().zip(&b.rows) {
                assert_eq!((ia, ra.version), (ib, rb.version));
                let columns = a.def.attributes.len();
                let padded = |v: &[Value]| {
                    (0..columns)
                        .map(|o| crate::value::cell(v, o).clone())
                        .collect::<Vec<_>>()
                };
                assert_eq!(padded(&ra.values), padded(&rb.values));
            }
            assert_eq!(a.tombstones, b.tombstones);
            assert_eq!(a.by_version, b.by_version);
        }
        assert!(back.table_index("new_gone").is_none());
        assert_eq!(restored.apps.len(), 1);
        assert_eq!(restored.apps[0].secrets, ["s3cret"]);
        assert_eq!(restored.apps[0].redirect_uris, ["http://localhost/cb"]);
    }

    #[test]
    fn damage_anywhere_is_an_error_and_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut org = Org::new("Small", Uuid::from_u128(7), now());
        org.put(
            "account",
            Uuid::from_u128(1),
            &[("name", s("A"))],
            None,
            now(),
        );
        org.store.commit();
        write(dir.path(), &capture(&org, Vec::new(), HashMap::new())).unwrap();
        let path = dir.path().join(DATA_FILE);
        let good = std::fs::read(&path).unwrap();
        let offsets = (0..good.len())
            .filter(|&i| i < 64 || i + 64 >= good.len() || i % 997 == 0)
            .collect::<Vec<_>>();
        for &i in &offsets {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(read(dir.path()), Err(PersistError::Corrupt { .. })),
                "flipped byte {i}"
            );
            std::fs::write(&path, &good[..i]).unwrap();
            assert!(
                matches!(read(dir.path()), Err(PersistError::Corrupt { .. })),
                "cut at {i}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&path, &longer).unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(PersistError::Corrupt { .. })
        ));
        std::fs::write(&path, &good).unwrap();
        assert!(read(dir.path()).unwrap().is_some());
        let restored = round_trip(&org, dir.path());
        assert_eq!(restored.org.store.version, org.store.version);
    }

    #[test]
    fn no_file_is_a_new_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        remove(dir.path()).unwrap();
    }
}

/// Measurements, not checks: `cargo test -p dataverse-emulator --release --lib persist::timing
/// -- --ignored --nocapture` prints how long the large org takes to save and to read back, and
/// how long a 5000-row contacts page takes to build, first and after.
#[cfg(test)]
mod timing {
    #![allow(clippy::unwrap_used)] // tests may unwrap

    use std::time::Instant;

    use super::*;
    use crate::seed::{self, SeedSize};
    use crate::webapi::{self, ApiRequest, Ctx};

    fn page_times(org: &Org, user: Uuid) -> Vec<u128> {
        let headers = http::HeaderMap::new();
        let ctx = Ctx {
            base: "https://127.0.0.1/api/data/v9.2".into(),
            user,
            caller: user,
            impersonating: false,
            prefer: Default::default(),
            now: chrono::Utc::now(),
        };
        (0..10)
            .map(|_| {
                let req = ApiRequest {
                    method: http::Method::GET,
                    path: "contacts",
                    query: "$select=fullname,emailaddress1,jobtitle,_parentcustomerid_value",
                    headers: &headers,
                    body: &[],
                };
                let started = Instant::now();
                let reply = webapi::dispatch_read(org, &ctx, &req);
                assert_eq!(reply.status, http::StatusCode::OK);
                started.elapsed().as_micros()
            })
            .collect()
    }

    #[test]
    #[ignore = "slow in debug builds; run in release to measure"]
    fn large_org_save_read_and_first_pages() {
        let started = Instant::now();
        let mut org = Org::new("Large", Uuid::from_u128(1), chrono::Utc::now());
        org.load_seed(seed::generate(SeedSize::Large, 1), chrono::Utc::now());
        println!("seeded in {:?}", started.elapsed());
        let user = *org
            .security
            .user_roles
            .iter()
            .find(|(_, roles)| {
                roles.contains(&crate::metadata::stable_id(&[
                    "role",
                    "System Administrator",
                ]))
            })
            .unwrap()
            .0;
        println!("pages after seeding (µs): {:?}", page_times(&org, user));
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let capture = capture(&org, Vec::new(), HashMap::new());
        let captured = started.elapsed();
        write(dir.path(), &capture).unwrap();
        println!(
            "saved {} MiB in {:?} (capture {captured:?})",
            std::fs::metadata(dir.path().join(DATA_FILE)).unwrap().len() >> 20,
            started.elapsed()
        );
        drop(capture);
        drop(org);
        let started = Instant::now();
        let restored = read(dir.path()).unwrap().unwrap();
        println!("read back in {:?}", started.elapsed());
        println!(
            "pages after reading back (µs): {:?}",
            page_times(&restored.org, user)
        );
    }
}
