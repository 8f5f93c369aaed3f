//! (a) The multi-lane sparse mat-vec kernels: `out = M · r` for a block
//! `M` (CSR) and several rate vectors ("lanes") stored lane-minor
//! (`r[column · width + lane]`), so that one load of a weight serves every
//! lane that shares it. No model meaning lives here: blocks, lanes, the
//! canonical summation order ([`CanonicalSum`]) and the choice of
//! instruction set. Benchmarked alone in `benches/kernels.rs`.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::matrix::Csr;

/// The order in which every kernel sums a row's dot product, whatever its
/// lanes, instruction set or batch: entry `p` of the row (in the row's
/// stored order) goes into accumulator `p mod 4`, the last one to three
/// entries too, and the accumulators are combined as
/// `(a0 + a2) + (a1 + a3)`. Zero terms past a row's end change nothing in
/// this order (an accumulator starts at +0 and is never −0), which is what
/// nested blocks rely on. Results therefore never depend on thread count,
/// shard split or batch shape. This type is the reference implementation
/// that the tests hold every kernel to.
#[derive(Debug, Clone, Copy, Default)]
pub struct CanonicalSum {
    acc: [f64; 4],
    len: usize,
}

impl CanonicalSum {
    /// Add the next term of the row.
    #[inline(always)]
    pub fn add(&mut self, term: f64) {
        self.acc[self.len % 4] += term;
        self.len += 1;
    }

    /// The row's sum.
    #[inline(always)]
    pub fn total(&self) -> f64 {
        (self.acc[0] + self.acc[2]) + (self.acc[1] + self.acc[3])
    }

    /// `Σ values[p] · x[columns[p]]` in the canonical order.
    pub fn dot(columns: &[u32], values: &[f64], x: &[f64]) -> f64 {
        let mut s = CanonicalSum::default();
        for (&j, &v) in columns.iter().zip(values) {
            s.add(v * x[j as usize]);
        }
        s.total()
    }
}

/// `out[i][lane]` = row `i` of `m` · column `lane` of `r`, for `K` adjacent
/// lanes starting at `off`; `r` and `out` hold `width` lanes per row. With
/// `PER_LANE` the block's weights are its per-lane values (`C` per entry,
/// see [`Block::nested`]), else one weight per entry shared by the lanes.
///
/// The hot loop of every simulation. Indices are checked once per batch (see
/// [`Block::new`]), so the loop reads without bounds checks.
#[inline(always)]
// Index loops keep the accumulation order explicit (it defines the bits).
#[allow(clippy::needless_range_loop)]
fn rows_times_lanes<const K: usize, const C: usize, const PER_LANE: bool>(
    b: &Block,
    rows: Range<usize>,
    r: &[f64],
    width: usize,
    off: usize,
    out: &mut [f64],
) {
    let m = &*b.m;
    let pos = b.positions();
    // C ≥ K lanes are computed, K stored: three lanes of a four-lane layout
    // run as four in one register, the fourth thrown away.
    assert!(C >= K);
    b.check(&rows, r, width, off + C, out);
    let vals = b.values(C, PER_LANE);
    let rp = r.as_ptr();
    let first = rows.start;
    for i in rows {
        let (lo, hi) = (m.indptr[i], m.indptr[i + 1]);
        let mut acc = [[0.0f64; C]; 4];
        for p in lo..hi {
            // SAFETY: p < indptr[n_rows] <= pos.len(), and vals holds C per
            // entry if PER_LANE, else one (Block::new, Block::values);
            // pos[p] = column · width with column < n_cols (checked by
            // Block::new), so base + C <= n_cols · width <= r.len().
            unsafe {
                let base = *pos.get_unchecked(p) as usize + off;
                for b in 0..C {
                    let w = if PER_LANE {
                        *vals.get_unchecked(p * C + b)
                    } else {
                        *vals.get_unchecked(p)
                    };
                    acc[(p - lo) % 4][b] += w * *rp.add(base + b);
                }
            }
        }
        let o = &mut out[(i - first) * width + off..(i - first) * width + off + K];
        for b in 0..K {
            o[b] = (acc[0][b] + acc[2][b]) + (acc[1][b] + acc[3][b]);
        }
    }
}

/// What the hand-written kernels share: each walks its rows with raw
/// pointers — the row's positions and weights, and the output row — moved
/// on as it goes, so that the loop around a row keeps nothing in memory
/// and checks nothing (the checks are made once per call: [`Block::new`],
/// [`Block::check`], [`Block::values`]). Rows here hold about twenty
/// entries: the work around a row (bounds checks, offsets worked out
/// afresh, spilled registers) cost as much as a fifth of the time
/// (measured on one E–E block: 0.65–0.82 → 0.46–0.62 ns per entry).
#[cfg(target_arch = "x86_64")]
struct Walk {
    /// The next row's end (`indptr`).
    bounds: *const usize,
    /// The next row's start.
    lo: usize,
    /// The first entry's position (`column · width`).
    pos: *const u32,
    /// The first entry's weight(s).
    weights: *const f64,
    /// Weights per entry.
    c: usize,
    /// Rates from the first lane of the window.
    rates: *const f64,
    /// The next row's output, first lane of the window.
    out: *mut f64,
    /// Rates (and outputs) per row.
    width: usize,
}

#[cfg(target_arch = "x86_64")]
impl Walk {
    /// The walk over `rows` for the lanes of `window` (`c` weights per
    /// entry), after asserting what the kernels' unchecked reads rely on
    /// ([`Block::check`], [`Block::values`]). The pointers are only made
    /// here (wrapping: nothing is read through them for empty `rows`).
    #[inline(always)]
    fn new(
        b: &Block,
        rows: &Range<usize>,
        r: &[f64],
        width: usize,
        window: Range<usize>,
        c: usize,
        out: &mut [f64],
    ) -> Walk {
        b.check(rows, r, width, window.end, out);
        Walk {
            bounds: b.m.indptr[rows.start + 1..].as_ptr(),
            lo: b.m.indptr[rows.start],
            pos: b.positions().as_ptr(),
            weights: b.values(c, c > 1).as_ptr(),
            c,
            rates: r.as_ptr().wrapping_add(window.start),
            out: out.as_mut_ptr().wrapping_add(window.start),
            width,
        }
    }

    /// The next row: its first entry's position and weight(s), its number
    /// of entries, its output. The row's start is carried over from the
    /// last one's end (read once per row, not twice: measured, a row
    /// index recomputing both made the one-lane kernel 8% slower).
    ///
    /// # Safety
    /// At most as many calls as the walk has rows; the pointers are then
    /// within the block's arrays and `out` (asserted in [`Walk::new`]).
    #[inline(always)]
    unsafe fn next_row(&mut self) -> (*const u32, *const f64, usize, *mut f64) {
        let (lo, hi) = (self.lo, *self.bounds);
        let o = self.out;
        self.bounds = self.bounds.add(1);
        self.lo = hi;
        self.out = self.out.wrapping_add(self.width);
        (self.pos.add(lo), self.weights.add(lo * self.c), hi - lo, o)
    }
}

/// [`rows_times_lanes`] for one lane, by hand: entries four at a time, their
/// rates gathered into one register and multiplied by four weights loaded at
/// once, so that accumulator lane k sums entries p ≡ k (mod 4) in order —
/// the canonical order, bit for bit — with fewer loads than the compiler's
/// version (one lane is the common case: random blocks of a run alone,
/// shuffled E–E blocks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn one_lane_avx2(b: &Block, rows: Range<usize>, r: &[f64], width: usize, off: usize, out: &mut [f64]) {
    use std::arch::x86_64::*;
    let mut w = Walk::new(b, &rows, r, width, off..off + 1, 1, out);
    let rp = w.rates;
    for _ in rows {
        // SAFETY: the row's entries are within the positions and weights,
        // every position is column · width with column < n_cols, so
        // position + off < n_cols · width <= r.len() (Walk::new).
        let (mut idx, mut val, len, o) = w.next_row();
        let end = idx.add(len & !3);
        let mut acc = _mm256_setzero_pd();
        while idx < end {
            let a = idx.cast::<u64>().read_unaligned();
            let z = idx.add(2).cast::<u64>().read_unaligned();
            let x01 = _mm_loadh_pd(_mm_load_sd(rp.add(a as u32 as usize)), rp.add((a >> 32) as usize));
            let x23 = _mm_loadh_pd(_mm_load_sd(rp.add(z as u32 as usize)), rp.add((z >> 32) as usize));
            let x = _mm256_set_m128d(x23, x01);
            acc = _mm256_add_pd(acc, _mm256_mul_pd(_mm256_loadu_pd(val), x));
            idx = idx.add(4);
            val = val.add(4);
        }
        // The last one to three entries go into accumulators 0, 1, 2 as
        // well, added to the halves (acc0, acc1) and (acc2, acc3) before
        // they are combined: (acc0 + acc2) + (acc1 + acc3).
        let mut lo_half = _mm256_castpd256_pd128(acc);
        let mut hi_half = _mm256_extractf128_pd(acc, 1);
        let x = |k: usize| rp.add(*idx.add(k) as usize);
        let tail = len & 3;
        if tail == 1 {
            lo_half = _mm_add_pd(lo_half, _mm_mul_pd(_mm_load_sd(val), _mm_load_sd(x(0))));
        } else if tail > 1 {
            let x01 = _mm_loadh_pd(_mm_load_sd(x(0)), x(1));
            lo_half = _mm_add_pd(lo_half, _mm_mul_pd(_mm_loadu_pd(val), x01));
            if tail == 3 {
                hi_half = _mm_add_pd(hi_half, _mm_mul_pd(_mm_load_sd(val.add(2)), _mm_load_sd(x(2))));
            }
        }
        let s = _mm_add_pd(lo_half, hi_half);
        *o = _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s));
    }
}

/// [`rows_times_lanes`] for the four lanes from `off` (storing those set in
/// the bit mask `keep`), by hand: one register of rates per entry, four
/// accumulator registers for entries p ≡ 0..3 (mod 4) — the canonical order,
/// bit for bit — and fewer instructions per entry than the compiler's
/// version. The positions of a chunk of four are read as two u64 loads
/// (little-endian: the first in the low half) rather than four u32 ones: the
/// batched kernels are bound by loads per entry (measured: 5–7% on the
/// kernel bench's multi-lane cases).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn four_lanes_avx2<const PER_LANE: bool>(
    b: &Block,
    rows: Range<usize>,
    r: &[f64],
    width: usize,
    off: usize,
    keep: u8,
    out: &mut [f64],
) {
    // The store is chosen once per call, not per row.
    if keep == 0b1111 {
        four_lanes::<PER_LANE, true>(b, rows, r, width, off, keep, out)
    } else {
        four_lanes::<PER_LANE, false>(b, rows, r, width, off, keep, out)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn four_lanes<const PER_LANE: bool, const ALL: bool>(
    b: &Block,
    rows: Range<usize>,
    r: &[f64],
    width: usize,
    off: usize,
    keep: u8,
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    let c = if PER_LANE { 4 } else { 1 };
    let mut w = Walk::new(b, &rows, r, width, off..off + 4, c, out);
    let rp = w.rates;
    for _ in rows {
        // SAFETY: as in one_lane_avx2, with position + off + 4 <= r.len()
        // and four lanes of output from o.
        let (mut idx, mut val, len, o) = w.next_row();
        let end = idx.add(len & !3);
        let term = |val: *const f64, q: usize, at: usize| {
            let wt = if PER_LANE {
                _mm256_loadu_pd(val.add(q * 4))
            } else {
                _mm256_broadcast_sd(&*val.add(q))
            };
            _mm256_mul_pd(wt, _mm256_loadu_pd(rp.add(at)))
        };
        let z = _mm256_setzero_pd();
        let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
        while idx < end {
            let x = idx.cast::<u64>().read_unaligned();
            let y = idx.add(2).cast::<u64>().read_unaligned();
            a0 = _mm256_add_pd(a0, term(val, 0, x as u32 as usize));
            a1 = _mm256_add_pd(a1, term(val, 1, (x >> 32) as usize));
            a2 = _mm256_add_pd(a2, term(val, 2, y as u32 as usize));
            a3 = _mm256_add_pd(a3, term(val, 3, (y >> 32) as usize));
            idx = idx.add(4);
            val = val.add(4 * c);
        }
        // The last one to three entries go into accumulators 0, 1, 2 too.
        let tail = len & 3;
        if tail > 0 {
            a0 = _mm256_add_pd(a0, term(val, 0, *idx as usize));
            if tail > 1 {
                a1 = _mm256_add_pd(a1, term(val, 1, *idx.add(1) as usize));
                if tail > 2 {
                    a2 = _mm256_add_pd(a2, term(val, 2, *idx.add(2) as usize));
                }
            }
        }
        let s = _mm256_add_pd(_mm256_add_pd(a0, a2), _mm256_add_pd(a1, a3));
        if ALL {
            _mm256_storeu_pd(o, s);
        } else {
            let mut v = [0.0f64; 4];
            _mm256_storeu_pd(v.as_mut_ptr(), s);
            for (l, &x) in v.iter().enumerate() {
                if keep & (1 << l) != 0 {
                    *o.add(l) = x;
                }
            }
        }
    }
}

/// [`four_lanes_avx2`] for two adjacent lanes, two entries per full
/// register: `a01` holds accumulators 0 and 1 of both lanes, `a23`
/// accumulators 2 and 3, so that entry p still goes into accumulator p mod 4
/// and the row sum is (a0 + a2) + (a1 + a3) — the canonical order, bit for
/// bit — with half the arithmetic instructions of half registers. A missing
/// term of the last chunk is +0, which leaves an accumulator as it is (an
/// accumulator is never −0: it starts at +0 and rounds to nearest).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn two_lanes_avx2<const PER_LANE: bool>(
    b: &Block,
    rows: Range<usize>,
    r: &[f64],
    width: usize,
    off: usize,
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    let c = if PER_LANE { 2 } else { 1 };
    let mut w = Walk::new(b, &rows, r, width, off..off + 2, c, out);
    let rp = w.rates;
    // Weights of entries q and q + 1 from val, lanes 0 and 1.
    let w2 = |val: *const f64| {
        if PER_LANE {
            _mm256_loadu_pd(val)
        } else {
            _mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(val)), 0x50)
        }
    };
    let r2 = |a: usize, b: usize| {
        _mm256_insertf128_pd(
            _mm256_castpd128_pd256(_mm_loadu_pd(rp.add(a))),
            _mm_loadu_pd(rp.add(b)),
            1,
        )
    };
    // The entry at val alone, in the low half (accumulator 0 or 2).
    let one = |val: *const f64, at: usize| {
        let wt = if PER_LANE { _mm_loadu_pd(val) } else { _mm_load1_pd(val) };
        _mm256_zextpd128_pd256(_mm_mul_pd(wt, _mm_loadu_pd(rp.add(at))))
    };
    for _ in rows {
        // SAFETY: as in four_lanes, with position + off + 2 <= r.len();
        // pairs of entries (q, q + 1) are read only where both lie in the row.
        let (mut idx, mut val, len, o) = w.next_row();
        let end = idx.add(len & !3);
        let mut a01 = _mm256_setzero_pd();
        let mut a23 = _mm256_setzero_pd();
        while idx < end {
            let x = idx.cast::<u64>().read_unaligned();
            let y = idx.add(2).cast::<u64>().read_unaligned();
            a01 = _mm256_add_pd(a01, _mm256_mul_pd(w2(val), r2(x as u32 as usize, (x >> 32) as usize)));
            a23 = _mm256_add_pd(
                a23,
                _mm256_mul_pd(w2(val.add(2 * c)), r2(y as u32 as usize, (y >> 32) as usize)),
            );
            idx = idx.add(4);
            val = val.add(4 * c);
        }
        match len & 3 {
            1 => a01 = _mm256_add_pd(a01, one(val, *idx as usize)),
            t @ (2 | 3) => {
                let x = idx.cast::<u64>().read_unaligned();
                a01 = _mm256_add_pd(a01, _mm256_mul_pd(w2(val), r2(x as u32 as usize, (x >> 32) as usize)));
                if t == 3 {
                    a23 = _mm256_add_pd(a23, one(val.add(2 * c), *idx.add(2) as usize));
                }
            }
            _ => {}
        }
        let s = _mm256_add_pd(a01, a23);
        _mm_storeu_pd(o, _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1)));
    }
}

/// Blocks with more entries than this are split over rows across threads
/// (large networks); smaller ones run on the calling thread, which is already
/// one of many running batches.
pub(crate) const PARALLEL_ENTRIES: usize = 1 << 20;

/// `out = M · r` for the block's lanes (`r` and `out` lane-minor with
/// `width` lanes per row), on the CPU's best instruction set: the public
/// entry to the kernels (benchmarks, other engines).
pub fn product(b: &Block, r: &[f64], width: usize, out: &mut [f64]) {
    apply(b, r, width, out, has_avx2());
}

/// Apply `m` to the given lanes (sorted), adjacent lanes four at a time.
pub(crate) fn apply(b: &Block, r: &[f64], width: usize, out: &mut [f64], avx2: bool) {
    let m = &*b.m;
    if m.nnz() > PARALLEL_ENTRIES && rayon::current_num_threads() > 1 {
        // Rows are independent: any split gives the same bits.
        let chunk = m.n_rows.div_ceil(rayon::current_num_threads() * 8).max(1);
        out[..m.n_rows * width]
            .par_chunks_mut(chunk * width)
            .enumerate()
            .for_each(|(c, o)| {
                let rows = c * chunk..((c + 1) * chunk).min(m.n_rows);
                apply_rows(b, rows, r, width, o, avx2);
            });
    } else {
        apply_rows(b, 0..m.n_rows, r, width, out, avx2);
    }
}

pub(crate) fn apply_rows(b: &Block, rows: Range<usize>, r: &[f64], width: usize, out: &mut [f64], avx2: bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: the CPU has AVX2 (checked at run time).
        return unsafe { apply_rows_avx2(b, rows, r, width, out) };
    }
    let _ = avx2;
    apply_rows_generic::<false>(b, rows, r, width, out);
}

/// The same code compiled for AVX2: four lanes fill one register. Only
/// instruction selection changes, never the order of operations, so the
/// bits are those of the generic build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn apply_rows_avx2(b: &Block, rows: Range<usize>, r: &[f64], width: usize, out: &mut [f64]) {
    apply_rows_generic::<true>(b, rows, r, width, out);
}

#[inline(always)]
fn apply_rows_generic<const AVX2: bool>(b: &Block, rows: Range<usize>, r: &[f64], width: usize, out: &mut [f64]) {
    let lanes = &b.lanes;
    if b.per_lane.is_some() {
        // A nested block: adjacent lanes with their own weights (Block::nested).
        let off = lanes[0];
        return match lanes.len() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is only set where the CPU has it (see apply_rows).
            4 if AVX2 => unsafe { four_lanes_avx2::<true>(b, rows, r, width, off, 0b1111, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above; Block::nested made sure that off + 4 <= width.
            3 if AVX2 => unsafe { four_lanes_avx2::<true>(b, rows, r, width, off, 0b0111, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            2 if AVX2 => unsafe { two_lanes_avx2::<true>(b, rows, r, width, off, out) },
            4 => rows_times_lanes::<4, 4, true>(b, rows, r, width, off, out),
            3 => rows_times_lanes::<3, 4, true>(b, rows, r, width, off, out),
            _ => rows_times_lanes::<2, 2, true>(b, rows, r, width, off, out),
        };
    }
    // Lanes a register window at a time: the lanes among off..off + 4. With
    // AVX2 and a window inside the layout, lanes with gaps ({0, 2}: the
    // observed runs of two seeds batched as [a.observed, a.shuffled,
    // b.observed, b.shuffled]) run as one four-lane pass that stores only
    // theirs — every lane of a register is computed on its own, so the bits
    // are each lane's alone, and one full pass costs less than a one-lane
    // pass per lane. Otherwise a window holds adjacent lanes only.
    let mut k = 0;
    while k < lanes.len() {
        let off = lanes[k];
        let masked = AVX2 && off + 4 <= width;
        let mut n = 1;
        while k + n < lanes.len() && lanes[k + n] < off + 4 && (masked || lanes[k + n] == off + n) {
            n += 1;
        }
        let keep = lanes[k..k + n].iter().fold(0u8, |m, &l| m | 1 << (l - off));
        let rows = rows.clone();
        match keep {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is only set where the CPU has it (see apply_rows).
            0b0001 if AVX2 => unsafe { one_lane_avx2(b, rows, r, width, off, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            0b0011 if AVX2 => unsafe { two_lanes_avx2::<false>(b, rows, r, width, off, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above; off + 4 <= width.
            _ if masked => unsafe { four_lanes_avx2::<false>(b, rows, r, width, off, keep, out) },
            0b1111 => rows_times_lanes::<4, 4, false>(b, rows, r, width, off, out),
            0b0111 if off + 4 <= width => rows_times_lanes::<3, 4, false>(b, rows, r, width, off, out),
            0b0111 => rows_times_lanes::<3, 3, false>(b, rows, r, width, off, out),
            0b0011 => rows_times_lanes::<2, 2, false>(b, rows, r, width, off, out),
            _ => rows_times_lanes::<1, 1, false>(b, rows, r, width, off, out),
        }
        k += n;
    }
}

/// Whether the CPU has AVX2 (checked once per call site, at run time).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A cache line of rates.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f64; 8]);

/// Zeroed f64s from a 64-byte boundary (a cache line). The four-lane
/// kernels load a neuron's four rates as one 32-byte vector: from a base
/// 8–24 bytes past a line boundary, as the allocator may place a plain
/// `Vec<f64>`, every other load straddles two lines and costs two. Measured
/// on one E–E block: 0.46 ns per entry aligned, 0.54–0.65 off by 8–24 bytes.
pub struct Lines {
    lines: Vec<Line>,
    len: usize,
}

impl Lines {
    /// `len` zeros from a cache-line boundary.
    pub fn zeroed(len: usize) -> Lines {
        Lines {
            lines: vec![Line([0.0; 8]); len.div_ceil(8)],
            len,
        }
    }
}

impl std::ops::Deref for Lines {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        // SAFETY: a Line is eight f64s without padding (repr(C), size 64),
        // so the lines are len.div_ceil(8) · 8 >= len contiguous f64s.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl std::ops::DerefMut for Lines {
    fn deref_mut(&mut self) -> &mut [f64] {
        // SAFETY: as in deref.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

/// A block and the (active) lanes that use it, with each entry's position
/// in the lane-minor rate array (`column · width`) worked out once per
/// layout rather than in the hot loop.
pub struct Block {
    pub(crate) m: Arc<Csr>,
    pub(crate) lanes: Vec<usize>,
    /// `column · width` per entry; `None` when width is 1 (the columns themselves).
    scaled: Option<Vec<u32>>,
    /// A nested block's weights (see [`Block::nested`]): per entry of `m`,
    /// one per lane of a register (2 or 4), zero past a lane's own row.
    per_lane: Option<Vec<f64>>,
}

impl Block {
    /// The block `m` (at most `n` columns) for `lanes` (sorted) of a layout
    /// of `width` lanes per row.
    pub fn new(m: Arc<Csr>, lanes: Vec<usize>, n: usize, width: usize) -> Block {
        // The kernels read without bounds checks: every row's entries must lie
        // within the arrays, and every column index must be in range.
        assert!(m.indptr.len() == m.n_rows + 1 && m.indptr.windows(2).all(|w| w[0] <= w[1]));
        assert!(m.indptr[m.n_rows] <= m.values.len() && m.values.len() == m.indices.len());
        assert!(m.n_cols <= n && m.indices.iter().all(|&j| (j as usize) < m.n_cols));
        assert!(
            m.n_cols.saturating_mul(width) <= u32::MAX as usize,
            "rates array too large for u32 positions"
        );
        let scaled = (width > 1).then(|| m.indices.iter().map(|&j| j * width as u32).collect());
        Block {
            m,
            lanes,
            scaled,
            per_lane: None,
        }
    }

    /// One block for several matrices whose rows are nested: in every row,
    /// each matrix's columns are a prefix of the longest one's (the random
    /// blocks of one seed at several connection probabilities, see
    /// [`crate::network::build::RandomParts`]). Their lanes run as lanes of
    /// one block over the longest rows, each with its own weights and zeros
    /// past its own row. A zero term leaves an accumulator as it was (`x +
    /// (±0) = x` for finite rates; the batched engine leaves nesting once a
    /// lane's rates are not finite), and a prefix keeps each entry
    /// in the accumulator it has alone, so every lane gets exactly the bits
    /// of its own matrix. `None` unless the matrices nest and their lanes are
    /// 2 to 4 adjacent ones that fit one register.
    pub fn nested(groups: &[(Arc<Csr>, Vec<usize>)], n: usize, width: usize) -> Option<Block> {
        let mut lanes: Vec<(usize, &Csr)> = groups
            .iter()
            .flat_map(|(m, l)| l.iter().map(move |&b| (b, &**m)))
            .collect();
        lanes.sort_by_key(|&(b, _)| b);
        let off = lanes.first()?.0;
        let k = lanes.len();
        let c = if k == 2 { 2 } else { 4 };
        let adjacent = lanes.iter().enumerate().all(|(i, &(b, _))| b == off + i);
        if !(2..=4).contains(&k) || !adjacent || off + c > width {
            return None;
        }
        let first = lanes[0].1;
        let (rows, cols) = (first.n_rows, first.n_cols);
        if lanes
            .iter()
            .any(|(_, m)| m.n_rows != rows || m.n_cols != cols || m.indptr.len() != rows + 1)
        {
            return None;
        }
        let row = |m: &Csr, i: usize| m.indptr[i]..m.indptr[i + 1];
        let mut union = Csr {
            n_rows: rows,
            n_cols: cols,
            indptr: vec![0],
            ..Default::default()
        };
        let mut per_lane = Vec::new();
        for i in 0..rows {
            let (_, longest) = *lanes.iter().max_by_key(|(_, m)| row(m, i).len())?;
            let all = &longest.indices[row(longest, i)];
            if lanes.iter().any(|(_, m)| !all.starts_with(&m.indices[row(m, i)])) {
                return None;
            }
            union.indices.extend_from_slice(all);
            union.values.extend_from_slice(&longest.values[row(longest, i)]);
            union.indptr.push(union.indices.len());
            for q in 0..all.len() {
                for s in 0..c {
                    let w = lanes.get(s).map_or(0.0, |(_, m)| {
                        let r = row(m, i);
                        if q < r.len() {
                            m.values[r.start + q]
                        } else {
                            0.0
                        }
                    });
                    per_lane.push(w);
                }
            }
        }
        let mut b = Block::new(Arc::new(union), lanes.iter().map(|&(b, _)| b).collect(), n, width);
        b.per_lane = Some(per_lane);
        Some(b)
    }

    fn positions(&self) -> &[u32] {
        self.scaled.as_deref().unwrap_or(&self.m.indices)
    }

    /// The weights a kernel reads: `c` per entry for a nested block, else
    /// the matrix's own; checked to cover every entry.
    #[inline]
    fn values(&self, c: usize, per_lane: bool) -> &[f64] {
        let entries = self.m.indptr[self.m.n_rows];
        match (&self.per_lane, per_lane) {
            (Some(v), true) => {
                assert!(v.len() >= entries * c);
                v
            }
            (None, false) => &self.m.values,
            _ => panic!("kernel and block disagree on per-lane weights"),
        }
    }

    /// What every kernel's unchecked reads rely on besides Block::new's
    /// checks: lanes up to `lanes_end` fit the layout, `r` holds every
    /// column's lanes, `out` every row of `rows`.
    #[inline]
    fn check(&self, rows: &Range<usize>, r: &[f64], width: usize, lanes_end: usize, out: &[f64]) {
        let m = &*self.m;
        assert!(lanes_end <= width && r.len() >= m.n_cols * width);
        assert!(out.len() >= rows.len() * width && rows.end <= m.n_rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random sparse matrix with rows of 0 to ~40 entries.
    fn matrix(n_rows: usize, n_cols: usize, seed: u64) -> Csr {
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s >> 33
        };
        let mut t = Vec::new();
        for i in 0..n_rows {
            let len = next() as usize % 41;
            let mut cols: Vec<usize> = (0..len).map(|_| next() as usize % n_cols).collect();
            cols.sort_unstable();
            cols.dedup();
            for j in cols {
                t.push((i, j, (next() as f64 / 1e9) - 1.0));
            }
        }
        Csr::from_sorted_triplets(n_rows, n_cols, t)
    }

    #[test]
    fn rates_start_on_a_cache_line() {
        for len in [0, 1, 7, 8, 9, 444 * 4, 444 * 3] {
            let mut l = Lines::zeroed(len);
            assert_eq!(l.len(), len);
            assert_eq!(l.as_ptr() as usize % 64, 0, "{len} rates");
            assert!(l.iter().all(|&x| x.to_bits() == 0));
            if len > 0 {
                l[len - 1] = 2.5;
                assert_eq!(l[len - 1], 2.5);
            }
        }
    }

    #[test]
    fn every_kernel_build_gives_the_same_bits() {
        if !has_avx2() {
            return;
        }
        let n = 97;
        let m = Arc::new(matrix(n, n, 5));
        // Lane sets of one to four adjacent lanes and gaps, in layouts of several widths.
        for (width, lanes) in [
            (1, vec![0]),
            (2, vec![1]),
            (2, vec![0, 1]),
            (3, vec![0, 2]),
            (4, vec![0, 2]),
            (4, vec![0, 1, 3]),
            (5, vec![1, 4]),
            (4, vec![0, 1, 2]),
            (4, vec![0, 1, 2, 3]),
            (6, vec![0, 1, 3, 4, 5]),
        ] {
            let b = Block::new(m.clone(), lanes.clone(), n, width);
            let r: Vec<f64> = (0..n * width + 1)
                .map(|k| ((k * 7919) % 1000) as f64 / 37.0 - 9.0)
                .collect();
            let mut plain = vec![0.0; n * width];
            let mut avx = vec![0.0; n * width];
            apply(&b, &r, width, &mut plain, false);
            apply(&b, &r, width, &mut avx, true);
            for i in 0..n {
                for &l in &lanes {
                    let (x, y) = (plain[i * width + l], avx[i * width + l]);
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "width {width}, lanes {lanes:?}: row {i} lane {l}"
                    );
                }
            }
            // And both equal the canonical sum written out.
            for i in 0..n {
                for &l in &lanes {
                    let (lo, hi) = (m.indptr[i], m.indptr[i + 1]);
                    let mut s = CanonicalSum::default();
                    for p in lo..hi {
                        s.add(m.values[p] * r[m.indices[p] as usize * width + l]);
                    }
                    let o = s.total();
                    assert_eq!(o.to_bits(), plain[i * width + l].to_bits(), "canonical order, row {i}");
                }
            }
        }
    }

    /// Keep a prefix of each row of `m` (about `share` of it) with weights
    /// scaled by `scale`: how the random blocks of one seed nest over p.
    fn prefix(m: &Csr, share: f64, scale: f64) -> Csr {
        let mut t = Vec::new();
        for i in 0..m.n_rows {
            let row: Vec<(usize, f64)> = m.row(i).collect();
            let keep = (row.len() as f64 * share).round() as usize;
            t.extend(row[..keep].iter().map(|&(j, v)| (i, j, v * scale)));
        }
        Csr::from_sorted_triplets(m.n_rows, m.n_cols, t)
    }

    #[test]
    fn nested_blocks_give_each_lane_the_bits_it_has_alone() {
        let n = 97;
        let full = matrix(n, n, 11);
        for avx2 in [false, true] {
            if avx2 && !has_avx2() {
                continue;
            }
            for (width, lanes) in [
                (2, vec![0, 1]),
                (4, vec![0, 1, 2]),
                (4, vec![0, 1, 2, 3]),
                (6, vec![2, 3]),
            ] {
                let mats: Vec<Arc<Csr>> = lanes
                    .iter()
                    .enumerate()
                    .map(|(k, _)| Arc::new(prefix(&full, [0.3, 1.0, 0.6, 0.8][k], 1.0 + k as f64 / 3.0)))
                    .collect();
                let groups: Vec<(Arc<Csr>, Vec<usize>)> =
                    mats.iter().zip(&lanes).map(|(m, &l)| (m.clone(), vec![l])).collect();
                let nested = Block::nested(&groups, n, width).expect("prefixes nest");
                let r: Vec<f64> = (0..n * width)
                    .map(|k| ((k * 7919) % 1000) as f64 / 37.0 - 9.0)
                    .collect();
                let mut together = vec![0.0; n * width];
                apply(&nested, &r, width, &mut together, avx2);
                for (m, &l) in mats.iter().zip(&lanes) {
                    let alone = Block::new(m.clone(), vec![l], n, width);
                    let mut out = vec![0.0; n * width];
                    apply(&alone, &r, width, &mut out, avx2);
                    for i in 0..n {
                        let (x, y) = (out[i * width + l], together[i * width + l]);
                        assert_eq!(
                            x.to_bits(),
                            y.to_bits(),
                            "avx2 {avx2}, lanes {lanes:?}: row {i} lane {l}"
                        );
                    }
                }
            }
        }
        // Rows that do not nest, or lanes that are not adjacent, are refused.
        let a = Arc::new(prefix(&full, 0.5, 1.0));
        let shifted = Arc::new(Csr::from_sorted_triplets(
            n,
            n,
            (0..n).flat_map(|i| full.row(i).skip(1).map(move |(j, v)| (i, j, v)).collect::<Vec<_>>()),
        ));
        assert!(Block::nested(&[(a.clone(), vec![0]), (shifted, vec![1])], n, 2).is_none());
        assert!(Block::nested(&[(a.clone(), vec![0]), (Arc::new(full.clone()), vec![2])], n, 4).is_none());
    }

    /// Every lane set of layouts 1 to 16 lanes wide (all lanes, and every
    /// other one), over blocks with empty rows, one row, one neuron and no
    /// rows: both builds give the canonical sum of each row. Small, so that
    /// it runs under valgrind (`.ci/memcheck.sh`), which checks the
    /// unchecked reads and writes.
    #[test]
    fn edge_blocks_in_1_to_16_lanes_give_the_canonical_sums() {
        let sparse = |n_rows: usize, n_cols: usize, seed: u64| {
            // Rows of matrix(), every other one emptied.
            let m = matrix(n_rows, n_cols, seed);
            let t = (0..n_rows)
                .filter(|i| i % 2 == 1)
                .flat_map(|i| m.row(i).map(move |(j, v)| (i, j, v)).collect::<Vec<_>>());
            Csr::from_sorted_triplets(n_rows, n_cols, t)
        };
        let blocks = [
            (sparse(13, 29, 3), 29),
            (matrix(1, 37, 7), 37),
            (Csr::from_sorted_triplets(1, 1, vec![(0, 0, 0.75)]), 1),
            (Csr::from_sorted_triplets(1, 1, vec![]), 1),
            (Csr::from_sorted_triplets(3, 5, vec![]), 5),
            (Csr::from_sorted_triplets(0, 4, vec![]), 4),
        ];
        for (m, n) in blocks {
            let m = Arc::new(m);
            for width in 1..=16usize {
                let every_other: Vec<usize> = (0..width).step_by(2).collect();
                for lanes in [(0..width).collect::<Vec<_>>(), every_other] {
                    let b = Block::new(m.clone(), lanes.clone(), n, width);
                    let r: Vec<f64> = (0..n * width)
                        .map(|k| ((k * 7919) % 1000) as f64 / 37.0 - 9.0)
                        .collect();
                    for avx2 in [false, true] {
                        if avx2 && !has_avx2() {
                            continue;
                        }
                        let mut out = vec![f64::NAN; m.n_rows * width];
                        apply(&b, &r, width, &mut out, avx2);
                        for i in 0..m.n_rows {
                            for &l in &lanes {
                                let mut s = CanonicalSum::default();
                                for p in m.indptr[i]..m.indptr[i + 1] {
                                    s.add(m.values[p] * r[m.indices[p] as usize * width + l]);
                                }
                                assert_eq!(
                                    s.total().to_bits(),
                                    out[i * width + l].to_bits(),
                                    "{}x{} block, width {width}, lanes {lanes:?}, avx2 {avx2}: row {i} lane {l}",
                                    m.n_rows,
                                    m.n_cols
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
