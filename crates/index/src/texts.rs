//! The index's texts (plan names and failure messages, folded): a sorted,
//! front-coded dictionary per base, whose position (rank) is a row's text id, and
//! the few texts met since the base was built. Rows compare texts by rank; a
//! filter finds its value's place once by binary search. A history whose messages
//! carry timestamps has almost one distinct message per session, so the
//! dictionary is kept small: strings in blocks of [`BLOCK`], each after the first
//! stored as the length it shares with its predecessor and the rest.

use std::collections::HashMap;
use std::sync::Arc;

/// A row without a text (no failure message).
pub(crate) const NO_TEXT: u32 = u32::MAX;
/// Marks an id of [`Extras`] rather than a rank.
pub(crate) const EXTRA: u32 = 1 << 31;

/// Strings per front-coded block.
const BLOCK: usize = 16;

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(data: &[u8], at: &mut usize) -> usize {
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        let b = data[*at];
        *at += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Distinct strings in byte order, front-coded.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sorted {
    /// Where each block starts in `data`.
    blocks: Vec<u32>,
    data: Vec<u8>,
    len: usize,
}

impl Sorted {
    /// From strings already sorted and distinct.
    pub(crate) fn from_sorted<'a>(texts: impl IntoIterator<Item = &'a str>) -> Sorted {
        let mut b = Builder::default();
        for t in texts {
            b.push(t);
        }
        b.finish()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&self) -> usize {
        self.data.len() + self.blocks.len() * 4
    }

    /// The first string of a block (stored whole).
    fn head(&self, block: usize) -> &[u8] {
        let mut at = self.blocks[block] as usize;
        let n = get_varint(&self.data, &mut at);
        &self.data[at..at + n]
    }

    /// Decodes block `block`, calling `f(rank, text)` until it returns false.
    fn scan_block(&self, block: usize, mut f: impl FnMut(usize, &[u8]) -> bool) {
        let mut at = self.blocks[block] as usize;
        let end = self.len.min((block + 1) * BLOCK);
        let mut text: Vec<u8> = Vec::new();
        for rank in block * BLOCK..end {
            if rank == block * BLOCK {
                let n = get_varint(&self.data, &mut at);
                text.extend_from_slice(&self.data[at..at + n]);
                at += n;
            } else {
                let shared = get_varint(&self.data, &mut at);
                let n = get_varint(&self.data, &mut at);
                text.truncate(shared);
                text.extend_from_slice(&self.data[at..at + n]);
                at += n;
            }
            if !f(rank, &text) {
                return;
            }
        }
    }

    /// `Ok(rank)` of `v`, or `Err(rank)` of the first string above it.
    pub(crate) fn find(&self, v: &str) -> Result<usize, usize> {
        let v = v.as_bytes();
        // The last block whose first string is at most `v`.
        let mut lo = 0usize;
        let mut hi = self.blocks.len();
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            if self.head(mid) <= v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Err(0);
        }
        let block = lo - 1;
        let mut found = Err((block + 1).saturating_mul(BLOCK).min(self.len));
        self.scan_block(block, |rank, t| match t.cmp(v) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => {
                found = Ok(rank);
                false
            }
            std::cmp::Ordering::Greater => {
                found = Err(rank);
                false
            }
        });
        found
    }

    /// Every string in order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &str)) {
        for block in 0..self.blocks.len() {
            self.scan_block(block, |rank, t| {
                f(rank, std::str::from_utf8(t).unwrap_or_default());
                true
            });
        }
    }
}

/// Builds a [`Sorted`] from strings pushed in order.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    s: Sorted,
    previous: Vec<u8>,
}

impl Builder {
    /// Appends the next string (greater than every one before).
    pub(crate) fn push(&mut self, t: &str) {
        let t = t.as_bytes();
        let s = &mut self.s;
        debug_assert!(
            s.len == 0 || self.previous.as_slice() < t,
            "sorted and distinct"
        );
        if s.len.is_multiple_of(BLOCK) {
            s.blocks.push(s.data.len() as u32);
            put_varint(&mut s.data, t.len());
            s.data.extend_from_slice(t);
        } else {
            let shared = self
                .previous
                .iter()
                .zip(t)
                .take_while(|(a, b)| a == b)
                .count();
            put_varint(&mut s.data, shared);
            put_varint(&mut s.data, t.len() - shared);
            s.data.extend_from_slice(&t[shared..]);
        }
        self.previous.clear();
        self.previous.extend_from_slice(t);
        s.len += 1;
    }

    pub(crate) fn finish(mut self) -> Sorted {
        self.s.data.shrink_to_fit();
        self.s.blocks.shrink_to_fit();
        self.s
    }
}

/// Texts met since the base was built, each with the rank it would have among
/// the base's texts (none of them is one of those).
#[derive(Debug, Default, Clone)]
pub(crate) struct Extras {
    pub list: Vec<(u32, Arc<str>)>,
    ids: HashMap<Arc<str>, u32>,
}

impl Extras {
    /// The id of a text: its rank if the base has it, else an extra id.
    pub(crate) fn id(&mut self, sorted: &Sorted, text: &str) -> u32 {
        let place = match sorted.find(text) {
            Ok(rank) => return rank as u32,
            Err(place) => place as u32,
        };
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = EXTRA | self.list.len() as u32;
        let text: Arc<str> = Arc::from(text);
        self.list.push((place, text.clone()));
        self.ids.insert(text, id);
        id
    }
}

/// Distinct texts gathered while loading, before they are sorted: one arena,
/// found again by a hash of their bytes.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    arena: String,
    spans: Vec<(u32, u32)>,
    by_hash: HashMap<u64, u32>,
    /// Texts whose hash another text took first (rare).
    collided: HashMap<Box<str>, u32>,
}

impl Collector {
    fn text(&self, id: u32) -> &str {
        let (a, b) = self.spans[id as usize];
        &self.arena[a as usize..b as usize]
    }

    /// A temporary id of a text.
    pub(crate) fn id(&mut self, text: &str, hasher: &impl Fn(&str) -> u64) -> u32 {
        let h = hasher(text);
        if let Some(id) = self.by_hash.get(&h) {
            if self.text(*id) == text {
                return *id;
            }
            if let Some(id) = self.collided.get(text) {
                return *id;
            }
            let id = self.push(text);
            self.collided.insert(text.into(), id);
            return id;
        }
        let id = self.push(text);
        self.by_hash.insert(h, id);
        id
    }

    fn push(&mut self, text: &str) -> u32 {
        let a = self.arena.len() as u32;
        self.arena.push_str(text);
        self.spans.push((a, self.arena.len() as u32));
        (self.spans.len() - 1) as u32
    }

    /// The sorted dictionary, and the rank of each temporary id.
    pub(crate) fn finish(self) -> (Sorted, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.spans.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.text(*a).cmp(self.text(*b)));
        let mut rank = vec![0u32; order.len()];
        for (r, id) in order.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        let sorted = Sorted::from_sorted(order.iter().map(|id| self.text(*id)));
        (sorted, rank)
    }
}

/// A hasher for [`Collector::id`], fixed for one load.
pub(crate) fn load_hasher() -> impl Fn(&str) -> u64 {
    let state = std::collections::hash_map::RandomState::new();
    move |s: &str| {
        use std::hash::BuildHasher;
        state.hash_one(s)
    }
}

/// The new dictionary of a rebuild: the base's texts and the extras merged, with
/// the new rank of each old rank and of each extra.
pub(crate) fn merge(sorted: &Sorted, extras: &[(u32, Arc<str>)]) -> (Sorted, Vec<u32>, Vec<u32>) {
    let mut extra_order: Vec<u32> = (0..extras.len() as u32).collect();
    extra_order.sort_unstable_by(|a, b| extras[*a as usize].1.cmp(&extras[*b as usize].1));
    let mut out = Builder::default();
    let mut old_rank = vec![0u32; sorted.len()];
    let mut extra_rank = vec![0u32; extras.len()];
    let mut e = 0usize;
    let mut push_extras_below = |out: &mut Builder, below: Option<&str>| {
        while e < extra_order.len() {
            let i = extra_order[e] as usize;
            if below.is_some_and(|b| &*extras[i].1 >= b) {
                break;
            }
            extra_rank[i] = out.s.len as u32;
            out.push(&extras[i].1);
            e += 1;
        }
    };
    sorted.for_each(|rank, text| {
        push_extras_below(&mut out, Some(text));
        old_rank[rank] = out.s.len as u32;
        out.push(text);
    });
    push_extras_below(&mut out, None);
    (out.finish(), old_rank, extra_rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn find_agrees_with_a_sorted_list(mut words in proptest::collection::vec("[a-c]{0,6}", 0..80), probe in "[a-d]{0,6}") {
            words.sort();
            words.dedup();
            let s = Sorted::from_sorted(words.iter().map(String::as_str));
            prop_assert_eq!(s.len(), words.len());
            let expected = words.binary_search(&probe);
            prop_assert_eq!(s.find(&probe), expected);
            let mut decoded = Vec::new();
            s.for_each(|_, t| decoded.push(t.to_string()));
            prop_assert_eq!(decoded, words);
        }

        #[test]
        fn merging_keeps_order_and_maps_ranks(mut base in proptest::collection::vec("[a-c]{0,5}", 0..40), extra in proptest::collection::vec("[a-c]{0,5}", 0..10)) {
            base.sort();
            base.dedup();
            let sorted = Sorted::from_sorted(base.iter().map(String::as_str));
            let mut extras = Extras::default();
            for t in &extra {
                extras.id(&sorted, t);
            }
            let (merged, old, new) = merge(&sorted, &extras.list);
            let mut all: Vec<String> = base.clone();
            all.extend(extras.list.iter().map(|(_, t)| t.to_string()));
            all.sort();
            let mut decoded = Vec::new();
            merged.for_each(|_, t| decoded.push(t.to_string()));
            prop_assert_eq!(&decoded, &all);
            for (r, t) in base.iter().enumerate() {
                prop_assert_eq!(&all[old[r] as usize], t);
            }
            for (i, (place, t)) in extras.list.iter().enumerate() {
                prop_assert_eq!(&all[new[i] as usize], &**t);
                prop_assert_eq!(*place as usize, base.partition_point(|b| b.as_str() < &**t));
            }
        }
    }

    #[test]
    fn collector_sorts_and_dedupes() {
        let mut c = Collector::default();
        let h = load_hasher();
        let ids: Vec<u32> = ["b", "a", "b", "c"].iter().map(|t| c.id(t, &h)).collect();
        assert_eq!(ids[0], ids[2]);
        let (sorted, rank) = c.finish();
        assert_eq!(sorted.len(), 3);
        assert_eq!(rank[ids[1] as usize], 0);
        assert_eq!(rank[ids[0] as usize], 1);
        assert_eq!(sorted.find("c"), Ok(2));
        // Colliding hashes still keep texts apart.
        let mut c = Collector::default();
        let same = |_: &str| 7u64;
        let x = c.id("x", &same);
        let y = c.id("y", &same);
        assert_ne!(x, y);
        assert_eq!(c.id("y", &same), y);
    }
}
