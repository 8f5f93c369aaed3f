//! The experiment file: TOML in, a validated [`Spec`] out, with `--set`
//! overrides applied to the raw table first so that every way of giving a
//! value goes through the same checks.

use std::path::Path;

use crate::data::{Aggregate, DataSpec, Selection};
use crate::network::{NetworkKind, NetworkSpec, NullModel, RngMode};
use crate::sim::{KernelChoice, Method, MetricSpec, SimSpec, StimulusSpec, StopEarly, Target, TransferSpec};
use crate::{bail, err, Result};

/// One condition: a name and the null models applied to the E–E matrix, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Name used in results.
    pub name: String,
    /// Null models, applied in order.
    pub nulls: Vec<NullModel>,
}

/// The `[sweep]` section: seeds and a grid of parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Seeds, in order.
    pub seeds: Vec<u64>,
    /// (dotted key, values); several keys make a full grid, the first slowest.
    pub params: Vec<(String, Vec<f64>)>,
}

/// The `[output]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    /// Where `run` writes (relative to the working directory).
    pub dir: String,
    /// Whether `run` draws figures and the report.
    pub figures: bool,
}

/// A whole experiment file, resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `compat = "notebook"`, if given.
    pub compat: Option<String>,
    /// `[data]`.
    pub data: DataSpec,
    /// `[network]`.
    pub network: NetworkSpec,
    /// `[simulation]`.
    pub simulation: SimSpec,
    /// Mat-vec kernel (`simulation.kernel`).
    pub kernel: KernelChoice,
    /// `[stimulus]`.
    pub stimulus: StimulusSpec,
    /// `[metric]`.
    pub metric: MetricSpec,
    /// `[[condition]]`, at least one.
    pub conditions: Vec<Condition>,
    /// `[sweep]`.
    pub sweep: Sweep,
    /// `[output]`.
    pub output: OutputSpec,
    /// The merged TOML (file + `--set`), the source of sweep points and of
    /// the resolved spec written next to results.
    pub raw: toml::Table,
}

/// Keys that a sweep may vary (numeric keys of the model).
pub const NUMERIC_KEYS: &[&str] = &[
    "data.min_synapses",
    "data.scale",
    "network.n_neurons",
    "network.r_inhibitory",
    "network.g",
    "network.connectivity_proba",
    "network.connectivity_proba_ee",
    "network.inh_exc_balance",
    "simulation.t_max",
    "simulation.dt",
    "simulation.tau",
    "simulation.transfer.gain",
    "simulation.transfer.threshold",
    "simulation.transfer.r_max",
    "stimulus.start",
    "stimulus.end",
    "stimulus.strength",
    "metric.threshold_ratio",
    "metric.divergence_threshold",
];

/// Reads one section, remembering which keys were used so that the rest can
/// be reported as unknown.
struct Section<'a> {
    name: &'static str,
    t: Option<&'a toml::Table>,
    used: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(root: &'a toml::Table, name: &'static str) -> Result<Self> {
        let t = match root.get(name) {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(v) => bail!("[{name}]: expected a table, got {}", v.type_str()),
        };
        Ok(Section {
            name,
            t,
            used: Vec::new(),
        })
    }

    fn get(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        self.used.push(key);
        self.t.and_then(|t| t.get(key))
    }

    fn f64(&mut self, key: &'static str, default: f64) -> Result<f64> {
        Ok(self.opt_f64(key)?.unwrap_or(default))
    }

    fn opt_f64(&mut self, key: &'static str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Float(x)) => Ok(Some(*x)),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(v) => bail!("{}.{key}: expected a number, got {} {v}", self.name, v.type_str()),
        }
    }

    fn uint(&mut self, key: &'static str, default: u64) -> Result<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i as u64),
            Some(toml::Value::Float(x)) if *x >= 0.0 && x.fract() == 0.0 && *x < 9e15 => Ok(*x as u64),
            Some(v) => bail!("{}.{key}: expected a non-negative integer, got {v}", self.name),
        }
    }

    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => bail!("{}.{key}: expected true or false, got {v}", self.name),
        }
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => bail!("{}.{key}: expected a string, got {v}", self.name),
        }
    }

    fn finish(self) -> Result<()> {
        if let Some(t) = self.t {
            for k in t.keys() {
                if !self.used.contains(&k.as_str()) {
                    bail!("[{}]: unknown key '{k}' (known: {})", self.name, self.used.join(", "));
                }
            }
        }
        Ok(())
    }
}

/// Parse a `--set` value: a TOML value if it is one, else a plain string.
pub fn parse_set_value(v: &str) -> toml::Value {
    match format!("v = {v}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(v.into())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

/// Put `value` at the dotted `key` of `root`, creating tables on the way.
/// Setting one column of `data.select` when the file has no selection first
/// copies the default selection in, so that it adds to the one in force.
pub fn set_key(root: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts = split_key(key)?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if parts.len() >= 3 && parts[0] == "data" && parts[1] == "select" {
        let data = root
            .entry("data")
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if let toml::Value::Table(d) = data {
            d.entry("select")
                .or_insert_with(|| toml::Value::Table(Selection::default().to_toml()));
        }
    }
    if parts.len() == 3 && parts[0] == "simulation" && parts[1] == "transfer" {
        // `simulation.transfer.gain = …` on `transfer = "tanh"`: the name
        // becomes the table's kind.
        if let Some(toml::Value::Table(sim)) = root.get_mut("simulation") {
            if let Some(toml::Value::String(kind)) = sim.get("transfer") {
                let mut t = toml::Table::new();
                t.insert("kind".into(), toml::Value::String(kind.clone()));
                sim.insert("transfer".into(), toml::Value::Table(t));
            }
        }
    }
    let mut t = root;
    for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
        let e = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        t = match e {
            toml::Value::Table(t) => t,
            _ => bail!("--set {key}: '{}' is not a table", parts[..=i].join(".")),
        };
    }
    t.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Split a dotted key into its parts, as TOML does (`sweep."network.g"`);
/// under `sweep.` the rest is one key, so `sweep.network.g` works too.
fn split_key(key: &str) -> Result<Vec<String>> {
    let bad = || err!("--set {key}: expected section.key=value");
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in key.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => parts.push(std::mem::take(&mut cur).trim().to_string()),
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(bad());
    }
    parts.push(cur.trim().to_string());
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    if parts[0] == "sweep" && parts.len() > 2 {
        let rest = parts[1..].join(".");
        parts.truncate(1);
        parts.push(rest);
    }
    Ok(parts)
}

/// Parse `"0-9"`, `"7"` or `[0, 3, 7]` into seeds.
pub fn parse_seeds(v: &toml::Value) -> Result<Vec<u64>> {
    let bad = || err!("sweep.seeds: expected a range like \"0-9\" or a list of non-negative integers, got {v}");
    match v {
        toml::Value::String(s) => {
            let s = s.trim();
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let (a, b): (u64, u64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if b < a || b - a > 10_000_000 {
                return Err(bad());
            }
            Ok((a..=b).collect())
        }
        toml::Value::Integer(i) if *i >= 0 => Ok(vec![*i as u64]),
        toml::Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| match x {
                toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

impl Spec {
    /// Read a file and apply `--set key=value` overrides.
    pub fn load(path: &Path, sets: &[String]) -> Result<Spec> {
        let text = std::fs::read_to_string(path).map_err(|e| err!("{}: cannot read ({e})", path.display()))?;
        let mut raw: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err!("{}: not valid TOML: {}", path.display(), e.message().trim()))?;
        for s in sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| err!("--set {s}: expected section.key=value"))?;
            set_key(&mut raw, k.trim(), parse_set_value(v.trim()))?;
        }
        Spec::from_table(raw).map_err(|e| e.context(path.display()))
    }

    /// Parse a spec from TOML text (no file).
    pub fn parse(text: &str) -> Result<Spec> {
        let raw: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err!("not valid TOML: {}", e.message().trim()))?;
        Spec::from_table(raw)
    }

    /// The same spec with one numeric key replaced (a sweep point).
    pub fn with_value(&self, key: &str, value: f64) -> Result<Spec> {
        let mut raw = self.raw.clone();
        let v = if value.fract() == 0.0 && value.abs() < 9e15 && integer_key(key) {
            toml::Value::Integer(value as i64)
        } else {
            toml::Value::Float(value)
        };
        set_key(&mut raw, key, v)?;
        Spec::from_table(raw)
    }

    /// Validate and resolve a merged table.
    pub fn from_table(raw: toml::Table) -> Result<Spec> {
        for k in raw.keys() {
            if ![
                "compat",
                "data",
                "network",
                "simulation",
                "stimulus",
                "metric",
                "condition",
                "sweep",
                "output",
            ]
            .contains(&k.as_str())
            {
                bail!("unknown key '{k}' (known: compat, [data], [network], [simulation], [stimulus], [metric], [[condition]], [sweep], [output])");
            }
        }
        let compat = match raw.get("compat") {
            None => None,
            Some(toml::Value::String(s)) if s == "notebook" => Some(s.clone()),
            Some(v) => bail!("compat: expected \"notebook\", got {v}"),
        };
        let notebook = compat.is_some();

        let mut d = Section::new(&raw, "data")?;
        let dd = DataSpec::default();
        let data = DataSpec {
            synapses: d.string("synapses")?.unwrap_or(dd.synapses),
            cells: d.string("cells")?.unwrap_or(dd.cells),
            synapses_sha256: d.string("synapses_sha256")?,
            cells_sha256: d.string("cells_sha256")?,
            pre_column: d.string("pre_column")?.unwrap_or(dd.pre_column),
            post_column: d.string("post_column")?.unwrap_or(dd.post_column),
            size_column: d.string("size_column")?.unwrap_or(dd.size_column),
            cell_id_column: d.string("cell_id_column")?.unwrap_or(dd.cell_id_column),
            min_synapses: d.uint("min_synapses", dd.min_synapses)?,
            aggregate: match d.string("aggregate")? {
                Some(s) => Aggregate::parse(&s)?,
                None => dd.aggregate,
            },
            scale: d.f64("scale", dd.scale)?,
            select: match d.get("select") {
                None => dd.select,
                Some(toml::Value::Table(t)) => Selection::from_toml(t, "data.select")?,
                Some(v) => bail!("data.select: expected a table like {{ column = value }}, got {v}"),
            },
        };
        d.finish()?;
        if !(data.scale.is_finite() && data.scale > 0.0) {
            bail!("data.scale = {}: expected a positive number", data.scale);
        }

        let mut n = Section::new(&raw, "network")?;
        let nd = NetworkSpec::default();
        let network = NetworkSpec {
            kind: match n.string("kind")? {
                Some(s) => NetworkKind::parse(&s)?,
                None => nd.kind,
            },
            n_neurons: n.uint("n_neurons", nd.n_neurons as u64)? as usize,
            r_inhibitory: n.f64("r_inhibitory", nd.r_inhibitory)?,
            g: n.f64("g", nd.g)?,
            connectivity_proba: n.f64("connectivity_proba", nd.connectivity_proba)?,
            connectivity_proba_ee: n.opt_f64("connectivity_proba_ee")?,
            inh_exc_balance: n.f64("inh_exc_balance", nd.inh_exc_balance)?,
            balance: n.bool("balance", nd.balance)?,
            rng: match n.string("rng")? {
                Some(s) => RngMode::parse(&s)?,
                None => RngMode::Notebook,
            },
        };
        n.finish()?;
        network.validate()?;

        let mut s = Section::new(&raw, "simulation")?;
        let sd = SimSpec::default();
        let simulation = SimSpec {
            t_max: s.f64("t_max", sd.t_max)?,
            dt: s.f64("dt", sd.dt)?,
            tau: s.f64("tau", sd.tau)?,
            transfer: match s.get("transfer") {
                Some(v) => TransferSpec::from_toml(v)?,
                None => sd.transfer,
            },
            method: match s.string("method")? {
                Some(m) => Method::parse(&m)?,
                None => sd.method,
            },
            stop_early: match s.get("stop_early") {
                Some(v) => StopEarly::from_toml(v)?,
                None => sd.stop_early,
            },
        };
        let kernel = match s.string("kernel")?.as_deref() {
            None | Some("auto") => KernelChoice::Auto,
            Some("dense") => KernelChoice::Dense,
            Some("sparse") => KernelChoice::Sparse,
            Some(k) => bail!("simulation.kernel: unknown '{k}' (expected \"auto\", \"dense\" or \"sparse\")"),
        };
        s.finish()?;

        let mut st = Section::new(&raw, "stimulus")?;
        let std_ = StimulusSpec::default();
        let stimulus = StimulusSpec {
            start: st.f64("start", std_.start)?,
            end: st.f64("end", std_.end)?,
            strength: st.f64("strength", std_.strength)?,
            target: match st.string("target")? {
                Some(x) => Target::parse(&x)?,
                None if notebook => Target::Notebook,
                None => std_.target,
            },
        };
        st.finish()?;

        let mut m = Section::new(&raw, "metric")?;
        let metric = MetricSpec {
            threshold_ratio: m.f64("threshold_ratio", 0.01)?,
            divergence_threshold: m.opt_f64("divergence_threshold")?,
            spectrum: m.bool("spectrum", false)?,
        };
        m.finish()?;
        if !metric.threshold_ratio.is_finite() {
            bail!(
                "metric.threshold_ratio = {}: expected a finite number",
                metric.threshold_ratio
            );
        }
        if let Some(x) = metric.divergence_threshold {
            if x.is_nan() || x <= 0.0 {
                bail!("metric.divergence_threshold = {x}: expected a positive number");
            }
        }

        let conditions = parse_conditions(raw.get("condition"))?;
        if network.kind != NetworkKind::Observed {
            if let Some(c) = conditions.iter().find(|c| !c.nulls.is_empty()) {
                bail!(
                    "condition '{}': null models apply to the observed E–E matrix, not to network.kind = \"{}\"",
                    c.name,
                    network.kind.name()
                );
            }
        }

        let mut sw = Section::new(&raw, "sweep")?;
        let seeds = match sw.get("seeds") {
            None => vec![0],
            Some(v) => parse_seeds(v)?,
        };
        let mut params = Vec::new();
        if let Some(t) = sw.t {
            for (k, v) in t {
                if k == "seeds" {
                    continue;
                }
                if !NUMERIC_KEYS.contains(&k.as_str()) {
                    bail!(
                        "sweep: '{k}' is not a numeric key that can be swept (one of {})",
                        NUMERIC_KEYS.join(", ")
                    );
                }
                let vals = match v {
                    toml::Value::Array(a) if !a.is_empty() => a
                        .iter()
                        .map(|x| match x {
                            toml::Value::Float(f) => Ok(*f),
                            toml::Value::Integer(i) => Ok(*i as f64),
                            _ => Err(err!("sweep.\"{k}\": expected a list of numbers, got {v}")),
                        })
                        .collect::<Result<Vec<f64>>>()?,
                    _ => bail!("sweep.\"{k}\": expected a non-empty list of numbers, got {v}"),
                };
                params.push((k.clone(), vals));
            }
        }
        // Keys in file order (toml's preserve_order): the first swept key is the slowest.
        let sweep = Sweep { seeds, params };

        let mut o = Section::new(&raw, "output")?;
        let output = OutputSpec {
            dir: o.string("dir")?.unwrap_or_else(|| "results".into()),
            figures: o.bool("figures", true)?,
        };
        o.finish()?;

        let spec = Spec {
            compat,
            data,
            network,
            simulation,
            kernel,
            stimulus,
            metric,
            conditions,
            sweep,
            output,
            raw,
        };
        // Every sweep value must make a valid spec: fail now, not mid-run.
        for (k, vals) in &spec.sweep.params {
            for &v in vals {
                let mut raw = spec.raw.clone();
                raw.remove("sweep");
                set_key(&mut raw, k, toml::Value::Float(v))?;
                Spec::from_table(raw).map_err(|e| e.context(format!("sweep \"{k}\" = {v}")))?;
            }
        }
        Ok(spec)
    }

    /// The condition called `name`, or the first one.
    pub fn condition(&self, name: Option<&str>) -> Result<&Condition> {
        match name {
            None => Ok(&self.conditions[0]),
            Some(n) => self.conditions.iter().find(|c| c.name == n).ok_or_else(|| {
                err!(
                    "condition '{n}' is not in the experiment file (conditions: {})",
                    self.conditions
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        }
    }

    /// Whether the network is built from data.
    pub fn needs_data(&self) -> bool {
        self.network.kind == NetworkKind::Observed
    }
}

fn integer_key(key: &str) -> bool {
    matches!(key, "data.min_synapses" | "network.n_neurons")
}

fn parse_conditions(v: Option<&toml::Value>) -> Result<Vec<Condition>> {
    let Some(v) = v else {
        return Ok(vec![Condition {
            name: "observed".into(),
            nulls: vec![],
        }]);
    };
    let toml::Value::Array(items) = v else {
        bail!("condition: expected [[condition]] tables");
    };
    if items.is_empty() {
        bail!("condition: expected at least one [[condition]]");
    }
    let mut out: Vec<Condition> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let toml::Value::Table(t) = item else {
            bail!("condition #{}: expected a table with name and nulls", i + 1);
        };
        for k in t.keys() {
            if k != "name" && k != "nulls" {
                bail!("condition #{}: unknown key '{k}' (known: name, nulls)", i + 1);
            }
        }
        let name = match t.get("name") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => bail!("condition #{}: expected name = \"...\"", i + 1),
        };
        if out.iter().any(|c| c.name == name) {
            bail!("condition '{name}' is defined twice");
        }
        let nulls = match t.get("nulls") {
            None => vec![],
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => NullModel::parse(s).map_err(|e| e.context(format!("condition '{name}'"))),
                    _ => Err(err!("condition '{name}': nulls must be strings")),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => bail!("condition '{name}': expected nulls = [\"...\"]"),
        };
        out.push(Condition { name, nulls });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_split_like_toml() {
        assert_eq!(split_key("network.g").unwrap(), ["network", "g"]);
        assert_eq!(split_key("sweep.\"network.g\"").unwrap(), ["sweep", "network.g"]);
        assert_eq!(split_key("sweep.network.g").unwrap(), ["sweep", "network.g"]);
        assert_eq!(split_key("data.select.'a.b'").unwrap(), ["data", "select", "a.b"]);
        assert!(split_key("network.").is_err());
        assert!(split_key("sweep.\"network.g").is_err());
    }

    #[test]
    fn set_values_are_toml_or_plain_strings() {
        assert_eq!(parse_set_value("1"), toml::Value::Integer(1));
        assert_eq!(parse_set_value("0.25"), toml::Value::Float(0.25));
        assert_eq!(parse_set_value("\"x\""), toml::Value::String("x".into()));
        assert_eq!(
            parse_set_value("data/s.feather"),
            toml::Value::String("data/s.feather".into())
        );
        let mut t = toml::Table::new();
        set_key(&mut t, "sweep.network.g", parse_set_value("[0.1, 0.2]")).unwrap();
        let spec = Spec::from_table(t).unwrap();
        assert_eq!(spec.sweep.params, vec![("network.g".to_string(), vec![0.1, 0.2])]);
    }

    #[test]
    fn setting_one_selection_column_keeps_the_default_rules() {
        let mut t = toml::Table::new();
        set_key(&mut t, "data.select.cell_type_auto", parse_set_value("6P")).unwrap();
        let spec = Spec::from_table(t).unwrap();
        let cols: Vec<&str> = spec.data.select.rules.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(cols, ["cell_type_auto", "proofreading_strategy", "region"]);
        assert_eq!(
            spec.data.select.rules[0].1,
            crate::data::Rule::In(vec![crate::data::Scalar::Str("6P".into())])
        );
    }

    #[test]
    fn sweep_points_resolve_and_bad_values_are_refused_up_front() {
        let spec =
            Spec::parse("[network]\nkind = \"random\"\n[sweep]\nseeds = [3, 1]\n\"network.n_neurons\" = [100, 200]\n")
                .unwrap();
        assert_eq!(spec.sweep.seeds, [3, 1]);
        assert_eq!(
            spec.with_value("network.n_neurons", 100.0).unwrap().network.n_neurons,
            100
        );
        let e = Spec::parse("[sweep]\n\"network.connectivity_proba\" = [0.2, 1.5]\n").unwrap_err();
        assert!(
            e.message().contains("connectivity_proba") && e.message().contains("1.5"),
            "{e}"
        );
    }
}
