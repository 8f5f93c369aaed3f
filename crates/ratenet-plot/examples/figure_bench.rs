//! Times each figure (PNG + SVG) on data the size of the homework's: the
//! best of `REPS` (default 15) drawings, in ms. `ONLY=time_series` (a name
//! prefix) draws one kind only, e.g. under `valgrind --tool=callgrind`;
//! `KEEP=1` keeps the files.
//!
//!     cargo run --release -p ratenet-plot --example figure_bench
use ratenet_plot::*;
use std::time::Instant;

fn series(n: usize, ne: usize, ni: usize) -> TimeSeries {
    let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
    let stim: Vec<f64> = t
        .iter()
        .map(|&t| if (5.0..15.0).contains(&t) { 1.0 } else { 0.0 })
        .collect();
    let r = |t: f64, g: f64, k: f64| {
        let base = 0.1 + 0.01 * (t * 3.0 + k).sin();
        if t < 5.0 {
            base
        } else if t < 15.0 {
            base + g * (1.0 - (-(t - 5.0)).exp())
        } else {
            base + g * (-(t - 15.0) / 3.0).exp()
        }
    };
    let exc: Vec<Vec<f64>> = (0..ne)
        .map(|k| t.iter().map(|&t| r(t, 50.0 + k as f64, k as f64)).collect())
        .collect();
    let inh: Vec<Vec<f64>> = (0..ni)
        .map(|k| t.iter().map(|&t| r(t, 80.0 + k as f64, k as f64)).collect())
        .collect();
    let mean = |v: &Vec<Vec<f64>>| -> Vec<f64> {
        (0..t.len())
            .map(|i| v.iter().map(|x| x[i]).sum::<f64>() / v.len() as f64)
            .collect()
    };
    TimeSeries {
        title: "observed (seed 0)".into(),
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

fn time(name: &str, reps: usize, mut f: impl FnMut()) {
    if let Ok(only) = std::env::var("ONLY") {
        if !name.starts_with(&only) {
            return;
        }
    }
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{name:24} {:7.2} ms", best * 1e3);
}

fn main() {
    let dir = tempfile_dir();
    let ts = series(5001, 40, 20);
    let n = 378;
    let mut s = 7u64;
    let mut rnd = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let m: Vec<f64> = (0..n * n)
        .map(|_| {
            let u = rnd();
            if u < 0.05 {
                rnd() * 3.0
            } else {
                0.0
            }
        })
        .collect();
    let w: Vec<f64> = m.iter().copied().filter(|x| *x != 0.0).collect();
    let conds: Vec<String> = ["observed", "no_reciprocal", "shuffled", "no_reciprocal_shuffled"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let runs: Vec<RunPoint> = (0..40)
        .map(|i| RunPoint {
            condition: conds[i % 4].clone(),
            x: None,
            delta_t: Some(15.0 + rnd()),
            returned: true,
            diverged: false,
        })
        .collect();
    let recip: Vec<(String, f64)> = (0..40).map(|i| (conds[i % 4].clone(), 400.0 + 200.0 * rnd())).collect();
    let reps: usize = std::env::var("REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    time("time_series", reps, || time_series(&dir, "ts", &ts).unwrap());
    time("matrix_heatmap", reps, || {
        matrix_heatmap(&dir, "hm", "E-E", &m, n).unwrap()
    });
    time("weight_histogram", reps, || {
        weight_histogram(&dir, "wh", "weights", &w).unwrap()
    });
    time("delta_t_distributions", reps, || {
        delta_t_distributions(&dir, "dt", &conds, &runs).unwrap()
    });
    time("reciprocal_pairs", reps, || {
        reciprocal_pairs(&dir, "rp", &conds, &recip).unwrap()
    });
    if std::env::var_os("KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    } else {
        println!("{}", dir.display());
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("figbench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
