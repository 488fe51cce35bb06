//! The index's records in fixed-size pages. A plain vector of a million 128-byte records doubles
//! its capacity as it grows, and ends up holding room for two million (a quarter of a GiB at that
//! size) and copying everything at each doubling; pages waste at most one page.

/// Records per page.
const PAGE: usize = 4096;

/// Numbered places, each holding a record or nothing.
pub struct Paged<T> {
    pages: Vec<Vec<Option<T>>>,
    len: usize,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Paged<T> {
    /// Adds an empty place at the end; returns its number.
    pub fn push_empty(&mut self) -> u32 {
        if self.len.is_multiple_of(PAGE) {
            let mut page = Vec::with_capacity(PAGE);
            page.resize_with(PAGE, || None);
            self.pages.push(page);
        }
        self.len += 1;
        u32::try_from(self.len - 1).expect("an index holds fewer than 2^32 records")
    }

    fn place(&self, i: u32) -> Option<&Option<T>> {
        let i = i as usize;
        if i >= self.len {
            return None;
        }
        self.pages.get(i / PAGE)?.get(i % PAGE)
    }

    fn place_mut(&mut self, i: u32) -> Option<&mut Option<T>> {
        let i = i as usize;
        if i >= self.len {
            return None;
        }
        self.pages.get_mut(i / PAGE)?.get_mut(i % PAGE)
    }

    /// The record at place `i`, if there is one.
    pub fn get(&self, i: u32) -> Option<&T> {
        self.place(i)?.as_ref()
    }

    /// Puts `value` at place `i` (which must have been pushed).
    pub fn set(&mut self, i: u32, value: T) {
        if let Some(place) = self.place_mut(i) {
            *place = Some(value);
        }
    }

    /// Takes the record out of place `i`, leaving it empty.
    pub fn take(&mut self, i: u32) -> Option<T> {
        self.place_mut(i)?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_across_pages_keep_their_records() {
        let mut p: Paged<u64> = Paged::default();
        for n in 0..(PAGE as u32 * 2 + 5) {
            assert_eq!(p.push_empty(), n);
            if n % 3 == 0 {
                p.set(n, u64::from(n) * 10);
            }
        }
        assert_eq!(p.pages.len(), 3);
        let last = PAGE as u32 * 2 + 4;
        assert_eq!(last % 3, 0);
        assert_eq!(p.get(last), Some(&(u64::from(last) * 10)));
        assert_eq!(p.get(last - 1), None);
        assert_eq!(p.take(3), Some(30));
        assert_eq!(p.get(3), None);
        assert_eq!(p.take(3), None);
        // Places never pushed hold nothing, and setting them does nothing.
        p.set(PAGE as u32 * 3, 1);
        assert_eq!(p.get(PAGE as u32 * 3), None);
    }
}
