//! The index's posting lists: for each 64-bit key, the slots of the records that have it.
//!
//! Most keys belong to one record (an email, a phone number, a profile URL, an id) and many of the
//! rest to two, so a list of up to two slots lives in the map's own 8-byte value; a longer one is
//! spilled into an arena of vectors. At a million CRM people the map holds millions of keys, and a
//! 16-byte entry instead of the 32 of a small vector halves what blocking costs in memory.

use crate::keys::KeyMap;

/// Marks the second word of a one-slot list.
const NONE: u32 = u32::MAX;
/// Marks the first word of a spilled list; the rest of it is the list's place in the arena.
const SPILLED: u32 = 1 << 31;

/// Slot numbers must stay under this (two thousand million records).
pub const MAX_SLOT: u32 = SPILLED - 1;

#[derive(Default)]
pub struct Postings {
    lists: KeyMap<[u32; 2]>,
    spilled: Vec<Vec<u32>>,
    /// Places in `spilled` free for reuse.
    free: Vec<u32>,
}

impl Postings {
    /// The slots listed under `key`, in the order they were added (an empty list if none).
    pub fn get(&self, key: u64) -> &[u32] {
        match self.lists.get(&key) {
            None => &[],
            Some(words) => self.list(words),
        }
    }

    fn list<'a>(&'a self, words: &'a [u32; 2]) -> &'a [u32] {
        if words[0] & SPILLED != 0 {
            &self.spilled[(words[0] & !SPILLED) as usize]
        } else if words[1] == NONE {
            &words[..1]
        } else {
            &words[..]
        }
    }

    /// How many slots are listed under `key`.
    pub fn len(&self, key: u64) -> usize {
        self.get(key).len()
    }

    /// Adds `slot` to the list of `key`.
    pub fn push(&mut self, key: u64, slot: u32) {
        assert!(
            slot <= MAX_SLOT,
            "an index holds at most {MAX_SLOT} records"
        );
        let Some(words) = self.lists.get_mut(&key) else {
            self.lists.insert(key, [slot, NONE]);
            return;
        };
        if words[0] & SPILLED != 0 {
            self.spilled[(words[0] & !SPILLED) as usize].push(slot);
        } else if words[1] == NONE {
            words[1] = slot;
        } else {
            let list = vec![words[0], words[1], slot];
            let place = match self.free.pop() {
                Some(place) => {
                    self.spilled[place as usize] = list;
                    place
                }
                None => {
                    self.spilled.push(list);
                    u32::try_from(self.spilled.len() - 1).expect("fewer spilled lists than slots")
                }
            };
            *words = [SPILLED | place, 0];
        }
    }

    /// Removes `slot` from the list of `key` (every time it is listed); a list left empty goes.
    pub fn remove(&mut self, key: u64, slot: u32) {
        let Some(words) = self.lists.get_mut(&key) else {
            return;
        };
        if words[0] & SPILLED != 0 {
            let place = words[0] & !SPILLED;
            let list = &mut self.spilled[place as usize];
            list.retain(|s| *s != slot);
            // Back inline once it fits, so that the arena only holds long lists.
            if list.len() <= 2 {
                let list = std::mem::take(list);
                self.free.push(place);
                match list[..] {
                    [] => {
                        self.lists.remove(&key);
                    }
                    [a] => *words = [a, NONE],
                    [a, b] => *words = [a, b],
                    _ => unreachable!("the list has at most two slots"),
                }
            }
        } else if words[1] == NONE {
            if words[0] == slot {
                self.lists.remove(&key);
            }
        } else if words[0] == slot && words[1] == slot {
            self.lists.remove(&key);
        } else if words[0] == slot {
            *words = [words[1], NONE];
        } else if words[1] == slot {
            words[1] = NONE;
        }
    }

    /// Keys with at least one slot.
    #[cfg(test)]
    pub fn keys(&self) -> usize {
        self.lists.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn lists_grow_spill_and_come_back_inline() {
        let mut p = Postings::default();
        assert_eq!(p.get(7), &[] as &[u32]);
        p.push(7, 1);
        assert_eq!(p.get(7), &[1]);
        p.push(7, 2);
        assert_eq!(p.get(7), &[1, 2]);
        p.push(7, 3);
        p.push(7, 4);
        assert_eq!(p.get(7), &[1, 2, 3, 4]);
        assert_eq!(p.len(7), 4);
        p.remove(7, 2);
        assert_eq!(p.get(7), &[1, 3, 4]);
        p.remove(7, 1);
        assert_eq!(p.get(7), &[3, 4]);
        // The arena's place is reused by the next list that spills.
        p.push(8, 10);
        p.push(8, 11);
        p.push(8, 12);
        assert_eq!(p.spilled.len(), 1);
        p.remove(7, 4);
        p.remove(7, 3);
        assert_eq!(p.get(7), &[] as &[u32]);
        assert_eq!(p.keys(), 1);
        p.remove(9, 1);
        assert_eq!(p.get(8), &[10, 11, 12]);
    }

    proptest! {
        /// Any sequence of additions and removals leaves each key with the slots a plain map of
        /// vectors would have, in the same order.
        #[test]
        fn behaves_as_a_map_of_lists(ops in proptest::collection::vec((0u64..4, 0u32..6, any::<bool>()), 0..200)) {
            let mut p = Postings::default();
            let mut model: HashMap<u64, Vec<u32>> = HashMap::new();
            for (key, slot, add) in ops {
                if add {
                    p.push(key, slot);
                    model.entry(key).or_default().push(slot);
                } else {
                    p.remove(key, slot);
                    if let Some(list) = model.get_mut(&key) {
                        list.retain(|s| *s != slot);
                        if list.is_empty() {
                            model.remove(&key);
                        }
                    }
                }
                for key in 0..4 {
                    let want = model.get(&key).map_or(&[][..], Vec::as_slice);
                    prop_assert_eq!(p.get(key), want);
                }
                prop_assert_eq!(p.keys(), model.len());
            }
        }
    }
}
