//! What an Arrow IPC or Parquet file declares, checked before its decoder
//! sees it.
//!
//! The arrow-ipc and parquet decoders trust sizes written in the file: a
//! compressed IPC buffer's 8-byte length prefix is passed to
//! `Vec::with_capacity` (a prefix of ~7e18 aborts the process, which no panic
//! guard can turn into an error), and record batch lengths, page sizes and
//! value counts decide how much they allocate and how long they run. So a
//! few-kilobyte malformed file could take the process down or run for
//! minutes (found by fuzzing, `fuzz/`). Here the file's metadata is walked
//! without decoding any data: every block, buffer and page must lie inside
//! the file, no count or length may be negative, and the memory the table
//! declares it needs (what it holds once read, plus the largest record
//! batch or row group decoded on the way) must fit in a budget
//! ([`max_table_bytes`]).
//! Reading the metadata costs one small read per message or page.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use arrow_schema::{DataType, Field, Schema, UnionMode};

use crate::{bail, err, Result};

/// The environment variable that overrides [`max_table_bytes`].
pub const MAX_TABLE_BYTES_VAR: &str = "RATENET_MAX_TABLE_BYTES";

/// The default budget where the machine's memory cannot be read.
const FALLBACK_BUDGET: u64 = 64 << 30;

/// The most bytes one table may declare once decoded: `RATENET_MAX_TABLE_BYTES`
/// (bytes, or with a K, M, G or T suffix in powers of 1024) when set, else the
/// machine's total memory (`/proc/meminfo`), else 64 GiB. A file declaring
/// more cannot be decoded here anyway; refusing it up front turns an
/// out-of-memory abort into an error naming the file.
pub fn max_table_bytes() -> Result<u64> {
    match std::env::var(MAX_TABLE_BYTES_VAR) {
        Ok(s) => parse_bytes(&s)
            .ok_or_else(|| err!("{MAX_TABLE_BYTES_VAR}={s:?} is not a size in bytes (e.g. 8000000000 or 8G)")),
        Err(std::env::VarError::NotPresent) => Ok(total_memory().unwrap_or(FALLBACK_BUDGET)),
        Err(_) => bail!("{MAX_TABLE_BYTES_VAR} is not valid UTF-8"),
    }
}

/// `123`, `64K`, `256M`, `8G`, `1T` (powers of 1024; an optional trailing
/// `B`/`iB`, any case).
fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.strip_suffix("IB").or_else(|| t.strip_suffix('B')).unwrap_or(&t);
    let (num, shift) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = num.trim().parse().ok()?;
    n.checked_mul(1u64 << shift).filter(|&b| b > 0)
}

/// Total memory from `/proc/meminfo` (Linux), in bytes.
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes, for messages: exact, with a rounded binary unit when large.
fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut x = n as f64 / 1024.0;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    format!("{n} bytes ({x:.1} {})", UNITS[u])
}

/// The one message for a table over the budget.
pub(crate) fn over_budget(shown: &str, what: &str, declared: u64, budget: u64) -> crate::Error {
    err!(
        "{shown}: {what} {} once decoded, over the table budget of {}; if the file is genuine, raise it with {MAX_TABLE_BYTES_VAR}=<bytes>",
        human(declared),
        human(budget)
    )
}

/// Why a dictionary column is not expanded, for the column's error (which
/// [`crate::data::Table::read`] prefixes with the file and column).
pub(crate) fn over_budget_note(expanded: u64, room: u64) -> String {
    format!(
        "dictionary strings of {} once expanded, over the {} left of the table budget; if the file is genuine, raise it with {MAX_TABLE_BYTES_VAR}=<bytes>",
        human(expanded),
        human(room)
    )
}

/// Bytes the table holds per row of a column of this type once widened
/// (see `table::Column`): the value, plus one byte of validity mask. String
/// contents are counted separately (by the decoded buffers, and for
/// dictionaries when they are expanded).
pub(crate) fn held_width(dtype: &DataType) -> u64 {
    match dtype {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64 => 9,
        DataType::Boolean => 2,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => 25,
        DataType::Dictionary(_, values) => held_width(values),
        _ => 0,
    }
}

/// Running totals against the budget: what the table holds once read, plus
/// the largest unit the decoder holds at once on the way (one record batch's
/// decoded buffers, one row group's pages).
struct Tally<'a> {
    shown: &'a str,
    budget: u64,
    /// Rows × held widths, and IPC dictionaries (kept for the whole read).
    held: u64,
    /// Decoded bytes of the current unit, and the largest one before it.
    unit: u64,
    peak: u64,
}

impl<'a> Tally<'a> {
    fn new(shown: &'a str, budget: u64) -> Self {
        Tally {
            shown,
            budget,
            held: 0,
            unit: 0,
            peak: 0,
        }
    }

    fn declared(&self) -> u64 {
        self.held.saturating_add(self.unit.max(self.peak))
    }

    fn check(&self) -> Result<()> {
        match self.declared() {
            d if d > self.budget => Err(over_budget(self.shown, "declares", d, self.budget)),
            _ => Ok(()),
        }
    }

    fn hold(&mut self, n: u64) -> Result<()> {
        self.held = self.held.saturating_add(n);
        self.check()
    }

    fn transient(&mut self, n: u64) -> Result<()> {
        self.unit = self.unit.saturating_add(n);
        self.check()
    }

    fn next_unit(&mut self) {
        self.peak = self.peak.max(self.unit);
        self.unit = 0;
    }
}

// ---------------------------------------------------------------- Arrow IPC

/// The projected columns' indices for a schema (`None`: all), or why not.
pub(crate) type Project<'a> = &'a dyn Fn(&Schema) -> Result<Option<Vec<usize>>>;

/// Check an Arrow IPC file (`file_format`: with the `ARROW1` footer) or
/// stream before decoding: messages inside the file, buffers inside their
/// message's body, no negative or overflowing length, and the decoded size of
/// the projected columns within `budget`. Leaves the file at its start.
pub(crate) fn check_ipc(
    file: &mut File,
    shown: &str,
    file_format: bool,
    project: Project<'_>,
    budget: u64,
) -> Result<()> {
    let len = file.metadata().map_err(|e| err!("{shown}: cannot read ({e})"))?.len();
    let mut ipc = Ipc {
        file,
        shown,
        len,
        tally: Tally::new(shown, budget),
    };
    let r = if file_format {
        ipc.file_blocks(project)
    } else {
        ipc.stream(project)
    };
    ipc.file
        .seek(SeekFrom::Start(0))
        .map_err(|e| err!("{shown}: cannot read ({e})"))?;
    r
}

struct Ipc<'a> {
    file: &'a mut File,
    shown: &'a str,
    len: u64,
    tally: Tally<'a>,
}

/// Where a message's flatbuffer starts in its metadata bytes (after the
/// continuation marker and length, or the legacy bare length).
fn flatbuffer_start(meta: &[u8]) -> usize {
    if meta.len() >= 8 && meta[..4] == [0xff; 4] {
        8
    } else {
        4
    }
}

impl Ipc<'_> {
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> Result<()> {
        let shown = self.shown;
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|e| err!("{shown}: cannot read {} bytes at byte {at} ({e})", buf.len()))
    }

    /// A range `[at, at + n)` that must lie within the file.
    fn inside(&self, what: &str, at: i64, n: i64) -> Result<u64> {
        let end = (at >= 0 && n >= 0).then(|| (at as u64).checked_add(n as u64)).flatten();
        match end {
            Some(end) if end <= self.len => Ok(at as u64),
            _ => bail!(
                "{}: not a valid Feather/Arrow IPC file ({what} declares {n} bytes at byte {at}, outside the file's {} bytes)",
                self.shown,
                self.len
            ),
        }
    }

    fn file_blocks(&mut self, project: Project<'_>) -> Result<()> {
        const TAIL: u64 = 10; // i32 footer length + "ARROW1"
        let shown = self.shown;
        if self.len < TAIL + 8 {
            return Ok(()); // too short to hold anything; the decoder says what is wrong
        }
        let mut tail = [0u8; 10];
        self.read_at(self.len - TAIL, &mut tail)?;
        if &tail[4..] != b"ARROW1" {
            return Ok(()); // not the file format after all: the decoder's message
        }
        let footer_len = i32::from_le_bytes(tail[..4].try_into().unwrap());
        let footer_at = self.inside(
            "the footer",
            self.len as i64 - TAIL as i64 - footer_len as i64,
            footer_len as i64,
        )?;
        let mut footer_buf = vec![0u8; footer_len as usize];
        self.read_at(footer_at, &mut footer_buf)?;
        let footer = arrow_ipc::root_as_footer(&footer_buf)
            .map_err(|e| err!("{shown}: not a valid Feather/Arrow IPC file (footer: {e})"))?;
        let Some(fb_schema) = footer.schema() else {
            return Ok(()); // the decoder refuses a footer without a schema
        };
        let schema = arrow_ipc::convert::try_fb_to_schema(fb_schema)
            .map_err(|e| err!("{shown}: not a valid Feather/Arrow IPC file (schema: {e})"))?;
        let columns = project(&schema)?;
        let columns = columns.as_deref();
        let block = |b: &arrow_ipc::Block| (b.offset(), b.metaDataLength(), b.bodyLength());
        let dictionaries: Vec<_> = footer
            .dictionaries()
            .map(|v| v.iter().map(block).collect())
            .unwrap_or_default();
        let batches: Vec<_> = footer
            .recordBatches()
            .map(|v| v.iter().map(block).collect())
            .unwrap_or_default();
        // The dictionaries are all decoded when the reader opens; the record
        // batches only in their projected columns.
        for (at, meta, body) in dictionaries {
            self.block(&schema, at, meta, body, None)?;
        }
        for (at, meta, body) in batches {
            self.block(&schema, at, meta, body, Some(columns))?;
        }
        Ok(())
    }

    /// One footer block: the message's metadata then its body.
    fn block(
        &mut self,
        schema: &Schema,
        at: i64,
        meta_len: i32,
        body_len: i64,
        batch: Option<Option<&[usize]>>,
    ) -> Result<()> {
        let what = if batch.is_some() {
            "a record batch block"
        } else {
            "a dictionary block"
        };
        let total = (meta_len as i64).checked_add(body_len).unwrap_or(-1);
        let start = self.inside(what, at, total)?;
        if meta_len < 8 {
            bail!(
                "{}: not a valid Feather/Arrow IPC file ({what} at byte {at} declares {meta_len} bytes of metadata)",
                self.shown
            );
        }
        let mut meta = vec![0u8; meta_len as usize];
        self.read_at(start, &mut meta)?;
        let fb = &meta[flatbuffer_start(&meta)..];
        self.message(schema, fb, start + meta_len as u64, body_len as u64, batch)
    }

    /// Check one message whose body (`body_len` bytes at `body_at`) is known
    /// to lie inside the file. `batch`: `Some(projection)` for a record batch
    /// found where one is expected, `None` for a dictionary block.
    fn message(
        &mut self,
        schema: &Schema,
        fb: &[u8],
        body_at: u64,
        body_len: u64,
        batch: Option<Option<&[usize]>>,
    ) -> Result<()> {
        let shown = self.shown;
        let msg = arrow_ipc::root_as_message(fb)
            .map_err(|e| err!("{shown}: not a valid Feather/Arrow IPC file (message at byte {body_at}: {e})"))?;
        let version = msg.version();
        if let Some(rb) = msg.header_as_record_batch() {
            let projection = match batch {
                Some(p) => p,
                None => return Ok(()), // a record batch in a dictionary block: the decoder refuses it
            };
            self.record_batch(schema, &rb, body_at, body_len, projection, version)?;
        } else if let Some(db) = msg.header_as_dictionary_batch() {
            if let Some(rb) = db.data() {
                // A dictionary's values: every buffer is decoded.
                self.buffers(&rb, body_at, body_len, None, true)?;
            }
        }
        Ok(())
    }

    fn record_batch(
        &mut self,
        schema: &Schema,
        rb: &arrow_ipc::RecordBatch<'_>,
        body_at: u64,
        body_len: u64,
        projection: Option<&[usize]>,
        version: arrow_ipc::MetadataVersion,
    ) -> Result<()> {
        let shown = self.shown;
        let rows = rb.length();
        if rows < 0 {
            bail!("{shown}: not a valid Feather/Arrow IPC file (a record batch declares {rows} rows)");
        }
        let fields: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..schema.fields().len()).collect(),
        };
        let width: u64 = fields
            .iter()
            .filter_map(|&i| schema.fields().get(i))
            .map(|f| held_width(f.data_type()))
            .sum();
        self.tally.next_unit();
        self.tally.hold((rows as u64).saturating_mul(width))?;
        // Which buffers the projected columns use, walking the schema as the
        // decoder does; where a type's buffer count is unknown, all of them.
        let counts = rb.variadicBufferCounts().map(|v| v.iter().collect::<Vec<i64>>());
        let mut variadic = counts.unwrap_or_default().into_iter();
        let mut wanted: Vec<bool> = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            match buffer_count(f, version, &mut variadic) {
                Some(n) => wanted.extend(std::iter::repeat_n(fields.contains(&i), n)),
                None => {
                    wanted.clear();
                    break;
                }
            }
        }
        let select = (!wanted.is_empty()).then_some(wanted);
        self.buffers(rb, body_at, body_len, select.as_deref(), false)
    }

    /// Check a record batch's buffers (those `wanted`, all if `None`): inside
    /// the body, and their decoded sizes (a compressed buffer's is its 8-byte
    /// prefix) within the budget; `held`: a dictionary's, kept to the end.
    fn buffers(
        &mut self,
        rb: &arrow_ipc::RecordBatch<'_>,
        body_at: u64,
        body_len: u64,
        wanted: Option<&[bool]>,
        held: bool,
    ) -> Result<()> {
        let shown = self.shown;
        let compressed = rb.compression().is_some();
        let Some(buffers) = rb.buffers() else {
            return Ok(());
        };
        for (k, b) in buffers.iter().enumerate() {
            if wanted.is_some_and(|w| !w.get(k).copied().unwrap_or(true)) {
                continue;
            }
            let (off, n) = (b.offset(), b.length());
            let end = (off >= 0 && n >= 0)
                .then(|| (off as u64).checked_add(n as u64))
                .flatten();
            if end.is_none_or(|e| e > body_len) {
                bail!(
                    "{shown}: not a valid Feather/Arrow IPC file (buffer {k} of the message at byte {body_at} declares {n} bytes at offset {off}, outside its body of {body_len} bytes)"
                );
            }
            let decoded = if compressed && n >= 8 {
                let mut prefix = [0u8; 8];
                self.read_at(body_at + off as u64, &mut prefix)?;
                match i64::from_le_bytes(prefix) {
                    -1 => n as u64 - 8,
                    d if d < 0 => bail!(
                        "{shown}: not a valid Feather/Arrow IPC file (compressed buffer {k} of the message at byte {body_at} declares {d} bytes uncompressed)"
                    ),
                    d => d as u64,
                }
            } else {
                n as u64
            };
            if decoded > self.tally.budget {
                return Err(over_budget(
                    shown,
                    &format!("a compressed buffer (message at byte {body_at}) declares"),
                    decoded,
                    self.tally.budget,
                ));
            }
            if held {
                self.tally.hold(decoded)?;
            } else {
                self.tally.transient(decoded)?;
            }
        }
        Ok(())
    }

    /// An IPC stream: messages one after the other, the schema first.
    fn stream(&mut self, project: Project<'_>) -> Result<()> {
        let shown = self.shown;
        let mut at = 0u64;
        let mut schema: Option<(Schema, Option<Vec<usize>>)> = None;
        while at + 4 <= self.len {
            let mut word = [0u8; 4];
            self.read_at(at, &mut word)?;
            let mut head = 4;
            if word == [0xff; 4] {
                if at + 8 > self.len {
                    break;
                }
                self.read_at(at + 4, &mut word)?;
                head = 8;
            }
            let meta_len = i32::from_le_bytes(word);
            if meta_len == 0 {
                break; // end of stream
            }
            let fb_at = self.inside("a message", (at + head) as i64, meta_len as i64)?;
            let mut fb = vec![0u8; meta_len as usize];
            self.read_at(fb_at, &mut fb)?;
            let msg = arrow_ipc::root_as_message(&fb)
                .map_err(|e| err!("{shown}: not a valid Feather/Arrow IPC file (message at byte {at}: {e})"))?;
            let body_len = msg.bodyLength();
            let body_at = self.inside("a message body", (fb_at + meta_len as u64) as i64, body_len)?;
            if let Some(s) = msg.header_as_schema() {
                let s = arrow_ipc::convert::try_fb_to_schema(s)
                    .map_err(|e| err!("{shown}: not a valid Feather/Arrow IPC file (schema: {e})"))?;
                let columns = project(&s)?;
                schema = Some((s, columns));
            } else if let Some((s, columns)) = &schema {
                let (s, columns) = (s.clone(), columns.clone());
                self.message(&s, &fb, body_at, body_len as u64, Some(columns.as_deref()))?;
            }
            at = body_at + body_len as u64;
        }
        Ok(())
    }
}

/// How many buffers the IPC decoder takes for a field (and its children), as
/// arrow-ipc's `skip_field` counts them; `None` where that cannot be known
/// (a view column without its variadic count).
fn buffer_count(
    field: &Field,
    version: arrow_ipc::MetadataVersion,
    variadic: &mut impl Iterator<Item = i64>,
) -> Option<usize> {
    use DataType::*;
    Some(match field.data_type() {
        Null => 0,
        Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float16
        | Float32
        | Float64
        | Timestamp(_, _)
        | Date32
        | Date64
        | Time32(_)
        | Time64(_)
        | Duration(_)
        | Interval(_)
        | Decimal32(_, _)
        | Decimal64(_, _)
        | Decimal128(_, _)
        | Decimal256(_, _) => 2,
        Utf8 | Binary | LargeBinary | LargeUtf8 => 3,
        Utf8View | BinaryView => usize::try_from(variadic.next()?).ok()?.checked_add(2)?,
        FixedSizeBinary(_) => 2,
        Dictionary(_, _) => 2,
        List(f) | LargeList(f) | Map(f, _) => 2 + buffer_count(f, version, variadic)?,
        ListView(f) | LargeListView(f) => 3 + buffer_count(f, version, variadic)?,
        FixedSizeList(f, _) => 1 + buffer_count(f, version, variadic)?,
        Struct(fs) => {
            let mut n = 1usize;
            for f in fs {
                n = n.checked_add(buffer_count(f, version, variadic)?)?;
            }
            n
        }
        RunEndEncoded(a, b) => buffer_count(a, version, variadic)?.checked_add(buffer_count(b, version, variadic)?)?,
        Union(fs, mode) => {
            let mut n = usize::from(version < arrow_ipc::MetadataVersion::V5) + 1;
            n += usize::from(*mode == UnionMode::Dense);
            for (_, f) in fs.iter() {
                n = n.checked_add(buffer_count(f, version, variadic)?)?;
            }
            n
        }
    })
}

// ------------------------------------------------------------------ Parquet

/// Check a Parquet file's metadata before decoding: each projected column
/// chunk (`leaves`: `None` for all) inside the file, its pages inside the
/// chunk with non-negative sizes and counts, and the decoded size (pages'
/// uncompressed sizes plus rows × held widths, rows being the larger of the
/// row group's count and the chunk's value count) within `budget`.
pub(crate) fn check_parquet(
    file: &File,
    shown: &str,
    meta: &parquet::file::metadata::ParquetMetaData,
    widths: &[u64],
    leaves: Option<&[bool]>,
    budget: u64,
) -> Result<()> {
    let len = file.metadata().map_err(|e| err!("{shown}: cannot read ({e})"))?.len();
    let bad = |what: String| err!("{shown}: not a valid Parquet file ({what})");
    let mut tally = Tally::new(shown, budget);
    for (g, rg) in meta.row_groups().iter().enumerate() {
        tally.next_unit();
        let rows = rg.num_rows();
        if rows < 0 {
            return Err(bad(format!("row group {g} declares {rows} rows")));
        }
        for (c, col) in rg.columns().iter().enumerate() {
            if leaves.is_some_and(|l| !l.get(c).copied().unwrap_or(false)) {
                continue;
            }
            let start = col.dictionary_page_offset().unwrap_or_else(|| col.data_page_offset());
            let size = col.compressed_size();
            let end = (start >= 0 && size >= 0)
                .then(|| (start as u64).checked_add(size as u64))
                .flatten();
            if end.is_none_or(|e| e > len) {
                return Err(bad(format!(
                    "row group {g}, column {c} declares {size} bytes at byte {start}, outside the file's {len} bytes"
                )));
            }
            let pages = walk_pages(file, start as u64, size as u64)
                .map_err(|why| bad(format!("row group {g}, column {c}: {why}")))?;
            let values = pages.values.max(rows as u64);
            let width = widths.get(c).copied().unwrap_or(0);
            let uncompressed = pages.uncompressed.max(col.uncompressed_size().max(0) as u64);
            tally.hold(values.saturating_mul(width))?;
            tally.transient(uncompressed)?;
        }
    }
    Ok(())
}

/// Walk a Parquet file's footer (the Thrift `FileMetaData` at its end)
/// before the decoder does: it must lie inside the file and parse as
/// Thrift compact structs whose every list and map element takes at least
/// one byte. parquet 60 skips unknown fields without that bound, so a
/// footer of a few KB declaring lists of 2^31 empty elements keeps it busy
/// for minutes (found by fuzzing). A file without the magic is left to the
/// decoder, which says so.
pub(crate) fn check_parquet_footer(file: &File) -> std::result::Result<(), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len < 12 {
        return Ok(());
    }
    let mut f = file.try_clone().map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(len - 8)).map_err(|e| e.to_string())?;
    let mut tail = [0u8; 8];
    f.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let meta = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if meta > len - 12 {
        return Err(format!(
            "its footer declares {meta} bytes of metadata in a file of {len} bytes"
        ));
    }
    f.seek(SeekFrom::Start(len - 8 - meta)).map_err(|e| e.to_string())?;
    let mut r = Counted {
        inner: BufReader::with_capacity(8 << 10, f),
        n: 0,
        limit: meta,
        end: "the footer's end",
    };
    thrift_struct(&mut r, 0, &mut |_, _, _| Ok(false))
        .map_err(|e| format!("footer metadata at byte {}: {e}", len - 8 - meta + r.n))
}

/// Totals of one column chunk's page headers.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Pages {
    /// Data pages' value (level) counts.
    pub(crate) values: u64,
    /// Every page's uncompressed size.
    pub(crate) uncompressed: u64,
    pub(crate) count: usize,
}

/// Walk a column chunk's page headers as the decoder does (each header,
/// then `compressed_page_size` bytes, until the chunk's bytes are used up)
/// without reading the pages.
pub(crate) fn walk_pages(file: &File, start: u64, size: u64) -> std::result::Result<Pages, String> {
    let mut f = file.try_clone().map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(start)).map_err(|e| e.to_string())?;
    let mut r = Counted {
        inner: BufReader::with_capacity(8 << 10, f),
        n: 0,
        limit: size,
        end: "the column chunk's end",
    };
    let mut pages = Pages::default();
    let mut at = 0u64;
    while at < size {
        let before = r.n;
        let h = page_header(&mut r).map_err(|e| format!("page header at byte {}: {e}", start + at))?;
        let header_len = r.n - before;
        if h.compressed < 0 || h.uncompressed < 0 || h.values < 0 {
            return Err(format!(
                "page at byte {} declares {} bytes compressed, {} uncompressed, {} values",
                start + at,
                h.compressed,
                h.uncompressed,
                h.values
            ));
        }
        let next = at + header_len + h.compressed as u64;
        if next > size {
            return Err(format!(
                "page at byte {} declares {} bytes, past the column chunk's end",
                start + at,
                h.compressed
            ));
        }
        pages.values += h.values as u64;
        pages.uncompressed += h.uncompressed as u64;
        pages.count += 1;
        skip(&mut r, h.compressed as u64).map_err(|e| e.to_string())?;
        at = next;
    }
    Ok(pages)
}

/// A buffered file reader that counts how far it has moved, and refuses to
/// move past `limit` (a column chunk's or the footer's end), so that no count in a header
/// can make the walk run on.
struct Counted {
    inner: BufReader<File>,
    n: u64,
    limit: u64,
    /// What `limit` is the end of, for errors.
    end: &'static str,
}

fn past_the_end(r: &Counted) -> std::io::Error {
    std::io::Error::other(format!("runs past {}", r.end))
}

impl Counted {
    fn byte(&mut self) -> std::io::Result<u8> {
        if self.n >= self.limit {
            return Err(past_the_end(self));
        }
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b)?;
        self.n += 1;
        Ok(b[0])
    }
}

/// Move `n` bytes on without reading them (pages are not read at all).
fn skip(r: &mut Counted, n: u64) -> std::io::Result<()> {
    if r.n.checked_add(n).is_none_or(|end| end > r.limit) {
        return Err(past_the_end(r));
    }
    r.inner.seek_relative(n as i64)?;
    r.n += n;
    Ok(())
}

/// The fields of a Parquet `PageHeader` the check needs.
#[derive(Debug, Default, PartialEq)]
struct PageHeader {
    uncompressed: i64,
    compressed: i64,
    /// `num_values` of a data page (v1 or v2); 0 for other pages.
    values: i64,
}

/// Thrift compact protocol: the few bits of it a page header needs
/// (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md).
fn varint(r: &mut Counted) -> std::io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = r.byte()?;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(std::io::Error::other("varint too long"))
}

fn zigzag(r: &mut Counted) -> std::io::Result<i64> {
    let v = varint(r)?;
    Ok((v >> 1) as i64 ^ -((v & 1) as i64))
}

/// Nesting past this is not a page header (and would only eat the stack).
const MAX_DEPTH: usize = 32;

/// Read one struct, calling `field(reader, id, type)` for every field; the
/// callback returns `false` for fields it did not consume, which are skipped.
fn thrift_struct(
    r: &mut Counted,
    depth: usize,
    field: &mut dyn FnMut(&mut Counted, i16, u8) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(std::io::Error::other("nested too deep"));
    }
    let mut last = 0i16;
    loop {
        let b = r.byte()?;
        let ty = b & 0x0f;
        if ty == 0 {
            return Ok(());
        }
        let delta = (b >> 4) as i16;
        let id = if delta == 0 {
            zigzag(r)? as i16
        } else {
            last.wrapping_add(delta)
        };
        last = id;
        if !field(r, id, ty)? {
            skip_value(r, ty, depth)?;
        }
    }
}

fn skip_value(r: &mut Counted, ty: u8, depth: usize) -> std::io::Result<()> {
    match ty {
        1 | 2 => Ok(()), // booleans live in the field header
        3 => r.byte().map(drop),
        4..=6 => varint(r).map(drop),
        7 => skip(r, 8),
        8 => {
            let n = varint(r)?;
            skip(r, n)
        }
        9 | 10 => {
            let h = r.byte()?;
            let n = match h >> 4 {
                15 => varint(r)?,
                n => u64::from(n),
            };
            let et = h & 0x0f;
            for _ in 0..n {
                // A boolean element is one byte in a list.
                if et == 1 || et == 2 {
                    r.byte()?;
                } else {
                    skip_value(r, et, depth + 1)?;
                }
            }
            Ok(())
        }
        11 => {
            let n = varint(r)?;
            if n == 0 {
                return Ok(());
            }
            let kv = r.byte()?;
            for _ in 0..n {
                for t in [kv >> 4, kv & 0x0f] {
                    if t == 1 || t == 2 {
                        r.byte()?;
                    } else {
                        skip_value(r, t, depth + 1)?;
                    }
                }
            }
            Ok(())
        }
        12 => thrift_struct(r, depth + 1, &mut |_, _, _| Ok(false)),
        t => Err(std::io::Error::other(format!("unknown thrift type {t}"))),
    }
}

fn page_header(r: &mut Counted) -> std::io::Result<PageHeader> {
    let mut h = PageHeader::default();
    thrift_struct(r, 0, &mut |r, id, ty| {
        Ok(match (id, ty) {
            (2, 5) => {
                h.uncompressed = zigzag(r)?;
                true
            }
            (3, 5) => {
                h.compressed = zigzag(r)?;
                true
            }
            // data_page_header and data_page_header_v2: num_values is field 1.
            (5 | 8, 12) => {
                let mut values = 0;
                thrift_struct(r, 1, &mut |r, id, ty| {
                    Ok(if (id, ty) == (1, 5) {
                        values = zigzag(r)?;
                        true
                    } else {
                        false
                    })
                })?;
                h.values = values;
                true
            }
            _ => false,
        })
    })?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("256M"), Some(256 << 20));
        assert_eq!(parse_bytes("8g"), Some(8 << 30));
        assert_eq!(parse_bytes("8GiB"), Some(8 << 30));
        assert_eq!(parse_bytes(" 1T "), Some(1 << 40));
        assert_eq!(parse_bytes("0"), None);
        assert_eq!(parse_bytes("-5"), None);
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("99999999999T"), None);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(1000), "1000 bytes");
        assert_eq!(human(256 << 20), "268435456 bytes (256.0 MiB)");
    }
}
