//! Every bad input a user can give ends in exit status 2 and one line
//! `ratenet: …` that names the culprit — never a panic, a backtrace, a hang
//! or a silently wrong number (issue 15, "Bad input").

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
}

fn microns_cells() -> PathBuf {
    shared().join("microns_1300/cell_info_1300.feather")
}

fn microns_synapses() -> PathBuf {
    shared().join("microns_1300/synapses_synthetic_1300.feather")
}

fn pinky() -> (PathBuf, PathBuf) {
    let d = shared().join("pinky_v185");
    (
        d.join("soma_subgraph_synapses_spines_v185.csv"),
        d.join("soma_valence_v185.csv"),
    )
}

/// A temporary folder for the spec, tables and the download cache.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        let d = Dir(tempfile::tempdir().unwrap());
        std::fs::create_dir(d.cache()).unwrap();
        d
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn cache(&self) -> PathBuf {
        self.path("cache")
    }
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    /// `spec.toml` with `text`.
    fn spec(&self, text: &str) -> PathBuf {
        self.write("spec.toml", text)
    }
    /// Every file under the cache, relative.
    fn cached_files(&self) -> Vec<String> {
        fn walk(d: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p.display().to_string())
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.cache(), &mut out);
        out
    }
}

fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// A spec on the microns tables, one of them replaced.
fn microns_with(dir: &Dir, synapses: Option<&Path>, cells: Option<&Path>, extra: &str) -> PathBuf {
    let s = synapses.map_or_else(|| q(&microns_synapses()), q);
    let c = cells.map_or_else(|| q(&microns_cells()), q);
    dir.spec(&format!("[data]\nsynapses = {s}\ncells = {c}\n{extra}"))
}

/// A spec on pinky-like CSV tables (columns as in the v185 release).
fn pinky_with(dir: &Dir, synapses: &Path, cells: &Path, extra: &str) -> PathBuf {
    dir.spec(&format!(
        "[data]\nsynapses = {}\ncells = {}\npre_column = \"pre_root_id\"\npost_column = \"post_root_id\"\n\
         size_column = \"cleft_vx\"\ncell_id_column = \"pt_root_id\"\nmin_synapses = 1\n\
         [data.select]\ncell_type = \"e\"\n[simulation]\nt_max = 20.0\n{extra}",
        q(synapses),
        q(cells)
    ))
}

fn random_spec(dir: &Dir) -> PathBuf {
    dir.spec("[network]\nkind = \"random\"\nn_neurons = 60\n[simulation]\nt_max = 20.0\n")
}

fn ratenet(dir: &Dir, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ratenet"))
        .env("RATENET_CACHE", dir.cache())
        .env("RUST_BACKTRACE", "1")
        .current_dir(dir.0.path())
        .args(args.iter().map(|a| a.as_ref()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nothing here may hang: 60 s is far beyond any of these commands.
    let t0 = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "ratenet {:?} did not finish in 60 s",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Exit status 2, the last line on stderr `ratenet: …` naming every culprit,
/// no panic text anywhere, nothing on stdout. Returns that line.
fn fails(dir: &Dir, args: &[&dyn AsRef<std::ffi::OsStr>], culprits: &[&str]) -> String {
    let out = ratenet(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit status 2; stderr: {stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    for bad in ["panicked", "RUST_BACKTRACE", "internal error", "stack backtrace"] {
        assert!(!stderr.contains(bad), "{stderr}");
    }
    let line = stderr.lines().last().unwrap_or("").to_string();
    assert!(line.starts_with("ratenet: "), "{stderr}");
    // Only "downloading …" may come before the error line.
    for l in stderr.lines().rev().skip(1) {
        assert!(l.starts_with("downloading "), "one error line: {stderr}");
    }
    for c in culprits {
        assert!(line.contains(c), "the error names {c:?}: {line}");
    }
    line
}

fn simulate_fails(dir: &Dir, spec: &Path, sets: &[&str], culprits: &[&str]) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"simulate", &spec];
    for s in sets {
        args.push(&"--set");
        args.push(s);
    }
    fails(dir, &args, culprits)
}

// ---------------------------------------------------------------------------
// Table files

#[test]
fn missing_table_file() {
    let d = Dir::new();
    let missing = d.path("nope.feather");
    let spec = microns_with(&d, None, Some(&missing), "");
    simulate_fails(&d, &spec, &[], &["nope.feather", "data.cells", "no such file"]);
    let spec = microns_with(&d, Some(&d.path("nope")), None, "");
    simulate_fails(&d, &spec, &[], &["nope", "data.synapses", "no such file"]);
}

#[test]
fn directory_as_a_table() {
    let d = Dir::new();
    let sub = d.path("tables");
    std::fs::create_dir(&sub).unwrap();
    let spec = microns_with(&d, None, Some(&sub), "");
    simulate_fails(&d, &spec, &[], &["tables", "is a directory"]);
    let sub = d.path("cells.feather");
    std::fs::create_dir(&sub).unwrap();
    let spec = microns_with(&d, None, Some(&sub), "");
    simulate_fails(&d, &spec, &[], &["cells.feather", "is a directory"]);
}

#[test]
fn not_a_table() {
    let d = Dir::new();
    let mut x: u64 = 7;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    for (name, bytes) in [
        ("noise.feather", noise.clone()),
        ("noise.parquet", noise.clone()),
        ("noise.csv", noise),
        ("empty.feather", vec![]),
        ("empty.parquet", vec![]),
        ("empty.csv", vec![]),
        ("ragged.csv", b"pt_root_id,cell_type\n1,e\n2\n3,e,x\n".to_vec()),
    ] {
        let empty = bytes.is_empty();
        let p = d.write(name, bytes);
        let spec = microns_with(&d, None, Some(&p), "");
        let line = simulate_fails(&d, &spec, &[], &[name]);
        if empty {
            assert!(line.contains("is empty"), "{line}");
        }
    }
}

/// `cells.feather` cut at half its length, and copies with one compressed
/// buffer damaged.
#[test]
fn truncated_and_corrupt_feather() {
    let d = Dir::new();
    let bytes = std::fs::read(microns_cells()).unwrap();
    let cut = d.write("cut.feather", &bytes[..bytes.len() / 2]);
    let spec = microns_with(&d, None, Some(&cut), "");
    simulate_fails(&d, &spec, &[], &["cut.feather"]);
    let cut = d.write("cut2.feather", &bytes[..bytes.len() - 100]);
    let spec = microns_with(&d, None, Some(&cut), "");
    simulate_fails(&d, &spec, &[], &["cut2.feather"]);

    // Every zstd frame (magic 28 B5 2F FD) of the record batches damaged.
    let frames: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x28, 0xB5, 0x2F, 0xFD])
        .map(|(i, _)| i)
        .collect();
    assert!(
        frames.len() > 4,
        "a zstd-compressed Feather file ({} frames)",
        frames.len()
    );
    let mut all = bytes.clone();
    for &f in &frames {
        all[f] ^= 0xFF;
    }
    let bad = d.write("corrupt.feather", &all);
    let spec = microns_with(&d, None, Some(&bad), "");
    simulate_fails(&d, &spec, &[], &["corrupt.feather"]);

    // One frame at a time, through the library: a frame in a column that is
    // read is an error naming the file; one in a column that is not read
    // may pass; nothing panics, and the columns read are always right.
    let cols = ["pt_root_id", "cell_type_auto", "proofreading_strategy", "region"];
    let good = ratenet::data::Table::read(&microns_cells(), Some(&cols)).unwrap();
    let (mut errors, mut passes) = (0, 0);
    for (k, &f) in frames.iter().enumerate() {
        let mut b = bytes.clone();
        b[f + 1] ^= 0x5A;
        let p = d.write("one.feather", &b);
        match ratenet::data::Table::read(&p, Some(&cols)) {
            Err(e) => {
                assert!(e.to_string().contains("one.feather"), "frame {k}: {e}");
                errors += 1;
            }
            Ok(t) => {
                for c in cols {
                    assert_eq!(t.column(c).unwrap(), good.column(c).unwrap(), "frame {k}, column {c}");
                }
                passes += 1;
            }
        }
    }
    assert!(
        errors > 0,
        "some damaged frames are in columns that are read ({passes} passed)"
    );
}

#[test]
fn missing_column_lists_the_columns_present() {
    let d = Dir::new();
    let spec = microns_with(&d, None, None, "cell_id_column = \"root_id\"\n");
    simulate_fails(&d, &spec, &[], &["'root_id'", "pt_root_id", "cell_type_auto", "region"]);
    let spec = microns_with(&d, None, None, "size_column = \"sizes\"\n");
    simulate_fails(
        &d,
        &spec,
        &[],
        &["'sizes'", "pre_pt_root_id", "synapses_synthetic_1300.feather"],
    );
}

#[test]
fn wrong_column_types() {
    let d = Dir::new();
    let (syn, _) = pinky();
    let cells = d.write("cells.csv", "pt_root_id,cell_type\nabc,e\ndef,e\n");
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(&d, &spec, &[], &["cells.csv", "'pt_root_id'", "Utf8", "integer ids"]);
    let cells = d.write("cells2.csv", "pt_root_id,cell_type\n1.5,e\n2,e\n");
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(&d, &spec, &[], &["cells2.csv", "'pt_root_id'", "1.5", "row 0"]);
    let (_, cells) = pinky();
    let syn = d.write("syn.csv", "pre_root_id,post_root_id,cleft_vx\n1,2,big\n");
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(&d, &spec, &[], &["syn.csv", "'cleft_vx'", "numbers"]);
}

/// Synapse tables with the pinky cells' first ids and bad sizes.
#[test]
fn bad_synapse_sizes_are_refused() {
    let d = Dir::new();
    let (_, cells) = pinky();
    for (bad, what) in [("nan", "NaN"), ("inf", "infinite"), ("-3", "negative"), ("0", "zero")] {
        let syn = d.write(
            "syn.csv",
            format!("pre_root_id,post_root_id,cleft_vx\n1,2,50\n2,1,{bad}\n1,3,40\n"),
        );
        let spec = pinky_with(&d, &syn, &cells, "");
        simulate_fails(
            &d,
            &spec,
            &[],
            &["syn.csv", "'cleft_vx'", &format!("1 {what}"), "row 1"],
        );
    }
}

#[test]
fn selection_matching_no_cell_shows_the_values() {
    let d = Dir::new();
    let (syn, cells) = pinky();
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(
        &d,
        &spec,
        &["data.select.cell_type=x"],
        &["data.select", "cell_type", "\"e\"", "\"i\"", "\"g\""],
    );
    let spec = microns_with(&d, None, None, "");
    simulate_fails(&d, &spec, &["data.select.region=Mars"], &["Mars", "'region'", "\"V1\""]);
}

#[test]
fn fewer_than_two_neurons_after_min_synapses() {
    let d = Dir::new();
    let (syn, cells) = pinky();
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(
        &d,
        &spec,
        &["data.min_synapses=100000"],
        &["data.min_synapses", "100000"],
    );
    // Exactly one neuron left: two cells, one connection each way of a third.
    let cells = d.write("cells.csv", "pt_root_id,cell_type\n1,e\n2,e\n3,i\n");
    let syn = d.write("syn.csv", "pre_root_id,post_root_id,cleft_vx\n1,1,50\n1,1,40\n2,3,40\n");
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(&d, &spec, &[], &["only one neuron", "data.min_synapses"]);
}

#[test]
fn duplicate_ids() {
    let d = Dir::new();
    let (syn, _) = pinky();
    // One id selected in one row and not in the other: refused.
    let cells = d.write("cells.csv", "pt_root_id,cell_type,x\n1,e,0\n2,e,0\n1,i,5\n");
    let spec = pinky_with(&d, &syn, &cells, "");
    simulate_fails(&d, &spec, &[], &["cells.csv", "id 1", "'cell_type'", "rows 0, 2"]);
    // Duplicates that agree: accepted with one warning that counts them.
    let (syn, cells) = pinky();
    let spec = pinky_with(&d, &syn, &cells, "");
    for cmd in ["simulate", "connectome"] {
        let out = ratenet(&d, &[&cmd, &spec]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("duplicate")).collect();
        assert_eq!(warnings.len(), 1, "{stderr}");
        assert!(
            warnings[0].starts_with("ratenet: warning: ") && warnings[0].contains("3 duplicate ids"),
            "{stderr}"
        );
    }
    let out = d.path("out");
    let run = ratenet(
        &d,
        &[
            &"run",
            &spec,
            &"--quiet",
            &"--out",
            &out,
            &"--set",
            &"sweep.seeds=[0, 1]",
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("duplicate")).count(),
        1,
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Experiment files

#[test]
fn every_parameter_out_of_range() {
    let d = Dir::new();
    let spec = random_spec(&d);
    for (set, key) in [
        ("network.r_inhibitory=-0.1", "network.r_inhibitory"),
        ("network.r_inhibitory=1", "network.r_inhibitory"),
        ("network.connectivity_proba=-0.1", "network.connectivity_proba"),
        ("network.connectivity_proba=1.5", "network.connectivity_proba"),
        ("network.g=-1", "network.g"),
        ("simulation.dt=0", "simulation.dt"),
        ("simulation.dt=-0.01", "simulation.dt"),
        ("simulation.tau=0", "simulation.tau"),
        ("simulation.tau=-1", "simulation.tau"),
        ("simulation.t_max=0.001", "simulation.t_max"),
        ("metric.threshold_ratio=0", "metric.threshold_ratio"),
        ("metric.threshold_ratio=-0.5", "metric.threshold_ratio"),
        ("metric.divergence_threshold=0", "metric.divergence_threshold"),
        ("metric.divergence_threshold=-1", "metric.divergence_threshold"),
        ("network.n_neurons=0", "network.n_neurons"),
        ("simulation.dt=nan", "simulation.dt"),
        ("network.g=inf", "network.g"),
    ] {
        simulate_fails(&d, &spec, &[set], &[key]);
    }
}

#[test]
fn stimulus_windows() {
    let d = Dir::new();
    let spec = random_spec(&d);
    // Empty (on while start ≤ t_k ≤ end: no step falls in 1.001..1.005),
    // reversed, beyond t_max, and on the first step.
    simulate_fails(
        &d,
        &spec,
        &["stimulus.start=1.001", "stimulus.end=1.005"],
        &["stimulus", "no step"],
    );
    simulate_fails(&d, &spec, &["stimulus.start=2", "stimulus.end=1"], &["stimulus"]);
    simulate_fails(
        &d,
        &spec,
        &["stimulus.start=25", "stimulus.end=26"],
        &["stimulus", "t_max"],
    );
    simulate_fails(&d, &spec, &["stimulus.start=0"], &["stimulus.start"]);
}

#[test]
fn unknown_keys_wrong_types_unknown_names() {
    let d = Dir::new();
    let spec = random_spec(&d);
    simulate_fails(
        &d,
        &spec,
        &["network.connectivty_proba=0.1"],
        &["connectivty_proba", "did you mean 'connectivity_proba'"],
    );
    simulate_fails(
        &d,
        &spec,
        &["simulaton.dt=0.1"],
        &["simulaton", "did you mean '[simulation]'"],
    );
    simulate_fails(&d, &spec, &["network.g=abc"], &["network.g"]);
    simulate_fails(&d, &spec, &["network.n_neurons=1.5"], &["network.n_neurons"]);
    simulate_fails(&d, &spec, &["simulation.stop_early=3"], &["simulation.stop_early"]);
    simulate_fails(
        &d,
        &spec,
        &["simulation.transfer=sigmoidd"],
        &["sigmoidd", "simulation.transfer"],
    );
    let spec = d.spec(
        "[network]\nkind = \"random\"\nn_neurons = 60\n[[condition]]\nname = \"odd\"\nnulls = [\"shuffle_all\"]\n",
    );
    simulate_fails(&d, &spec, &[], &["shuffle_all", "odd"]);
    simulate_fails(
        &d,
        &random_spec(&d),
        &["network.kind=randm"],
        &["randm", "network.kind"],
    );
}

#[test]
fn sweeps_over_bad_keys() {
    let d = Dir::new();
    let base = "[network]\nkind = \"random\"\nn_neurons = 60\n[simulation]\nt_max = 20.0\n[sweep]\n";
    let out = d.path("out");
    for (sweep, culprits) in [
        (
            "\"network.gg\" = [1.0, 2.0]\n",
            &["network.gg", "did you mean 'network.g'"][..],
        ),
        ("\"network.kind\" = [\"random\"]\n", &["network.kind", "sweep"][..]),
        ("\"output.dir\" = [\"a\"]\n", &["output.dir", "sweep"][..]),
        ("\"network.g\" = []\n", &["network.g", "empty"][..]),
        ("seeds = []\n", &["sweep.seeds"][..]),
    ] {
        let spec = d.spec(&format!("{base}{sweep}"));
        fails(&d, &[&"run", &spec, &"--quiet", &"--out", &out], culprits);
    }
}

// ---------------------------------------------------------------------------
// Downloads

/// A server on 127.0.0.1 that answers each of `answers` to one connection,
/// in order, then stops (or after 30 s without a connection).
fn serve(answers: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for answer in answers {
            let t0 = std::time::Instant::now();
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break Some(s),
                    Err(_) if t0.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => break None,
                }
            };
            let Some(stream) = stream else { return };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let mut stream = reader.into_inner();
            let _ = stream.write_all(&answer);
            let _ = stream.flush();
        }
    });
    (base, handle)
}

fn http(status: &str, length: usize, body: &[u8]) -> Vec<u8> {
    let mut a = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").into_bytes();
    a.extend_from_slice(body);
    a
}

fn download_fails(d: &Dir, url: &str, extra: &str, culprits: &[&str]) {
    let spec = d.spec(&format!(
        "[data]\nsynapses = {}\ncells = {url:?}\n{extra}",
        q(&microns_synapses())
    ));
    fails(d, &[&"simulate", &spec], culprits);
    assert_eq!(
        d.cached_files(),
        Vec::<String>::new(),
        "nothing half-written in the cache"
    );
}

#[test]
fn download_errors_leave_nothing_in_the_cache() {
    let d = Dir::new();
    let body = std::fs::read(microns_cells()).unwrap();

    let (base, h) = serve(vec![http("404 Not Found", 9, b"not found")]);
    let url = format!("{base}/data/cells.feather");
    download_fails(&d, &url, "", &[&url, "data.cells", "404"]);
    h.join().unwrap();

    // Connection refused: a port that was just free.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/cells.feather");
    download_fails(&d, &url, "", &[&url, "data.cells"]);

    // Cut short: Content-Length says more than is sent.
    let (base, h) = serve(vec![http("200 OK", body.len(), &body[..body.len() / 3])]);
    let url = format!("{base}/cells.feather");
    download_fails(&d, &url, "", &[&url, "data.cells"]);
    h.join().unwrap();

    // The whole file, but not the pinned bytes.
    let (base, h) = serve(vec![http("200 OK", body.len(), &body)]);
    let url = format!("{base}/cells.feather");
    let pin = "0".repeat(64);
    download_fails(
        &d,
        &url,
        &format!("cells_sha256 = \"{pin}\"\n"),
        &[&url, "sha256", &pin],
    );
    h.join().unwrap();
}

// ---------------------------------------------------------------------------
// Outputs and sizes

#[test]
fn output_path_that_cannot_be_written() {
    let d = Dir::new();
    let spec = random_spec(&d);
    let file = d.write("plain", "x");
    let out = file.join("out");
    fails(&d, &[&"run", &spec, &"--quiet", &"--out", &out], &["plain"]);
    let trace = file.join("trace.csv");
    fails(&d, &[&"simulate", &spec, &"--trace", &trace], &["trace.csv"]);
    let npy = file.join("w.npy");
    fails(&d, &[&"network", &spec, &"--out", &npy], &["w.npy"]);
}

#[test]
fn dense_kernel_on_a_huge_network_is_refused_before_allocating() {
    let d = Dir::new();
    let spec = d.spec(
        "[network]\nkind = \"random\"\nn_neurons = 2000000\nconnectivity_proba = 1e-6\nrng = \"fast\"\n\
         [simulation]\nt_max = 20.0\nkernel = \"dense\"\n",
    );
    let t0 = std::time::Instant::now();
    fails(&d, &[&"simulate", &spec], &["simulation.kernel", "dense", "sparse"]);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "refused at once ({:?})",
        t0.elapsed()
    );
    // The sparse alternative runs, with the spectrum asked for (null: too
    // large for a dense eigen-decomposition), without an n² allocation.
    let spec = d.spec(
        "[network]\nkind = \"random\"\nn_neurons = 200000\nconnectivity_proba = 1e-5\nrng = \"fast\"\n\
         [simulation]\nt_max = 1.5\n[metric]\nspectrum = true\n",
    );
    for kernel in ["simulation.kernel=sparse", "simulation.kernel=auto"] {
        let out = ratenet(&d, &[&"simulate", &spec, &"--set", &kernel]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("\"lambda_max\":null"), "{stdout}");
    }
}

/// The duplicate-id warning through the library: before loading, after
/// loading, from a run's results and its progress, and from the store.
#[test]
fn data_warnings_reach_the_library() {
    struct Told(std::sync::Mutex<Vec<String>>);
    impl ratenet::Progress for Told {
        fn runs(&self, _: usize, _: usize) {}
        fn warning(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_string());
        }
    }
    let d = Dir::new();
    let (syn, cells) = pinky();
    let spec = pinky_with(&d, &syn, &cells, "");
    for store in [None, Some(d.cache()), Some(d.cache())] {
        let exp = ratenet::Experiment::from_path(&spec).unwrap().with_store(store);
        assert!(exp.warnings().is_empty(), "nothing loaded yet");
        let w = exp.data_warnings().unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3 duplicate ids in column 'pt_root_id'"), "{w:?}");
        assert_eq!(exp.warnings(), w);
        assert_eq!(exp.connectome().unwrap().warnings, w);
        let told = Told(Default::default());
        let results = exp
            .run(&ratenet::RunOptions {
                threads: Some(1),
                progress: Some(&told),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(results.warnings(), &w[..]);
        assert_eq!(*told.0.lock().unwrap(), w);
    }
}
