//! Every figure must produce a PNG and an SVG for normal and degenerate
//! inputs without panicking, and the report must be self-contained.

use std::fs;
use std::path::{Path, PathBuf};

use ratenet_plot::*;

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

fn check_outputs(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let bytes = fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.len() > 1000, "{stem}.png too small");
    assert!(bytes.starts_with(PNG_SIG), "{stem}.png lacks the PNG signature");
    let text = fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    let head = text.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{stem}.svg does not start like SVG"
    );
    assert!(text.trim_end().ends_with("</svg>"), "{stem}.svg is not closed");
    (png, svg)
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn run(c: &str, x: Option<f64>, dt: Option<f64>) -> RunPoint {
    RunPoint {
        condition: c.into(),
        x,
        delta_t: dt,
        returned: dt.is_some(),
        diverged: false,
    }
}

fn sample_runs() -> Vec<RunPoint> {
    let mut runs = Vec::new();
    for (ci, c) in ["observed", "shuffled"].iter().enumerate() {
        for (xi, x) in [0.15, 0.25, 0.35].iter().enumerate() {
            for s in 0..6 {
                let v = 5.0 + 10.0 * x + ci as f64 * 2.0 + (s as f64 * 0.7).sin() + xi as f64;
                runs.push(run(c, Some(*x), Some(v)));
            }
        }
        runs.push(run(c, Some(0.35), None));
        runs.push(RunPoint {
            condition: c.to_string(),
            x: Some(0.15),
            delta_t: None,
            returned: false,
            diverged: true,
        });
    }
    runs
}

#[test]
fn distributions_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conds = names(&["observed", "shuffled"]);
    delta_t_distributions(d, "normal", &conds, &sample_runs()).unwrap();
    check_outputs(d, "normal");

    delta_t_distributions(d, "empty", &conds, &[]).unwrap();
    check_outputs(d, "empty");
    delta_t_distributions(d, "no_conditions", &[], &[]).unwrap();
    check_outputs(d, "no_conditions");

    let none_returned: Vec<RunPoint> = (0..5).map(|_| run("observed", None, None)).collect();
    delta_t_distributions(d, "none_returned", &conds, &none_returned).unwrap();
    check_outputs(d, "none_returned");

    let single = vec![run("observed", None, Some(3.0))];
    delta_t_distributions(d, "single", &names(&["observed"]), &single).unwrap();
    check_outputs(d, "single");

    let weird = vec![
        run("observed", None, Some(f64::NAN)),
        run("observed", None, Some(f64::INFINITY)),
        run("observed", None, Some(2.0)),
        run("observed", None, Some(2.0)),
        run("unlisted", None, Some(-1.0)),
    ];
    delta_t_distributions(d, "weird", &conds, &weird).unwrap();
    check_outputs(d, "weird");
}

#[test]
fn sweep_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conds = names(&["observed", "shuffled"]);
    sweep_plot(d, "normal", "network.connectivity_proba", &conds, &sample_runs()).unwrap();
    check_outputs(d, "normal");

    sweep_plot(d, "empty", "p", &conds, &[]).unwrap();
    check_outputs(d, "empty");

    let one_x: Vec<RunPoint> = (0..4).map(|i| run("observed", Some(0.25), Some(i as f64))).collect();
    sweep_plot(d, "one_x", "p", &names(&["observed"]), &one_x).unwrap();
    check_outputs(d, "one_x");

    let failures: Vec<RunPoint> = (0..4)
        .map(|i| RunPoint {
            condition: "observed".into(),
            x: Some(i as f64),
            delta_t: None,
            returned: false,
            diverged: i % 2 == 0,
        })
        .collect();
    sweep_plot(d, "failures", "", &conds, &failures).unwrap();
    check_outputs(d, "failures");

    let no_x = vec![
        run("observed", None, Some(1.0)),
        run("observed", Some(f64::NAN), Some(1.0)),
    ];
    sweep_plot(d, "no_x", "p", &conds, &no_x).unwrap();
    check_outputs(d, "no_x");

    let zero_x = vec![
        run("observed", Some(0.0), Some(f64::INFINITY)),
        run("observed", Some(0.0), Some(1e300)),
        run("observed", Some(0.0), Some(-1e300)),
    ];
    sweep_plot(d, "huge", "p", &conds, &zero_x).unwrap();
    check_outputs(d, "huge");
}

fn sample_series(n: usize) -> TimeSeries {
    let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
    let stim: Vec<f64> = t
        .iter()
        .map(|&t| if (1.0..15.0).contains(&t) { 1.0 } else { 0.0 })
        .collect();
    let r = |t: f64, g: f64| {
        if t < 1.0 {
            1.0
        } else if t < 15.0 {
            1.0 + g
        } else {
            1.0 + g * (-(t - 15.0) / 3.0).exp()
        }
    };
    let exc: Vec<Vec<f64>> = (0..5)
        .map(|k| t.iter().map(|&t| r(t, 3.0 + k as f64)).collect())
        .collect();
    let inh: Vec<Vec<f64>> = (0..3)
        .map(|k| t.iter().map(|&t| r(t, 5.0 + k as f64)).collect())
        .collect();
    let mean = |v: &Vec<Vec<f64>>| -> Vec<f64> {
        (0..t.len())
            .map(|i| v.iter().map(|x| x[i]).sum::<f64>() / v.len() as f64)
            .collect()
    };
    TimeSeries {
        title: "observed <seed 1>".into(),
        exc_mean: mean(&exc),
        inh_mean: mean(&inh),
        t,
        exc,
        inh,
        stimulus: stim,
        stimulus_end: 15.0,
        t_return: Some(30.47),
        delta_t: Some(15.47),
    }
}

#[test]
fn time_series_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    time_series(d, "normal", &sample_series(4000)).unwrap();
    check_outputs(d, "normal");

    time_series(d, "empty", &TimeSeries::default()).unwrap();
    check_outputs(d, "empty");

    let mut nr = sample_series(500);
    nr.t_return = None;
    nr.delta_t = None;
    nr.exc[0][10] = f64::NAN;
    nr.inh_mean[3] = f64::INFINITY;
    nr.stimulus_end = f64::NAN;
    time_series(d, "not_returned", &nr).unwrap();
    check_outputs(d, "not_returned");

    let mut ragged = sample_series(300);
    ragged.exc[1].truncate(10);
    ragged.stimulus.clear();
    ragged.delta_t = None;
    time_series(d, "ragged", &ragged).unwrap();
    check_outputs(d, "ragged");

    let mut one = sample_series(1);
    one.t_return = Some(1e12);
    time_series(d, "one_sample", &one).unwrap();
    check_outputs(d, "one_sample");
}

#[test]
fn heatmap_sizes_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 400;
    // Dense pseudo-random weights: the worst case for SVG size.
    let m: Vec<f64> = (0..n * n)
        .map(|i| {
            let x = ((i as u64).wrapping_mul(2654435761) % 1000) as f64 / 1000.0;
            if i % 3 == 0 {
                0.0
            } else {
                x - 0.3
            }
        })
        .collect();
    matrix_heatmap(d, "big", "E–E weights", &m, n).unwrap();
    let (_, svg) = check_outputs(d, "big");
    let size = fs::metadata(&svg).unwrap().len();
    assert!(size < 2_000_000, "heatmap SVG is {size} bytes");
    assert!(fs::read_to_string(&svg).unwrap().contains("data:image/png;base64,"));

    matrix_heatmap(d, "zeros", "zeros", &[0.0; 25], 5).unwrap();
    check_outputs(d, "zeros");
    matrix_heatmap(d, "empty", "empty", &[], 0).unwrap();
    check_outputs(d, "empty");
    matrix_heatmap(d, "one", "one", &[2.0], 1).unwrap();
    check_outputs(d, "one");
    matrix_heatmap(d, "nonfinite", "nan", &[f64::NAN, f64::INFINITY, -1.0, 0.5], 2).unwrap();
    check_outputs(d, "nonfinite");
    let big_n = 1000;
    matrix_heatmap(d, "huge", "huge", &vec![0.1; big_n * big_n], big_n).unwrap();
    let (_, svg) = check_outputs(d, "huge");
    assert!(fs::metadata(&svg).unwrap().len() < 2_000_000);

    let err = matrix_heatmap(d, "bad", "bad", &[1.0, 2.0, 3.0], 2).unwrap_err();
    assert!(!err.to_string().contains('\n'));
    assert!(err.to_string().contains("expected"));
}

#[test]
fn weight_histogram_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w: Vec<f64> = (0..5000)
        .map(|i| if i % 4 == 0 { 0.0 } else { (i % 97) as f64 / 97.0 })
        .collect();
    weight_histogram(d, "normal", "weights", &w).unwrap();
    check_outputs(d, "normal");
    weight_histogram(d, "zeros", "weights", &[0.0; 10]).unwrap();
    check_outputs(d, "zeros");
    weight_histogram(d, "empty", "weights", &[]).unwrap();
    check_outputs(d, "empty");
    weight_histogram(d, "one", "weights", &[0.3]).unwrap();
    check_outputs(d, "one");
    weight_histogram(d, "signed", "w", &[-2.0, -1.0, f64::NAN, 1.0, f64::INFINITY]).unwrap();
    check_outputs(d, "signed");
    weight_histogram(d, "negative", "w", &[-2.0, -1.0]).unwrap();
    check_outputs(d, "negative");
}

#[test]
fn reciprocal_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conds = names(&["observed", "shuffled"]);
    let mut v = vec![("observed".to_string(), 120.0)];
    v.extend((0..10).map(|i| ("shuffled".to_string(), 80.0 + i as f64)));
    reciprocal_pairs(d, "normal", &conds, &v).unwrap();
    check_outputs(d, "normal");
    reciprocal_pairs(d, "empty", &conds, &[]).unwrap();
    check_outputs(d, "empty");
    reciprocal_pairs(d, "nothing", &[], &[]).unwrap();
    check_outputs(d, "nothing");
    let z = vec![
        ("observed".to_string(), 0.0),
        ("shuffled".to_string(), f64::NAN),
        ("other".to_string(), -5.0),
    ];
    reciprocal_pairs(d, "zeros", &conds, &z).unwrap();
    check_outputs(d, "zeros");
}

#[test]
fn decay_scatter_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conds = names(&["r_max 10", "r_max 40"]);
    let v: Vec<(String, f64, f64)> = (0..20)
        .map(|i| (conds[i % 2].clone(), 1.2 + i as f64 * 0.01, 1.25 + i as f64 * 0.012))
        .collect();
    decay_scatter(d, "normal", &conds, &v).unwrap();
    check_outputs(d, "normal");
    decay_scatter(d, "empty", &conds, &[]).unwrap();
    check_outputs(d, "empty");
    let odd = vec![
        ("r_max 10".to_string(), f64::NAN, 1.0),
        ("r_max 40".to_string(), 2.0, 2.0),
    ];
    decay_scatter(d, "one", &conds, &odd).unwrap();
    check_outputs(d, "one");
}

#[test]
fn motif_zscores_normal_and_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let motifs = names(&["reciprocal", "003", "012", "102", "300"]);
    let nulls = names(&["shuffle_connections", "degree_preserving"]);
    let mut cells = Vec::new();
    for (mi, m) in motifs.iter().enumerate() {
        for (ni, n) in nulls.iter().enumerate() {
            let null_z: Vec<f64> = (0..100).map(|i| ((i * 37 % 100) as f64 - 50.0) / 25.0).collect();
            cells.push(MotifZ {
                motif: m.clone(),
                null: n.clone(),
                // A large over-representation, small effects, and one undefined z.
                z: match (mi, ni) {
                    (0, _) => Some(60.0 / (ni + 1) as f64),
                    (4, 1) => None,
                    _ => Some(mi as f64 - 2.5 + ni as f64),
                },
                null_z,
            });
        }
    }
    motif_zscores(d, "normal", &motifs, &nulls, &cells).unwrap();
    check_outputs(d, "normal");
    motif_zscores(d, "empty", &motifs, &nulls, &[]).unwrap();
    check_outputs(d, "empty");
    motif_zscores(d, "nothing", &[], &[], &[]).unwrap();
    check_outputs(d, "nothing");
    let odd = vec![MotifZ {
        motif: "unlisted".into(),
        null: "x".into(),
        z: Some(f64::NAN),
        null_z: vec![f64::INFINITY, 0.0],
    }];
    motif_zscores(d, "odd", &motifs, &nulls, &odd).unwrap();
    check_outputs(d, "odd");
}

#[test]
fn stem_must_be_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    assert!(weight_histogram(dir.path(), "a/b", "t", &[1.0]).is_err());
    assert!(weight_histogram(dir.path(), "", "t", &[1.0]).is_err());
}

#[test]
fn creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    weight_histogram(&nested, "w", "t", &[1.0, 2.0]).unwrap();
    check_outputs(&nested, "w");
}

#[test]
fn report_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    delta_t_distributions(d, "dist", &names(&["observed"]), &sample_runs()).unwrap();
    weight_histogram(d, "w", "weights", &[1.0, 2.0, 3.0]).unwrap();
    let csv = "condition,seed,delta_t,returned\n\
               observed,1,15.471234,true\n\
               \"shuffled, <degree>\",2,NaN,false\n\
               shuffled,3,0.000123456,true\n";
    let report = Report {
        title: "Return times <observed> & \"nulls\"".into(),
        generated: "2024-05-01 12:00:00 UTC".into(),
        spec_toml: "[network]\nconnectivity_proba = 0.25 # <b>not bold</b>\n".into(),
        provenance: vec![("file".into(), "data/w.npy".into()), ("sha256".into(), "ab".repeat(32))],
        sections: vec![
            Section::Text {
                title: "Summary".into(),
                body: "First paragraph with <script>alert(1)</script>.\n\nSecond one.".into(),
            },
            Section::Table {
                title: "Runs".into(),
                csv: csv.into(),
            },
            Section::Figure {
                title: "ΔT distributions".into(),
                caption: "Caption & more".into(),
                png: d.join("dist.png"),
            },
            Section::Figure {
                title: "Weights".into(),
                caption: String::new(),
                png: d.join("w.png"),
            },
            Section::Table {
                title: "Empty".into(),
                csv: String::new(),
            },
        ],
    };
    let path = d.join("out").join("report.html");
    write_report(&path, &report).unwrap();
    let html = fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 2);
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Return times &lt;observed&gt; &amp; &quot;nulls&quot;"));
    assert!(html.contains("&lt;b&gt;not bold&lt;/b&gt;"));
    assert!(html.contains(&"ab".repeat(32)));
    // Every table row, with numbers at about 4 significant digits.
    for cell in [
        "observed",
        "15.47",
        "shuffled, &lt;degree&gt;",
        "NaN",
        "0.0001235",
        "<td class=\"num\">3</td>",
    ] {
        assert!(html.contains(cell), "missing cell {cell}");
    }
    // Header + 3 runs, then 2 provenance rows; the empty table has none.
    assert_eq!(html.matches("<tr>").count(), 4 + 2);

    // A missing figure is reported in the page, not as an error.
    let broken = Report {
        title: "x".into(),
        sections: vec![Section::Figure {
            title: "gone".into(),
            caption: String::new(),
            png: d.join("nope.png"),
        }],
        ..Report::default()
    };
    write_report(&d.join("broken.html"), &broken).unwrap();
    let html = fs::read_to_string(d.join("broken.html")).unwrap();
    assert!(html.contains("Figure not available"));
}
