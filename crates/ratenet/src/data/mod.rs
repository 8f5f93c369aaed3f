//! Data: tables on disk or on the web → the E–E [`Connectome`].
//!
//! The steps are the notebook's, kept in its order because each one changes
//! which neurons survive: select cells, keep synapses inside the selection,
//! drop neurons with too few synapse ends there, filter the full table again,
//! aggregate sizes per (pre, post), keep neurons that are both pre and post.

mod declared;
pub mod fetch;
pub mod select;
pub mod store;
pub mod table;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

pub use select::{Rule, Scalar, Selection};
pub use table::{Column, Table};

use crate::matrix::Csr;
use crate::{bail, Result};

/// How synapse sizes are combined per (pre, post) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// Sum of sizes (the notebook).
    #[default]
    Sum,
    /// Number of synapses.
    Count,
    /// Mean size.
    Mean,
}

impl Aggregate {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sum" => Ok(Aggregate::Sum),
            "count" => Ok(Aggregate::Count),
            "mean" => Ok(Aggregate::Mean),
            _ => bail!("data.aggregate: unknown '{s}' (expected \"sum\", \"count\" or \"mean\")"),
        }
    }
}

/// What the synapse table's pre and post columns hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endpoints {
    /// Cell ids, as in the cell table's id column (the course's tables).
    #[default]
    Ids,
    /// Row numbers into the cell table, counted from `data.row_base`
    /// (graphs exported as `i, j, weight`).
    Rows,
}

impl Endpoints {
    /// Parse the experiment-file name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ids" => Ok(Endpoints::Ids),
            "rows" => Ok(Endpoints::Rows),
            _ => bail!("data.endpoints: unknown '{s}' (expected \"ids\" or \"rows\")"),
        }
    }
}

/// Where the tables are and how to read them: the `[data]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    /// Synapse table: a path or an http(s) URL.
    pub synapses: String,
    /// Cell table: a path or an http(s) URL.
    pub cells: String,
    /// Pinned sha256 of the synapse table, if any.
    pub synapses_sha256: Option<String>,
    /// Pinned sha256 of the cell table, if any.
    pub cells_sha256: Option<String>,
    /// Presynaptic id column of the synapse table.
    pub pre_column: String,
    /// Postsynaptic id column of the synapse table.
    pub post_column: String,
    /// Synapse size column.
    pub size_column: String,
    /// Id column of the cell table.
    pub cell_id_column: String,
    /// Neurons need at least this many synapse ends inside the selection (notebook: `> 20`).
    pub min_synapses: u64,
    /// How sizes combine per pair.
    pub aggregate: Aggregate,
    /// Weights are aggregate / scale.
    pub scale: f64,
    /// Which cells are candidates.
    pub select: Selection,
    /// With observed inhibition (`network.inhibition = "observed"`), which
    /// cells are the inhibitory candidates; `select` then names the
    /// excitatory ones. `None`: an excitatory-only connectome.
    pub inhibitory_select: Option<Selection>,
    /// What the pre and post columns hold.
    pub endpoints: Endpoints,
    /// The number of the cell table's first row when `endpoints` is `Rows` (0 or 1).
    pub row_base: u64,
}

/// The course's synapse table (MICrONS minnie65, materialization 1300, proofread V1 neurons).
pub const COURSE_SYNAPSES_URL: &str =
    "https://github.com/sdorkenw/MICrONS_workshop_CNC_forum/raw/refs/heads/main/data/synapses_proofread_V1_neurons_1300.feather";
/// The course's cell table.
pub const COURSE_CELLS_URL: &str =
    "https://github.com/sdorkenw/MICrONS_workshop_CNC_forum/raw/refs/heads/main/data/cell_info_1300.feather";

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            synapses: COURSE_SYNAPSES_URL.into(),
            cells: COURSE_CELLS_URL.into(),
            synapses_sha256: None,
            cells_sha256: None,
            pre_column: "pre_pt_root_id".into(),
            post_column: "post_pt_root_id".into(),
            size_column: "size".into(),
            cell_id_column: "pt_root_id".into(),
            min_synapses: 21,
            aggregate: Aggregate::Sum,
            scale: 150_000.0,
            select: Selection::default(),
            inhibitory_select: None,
            endpoints: Endpoints::Ids,
            row_base: 1,
        }
    }
}

/// The connectome: `matrix[pre][post]` = aggregate / scale over the neurons
/// `ids`. Without observed inhibition it is the excitatory–excitatory one
/// (`n_inh = 0`); with it, the excitatory neurons come first, then the last
/// `n_inh` are the inhibitory ones, and every block (E–E, E–I, I–E, I–I) is
/// the data's. Weights are unsigned: Dale's law is the network's.
#[derive(Debug, Clone, PartialEq)]
pub struct Connectome {
    /// Root ids: the excitatory ones ascending, then the inhibitory ones
    /// ascending; index `k` is neuron `k`.
    pub ids: Vec<i64>,
    /// The last `n_inh` neurons are inhibitory (0 without observed inhibition).
    pub n_inh: usize,
    /// Weights, pre × post.
    pub matrix: Csr,
    /// What a user should know about the tables that is not an error (one
    /// line each), e.g. duplicate ids in the cell table that agree on the
    /// selection. Front ends print them ([`crate::Experiment::warnings`]).
    pub warnings: Vec<String>,
}

impl Connectome {
    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.ids.len()
    }

    /// Number of excitatory neurons (the first ones).
    pub fn n_exc(&self) -> usize {
        self.ids.len() - self.n_inh
    }

    /// The excitatory–excitatory block of `matrix` (pre × post), the one
    /// null models act on: `matrix` itself without observed inhibition.
    pub fn ee(&self) -> Cow<'_, Csr> {
        if self.n_inh == 0 {
            return Cow::Borrowed(&self.matrix);
        }
        let k = self.n_exc();
        let t = (0..k).flat_map(|i| self.matrix.row(i).filter(|&(j, _)| j < k).map(move |(j, v)| (i, j, v)));
        Cow::Owned(Csr::from_sorted_triplets(k, k, t))
    }

    /// Read, select and aggregate, as [`DataSpec`] says. Tables are resolved
    /// (downloaded and cached if they are URLs) first.
    pub fn load(spec: &DataSpec) -> Result<Connectome> {
        let syn_path = fetch::resolve(&spec.synapses, spec.synapses_sha256.as_deref(), "data.synapses")?;
        let cell_path = fetch::resolve(&spec.cells, spec.cells_sha256.as_deref(), "data.cells")?;
        Self::from_files(spec, &syn_path, &cell_path)
    }

    /// As [`Connectome::load`], keeping the result in the folder `store`
    /// (usually [`fetch::cache_dir`]) so that later runs on the same files
    /// and keys read it back instead of building it again (see [`store`]).
    /// `None` builds it as [`Connectome::load`] does.
    pub fn load_stored(spec: &DataSpec, store: Option<&Path>) -> Result<Connectome> {
        let Some(dir) = store else {
            return Self::load(spec);
        };
        let syn_path = fetch::resolve(&spec.synapses, spec.synapses_sha256.as_deref(), "data.synapses")?;
        let cell_path = fetch::resolve(&spec.cells, spec.cells_sha256.as_deref(), "data.cells")?;
        let entry = store::entry_path(dir, spec, &syn_path, &cell_path);
        if let Some(c) = entry.as_deref().and_then(store::read) {
            return Ok(c);
        }
        let c = Self::from_files(spec, &syn_path, &cell_path)?;
        if let Some(e) = &entry {
            // Not storing only costs the next run the build.
            let _ = store::write(e, &c);
        }
        Ok(c)
    }

    /// As [`Connectome::load`] on local files.
    pub fn from_files(spec: &DataSpec, synapses: &Path, cells: &Path) -> Result<Connectome> {
        let mut cell_cols: Vec<&str> = vec![spec.cell_id_column.as_str()];
        let inh_rules = spec.inhibitory_select.iter().flat_map(|s| &s.rules);
        for (c, _) in spec.select.rules.iter().chain(inh_rules) {
            if !cell_cols.contains(&c.as_str()) {
                cell_cols.push(c);
            }
        }
        let cell_table = Table::read(cells, Some(&cell_cols))?;
        let cell_ids = cell_table.ids(&spec.cell_id_column)?;
        let mut warnings = Vec::new();
        let selected = selected_ids(spec, &spec.select, "data.select", &cell_table, &cell_ids, &mut warnings)?;
        let inhibitory = match &spec.inhibitory_select {
            None => HashSet::new(),
            Some(sel) => {
                let inh = selected_ids(
                    spec,
                    sel,
                    "data.inhibitory_select",
                    &cell_table,
                    &cell_ids,
                    &mut warnings,
                )?;
                if let Some(id) = inh.iter().filter(|id| selected.contains(id)).min() {
                    bail!(
                        "{}: cell {id} is in both data.select {} and data.inhibitory_select {}; a cell is excitatory or inhibitory, not both (narrow one of the selections)",
                        cells.display(),
                        spec.select.describe(),
                        sel.describe()
                    );
                }
                inh
            }
        };
        let syn_cols = [
            spec.pre_column.as_str(),
            spec.post_column.as_str(),
            spec.size_column.as_str(),
        ];
        let syn = Table::read(synapses, Some(&syn_cols))?;
        let mut pre = syn.ids(&spec.pre_column)?;
        let mut post = syn.ids(&spec.post_column)?;
        if spec.endpoints == Endpoints::Rows {
            for (column, v) in [(&spec.pre_column, &mut pre), (&spec.post_column, &mut post)] {
                rows_to_ids(v, &cell_ids, spec.row_base, synapses, column, cells)?;
            }
        }
        let size = syn.floats(&spec.size_column)?;
        check_sizes(synapses, &spec.size_column, &size)?;
        let mut c = Self::from_synapses_split(
            &pre,
            &post,
            &size,
            &selected,
            &inhibitory,
            spec.min_synapses,
            spec.aggregate,
            spec.scale,
        );
        let (n_exc, n_inh) = (c.n_exc(), c.n_inh);
        if let Some(sel) = &spec.inhibitory_select {
            if n_exc == 0 || n_inh == 0 {
                let (none, key, rules) = if n_exc == 0 {
                    ("excitatory", "data.select", &spec.select)
                } else {
                    ("inhibitory", "data.inhibitory_select", sel)
                };
                bail!(
                    "{}: no {none} neuron is left after selection {key} = {} and min_synapses = {} ({n_exc} excitatory, {n_inh} inhibitory); observed inhibition needs both (lower data.min_synapses or widen {key})",
                    synapses.display(),
                    rules.describe(),
                    spec.min_synapses
                );
            }
        }
        if c.n() < 2 {
            bail!(
                "{}: {} left after selection {} and min_synapses = {}; a network needs at least two (lower data.min_synapses or widen data.select)",
                synapses.display(),
                match c.n() {
                    0 => "no neuron is".to_string(),
                    _ => "only one neuron is".to_string(),
                },
                spec.select.describe(),
                spec.min_synapses
            );
        }
        c.warnings = warnings;
        Ok(c)
    }

    /// The notebook's subnetwork from synapse columns and a set of selected cell ids.
    pub fn from_synapses(
        pre: &[i64],
        post: &[i64],
        size: &[f64],
        selected: &HashSet<i64>,
        min_synapses: u64,
        aggregate: Aggregate,
        scale: f64,
    ) -> Connectome {
        Self::from_synapses_split(
            pre,
            post,
            size,
            selected,
            &HashSet::new(),
            min_synapses,
            aggregate,
            scale,
        )
    }

    /// The notebook's subnetwork over the union of the excitatory cells
    /// `selected` and the inhibitory cells `inhibitory` (disjoint): synapse
    /// ends counted in the union, the excitatory survivors first, then the
    /// inhibitory ones ([`Connectome::n_inh`]), each ascending by id.
    #[allow(clippy::too_many_arguments)]
    pub fn from_synapses_split(
        pre: &[i64],
        post: &[i64],
        size: &[f64],
        selected: &HashSet<i64>,
        inhibitory: &HashSet<i64>,
        min_synapses: u64,
        aggregate: Aggregate,
        scale: f64,
    ) -> Connectome {
        let inside = |id: &i64| selected.contains(id) || inhibitory.contains(id);
        // Synapse ends inside the selection; an autapse counts twice, as np.unique on both columns does.
        let mut ends: HashMap<i64, u64> = HashMap::new();
        for (&a, &b) in pre.iter().zip(post) {
            if inside(&a) && inside(&b) {
                *ends.entry(a).or_default() += 1;
                *ends.entry(b).or_default() += 1;
            }
        }
        let kept: HashSet<i64> = ends
            .into_iter()
            .filter(|&(_, c)| c >= min_synapses)
            .map(|(id, _)| id)
            .collect();
        // The full table filtered again with the kept ids, aggregated in row order.
        let mut pairs: HashMap<(i64, i64), (f64, u64)> = HashMap::new();
        let mut pres = BTreeSet::new();
        let mut posts = BTreeSet::new();
        for ((&a, &b), &s) in pre.iter().zip(post).zip(size) {
            if kept.contains(&a) && kept.contains(&b) {
                let e = pairs.entry((a, b)).or_insert((0.0, 0));
                e.0 += s;
                e.1 += 1;
                pres.insert(a);
                posts.insert(b);
            }
        }
        // Excitatory ids ascending, then inhibitory ids ascending (a stable sort of ascending ids).
        let mut ids: Vec<i64> = pres.intersection(&posts).copied().collect();
        ids.sort_by_key(|id| inhibitory.contains(id));
        let n_inh = ids.iter().filter(|id| inhibitory.contains(id)).count();
        let index: HashMap<i64, usize> = ids.iter().enumerate().map(|(k, &id)| (id, k)).collect();
        let mut entries: Vec<(usize, usize, f64)> = pairs
            .into_iter()
            .filter_map(|((a, b), (sum, count))| {
                let (i, j) = (*index.get(&a)?, *index.get(&b)?);
                let v = match aggregate {
                    Aggregate::Sum => sum,
                    Aggregate::Count => count as f64,
                    Aggregate::Mean => sum / count as f64,
                };
                Some((i, j, v / scale))
            })
            .filter(|&(_, _, v)| v != 0.0)
            .collect();
        entries.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let n = ids.len();
        Connectome {
            ids,
            n_inh,
            matrix: Csr::from_sorted_triplets(n, n, entries),
            warnings: Vec::new(),
        }
    }
}

/// The ids of the cells that `select` (the selection at `key`) keeps; an
/// error naming `key` when it keeps none. Duplicate ids: see [`duplicate_ids`].
fn selected_ids(
    spec: &DataSpec,
    select: &Selection,
    key: &str,
    table: &Table,
    ids: &[i64],
    warnings: &mut Vec<String>,
) -> Result<HashSet<i64>> {
    let mask = select.mask_as(table, key)?;
    if let Some(w) = duplicate_ids(spec, select, key, table, ids, &mask)? {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    let kept: HashSet<i64> = ids.iter().zip(&mask).filter(|(_, &m)| m).map(|(&id, _)| id).collect();
    if kept.is_empty() {
        bail!(
            "{}: the selection {} keeps no cell ({key}){}",
            table.path(),
            select.describe(),
            select.why_empty(table)
        );
    }
    Ok(kept)
}

/// Replace row numbers (`data.endpoints = "rows"`, counted from `base`)
/// by the ids of those rows of the cell table; a number outside the table
/// is an error naming it, its row of the synapse table and the column.
fn rows_to_ids(v: &mut [i64], ids: &[i64], base: u64, synapses: &Path, column: &str, cells: &Path) -> Result<()> {
    for (row, x) in v.iter_mut().enumerate() {
        let k = x
            .checked_sub(base as i64)
            .filter(|&k| k >= 0 && (k as usize) < ids.len());
        match k {
            Some(k) => *x = ids[k as usize],
            None => bail!(
                "{}: column '{column}' row {row}: {x} is not a row of the cell table {} (rows {}..={} with data.row_base = {base}; data.endpoints = \"rows\")",
                synapses.display(),
                cells.display(),
                base,
                ids.len() as u64 + base - 1
            ),
        }
    }
    Ok(())
}

/// Synapse sizes must be positive finite numbers: a NaN, infinite, negative
/// or zero size is refused (never used, never dropped silently), naming the
/// column, how many of each kind, and the first row.
fn check_sizes(path: &Path, column: &str, size: &[f64]) -> Result<()> {
    let (mut nan, mut inf, mut neg, mut zero) = (0usize, 0usize, 0usize, 0usize);
    let mut first = None;
    for (row, &x) in size.iter().enumerate() {
        let bad = if x.is_nan() {
            nan += 1;
            true
        } else if x.is_infinite() {
            inf += 1;
            true
        } else if x < 0.0 {
            neg += 1;
            true
        } else if x == 0.0 {
            zero += 1;
            true
        } else {
            false
        };
        if bad && first.is_none() {
            first = Some((row, x));
        }
    }
    let Some((row, x)) = first else {
        return Ok(());
    };
    let kinds: Vec<String> = [(nan, "NaN"), (inf, "infinite"), (neg, "negative"), (zero, "zero")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    bail!(
        "{}: column '{column}' has {} synapse sizes that are not positive finite numbers ({}; first: {x} at row {row}); fix or remove those rows, or choose another data.size_column",
        path.display(),
        nan + inf + neg + zero,
        kinds.join(", ")
    )
}

/// Ids that occur in more than one row of the cell table. Rows of one id
/// that the selection treats differently (one kept, another not) make the
/// selection ambiguous: an error naming the id and the columns that
/// disagree. Otherwise the id counts once, and one warning says how many
/// such ids there are.
fn duplicate_ids(
    spec: &DataSpec,
    select: &Selection,
    key: &str,
    table: &Table,
    ids: &[i64],
    mask: &[bool],
) -> Result<Option<String>> {
    let mut rows: HashMap<i64, Vec<usize>> = HashMap::new();
    for (row, &id) in ids.iter().enumerate() {
        rows.entry(id).or_default().push(row);
    }
    let mut dups: Vec<(i64, Vec<usize>)> = rows.into_iter().filter(|(_, r)| r.len() > 1).collect();
    if dups.is_empty() {
        return Ok(None);
    }
    dups.sort_unstable();
    for (id, r) in &dups {
        if r.iter().any(|&k| mask[k] != mask[r[0]]) {
            let columns: Vec<String> = select
                .rules
                .iter()
                .map(|(c, _)| c)
                .filter(|c| {
                    let first = select::value_text(table, c, r[0]);
                    r.iter().any(|&k| select::value_text(table, c, k) != first)
                })
                .map(|c| {
                    let vals: Vec<String> = r.iter().map(|&k| select::value_text(table, c, k)).collect();
                    format!("'{c}' ({})", vals.join(" vs "))
                })
                .collect();
            bail!(
                "{}: id {id} of column '{}' is in {} rows (rows {}) that the selection {key} = {} treats differently: they disagree in {}; keep one row per id",
                table.path(),
                spec.cell_id_column,
                r.len(),
                r.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
                select.describe(),
                columns.join(", ")
            );
        }
    }
    let extra: usize = dups.iter().map(|(_, r)| r.len() - 1).sum();
    Ok(Some(format!(
        "{}: {} duplicate ids in column '{}' ({} extra rows, e.g. id {}); their rows agree on the selection, so each id counts once",
        table.path(),
        dups.len(),
        spec.cell_id_column,
        extra,
        dups[0].0
    )))
}
