//! Random streams compatible with Python's `random` and numpy's legacy
//! `RandomState`, so that a seed gives the notebook's masks, weights and
//! permutations bit for bit.
//!
//! Both libraries sit on MT19937 (here from `rand_mt`); what differs is the
//! seeding and the few lines that turn 32-bit outputs into doubles, normals
//! and bounded integers. Those lines are copied in behaviour (not in code)
//! from CPython's `_randommodule.c` and numpy's `legacy-distributions.c` /
//! `randomkit`, and checked against streams produced by Python in the tests.

use rand_mt::Mt;

use crate::{bail, Result};

/// The 53-bit double both Python and numpy build from two 32-bit outputs.
#[inline]
fn double_53(mt: &mut Mt) -> f64 {
    let a = mt.next_u32() >> 5;
    let b = mt.next_u32() >> 6;
    (a as f64 * 67_108_864.0 + b as f64) * (1.0 / 9_007_199_254_740_992.0)
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
            mt: Mt::new_with_key(key),
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
}

/// The polar method's factor `sqrt(−2 ln r² / r²)`, in numpy's operation order.
#[inline]
fn polar_factor(r2: f64) -> f64 {
    (-2.0 * r2.ln() / r2).sqrt()
}

/// numpy's legacy `np.random.RandomState(seed)`: MT19937 seeded by
/// `init_genrand(seed)`, with the legacy polar normal and shuffle.
pub struct NumpyRandomState {
    mt: Mt,
    /// The second normal of the last pair, kept as (x1, r²) and evaluated
    /// only if used (numpy keeps `f · x1`; the same f gives the same bits).
    gauss: Option<(f64, f64)>,
}

impl NumpyRandomState {
    /// `RandomState(seed)`; numpy accepts only 0 ≤ seed < 2³², and so do we.
    pub fn new(seed: i128) -> Result<Self> {
        if !(0..(1i128 << 32)).contains(&seed) {
            bail!(
                "seed {seed}: numpy's RandomState (and notebook mode) needs 0 <= seed < 2^32; \
                 use network.rng = \"fast\" for other seeds"
            );
        }
        Ok(NumpyRandomState {
            mt: Mt::new(seed as u32),
            gauss: None,
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

    /// `standard_normal()` by the legacy polar Box–Muller method, which
    /// produces normals in pairs and hands out the second one on the next
    /// call: the order matters for bit-exact streams.
    pub fn gauss(&mut self) -> f64 {
        if let Some((x1, r2)) = self.gauss.take() {
            return polar_factor(r2) * x1;
        }
        let (x1, x2, r2) = self.polar_pair();
        self.gauss = Some((x1, r2));
        polar_factor(r2) * x2
    }

    /// Advance the stream exactly as [`gauss`](Self::gauss) would, without
    /// computing the value: most draws of a sparse network are discarded,
    /// and the logarithm is the expensive part.
    pub fn skip_gauss(&mut self) {
        if self.gauss.take().is_none() {
            let (x1, _, r2) = self.polar_pair();
            self.gauss = Some((x1, r2));
        }
    }

    /// One accepted pair of the polar method: (x1, x2, r²).
    #[inline]
    fn polar_pair(&mut self) -> (f64, f64, f64) {
        loop {
            let x1 = 2.0 * double_53(&mut self.mt) - 1.0;
            let x2 = 2.0 * double_53(&mut self.mt) - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                return (x1, x2, r2);
            }
        }
    }

    /// `normal(loc, scale)`.
    #[inline]
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
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

    /// `shuffle(x)` for a 1-d array: Fisher–Yates from the last index down.
    pub fn shuffle<T>(&mut self, x: &mut [T]) -> Result<()> {
        if x.len() > u32::MAX as usize {
            bail!(
                "cannot shuffle {} entries compatibly with numpy (at most 2^32)",
                x.len()
            );
        }
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u32) as usize;
            x.swap(i, j);
        }
        Ok(())
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
