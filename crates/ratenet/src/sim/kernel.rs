//! Mat-vec kernels `y = W r`: the only O(non-zeros) work of a step, kept
//! small and separate so they can be benchmarked and swapped.

use crate::matrix::Csr;
use crate::network::{Network, Weights};

/// A weight matrix laid out for repeated products with rate vectors.
#[derive(Debug, Clone)]
pub enum Kernel {
    /// Row-major dense (faer); pays when the matrix is more than about a third full.
    Dense {
        /// Size.
        n: usize,
        /// Row-major weights.
        w: Vec<f64>,
    },
    /// Compressed sparse rows with u32 column indices.
    Sparse(Csr),
}

/// How to pick the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelChoice {
    /// By density and size.
    #[default]
    Auto,
    /// Always dense.
    Dense,
    /// Always sparse.
    Sparse,
}

/// The most bytes a dense W may take (`n² · 8`): 4 GiB, n ≤ 23,170.
pub const DENSE_MAX_BYTES: u64 = 4 << 30;

/// An error unless a dense W of `n` neurons fits in [`DENSE_MAX_BYTES`],
/// naming `simulation.kernel` and the sparse alternative; checked before
/// anything of that size is allocated.
pub fn check_dense(n: usize) -> crate::Result<()> {
    let bytes = (n as u64).saturating_mul(n as u64).saturating_mul(8);
    if bytes > DENSE_MAX_BYTES {
        crate::bail!(
            "simulation.kernel = \"dense\": a network of {n} neurons needs a dense W of {:.1} GiB (n² × 8 bytes, at most {} GiB); use simulation.kernel = \"sparse\" (or \"auto\")",
            bytes as f64 / (1u64 << 30) as f64,
            DENSE_MAX_BYTES >> 30
        );
    }
    Ok(())
}

impl Kernel {
    /// Lay out a network's weights as `choice` says.
    pub fn new(net: &Network, choice: KernelChoice) -> Kernel {
        let nnz = net.nnz();
        let dense = match choice {
            KernelChoice::Dense => true,
            KernelChoice::Sparse => false,
            // A CSR entry costs about three dense ones (index, gather, no SIMD).
            KernelChoice::Auto => net.n <= 4096 && nnz * 3 > net.n * net.n,
        };
        match (&net.w, dense) {
            (Weights::Dense(d), true) => Kernel::Dense { n: net.n, w: d.clone() },
            (Weights::Sparse(s), true) => Kernel::Dense {
                n: net.n,
                w: s.to_dense(),
            },
            (Weights::Dense(d), false) => Kernel::Sparse(Csr::from_dense(net.n, net.n, d)),
            (Weights::Sparse(s), false) => Kernel::Sparse(s.clone()),
        }
    }

    /// Stored entries (all n² for dense).
    pub fn entries(&self) -> usize {
        match self {
            Kernel::Dense { n, .. } => n * n,
            Kernel::Sparse(s) => s.nnz(),
        }
    }

    /// `y = W r`.
    #[inline]
    pub fn apply(&self, r: &[f64], y: &mut [f64]) {
        match self {
            Kernel::Dense { n, w } => dense_matvec(*n, w, r, y),
            Kernel::Sparse(s) => csr_matvec(s, r, y),
        }
    }
}

/// Dense row-major mat-vec by faer (sequential: runs are already spread
/// over the cores, so the kernel must not spawn threads of its own).
pub fn dense_matvec(n: usize, w: &[f64], r: &[f64], y: &mut [f64]) {
    let a = faer::MatRef::from_row_major_slice(&w[..n * n], n, n);
    let x = faer::MatRef::from_column_major_slice(&r[..n], n, 1);
    let out = faer::MatMut::from_column_major_slice_mut(&mut y[..n], n, 1);
    faer::linalg::matmul::matmul(out, faer::Accum::Replace, a, x, 1.0, faer::Par::Seq);
}

/// CSR mat-vec.
// Index loops keep the accumulation order explicit (it defines the bits).
#[allow(clippy::needless_range_loop)]
pub fn csr_matvec(m: &Csr, r: &[f64], y: &mut [f64]) {
    for (i, yi) in y.iter_mut().enumerate().take(m.n_rows) {
        let (lo, hi) = (m.indptr[i], m.indptr[i + 1]);
        let (idx, val) = (&m.indices[lo..hi], &m.values[lo..hi]);
        let mut acc = [0.0f64; 4];
        let chunks = idx.len() / 4;
        for c in 0..chunks {
            for k in 0..4 {
                let p = c * 4 + k;
                acc[k] += val[p] * r[idx[p] as usize];
            }
        }
        let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for p in chunks * 4..idx.len() {
            s += val[p] * r[idx[p] as usize];
        }
        *yi = s;
    }
}
