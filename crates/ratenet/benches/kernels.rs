//! Kernel benchmark (not a test): the multi-lane sparse mat-vec kernels
//! alone (`sim::kernels`), on synthetic CSR matrices of several sizes and
//! densities, one to four lanes, shared and nested weights. No model, no
//! integrator: `out = M · r` repeated.
//!
//!     cargo bench -p ratenet --bench kernels
//!
//! Reported: nanoseconds per stored entry and lane, and entry-lane products
//! per second (one thread).

use std::sync::Arc;
use std::time::Instant;

use ratenet::matrix::Csr;
use ratenet::sim::kernels::{product, Block};

/// A reproducible random n × n matrix with about `density · n` entries a
/// row (columns ascending), weights in (−1, 1).
fn matrix(n: usize, density: f64, seed: u64) -> Csr {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut t = Vec::new();
    let cut = (density * u64::MAX as f64) as u64;
    for i in 0..n {
        for j in 0..n {
            if next() < cut {
                t.push((i, j, (next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0));
            }
        }
    }
    Csr::from_sorted_triplets(n, n, t)
}

/// Keep about `share` of each row (a prefix): the nested blocks of a sweep.
fn prefix(m: &Csr, share: f64) -> Csr {
    let mut t = Vec::new();
    for i in 0..m.n_rows {
        let row: Vec<(usize, f64)> = m.row(i).collect();
        let keep = (row.len() as f64 * share).round() as usize;
        t.extend(row[..keep].iter().map(|&(j, v)| (i, j, v)));
    }
    Csr::from_sorted_triplets(m.n_rows, m.n_cols, t)
}

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut reps = 1;
    loop {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        let s = t.elapsed().as_secs_f64();
        if s > 0.2 {
            return s / reps as f64;
        }
        reps *= 4;
    }
}

fn main() {
    println!(
        "{:<34} {:>9} {:>12} {:>14}",
        "case", "entries", "ns/entry·lane", "products/s"
    );
    for (n, density) in [(444, 0.05), (444, 0.25), (2000, 0.01), (2000, 0.1), (20000, 0.001)] {
        let m = Arc::new(matrix(n, density, 7));
        let nnz = m.nnz() as f64;
        for lanes in 1..=4 {
            let width = if lanes == 3 { 4 } else { lanes };
            let r: Vec<f64> = (0..n * width).map(|k| (k % 97) as f64 * 0.01).collect();
            let mut out = vec![0.0; n * width];
            let b = Block::new(m.clone(), (0..lanes).collect(), n, width);
            let secs = time(|| product(&b, &r, width, &mut out));
            let per = nnz * lanes as f64;
            println!(
                "{:<34} {:>9} {:>12.3} {:>14.3e}",
                format!("n={n} d={density} shared, {lanes} lane(s)"),
                m.nnz(),
                secs * 1e9 / per,
                per / secs
            );
        }
        // Lanes with nested rows (per-lane weights), as a sweep over p runs.
        for lanes in [2usize, 4] {
            let mats: Vec<Arc<Csr>> = (0..lanes)
                .map(|k| Arc::new(prefix(&m, 0.4 + 0.6 * k as f64 / (lanes - 1) as f64)))
                .collect();
            let groups: Vec<(Arc<Csr>, Vec<usize>)> =
                mats.iter().enumerate().map(|(k, m)| (m.clone(), vec![k])).collect();
            let Some(b) = Block::nested(&groups, n, lanes) else {
                continue;
            };
            let r: Vec<f64> = (0..n * lanes).map(|k| (k % 89) as f64 * 0.01).collect();
            let mut out = vec![0.0; n * lanes];
            let secs = time(|| product(&b, &r, lanes, &mut out));
            let per: f64 = mats.iter().map(|m| m.nnz() as f64).sum();
            println!(
                "{:<34} {:>9} {:>12.3} {:>14.3e}",
                format!("n={n} d={density} nested, {lanes} lanes"),
                m.nnz(),
                secs * 1e9 / per,
                per / secs
            );
        }
    }
}
