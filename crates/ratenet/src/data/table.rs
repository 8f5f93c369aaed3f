//! Small in-memory columnar tables read from Feather v2 / Arrow IPC, Parquet
//! or CSV files.
//!
//! The pipeline needs a handful of columns as plain vectors (root ids,
//! synapse sizes, cell labels), so every supported Arrow type is widened on
//! read to one of four Rust element types. The file's own type name is kept
//! so that an error can say what the file really holds.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType, Schema};

use super::declared;
pub use super::declared::{max_table_bytes, MAX_TABLE_BYTES_VAR};
use crate::{bail, err, Error, Result};

/// The extensions [`Table::read`] understands, for error messages.
const SUPPORTED: &str = ".feather, .arrow, .ipc (Arrow IPC / Feather v2), .parquet, .pq, .csv";

/// Rows per Parquet record batch: large batches keep per-batch overhead
/// negligible next to the copy into our own vectors.
const PARQUET_BATCH_ROWS: usize = 1 << 16;

/// Above this magnitude not every integer is representable in an `f64`, so
/// ids stored as floats may already have been rounded by the writer.
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// The values of one column, widened to the element types the pipeline uses.
///
/// A null entry holds a placeholder (`0`, `NaN`, `""` or `false`); the
/// table's validity mask ([`Table::validity`]) says which entries are null.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Int8..Int64, and UInt8..UInt64 when every value fits in an `i64`.
    Int(Vec<i64>),
    /// Float16, Float32 or Float64.
    Float(Vec<f64>),
    /// Utf8, LargeUtf8, Utf8View, or a dictionary (pandas categorical) of those.
    Str(Vec<String>),
    /// Boolean.
    Bool(Vec<bool>),
}

impl Column {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this column holds (string contents included).
    fn held_bytes(&self) -> u64 {
        let n = self.len() as u64;
        match self {
            Column::Int(_) | Column::Float(_) => 8 * n,
            Column::Bool(_) => n,
            Column::Str(v) => v.iter().map(|s| 24 + s.len() as u64).sum(),
        }
    }

    /// The Arrow name of the widened type, used for columns built in memory.
    fn type_name(&self) -> &'static str {
        match self {
            Column::Int(_) => "Int64",
            Column::Float(_) => "Float64",
            Column::Str(_) => "Utf8",
            Column::Bool(_) => "Boolean",
        }
    }

    /// Append `other`, which has the same variant because both come from the
    /// same schema field.
    fn append(&mut self, other: Column) {
        match (self, other) {
            (Column::Int(a), Column::Int(b)) => a.extend(b),
            (Column::Float(a), Column::Float(b)) => a.extend(b),
            (Column::Str(a), Column::Str(b)) => a.extend(b),
            (Column::Bool(a), Column::Bool(b)) => a.extend(b),
            _ => unreachable!("record batches of one file share one schema"),
        }
    }

    /// Gather entries by index (dictionary decoding).
    fn take(&self, idx: &[usize]) -> Column {
        match self {
            Column::Int(v) => Column::Int(idx.iter().map(|&i| v[i]).collect()),
            Column::Float(v) => Column::Float(idx.iter().map(|&i| v[i]).collect()),
            Column::Str(v) => Column::Str(idx.iter().map(|&i| v[i].clone()).collect()),
            Column::Bool(v) => Column::Bool(idx.iter().map(|&i| v[i]).collect()),
        }
    }

    /// Overwrite null entries with the documented placeholder, since Arrow
    /// leaves whatever bytes the writer had there.
    fn blank_nulls(&mut self, valid: &[bool]) {
        let nulls = valid.iter().enumerate().filter(|(_, &ok)| !ok).map(|(i, _)| i);
        match self {
            Column::Int(v) => nulls.for_each(|i| v[i] = 0),
            Column::Float(v) => nulls.for_each(|i| v[i] = f64::NAN),
            Column::Str(v) => nulls.for_each(|i| v[i].clear()),
            Column::Bool(v) => nulls.for_each(|i| v[i] = false),
        }
    }
}

/// One column of a [`Table`] with its bookkeeping.
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    /// The type as the file declares it (Arrow's spelling), for messages.
    dtype: String,
    /// `Err` holds why the column could not be read; that only becomes an
    /// error when someone asks for the column.
    data: std::result::Result<Column, String>,
    /// `None` when the column has no nulls.
    validity: Option<Vec<bool>>,
}

impl Slot {
    fn new(name: &str, dtype: &DataType) -> Slot {
        Slot {
            name: name.to_string(),
            dtype: dtype.to_string(),
            data: empty_column(dtype),
            validity: None,
        }
    }

    /// Append one batch's array, keeping the validity mask aligned; `room`
    /// is what is left of the table budget. Returns the bytes it added.
    fn push(&mut self, array: &dyn Array, before: usize, room: u64) -> u64 {
        let Ok(col) = &mut self.data else {
            return 0;
        };
        match convert(array, room) {
            Ok((part, valid)) => {
                let added = part.held_bytes() + valid.as_ref().map_or(0, |v| v.len() as u64);
                col.append(part);
                merge_validity(&mut self.validity, before, array.len(), valid);
                added
            }
            Err(why) => {
                self.data = Err(why);
                0
            }
        }
    }
}

/// Extend a lazily materialised validity mask by `len` entries.
fn merge_validity(mask: &mut Option<Vec<bool>>, before: usize, len: usize, part: Option<Vec<bool>>) {
    match (mask.as_mut(), part) {
        (Some(m), Some(p)) => m.extend(p),
        (Some(m), None) => m.resize(before + len, true),
        (None, Some(p)) => {
            let mut m = vec![true; before];
            m.extend(p);
            *mask = Some(m);
        }
        (None, None) => {}
    }
}

/// An empty column of the variant `dtype` widens to, or why it cannot be read.
fn empty_column(dtype: &DataType) -> std::result::Result<Column, String> {
    Ok(match dtype {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Column::Int(Vec::new()),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Column::Float(Vec::new()),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Column::Str(Vec::new()),
        DataType::Boolean => Column::Bool(Vec::new()),
        DataType::Dictionary(_, values) => empty_column(values)?,
        other => return Err(format!("unsupported type {other}")),
    })
}

fn ints<T>(a: &dyn Array) -> Column
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    Column::Int(a.as_primitive::<T>().values().iter().map(|&x| x.into()).collect())
}

fn floats<T>(a: &dyn Array) -> Column
where
    T: ArrowPrimitiveType,
    T::Native: Into<f64>,
{
    Column::Float(a.as_primitive::<T>().values().iter().map(|&x| x.into()).collect())
}

fn strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> Column {
    Column::Str(it.map(|s| s.unwrap_or("").to_string()).collect())
}

/// Widen one Arrow array; also returns its validity mask if it has nulls.
/// `room` bounds what a dictionary may expand to (a few short keys can name
/// a long string each; the other types hold what their buffers declared,
/// which was checked before decoding).
fn convert(a: &dyn Array, room: u64) -> std::result::Result<(Column, Option<Vec<bool>>), String> {
    let valid = a
        .logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| n.iter().collect::<Vec<bool>>());
    let mut col = match a.data_type() {
        DataType::Int8 => ints::<Int8Type>(a),
        DataType::Int16 => ints::<Int16Type>(a),
        DataType::Int32 => ints::<Int32Type>(a),
        DataType::Int64 => ints::<Int64Type>(a),
        DataType::UInt8 => ints::<UInt8Type>(a),
        DataType::UInt16 => ints::<UInt16Type>(a),
        DataType::UInt32 => ints::<UInt32Type>(a),
        DataType::UInt64 => {
            let p = a.as_primitive::<UInt64Type>();
            let mut out = Vec::with_capacity(p.len());
            for (i, &x) in p.values().iter().enumerate() {
                match i64::try_from(x) {
                    Ok(v) => out.push(v),
                    Err(_) if p.is_null(i) => out.push(0),
                    Err(_) => return Err(format!("UInt64 value {x} does not fit in an i64")),
                }
            }
            Column::Int(out)
        }
        DataType::Float16 => Column::Float(
            a.as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|x| x.to_f64())
                .collect(),
        ),
        DataType::Float32 => floats::<Float32Type>(a),
        DataType::Float64 => floats::<Float64Type>(a),
        DataType::Utf8 => strs(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strs(a.as_string::<i64>().iter()),
        DataType::Utf8View => strs(a.as_string_view().iter()),
        DataType::Boolean => Column::Bool(a.as_boolean().iter().map(|b| b.unwrap_or(false)).collect()),
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            if d.values().is_empty() {
                // Only possible when every key is null: nothing to look up.
                placeholder(&empty_column(a.data_type())?, a.len())
            } else {
                let (values, _) = convert(d.values().as_ref(), room)?;
                let keys = d.normalized_keys();
                if let Column::Str(v) = &values {
                    let expanded: u64 = keys.iter().map(|&k| 24 + v.get(k).map_or(0, |s| s.len() as u64)).sum();
                    if expanded > room {
                        return Err(declared::over_budget_note(expanded, room));
                    }
                }
                values.take(&keys)
            }
        }
        other => return Err(format!("unsupported type {other}")),
    };
    if let Some(v) = &valid {
        col.blank_nulls(v);
    }
    Ok((col, valid))
}

/// `n` placeholder entries of the same variant as `like`.
fn placeholder(like: &Column, n: usize) -> Column {
    match like {
        Column::Int(_) => Column::Int(vec![0; n]),
        Column::Float(_) => Column::Float(vec![f64::NAN; n]),
        Column::Str(_) => Column::Str(vec![String::new(); n]),
        Column::Bool(_) => Column::Bool(vec![false; n]),
    }
}

thread_local! {
    /// Set while this thread runs a reader under [`guard_panics`]: the panic
    /// hook then records the message here instead of printing it.
    static GUARDED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Run a reader, turning a panic inside it (a decoder's, on a malformed
/// file) into a one-line error naming the file. The panic's message is kept
/// for the error and not printed; panics elsewhere, and on other threads, go
/// to the hook that was installed before (the default one prints them).
fn guard_panics<T>(shown: &str, format: Format, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let guarded = GUARDED.with(|g| {
                let mut g = g.borrow_mut();
                match g.as_mut() {
                    Some(msg) => {
                        *msg = panic_message(info.payload());
                        true
                    }
                    None => false,
                }
            });
            if !guarded {
                previous(info);
            }
        }));
    });
    let outer = GUARDED.with(|g| g.borrow_mut().replace(String::new()));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let msg = GUARDED.with(|g| std::mem::replace(&mut *g.borrow_mut(), outer));
    match r {
        Ok(r) => r,
        Err(payload) => {
            let msg = match msg {
                Some(m) if !m.is_empty() => m,
                _ => panic_message(&*payload),
            };
            let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
            bail!("{shown}: not a valid {format} file (the decoder failed: {msg})")
        }
    }
}

/// A panic payload's message, when it is a string.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// The file formats [`Table::read`] recognises by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ipc,
    Parquet,
    Csv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Ipc => "Arrow IPC / Feather",
            Format::Parquet => "Parquet",
            Format::Csv => "CSV",
        })
    }
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "feather" | "arrow" | "ipc" => Some(Format::Ipc),
            "parquet" | "pq" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A column-oriented table held in memory.
///
/// Columns keep the file's order; requested subsets are read in file order
/// too. Every accessor's error is one line naming the file and the column.
#[derive(Debug, Clone)]
pub struct Table {
    path: String,
    slots: Vec<Slot>,
    nrows: usize,
}

impl Table {
    /// Read a table, choosing the reader by the file's extension:
    /// `.feather`/`.arrow`/`.ipc` (Arrow IPC file or stream, Feather v2, any
    /// compression Arrow writes), `.parquet`/`.pq`, or `.csv` (header row
    /// required; column types inferred, see [`Table::read`]'s notes below).
    ///
    /// `columns` limits reading to those columns (a projection), which keeps
    /// wide tables cheap; asking for a column the file lacks is an error that
    /// lists the columns it has. Columns of types this module does not widen
    /// are an error only if requested or used.
    ///
    /// CSV columns are typed by their non-empty fields: all `i64` → `Int`
    /// (parsed as integers, so 64-bit ids stay exact), else all `f64` →
    /// `Float`, else all `true`/`false` (any case) → `Bool`, else `Str`. An
    /// empty field is null in a numeric or boolean column but the empty string
    /// in a string column, because the MICrONS cell table writes "not
    /// proofread" as `""`.
    ///
    /// Before an Arrow IPC or Parquet file is decoded, what it declares is
    /// checked against the file itself (every block, buffer and page inside
    /// it, no negative size) and against a memory budget for the decoded
    /// table, [`max_table_bytes`] (`RATENET_MAX_TABLE_BYTES`, default the
    /// machine's memory): a malformed or hostile file is refused with one
    /// line instead of exhausting memory or time in the decoders.
    pub fn read(path: &Path, columns: Option<&[&str]>) -> Result<Table> {
        Table::read_with_budget(path, columns, max_table_bytes()?)
    }

    /// [`Table::read`] with an explicit budget (bytes) for the decoded table
    /// instead of [`max_table_bytes`].
    pub fn read_with_budget(path: &Path, columns: Option<&[&str]>, budget: u64) -> Result<Table> {
        let shown = path.display().to_string();
        // What the path is comes first: a directory or a missing file named
        // without a table extension is not an "unknown table format".
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => bail!("{shown}: is a directory, expected a table file ({SUPPORTED})"),
            Ok(m) if m.len() == 0 && m.is_file() => bail!("{shown}: is empty (0 bytes), expected a table"),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{shown}: no such file"),
            Err(e) => bail!("{shown}: cannot open ({e})"),
        }
        let Some(format) = Format::of(path) else {
            bail!("{shown}: unknown table format (supported extensions: {SUPPORTED})");
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{shown}: no such file"),
            Err(e) => bail!("{shown}: cannot open ({e})"),
        };
        // The Arrow and Parquet decoders panic on some malformed files (found
        // by fuzzing: an IPC buffer length past the body, a negative Parquet
        // column chunk offset); a bad file is an error, not a crash.
        let table = guard_panics(&shown, format, || match format {
            Format::Ipc => read_ipc(file, &shown, columns, budget),
            Format::Parquet => read_parquet(file, &shown, columns, budget),
            Format::Csv => read_csv(file, &shown, columns),
        })?;
        if columns.is_some() {
            // Requested columns must be usable now, not at first use.
            for s in &table.slots {
                if let Err(why) = &s.data {
                    bail!("{shown}: column '{}' has {why}", s.name);
                }
            }
        }
        Ok(table)
    }

    /// Build a table from columns already in memory (no nulls); `source`
    /// names it in messages. All columns must have the same length.
    pub fn from_columns(source: impl Into<String>, columns: Vec<(String, Column)>) -> Result<Table> {
        let path = source.into();
        let nrows = columns.first().map_or(0, |(_, c)| c.len());
        let mut slots = Vec::with_capacity(columns.len());
        for (name, col) in columns {
            if col.len() != nrows {
                bail!("{path}: column '{name}' has {} rows, expected {nrows}", col.len());
            }
            slots.push(Slot {
                dtype: col.type_name().to_string(),
                name,
                data: Ok(col),
                validity: None,
            });
        }
        Ok(Table { path, slots, nrows })
    }

    /// The source path as given, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Column names, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// Whether a column of that name was read.
    pub fn has_column(&self, name: &str) -> bool {
        self.slots.iter().any(|s| s.name == name)
    }

    fn slot(&self, name: &str) -> Result<&Slot> {
        self.slots.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<String> = self.slots.iter().map(|s| s.name.clone()).collect();
            err!("{}: no column '{name}' (columns: {})", self.path, list_names(&names))
        })
    }

    /// The column's type as the file declares it, in Arrow's spelling
    /// (e.g. `Int32`, `Utf8`, `Dictionary(Int8, Utf8)`; CSV columns report
    /// `Int64`, `Float64`, `Boolean` or `Utf8`).
    pub fn dtype(&self, name: &str) -> Result<&str> {
        Ok(&self.slot(name)?.dtype)
    }

    /// The column's values; nulls hold placeholders (see [`Column`]).
    pub fn column(&self, name: &str) -> Result<&Column> {
        let s = self.slot(name)?;
        s.data
            .as_ref()
            .map_err(|why| err!("{}: column '{name}' has {why}", self.path))
    }

    /// The column's validity mask (`true` = present), `None` if it has no nulls.
    pub fn validity(&self, name: &str) -> Result<Option<&[bool]>> {
        self.column(name)?;
        Ok(self.slot(name)?.validity.as_deref())
    }

    /// Number of null entries in the column.
    pub fn null_count(&self, name: &str) -> Result<usize> {
        Ok(self.validity(name)?.map_or(0, |v| v.iter().filter(|&&ok| !ok).count()))
    }

    /// Whether entry `row` of the column is null.
    pub fn is_null(&self, name: &str, row: usize) -> Result<bool> {
        if row >= self.nrows {
            bail!("{}: row {row} is out of range ({} rows)", self.path, self.nrows);
        }
        Ok(self.validity(name)?.is_some_and(|v| !v[row]))
    }

    /// An error if the column has nulls, since `what` cannot represent them.
    fn no_nulls(&self, name: &str, what: &str) -> Result<()> {
        if let Some(v) = self.validity(name)? {
            let n = v.iter().filter(|&&ok| !ok).count();
            let first = v.iter().position(|&ok| !ok).unwrap_or(0);
            bail!(
                "{}: column '{name}' has {n} null values (first at row {first}), expected {what}",
                self.path
            );
        }
        Ok(())
    }

    /// The column as integer ids.
    ///
    /// Any integer width is accepted. A float column is accepted when every
    /// value is integral and below 2^53 in magnitude, since larger floats may
    /// already have been rounded (pandas turns an int64 id column with a
    /// missing value into float64). Nulls, strings and booleans are errors.
    pub fn ids(&self, name: &str) -> Result<Vec<i64>> {
        const WHAT: &str = "integer ids";
        let col = self.column(name)?;
        let dtype = self.dtype(name)?;
        match col {
            Column::Int(v) => {
                self.no_nulls(name, WHAT)?;
                Ok(v.clone())
            }
            Column::Float(v) => {
                self.no_nulls(name, WHAT)?;
                v.iter()
                    .enumerate()
                    .map(|(row, &x)| {
                        if x.fract() != 0.0 || !x.is_finite() {
                            Err(err!(
                                "{}: column '{name}' has non-integer value {x} at row {row}, expected {WHAT}",
                                self.path
                            ))
                        } else if x.abs() > F64_EXACT_INT {
                            Err(err!(
                                "{}: column '{name}' holds ids as {dtype} and value {x} at row {row} is above 2^53, so it may have been rounded; store ids as int64",
                                self.path
                            ))
                        } else {
                            Ok(x as i64)
                        }
                    })
                    .collect()
            }
            _ => bail!("{}: column '{name}' has type {dtype}, expected {WHAT}", self.path),
        }
    }

    /// The column as numbers (integer or float columns); nulls are errors.
    pub fn floats(&self, name: &str) -> Result<Vec<f64>> {
        const WHAT: &str = "numbers";
        let col = self.column(name)?;
        match col {
            Column::Int(v) => {
                self.no_nulls(name, WHAT)?;
                Ok(v.iter().map(|&x| x as f64).collect())
            }
            Column::Float(v) => {
                self.no_nulls(name, WHAT)?;
                Ok(v.clone())
            }
            _ => bail!(
                "{}: column '{name}' has type {}, expected {WHAT}",
                self.path,
                self.dtype(name)?
            ),
        }
    }

    /// The column as strings; a null reads as `""` (check [`Table::validity`]
    /// where that distinction matters).
    pub fn strings(&self, name: &str) -> Result<&[String]> {
        match self.column(name)? {
            Column::Str(v) => Ok(v),
            _ => bail!(
                "{}: column '{name}' has type {}, expected strings",
                self.path,
                self.dtype(name)?
            ),
        }
    }

    /// The column as booleans; nulls are errors.
    pub fn bools(&self, name: &str) -> Result<&[bool]> {
        match self.column(name)? {
            Column::Bool(v) => {
                self.no_nulls(name, "booleans")?;
                Ok(v)
            }
            _ => bail!(
                "{}: column '{name}' has type {}, expected booleans",
                self.path,
                self.dtype(name)?
            ),
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} rows: ", self.path, self.nrows)?;
        for (i, s) in self.slots.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} {}", s.name, s.dtype)?;
        }
        f.write_str(")")
    }
}

/// Column names for a message, shortened so a wide table stays one line.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 40;
    let mut out = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(", … ({} more)", names.len() - SHOWN));
    }
    out
}

/// Indices (sorted, in file order) of the requested columns, or `None` for all.
fn projection(shown: &str, names: &[String], columns: Option<&[&str]>) -> Result<Option<Vec<usize>>> {
    let Some(wanted) = columns else {
        return Ok(None);
    };
    let mut idx = Vec::with_capacity(wanted.len());
    for w in wanted {
        match names.iter().position(|n| n == w) {
            Some(i) => idx.push(i),
            None => bail!("{shown}: no column '{w}' (columns: {})", list_names(names)),
        }
    }
    idx.sort_unstable();
    idx.dedup();
    Ok(Some(idx))
}

fn field_names(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// Concatenate record batches into a table of at most `budget` bytes.
fn collect_batches(
    shown: &str,
    schema: &Schema,
    batches: impl Iterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    bad: impl Fn(ArrowError) -> Error,
    budget: u64,
) -> Result<Table> {
    let mut slots: Vec<Slot> = schema
        .fields()
        .iter()
        .map(|f| Slot::new(f.name(), f.data_type()))
        .collect();
    let mut nrows = 0;
    let mut held = 0u64;
    for batch in batches {
        let batch = batch.map_err(&bad)?;
        for (slot, array) in slots.iter_mut().zip(batch.columns()) {
            held = held.saturating_add(slot.push(array.as_ref(), nrows, budget.saturating_sub(held)));
        }
        nrows += batch.num_rows();
    }
    Ok(Table {
        path: shown.to_string(),
        slots,
        nrows,
    })
}

fn read_ipc(mut file: File, shown: &str, columns: Option<&[&str]>, budget: u64) -> Result<Table> {
    use arrow_ipc::reader::{FileReader, StreamReader};
    let bad = |e: ArrowError| err!("{shown}: not a valid Feather/Arrow IPC file ({e})");
    let mut magic = [0u8; 6];
    let n = read_prefix(&mut file, &mut magic).map_err(|e| err!("{shown}: cannot read ({e})"))?;
    if magic[..n].starts_with(b"FEA1") {
        bail!(
            "{shown}: Feather v1 file, which is not supported; rewrite it as Feather v2 (pyarrow.feather.write_feather)"
        );
    }
    let project = |s: &Schema| projection(shown, &field_names(s), columns);
    declared::check_ipc(&mut file, shown, &magic[..n] == b"ARROW1", &project, budget)?;
    // A second handle to reopen with a projection once the schema is known.
    let mut again = file.try_clone().map_err(|e| err!("{shown}: cannot read ({e})"))?;
    let rewind = move || {
        again
            .seek(SeekFrom::Start(0))
            .map_err(|e| err!("{shown}: cannot read ({e})"))?;
        Ok::<File, Error>(again)
    };
    if &magic[..n] == b"ARROW1" {
        let reader = FileReader::try_new_buffered(file, None).map_err(bad)?;
        let Some(idx) = projection(shown, &field_names(&reader.schema()), columns)? else {
            return collect_batches(shown, &reader.schema(), reader, bad, budget);
        };
        // The schema lives in the footer, so reopening to project is cheap
        // and spares decompressing unwanted columns.
        drop(reader);
        let reader = FileReader::try_new_buffered(rewind()?, Some(idx)).map_err(bad)?;
        collect_batches(shown, &reader.schema(), reader, bad, budget)
    } else {
        // Some `.arrow` files are IPC streams (no footer, no magic).
        let reader = StreamReader::try_new_buffered(file, None).map_err(bad)?;
        let Some(idx) = projection(shown, &field_names(&reader.schema()), columns)? else {
            return collect_batches(shown, &reader.schema(), reader, bad, budget);
        };
        drop(reader);
        let reader = StreamReader::try_new_buffered(rewind()?, Some(idx)).map_err(bad)?;
        collect_batches(shown, &reader.schema(), reader, bad, budget)
    }
}

/// Read up to `buf.len()` bytes, fewer only at end of file.
fn read_prefix(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_parquet(file: File, shown: &str, columns: Option<&[&str]>, budget: u64) -> Result<Table> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;
    let bad_pq = |e: parquet::errors::ParquetError| err!("{shown}: not a valid Parquet file ({e})");
    let bad = |e: ArrowError| err!("{shown}: not a valid Parquet file ({e})");
    let again = file.try_clone().map_err(|e| err!("{shown}: cannot read ({e})"))?;
    declared::check_parquet_footer(&again).map_err(|why| err!("{shown}: not a valid Parquet file ({why})"))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(bad_pq)?;
    let idx = projection(shown, &field_names(builder.schema()), columns)?;
    // Arrow's top-level fields are the Parquet schema's root columns; the
    // metadata describes leaves.
    let pq = builder.parquet_schema();
    let roots: Vec<usize> = (0..pq.num_columns()).map(|leaf| pq.get_column_root_idx(leaf)).collect();
    let fields = builder.schema().fields();
    let widths: Vec<u64> = roots
        .iter()
        .map(|&r| fields.get(r).map_or(0, |f| declared::held_width(f.data_type())))
        .collect();
    let leaves: Option<Vec<bool>> = idx.as_ref().map(|idx| roots.iter().map(|r| idx.contains(r)).collect());
    declared::check_parquet(&again, shown, builder.metadata(), &widths, leaves.as_deref(), budget)?;
    if let Some(idx) = idx {
        let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
        builder = builder.with_projection(mask);
    }
    let reader = builder.with_batch_size(PARQUET_BATCH_ROWS).build().map_err(bad_pq)?;
    let schema = reader.schema();
    collect_batches(shown, &schema, reader, bad, budget)
}

fn read_csv(file: File, shown: &str, columns: Option<&[&str]>) -> Result<Table> {
    let bad = |e: csv::Error| err!("{shown}: not a valid CSV file ({e})");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::with_capacity(1 << 16, file));
    let names: Vec<String> = rdr.headers().map_err(bad)?.iter().map(str::to_string).collect();
    let keep = projection(shown, &names, columns)?.unwrap_or_else(|| (0..names.len()).collect());
    let mut raw: Vec<Vec<String>> = vec![Vec::new(); keep.len()];
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(bad)? {
        for (out, &i) in raw.iter_mut().zip(&keep) {
            out.push(rec.get(i).unwrap_or("").to_string());
        }
    }
    let nrows = raw.first().map_or(0, Vec::len);
    let slots = keep
        .iter()
        .zip(raw)
        .map(|(&i, values)| infer_csv(&names[i], values))
        .collect();
    Ok(Table {
        path: shown.to_string(),
        slots,
        nrows,
    })
}

/// Type a CSV column from its text (see [`Table::read`]).
fn infer_csv(name: &str, values: Vec<String>) -> Slot {
    let present = || values.iter().map(|s| s.trim()).filter(|s| !s.is_empty());
    let any_present = present().next().is_some();
    let is_bool = |s: &str| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false");
    let validity = || -> Option<Vec<bool>> {
        let v: Vec<bool> = values.iter().map(|s| !s.trim().is_empty()).collect();
        v.contains(&false).then_some(v)
    };
    let (dtype, data, validity) = if any_present && present().all(|s| s.parse::<i64>().is_ok()) {
        let col = values.iter().map(|s| s.trim().parse().unwrap_or(0)).collect();
        ("Int64", Column::Int(col), validity())
    } else if any_present && present().all(|s| s.parse::<f64>().is_ok()) {
        let col = values.iter().map(|s| s.trim().parse().unwrap_or(f64::NAN)).collect();
        ("Float64", Column::Float(col), validity())
    } else if any_present && present().all(is_bool) {
        let col = values.iter().map(|s| s.trim().eq_ignore_ascii_case("true")).collect();
        ("Boolean", Column::Bool(col), validity())
    } else {
        ("Utf8", Column::Str(values), None)
    };
    Slot {
        name: name.to_string(),
        dtype: dtype.to_string(),
        data: Ok(data),
        validity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::path::PathBuf;
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, Int16Array, Int64Array, Int8Array,
        StringArray, StringViewArray, UInt32Array, UInt64Array,
    };
    use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
    use arrow_ipc::CompressionType;
    use arrow_schema::Field;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

    fn data(rel: &str) -> PathBuf {
        Path::new(DATA).join(rel)
    }

    #[test]
    fn cell_table_selects_419_proofread_v1_23p() {
        let t = Table::read(&data("microns_1300/cell_info_1300.feather"), None).unwrap();
        assert_eq!(t.nrows(), 91_423);
        assert_eq!(t.names().len(), 11);
        assert_eq!(t.dtype("pt_root_id").unwrap(), "Int64");
        let ct = t.strings("cell_type_auto").unwrap();
        let pr = t.strings("proofreading_strategy").unwrap();
        let rg = t.strings("region").unwrap();
        let n = (0..t.nrows())
            .filter(|&i| ct[i] == "23P" && !pr[i].is_empty() && rg[i] == "V1")
            .count();
        assert_eq!(n, 419);
        assert_eq!(pr.iter().filter(|s| s.is_empty()).count(), 89_722);
        let ids = t.ids("pt_root_id").unwrap();
        assert_eq!(ids[0], 864_691_136_274_724_621);
        assert_eq!(
            ids.iter().fold(0i64, |a, &b| a.wrapping_add(b)),
            7_494_664_511_939_511_081
        );
        assert_eq!(ct[0], "5P-IT");
        let vol = t.floats("volume").unwrap();
        assert_eq!(vol[vol.len() - 1], 214.452_797_44);
        assert_eq!(t.floats("pt_position_x").unwrap()[0], 839_040.0);
        assert_eq!(t.null_count("region").unwrap(), 0);
    }

    #[test]
    fn projection_reads_requested_columns_in_file_order() {
        let p = data("microns_1300/cell_info_1300.feather");
        let t = Table::read(&p, Some(&["region", "pt_root_id", "region"])).unwrap();
        assert_eq!(t.names(), vec!["pt_root_id", "region"]);
        assert_eq!(t.nrows(), 91_423);
        let e = Table::read(&p, Some(&["pt_root_id", "nope"])).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: no column 'nope' (columns: pt_position_x, ", p.display())),
            "{e}"
        );
        assert!(e.contains("proofreading_strategy"), "{e}");
        let e = t.column("volume").unwrap_err().to_string();
        assert_eq!(
            e,
            format!("{}: no column 'volume' (columns: pt_root_id, region)", p.display())
        );
    }

    #[test]
    fn synapses_many_batches_concatenate() {
        let p = data("microns_1300/synapses_synthetic_1300.feather");
        let t = Table::read(&p, Some(&["pre_pt_root_id", "post_pt_root_id", "size"])).unwrap();
        assert_eq!(t.nrows(), 72_001);
        assert_eq!(t.dtype("size").unwrap(), "Int32");
        let size = t.floats("size").unwrap();
        assert_eq!(size.iter().sum::<f64>(), 382_163_002.0);
        assert_eq!((size[0], size[72_000]), (25_444.0, 31_839.0));
        let pre = t.ids("pre_pt_root_id").unwrap();
        let post = t.ids("post_pt_root_id").unwrap();
        let wsum = |v: &[i64]| v.iter().fold(0i64, |a, &b| a.wrapping_add(b));
        assert_eq!(wsum(&pre), 865_221_380_036_146_966);
        assert_eq!(wsum(&post), 865_062_310_025_093_189);
        assert_eq!(
            (pre[0], pre[72_000]),
            (864_691_135_576_881_950, 864_691_136_966_611_918)
        );
        assert_eq!(post[72_000], 864_691_137_199_050_049);
        let all = Table::read(&p, None).unwrap();
        assert_eq!(all.ids("id").unwrap()[..3], [22_508, 27_848, 25_376]);
    }

    #[test]
    fn pinky_csvs() {
        let t = Table::read(&data("pinky_v185/soma_subgraph_synapses_spines_v185.csv"), None).unwrap();
        assert_eq!(t.nrows(), 1961);
        assert_eq!(t.floats("cleft_vx").unwrap().iter().sum::<f64>(), 705_597.0);
        assert_eq!(t.ids("pre_root_id").unwrap()[0], 648_518_346_349_539_437);
        assert_eq!(t.ids("pre_root_id").unwrap()[1960], 648_518_346_349_536_680);
        assert_eq!(t.dtype("spine_vol_um3").unwrap(), "Float64");
        assert_eq!(t.floats("spine_vol_um3").unwrap()[0], 0.133_003_961_875_149_26);

        let c = Table::read(&data("pinky_v185/soma_valence_v185.csv"), None).unwrap();
        assert_eq!(c.nrows(), 456);
        let ty = c.strings("cell_type").unwrap();
        assert_eq!(ty.iter().filter(|s| *s == "e").count(), 362);
        assert_eq!(ty.iter().filter(|s| *s == "i").count(), 34);
        assert_eq!(c.strings("pt_position").unwrap()[0], "[103860  44385    891]");
        assert_eq!(c.strings("pt_position").unwrap()[455], "[67633 56398  1056]");
        assert_eq!(c.ids("pt_root_id").unwrap()[0], 648_518_346_349_540_057);
        let e = c.ids("cell_type").unwrap_err().to_string();
        assert!(
            e.ends_with("soma_valence_v185.csv: column 'cell_type' has type Utf8, expected integer ids"),
            "{e}"
        );
    }

    #[test]
    fn minnie65_graph_csvs() {
        let g = Table::read(&data("minnie65_graph/mouse_directed_connectome.csv"), None).unwrap();
        assert_eq!(g.nrows(), 115_379);
        assert_eq!(g.ids("weight").unwrap().iter().sum::<i64>(), 163_188);
        assert_eq!(g.ids("i").unwrap().iter().max(), Some(&6547));
        assert_eq!(g.ids("j").unwrap().iter().max(), Some(&6547));
        let n = Table::read(&data("minnie65_graph/mouse_basic_neuron_info.csv"), Some(&["id"])).unwrap();
        assert_eq!(n.nrows(), 6548);
        assert_eq!(n.ids("id").unwrap()[6547], 864_691_137_197_169_473);
    }

    /// A schema exercising the widening rules, in three batches.
    fn sample() -> (Arc<Schema>, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("pre", DataType::Int16, false),
            Field::new("post", DataType::UInt32, false),
            Field::new("size", DataType::Float32, false),
            Field::new("big", DataType::Int64, false),
            Field::new("u64", DataType::UInt64, true),
            Field::new("label", DataType::Utf8, true),
            Field::new("view", DataType::Utf8View, false),
            Field::new(
                "cat",
                DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)),
                true,
            ),
            Field::new("flag", DataType::Boolean, false),
            Field::new("date", DataType::Date32, false),
        ]));
        let batches = (0..3i16)
            .map(|b| {
                let cols: Vec<ArrayRef> = vec![
                    Arc::new(Int16Array::from(vec![b * 10 - 1, b * 10 + 1])),
                    Arc::new(UInt32Array::from(vec![4_000_000_000 + b as u32, 7])),
                    Arc::new(Float32Array::from(vec![1.5 + b as f32, 2.0])),
                    Arc::new(Int64Array::from(vec![648_518_346_349_539_437 + b as i64, -1])),
                    Arc::new(UInt64Array::from(vec![Some(b as u64), None])),
                    Arc::new(StringArray::from(vec![
                        Some("a b"),
                        if b == 1 { None } else { Some("") },
                    ])),
                    Arc::new(StringViewArray::from(vec!["v", "a much longer string in the view"])),
                    Arc::new(
                        DictionaryArray::<Int8Type>::try_new(
                            Int8Array::from(vec![Some(1), if b == 2 { None } else { Some(2) }]),
                            Arc::new(StringArray::from(vec!["unused", "23P", "BC"])),
                        )
                        .unwrap(),
                    ),
                    Arc::new(BooleanArray::from(vec![true, b == 0])),
                    Arc::new(Date32Array::from(vec![1, 2])),
                ];
                RecordBatch::try_new(schema.clone(), cols).unwrap()
            })
            .collect();
        (schema, batches)
    }

    fn check_sample(t: &Table) {
        assert_eq!(t.nrows(), 6);
        assert_eq!(t.ids("pre").unwrap(), vec![-1, 1, 9, 11, 19, 21]);
        assert_eq!(t.ids("post").unwrap()[..3], [4_000_000_000, 7, 4_000_000_001]);
        assert_eq!(t.floats("size").unwrap(), vec![1.5, 2.0, 2.5, 2.0, 3.5, 2.0]);
        assert_eq!(t.ids("big").unwrap()[4], 648_518_346_349_539_439);
        assert_eq!(t.column("u64").unwrap(), &Column::Int(vec![0, 0, 1, 0, 2, 0]));
        assert_eq!(
            t.validity("u64").unwrap(),
            Some(&[true, false, true, false, true, false][..])
        );
        assert!(t.is_null("u64", 1).unwrap() && !t.is_null("u64", 2).unwrap());
        assert!(t.is_null("u64", 6).is_err());
        let e = t.ids("u64").unwrap_err().to_string();
        assert!(
            e.ends_with("column 'u64' has 3 null values (first at row 1), expected integer ids"),
            "{e}"
        );
        assert_eq!(t.strings("label").unwrap(), ["a b", "", "a b", "", "a b", ""]);
        assert_eq!(t.null_count("label").unwrap(), 1);
        assert!(t.is_null("label", 3).unwrap() && !t.is_null("label", 1).unwrap());
        assert_eq!(t.strings("view").unwrap()[1], "a much longer string in the view");
        assert_eq!(t.strings("cat").unwrap(), ["23P", "BC", "23P", "BC", "23P", ""]);
        assert!(t.is_null("cat", 5).unwrap());
        assert_eq!(t.bools("flag").unwrap(), [true, true, true, false, true, false]);
        let e = t.column("date").unwrap_err().to_string();
        assert!(e.ends_with("column 'date' has unsupported type Date32"), "{e}");
        assert!(t.names().contains(&"date"));
    }

    fn write_ipc(path: &Path, compression: Option<CompressionType>, stream: bool) {
        let (schema, batches) = sample();
        let opts = IpcWriteOptions::default().try_with_compression(compression).unwrap();
        let f = File::create(path).unwrap();
        if stream {
            let mut w = StreamWriter::try_new_with_options(f, &schema, opts).unwrap();
            batches.iter().for_each(|b| w.write(b).unwrap());
            w.finish().unwrap();
        } else {
            let mut w = FileWriter::try_new_with_options(f, &schema, opts).unwrap();
            batches.iter().for_each(|b| w.write(b).unwrap());
            w.finish().unwrap();
        }
    }

    #[test]
    fn ipc_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("plain.feather", None, false),
            ("lz4.arrow", Some(CompressionType::LZ4_FRAME), false),
            ("zstd.ipc", Some(CompressionType::ZSTD), false),
            ("stream.arrow", Some(CompressionType::ZSTD), true),
        ];
        for (name, comp, stream) in cases {
            let p = dir.path().join(name);
            write_ipc(&p, comp, stream);
            check_sample(&Table::read(&p, None).unwrap());
            let t = Table::read(&p, Some(&["size", "pre"])).unwrap();
            assert_eq!(t.names(), ["pre", "size"]);
            assert_eq!(t.ids("pre").unwrap()[5], 21);
            let e = Table::read(&p, Some(&["pre", "date"])).unwrap_err().to_string();
            assert!(e.ends_with("column 'date' has unsupported type Date32"), "{e}");
        }
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (schema, batches) = sample();
        // Parquet has no Utf8View/Date32 quirks to test here; keep it simple.
        let keep: Vec<usize> = (0..schema.fields().len()).filter(|&i| i != 6).collect();
        let schema = Arc::new(schema.project(&keep).unwrap());
        for name in ["t.parquet", "t.pq"] {
            let p = dir.path().join(name);
            let mut w = parquet::arrow::ArrowWriter::try_new(File::create(&p).unwrap(), schema.clone(), None).unwrap();
            for b in &batches {
                w.write(&b.project(&keep).unwrap()).unwrap();
            }
            w.close().unwrap();
            let t = Table::read(&p, None).unwrap();
            assert_eq!(t.nrows(), 6);
            assert_eq!(t.ids("pre").unwrap(), vec![-1, 1, 9, 11, 19, 21]);
            assert_eq!(t.ids("big").unwrap()[4], 648_518_346_349_539_439);
            assert_eq!(t.floats("size").unwrap()[4], 3.5);
            assert_eq!(t.strings("cat").unwrap(), ["23P", "BC", "23P", "BC", "23P", ""]);
            assert_eq!(t.null_count("label").unwrap(), 1);
            let t = Table::read(&p, Some(&["post", "flag"])).unwrap();
            assert_eq!(t.names(), ["post", "flag"]);
            assert_eq!(t.ids("post").unwrap()[2], 4_000_000_001);
            assert!(!t.bools("flag").unwrap()[3]);
        }
    }

    #[test]
    fn declared_size_is_checked_against_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (compression, stream)) in [
            (None, false),
            (Some(CompressionType::LZ4_FRAME), false),
            (Some(CompressionType::ZSTD), false),
            (None, true),
            (Some(CompressionType::ZSTD), true),
        ]
        .into_iter()
        .enumerate()
        {
            let p = dir.path().join(format!("t{i}.feather"));
            write_ipc(&p, compression, stream);
            check_sample(&Table::read_with_budget(&p, None, 1 << 20).unwrap());
            let e = Table::read_with_budget(&p, None, 500).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{}: declares ", p.display()))
                    && e.contains("bytes once decoded, over the table budget of 500 bytes; if the file is genuine, raise it with RATENET_MAX_TABLE_BYTES=<bytes>"),
                "{e}"
            );
            // Only the projected columns count: two Int16 columns of six rows.
            let t = Table::read_with_budget(&p, Some(&["pre", "post"]), 500).unwrap();
            assert_eq!(t.ids("pre").unwrap(), vec![-1, 1, 9, 11, 19, 21]);
        }
    }

    #[test]
    fn dictionary_expansion_is_bounded() {
        // 1000 one-byte keys naming one 1 MiB string: 1 GiB once expanded.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dict.feather");
        let long = "x".repeat(1 << 20);
        let cat = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(vec![0; 1000]),
            Arc::new(StringArray::from(vec![long.as_str()])),
        )
        .unwrap();
        let batch = RecordBatch::try_from_iter([("cat", Arc::new(cat) as ArrayRef)]).unwrap();
        let mut w = FileWriter::try_new(File::create(&p).unwrap(), &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let e = Table::read_with_budget(&p, Some(&["cat"]), 64 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "{}: column 'cat' has dictionary strings of 1048600000 bytes (1000.0 MiB) once expanded, over the ",
                p.display()
            )),
            "{e}"
        );
        let t = Table::read_with_budget(&p, Some(&["cat"]), 2 << 30).unwrap();
        assert_eq!(t.strings("cat").unwrap()[999], long);
    }

    #[test]
    fn parquet_declared_size_and_pages() {
        use parquet::file::properties::WriterProperties;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("many_pages.parquet");
        let n = 10_000i64;
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef),
            (
                "size",
                Arc::new(Float32Array::from_iter_values((0..n).map(|i| i as f32))) as ArrayRef,
            ),
        ])
        .unwrap();
        for compression in [
            parquet::basic::Compression::UNCOMPRESSED,
            parquet::basic::Compression::SNAPPY,
        ] {
            let props = WriterProperties::builder()
                .set_compression(compression)
                .set_data_page_row_count_limit(1000)
                .set_write_batch_size(500)
                .set_max_row_group_row_count(Some(6000))
                .build();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(File::create(&p).unwrap(), batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let t = Table::read_with_budget(&p, None, 1 << 20).unwrap();
            assert_eq!(t.ids("id").unwrap(), (0..n).collect::<Vec<_>>());
            // The page walk sees every page and value the writer wrote.
            let r = parquet::file::reader::SerializedFileReader::new(File::open(&p).unwrap()).unwrap();
            use parquet::file::reader::FileReader as _;
            let meta = r.metadata();
            assert_eq!(meta.num_row_groups(), 2);
            let f = File::open(&p).unwrap();
            let mut values = 0;
            for rg in meta.row_groups() {
                for col in rg.columns() {
                    let (start, len) = col.byte_range();
                    let pages = declared::walk_pages(&f, start, len).unwrap();
                    assert!(pages.count > 3, "{pages:?}");
                    assert!(pages.uncompressed > 0);
                    values += pages.values;
                }
            }
            assert_eq!(values, 2 * n as u64);
            // 10 000 rows of two 9-byte columns (value, mask byte) alone are
            // 180 000 bytes; one column is half.
            let e = Table::read_with_budget(&p, None, 150_000).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{}: declares ", p.display()))
                    && e.contains("over the table budget of 150000 bytes"),
                "{e}"
            );
            assert_eq!(
                Table::read_with_budget(&p, Some(&["size"]), 150_000).unwrap().nrows(),
                10_000
            );
        }
    }

    #[test]
    fn csv_inference_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.CSV");
        let mut f = File::create(&p).unwrap();
        write!(
            f,
            "id,size,flag,proof,pos,fid,mixed\n\
             648518346349539437,1.5,true,axon,\"[103860  44385    891]\",1.0,1\n\
             -5,,False,,\"[1, 2, 3]\",2,x\n\
             9223372036854775807,3,TRUE,\"a,b\",\"[0 0 0]\",3e2,2\n"
        )
        .unwrap();
        drop(f);
        let t = Table::read(&p, None).unwrap();
        assert_eq!(t.nrows(), 3);
        assert_eq!(t.ids("id").unwrap(), vec![648_518_346_349_539_437, -5, i64::MAX]);
        assert_eq!(t.dtype("size").unwrap(), "Float64");
        assert!(t.is_null("size", 1).unwrap());
        assert!(t.floats("size").is_err());
        let Column::Float(size) = t.column("size").unwrap() else {
            panic!("size should be Float");
        };
        assert!(size[0] == 1.5 && size[1].is_nan() && size[2] == 3.0);
        assert_eq!(t.bools("flag").unwrap(), [true, false, true]);
        assert_eq!(t.strings("proof").unwrap(), ["axon", "", "a,b"]);
        assert_eq!(t.validity("proof").unwrap(), None);
        assert_eq!(t.strings("pos").unwrap()[0], "[103860  44385    891]");
        assert_eq!(t.strings("pos").unwrap()[1], "[1, 2, 3]");
        assert_eq!(t.ids("fid").unwrap(), vec![1, 2, 300]);
        assert_eq!(t.dtype("mixed").unwrap(), "Utf8");
        let t = Table::read(&p, Some(&["proof"])).unwrap();
        assert_eq!(t.names(), ["proof"]);
        assert_eq!(t.nrows(), 3);
    }

    #[test]
    fn float_ids_must_be_exact() {
        let t = Table::from_columns(
            "mem",
            vec![
                ("ok".into(), Column::Float(vec![1.0, 2.0])),
                ("frac".into(), Column::Float(vec![1.0, 2.5])),
                ("big".into(), Column::Float(vec![1.0, 8.646_911_362_747_246e17])),
            ],
        )
        .unwrap();
        assert_eq!(t.ids("ok").unwrap(), vec![1, 2]);
        let e = t.ids("frac").unwrap_err().to_string();
        assert_eq!(
            e,
            "mem: column 'frac' has non-integer value 2.5 at row 1, expected integer ids"
        );
        assert!(t.ids("big").unwrap_err().to_string().contains("above 2^53"));
        let e = Table::from_columns(
            "mem",
            vec![("a".into(), Column::Int(vec![1])), ("b".into(), Column::Int(vec![]))],
        );
        assert!(e.is_err());
    }

    #[test]
    fn file_errors_are_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.feather");
        let e = Table::read(&missing, None).unwrap_err().to_string();
        assert_eq!(e, format!("{}: no such file", missing.display()));

        let junk = dir.path().join("junk.feather");
        std::fs::write(&junk, b"this is not arrow at all").unwrap();
        let e = Table::read(&junk, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: not a valid Feather/Arrow IPC file (", junk.display())),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");

        let empty = dir.path().join("empty.arrow");
        std::fs::write(&empty, b"").unwrap();
        assert!(Table::read(&empty, None)
            .unwrap_err()
            .to_string()
            .contains("is empty (0 bytes)"));

        // A truncated real file: footer gone.
        let full = std::fs::read(data("microns_1300/synapses_synthetic_1300.feather")).unwrap();
        let cut = dir.path().join("cut.feather");
        std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
        let e = Table::read(&cut, None).unwrap_err().to_string();
        assert!(e.contains("not a valid Feather/Arrow IPC file"), "{e}");

        let pq = dir.path().join("junk.parquet");
        std::fs::write(&pq, b"PAR1 nope").unwrap();
        let e = Table::read(&pq, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: not a valid Parquet file (", pq.display())),
            "{e}"
        );

        let v1 = dir.path().join("v1.feather");
        std::fs::write(&v1, b"FEA1\0\0\0\0").unwrap();
        assert!(Table::read(&v1, None).unwrap_err().to_string().contains("Feather v1"));

        let ragged = dir.path().join("ragged.csv");
        std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
        let e = Table::read(&ragged, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: not a valid CSV file (", ragged.display())),
            "{e}"
        );

        let xlsx = dir.path().join("cells.xlsx");
        std::fs::write(&xlsx, b"PK").unwrap();
        let e = Table::read(&xlsx, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "{}: unknown table format (supported extensions: .feather",
                xlsx.display()
            )),
            "{e}"
        );
        assert!(e.contains(".parquet") && e.contains(".csv"), "{e}");
        for name in ["empty.csv", "empty.feather", "empty.parquet"] {
            let p = dir.path().join(name);
            std::fs::write(&p, b"").unwrap();
            let e = Table::read(&p, None).unwrap_err().to_string();
            assert_eq!(e, format!("{}: is empty (0 bytes), expected a table", p.display()));
        }
        let e = Table::read(Path::new("x/cells.xlsx"), None).unwrap_err().to_string();
        assert_eq!(e, "x/cells.xlsx: no such file");
        for d in [dir.path().to_path_buf(), dir.path().join("tables.csv")] {
            std::fs::create_dir_all(&d).unwrap();
            let e = Table::read(&d, None).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: is a directory", d.display())), "{e}");
        }
    }
}
