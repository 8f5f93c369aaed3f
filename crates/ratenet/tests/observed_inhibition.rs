//! Observed inhibition (`network.inhibition = "observed"`) and connectomes
//! given as other tables (`data.endpoints = "rows"`, plain edge lists),
//! checked against plain loops over the tables.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ratenet::data::{Column, Connectome, Table};
use ratenet::experiment::{self, Spec};

const INHIBITORY: &str = "[data.inhibitory_select]\ncoarse_cell_type_auto = \"I\"\nregion = \"V1\"\n";

/// The MICrONS spec with observed inhibition at `min_synapses`, plus `extra` TOML.
fn observed_spec(min_synapses: u64, extra: &str) -> Spec {
    common::microns_spec(&format!(
        "min_synapses = {min_synapses}\n[network]\ninhibition = \"observed\"\n{extra}\n{INHIBITORY}"
    ))
}

fn error(spec: &Spec) -> String {
    match Connectome::load(&spec.data)
        .and_then(|c| experiment::build_network(spec, Some(&c), &spec.conditions[0], 0).map(|_| ()))
    {
        Ok(()) => panic!("expected an error"),
        Err(e) => e.message().to_string(),
    }
}

/// The subnetwork computed here with plain loops, independently of the
/// library's code: (excitatory ids, inhibitory ids, sums per (pre, post)).
struct Expected {
    exc: Vec<i64>,
    inh: Vec<i64>,
    sums: BTreeMap<(i64, i64), f64>,
}

fn strings(t: &Table, col: &str) -> Vec<Option<String>> {
    let valid = t.validity(col).unwrap();
    match t.column(col).unwrap() {
        Column::Str(v) => v
            .iter()
            .enumerate()
            .map(|(i, s)| valid.as_ref().is_none_or(|m| m[i]).then(|| s.clone()))
            .collect(),
        _ => panic!("{col} is not a string column"),
    }
}

fn expected(min_synapses: u64) -> Expected {
    let (syn, cells) = common::microns();
    let t = Table::read(&cells, None).unwrap();
    let ids = t.ids("pt_root_id").unwrap();
    let (ct, pr, region, coarse) = (
        strings(&t, "cell_type_auto"),
        strings(&t, "proofreading_strategy"),
        strings(&t, "region"),
        strings(&t, "coarse_cell_type_auto"),
    );
    let is = |v: &Option<String>, s: &str| v.as_deref() == Some(s);
    let mut e = BTreeSet::new();
    let mut i = BTreeSet::new();
    for k in 0..ids.len() {
        // A missing proofreading strategy equals nothing, so `not = ""` keeps it.
        if is(&ct[k], "23P") && !is(&pr[k], "") && is(&region[k], "V1") {
            e.insert(ids[k]);
        }
        if is(&coarse[k], "I") && is(&region[k], "V1") {
            i.insert(ids[k]);
        }
    }
    assert!(e.is_disjoint(&i));
    let s = Table::read(&syn, None).unwrap();
    let (pre, post, size) = (
        s.ids("pre_pt_root_id").unwrap(),
        s.ids("post_pt_root_id").unwrap(),
        s.floats("size").unwrap(),
    );
    let inside = |x: &i64| e.contains(x) || i.contains(x);
    let mut ends: HashMap<i64, u64> = HashMap::new();
    for k in 0..pre.len() {
        if inside(&pre[k]) && inside(&post[k]) {
            *ends.entry(pre[k]).or_default() += 1;
            *ends.entry(post[k]).or_default() += 1;
        }
    }
    let mut sums = BTreeMap::new();
    let (mut pres, mut posts) = (BTreeSet::new(), BTreeSet::new());
    let kept = |x: &i64| ends.get(x).is_some_and(|&c| c >= min_synapses);
    for k in 0..pre.len() {
        if kept(&pre[k]) && kept(&post[k]) {
            *sums.entry((pre[k], post[k])).or_insert(0.0) += size[k];
            pres.insert(pre[k]);
            posts.insert(post[k]);
        }
    }
    let both: BTreeSet<i64> = pres.intersection(&posts).copied().collect();
    sums.retain(|(a, b), _| both.contains(a) && both.contains(b));
    Expected {
        exc: both.iter().copied().filter(|x| e.contains(x)).collect(),
        inh: both.iter().copied().filter(|x| i.contains(x)).collect(),
        sums,
    }
}

#[test]
fn the_microns_tables_give_419_excitatory_and_173_inhibitory_neurons_at_5() {
    let want = expected(5);
    assert_eq!((want.exc.len(), want.inh.len()), (419, 173));
    let c = Connectome::load(&observed_spec(5, "").data).unwrap();
    assert_eq!((c.n_exc(), c.n_inh), (419, 173));
    let order: Vec<i64> = want.exc.iter().chain(&want.inh).copied().collect();
    assert_eq!(c.ids, order, "excitatory ids ascending, then inhibitory ids ascending");
    // At 21 no inhibitory neuron survives (the independent count agrees),
    // and observed inhibition is then an error naming the selection.
    assert!(expected(21).inh.is_empty());
    let e = error(&observed_spec(21, ""));
    assert!(
        e.contains("no inhibitory neuron") && e.contains("data.inhibitory_select") && e.contains("min_synapses = 21"),
        "{e}"
    );
}

#[test]
fn w_is_the_data_block_by_block_with_dales_signs_and_balanced_as_specified() {
    let want = expected(5);
    let order: Vec<i64> = want.exc.iter().chain(&want.inh).copied().collect();
    let index: HashMap<i64, usize> = order.iter().enumerate().map(|(k, &id)| (id, k)).collect();
    let (n, n_exc) = (order.len(), want.exc.len());
    let scale = 150_000.0;
    let spec = observed_spec(5, "balance = false");
    let c = Connectome::load(&spec.data).unwrap();
    let net = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 0).unwrap();
    assert_eq!((net.n, net.n_exc), (n, n_exc));
    let w = net.dense();
    // Every data pair where it belongs, post × pre, negative from inhibitory cells.
    let mut expect = vec![0.0; n * n];
    let mut blocks = [[0usize; 2]; 2];
    for (&(a, b), &s) in &want.sums {
        let (pre, post) = (index[&a], index[&b]);
        let sign = if pre >= n_exc { -1.0 } else { 1.0 };
        expect[post * n + pre] = sign * s / scale;
        blocks[(pre >= n_exc) as usize][(post >= n_exc) as usize] += 1;
    }
    assert_eq!(w, expect, "W = ±aggregate / scale, every block");
    // E→E, E→I, I→E, I→I (as the independent computation counts them).
    assert_eq!(blocks, [[8271, 521], [550, 204]]);
    // The other seeds draw nothing: the same W.
    let other = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 7).unwrap();
    assert_eq!(other.dense(), w);

    // Balanced: excitatory inputs as they were; each row's inhibitory inputs
    // scaled by one factor so that they sum to −0.15 × its excitatory sum.
    let spec = observed_spec(5, "");
    let bal = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 0)
        .unwrap()
        .dense();
    let mut balanced_rows = 0;
    for i in 0..n {
        let row = |m: &[f64], inh: bool| -> Vec<f64> {
            (0..n).filter(|&j| (j >= n_exc) == inh).map(|j| m[i * n + j]).collect()
        };
        assert_eq!(row(&bal, false), row(&w, false), "row {i}: excitatory inputs");
        let (e, inh_raw, inh_bal) = (row(&w, false), row(&w, true), row(&bal, true));
        let (se, si) = (e.iter().sum::<f64>(), inh_raw.iter().sum::<f64>());
        if si == 0.0 {
            assert_eq!(inh_bal, inh_raw, "row {i}: no inhibitory input");
            continue;
        }
        let f = se / -si * 0.15;
        for (b, r) in inh_bal.iter().zip(&inh_raw) {
            assert!((b - r * f).abs() <= 1e-14 * b.abs(), "row {i}: {b} vs {r} × {f}");
        }
        let sb: f64 = inh_bal.iter().sum();
        assert!(
            (sb + 0.15 * se).abs() <= 1e-12 * se.abs().max(1e-12),
            "row {i}: {sb} vs −0.15 × {se}"
        );
        balanced_rows += (se > 0.0) as usize;
    }
    assert!(balanced_rows > 100, "{balanced_rows} rows with both kinds of input");
}

#[test]
fn null_models_act_on_the_e_e_block_only() {
    let spec = observed_spec(
        5,
        "balance = false\n[[condition]]\nname = \"observed\"\n[[condition]]\nname = \"shuffled\"\nnulls = [\"shuffle_connections\"]",
    );
    let c = Connectome::load(&spec.data).unwrap();
    let (n, k) = (c.n(), c.n_exc());
    let obs = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 3)
        .unwrap()
        .dense();
    let sh = experiment::build_network(&spec, Some(&c), &spec.conditions[1], 3)
        .unwrap()
        .dense();
    let (mut ee_differs, mut ee_nnz) = (false, [0, 0]);
    for i in 0..n {
        for j in 0..n {
            if i < k && j < k {
                ee_differs |= obs[i * n + j] != sh[i * n + j];
                ee_nnz[0] += (obs[i * n + j] != 0.0) as usize;
                ee_nnz[1] += (sh[i * n + j] != 0.0) as usize;
            } else {
                assert_eq!(obs[i * n + j], sh[i * n + j], "({i}, {j}) outside E–E");
            }
        }
    }
    assert!(ee_differs);
    assert_eq!(ee_nnz[0], ee_nnz[1], "a shuffle keeps the number of E–E connections");
    // Through the runs: the reciprocal count is the E–E block's.
    let ee = c.ee();
    assert_eq!(ee.n_rows, k);
    let net = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 0).unwrap();
    assert_eq!(net.reciprocal, Some(ratenet::network::nulls::count_reciprocal(&ee)));
}

#[test]
fn r_inhibitory_does_not_apply_and_says_so() {
    let spec = observed_spec(5, "r_inhibitory = 0.5");
    let c = Connectome::load(&spec.data).unwrap();
    let net = experiment::build_network(&spec, Some(&c), &spec.conditions[0], 0).unwrap();
    assert_eq!((net.n, net.n_exc), (592, 419));
    let w = experiment::warnings(&spec);
    assert!(w.iter().any(|l| l.contains("network.r_inhibitory")), "{w:?}");
    assert!(experiment::warnings(&observed_spec(5, "")).is_empty());
    // The inhibitory selection without observed inhibition: ignored, said.
    let spec = common::microns_spec(INHIBITORY);
    assert_eq!(spec.data.inhibitory_select, None);
    let w = experiment::warnings(&spec);
    assert!(
        w.iter().any(|l| l.contains("data.inhibitory_select is ignored")),
        "{w:?}"
    );
}

#[test]
fn bad_observed_inhibition_specs_are_one_line_naming_the_key() {
    let parse = |text: &str| {
        let (s, c) = common::microns();
        Spec::parse(&format!(
            "{text}\n[data]\nsynapses = {:?}\ncells = {:?}\n",
            s.display().to_string(),
            c.display().to_string()
        ))
        .map(|_| ())
        .unwrap_err()
        .message()
        .to_string()
    };
    let e = parse(&format!(
        "[network]\ninhibition = \"observed\"\n[stimulus]\ntarget = \"notebook\"\n{INHIBITORY}"
    ));
    assert!(e.starts_with("stimulus.target = \"notebook\" has no meaning"), "{e}");
    let e = parse(&format!(
        "compat = \"notebook\"\n[network]\ninhibition = \"observed\"\n{INHIBITORY}"
    ));
    assert!(e.starts_with("compat = \"notebook\""), "{e}");
    // compat with the excitatory target is fine.
    let (s, c) = common::microns();
    Spec::parse(&format!(
        "compat = \"notebook\"\n[network]\ninhibition = \"observed\"\n[stimulus]\ntarget = \"excitatory\"\n{INHIBITORY}[data]\nsynapses = {:?}\ncells = {:?}\n",
        s.display().to_string(),
        c.display().to_string()
    ))
    .unwrap();
    let e = parse("[network]\ninhibition = \"observed\"\n");
    assert!(e.contains("needs [data.inhibitory_select]"), "{e}");
    let e = parse(&format!(
        "[network]\nkind = \"random\"\ninhibition = \"observed\"\n{INHIBITORY}"
    ));
    assert!(e.contains("network.kind = \"random\""), "{e}");
    let e = parse("[network]\ninhibition = \"some\"\n");
    assert!(e.starts_with("network.inhibition"), "{e}");

    // A cell in both selections: named.
    let spec = common::microns_spec(
        "min_synapses = 5\n[network]\ninhibition = \"observed\"\n[data.inhibitory_select]\nregion = \"V1\"\ncell_type_auto = \"23P\"\n",
    );
    let e = error(&spec);
    assert!(
        e.contains("is in both data.select") && e.contains("data.inhibitory_select"),
        "{e}"
    );
    // The id named is a proofread 23P cell of V1 (the smallest such id).
    let id: i64 = e
        .split("cell ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let first = Connectome::load(&common::microns_spec("min_synapses = 0").data).unwrap();
    assert!(id <= first.ids[0], "{e}");
    // An inhibitory selection that keeps nothing names its own key.
    let spec = common::microns_spec(
        "[network]\ninhibition = \"observed\"\n[data.inhibitory_select]\ncoarse_cell_type_auto = \"X\"\n",
    );
    let e = error(&spec);
    assert!(e.contains("keeps no cell (data.inhibitory_select)"), "{e}");
    let spec = common::microns_spec(
        "[network]\ninhibition = \"observed\"\n[data.inhibitory_select]\nno_such_column = \"I\"\n",
    );
    let e = error(&spec);
    assert!(e.contains("no column 'no_such_column'"), "{e}");
}

// ---------------------------------------------------------------------------
// Any connectome: row numbers, plain edge lists.

/// A folder with `cells.csv` (id, kind) and `edges.csv` (`header` then `rows`).
fn tables(header: &str, rows: &[(i64, i64, f64)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cells = String::from("id,kind\n");
    for (k, id) in [905, 17, 300, 42, 7].iter().enumerate() {
        cells.push_str(&format!("{id},{}\n", if k == 4 { "i" } else { "e" }));
    }
    std::fs::write(dir.path().join("cells.csv"), cells).unwrap();
    let mut e = format!("{header}\n");
    for (a, b, w) in rows {
        e.push_str(&format!("{a},{b},{w}\n"));
    }
    std::fs::write(dir.path().join("edges.csv"), e).unwrap();
    dir
}

fn graph_spec(dir: &tempfile::TempDir, cols: (&str, &str, &str), extra: &str) -> Spec {
    let p = |f: &str| dir.path().join(f).display().to_string();
    Spec::parse(&format!(
        "[data]\nsynapses = {:?}\ncells = {:?}\npre_column = {:?}\npost_column = {:?}\nsize_column = {:?}\ncell_id_column = \"id\"\nmin_synapses = 1\nscale = 1\n{extra}\n[data.select]\nkind = \"e\"\n",
        p("edges.csv"),
        p("cells.csv"),
        cols.0,
        cols.1,
        cols.2
    ))
    .unwrap()
}

#[test]
fn row_numbers_are_the_cell_tables_ids_and_plain_edge_lists_load_by_naming_columns() {
    // Rows (1-based) 1..4 are the ids 905, 17, 300, 42; row 5 (id 7) is not selected.
    let rows = [
        (1, 2, 2.0),
        (2, 1, 3.0),
        (2, 3, 1.0),
        (3, 4, 5.0),
        (4, 1, 1.5),
        (4, 1, 0.5),
        (5, 1, 9.0),
    ];
    let by_rows = tables("i,j,weight", &rows);
    let spec = graph_spec(&by_rows, ("i", "j", "weight"), "endpoints = \"rows\"");
    let c = Connectome::load(&spec.data).unwrap();
    assert_eq!(c.ids, vec![17, 42, 300, 905]);
    let at = |c: &Connectome, a: i64, b: i64| {
        let (i, j) = (
            c.ids.iter().position(|&x| x == a).unwrap(),
            c.ids.iter().position(|&x| x == b).unwrap(),
        );
        c.matrix.get(i, j)
    };
    assert_eq!(at(&c, 905, 17), 2.0);
    assert_eq!(at(&c, 17, 905), 3.0);
    assert_eq!(at(&c, 42, 905), 2.0, "two rows of one pair summed");
    assert_eq!(c.matrix.nnz(), 5);
    // The same edges by id in a plain pre, post, weight table: the same connectome.
    let ids = [905, 17, 300, 42, 7];
    let by_id: Vec<(i64, i64, f64)> = rows
        .iter()
        .map(|&(a, b, w)| (ids[a as usize - 1], ids[b as usize - 1], w))
        .collect();
    let plain = tables("pre,post,weight", &by_id);
    let p = Connectome::load(&graph_spec(&plain, ("pre", "post", "weight"), "").data).unwrap();
    assert_eq!(p, c);
    // 0-based rows.
    let zero: Vec<(i64, i64, f64)> = rows.iter().map(|&(a, b, w)| (a - 1, b - 1, w)).collect();
    let z = tables("i,j,weight", &zero);
    let zc =
        Connectome::load(&graph_spec(&z, ("i", "j", "weight"), "endpoints = \"rows\"\nrow_base = 0").data).unwrap();
    assert_eq!(zc, c);
    // A row number outside the table is named, with its column and row.
    let bad = tables("i,j,weight", &[(1, 2, 1.0), (2, 6, 1.0)]);
    let e = Connectome::load(&graph_spec(&bad, ("i", "j", "weight"), "endpoints = \"rows\"").data).unwrap_err();
    let e = e.message();
    assert!(
        e.contains("column 'j' row 1: 6 is not a row of the cell table") && e.contains("rows 1..=5"),
        "{e}"
    );
    let e = Connectome::load(&graph_spec(&z, ("i", "j", "weight"), "endpoints = \"rows\"").data).unwrap_err();
    assert!(e.message().contains("0 is not a row"), "{e}");
    assert!(Spec::parse("[data]\nrow_base = 2")
        .unwrap_err()
        .message()
        .starts_with("data.row_base = 2"));
    assert!(Spec::parse("[data]\nendpoints = \"index\"")
        .unwrap_err()
        .message()
        .starts_with("data.endpoints"));
}

#[test]
fn the_minnie65_graph_loads_by_row_numbers() {
    let d = common::shared().join("data/minnie65_graph");
    let (edges, cells) = (
        d.join("mouse_directed_connectome.csv"),
        d.join("mouse_basic_neuron_info.csv"),
    );
    let spec = Spec::parse(&format!(
        "[data]\nsynapses = {:?}\ncells = {:?}\nendpoints = \"rows\"\npre_column = \"i\"\npost_column = \"j\"\nsize_column = \"weight\"\ncell_id_column = \"id\"\nmin_synapses = 10\nscale = 1\nselect = {{}}\n",
        edges.display().to_string(),
        cells.display().to_string()
    ))
    .unwrap();
    let c = Connectome::load(&spec.data).unwrap();
    // Independently: rows → ids, synapse rows counted per neuron, kept ≥ 10.
    let ids = Table::read(&cells, Some(&["id"])).unwrap().ids("id").unwrap();
    let g = Table::read(&edges, None).unwrap();
    let (i, j, w) = (g.ids("i").unwrap(), g.ids("j").unwrap(), g.floats("weight").unwrap());
    let mut ends: HashMap<i64, u64> = HashMap::new();
    for k in 0..i.len() {
        *ends.entry(ids[i[k] as usize - 1]).or_default() += 1;
        *ends.entry(ids[j[k] as usize - 1]).or_default() += 1;
    }
    let mut sums: BTreeMap<(i64, i64), f64> = BTreeMap::new();
    let (mut pres, mut posts) = (BTreeSet::new(), BTreeSet::new());
    for k in 0..i.len() {
        let (a, b) = (ids[i[k] as usize - 1], ids[j[k] as usize - 1]);
        if ends[&a] >= 10 && ends[&b] >= 10 {
            *sums.entry((a, b)).or_default() += w[k];
            pres.insert(a);
            posts.insert(b);
        }
    }
    let both: Vec<i64> = pres.intersection(&posts).copied().collect();
    assert_eq!(c.ids, both);
    sums.retain(|(a, b), _| both.binary_search(a).is_ok() && both.binary_search(b).is_ok());
    assert_eq!(c.matrix.nnz(), sums.len());
    for ((a, b), s) in &sums {
        let (x, y) = (both.binary_search(a).unwrap(), both.binary_search(b).unwrap());
        assert_eq!(c.matrix.get(x, y), *s);
    }
    assert!(c.n() > 1000, "{} neurons", c.n());
}
