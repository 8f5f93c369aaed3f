//! Built connectomes kept on disk between runs.
//!
//! Building the E–E matrix reads and filters the whole synapse table: about
//! 50 ms for the course's file, seconds for a full materialization, and the
//! same work again in every process of a sweep or a Slurm array. The result
//! is small (ids and one sparse matrix), so it is stored once under the cache
//! folder and read back in about a millisecond.
//!
//! An entry is named by a digest of everything the result depends on: the
//! resolved table files (canonical path, size, modification time), every
//! `[data]` key, and [`FORMAT`]. Any change gives a new name, so an entry is
//! never stale; a missing, partial or damaged entry (checked by its own
//! digest) is rebuilt. Failing to write the store is not an error: it only
//! costs the next run the build. The input tables' sha256 digests, for the
//! report's provenance, are kept the same way ([`file_digest`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::data::{Connectome, DataSpec};
use crate::matrix::Csr;

/// Version of the stored layout and of the builder's semantics. Bump it when
/// either changes, so that old entries are no longer found.
pub const FORMAT: &str = "ratenet connectome store 3";

const MAGIC: &[u8; 8] = b"RNCONN03";

/// The entry of `spec` read from `synapses` and `cells`, in `dir`; `None`
/// when a file cannot be examined (then nothing is stored either).
pub fn entry_path(dir: &Path, spec: &DataSpec, synapses: &Path, cells: &Path) -> Option<PathBuf> {
    let mut h = Sha256::new();
    h.update(FORMAT.as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for f in [synapses, cells] {
        h.update(format!("\n{}", file_identity(f)?).as_bytes());
    }
    // Every [data] key: Debug prints floats so that they read back exactly.
    h.update(format!("\n{spec:?}").as_bytes());
    let name = super::fetch::hex(&h.finalize());
    Some(dir.join("connectomes").join(format!("{name}.bin")))
}

/// Read an entry; `None` if it is missing or does not check out.
pub fn read(path: &Path) -> Option<Connectome> {
    let bytes = fs::read(path).ok()?;
    decode(&bytes)
}

/// Write an entry (atomically: a reader sees the old state or the whole
/// entry). Errors are returned for the caller to ignore.
pub fn write(path: &Path, c: &Connectome) -> std::io::Result<()> {
    write_bytes(path, &encode(c))
}

/// A file's identity for the store's keys: canonical path, size,
/// modification time in nanoseconds and, on Unix, device, inode and status
/// change time (which every write sets and no tool can set back), so that a
/// same-size rewrite within the timestamp resolution, or a file replaced by
/// another, is another identity. `None` when the file cannot be examined.
pub fn file_identity(file: &Path) -> Option<String> {
    let path = fs::canonicalize(file).ok()?;
    let meta = fs::metadata(&path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    #[allow(unused_mut)]
    let mut id = format!("{}\n{}\n{}", path.display(), meta.len(), mtime.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        id.push_str(&format!(
            "\n{} {} {}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        ));
    }
    Some(id)
}

/// Files below this size are hashed afresh every time: reading them costs
/// less than the risk of a stale cached digest.
pub const DIGEST_CACHE_MIN_BYTES: u64 = 64 << 20;

/// The sha256 of `file` (64 lowercase hex digits). Files of
/// [`DIGEST_CACHE_MIN_BYTES`] or more are kept in `dir` under the file's
/// [identity](file_identity), so that the report's provenance does not read
/// every large input table again in every process; smaller ones, or without
/// a usable `dir`, are computed.
pub fn file_digest(dir: Option<&Path>, file: &Path) -> crate::Result<String> {
    file_digest_above(dir, file, DIGEST_CACHE_MIN_BYTES)
}

/// [`file_digest`] with the size from which digests are kept.
fn file_digest_above(dir: Option<&Path>, file: &Path, min_kept: u64) -> crate::Result<String> {
    let large = fs::metadata(file).is_ok_and(|m| m.len() >= min_kept);
    let entry = dir.filter(|_| large).and_then(|d| {
        let key = format!("ratenet file digest 2\n{}", file_identity(file)?);
        let name = super::fetch::hex(&Sha256::digest(key.as_bytes()));
        Some(d.join("digests").join(format!("{name}.sha256")))
    });
    if let Some(kept) = entry.as_deref().and_then(|e| fs::read_to_string(e).ok()) {
        if kept.len() == 64 && kept.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Ok(kept);
        }
    }
    let digest = super::fetch::sha256_file(file)?;
    if let Some(e) = entry {
        let _ = write_bytes(&e, digest.as_bytes());
    }
    Ok(digest)
}

/// Write `bytes` to `path` atomically (a temporary file renamed over it).
fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn encode(c: &Connectome) -> Vec<u8> {
    let m = &c.matrix;
    let mut b = Vec::with_capacity(48 + c.ids.len() * 16 + m.nnz() * 12 + 32);
    b.extend_from_slice(MAGIC);
    for x in [c.ids.len(), c.n_inh, m.n_rows, m.n_cols, m.nnz()] {
        b.extend_from_slice(&(x as u64).to_le_bytes());
    }
    for &id in &c.ids {
        b.extend_from_slice(&id.to_le_bytes());
    }
    for &p in &m.indptr {
        b.extend_from_slice(&(p as u64).to_le_bytes());
    }
    for &j in &m.indices {
        b.extend_from_slice(&j.to_le_bytes());
    }
    for &v in &m.values {
        b.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    b.extend_from_slice(&(c.warnings.len() as u64).to_le_bytes());
    for w in &c.warnings {
        b.extend_from_slice(&(w.len() as u64).to_le_bytes());
        b.extend_from_slice(w.as_bytes());
    }
    let digest = Sha256::digest(&b);
    b.extend_from_slice(&digest);
    b
}

/// Little-endian fields read in order from a byte slice.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn usize(&mut self) -> Option<usize> {
        self.u64().and_then(|x| usize::try_from(x).ok())
    }
}

fn decode(bytes: &[u8]) -> Option<Connectome> {
    let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let mut f = Fields(body);
    if &f.take::<8>()? != MAGIC {
        return None;
    }
    let (n, n_inh, n_rows, n_cols, nnz) = (f.usize()?, f.usize()?, f.usize()?, f.usize()?, f.usize()?);
    let expected = n
        .checked_mul(8)?
        .checked_add(n_rows.checked_add(1)?.checked_mul(8)?)?
        .checked_add(nnz.checked_mul(12)?)?;
    if f.0.len() < expected || n_rows != n || n_cols != n || n_inh > n {
        return None;
    }
    let ids = (0..n)
        .map(|_| f.take().map(i64::from_le_bytes))
        .collect::<Option<Vec<_>>>()?;
    let indptr = (0..=n_rows).map(|_| f.usize()).collect::<Option<Vec<_>>>()?;
    let indices = (0..nnz)
        .map(|_| f.take().map(u32::from_le_bytes))
        .collect::<Option<Vec<_>>>()?;
    let values = (0..nnz)
        .map(|_| f.u64().map(f64::from_bits))
        .collect::<Option<Vec<_>>>()?;
    let n_warnings = f.usize()?;
    let mut warnings = Vec::new();
    for _ in 0..n_warnings {
        let len = f.usize()?;
        let (text, rest) = f.0.split_at_checked(len)?;
        warnings.push(String::from_utf8(text.to_vec()).ok()?);
        f.0 = rest;
    }
    if !f.0.is_empty() {
        return None;
    }
    // The digest guards against damage; these guard the kernels' unchecked reads anyway.
    let sane = indptr.first() == Some(&0)
        && indptr.last() == Some(&nnz)
        && indptr.windows(2).all(|w| w[0] <= w[1])
        && indices.iter().all(|&j| (j as usize) < n_cols)
        && ids[..n - n_inh].windows(2).all(|w| w[0] < w[1])
        && ids[n - n_inh..].windows(2).all(|w| w[0] < w[1]);
    sane.then_some(Connectome {
        ids,
        n_inh,
        matrix: Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Connectome {
        // One inhibitory neuron, after the excitatory ones: ids ascend per part only.
        Connectome {
            ids: vec![3, 12, 8],
            n_inh: 1,
            matrix: Csr::from_sorted_triplets(3, 3, vec![(0, 1, 0.25), (1, 0, 1e-300), (2, 2, -0.0)]),
            warnings: vec!["cells.csv: 2 duplicate ids".into(), "ü".into()],
        }
    }

    #[test]
    fn entries_round_trip_bit_for_bit() {
        let c = sample();
        let back = decode(&encode(&c)).expect("decodes");
        assert_eq!(back, c);
        assert_eq!(back.matrix.values[2].to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn damaged_or_truncated_entries_are_refused() {
        let bytes = encode(&sample());
        for cut in [0, 1, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_none(), "truncated at {cut}");
        }
        for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[at] ^= 1;
            assert!(decode(&b).is_none(), "byte {at} flipped");
        }
    }

    #[test]
    fn the_name_follows_the_files_and_the_spec() {
        let dir = std::env::temp_dir().join(format!("ratenet-store-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
        fs::write(&a, "x\n1\n").unwrap();
        fs::write(&b, "y\n2\n").unwrap();
        let spec = DataSpec::default();
        let p1 = entry_path(&dir, &spec, &a, &b).unwrap();
        assert_eq!(entry_path(&dir, &spec, &a, &b), Some(p1.clone()), "stable");
        assert_ne!(entry_path(&dir, &spec, &b, &a), Some(p1.clone()), "files swapped");
        let other = DataSpec {
            min_synapses: 5,
            ..DataSpec::default()
        };
        assert_ne!(entry_path(&dir, &other, &a, &b), Some(p1.clone()), "another key");
        fs::write(&a, "x\n1\n2\n").unwrap();
        let p2 = entry_path(&dir, &spec, &a, &b).unwrap();
        assert_ne!(p2, p1, "file changed");
        // Same size, modification time set back: still another entry.
        let mtime = fs::metadata(&a).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        fs::write(&a, "x\n1\n3\n").unwrap();
        fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_ne!(entry_path(&dir, &spec, &a, &b), Some(p2), "same-size rewrite");
        assert_eq!(entry_path(&dir, &spec, &dir.join("missing"), &b), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_digests_are_kept_and_follow_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, file) = (tmp.path().join("store"), tmp.path().join("table.feather"));
        fs::write(&file, b"first version").unwrap();
        let want = crate::data::fetch::sha256_file(&file).unwrap();
        // Small files are hashed afresh: nothing is kept.
        assert_eq!(file_digest(Some(&store), &file).unwrap(), want);
        assert!(!store.join("digests").exists());
        let file_digest = |d: Option<&Path>, f: &Path| file_digest_above(d, f, 0);
        assert_eq!(file_digest(Some(&store), &file).unwrap(), want);
        let kept: Vec<_> = fs::read_dir(store.join("digests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(fs::read_to_string(&kept[0]).unwrap(), want);
        assert_eq!(file_digest(Some(&store), &file).unwrap(), want, "read back");
        // A damaged entry is computed again; without a store it is computed.
        fs::write(&kept[0], b"not a digest").unwrap();
        assert_eq!(file_digest(Some(&store), &file).unwrap(), want);
        assert_eq!(file_digest(None, &file).unwrap(), want);
        // A rewritten file (other size) is another entry.
        fs::write(&file, b"second, longer version").unwrap();
        let second = crate::data::fetch::sha256_file(&file).unwrap();
        assert_ne!(second, want);
        assert_eq!(file_digest(Some(&store), &file).unwrap(), second);
        // A same-size rewrite with the modification time set back is
        // another entry too (the status change time moved).
        let mtime = fs::metadata(&file).unwrap().modified().unwrap();
        // (Past the kernel's coarse clock tick, as any rewrite of a file
        // large enough to be kept is.)
        std::thread::sleep(std::time::Duration::from_millis(30));
        fs::write(&file, b"second, LONGER version").unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), mtime);
        let third = crate::data::fetch::sha256_file(&file).unwrap();
        assert_ne!(third, second);
        assert_eq!(
            file_digest(Some(&store), &file).unwrap(),
            third,
            "same size, same mtime"
        );
        assert_eq!(super::file_digest(Some(&store), &file).unwrap(), third);
        let err = file_digest(Some(&store), &tmp.path().join("missing.feather")).unwrap_err();
        assert!(err.to_string().contains("missing.feather"), "{err}");
    }
}
