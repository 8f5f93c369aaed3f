//! Compressed sparse rows: the one sparse layout the pipeline uses, for the
//! E–E connectome (pre × post) and for network weights (post × pre).

/// A sparse matrix in compressed sparse row form with sorted `u32` column
/// indices and explicit zeros never stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr {
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
    /// Row `i` holds entries `indptr[i]..indptr[i + 1]`.
    pub indptr: Vec<usize>,
    /// Column of each entry, ascending within a row.
    pub indices: Vec<u32>,
    /// Value of each entry.
    pub values: Vec<f64>,
}

impl Csr {
    /// Non-zero entries stored.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// From a dense row-major matrix, keeping entries `!= 0`.
    pub fn from_dense(n_rows: usize, n_cols: usize, dense: &[f64]) -> Self {
        let mut m = Csr {
            n_rows,
            n_cols,
            indptr: Vec::with_capacity(n_rows + 1),
            ..Default::default()
        };
        m.indptr.push(0);
        for row in dense.chunks_exact(n_cols.max(1)).take(n_rows) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    m.indices.push(j as u32);
                    m.values.push(v);
                }
            }
            m.indptr.push(m.values.len());
        }
        m.indptr.resize(n_rows + 1, m.values.len());
        m
    }

    /// From (row, col, value) triplets sorted by row then column, without duplicates.
    pub fn from_sorted_triplets(
        n_rows: usize,
        n_cols: usize,
        t: impl IntoIterator<Item = (usize, usize, f64)>,
    ) -> Self {
        let mut m = Csr {
            n_rows,
            n_cols,
            indptr: vec![0; n_rows + 1],
            ..Default::default()
        };
        for (i, j, v) in t {
            debug_assert!(i < n_rows && j < n_cols);
            m.indptr[i + 1] += 1;
            m.indices.push(j as u32);
            m.values.push(v);
        }
        for i in 0..n_rows {
            m.indptr[i + 1] += m.indptr[i];
        }
        m
    }

    /// The dense row-major matrix.
    pub fn to_dense(&self) -> Vec<f64> {
        let mut d = vec![0.0; self.n_rows * self.n_cols];
        for i in 0..self.n_rows {
            for k in self.indptr[i]..self.indptr[i + 1] {
                d[i * self.n_cols + self.indices[k] as usize] = self.values[k];
            }
        }
        d
    }

    /// The transpose (still sorted).
    pub fn transpose(&self) -> Csr {
        let mut count = vec![0usize; self.n_cols + 1];
        for &j in &self.indices {
            count[j as usize + 1] += 1;
        }
        for j in 0..self.n_cols {
            count[j + 1] += count[j];
        }
        let indptr = count.clone();
        let mut next = count;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0.0; self.nnz()];
        for i in 0..self.n_rows {
            for k in self.indptr[i]..self.indptr[i + 1] {
                let j = self.indices[k] as usize;
                indices[next[j]] = i as u32;
                values[next[j]] = self.values[k];
                next[j] += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }

    /// Entries of row `i` as (column, value).
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.indptr[i]..self.indptr[i + 1];
        self.indices[r.clone()]
            .iter()
            .map(|&j| j as usize)
            .zip(self.values[r].iter().copied())
    }

    /// The value at (i, j), zero if not stored.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let r = self.indptr[i]..self.indptr[i + 1];
        match self.indices[r.clone()].binary_search(&(j as u32)) {
            Ok(k) => self.values[r.start + k],
            Err(_) => 0.0,
        }
    }
}
