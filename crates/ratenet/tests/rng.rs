//! The notebook-compatible generators, bit for bit against streams that
//! Python, networkx and numpy produced (tests/fixtures/rng_streams.json, made
//! by tests/fixtures/make_rng_fixtures.py; doubles stored as IEEE-754 bits).

use ratenet::network::rng::{NumpyNormals, NumpyRandomState, PyRandom};
use ratenet::network::{self, NetworkKind, NetworkSpec, RngMode};
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rng_streams.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

fn bits(xs: impl IntoIterator<Item = f64>) -> Vec<u64> {
    xs.into_iter().map(f64::to_bits).collect()
}

#[test]
fn python_random_streams_match_cpython() {
    let fx = fixtures();
    let cases = fx["python"].as_array().unwrap();
    let seeds: Vec<i128> = cases
        .iter()
        .map(|c| c["seed"].as_str().unwrap().parse().unwrap())
        .collect();
    // The fixture covers the seeding paths: one word, two words, negative.
    assert!(seeds.iter().any(|&s| s >= 1 << 32), "a seed of several 32-bit words");
    assert!(seeds.iter().any(|&s| s < 0), "a negative seed");
    for (c, &seed) in cases.iter().zip(&seeds) {
        let want_u32 = u64s(&c["u32"]);
        let mut r = PyRandom::new(seed);
        let got_u32: Vec<u64> = (0..want_u32.len()).map(|_| r.next_u32() as u64).collect();
        assert_eq!(got_u32, want_u32, "getrandbits(32) of Random({seed})");

        let want = u64s(&c["random"]);
        let mut r = PyRandom::new(seed);
        let got = bits((0..want.len()).map(|_| r.random()));
        assert_eq!(got, want, "random() of Random({seed})");
        assert!(got.iter().all(|&b| (0.0..1.0).contains(&f64::from_bits(b))));
    }
}

#[test]
fn negative_python_seed_is_its_absolute_value() {
    let mut a = PyRandom::new(-7);
    let mut b = PyRandom::new(7);
    for _ in 0..10 {
        assert_eq!(a.random().to_bits(), b.random().to_bits());
    }
}

/// networkx's directed `erdos_renyi_graph(n, p, seed)`: one `random()` per
/// ordered pair u ≠ v, row-major, edge iff the draw is below p; p ≤ 0 gives
/// no edges and p ≥ 1 all of them, without drawing.
fn erdos_renyi_edges(n: usize, p: f64, seed: i128) -> Vec<(u64, u64)> {
    if p <= 0.0 {
        return vec![];
    }
    let mut rng = (p < 1.0).then(|| PyRandom::new(seed));
    let mut edges = Vec::new();
    for u in 0..n {
        for v in 0..n {
            if u == v {
                continue;
            }
            let keep = match &mut rng {
                Some(r) => r.random() < p,
                None => true,
            };
            if keep {
                edges.push((u as u64, v as u64));
            }
        }
    }
    edges
}

#[test]
fn erdos_renyi_edges_match_networkx() {
    let fx = fixtures();
    let cases = fx["networkx"].as_array().unwrap();
    let mut saw = (false, false, false);
    for c in cases {
        let seed: i128 = c["seed"].as_str().unwrap().parse().unwrap();
        let n = c["n"].as_u64().unwrap() as usize;
        let p = c["p"].as_f64().unwrap();
        let mut want: Vec<(u64, u64)> = c["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap()))
            .collect();
        want.sort_unstable();
        let got = erdos_renyi_edges(n, p, seed);
        assert_eq!(got, want, "erdos_renyi_graph({n}, {p}, seed={seed}, directed=True)");
        if p <= 0.0 {
            saw.0 = true;
            assert!(got.is_empty());
        } else if p >= 1.0 {
            saw.1 = true;
            assert_eq!(got.len(), n * (n - 1));
        } else {
            saw.2 = true;
            assert!(!got.is_empty() && got.len() < n * (n - 1), "a proper random graph");
        }
    }
    assert_eq!(saw, (true, true, true), "fixtures cover p = 0, p = 1 and 0 < p < 1");
}

#[test]
fn numpy_random_state_streams_match_numpy() {
    let fx = fixtures();
    let cases = fx["numpy"].as_array().unwrap();
    assert!(
        cases.iter().any(|c| c["seed"].as_u64() == Some((1 << 32) - 1)),
        "the largest seed numpy takes"
    );
    for c in cases {
        let seed = c["seed"].as_u64().unwrap() as i128;

        let want = u64s(&c["random_sample"]);
        let mut rs = NumpyRandomState::new(seed).unwrap();
        assert_eq!(
            bits((0..want.len()).map(|_| rs.random_sample())),
            want,
            "random_sample of RandomState({seed})"
        );

        // An odd count: the cached second normal of the polar method is used too.
        let want = u64s(&c["normal_1_02"]);
        assert_eq!(want.len() % 2, 1);
        let mut rs = NumpyNormals::new(seed).unwrap();
        assert_eq!(
            bits((0..want.len()).map(|_| rs.normal(1.0, 0.2))),
            want,
            "normal(1, .2) of RandomState({seed})"
        );

        let perms = c["shuffle_head_sum_dot"].as_object().unwrap();
        assert!(perms.len() >= 4);
        for (m, want) in perms {
            let m: usize = m.parse().unwrap();
            let want = u64s(want);
            let mut a: Vec<u64> = (0..m as u64).collect();
            NumpyRandomState::new(seed).unwrap().shuffle(&mut a).unwrap();
            let head = m.min(50);
            assert_eq!(
                &a[..head],
                &want[..head],
                "shuffle(arange({m})) of RandomState({seed}): first entries"
            );
            let sum: u64 = a.iter().sum();
            assert_eq!(sum, want[head], "shuffle(arange({m})): still a permutation");
            let dot = a.iter().enumerate().map(|(i, &x)| i as u128 * x as u128).sum::<u128>() % 1_000_000_007;
            assert_eq!(
                dot as u64,
                want[head + 1],
                "shuffle(arange({m})) of RandomState({seed}): whole permutation"
            );
            let mut sorted = a.clone();
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, &x)| i as u64 == x));
        }
    }
}

#[test]
fn numpy_random_state_refuses_seeds_numpy_refuses() {
    for seed in [-1i128, -7, 1 << 32, (1 << 32) + 5, 1 << 70] {
        match NumpyRandomState::new(seed) {
            Ok(_) => panic!("RandomState({seed}) must be refused"),
            Err(e) => {
                let msg = e.message();
                assert!(msg.contains(&seed.to_string()), "message names the seed {seed}: {msg}");
                assert!(!msg.contains('\n'), "one line: {msg}");
            }
        }
    }
    for seed in [0i128, 1, (1 << 32) - 1] {
        assert!(NumpyRandomState::new(seed).is_ok(), "RandomState({seed}) is valid");
    }
}

/// The random part's spec of an observed network in notebook mode.
fn observed_notebook(p: f64, g: f64, balance: bool) -> NetworkSpec {
    NetworkSpec {
        kind: NetworkKind::Observed,
        rng: RngMode::Notebook,
        connectivity_proba: p,
        g,
        balance,
        ..NetworkSpec::default()
    }
}

fn random_spec(rng: RngMode) -> NetworkSpec {
    NetworkSpec {
        kind: NetworkKind::Random,
        n_neurons: 60,
        rng,
        ..NetworkSpec::default()
    }
}

#[test]
fn notebook_network_refuses_seeds_from_2_pow_32_and_fast_accepts_them() {
    let big = 1u64 << 32;
    for seed in [big, big + 17, u64::MAX] {
        let e = network::build(&random_spec(RngMode::Notebook), None, seed).unwrap_err();
        assert!(
            e.message().contains(&seed.to_string()),
            "message names the seed: {}",
            e.message()
        );
        assert!(
            e.message().contains("fast"),
            "message points to network.rng = \"fast\": {}",
            e.message()
        );

        let net = network::build(&random_spec(RngMode::Fast), None, seed).unwrap();
        assert_eq!(net.n, 60);
        assert!(net.nnz() > 0);
    }
    // The largest seed numpy takes still works in notebook mode.
    let net = network::build(&random_spec(RngMode::Notebook), None, big - 1).unwrap();
    assert_eq!(net.n, 60);
    // Fast mode uses the whole 64 bits of the seed: 2^32 + s is not s.
    let a = network::build(&random_spec(RngMode::Fast), None, 3).unwrap();
    let b = network::build(&random_spec(RngMode::Fast), None, big + 3).unwrap();
    assert_ne!(a.w, b.w);
}

#[test]
fn one_drawing_per_seed_gives_every_sweep_point_its_own_random_blocks() {
    use ratenet::network::build::{random_parts, random_parts_from, SeedDraws};
    let (n, n_exc) = (60, 51);
    for seed in [0u64, 7, (1 << 32) - 1] {
        let draws = SeedDraws::draw(n, n_exc, seed, 1.0).unwrap();
        let partial = SeedDraws::draw(n, n_exc, seed, 0.35).unwrap();
        for (p, g, balance) in [
            (0.25, 0.002, true),
            (0.15, 0.002, true),
            (0.35, 0.01, false),
            (0.0, 0.002, true),
            (1.0, 0.002, true),
        ] {
            let spec = observed_notebook(p, g, balance);
            let want = random_parts(&spec, n, n_exc, seed).unwrap();
            let got = random_parts_from(&spec, &draws).unwrap();
            assert_eq!(got, want, "seed {seed}, p {p}, g {g}, balance {balance}");
            // A drawing up to p = 0.35 serves every point up to 0.35, and refuses the rest.
            match random_parts_from(&spec, &partial) {
                Ok(got) => assert!(p <= 0.35 && got == want, "seed {seed}, p {p}: drawn up to 0.35"),
                Err(e) => assert!(p > 0.35 && e.message().contains("0.35"), "{}", e.message()),
            }
            if p > 0.0 {
                assert!(got.exc_inh.nnz() > 0 && got.inh_rows.nnz() > 0, "p {p}: edges drawn");
            }
        }
    }
    assert!(
        SeedDraws::draw(10, 5, 1 << 32, 1.0).is_err(),
        "seeds beyond 2^32 are refused"
    );
    let fast = NetworkSpec {
        rng: RngMode::Fast,
        ..NetworkSpec::default()
    };
    let draws = SeedDraws::draw(10, 5, 0, 1.0).unwrap();
    assert!(
        random_parts_from(&fast, &draws).is_err(),
        "fast mode does not use drawings"
    );
}

/// The random blocks of one seed nest over connection probabilities: every
/// row drawn at a smaller p is a prefix of the row drawn at a larger one,
/// with the same weights before the balance (what lets the batched engine
/// run a `connectivity_proba` sweep as lanes of one block, bit for bit), and
/// the assembled matrix keeps its rows in column order.
#[test]
fn random_blocks_of_one_seed_nest_over_connection_probabilities() {
    use ratenet::network::build::random_parts;
    let (n, n_exc) = (60, 48);
    let g = NetworkSpec::default().g;
    let parts = |p: f64, balance: bool| random_parts(&observed_notebook(p, g, balance), n, n_exc, 3).unwrap();
    for balance in [false, true] {
        let ps = [0.1, 0.2, 0.35, 0.6];
        let all: Vec<_> = ps.iter().map(|&p| parts(p, balance)).collect();
        for w in all.windows(2) {
            let (small, large) = (&w[0], &w[1]);
            assert!(small.exc_inh.nnz() < large.exc_inh.nnz() && small.inh_rows.nnz() < large.inh_rows.nnz());
            for (excitatory, a, b) in [
                (true, &*small.exc_inh, &*large.exc_inh),
                (false, &*small.inh_rows, &*large.inh_rows),
            ] {
                for i in 0..a.n_rows {
                    let (ra, rb) = (a.indptr[i]..a.indptr[i + 1], b.indptr[i]..b.indptr[i + 1]);
                    assert!(
                        b.indices[rb.clone()].starts_with(&a.indices[ra.clone()]),
                        "row {i}: columns are a prefix"
                    );
                    // Excitatory rows are stored unbalanced; inhibitory rows'
                    // excitatory inputs are never scaled.
                    for (k, &j) in a.indices[ra.clone()].iter().enumerate() {
                        if !balance || excitatory || (j as usize) < n_exc {
                            assert_eq!(a.values[ra.start + k], b.values[rb.start + k], "row {i} column {j}");
                        }
                    }
                }
            }
        }
        // Not in column order, yet the matrix users see is.
        let p = &all[2];
        assert!(
            (0..n_exc).any(|i| p.exc_inh.indices[p.exc_inh.indptr[i]..p.exc_inh.indptr[i + 1]]
                .windows(2)
                .any(|w| w[0] > w[1]))
        );
        let ee = network::build::EeBlock::observed(&ratenet::matrix::Csr::from_sorted_triplets(
            n_exc,
            n_exc,
            [(0, 1, 0.5), (1, 0, 0.25), (1, 2, 0.75)],
        ));
        let w = network::build::parts_with(&observed_notebook(0.35, g, balance), p, &ee, None, None).assemble();
        for i in 0..n {
            let cols = &w.indices[w.indptr[i]..w.indptr[i + 1]];
            assert!(cols.windows(2).all(|c| c[0] < c[1]), "row {i} of W in column order");
        }
    }
}

/// Skipping draws is drawing them: the streams after `skip(k)` are those
/// after k draws, whatever was cached (an odd number of normals leaves the
/// second of a pair waiting) and wherever the blocks of 624 words end.
#[test]
fn skipping_draws_leaves_the_streams_where_drawing_them_does() {
    for seed in [0i128, 3, (1 << 32) - 1] {
        let (mut a, mut b) = (NumpyNormals::new(seed).unwrap(), NumpyNormals::new(seed).unwrap());
        let (mut x, mut y) = (PyRandom::new(seed), PyRandom::new(seed));
        for (i, k) in [0usize, 1, 2, 3, 378, 377, 155, 156, 157, 1000, 1, 4321]
            .into_iter()
            .enumerate()
        {
            a.skip(k);
            for _ in 0..k {
                if i % 2 == 0 {
                    b.skip_gauss();
                } else {
                    b.gauss();
                }
            }
            assert_eq!(
                a.gauss().to_bits(),
                b.gauss().to_bits(),
                "seed {seed}: normal after skipping {k}"
            );
            x.skip(k);
            for _ in 0..k {
                y.random();
            }
            assert_eq!(
                x.random().to_bits(),
                y.random().to_bits(),
                "seed {seed}: random() after skipping {k}"
            );
        }
    }
}

/// The block-wise shuffle is Fisher–Yates with one `interval(i)` per index,
/// and leaves the stream where those draws leave it.
#[test]
fn shuffle_is_fisher_yates_over_interval_draws() {
    for seed in [0i128, 9, (1 << 32) - 1] {
        for len in [0usize, 1, 2, 3, 623, 624, 625, 1000, 142_884] {
            let mut a: Vec<u32> = (0..len as u32).collect();
            let mut b = a.clone();
            let mut ra = NumpyRandomState::new(seed).unwrap();
            ra.shuffle(&mut a).unwrap();
            let mut rb = NumpyRandomState::new(seed).unwrap();
            for i in (1..len).rev() {
                let j = rb.interval(i as u32) as usize;
                b.swap(i, j);
            }
            assert_eq!(a, b, "seed {seed}, {len} entries");
            assert_eq!(
                ra.next_u32(),
                rb.next_u32(),
                "seed {seed}, {len} entries: the stream after"
            );
        }
    }
}
