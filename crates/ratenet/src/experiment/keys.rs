//! The one table of experiment-file keys.
//!
//! Every key of the experiment file is declared once, in [`KEYS`]: its full
//! dotted name, its type, its default as written in TOML, its allowed range,
//! whether a sweep may vary it, and one line of documentation. The parser
//! ([`crate::experiment::Spec`]) reads defaults from it, checks ranges
//! against it (the one place where ranges are checked) and suggests the
//! nearest key for a misspelt one; the sweepable keys, `ratenet keys` and
//! the per-section tables of `docs/experiment-file.md` are generated from
//! it (a test regenerates the document and fails when it drifts).
//!
//! Structured keys are declared as far as they can be: `simulation.transfer`
//! (a name or an inline table) with its parameters taken from
//! [`crate::sim::transfer::KINDS`], `simulation.stop_early`, `data.select`
//! (a table of rules), `[[condition]]` and `[sweep]`; families of keys that
//! have no fixed name (`data.select.<column>`, `sweep."<key>"`) are listed
//! as [`Type::Pattern`] rows, documented but never looked up.

use crate::data::{COURSE_CELLS_URL, COURSE_SYNAPSES_URL};
use crate::sim::integrate::METHODS;
use crate::sim::transfer::KINDS;
use crate::{bail, err, Result};

/// What values a key takes.
#[derive(Debug, Clone, Copy)]
pub enum Type {
    /// A number; integers are accepted.
    Float,
    /// A non-negative integer; a float without a fraction is accepted.
    Integer,
    /// `true` or `false`.
    Bool,
    /// Any string (a path, a URL, a column name, a digest).
    Str,
    /// One of a fixed set of names, given by the function.
    Name(fn() -> Vec<&'static str>),
    /// A value read by its own parser (a table, a list, or several types);
    /// the range says in words what it takes.
    Structured,
    /// A family of keys without a fixed name (`data.select.<column>`):
    /// documented, never looked up.
    Pattern,
}

/// One end of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// No bound on this side.
    Open,
    /// `>= x` (or `<= x`).
    Incl(f64),
    /// `> x` (or `< x`).
    Excl(f64),
    /// `>=` the value of another key (full dotted name).
    Key(&'static str),
}

/// What a key allows beyond its type.
#[derive(Debug, Clone, Copy)]
pub enum Range {
    /// Anything of the type.
    Any,
    /// A number between two bounds; finite unless `inf_ok` (then `+inf`
    /// also passes).
    Num {
        /// Lower bound.
        lo: Bound,
        /// Upper bound.
        hi: Bound,
        /// Whether `+inf` is allowed.
        inf_ok: bool,
    },
    /// Checked by the key's own parser; in words.
    Text(&'static str),
    /// Checked by the key's own parser; in words, computed from the parser's
    /// own tables (the transfer kinds).
    Computed(fn() -> String),
}

/// A key's default.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    /// The default as written in TOML (`0.002`, `"relu"`, `true`, `[]`).
    Toml(&'static str),
    /// A string default (written quoted).
    Str(&'static str),
    /// Unset unless given; the text says what happens then.
    Unset(&'static str),
    /// A transfer parameter: the default depends on the transfer kind
    /// ([`crate::sim::transfer::KINDS`]).
    PerKind,
}

/// One key of the experiment file.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Full dotted name (`network.g`, `simulation.transfer.gain`, `compat`).
    pub name: &'static str,
    /// Type of its value.
    pub ty: Type,
    /// Default.
    pub default: DefaultValue,
    /// Allowed values.
    pub range: Range,
    /// Whether `[sweep]` may vary it.
    pub sweep: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

/// The sections of an experiment file, in order; `""` is the top level.
pub const SECTIONS: &[&str] = &[
    "",
    "data",
    "network",
    "simulation",
    "stimulus",
    "metric",
    "condition",
    "null_models",
    "sweep",
    "motifs",
    "output",
];

const fn num(lo: Bound, hi: Bound) -> Range {
    Range::Num { lo, hi, inf_ok: false }
}
const POSITIVE: Range = num(Bound::Excl(0.0), Bound::Open);
const NON_NEGATIVE: Range = num(Bound::Incl(0.0), Bound::Open);
const PROBABILITY: Range = num(Bound::Incl(0.0), Bound::Incl(1.0));

const fn key(name: &'static str, ty: Type, default: DefaultValue, range: Range, sweep: bool, doc: &'static str) -> Key {
    Key {
        name,
        ty,
        default,
        range,
        sweep,
        doc,
    }
}

use DefaultValue::{PerKind, Str, Toml, Unset};
use Type::{Bool, Float, Integer, Name, Pattern, Structured};

/// Every key of the experiment file, in documentation order.
pub const KEYS: &[Key] = &[
    // Top level.
    key(
        "compat",
        Name(|| vec!["notebook"]),
        Unset("no quirks"),
        Range::Any,
        false,
        "Every notebook quirk at once: `stimulus.target` defaults to `\"notebook\"` (a key you set yourself still wins); `network.rng` is `\"notebook\"` by default anyway.",
    ),
    // [data]
    key(
        "data.synapses",
        Type::Str,
        Str(COURSE_SYNAPSES_URL),
        Range::Text("path or http(s) URL"),
        false,
        "The synapse table (one row per synapse: pre id, post id, size).",
    ),
    key(
        "data.cells",
        Type::Str,
        Str(COURSE_CELLS_URL),
        Range::Text("path or http(s) URL"),
        false,
        "The cell table (one row per cell: id and the columns `[data.select]` tests).",
    ),
    key(
        "data.synapses_sha256",
        Type::Str,
        Unset("not pinned"),
        Range::Text("64 hex digits, any case"),
        false,
        "Pins the synapse table's content: checked on download, on the cached file and on a local file.",
    ),
    key(
        "data.cells_sha256",
        Type::Str,
        Unset("not pinned"),
        Range::Text("64 hex digits, any case"),
        false,
        "Pins the cell table's content, checked the same way.",
    ),
    key(
        "data.pre_column",
        Type::Str,
        Str("pre_pt_root_id"),
        Range::Text("column name"),
        false,
        "Presynaptic neuron id column of the synapse table.",
    ),
    key(
        "data.post_column",
        Type::Str,
        Str("post_pt_root_id"),
        Range::Text("column name"),
        false,
        "Postsynaptic neuron id column of the synapse table.",
    ),
    key(
        "data.size_column",
        Type::Str,
        Str("size"),
        Range::Text("column name"),
        false,
        "Synapse size column of the synapse table.",
    ),
    key(
        "data.cell_id_column",
        Type::Str,
        Str("pt_root_id"),
        Range::Text("column name"),
        false,
        "Neuron id column of the cell table (the minnie65 graph's: `id`).",
    ),
    key(
        "data.endpoints",
        Name(|| vec!["ids", "rows"]),
        Toml("\"ids\""),
        Range::Any,
        false,
        "What the pre and post columns hold: `\"ids\"`, cell ids; `\"rows\"`, row numbers into the cell table (from `data.row_base`), mapped to its ids first, so that everything after is as with ids.",
    ),
    key(
        "data.row_base",
        Integer,
        Toml("1"),
        num(Bound::Incl(0.0), Bound::Incl(1.0)),
        false,
        "With `endpoints = \"rows\"`: the number of the cell table's first row (1, as R and MATLAB count; 0, as Python does).",
    ),
    key(
        "data.min_synapses",
        Integer,
        Toml("21"),
        NON_NEGATIVE,
        true,
        "Keep neurons with at least this many synapse ends within the selection (the notebook's `> 20`).",
    ),
    key(
        "data.aggregate",
        Name(|| vec!["sum", "count", "mean"]),
        Toml("\"sum\""),
        Range::Any,
        false,
        "How the sizes of one (pre, post) pair are combined.",
    ),
    key(
        "data.scale",
        Float,
        Toml("150000"),
        POSITIVE,
        true,
        "E–E weight `M[pre][post]` = aggregate / scale.",
    ),
    key(
        "data.select",
        Structured,
        Toml("{ cell_type_auto = \"23P\", proofreading_strategy = { not = \"\" }, region = \"V1\" }"),
        Range::Text("a table of rules"),
        false,
        "Which cells of the cell table are kept: every rule must hold; a table in the file replaces the default as a whole.",
    ),
    key(
        "data.select.<column>",
        Pattern,
        Unset("no rule"),
        Range::Text("a rule"),
        false,
        "A rule on one column of the cell table: `value`, `[values]`, `{ not = value }` or `{ not = [values] }`; `--set data.select.COLUMN=…` adds it to the selection in force.",
    ),
    key(
        "data.inhibitory_select",
        Structured,
        Unset("none"),
        Range::Text("a table of rules"),
        false,
        "Required with `network.inhibition = \"observed\"`: which cells are the inhibitory ones (rules as `[data.select]`, which then names the excitatory ones; a cell in both is an error). The network is built over both, synapse ends counted in the union.",
    ),
    key(
        "data.inhibitory_select.<column>",
        Pattern,
        Unset("no rule"),
        Range::Text("a rule"),
        false,
        "A rule of `[data.inhibitory_select]`, as `data.select.<column>`.",
    ),
    // [network]
    key(
        "network.kind",
        Name(|| vec!["observed", "random", "feedforward"]),
        Toml("\"observed\""),
        Range::Any,
        false,
        "Observed: the connectome's E–E block in a random E/I network. Random: the class notebook's data-free E/I network. Feedforward: its variant with a strictly upper-triangular E–E block.",
    ),
    key(
        "network.n_neurons",
        Integer,
        Toml("200"),
        num(Bound::Incl(2.0), Bound::Open),
        true,
        "Network size, random / feedforward only; observed: n = floor(n_exc / (1 − r_inhibitory)) (with observed inhibition: the connectome's).",
    ),
    key(
        "network.r_inhibitory",
        Float,
        Toml("0.15"),
        num(Bound::Incl(0.0), Bound::Excl(1.0)),
        true,
        "Fraction of inhibitory neurons (not with observed inhibition: a warning names it).",
    ),
    key(
        "network.g",
        Float,
        Toml("0.002"),
        NON_NEGATIVE,
        true,
        "Weight scale of the random blocks: weights g · 10^|N(1, 0.2)|.",
    ),
    key(
        "network.connectivity_proba",
        Float,
        Toml("0.25"),
        PROBABILITY,
        true,
        "Erdős–Rényi probability of the random blocks (E–I, I–E, I–I; also E–E for random networks).",
    ),
    key(
        "network.connectivity_proba_ee",
        Float,
        Unset("= connectivity_proba"),
        PROBABILITY,
        true,
        "Feedforward E–E probability.",
    ),
    key(
        "network.inh_exc_balance",
        Float,
        Toml("0.15"),
        NON_NEGATIVE,
        true,
        "Per row: Σ inhibitory = −inh_exc_balance · Σ excitatory.",
    ),
    key(
        "network.balance",
        Bool,
        Toml("true"),
        Range::Any,
        false,
        "Whether each neuron's inputs are balanced as above.",
    ),
    key(
        "network.rng",
        Name(|| vec!["notebook", "fast"]),
        Toml("\"notebook\""),
        Range::Any,
        false,
        "`\"notebook\"`: numpy/networkx streams bit for bit (seeds 0 ≤ s < 2^32; at most 50,000 neurons, its draws are O(n²)); `\"fast\"`: O(edges) sparse generator for large n, same distributions, other numbers.",
    ),
    key(
        "network.inhibition",
        Name(|| vec!["random", "observed"]),
        Toml("\"random\""),
        Range::Any,
        false,
        "Observed networks: `\"random\"`, the notebook's invented inhibitory neurons (r_inhibitory, random E–I, I–E, I–I blocks); `\"observed\"`, the cells of `[data.inhibitory_select]`: every block of W from the data (excitatory then inhibitory ids ascending), inhibitory columns negated, then balanced; null models act on the E–E block only.",
    ),
    // [simulation]
    key(
        "simulation.t_max",
        Float,
        Toml("50.0"),
        num(Bound::Key("simulation.dt"), Bound::Open),
        true,
        "Simulated time; steps = floor(t_max / dt) (at most 2^31).",
    ),
    key("simulation.dt", Float, Toml("0.01"), POSITIVE, true, "Time step."),
    key("simulation.tau", Float, Toml("0.25"), POSITIVE, true, "Time constant."),
    key(
        "simulation.transfer",
        Structured,
        Toml("\"relu\""),
        Range::Text("a kind or a table"),
        false,
        "Transfer function f: a kind (`\"relu\"`, `\"linear\"`, `\"tanh\"`, `\"sigmoid\"`, `\"threshold_linear\"`), or an inline table with its parameters, e.g. `{ kind = \"sigmoid\", gain = 0.2, threshold = 10, r_max = 100 }`.",
    ),
    key(
        "simulation.transfer.gain",
        Float,
        PerKind,
        Range::Computed(|| param_range("gain")),
        true,
        "Input gain of f.",
    ),
    key(
        "simulation.transfer.threshold",
        Float,
        PerKind,
        Range::Computed(|| param_range("threshold")),
        true,
        "Input threshold of f.",
    ),
    key(
        "simulation.transfer.r_max",
        Float,
        PerKind,
        Range::Computed(|| param_range("r_max")),
        true,
        "Saturation rate of f.",
    ),
    key(
        "simulation.method",
        Name(|| METHODS.iter().map(|m| m.0).collect()),
        Toml("\"euler\""),
        Range::Any,
        false,
        "Integration method: `\"euler\"` (the notebook's update, bit for bit), `\"exponential_euler\"`, `\"rk4\"`.",
    ),
    key(
        "simulation.stop_early",
        Structured,
        Toml("true"),
        Range::Text("`true`, `false`, `\"at_return\"`"),
        false,
        "`true`: stop once nothing later can change a result column (every column is the full run's); `\"at_return\"`: stop at the first return, the notebook's question; `false`: run every step.",
    ),
    key(
        "simulation.kernel",
        Name(|| vec!["auto", "dense", "sparse"]),
        Toml("\"auto\""),
        Range::Any,
        false,
        "`\"auto\"`: the batched sparse engine; `\"dense\"`, `\"sparse\"`: single-run kernels, for checking.",
    ),
    // [stimulus]
    key(
        "stimulus.start",
        Float,
        Toml("1.0"),
        POSITIVE,
        true,
        "Time the stimulus comes on (on while start ≤ t_k ≤ end); the steps before it are the baseline, so it must be off at step 0.",
    ),
    key(
        "stimulus.end",
        Float,
        Toml("15.0"),
        num(Bound::Key("stimulus.start"), Bound::Open),
        true,
        "Time the stimulus goes off.",
    ),
    key(
        "stimulus.strength",
        Float,
        Toml("10.0"),
        POSITIVE,
        true,
        "Input added to each stimulated neuron while on.",
    ),
    key(
        "stimulus.target",
        Name(|| vec!["excitatory", "notebook"]),
        Toml("\"excitatory\""),
        Range::Any,
        false,
        "`\"excitatory\"`: every excitatory neuron; `\"notebook\"` (the default under `compat = \"notebook\"`): the first floor(n (1 − r_inhibitory)) neurons, as the notebook does (an error with observed inhibition).",
    ),
    // [metric]
    key(
        "metric.threshold_ratio",
        Float,
        Toml("0.01"),
        POSITIVE,
        true,
        "Return threshold = baseline + threshold_ratio · stimulus.",
    ),
    key(
        "metric.divergence_threshold",
        Float,
        Unset("= 1e6 × stimulus.strength"),
        Range::Num {
            lo: Bound::Excl(0.0),
            hi: Bound::Open,
            inf_ok: true,
        },
        true,
        "|Excitatory mean| above which a run has diverged.",
    ),
    key(
        "metric.spectrum",
        Bool,
        Toml("false"),
        Range::Any,
        false,
        "Also compute `lambda_max` (largest real part of W's eigenvalues) and `decay_predicted` = tau / (1 − lambda_max).",
    ),
    // [[condition]]
    key(
        "condition.name",
        Type::Str,
        Unset("required"),
        Range::Text("non-empty string, unique"),
        false,
        "The condition's name in results, figures and statistics.",
    ),
    key(
        "condition.nulls",
        Structured,
        Toml("[]"),
        Range::Text("list of null-model names"),
        false,
        "Null models applied in order to the E–E matrix (observed networks only), each seeded with the run's seed: `\"shuffle_connections\"`, `\"shuffle_weights\"`, `\"remove_reciprocal\"`, `\"remove_reciprocal:both\"`, `\"remove_reciprocal:weaker\"`, `\"remove_reciprocal:random\"`, `\"degree_preserving\"`, `\"reciprocity_preserving\"`.",
    ),
    // [null_models]
    key(
        "null_models.swaps_per_edge",
        Float,
        Toml("10"),
        NON_NEGATIVE,
        false,
        "Swap attempts per off-diagonal connection of `\"degree_preserving\"` and `\"reciprocity_preserving\"` (a reciprocal pair counts as two); rounded to a whole number of attempts.",
    ),
    // [sweep]
    key(
        "sweep.seeds",
        Structured,
        Toml("0"),
        Range::Text("`\"A-B\"`, integer or list"),
        false,
        "The seeds every sweep point × condition runs with, in the order given: `\"0-9\"` (inclusive), `7` or `[0, 3, 7]`; integers >= 0.",
    ),
    key(
        "sweep.\"<key>\"",
        Pattern,
        Unset("not swept"),
        Range::Text("list of numbers"),
        false,
        "Values of one sweepable key (quoted full name), e.g. `\"network.g\" = [0.001, 0.002]`; several keys make a full grid, the first slowest.",
    ),
    // [motifs]
    key(
        "motifs.nulls",
        Structured,
        Toml(r#"["shuffle_connections", "degree_preserving"]"#),
        Range::Text("non-empty list of null-model names"),
        false,
        "With a `[motifs]` section, `ratenet run` counts the reciprocal pairs and the 16 triad classes of the observed E–E matrix against an ensemble of each of these null models (names as in `condition.nulls`) and puts `motifs.csv` and its figure in the report (docs/motifs.md).",
    ),
    key(
        "motifs.seeds",
        Structured,
        Toml("\"0-99\""),
        Range::Text("`\"A-B\"`, integer or list"),
        false,
        "The seeds of each null model's ensemble: `\"0-99\"` (inclusive), `7` or `[0, 3, 7]`; integers >= 0.",
    ),
    // [output]
    key(
        "output.dir",
        Type::Str,
        Str("results"),
        Range::Text("path"),
        false,
        "Where `ratenet run` writes (`--out` overrides).",
    ),
    key(
        "output.figures",
        Bool,
        Toml("true"),
        Range::Any,
        false,
        "Draw figures and the HTML report.",
    ),
];

/// The transfer kinds that have parameter `name`, with the parameter.
fn kinds_with(name: &str) -> Vec<(&'static str, &'static crate::sim::transfer::Param)> {
    KINDS
        .iter()
        .filter_map(|k| k.params.iter().find(|p| p.name == name).map(|p| (k.name, p)))
        .collect()
}

/// Per-kind values, compact: the most common value, then the exceptions
/// (`1 (threshold_linear: inf)`).
fn per_kind(items: Vec<(&'static str, String)>) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for (kind, text) in items {
        match groups.iter_mut().find(|g| g.0 == text) {
            Some(g) => g.1.push(kind),
            None => groups.push((text, vec![kind])),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    let Some((common, _)) = groups.first() else {
        return String::new();
    };
    let rest: Vec<String> = groups[1..]
        .iter()
        .map(|(t, ks)| format!("{}: {t}", ks.join(", ")))
        .collect();
    if rest.is_empty() {
        common.clone()
    } else {
        format!("{common} ({})", rest.join("; "))
    }
}

fn param_range(name: &str) -> String {
    per_kind(
        kinds_with(name)
            .into_iter()
            .map(|(k, p)| {
                let r = match (p.positive, p.infinite_ok) {
                    (true, true) => "> 0 or inf",
                    (true, false) => "> 0",
                    (false, true) => "any number or inf",
                    (false, false) => "finite",
                };
                (k, r.to_string())
            })
            .collect(),
    )
}

/// A number as TOML writes it (`1`, `0.25`, `inf`).
fn toml_number(x: f64) -> String {
    if x == f64::INFINITY {
        "inf".into()
    } else if x == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{x}")
    }
}

/// The key called `name` (full dotted name), if there is one.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name && !matches!(k.ty, Pattern))
}

/// The keys a sweep may vary, in table order.
pub fn sweepable() -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(|k| k.sweep)
}

/// The keys of one section (`""`: the top level), patterns included.
pub fn section(s: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.section() == s)
}

impl Key {
    /// The section it belongs to (`""` for top-level keys).
    pub fn section(&self) -> &'static str {
        self.name.split_once('.').map_or("", |(s, _)| s)
    }

    /// The name within its section (`g`, `transfer.gain`).
    pub fn short(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(_, k)| k)
    }

    /// Whether it is a key of its section's table itself (not a parameter
    /// of a structured key such as `simulation.transfer.gain`, nor a pattern).
    pub fn is_direct(&self) -> bool {
        !matches!(self.ty, Pattern) && !self.short().contains('.')
    }

    /// The doc line; for a transfer parameter, followed by the kinds that
    /// have it.
    pub fn doc_text(&self) -> String {
        match self.default {
            PerKind => {
                let kinds: Vec<&str> = kinds_with(self.short().trim_start_matches("transfer."))
                    .iter()
                    .map(|(k, _)| *k)
                    .collect();
                format!("{} A parameter of {}.", self.doc, kinds.join(", "))
            }
            _ => self.doc.to_string(),
        }
    }

    /// The default as written in TOML (`—` and what happens when unset).
    pub fn default_text(&self) -> String {
        match self.default {
            Toml(t) => t.to_string(),
            Str(s) => toml::Value::String(s.into()).to_string(),
            Unset(why) => format!("— ({why})"),
            PerKind => per_kind(
                kinds_with(self.short().trim_start_matches("transfer."))
                    .into_iter()
                    .map(|(k, p)| (k, toml_number(p.default)))
                    .collect(),
            ),
        }
    }

    /// The default as a TOML value (`None` when unset or per kind).
    pub fn default_value(&self) -> Option<toml::Value> {
        let text = match self.default {
            Toml(t) => t.to_string(),
            Str(s) => return Some(toml::Value::String(s.into())),
            Unset(_) | PerKind => return None,
        };
        let mut t: toml::Table = format!("v = {text}")
            .parse()
            .unwrap_or_else(|e| panic!("{}: default {text} is not TOML: {e}", self.name));
        t.remove("v")
    }

    /// The allowed values, in words (`[0, 1)`, `> 0`, `"euler", "rk4"`).
    pub fn allowed(&self) -> String {
        let names = |v: Vec<&str>| v.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        match (self.ty, self.range) {
            (Name(f), _) => names(f()),
            (Bool, _) => "true, false".into(),
            (_, Range::Text(t)) => t.into(),
            (_, Range::Computed(f)) => f(),
            (Integer, r @ Range::Num { .. }) => format!("integer {}", range_text(r)),
            (_, r @ Range::Num { .. }) => {
                let r = range_text(r);
                if r.starts_with(['[', '(']) {
                    format!("number in {r}")
                } else if r == "finite" {
                    "finite number".into()
                } else {
                    format!("number {r}")
                }
            }
            (Type::Str, Range::Any) => "string".into(),
            (_, Range::Any) => "any".into(),
        }
    }

    /// A number's value, checked against the type (not the range).
    pub fn number(&self, v: &toml::Value) -> Result<f64> {
        match v {
            toml::Value::Float(x) => Ok(*x),
            toml::Value::Integer(i) => Ok(*i as f64),
            v => bail!("{}: expected a number, got {} {v}", self.name, v.type_str()),
        }
    }

    /// A non-negative integer's value, checked against the type.
    pub fn integer(&self, v: &toml::Value) -> Result<u64> {
        match v {
            toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            toml::Value::Float(x) if *x >= 0.0 && x.fract() == 0.0 && *x < 9e15 => Ok(*x as u64),
            v => bail!("{}: expected a non-negative integer, got {v}", self.name),
        }
    }

    /// A boolean's value.
    pub fn boolean(&self, v: &toml::Value) -> Result<bool> {
        match v {
            toml::Value::Boolean(b) => Ok(*b),
            v => bail!("{}: expected true or false, got {v}", self.name),
        }
    }

    /// A string's value; for [`Type::Name`] keys, one of the names (with the
    /// nearest suggested otherwise).
    pub fn string(&self, v: &toml::Value) -> Result<String> {
        let toml::Value::String(s) = v else {
            bail!("{}: expected a string, got {v}", self.name);
        };
        if let Name(f) = self.ty {
            let names = f();
            if !names.contains(&s.as_str()) {
                let hint = nearest(s, names.iter().copied())
                    .map(|n| format!(" (did you mean \"{n}\"?)"))
                    .unwrap_or_default();
                bail!("{} = \"{s}\": expected {}{hint}", self.name, self.allowed());
            }
        }
        Ok(s.clone())
    }

    /// Check a number against the range; `other` gives the value of another
    /// key for bounds such as `t_max >= dt`.
    pub fn check(&self, x: f64, other: impl Fn(&str) -> Option<f64>) -> Result<()> {
        let Range::Num { lo, hi, inf_ok } = self.range else {
            return Ok(());
        };
        let resolve = |b: Bound| match b {
            Bound::Key(k) => other(k).map_or(Bound::Open, Bound::Incl),
            b => b,
        };
        let ok_lo = match resolve(lo) {
            Bound::Incl(a) => x >= a,
            Bound::Excl(a) => x > a,
            _ => !x.is_nan(),
        };
        let ok_hi = match resolve(hi) {
            Bound::Incl(b) => x <= b,
            Bound::Excl(b) => x < b,
            _ => !x.is_nan(),
        };
        let ok_inf = x.is_finite() || (inf_ok && x == f64::INFINITY);
        if ok_lo && ok_hi && ok_inf {
            return Ok(());
        }
        let noun = match (self.ty, inf_ok || hi != Bound::Open) {
            (Integer, _) => "an integer",
            (_, true) => "a number",
            (_, false) => "a finite number",
        };
        let mut want = range_text(self.range);
        if let Bound::Key(k) = lo {
            if let Some(v) = other(k) {
                want = format!("{want} ({v})");
            }
        }
        let want = if want.starts_with(['[', '(']) {
            format!("{noun} in {want}")
        } else if want == "finite" {
            noun.to_string()
        } else {
            format!("{noun} {want}")
        };
        Err(err!("{} = {}: expected {want}", self.name, toml_number(x)))
    }
}

fn range_text(r: Range) -> String {
    let Range::Num { lo, hi, inf_ok } = r else {
        return String::new();
    };
    let b = |b: Bound| match b {
        Bound::Incl(x) | Bound::Excl(x) => toml_number(x),
        Bound::Key(k) => k.to_string(),
        Bound::Open => String::new(),
    };
    let text = match (lo, hi) {
        (Bound::Open, Bound::Open) => "finite".to_string(),
        (lo, Bound::Open) => format!("{} {}", if matches!(lo, Bound::Excl(_)) { ">" } else { ">=" }, b(lo)),
        (Bound::Open, hi) => format!("{} {}", if matches!(hi, Bound::Excl(_)) { "<" } else { "<=" }, b(hi)),
        (lo, hi) => format!(
            "{}{}, {}{}",
            if matches!(lo, Bound::Excl(_)) { "(" } else { "[" },
            b(lo),
            b(hi),
            if matches!(hi, Bound::Excl(_)) { ")" } else { "]" }
        ),
    };
    if inf_ok {
        format!("{text} or inf")
    } else {
        text
    }
}

/// Optimal-string-alignment distance (edits, with adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, x) in d[0].iter_mut().enumerate() {
        *x = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate nearest to `word` by edit distance, if it is near enough
/// to be a likely typo (at most one edit per three letters, at least one).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The error for an unknown key `k` of `section` (`""`: top level), with
/// the nearest known key suggested, or the same name in another section.
pub fn unknown_key(section: &str, k: &str) -> crate::Error {
    let here: Vec<&str> = if section.is_empty() {
        KEYS.iter().filter(|k| k.section().is_empty()).map(|k| k.name).collect()
    } else {
        self::section(section)
            .filter(|k| k.is_direct())
            .map(|k| k.short())
            .collect()
    };
    // Sections are known top-level names too.
    let sections: Vec<&str> = SECTIONS.iter().copied().filter(|s| !s.is_empty()).collect();
    let mut hint = None;
    if section.is_empty() {
        hint = nearest(k, sections.iter().copied())
            .map(|s| {
                if s == "condition" {
                    "[[condition]]".to_string()
                } else {
                    format!("[{s}]")
                }
            })
            .or_else(|| nearest(k, here.iter().copied()).map(str::to_string));
    } else if let Some(n) = nearest(k, here.iter().copied()) {
        hint = Some(n.to_string());
    }
    // The same name elsewhere: `dt` under [network] is `simulation.dt`.
    if hint.is_none() {
        hint = KEYS
            .iter()
            .find(|key| !matches!(key.ty, Pattern) && key.name.rsplit('.').next() == Some(k))
            .map(|key| key.name.to_string());
    }
    let what = match hint {
        Some(h) => format!("did you mean '{h}'?"),
        None if section.is_empty() => {
            let mut known: Vec<String> = here.iter().map(|s| s.to_string()).collect();
            known.extend(sections.iter().map(|s| {
                if *s == "condition" {
                    "[[condition]]".to_string()
                } else {
                    format!("[{s}]")
                }
            }));
            format!("known: {}", known.join(", "))
        }
        None => format!("known: {}", here.join(", ")),
    };
    if section.is_empty() || section == "condition" {
        err!("unknown key '{k}' ({what})")
    } else {
        err!("[{section}]: unknown key '{k}' ({what})")
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The markdown table of one section's keys (`""`: top level), as in
/// `docs/experiment-file.md`: key, default, allowed, doc.
pub fn markdown(section: &str) -> String {
    let mut out = String::from("| key | default | allowed | doc |\n|---|---|---|---|\n");
    for k in self::section(section) {
        let default = match k.default {
            Unset(why) => format!("— ({})", cell(why)),
            _ => format!("`{}`", cell(&k.default_text())),
        };
        let allowed = match (k.ty, k.range) {
            (Name(f), _) => f().iter().map(|n| format!("`\"{n}\"`")).collect::<Vec<_>>().join(", "),
            (Bool, _) => "`true`, `false`".into(),
            (_, Range::Computed(_)) => format!("`{}`", cell(&k.allowed())),
            _ => cell(&k.allowed()),
        };
        let sweep = if k.sweep { " Sweepable." } else { "" };
        out.push_str(&format!(
            "| `{}` | {default} | {allowed} | {}{sweep} |\n",
            cell(k.short()),
            cell(&k.doc_text())
        ));
    }
    out
}

/// The sweepable keys as a markdown sentence list (`` `network.g` ``, …).
pub fn markdown_sweepable() -> String {
    let names: Vec<String> = sweepable().map(|k| format!("`{}`", k.name)).collect();
    format!("The keys a sweep may vary: {}.\n", names.join(", "))
}

/// The transfer kinds as a markdown table (from
/// [`crate::sim::transfer::KINDS`]): kind, f(x), parameters with defaults.
pub fn markdown_transfer_kinds() -> String {
    let mut out = String::from("| kind | f(x) | parameters (defaults) |\n|---|---|---|\n");
    for k in KINDS {
        let params: Vec<String> = k
            .params
            .iter()
            .map(|p| format!("{} {}", p.name, toml_number(p.default)))
            .collect();
        let params = if params.is_empty() {
            "—".to_string()
        } else {
            params.join(", ")
        };
        out.push_str(&format!("| `\"{}\"` | `{}` | {params} |\n", k.name, cell(k.formula)));
    }
    out
}

/// Regenerate every `<!-- keys:begin NAME -->` … `<!-- keys:end -->` block
/// of a markdown document (NAME: a section, `top` for the top level,
/// `sweepable` or `transfer` for the transfer kinds); text outside the blocks is kept as it is.
pub fn regenerate_markdown(doc: &str) -> Result<String> {
    const BEGIN: &str = "<!-- keys:begin ";
    const END: &str = "<!-- keys:end -->";
    let mut out = String::new();
    let mut rest = doc;
    while let Some(i) = rest.find(BEGIN) {
        let after = &rest[i + BEGIN.len()..];
        let close = after.find("-->").ok_or_else(|| err!("unclosed {BEGIN}"))?;
        let name = after[..close].trim();
        let body_start = i + BEGIN.len() + close + 3;
        let end = rest[body_start..]
            .find(END)
            .ok_or_else(|| err!("{BEGIN}{name} --> has no {END}"))?;
        out.push_str(&rest[..body_start]);
        out.push('\n');
        out.push_str(&match name {
            "top" => markdown(""),
            "sweepable" => markdown_sweepable(),
            "transfer" => markdown_transfer_kinds(),
            s if SECTIONS.contains(&s) => markdown(s),
            other => bail!("{BEGIN}{other} -->: not a section"),
        });
        out.push_str(END);
        rest = &rest[body_start + end + END.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The table `ratenet keys` prints: one line per key (full dotted name,
/// default as written in TOML, allowed range, doc), aligned; only the keys
/// whose name starts with `prefix`, if given.
pub fn text_table(prefix: Option<&str>) -> String {
    let rows: Vec<[String; 4]> = KEYS
        .iter()
        .filter(|k| prefix.is_none_or(|p| k.name == p || k.name.starts_with(&format!("{p}."))))
        .map(|k| {
            let mut doc = k.doc_text().replace('`', "");
            if k.sweep {
                doc.push_str(" [sweepable]");
            }
            [k.name.to_string(), k.default_text(), k.allowed().replace('`', ""), doc]
        })
        .collect();
    // Columns as wide as their cells, but a few very long cells (the course
    // URLs) overflow rather than widen every line.
    const CAP: usize = 48;
    let width = |c: usize| {
        rows.iter()
            .map(|r| r[c].chars().count())
            .filter(|w| *w <= CAP)
            .max()
            .unwrap_or(0)
            .max(["KEY", "DEFAULT", "ALLOWED", "DOC"][c].len())
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    let header = ["KEY", "DEFAULT", "ALLOWED", "DOC"].map(String::from);
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        let mut col = 0;
        let mut target: usize = 0;
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                let pad = target.saturating_sub(col).max(2);
                line.push_str(&" ".repeat(pad));
                col += pad;
            }
            line.push_str(cell);
            col += cell.chars().count();
            if c < 3 {
                target += widths[c] + 2;
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_in_known_sections() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(SECTIONS.contains(&k.section()), "{}", k.name);
            assert!(KEYS[..i].iter().all(|o| o.name != k.name), "{} twice", k.name);
            assert!(!k.doc.contains('\n'), "{}: one line of doc", k.name);
            if k.sweep {
                assert!(matches!(k.ty, Float | Integer), "{}: only numbers are swept", k.name);
            }
            // Every default parses and is in range.
            if let Some(v) = k.default_value() {
                match k.ty {
                    Float => k.check(k.number(&v).unwrap(), |_| None).unwrap(),
                    Integer => k.check(k.integer(&v).unwrap() as f64, |_| None).unwrap(),
                    Bool => {
                        k.boolean(&v).unwrap();
                    }
                    Type::Str | Name(_) => {
                        k.string(&v).unwrap();
                    }
                    Structured | Pattern => {}
                }
            }
        }
    }

    #[test]
    fn transfer_parameters_are_those_of_the_kinds() {
        let mut from_kinds: Vec<&str> = KINDS.iter().flat_map(|k| k.params.iter().map(|p| p.name)).collect();
        from_kinds.sort();
        from_kinds.dedup();
        let mut here: Vec<&str> = KEYS
            .iter()
            .filter_map(|k| k.name.strip_prefix("simulation.transfer."))
            .collect();
        here.sort();
        assert_eq!(here, from_kinds);
        let r_max = find("simulation.transfer.r_max").unwrap();
        assert_eq!(r_max.default_text(), "1 (threshold_linear: inf)");
        assert_eq!(r_max.allowed(), "> 0 (threshold_linear: > 0 or inf)");
        assert_eq!(find("simulation.transfer.gain").unwrap().default_text(), "1");
        // Names the docs spell out, held to the parsers' lists.
        let transfer = find("simulation.transfer").unwrap().doc;
        for k in KINDS {
            assert!(transfer.contains(&format!("\"{}\"", k.name)), "{}", k.name);
        }
        let nulls = find("condition.nulls").unwrap().doc;
        for n in crate::network::nulls::NULL_MODEL_NAMES.split(", ") {
            assert!(nulls.contains(n), "{n}");
        }
    }

    #[test]
    fn the_swap_default_is_the_null_models_own() {
        let k = find("null_models.swaps_per_edge").unwrap();
        let v = k.default_value().unwrap();
        assert_eq!(k.number(&v).unwrap(), crate::network::nulls::DEFAULT_SWAPS_PER_EDGE);
    }

    #[test]
    fn names_are_those_the_parsers_take() {
        use crate::data::Aggregate;
        use crate::network::{NetworkKind, RngMode};
        use crate::sim::{Method, Target};
        type Parses = fn(&str) -> bool;
        let parsers: [(&str, Parses); 7] = [
            ("data.aggregate", |s| Aggregate::parse(s).is_ok()),
            ("data.endpoints", |s| crate::data::Endpoints::parse(s).is_ok()),
            ("network.inhibition", |s| crate::network::Inhibition::parse(s).is_ok()),
            ("network.kind", |s| NetworkKind::parse(s).is_ok()),
            ("network.rng", |s| RngMode::parse(s).is_ok()),
            ("stimulus.target", |s| Target::parse(s).is_ok()),
            ("simulation.method", |s| Method::parse(s).is_ok()),
        ];
        for (name, parses) in parsers {
            let Name(names) = find(name).unwrap().ty else {
                panic!("{name} is a name");
            };
            for n in names() {
                assert!(parses(n), "{name}: {n}");
            }
            assert!(!parses("no_such_name"), "{name}");
        }
    }

    #[test]
    fn ranges_read_as_written() {
        let r = find("network.r_inhibitory").unwrap();
        assert_eq!(r.allowed(), "number in [0, 1)");
        assert_eq!(
            r.check(1.2, |_| None).unwrap_err().message(),
            "network.r_inhibitory = 1.2: expected a number in [0, 1)"
        );
        assert!(r.check(0.0, |_| None).is_ok() && r.check(f64::NAN, |_| None).is_err());
        let g = find("network.g").unwrap();
        assert_eq!(
            g.check(-1.0, |_| None).unwrap_err().message(),
            "network.g = -1: expected a finite number >= 0"
        );
        assert!(g.check(f64::INFINITY, |_| None).is_err());
        let d = find("metric.divergence_threshold").unwrap();
        assert!(d.check(f64::INFINITY, |_| None).is_ok() && d.check(0.0, |_| None).is_err());
        let t = find("simulation.t_max").unwrap();
        assert_eq!(
            t.check(0.001, |k| (k == "simulation.dt").then_some(0.01))
                .unwrap_err()
                .message(),
            "simulation.t_max = 0.001: expected a finite number >= simulation.dt (0.01)"
        );
        assert_eq!(find("network.n_neurons").unwrap().allowed(), "integer >= 2");
        assert_eq!(find("metric.spectrum").unwrap().default_text(), "false");
        assert_eq!(find("simulation.stop_early").unwrap().default_text(), "true");
    }

    #[test]
    fn suggestions() {
        assert_eq!(nearest("gg", ["g", "rng", "kind"]), Some("g"));
        assert_eq!(nearest("netwrok", ["network", "data"]), Some("network"));
        assert_eq!(nearest("foo_bar", ["g", "balance"]), None);
        assert_eq!(
            unknown_key("network", "gg").message(),
            "[network]: unknown key 'gg' (did you mean 'g'?)"
        );
        assert_eq!(
            unknown_key("network", "dt").message(),
            "[network]: unknown key 'dt' (did you mean 'simulation.dt'?)"
        );
        assert_eq!(
            unknown_key("", "netwrok").message(),
            "unknown key 'netwrok' (did you mean '[network]'?)"
        );
        assert!(unknown_key("network", "foo_bar")
            .message()
            .contains("known: kind, n_neurons"));
    }

    /// `docs/experiment-file.md` holds the key tables generated from
    /// [`KEYS`]; `RATENET_UPDATE_DOCS=1 cargo test --release -p ratenet keys`
    /// rewrites them.
    #[test]
    fn the_experiment_file_reference_is_generated_from_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/experiment-file.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let want = regenerate_markdown(&doc).unwrap();
        if std::env::var_os("RATENET_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        for s in SECTIONS {
            let name = if s.is_empty() { "top" } else { s };
            assert!(
                doc.contains(&format!("<!-- keys:begin {name} -->")),
                "docs/experiment-file.md has no generated table for [{s}]"
            );
        }
        assert!(
            doc == want,
            "docs/experiment-file.md differs from the key table; run \
             RATENET_UPDATE_DOCS=1 cargo test --release -p ratenet keys"
        );
    }

    #[test]
    fn the_text_table_lists_every_key_once() {
        let t = text_table(None);
        assert_eq!(t.lines().count(), KEYS.len() + 1);
        assert!(t.lines().any(|l| l.starts_with("network.g ") && l.contains("0.002")));
        let n = text_table(Some("simulation.transfer"));
        assert_eq!(n.lines().count(), 5);
    }
}
