//! A fixed-size bit set over row numbers.

/// One bit per row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// `len` clear bits.
    pub(crate) fn empty(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// `len` set bits.
    pub(crate) fn full(len: usize) -> Bits {
        let mut b = Bits {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        b.trim();
        b
    }

    /// Bit `i` is set where `test(col[i])` holds: one word per 64 values, in a
    /// loop the compiler can unroll (no bounds checks, no index arithmetic).
    #[inline]
    pub(crate) fn from_column<T: Copy>(col: &[T], test: impl Fn(T) -> bool) -> Bits {
        let words = col
            .chunks(64)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |w, (j, v)| w | (u64::from(test(*v)) << j))
            })
            .collect();
        Bits {
            words,
            len: col.len(),
        }
    }

    /// Clears the bits past `len` in the last word.
    fn trim(&mut self) {
        let rest = self.len % 64;
        if rest != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rest) - 1;
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub(crate) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(crate) fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub(crate) fn and_not(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    pub(crate) fn or(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The set bits, in increasing order.
    pub(crate) fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn set_operations_and_iteration() {
        let rows: Vec<usize> = (0..130).collect();
        let a = Bits::from_column(&rows, |i| i % 3 == 0);
        let b = Bits::from_column(&rows, |i| i % 2 == 0);
        assert_eq!(a.count(), 44);
        let mut and = a.clone();
        and.and(&b);
        assert_eq!(
            and.ones().collect::<Vec<_>>(),
            (0..130).step_by(6).collect::<Vec<_>>()
        );
        let mut or = a.clone();
        or.or(&b);
        assert_eq!(
            or.count(),
            (0..130).filter(|i| i % 2 == 0 || i % 3 == 0).count()
        );
        let mut not = Bits::full(130);
        not.and_not(&a);
        assert_eq!(not.count(), 130 - 44);
        assert!(!not.get(129));
        assert!(not.get(128));
        let mut e = Bits::empty(70);
        e.set(69);
        assert_eq!(e.ones().collect::<Vec<_>>(), vec![69]);
        assert_eq!(Bits::full(0).count(), 0);
    }
}
