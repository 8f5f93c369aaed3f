//! Writes every figure with synthetic data into a directory, for eyeballing.

use std::path::PathBuf;

use ratenet_plot::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    let conds: Vec<String> = ["observed", "shuffled", "degree-preserving"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut runs = Vec::new();
    let mut seed = 1u64;
    let mut rnd = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for (ci, c) in conds.iter().enumerate() {
        for x in [0.15, 0.2, 0.25, 0.3, 0.35] {
            for _ in 0..10 {
                let base = 4.0 + 30.0 * x + 3.0 * ci as f64;
                let v = base + 3.0 * (rnd() - 0.5) * 2.0;
                let fail = rnd();
                runs.push(RunPoint {
                    condition: c.clone(),
                    x: Some(x),
                    delta_t: if fail < 0.06 { None } else { Some(v) },
                    returned: fail >= 0.06,
                    diverged: fail < 0.02,
                });
            }
        }
    }
    delta_t_distributions(&dir, "dist", &conds, &runs)?;
    sweep_plot(&dir, "sweep", "network.connectivity_proba", &conds, &runs)?;
    let t: Vec<f64> = (0..4000).map(|i| i as f64 * 0.01).collect();
    let stim: Vec<f64> = t
        .iter()
        .map(|&t| if (1.0..15.0).contains(&t) { 1.0 } else { 0.0 })
        .collect();
    let shape = |t: f64, tau: f64| {
        if t < 1.0 {
            0.0
        } else if t < 15.0 {
            1.0 - (-(t - 1.0) / 0.5).exp()
        } else {
            (-(t - 15.0) / tau).exp()
        }
    };
    let mut rnd2 = {
        let mut s = 7u64;
        move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
    };
    let exc: Vec<Vec<f64>> = (0..40)
        .map(|_| {
            let g = 4.0 + 8.0 * rnd2();
            let b = 1.0 + rnd2() * 3.0;
            t.iter()
                .map(|&t| b + g * shape(t, 4.0) + 0.3 * (t * 3.0 + b).sin())
                .collect()
        })
        .collect();
    let exc_mean: Vec<f64> = (0..t.len())
        .map(|i| exc.iter().map(|e| e[i]).sum::<f64>() / 40.0)
        .collect();
    let inh: Vec<Vec<f64>> = (0..20)
        .map(|_| {
            let g = 6.0 + 8.0 * rnd2();
            let b = 3.0 + rnd2() * 3.0;
            t.iter().map(|&t| b + g * shape(t, 3.0)).collect()
        })
        .collect();
    let inh_mean: Vec<f64> = (0..t.len())
        .map(|i| inh.iter().map(|e| e[i]).sum::<f64>() / 20.0)
        .collect();
    let ts = TimeSeries {
        title: "observed, seed 3".into(),
        t,
        exc,
        exc_mean,
        inh,
        inh_mean,
        stimulus: stim,
        stimulus_end: 15.0,
        t_return: Some(30.47),
        delta_t: Some(15.47),
    };
    time_series(&dir, "ts", &ts)?;
    let n = 400;
    let mut m = vec![0.0; n * n];
    let mut weights = Vec::new();
    for i in 0..n {
        for j in 0..n {
            if i != j && rnd2() < 0.25 {
                let w = -(rnd2().max(1e-12)).ln() * 0.05 * if i < 320 { 1.0 } else { -3.0 };
                m[i * n + j] = w;
                weights.push(w.abs());
            }
        }
    }
    matrix_heatmap(&dir, "matrix", "W (all neurons)", &m, n)?;
    let ee: Vec<f64> = (0..320)
        .flat_map(|i| (0..320).map(move |j| (i, j)))
        .map(|(i, j)| m[i * n + j])
        .collect();
    matrix_heatmap(&dir, "matrix_ee", "E–E weights", &ee, 320)?;
    matrix_heatmap(&dir, "matrix_small", "small", &[0.0, 1.0, -0.5, f64::NAN], 2)?;
    weight_histogram(&dir, "weights", "E–E weight distribution", &weights)?;
    let mut vals = vec![("observed".to_string(), 1180.0)];
    for i in 0..12 {
        vals.push(("shuffled".to_string(), 800.0 + 40.0 * rnd2() + i as f64));
        vals.push(("degree-preserving".to_string(), 900.0 + 40.0 * rnd2()));
    }
    reciprocal_pairs(&dir, "recip", &conds, &vals)?;

    // Degenerate inputs, to check they still look deliberate.
    let none: Vec<RunPoint> = (0..4)
        .map(|i| RunPoint {
            condition: "observed".into(),
            x: Some(0.25),
            delta_t: None,
            returned: false,
            diverged: i == 0,
        })
        .collect();
    delta_t_distributions(&dir, "degen_dist_none", &conds, &none)?;
    delta_t_distributions(&dir, "degen_dist_empty", &[], &[])?;
    sweep_plot(&dir, "degen_sweep_none", "p", &conds[..1], &none)?;
    let one: Vec<RunPoint> = (0..5)
        .map(|i| RunPoint {
            condition: "observed".into(),
            x: Some(0.25),
            delta_t: Some(10.0 + i as f64),
            returned: true,
            diverged: false,
        })
        .collect();
    sweep_plot(&dir, "degen_sweep_one", "network.connectivity_proba", &conds[..1], &one)?;
    sweep_plot(&dir, "degen_sweep_empty", "p", &[], &[])?;
    time_series(&dir, "degen_ts_empty", &TimeSeries::default())?;
    matrix_heatmap(&dir, "degen_matrix_zero", "zeros", &[0.0; 9], 3)?;
    weight_histogram(&dir, "degen_weights_empty", "nothing", &[])?;
    reciprocal_pairs(&dir, "degen_recip_empty", &conds, &[])?;

    let mut csv = String::from("condition,x,seed,delta_t,returned,diverged\n");
    for (i, r) in runs.iter().take(12).enumerate() {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.condition,
            r.x.unwrap_or(f64::NAN),
            i,
            r.delta_t.unwrap_or(f64::NAN),
            r.returned,
            r.diverged
        ));
    }
    let report = Report {
        title: "Return time after stimulus: observed vs shuffled".into(),
        generated: "2025-01-01 12:00:00 UTC".into(),
        spec_toml: "[network]\nconnectivity_proba = 0.25\n\n[stimulus]\nstart = 1.0\nend = 15.0\n".into(),
        provenance: vec![
            ("weights".into(), "data/ee.npy".into()),
            ("sha256".into(), "ab".repeat(32)),
        ],
        sections: vec![
            Section::Text {
                title: "Summary".into(),
                body: "The observed network returns more slowly than its shuffles.\n\nSecond paragraph.".into(),
            },
            Section::Table {
                title: "Runs".into(),
                csv,
            },
            Section::Figure {
                title: "ΔT distributions".into(),
                caption: "Histograms and strip plot per condition.".into(),
                png: dir.join("dist.png"),
            },
            Section::Figure {
                title: "Sweep".into(),
                caption: "Mean ± sd per condition.".into(),
                png: dir.join("sweep.png"),
            },
        ],
    };
    write_report(&dir.join("report.html"), &report)?;
    Ok(())
}
