//! The experiment file: TOML in, a validated [`Spec`] out, with `--set`
//! overrides applied to the raw table first so that every way of giving a
//! value goes through the same checks.

use std::path::Path;

use super::keys;
use crate::data::{Aggregate, DataSpec, Endpoints, Selection};
use crate::network::{Inhibition, NetworkKind, NetworkSpec, NullModel, RngMode};
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

/// The `[null_models]` section: settings of the null models that take any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullModelsSpec {
    /// Swap attempts per edge of the edge-swap models.
    pub swaps_per_edge: f64,
}

/// The `[sweep]` section: seeds and a grid of parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Seeds, in order.
    pub seeds: Vec<u64>,
    /// (dotted key, values); several keys make a full grid, the first slowest.
    pub params: Vec<(String, Vec<f64>)>,
}

/// The `[motifs]` section: motif statistics of the observed E–E matrix
/// against ensembles of null models ([`crate::analysis::motifs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MotifSpec {
    /// Null-model names as written (each a valid [`NullModel`] name).
    pub nulls: Vec<String>,
    /// The seeds of each ensemble.
    pub seeds: Vec<u64>,
}

impl MotifSpec {
    /// Check null-model names (one line naming `key` and the bad name) and
    /// pair each with its null model.
    pub fn resolve(names: &[String], key: &str) -> Result<Vec<(String, NullModel)>> {
        if names.is_empty() {
            bail!("{key}: expected at least one null model");
        }
        names
            .iter()
            .map(|n| Ok((n.clone(), NullModel::parse(n.trim()).map_err(|e| e.context(key))?)))
            .collect()
    }

    /// The key table's defaults (`motifs.nulls`, `motifs.seeds`), names unchecked.
    pub fn defaults() -> MotifSpec {
        let default = |k: &str| {
            keys::find(k)
                .and_then(|k| k.default_value())
                .unwrap_or_else(|| panic!("{k} has a default"))
        };
        let nulls = match default("motifs.nulls") {
            toml::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            v => panic!("motifs.nulls: default {v} is not a list"),
        };
        let seeds = parse_seeds_named(&default("motifs.seeds"), "motifs.seeds").expect("motifs.seeds: default parses");
        MotifSpec { nulls, seeds }
    }

    fn from_section(m: &Section) -> Result<MotifSpec> {
        let nulls = match m.value("nulls") {
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err(err!("motifs.nulls: expected a list of null-model names, got {x}")),
                })
                .collect::<Result<Vec<String>>>()?,
            Some(v) => bail!("motifs.nulls: expected a list of null-model names, got {v}"),
            None => unreachable!("motifs.nulls has a default"),
        };
        Self::resolve(&nulls, "motifs.nulls")?;
        let seeds = parse_seeds_named(&m.value("seeds").expect("motifs.seeds has a default"), "motifs.seeds")?;
        Ok(MotifSpec { nulls, seeds })
    }
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
    /// `[[condition]]`, at least one; their null models carry the
    /// `[null_models]` settings.
    pub conditions: Vec<Condition>,
    /// `[null_models]`.
    pub null_models: NullModelsSpec,
    /// `[sweep]`.
    pub sweep: Sweep,
    /// `[motifs]`, if the file has the section.
    pub motifs: Option<MotifSpec>,
    /// `[output]`.
    pub output: OutputSpec,
    /// The merged TOML (file + `--set`), the source of sweep points and of
    /// the resolved spec written next to results.
    pub raw: toml::Table,
}

/// Reads one section with the key table ([`keys::KEYS`]): defaults come
/// from it, values are checked against its types and ranges, and a key it
/// does not know is refused with the nearest known one suggested.
struct Section<'a> {
    name: &'static str,
    t: Option<&'a toml::Table>,
    root: &'a toml::Table,
}

/// The value of `key` (full dotted name) in `root`, or its default.
fn value_or_default(root: &toml::Table, key: &keys::Key) -> Option<toml::Value> {
    let (section, k) = key.name.split_once('.')?;
    match root.get(section) {
        Some(toml::Value::Table(t)) => t.get(k).cloned().or_else(|| key.default_value()),
        _ => key.default_value(),
    }
}

/// The number at `key` (file or default) for bounds that name another key
/// (`simulation.t_max >= simulation.dt`); `None` when it is not a number
/// (its own check reports that).
fn number_at(root: &toml::Table, name: &str) -> Option<f64> {
    match value_or_default(root, keys::find(name)?)? {
        toml::Value::Float(x) => Some(x),
        toml::Value::Integer(i) => Some(i as f64),
        _ => None,
    }
}

impl<'a> Section<'a> {
    fn new(root: &'a toml::Table, name: &'static str) -> Result<Self> {
        let t = match root.get(name) {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(v) => bail!("[{name}]: expected a table, got {}", v.type_str()),
        };
        if let Some(t) = t {
            for k in t.keys() {
                if keys::find(&format!("{name}.{k}")).is_none_or(|key| !key.is_direct()) {
                    return Err(keys::unknown_key(name, k));
                }
            }
        }
        Ok(Section { name, t, root })
    }

    fn key(&self, key: &str) -> &'static keys::Key {
        let name = format!("{}.{key}", self.name);
        keys::find(&name).unwrap_or_else(|| panic!("{name} is not in the key table"))
    }

    /// The value in the file, if given.
    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.t.and_then(|t| t.get(key))
    }

    /// The value in the file, else the table's default.
    fn value(&self, key: &str) -> Option<toml::Value> {
        self.get(key).cloned().or_else(|| self.key(key).default_value())
    }

    fn checked(&self, k: &keys::Key, x: f64) -> Result<f64> {
        k.check(x, |other| number_at(self.root, other))?;
        Ok(x)
    }

    fn f64(&self, key: &str) -> Result<f64> {
        let k = self.key(key);
        let v = self.value(key).unwrap_or_else(|| panic!("{} has no default", k.name));
        self.checked(k, k.number(&v)?)
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        let k = self.key(key);
        self.value(key).map(|v| self.checked(k, k.number(&v)?)).transpose()
    }

    fn uint(&self, key: &str) -> Result<u64> {
        let k = self.key(key);
        let v = self.value(key).unwrap_or_else(|| panic!("{} has no default", k.name));
        let x = k.integer(&v)?;
        self.checked(k, x as f64)?;
        Ok(x)
    }

    fn bool(&self, key: &str) -> Result<bool> {
        let k = self.key(key);
        let v = self.value(key).unwrap_or_else(|| panic!("{} has no default", k.name));
        k.boolean(&v)
    }

    /// A string or a name ([`keys::Type::Name`] keys are checked against
    /// their names); `None` when unset without a default.
    fn string(&self, key: &str) -> Result<Option<String>> {
        let k = self.key(key);
        self.value(key).map(|v| k.string(&v)).transpose()
    }

    /// A string key that has a default.
    fn string_or_default(&self, key: &str) -> Result<String> {
        Ok(self
            .string(key)?
            .unwrap_or_else(|| panic!("{}.{key} has no default", self.name)))
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
            d.entry("select").or_insert_with(|| {
                keys::find("data.select")
                    .and_then(|k| k.default_value())
                    .expect("data.select has a default")
            });
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
    parse_seeds_named(v, "sweep.seeds")
}

/// [`parse_seeds`] for another key or option (`motifs.seeds`, `--seeds`),
/// named in the error.
pub fn parse_seeds_named(v: &toml::Value, name: &str) -> Result<Vec<u64>> {
    let bad = || err!("{name}: expected a range like \"0-9\" or a list of non-negative integers, got {v}");
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
        let integer = keys::find(key).is_some_and(|k| matches!(k.ty, keys::Type::Integer));
        let v = if value.fract() == 0.0 && value.abs() < 9e15 && integer {
            toml::Value::Integer(value as i64)
        } else {
            toml::Value::Float(value)
        };
        set_key(&mut raw, key, v)?;
        Spec::from_table(raw)
    }

    /// Validate and resolve a merged table: every key is read through the
    /// key table ([`keys::KEYS`]), which gives its default and checks its type
    /// and range.
    pub fn from_table(raw: toml::Table) -> Result<Spec> {
        for k in raw.keys() {
            let known = if keys::SECTIONS.contains(&k.as_str()) {
                !k.is_empty()
            } else {
                keys::find(k).is_some_and(|key| key.section().is_empty())
            };
            if !known {
                return Err(keys::unknown_key("", k));
            }
        }
        let compat = match raw.get("compat") {
            None => None,
            Some(v) => Some(keys::find("compat").expect("compat is a key").string(v)?),
        };
        let notebook = compat.is_some();

        let d = Section::new(&raw, "data")?;
        let data = DataSpec {
            synapses: d.string_or_default("synapses")?,
            cells: d.string_or_default("cells")?,
            synapses_sha256: d.string("synapses_sha256")?,
            cells_sha256: d.string("cells_sha256")?,
            pre_column: d.string_or_default("pre_column")?,
            post_column: d.string_or_default("post_column")?,
            size_column: d.string_or_default("size_column")?,
            cell_id_column: d.string_or_default("cell_id_column")?,
            min_synapses: d.uint("min_synapses")?,
            aggregate: Aggregate::parse(&d.string_or_default("aggregate")?)?,
            scale: d.f64("scale")?,
            select: match d.value("select") {
                Some(toml::Value::Table(t)) => Selection::from_toml(&t, "data.select")?,
                Some(v) => bail!("data.select: expected a table like {{ column = value }}, got {v}"),
                None => unreachable!("data.select has a default"),
            },
            inhibitory_select: match d.value("inhibitory_select") {
                Some(toml::Value::Table(t)) => Some(Selection::from_toml(&t, "data.inhibitory_select")?),
                Some(v) => bail!("data.inhibitory_select: expected a table like {{ column = value }}, got {v}"),
                None => None,
            },
            endpoints: Endpoints::parse(&d.string_or_default("endpoints")?)?,
            row_base: d.uint("row_base")?,
        };

        let n = Section::new(&raw, "network")?;
        let network = NetworkSpec {
            kind: NetworkKind::parse(&n.string_or_default("kind")?)?,
            n_neurons: n.uint("n_neurons")? as usize,
            r_inhibitory: n.f64("r_inhibitory")?,
            g: n.f64("g")?,
            connectivity_proba: n.f64("connectivity_proba")?,
            connectivity_proba_ee: n.opt_f64("connectivity_proba_ee")?,
            inh_exc_balance: n.f64("inh_exc_balance")?,
            balance: n.bool("balance")?,
            rng: RngMode::parse(&n.string_or_default("rng")?)?,
            inhibition: Inhibition::parse(&n.string_or_default("inhibition")?)?,
        };
        let mut data = data;
        if network.inhibition == Inhibition::Observed {
            if network.kind != NetworkKind::Observed {
                bail!(
                    "network.inhibition = \"observed\" takes its inhibitory neurons from the data; network.kind = \"{}\" has none (use network.kind = \"observed\")",
                    network.kind.name()
                );
            }
            if data.inhibitory_select.is_none() {
                bail!("network.inhibition = \"observed\" needs [data.inhibitory_select]: which cells of the cell table are inhibitory (e.g. coarse_cell_type_auto = \"I\")");
            }
        } else {
            // Without observed inhibition the connectome is excitatory only
            // (a warning says the selection is ignored).
            data.inhibitory_select = None;
        }

        let s = Section::new(&raw, "simulation")?;
        let simulation = SimSpec {
            dt: s.f64("dt")?,
            t_max: s.f64("t_max")?,
            tau: s.f64("tau")?,
            transfer: TransferSpec::from_toml(&s.value("transfer").expect("simulation.transfer has a default"))?,
            method: Method::parse(&s.string_or_default("method")?)?,
            stop_early: StopEarly::from_toml(&s.value("stop_early").expect("simulation.stop_early has a default"))?,
        };
        let kernel = match s.string_or_default("kernel")?.as_str() {
            "auto" => KernelChoice::Auto,
            "dense" => KernelChoice::Dense,
            "sparse" => KernelChoice::Sparse,
            k => unreachable!("simulation.kernel = {k} passed the key table"),
        };

        let st = Section::new(&raw, "stimulus")?;
        let stimulus = StimulusSpec {
            start: st.f64("start")?,
            end: st.f64("end")?,
            strength: st.f64("strength")?,
            target: match st.get("target") {
                None if notebook => Target::Notebook,
                _ => Target::parse(&st.string_or_default("target")?)?,
            },
        };

        if network.inhibition == Inhibition::Observed && stimulus.target == Target::Notebook {
            // The notebook's target counts neurons with r_inhibitory, which observed inhibition does not use.
            let who = if st.get("target").is_some() {
                "stimulus.target = \"notebook\""
            } else {
                "compat = \"notebook\" (its stimulus.target = \"notebook\")"
            };
            bail!("{who} has no meaning with network.inhibition = \"observed\": the notebook's target counts neurons by r_inhibitory; use stimulus.target = \"excitatory\"");
        }

        let m = Section::new(&raw, "metric")?;
        let metric = MetricSpec {
            threshold_ratio: m.f64("threshold_ratio")?,
            divergence_threshold: m.opt_f64("divergence_threshold")?,
            spectrum: m.bool("spectrum")?,
        };

        let nm = Section::new(&raw, "null_models")?;
        let null_models = NullModelsSpec {
            swaps_per_edge: nm.f64("swaps_per_edge")?,
        };
        let mut conditions = parse_conditions(raw.get("condition"))?;
        for c in &mut conditions {
            for n in &mut c.nulls {
                *n = n.with_swaps_per_edge(null_models.swaps_per_edge);
            }
        }
        if network.kind != NetworkKind::Observed {
            if let Some(c) = conditions.iter().find(|c| !c.nulls.is_empty()) {
                bail!(
                    "condition '{}': null models apply to the observed E–E matrix, not to network.kind = \"{}\"",
                    c.name,
                    network.kind.name()
                );
            }
        }

        let sweep = parse_sweep(&raw)?;

        let motifs = match raw.get("motifs") {
            None => None,
            Some(_) => Some(MotifSpec::from_section(&Section::new(&raw, "motifs")?)?),
        };
        if motifs.is_some() && network.kind != NetworkKind::Observed {
            bail!(
                "[motifs]: motif statistics count the observed E–E matrix, not network.kind = \"{}\"",
                network.kind.name()
            );
        }

        let o = Section::new(&raw, "output")?;
        let output = OutputSpec {
            dir: o.string_or_default("dir")?,
            figures: o.bool("figures")?,
        };

        let spec = Spec {
            compat,
            data,
            network,
            simulation,
            kernel,
            stimulus,
            metric,
            conditions,
            null_models,
            sweep,
            motifs,
            output,
            raw,
        };
        // A data-free network's size is known now: a dense W too large to
        // allocate is refused before anything runs.
        if spec.kernel == KernelChoice::Dense && !spec.needs_data() {
            crate::sim::kernel::check_dense(spec.network.n_neurons)?;
        }
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

    /// The null model called `name` (as in `nulls = [...]`) with this
    /// spec's `[null_models]` settings.
    pub fn null_model(&self, name: &str) -> Result<NullModel> {
        Ok(NullModel::parse(name)?.with_swaps_per_edge(self.null_models.swaps_per_edge))
    }

    /// Whether the network is built from data.
    pub fn needs_data(&self) -> bool {
        self.network.kind == NetworkKind::Observed
    }
}

/// The `[sweep]` section: seeds, and lists of values of sweepable keys.
fn parse_sweep(raw: &toml::Table) -> Result<Sweep> {
    let t = match raw.get("sweep") {
        None => None,
        Some(toml::Value::Table(t)) => Some(t),
        Some(v) => bail!("[sweep]: expected a table, got {}", v.type_str()),
    };
    let seeds_key = keys::find("sweep.seeds").expect("sweep.seeds is a key");
    let seeds = parse_seeds(
        &t.and_then(|t| t.get("seeds"))
            .cloned()
            .or_else(|| seeds_key.default_value())
            .expect("sweep.seeds has a default"),
    )?;
    let mut params = Vec::new();
    // Keys in file order (toml's preserve_order): the first swept key is the slowest.
    for (k, v) in t.into_iter().flatten() {
        if k == "seeds" {
            continue;
        }
        let sweepable = || keys::sweepable().map(|k| k.name).collect::<Vec<_>>().join(", ");
        match keys::find(k) {
            Some(key) if key.sweep => {}
            Some(_) => bail!("sweep: '{k}' cannot be swept (sweepable keys: {})", sweepable()),
            None => {
                // `network.g = [...]` unquoted in [sweep] is the table `network = { g = [...] }`.
                if let toml::Value::Table(inner) = v {
                    if let Some(sub) = inner.keys().next() {
                        if keys::find(&format!("{k}.{sub}")).is_some_and(|key| key.sweep) {
                            bail!("sweep: quote the key's full name: \"{k}.{sub}\" = [...]");
                        }
                    }
                }
                let hint = keys::nearest(k, keys::sweepable().map(|k| k.name))
                    .map(|n| format!("did you mean '{n}'?"))
                    .unwrap_or_else(|| format!("sweepable keys: {}", sweepable()));
                bail!("sweep: '{k}' is not a numeric key that can be swept ({hint})");
            }
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
    Ok(Sweep { seeds, params })
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
            if keys::find(&format!("condition.{k}")).is_none() {
                return Err(keys::unknown_key("condition", k).context(format!("condition #{}", i + 1)));
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

    #[test]
    fn defaults_come_from_the_key_table_and_match_the_default_impls() {
        let spec = Spec::parse("").unwrap();
        assert_eq!(spec.data, DataSpec::default());
        assert_eq!(spec.network, NetworkSpec::default());
        assert_eq!(spec.simulation, SimSpec::default());
        assert_eq!(spec.stimulus, StimulusSpec::default());
        assert_eq!(spec.metric, MetricSpec::notebook());
        assert_eq!(spec.kernel, KernelChoice::Auto);
        assert_eq!(spec.sweep.seeds, [0]);
        assert_eq!(spec.output.dir, "results");
        assert!(spec.output.figures);
        let nb = Spec::parse("compat = \"notebook\"").unwrap();
        assert_eq!(nb.stimulus.target, Target::Notebook);
        let own = Spec::parse("compat = \"notebook\"\n[stimulus]\ntarget = \"excitatory\"").unwrap();
        assert_eq!(own.stimulus.target, Target::Excitatory);
    }

    fn error(text: &str) -> String {
        Spec::parse(text).unwrap_err().message().to_string()
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        assert_eq!(
            error("[network]\ngg = 1"),
            "[network]: unknown key 'gg' (did you mean 'g'?)"
        );
        assert_eq!(
            error("[simulation]\ng = 1"),
            "[simulation]: unknown key 'g' (did you mean 'network.g'?)"
        );
        assert_eq!(
            error("[netwrok]\ng = 1"),
            "unknown key 'netwrok' (did you mean '[network]'?)"
        );
        assert_eq!(
            error("[[conditon]]\nname = \"a\""),
            "unknown key 'conditon' (did you mean '[[condition]]'?)"
        );
        assert_eq!(
            error("[[condition]]\nname = \"a\"\nnuls = []"),
            "condition #1: unknown key 'nuls' (did you mean 'nulls'?)"
        );
        assert_eq!(
            error("[network]\nkind = \"randm\""),
            "network.kind = \"randm\": expected \"observed\", \"random\", \"feedforward\" (did you mean \"random\"?)"
        );
        assert_eq!(
            error("[sweep]\n\"network.gg\" = [1]"),
            "sweep: 'network.gg' is not a numeric key that can be swept (did you mean 'network.g'?)"
        );
        assert!(error("[sweep]\n\"network.kind\" = [1]").contains("cannot be swept"));
        assert!(error("[sweep]\nnetwork.g = [1]").contains("\"network.g\" = [...]"));
        // Through --set, as the CLI applies it.
        let mut t = toml::Table::new();
        set_key(&mut t, "network.gg", parse_set_value("1")).unwrap();
        assert_eq!(
            Spec::from_table(t).unwrap_err().message(),
            "[network]: unknown key 'gg' (did you mean 'g'?)"
        );
    }

    #[test]
    fn every_range_is_one_line_naming_key_value_and_range() {
        for (text, want) in [
            (
                "[network]\nr_inhibitory = 1.2",
                "network.r_inhibitory = 1.2: expected a number in [0, 1)",
            ),
            (
                "[network]\nr_inhibitory = -0.1",
                "network.r_inhibitory = -0.1: expected a number in [0, 1)",
            ),
            (
                "[network]\nconnectivity_proba = 1.5",
                "network.connectivity_proba = 1.5: expected a number in [0, 1]",
            ),
            (
                "[network]\nconnectivity_proba_ee = -1",
                "network.connectivity_proba_ee = -1: expected a number in [0, 1]",
            ),
            (
                "[network]\ng = -0.001",
                "network.g = -0.001: expected a finite number >= 0",
            ),
            (
                "[network]\nn_neurons = 1",
                "network.n_neurons = 1: expected an integer >= 2",
            ),
            (
                "[simulation]\ndt = 0",
                "simulation.dt = 0: expected a finite number > 0",
            ),
            (
                "[simulation]\ntau = -1",
                "simulation.tau = -1: expected a finite number > 0",
            ),
            (
                "[simulation]\nt_max = 0.001",
                "simulation.t_max = 0.001: expected a finite number >= simulation.dt (0.01)",
            ),
            (
                "[metric]\nthreshold_ratio = 0",
                "metric.threshold_ratio = 0: expected a finite number > 0",
            ),
            (
                "[metric]\nthreshold_ratio = nan",
                "metric.threshold_ratio = NaN: expected a finite number > 0",
            ),
            (
                "[metric]\ndivergence_threshold = 0",
                "metric.divergence_threshold = 0: expected a number > 0 or inf",
            ),
            ("[data]\nscale = 0", "data.scale = 0: expected a finite number > 0"),
            (
                "[stimulus]\nstrength = 0",
                "stimulus.strength = 0: expected a finite number > 0",
            ),
            (
                "[stimulus]\nstart = 20",
                "stimulus.end = 15: expected a finite number >= stimulus.start (20)",
            ),
        ] {
            assert_eq!(error(text), want, "{text}");
        }
        assert!(Spec::parse("[metric]\ndivergence_threshold = inf").is_ok());
        assert!(Spec::parse("[simulation]\nt_max = 0.01").is_ok());
        // Types: the key named, as before.
        assert!(error("[network]\ng = \"x\"").starts_with("network.g: expected a number"));
        assert!(error("[network]\nbalance = 1").starts_with("network.balance: expected true or false"));
        assert!(error("[data]\nmin_synapses = 1.5").starts_with("data.min_synapses: expected a non-negative integer"));
    }

    #[test]
    fn structured_keys() {
        let spec = Spec::parse(
            "[simulation]\ntransfer = { kind = \"sigmoid\", gain = 0.2, threshold = 10, r_max = 100 }\nmethod = \"rk4\"\nstop_early = \"at_return\"\n[metric]\nspectrum = true\n",
        )
        .unwrap();
        assert_eq!(spec.simulation.transfer.name(), "sigmoid");
        assert_eq!(spec.simulation.method, Method::Rk4);
        assert_eq!(spec.simulation.stop_early, StopEarly::AtReturn);
        assert!(spec.metric.spectrum);
        assert!(error("[simulation]\nmethod = \"rk5\"").contains("did you mean \"rk4\""));
        assert!(error("[simulation]\nstop_early = \"yes\"").contains("simulation.stop_early"));
        // A transfer parameter swept over a file that names the kind.
        let spec =
            Spec::parse("[simulation]\ntransfer = \"tanh\"\n[sweep]\n\"simulation.transfer.gain\" = [0.05, 0.1]\n")
                .unwrap();
        let point = spec.with_value("simulation.transfer.gain", 0.1).unwrap();
        assert_eq!(point.simulation.transfer.name(), "tanh");
        assert_eq!(point.simulation.transfer.apply(1.0), 0.1f64.tanh());
        let e = error("[simulation]\ntransfer = \"tanh\"\n[sweep]\n\"simulation.transfer.gain\" = [0.05, 0]\n");
        assert!(
            e.contains("sweep \"simulation.transfer.gain\" = 0") && e.contains("gain = 0"),
            "{e}"
        );
        let e = error("[simulation]\ntransfer = \"tanh\"\n[sweep]\n\"simulation.transfer.threshold\" = [1]\n");
        assert!(e.contains("simulation.transfer.threshold"), "{e}");
        // Every sweepable key is accepted by [sweep].
        for k in keys::sweepable() {
            let text = format!("[sweep]\n\"{}\" = [1]\n", k.name);
            if let Err(e) = Spec::parse(&text) {
                assert!(!e.message().contains("swept"), "{}: {e}", k.name);
            }
        }
    }

    /// The "At a glance" example of docs/experiment-file.md is a valid
    /// experiment file that shows every key of the table.
    #[test]
    fn the_documents_example_file_shows_every_key() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/experiment-file.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let glance = &doc[doc.find("## At a glance").expect("an At a glance section")..];
        let start = glance.find("```toml\n").unwrap() + "```toml\n".len();
        let block = &glance[start..start + glance[start..].find("```").unwrap()];
        let spec = Spec::parse(block).unwrap_or_else(|e| panic!("the example does not parse: {e}"));
        let shown = |name: &str| -> bool {
            let raw = &spec.raw;
            match name.split_once('.') {
                None => raw.contains_key(name),
                Some(("condition", k)) => match raw.get("condition") {
                    Some(toml::Value::Array(a)) => a.iter().any(|c| c.get(k).is_some()),
                    _ => false,
                },
                Some((section, k)) => raw.get(section).and_then(|s| s.get(k)).is_some(),
            }
        };
        for k in keys::KEYS.iter().filter(|k| k.is_direct()) {
            assert!(shown(k.name), "docs/experiment-file.md's example lacks {}", k.name);
        }
    }
}
