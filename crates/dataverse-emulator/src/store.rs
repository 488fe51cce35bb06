//! The org's rows: one ordered map per table keyed by primary key, a global row-version clock for
//! ETags and change tracking, tombstones for deletes, alternate-key indexes, and an undo log so a
//! change set or a bulk message is all-or-nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use crate::metadata::Table;
use crate::value::Value;

/// A row's values never change in place: a write stores a new row. Sharing them makes a copy of
/// a table (an admin snapshot, or the view a save writes out) cost a reference per row.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub version: u64,
    pub values: Arc<[Value]>,
}

#[derive(Debug, Clone)]
pub struct TableState {
    pub def: Table,
    pub rows: BTreeMap<Uuid, StoredRow>,
    /// Row version → id, for change tracking (changed rows in version order).
    pub by_version: BTreeMap<u64, Uuid>,
    /// Deletion version → id.
    pub tombstones: BTreeMap<u64, Uuid>,
    /// One index per alternate key: normalised key values → id.
    pub key_index: Vec<HashMap<String, Uuid>>,
}

impl TableState {
    pub fn new(def: Table) -> Self {
        let key_index = def.keys.iter().map(|_| HashMap::new()).collect();
        TableState {
            def,
            rows: BTreeMap::new(),
            by_version: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            key_index,
        }
    }

    /// The normalised index entry of a row for alternate key `k`; `None` while any part is null
    /// (Dataverse does not index rows with a null key part).
    pub fn key_of(&self, k: usize, values: &[Value]) -> Option<String> {
        let key = &self.def.keys[k];
        let mut out = String::new();
        for name in &key.key_attributes {
            let ordinal = self.def.ordinal(name)?;
            let v = crate::value::cell(values, ordinal);
            match v {
                Value::Null => return None,
                // Keys compare as the database collation does: case-insensitively.
                Value::String(s) => out.push_str(&s.to_lowercase()),
                Value::Int(i) => out.push_str(&i.to_string()),
                Value::Guid(g) => out.push_str(&g.to_string()),
                Value::Decimal(d) => out.push_str(&d.to_string()),
                Value::Bool(b) => out.push_str(if *b { "1" } else { "0" }),
                Value::DateTime(d) => out.push_str(&d.to_rfc3339()),
                Value::Date(d) => out.push_str(&d.to_string()),
            }
            out.push('\u{1f}');
        }
        Some(out)
    }

    /// Rebuilds alternate-key index `k` (after a key is created). Fails on duplicate values.
    pub fn rebuild_key(&mut self, k: usize) -> Result<(), String> {
        let mut index = HashMap::new();
        for (id, row) in &self.rows {
            if let Some(key) = self.key_of(k, &row.values)
                && index.insert(key.clone(), *id).is_some()
            {
                return Err(key);
            }
        }
        self.key_index[k] = index;
        Ok(())
    }

    pub fn find_by_key(&self, k: usize, normalised: &str) -> Option<Uuid> {
        self.key_index.get(k)?.get(normalised).copied()
    }
}

/// A table as saved: its definition, its rows by id, its tombstones by deletion version.
pub type SavedTable = (Table, BTreeMap<Uuid, StoredRow>, BTreeMap<u64, Uuid>);

/// One reversible change, recorded while a transaction is open.
#[derive(Debug, Clone)]
enum Undo {
    Inserted {
        table: usize,
        id: Uuid,
    },
    Replaced {
        table: usize,
        id: Uuid,
        old: StoredRow,
    },
    Deleted {
        table: usize,
        id: Uuid,
        old: StoredRow,
        tombstone: u64,
    },
}

/// A key collision on write: which key, so the caller can word Dataverse's error.
#[derive(Debug)]
pub struct DuplicateKey {
    pub key_name: String,
}

#[derive(Debug, Default, Clone)]
pub struct Store {
    pub tables: Vec<TableState>,
    pub version: u64,
    undo: Option<Vec<Undo>>,
}

impl Store {
    /// A store rebuilt from its rows and tombstones (read back from disk): the version index and
    /// the alternate-key indexes are derived again. Fails when two rows share a key value.
    pub fn restore(tables: Vec<SavedTable>, version: u64) -> Result<Store, DuplicateKey> {
        let mut store = Store {
            tables: Vec::with_capacity(tables.len()),
            version,
            undo: None,
        };
        for (def, rows, tombstones) in tables {
            let mut state = TableState::new(def);
            state.by_version = rows.iter().map(|(id, r)| (r.version, *id)).collect();
            state.rows = rows;
            state.tombstones = tombstones;
            for k in 0..state.key_index.len() {
                if state.rebuild_key(k).is_err() {
                    return Err(DuplicateKey {
                        key_name: state.def.keys[k].schema_name.clone(),
                    });
                }
            }
            store.tables.push(state);
        }
        Ok(store)
    }

    pub fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    pub fn begin(&mut self) {
        self.undo = Some(Vec::new());
    }

    pub fn in_transaction(&self) -> bool {
        self.undo.is_some()
    }

    pub fn commit(&mut self) {
        self.undo = None;
    }

    /// Reverts every change since `begin`.
    pub fn rollback(&mut self) {
        let Some(log) = self.undo.take() else { return };
        for entry in log.into_iter().rev() {
            match entry {
                Undo::Inserted { table, id } => {
                    self.remove_row(table, id);
                }
                Undo::Replaced { table, id, old } => {
                    self.remove_row(table, id);
                    self.put_row(table, id, old);
                }
                Undo::Deleted {
                    table,
                    id,
                    old,
                    tombstone,
                } => {
                    self.tables[table].tombstones.remove(&tombstone);
                    self.put_row(table, id, old);
                }
            }
        }
    }

    fn record(&mut self, entry: Undo) {
        if let Some(log) = self.undo.as_mut() {
            log.push(entry);
        }
    }

    fn put_row(&mut self, table: usize, id: Uuid, row: StoredRow) {
        let t = &mut self.tables[table];
        for k in 0..t.key_index.len() {
            if let Some(key) = t.key_of(k, &row.values) {
                t.key_index[k].insert(key, id);
            }
        }
        t.by_version.insert(row.version, id);
        t.rows.insert(id, row);
    }

    fn remove_row(&mut self, table: usize, id: Uuid) -> Option<StoredRow> {
        let t = &mut self.tables[table];
        let row = t.rows.remove(&id)?;
        t.by_version.remove(&row.version);
        for k in 0..t.key_index.len() {
            if let Some(key) = t.key_of(k, &row.values)
                && t.key_index[k].get(&key) == Some(&id)
            {
                t.key_index[k].remove(&key);
            }
        }
        Some(row)
    }

    fn check_keys(&self, table: usize, id: Uuid, values: &[Value]) -> Result<(), DuplicateKey> {
        let t = &self.tables[table];
        for k in 0..t.key_index.len() {
            if let Some(key) = t.key_of(k, values)
                && let Some(other) = t.key_index[k].get(&key)
                && *other != id
            {
                return Err(DuplicateKey {
                    key_name: t.def.keys[k].schema_name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Inserts a new row (the caller has checked the id is free).
    pub fn insert(
        &mut self,
        table: usize,
        id: Uuid,
        values: Vec<Value>,
    ) -> Result<u64, DuplicateKey> {
        self.check_keys(table, id, &values)?;
        let version = self.next_version();
        let values = values.into();
        self.put_row(table, id, StoredRow { version, values });
        self.record(Undo::Inserted { table, id });
        Ok(version)
    }

    /// Replaces a row's values with `values` and gives it a new version.
    pub fn replace(
        &mut self,
        table: usize,
        id: Uuid,
        values: Vec<Value>,
    ) -> Result<u64, DuplicateKey> {
        self.check_keys(table, id, &values)?;
        let version = self.next_version();
        if let Some(old) = self.remove_row(table, id) {
            self.record(Undo::Replaced { table, id, old });
        }
        let values = values.into();
        self.put_row(table, id, StoredRow { version, values });
        Ok(version)
    }

    pub fn delete(&mut self, table: usize, id: Uuid) -> bool {
        let Some(old) = self.remove_row(table, id) else {
            return false;
        };
        let tombstone = self.next_version();
        self.tables[table].tombstones.insert(tombstone, id);
        self.record(Undo::Deleted {
            table,
            id,
            old,
            tombstone,
        });
        true
    }
}
