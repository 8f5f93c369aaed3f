//! Random streams compatible with Python's `random` and numpy's legacy
//! `RandomState`, so that a seed gives the notebook's masks, weights and
//! permutations bit for bit.
//!
//! Both libraries sit on MT19937 (the crate's `network::mt`); what differs is the
//! seeding and the few lines that turn 32-bit outputs into doubles, normals
//! and bounded integers. Those lines are copied in behaviour (not in code)
//! from CPython's `_randommodule.c` and numpy's `legacy-distributions.c` /
//! `randomkit`, and checked against streams produced by Python in the tests.

use super::mt::Mt19937 as Mt;

use crate::{bail, Result};

/// The 53-bit double both Python and numpy build from two 32-bit outputs.
#[inline]
fn double_53(mt: &mut Mt) -> f64 {
    let [a, b] = mt.next_words();
    from_words(a, b)
}

#[inline]
fn from_words(a: u32, b: u32) -> f64 {
    ((a >> 5) as f64 * 67_108_864.0 + (b >> 6) as f64) * (1.0 / 9_007_199_254_740_992.0)
}

/// Python's `random.Random(seed)` for an integer seed: MT19937 seeded by
/// `init_by_array` with the 32-bit words of `|seed|`, least significant first.
///
/// networkx's `erdos_renyi_graph(seed=...)` draws from this generator.
pub struct PyRandom {
    mt: Mt,
}

impl PyRandom {
    /// Seeded as CPython does for an `int` seed (negative seeds use `|seed|`).
    pub fn new(seed: i128) -> Self {
        let mut s = seed.unsigned_abs();
        let mut key = Vec::new();
        loop {
            key.push(s as u32);
            s >>= 32;
            if s == 0 {
                break;
            }
        }
        PyRandom {
            mt: Mt::new_with_key(&key),
        }
    }

    /// `random.random()`: a double in [0, 1) with 53 random bits.
    #[inline]
    pub fn random(&mut self) -> f64 {
        double_53(&mut self.mt)
    }

    /// The raw 32-bit output (`getrandbits(32)`).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// Advance as `k` calls of [`random`](Self::random) would.
    pub fn skip(&mut self, k: usize) {
        self.mt.skip_words(2 * k);
    }
}

/// numpy's legacy `np.random.RandomState(seed)`: MT19937 seeded by
/// `init_genrand(seed)`, with the legacy shuffle. Its normals come from
/// [`NumpyNormals`], a stream that draws nothing else.
pub struct NumpyRandomState {
    mt: Mt,
}

/// numpy accepts only 0 ≤ seed < 2³², and so do we.
fn numpy_seed(seed: i128) -> Result<u32> {
    if !(0..(1i128 << 32)).contains(&seed) {
        bail!(
            "seed {seed}: numpy's RandomState (and notebook mode) needs 0 <= seed < 2^32; \
             use network.rng = \"fast\" for other seeds"
        );
    }
    Ok(seed as u32)
}

impl NumpyRandomState {
    /// `RandomState(seed)`; numpy accepts only 0 ≤ seed < 2³², and so do we.
    pub fn new(seed: i128) -> Result<Self> {
        Ok(NumpyRandomState {
            mt: Mt::new(numpy_seed(seed)?),
        })
    }

    /// `random_sample()`: a double in [0, 1).
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        double_53(&mut self.mt)
    }

    /// The raw 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// numpy's legacy `random_interval(max)`: uniform on `[0, max]` by
    /// masking to the smallest all-ones mask ≥ max and rejecting.
    #[inline]
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let v = self.mt.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `shuffle(x)` for a 1-d array: Fisher–Yates from the last index down,
    /// swapping `i` with `interval(i)`.
    ///
    /// The draws are worked out a block of words at a time before their
    /// swaps: a word that `interval` rejects is simply one that does not
    /// move `i` on, so the loop carries no branch to mispredict (one word in
    /// four is rejected, at random). The words used are exactly
    /// `interval`'s, the stream is left where it leaves it.
    pub fn shuffle<T>(&mut self, x: &mut [T]) -> Result<()> {
        if x.len() > u32::MAX as usize {
            bail!(
                "cannot shuffle {} entries compatibly with numpy (at most 2^32)",
                x.len()
            );
        }
        let Some(top) = x.len().checked_sub(1) else {
            return Ok(());
        };
        let mut i = top as u32;
        let mut drawn = [0u32; 624];
        while i > 0 {
            // Each word draws interval(i) for the current i: accepted (v <= i),
            // i moves on and the next word draws for i - 1.
            let first = i;
            let mut mask = u32::MAX >> i.leading_zeros();
            let mut k = 0;
            let mut used = 0;
            for &w in self.mt.pending() {
                used += 1;
                let v = w & mask;
                let ok = v <= i;
                // k counts the words accepted before this one: k < used <= 624.
                drawn[k] = v;
                k += ok as usize;
                i -= ok as u32;
                if i <= mask >> 1 {
                    if i == 0 {
                        break;
                    }
                    mask >>= 1;
                }
            }
            self.mt.advance(used);
            for (d, &j) in drawn[..k].iter().enumerate() {
                x.swap(first as usize - d, j as usize);
            }
        }
        Ok(())
    }
}

/// Attempts of the polar method per block of MT words (four words each).
const ATTEMPTS: usize = 156;

/// The normals of `np.random.RandomState(seed)` when nothing else is drawn
/// from it (`RandomState(seed).normal(1, .2, (n, n))`, as the notebook
/// does): numpy's legacy polar Box–Muller method, which draws four words per
/// attempt, keeps the pairs inside the unit circle, and hands out the
/// second normal of a pair on the next call — the order matters for
/// bit-exact streams.
///
/// A block of 624 words is exactly 156 attempts, so the stream runs a block
/// at a time: every attempt of a block is worked out in one loop and the
/// accepted pairs kept in order. Skipping normals ([`skip`](Self::skip)) then
/// costs nothing per normal beyond drawing its block — most of a sparse
/// network's draws are discarded.
pub struct NumpyNormals {
    mt: Mt,
    /// The accepted pairs (x1, x2, r²) of the current block, in order: the
    /// first `len`.
    pairs: [[f64; 3]; ATTEMPTS],
    len: usize,
    /// The next pair to use.
    next: usize,
    /// The second normal of the last pair, kept as (x1, r²) and evaluated
    /// only if used (numpy keeps `f · x1`; the same f gives the same bits).
    cached: Option<(f64, f64)>,
}

/// The polar method's factor `sqrt(−2 ln r² / r²)`, in numpy's operation order.
#[inline]
fn polar_factor(r2: f64) -> f64 {
    (-2.0 * r2.ln() / r2).sqrt()
}

impl NumpyNormals {
    /// The normal stream of `RandomState(seed)`.
    pub fn new(seed: i128) -> Result<Self> {
        Ok(NumpyNormals {
            mt: Mt::new(numpy_seed(seed)?),
            pairs: [[0.0; 3]; ATTEMPTS],
            len: 0,
            next: 0,
            cached: None,
        })
    }

    /// The accepted pairs of the next block of attempts.
    fn refill(&mut self) {
        let words = self.mt.next_block();
        // Every attempt is written, and kept by moving on (no branch to
        // mispredict on the one rejection in five).
        let mut len = 0;
        for w in words.chunks_exact(4) {
            let x1 = 2.0 * from_words(w[0], w[1]) - 1.0;
            let x2 = 2.0 * from_words(w[2], w[3]) - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            self.pairs[len] = [x1, x2, r2];
            len += (r2 < 1.0 && r2 != 0.0) as usize;
        }
        self.len = len;
        self.next = 0;
    }

    /// The next accepted pair (x1, x2, r²).
    #[inline]
    fn pair(&mut self) -> [f64; 3] {
        while self.next == self.len {
            self.refill();
        }
        self.next += 1;
        self.pairs[self.next - 1]
    }

    /// `standard_normal()`.
    #[inline]
    pub fn gauss(&mut self) -> f64 {
        if let Some((x1, r2)) = self.cached.take() {
            return polar_factor(r2) * x1;
        }
        let [x1, x2, r2] = self.pair();
        self.cached = Some((x1, r2));
        polar_factor(r2) * x2
    }

    /// `normal(loc, scale)`.
    #[inline]
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
    }

    /// Advance the stream exactly as [`gauss`](Self::gauss) would, without
    /// computing the value (the logarithm is the expensive part).
    #[inline]
    pub fn skip_gauss(&mut self) {
        if self.cached.take().is_none() {
            let [x1, _, r2] = self.pair();
            self.cached = Some((x1, r2));
        }
    }

    /// Advance the stream as `k` calls of [`gauss`](Self::gauss) would.
    pub fn skip(&mut self, mut k: usize) {
        if k > 0 && self.cached.take().is_some() {
            k -= 1;
        }
        // Whole pairs, then half of one if k is odd.
        let mut pairs = k / 2;
        while pairs > 0 {
            if self.next == self.len {
                self.refill();
                continue;
            }
            let t = pairs.min(self.len - self.next);
            self.next += t;
            pairs -= t;
        }
        if k % 2 == 1 {
            self.skip_gauss();
        }
    }
}

/// A fast seeded generator for large networks (`network.rng = "fast"`):
/// xoshiro256++ seeded through splitmix64. Not notebook-compatible.
#[derive(Clone)]
pub struct FastRng {
    s: [u64; 4],
    gauss: Option<f64>,
}

impl FastRng {
    /// A generator for `seed` and a stream label, so that independent uses of
    /// one seed (mask, weights, a null model) never share a stream.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut z = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut s = [0u64; 4];
        for v in &mut s {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *v = x ^ (x >> 31);
        }
        FastRng { s, gauss: None }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A double in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform integer on `[0, n)` (Lemire's multiply-shift with rejection).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let lo = m as u64;
            if lo >= n.wrapping_neg() % n.max(1) || n == 0 {
                return (m >> 64) as u64;
            }
        }
    }

    /// A standard normal (polar method).
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.uniform() - 1.0;
            let x2 = 2.0 * self.uniform() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }
}
