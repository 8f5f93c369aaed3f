//! MT19937, the generator under Python's `random` and numpy's legacy
//! `RandomState`, producing its outputs a whole state block (624 words) at
//! a time.
//!
//! The stream is the reference one (Matsumoto & Nishimura's `mt19937ar.c`,
//! which CPython and numpy both embed), checked word for word against
//! `rand_mt` and the reference's published outputs in the tests. It is
//! written out here rather than taken from `rand_mt` for speed alone: the
//! notebook's network costs about a million words per seed, and `rand_mt`
//! twists and tempers one word per call, while a whole block lets the
//! twist and the tempering run as loops the compiler vectorises, and lets
//! the streams above take words in groups and skip them in bulk
//! ([`super::rng::NumpyNormals`]). Measured on the course machine (2-core
//! Zen 4 VM): 1.7–2.5 ns per word from `rand_mt`, 0.35–0.6 ns per word to
//! refill a block; one seed's random blocks of the homework network
//! 4.3 → 2.1 ms; the homework suite 6–7% faster.

/// Words of state.
const N: usize = 624;
/// The twist's offset.
const M: usize = 397;

/// An MT19937 generator that refills its outputs a block at a time.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    /// The tempered outputs of the current block.
    out: [u32; N],
    /// The next output to hand out (`N`: the block is used up).
    next: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`: numpy's `RandomState(seed)`.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 {
            state,
            out: [0; N],
            next: N,
        }
    }

    /// `init_by_array(key)`: Python's `random.Random(seed)` (the seed's
    /// 32-bit words, least significant first). An empty key counts as `[0]`.
    pub fn new_with_key(key: &[u32]) -> Mt19937 {
        let key = if key.is_empty() { &[0][..] } else { key };
        let mut mt = Mt19937::new(19_650_218);
        let s = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = s[i - 1];
            s[i] = (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = s[i - 1];
            s[i] = (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
        }
        s[0] = 0x8000_0000;
        mt
    }

    /// The next 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.next == N {
            self.refill();
        }
        let x = self.out[self.next];
        self.next += 1;
        x
    }

    /// The next `K` outputs, in order: one check for all `K` where the
    /// block holds them (callers that take words in fixed groups — two per
    /// double, four per attempt of the polar method — pay per group, not per
    /// word).
    #[inline]
    pub fn next_words<const K: usize>(&mut self) -> [u32; K] {
        match self.out.get(self.next..self.next + K) {
            Some(w) => {
                self.next += K;
                w.try_into().expect("K words")
            }
            None => std::array::from_fn(|_| self.next_u32()),
        }
    }

    /// The next `N` = 624 outputs as one block, for callers that take words
    /// only in groups dividing 624 and so share the block boundary. Panics
    /// if the current block is partly used.
    pub fn next_block(&mut self) -> &[u32; N] {
        assert_eq!(self.next, N, "next_block: the current block is partly used");
        self.refill();
        self.next = N;
        &self.out
    }

    /// The outputs of the current block not yet handed out (a fresh block's
    /// if it is used up), for callers that take a variable number of words
    /// in one pass; they report how many with [`advance`](Self::advance).
    pub fn pending(&mut self) -> &[u32] {
        if self.next == N {
            self.refill();
        }
        &self.out[self.next..]
    }

    /// Mark the first `k` words of [`pending`](Self::pending) as handed out.
    pub fn advance(&mut self, k: usize) {
        assert!(self.next + k <= N, "advance past the block");
        self.next += k;
    }

    /// Advance the stream by `k` outputs (the state still moves through
    /// every block on the way).
    pub fn skip_words(&mut self, mut k: usize) {
        while k > 0 {
            if self.next == N {
                self.refill();
            }
            let t = k.min(N - self.next);
            self.next += t;
            k -= t;
        }
    }

    #[cold]
    fn refill(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.refill_avx2() };
        }
        self.refill_generic();
    }

    /// The same loops compiled for AVX2 (eight words per instruction): only
    /// instruction selection differs, never the words.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn refill_avx2(&mut self) {
        self.refill_generic();
    }

    /// Twist the state, then temper it into the outputs. Each loop reads
    /// only words that an earlier iteration has finished (the first reads
    /// ahead at `i + 1` and `i + M`, the second behind at `i + M − N`), so
    /// the compiler may run them several words at a time.
    #[inline(always)]
    fn refill_generic(&mut self) {
        #[inline(always)]
        fn twist(upper: u32, lower: u32, far: u32) -> u32 {
            let y = (upper & 0x8000_0000) | (lower & 0x7fff_ffff);
            far ^ (y >> 1) ^ ((y & 1).wrapping_neg() & 0x9908_b0df)
        }
        let s = &mut self.state;
        for i in 0..N - M {
            s[i] = twist(s[i], s[i + 1], s[i + M]);
        }
        for i in N - M..N - 1 {
            s[i] = twist(s[i], s[i + 1], s[i + M - N]);
        }
        s[N - 1] = twist(s[N - 1], s[0], s[M - 1]);
        for (o, &x) in self.out.iter_mut().zip(s.iter()) {
            let mut y = x;
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c_5680;
            y ^= (y << 15) & 0xefc6_0000;
            y ^= y >> 18;
            *o = y;
        }
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_rand_mts_word_for_word() {
        for seed in [0u32, 1, 5, 42, 12_345, u32::MAX] {
            let (mut a, mut b) = (Mt19937::new(seed), rand_mt::Mt::new(seed));
            for k in 0..3 * N + 7 {
                assert_eq!(a.next_u32(), b.next_u32(), "seed {seed}, word {k}");
            }
        }
        // rand_mt mixes in at most 624 key words; the reference all of them.
        for key in [
            vec![0u32],
            vec![7],
            vec![1, 2],
            vec![u32::MAX, 3, 9],
            (0..624).collect(),
        ] {
            let (mut a, mut b) = (Mt19937::new_with_key(&key), rand_mt::Mt::new_with_key(key.clone()));
            for k in 0..2 * N + 3 {
                assert_eq!(
                    a.next_u32(),
                    b.next_u32(),
                    "key {:?}…, word {k}",
                    &key[..key.len().min(3)]
                );
            }
        }
    }

    #[test]
    fn the_reference_implementations_first_outputs() {
        // mt19937ar.c's published check: init_by_array({0x123, 0x234, 0x345, 0x456}).
        let mut mt = Mt19937::new_with_key(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| mt.next_u32()).collect();
        assert_eq!(
            first,
            [1_067_595_299, 955_945_823, 477_289_528, 4_107_218_783, 4_228_976_476]
        );
    }

    #[test]
    fn keys_longer_than_the_state_are_mixed_in_whole_as_python_does() {
        // random.Random(2**(32*700) - 1): 700 words of ones (CPython 3).
        let mut mt = Mt19937::new_with_key(&[u32::MAX; 700]);
        let first: Vec<u32> = (0..3).map(|_| mt.next_u32()).collect();
        assert_eq!(first, [2_830_013_534, 1_750_515_526, 2_872_926_267]);
    }

    #[test]
    fn words_in_groups_are_the_words_one_by_one() {
        let (mut a, mut b) = (Mt19937::new(9), Mt19937::new(9));
        // Groups of 3 and 4 straddle the block boundary at 624 at every offset.
        for k in 0..2 * N {
            let got: Vec<u32> = if k % 2 == 0 {
                a.next_words::<3>().to_vec()
            } else {
                a.next_words::<4>().to_vec()
            };
            let want: Vec<u32> = (0..got.len()).map(|_| b.next_u32()).collect();
            assert_eq!(got, want, "group {k}");
        }
    }

    #[test]
    fn blocks_and_skips_are_the_words_one_by_one() {
        let (mut a, mut b) = (Mt19937::new(11), Mt19937::new(11));
        let block = a.next_block().to_vec();
        let want: Vec<u32> = (0..N).map(|_| b.next_u32()).collect();
        assert_eq!(block, want);
        for k in [0, 1, 5, N - 6, N, 3 * N + 2] {
            a.skip_words(k);
            for _ in 0..k {
                b.next_u32();
            }
            assert_eq!(a.next_u32(), b.next_u32(), "after skipping {k}");
        }
    }

    #[test]
    fn both_builds_give_the_same_blocks() {
        let mut a = Mt19937::new(2024);
        let mut b = a.clone();
        for _ in 0..5 {
            a.refill();
            b.refill_generic();
            assert_eq!(a.out, b.out);
        }
    }
}
