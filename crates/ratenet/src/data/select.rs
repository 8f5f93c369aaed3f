//! Cell selection: every `column = value`, `column = [values]` and
//! `column = { not = value }` rule must hold.

use crate::data::table::{Column, Table};
use crate::{bail, err, Result};

/// A value in a selection rule, as written in the experiment file.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v}"),
            Scalar::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl Scalar {
    /// From a TOML value (strings, numbers, booleans).
    pub fn from_toml(v: &toml::Value, key: &str) -> Result<Scalar> {
        Ok(match v {
            toml::Value::String(s) => Scalar::Str(s.clone()),
            toml::Value::Integer(i) => Scalar::Int(*i),
            toml::Value::Float(x) => Scalar::Float(*x),
            toml::Value::Boolean(b) => Scalar::Bool(*b),
            other => bail!("{key}: expected a string, number or boolean, got {}", other.type_str()),
        })
    }

    fn to_toml(&self) -> toml::Value {
        match self {
            Scalar::Str(s) => toml::Value::String(s.clone()),
            Scalar::Int(v) => toml::Value::Integer(*v),
            Scalar::Float(v) => toml::Value::Float(*v),
            Scalar::Bool(v) => toml::Value::Boolean(*v),
        }
    }
}

/// One column's condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// The value is one of these.
    In(Vec<Scalar>),
    /// The value is none of these.
    Not(Vec<Scalar>),
}

/// The cells kept: all rules hold. Rules are kept sorted by column so that
/// a selection prints and hashes the same however it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// (column, rule), sorted by column.
    pub rules: Vec<(String, Rule)>,
}

impl Default for Selection {
    /// The notebook's: proofread layer-2/3 pyramidal cells of V1.
    fn default() -> Self {
        let mut s = Selection { rules: Vec::new() };
        s.set("cell_type_auto", Rule::In(vec![Scalar::Str("23P".into())]));
        s.set("proofreading_strategy", Rule::Not(vec![Scalar::Str(String::new())]));
        s.set("region", Rule::In(vec![Scalar::Str("V1".into())]));
        s
    }
}

impl Selection {
    /// Add or replace the rule of one column.
    pub fn set(&mut self, column: &str, rule: Rule) {
        self.rules.retain(|(c, _)| c != column);
        self.rules.push((column.to_string(), rule));
        self.rules.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Parse one rule: `value`, `[values]` or `{ not = value | [values] }`.
    pub fn parse_rule(v: &toml::Value, key: &str) -> Result<Rule> {
        let list = |v: &toml::Value| -> Result<Vec<Scalar>> {
            match v {
                toml::Value::Array(a) if !a.is_empty() => a.iter().map(|x| Scalar::from_toml(x, key)).collect(),
                toml::Value::Array(_) => bail!("{key}: an empty list selects nothing"),
                x => Ok(vec![Scalar::from_toml(x, key)?]),
            }
        };
        match v {
            toml::Value::Table(t) => {
                if t.len() != 1 || !t.contains_key("not") {
                    bail!("{key}: expected a value, a list of values, or {{ not = value }}");
                }
                Ok(Rule::Not(list(&t["not"])?))
            }
            x => Ok(Rule::In(list(x)?)),
        }
    }

    /// Parse a whole `[data.select]` table.
    pub fn from_toml(t: &toml::Table, key: &str) -> Result<Selection> {
        let mut s = Selection { rules: Vec::new() };
        for (c, v) in t {
            s.set(c, Self::parse_rule(v, &format!("{key}.{c}"))?);
        }
        Ok(s)
    }

    /// As a TOML table (for the resolved spec).
    pub fn to_toml(&self) -> toml::Table {
        let list = |v: &[Scalar]| {
            if v.len() == 1 {
                v[0].to_toml()
            } else {
                toml::Value::Array(v.iter().map(Scalar::to_toml).collect())
            }
        };
        let mut t = toml::Table::new();
        for (c, r) in &self.rules {
            let v = match r {
                Rule::In(v) => list(v),
                Rule::Not(v) => {
                    let mut n = toml::Table::new();
                    n.insert("not".into(), list(v));
                    toml::Value::Table(n)
                }
            };
            t.insert(c.clone(), v);
        }
        t
    }

    /// A short text for messages, e.g. `{cell_type_auto = "23P", region = "V1"}`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .rules
            .iter()
            .map(|(c, r)| match r {
                Rule::In(v) if v.len() == 1 => format!("{c} = {}", v[0]),
                Rule::In(v) => format!(
                    "{c} in [{}]",
                    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
                ),
                Rule::Not(v) => format!(
                    "{c} not in [{}]",
                    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
                ),
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// Which rows of the cell table pass every rule.
    pub fn mask(&self, table: &Table) -> Result<Vec<bool>> {
        self.mask_as(table, "data.select")
    }

    /// [`Selection::mask`] of the selection at `key` (`data.select`,
    /// `data.inhibitory_select`), which its messages name.
    pub fn mask_as(&self, table: &Table, key: &str) -> Result<Vec<bool>> {
        let mut mask = vec![true; table.nrows()];
        for (col, rule) in &self.rules {
            let column = table.column(col).map_err(|e| e.context(format!("{key}.{col}")))?;
            let (values, keep_if_match) = match rule {
                Rule::In(v) => (v, true),
                Rule::Not(v) => (v, false),
            };
            let wrong = |v: &Scalar, what: &str| {
                err!(
                    "{key}.{col}: column '{col}' of {} holds {what}, but the rule compares it with {v}",
                    table.path()
                )
            };
            for v in values {
                match (column, v) {
                    (Column::Str(_), Scalar::Str(_))
                    | (Column::Int(_) | Column::Float(_), Scalar::Int(_) | Scalar::Float(_))
                    | (Column::Bool(_), Scalar::Bool(_)) => {}
                    (Column::Str(_), v) => return Err(wrong(v, "strings")),
                    (Column::Int(_) | Column::Float(_), v) => return Err(wrong(v, "numbers")),
                    (Column::Bool(_), v) => return Err(wrong(v, "booleans")),
                }
            }
            let validity = table.validity(col)?;
            for (row, m) in mask.iter_mut().enumerate() {
                if !*m {
                    continue;
                }
                let valid = validity.is_none_or(|v| v[row]);
                let hit = valid
                    && values.iter().any(|v| match (column, v) {
                        (Column::Str(c), Scalar::Str(s)) => c[row] == *s,
                        (Column::Int(c), Scalar::Int(s)) => c[row] == *s,
                        (Column::Int(c), Scalar::Float(s)) => c[row] as f64 == *s,
                        (Column::Float(c), Scalar::Int(s)) => c[row] == *s as f64,
                        (Column::Float(c), Scalar::Float(s)) => c[row] == *s,
                        (Column::Bool(c), Scalar::Bool(s)) => c[row] == *s,
                        _ => false,
                    });
                // pandas semantics: a missing value equals nothing, so `not` keeps it.
                *m = hit == keep_if_match;
            }
        }
        Ok(mask)
    }
}

/// Entry `row` of column `col` as text for messages (`null` for a missing
/// value, `?` for a column that cannot be read).
pub fn value_text(table: &Table, col: &str, row: usize) -> String {
    if table.is_null(col, row).unwrap_or(false) {
        return "null".into();
    }
    match table.column(col) {
        Ok(Column::Str(v)) => format!("{:?}", v[row]),
        Ok(Column::Int(v)) => v[row].to_string(),
        Ok(Column::Float(v)) => v[row].to_string(),
        Ok(Column::Bool(v)) => v[row].to_string(),
        Err(_) => "?".into(),
    }
}

impl Selection {
    /// Why the selection keeps no cell of `table`, as a suffix for the
    /// message: the first rule that no row passes together with the other
    /// rules, and the values that occur in its column there (most frequent
    /// first, at most 12).
    pub fn why_empty(&self, table: &Table) -> String {
        // First with the other rules in force; if no rule passes that way
        // (two rules each keep nothing), each rule alone over the whole table.
        for alone in [false, true] {
            for (k, (col, rule)) in self.rules.iter().enumerate() {
                let scope = Selection {
                    rules: self
                        .rules
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != k && !alone)
                        .map(|(_, r)| r.clone())
                        .collect(),
                };
                let this = Selection {
                    rules: vec![(col.clone(), rule.clone())],
                };
                let (Ok(mask), Ok(hit)) = (scope.mask(table), this.mask(table)) else {
                    continue;
                };
                if !mask.iter().any(|&m| m) || mask.iter().zip(&hit).any(|(&m, &h)| m && h) {
                    continue;
                }
                let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
                for (row, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
                    *counts.entry(value_text(table, col, row)).or_default() += 1;
                }
                let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
                counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let shown: Vec<String> = counts.iter().take(12).map(|(v, n)| format!("{v} ({n})")).collect();
                let more = if counts.len() > 12 {
                    format!(", … {} more", counts.len() - 12)
                } else {
                    String::new()
                };
                let (who, there) = if scope.rules.is_empty() {
                    ("no cell", "")
                } else {
                    ("none of the cells the other rules keep", " there")
                };
                return format!(
                    "; {who} passes the rule on '{col}'; its values{there}: {}{more}",
                    shown.join(", ")
                );
            }
        }
        String::new()
    }
}
