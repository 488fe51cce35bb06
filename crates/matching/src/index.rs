//! The incremental index over one side (the CRM's contacts or accounts): blocking postings,
//! value frequencies, pins and rejections, and the decision rule that turns scores into outcomes.

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::explain::{
    Agreement, Candidate, Explanation, Field, FieldEvidence, MatchOutcome, Method,
};
use crate::keys::{KeyMap, key};
use crate::paged::Paged;
use crate::postings::Postings;

/// What the index needs from a kind of record (people, companies).
pub trait Entity {
    type Record;
    type Prepared: Send + Sync;

    fn id(record: &Self::Record) -> &str;
    /// Normalises a record once, so that comparisons only read prepared values.
    fn prepare(record: &Self::Record) -> Self::Prepared;
    /// Keys under which the record is indexed and looked up; records sharing none are never
    /// compared (blocking). Exact keys (email, profile URL) are among them.
    fn block_keys(prepared: &Self::Prepared, out: &mut Vec<BlockKey>);
    /// Values whose frequency on the indexed side adjusts how much agreeing on them counts.
    fn frequency_keys(prepared: &Self::Prepared, out: &mut Vec<u64>);
    /// Compares two prepared records; pushes each field's evidence and returns the total in bits.
    fn compare(
        left: &Self::Prepared,
        right: &Self::Prepared,
        freq: &Frequencies<'_>,
        out: &mut Vec<FieldEvidence>,
    ) -> f32;
    /// Settings that suit this kind of record.
    fn default_config() -> MatchConfig;
}

/// A blocking key and how specific it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockKey {
    pub key: u64,
    pub name_only: bool,
}

impl BlockKey {
    pub fn new(key: u64) -> Self {
        Self {
            key,
            name_only: false,
        }
    }

    pub fn name(key: u64) -> Self {
        Self {
            key,
            name_only: true,
        }
    }
}

/// How scores become decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    /// Confidence a candidate needs to be matched (0 to 1). The product threshold.
    pub threshold: f32,
    /// Prior log2 odds against any given candidate pair being a match, in bits. A candidate
    /// needs about `prior_bits + log2(threshold / (1 - threshold))` bits of evidence.
    pub prior_bits: f32,
    /// Blocks with more members than this are skipped when looking up: they carry little
    /// information (a very common name) and would make one lookup scan thousands of records.
    pub max_block: usize,
    /// The same for keys made from a name alone (family name and initial, name pair, email
    /// local part): a common name's block says little, and matching on it needs some other field
    /// to agree anyway, which other keys find.
    pub max_name_block: usize,
}

/// Frequencies of values on the indexed side, for term-frequency adjusted weights.
pub struct Frequencies<'a> {
    counts: &'a KeyMap<u32>,
    total: u32,
}

impl Frequencies<'_> {
    /// Weight in bits for agreeing on a value: log2(m / u), where u is how often two unrelated
    /// records share the value. u is estimated from the indexed side, smoothed towards `prior_u`
    /// so that a small index does not make every name look unique. Also says whether the value
    /// is common (its weight well under the cap), for the explanation.
    pub fn agreement_weight(
        &self,
        key: u64,
        m: f32,
        prior_u: f32,
        range: (f32, f32),
    ) -> (f32, bool) {
        let w = (m / self.rate(key, prior_u)).log2();
        (w.clamp(range.0, range.1), w < range.1 - 2.0)
    }

    /// How often a record other than the compared one has this value: the u of agreeing on it,
    /// smoothed towards `prior_u` so that a small index does not make every value look unique.
    pub fn rate(&self, key: u64, prior_u: f32) -> f32 {
        const PRIOR_RECORDS: f32 = 2000.0;
        let count = self.others_with(key) as f32;
        let others = self.total.saturating_sub(1) as f32;
        (count + PRIOR_RECORDS * prior_u) / (others + PRIOR_RECORDS)
    }

    /// Records other than the compared one that have this value. The compared record itself is
    /// left out: its own value says nothing about how common the value is among the others.
    pub fn others_with(&self, key: u64) -> u32 {
        self.counts
            .get(&key)
            .copied()
            .unwrap_or(0)
            .saturating_sub(1)
    }

    /// Records in the index.
    pub fn records(&self) -> u32 {
        self.total
    }
}

/// Candidates listed for an ambiguous record: enough for a person to choose from.
const MAX_AMBIGUOUS: usize = 5;

struct Slot<P> {
    id: Box<str>,
    prepared: P,
}

/// Records of one kind from the CRM side, indexed for matching; see the crate docs.
pub struct MatchIndex<E: Entity> {
    config: MatchConfig,
    slots: Paged<Slot<E::Prepared>>,
    free: Vec<u32>,
    by_id: Postings,
    blocks: Postings,
    frequencies: KeyMap<u32>,
    live: u32,
    pins: HashMap<Box<str>, Box<str>>,
    rejections: HashMap<Box<str>, SmallVec<[Box<str>; 1]>>,
}

impl<E: Entity> Default for MatchIndex<E> {
    fn default() -> Self {
        Self::with_config(E::default_config())
    }
}

impl<E: Entity> MatchIndex<E> {
    pub fn with_config(config: MatchConfig) -> Self {
        Self {
            config,
            slots: Paged::default(),
            free: Vec::new(),
            by_id: Postings::default(),
            blocks: Postings::default(),
            frequencies: KeyMap::default(),
            live: 0,
            pins: HashMap::new(),
            rejections: HashMap::new(),
        }
    }

    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Adds a CRM record, replacing the one with the same id if present.
    pub fn upsert(&mut self, record: &E::Record) {
        let prepared = E::prepare(record);
        self.upsert_prepared(E::id(record), prepared);
    }

    /// Adds an already prepared record (lets callers prepare many records in parallel).
    pub fn upsert_prepared(&mut self, id: &str, prepared: E::Prepared) {
        self.remove(id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => self.slots.push_empty(),
        };
        for k in block_keys::<E>(&prepared) {
            self.blocks.push(k.key, slot);
        }
        let mut keys = Vec::new();
        E::frequency_keys(&prepared, &mut keys);
        for k in keys {
            *self.frequencies.entry(k).or_default() += 1;
        }
        self.by_id.push(id_key(id), slot);
        self.slots.set(
            slot,
            Slot {
                id: id.into(),
                prepared,
            },
        );
        self.live += 1;
    }

    /// Removes the CRM record with this id; returns whether it was present.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        let Some(Slot { prepared, .. }) = self.slots.take(slot) else {
            return false;
        };
        for k in block_keys::<E>(&prepared) {
            self.blocks.remove(k.key, slot);
        }
        let mut keys = Vec::new();
        E::frequency_keys(&prepared, &mut keys);
        for k in keys {
            if let Some(c) = self.frequencies.get_mut(&k) {
                *c -= 1;
                if *c == 0 {
                    self.frequencies.remove(&k);
                }
            }
        }
        self.by_id.remove(id_key(id), slot);
        self.free.push(slot);
        self.live -= 1;
        true
    }

    pub fn contains(&self, id: &str) -> bool {
        self.slot_of(id).is_some()
    }

    /// A user's correction: `left_id` is `right_id`, whatever the fields say. Clears any
    /// rejection of the same pair.
    pub fn pin(&mut self, left_id: &str, right_id: &str) {
        self.unreject(left_id, right_id);
        self.pins.insert(left_id.into(), right_id.into());
    }

    pub fn unpin(&mut self, left_id: &str) {
        self.pins.remove(left_id);
    }

    /// A user's correction: `left_id` is not `right_id`. The pair is never proposed again
    /// (as a match or an ambiguous candidate) unless pinned; a pin on this pair is removed.
    pub fn reject(&mut self, left_id: &str, right_id: &str) {
        if self.pins.get(left_id).is_some_and(|r| &**r == right_id) {
            self.pins.remove(left_id);
        }
        let list = self.rejections.entry(left_id.into()).or_default();
        if !list.iter().any(|r| &**r == right_id) {
            list.push(right_id.into());
        }
    }

    pub fn unreject(&mut self, left_id: &str, right_id: &str) {
        if let Some(list) = self.rejections.get_mut(left_id) {
            list.retain(|r| &**r != right_id);
            if list.is_empty() {
                self.rejections.remove(left_id);
            }
        }
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id
            .get(id_key(id))
            .iter()
            .copied()
            .find(|s| self.slots.get(*s).is_some_and(|slot| &*slot.id == id))
    }

    fn frequencies(&self) -> Frequencies<'_> {
        Frequencies {
            counts: &self.frequencies,
            total: self.live,
        }
    }

    /// The best CRM record for `left`, or why there is none. Looks only at the blocks `left`
    /// falls in, so its cost does not grow with the index.
    pub fn best_match(&self, left: &E::Record) -> MatchOutcome {
        self.best_match_prepared(E::id(left), &E::prepare(left))
    }

    fn pinned(&self, left_id: &str, left: &E::Prepared) -> Option<MatchOutcome> {
        let right_id = self.pins.get(left_id)?;
        // A pin to a record the CRM no longer has is dormant until the record comes back.
        let slot = self.slot_of(right_id)?;
        let right = self.slots.get(slot)?;
        let mut fields = Vec::new();
        let score = E::compare(left, &right.prepared, &self.frequencies(), &mut fields);
        Some(MatchOutcome::Matched {
            right_id: right_id.to_string(),
            confidence: 1.0,
            explanation: Explanation {
                method: Method::Pinned,
                score,
                fields,
            },
        })
    }

    /// As `best_match`, for a record already prepared with `E::prepare`.
    pub fn best_match_prepared(&self, left_id: &str, left: &E::Prepared) -> MatchOutcome {
        if let Some(outcome) = self.pinned(left_id, left) {
            return outcome;
        }
        let mut scored = self.scored(left_id, left);
        let Some(&(best, best_right)) = scored.iter().min_by(|a, b| rank(a, b)) else {
            return MatchOutcome::NoMatch;
        };

        let prior = self.config.prior_bits;
        // Summed in score order: a float sum in slot order would depend, in its last bits, on
        // the order records were inserted.
        let mut scores: Vec<f32> = scored.iter().map(|(s, _)| *s).collect();
        scores.sort_unstable_by(|a, b| b.total_cmp(a));
        let others: f32 = scores.iter().map(|s| (s - best).exp2()).sum();
        let share = |s: f32| 1.0 / ((prior - s).exp2() + others * (best - s).exp2());
        let alone = |s: f32| 1.0 / (1.0 + (prior - s).exp2());
        let threshold = self.config.threshold;

        let explain = |right: &Slot<E::Prepared>| self.explain(left, right);
        if share(best) >= threshold {
            return MatchOutcome::Matched {
                right_id: best_right.id.to_string(),
                confidence: share(best),
                explanation: explain(best_right),
            };
        }
        if alone(best) >= threshold {
            // Everything close enough to the best to be a real alternative.
            const CLOSE_BITS: f32 = 6.0;
            scored.retain(|(s, _)| best - s <= CLOSE_BITS);
            scored.sort_by(rank);
            let candidates = scored
                .iter()
                .take(MAX_AMBIGUOUS)
                .map(|&(s, right)| Candidate {
                    right_id: right.id.to_string(),
                    confidence: share(s),
                    explanation: explain(right),
                })
                .collect();
            return MatchOutcome::Ambiguous { candidates };
        }
        MatchOutcome::NoMatch
    }
}

impl<E: Entity> MatchIndex<E> {
    /// Every CRM record sharing a block with `left` and not rejected for it, scored, unordered.
    fn scored(&self, left_id: &str, left: &E::Prepared) -> Vec<(f32, &Slot<E::Prepared>)> {
        let mut candidates: Vec<u32> = Vec::new();
        for k in block_keys::<E>(left) {
            let limit = if k.name_only {
                self.config.max_name_block
            } else {
                self.config.max_block
            };
            let posting = self.blocks.get(k.key);
            if posting.len() <= limit {
                candidates.extend_from_slice(posting);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();

        let freq = self.frequencies();
        let rejected: &[Box<str>] = self.rejections.get(left_id).map_or(&[], |r| r.as_slice());
        let mut scratch = Vec::new();
        let mut scored: Vec<(f32, &Slot<E::Prepared>)> = Vec::with_capacity(candidates.len());
        for s in candidates {
            let Some(right) = self.slots.get(s) else {
                continue;
            };
            if rejected.contains(&right.id) {
                continue;
            }
            scratch.clear();
            let score = E::compare(left, &right.prepared, &freq, &mut scratch);
            scored.push((score, right));
        }
        scored
    }

    /// The prepared form of the indexed record with this id.
    pub fn prepared(&self, id: &str) -> Option<&E::Prepared> {
        let slot = self.slot_of(id)?;
        self.slots.get(slot).map(|s| &s.prepared)
    }

    /// The ids of this index's records whose lookup in `other` can meet `record`, a record of
    /// `other` that changed or went: those sharing a block with it that `other` does not skip as
    /// too large (by one more than its caps, since the change itself moves a block's size by one).
    /// Their decisions are the ones the change can alter; no others need matching again.
    pub fn looking_at(&self, other: &MatchIndex<E>, record: &E::Prepared) -> Vec<&str> {
        let mut slots: Vec<u32> = Vec::new();
        for k in block_keys::<E>(record) {
            let limit = if k.name_only {
                other.config.max_name_block
            } else {
                other.config.max_block
            };
            if other.blocks.len(k.key) <= limit + 1 {
                slots.extend_from_slice(self.blocks.get(k.key));
            }
        }
        slots.sort_unstable();
        slots.dedup();
        slots
            .into_iter()
            .filter_map(|s| self.slots.get(s).map(|slot| &*slot.id))
            .collect()
    }

    fn explain(&self, left: &E::Prepared, right: &Slot<E::Prepared>) -> Explanation {
        let mut fields = Vec::new();
        let score = E::compare(left, &right.prepared, &self.frequencies(), &mut fields);
        let method = if fields.iter().any(is_exact_key) {
            Method::ExactKey
        } else {
            Method::Scored
        };
        Explanation {
            method,
            score,
            fields,
        }
    }

    /// How `left` compares with the indexed record `right_id`, whether or not blocking would
    /// bring the two together: for a person asking why a pair was not matched. `None` when no
    /// record has that id.
    pub fn compare_with(&self, left: &E::Record, right_id: &str) -> Option<Explanation> {
        let slot = self.slot_of(right_id)?;
        let right = self.slots.get(slot)?;
        Some(self.explain(&E::prepare(left), right))
    }

    /// The `limit` best-scoring CRM records for `left`, whatever the decision: what a person
    /// linking a record by hand wants to see. Rejected pairs are left out.
    pub fn candidates(&self, left: &E::Record, limit: usize) -> Vec<Candidate> {
        let prepared = E::prepare(left);
        let mut scored = self.scored(E::id(left), &prepared);
        scored.sort_by(rank);
        let prior = self.config.prior_bits;
        let total: f32 = prior.exp2() + scored.iter().map(|(s, _)| s.exp2()).sum::<f32>();
        scored
            .iter()
            .take(limit)
            .map(|&(s, right)| Candidate {
                right_id: right.id.to_string(),
                confidence: s.exp2() / total,
                explanation: self.explain(&prepared, right),
            })
            .collect()
    }
}

fn is_exact_key(e: &FieldEvidence) -> bool {
    matches!(e.field, Field::Email | Field::ProfileUrl)
        && e.agreement == Agreement::Exact
        && e.detail.is_none()
}

/// Highest score first; equal scores in id order, so that the result never depends on the
/// order records were inserted.
fn rank<P>(a: &(f32, &Slot<P>), b: &(f32, &Slot<P>)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id))
}

/// The record's blocking keys, each once.
fn block_keys<E: Entity>(prepared: &E::Prepared) -> Vec<BlockKey> {
    let mut keys = Vec::new();
    E::block_keys(prepared, &mut keys);
    keys.sort_unstable_by_key(|k| k.key);
    keys.dedup_by_key(|k| k.key);
    keys
}

fn id_key(id: &str) -> u64 {
    key(b'#', &[id])
}
