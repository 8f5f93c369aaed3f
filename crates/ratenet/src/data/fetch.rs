//! Table sources: a local path, or an http(s) URL downloaded once into a
//! cache.
//!
//! Experiment files name their data by URL so that they run anywhere, but a
//! run must not depend on the network once the data is there, and a
//! half-written download must never pass for the real file: downloads go to
//! a temporary file that is renamed into place only when complete (and, if a
//! digest is pinned, verified).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{bail, err, Result};

/// Environment variable that overrides the cache location.
pub const CACHE_ENV: &str = "RATENET_CACHE";

/// A connection that cannot be made in this long is treated as offline,
/// rather than hanging a batch run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where downloads are cached: `$RATENET_CACHE` if set and not empty, else
/// the platform cache directory (e.g. `~/.cache`) joined with `ratenet`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match dirs::cache_dir() {
        Some(dir) => Ok(dir.join("ratenet")),
        None => bail!("no cache directory on this system; set {CACHE_ENV} to a writable folder"),
    }
}

/// Whether `source` is a URL this module downloads (http or https).
pub fn is_url(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Resolve a table source to a local file.
///
/// A local path is returned as it is (an error `KEY: no such file 'PATH'` if
/// it does not exist). An http(s) URL is downloaded once into [`cache_dir`]
/// and the cached path returned; later calls use the cached file without
/// touching the network. `sha256` (hex, any case) pins the content: it is
/// checked after download, on every use of the cached file, and on a local
/// file too (a pin says which bytes, wherever they come from). `key` names the experiment-file key the source came from (e.g.
/// `data.synapses`) so that messages can tell the user what to override.
pub fn resolve(source: &str, sha256: Option<&str>, key: &str) -> Result<PathBuf> {
    if is_url(source) {
        resolve_in(&cache_dir()?, source, sha256, key)
    } else {
        local(source, sha256, key)
    }
}

fn local(source: &str, sha256: Option<&str>, key: &str) -> Result<PathBuf> {
    let path = PathBuf::from(source);
    if !path.exists() {
        bail!("{key}: no such file '{source}'");
    }
    if let Some(pin) = sha256 {
        let want = normalize_digest(pin).map_err(|e| e.context(key))?;
        let got = sha256_file(&path)?;
        if got != want {
            bail!("{key}: '{source}' has sha256 {got}, but {key}_sha256 pins {want}");
        }
    }
    Ok(path)
}

/// [`resolve`] with an explicit cache folder instead of [`cache_dir`], for
/// callers (and tests) that must not depend on the process environment.
pub fn resolve_in(cache: &Path, source: &str, sha256: Option<&str>, key: &str) -> Result<PathBuf> {
    if !is_url(source) {
        return local(source, sha256, key);
    }
    let expected = sha256.map(normalize_digest).transpose().map_err(|e| e.context(key))?;
    let path = cached_path(cache, source);
    if path.is_file() {
        if let Some(want) = &expected {
            let got = sha256_file(&path)?;
            if &got != want {
                bail!(
                    "{key}: cached file {} has sha256 {got}, expected {want}; delete it to download {source} again",
                    path.display()
                );
            }
        }
        return Ok(path);
    }
    download(source, &path, expected.as_deref(), key)?;
    Ok(path)
}

/// A pinned digest in canonical form (64 lowercase hex digits).
fn normalize_digest(d: &str) -> Result<String> {
    let d = d.trim().to_ascii_lowercase();
    if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("sha256 '{d}' is not 64 hex digits");
    }
    Ok(d)
}

/// `CACHE/<first 16 hex digits of sha256(url)>/<basename>`: the folder keeps
/// different URLs with one basename apart, and the basename keeps the
/// extension that selects the table reader.
fn cached_path(cache: &Path, url: &str) -> PathBuf {
    let digest = hex(&Sha256::digest(url.as_bytes()));
    cache.join(&digest[..16]).join(basename(url))
}

/// The last path segment of a URL, made safe as a file name.
fn basename(url: &str) -> String {
    let no_frag = url.split('#').next().unwrap_or(url);
    let path = no_frag.split('?').next().unwrap_or(no_frag);
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    // Without a path the only segment is the host, which is no file name.
    let last = match after_scheme.split_once('/') {
        Some((_, p)) => p.rsplit('/').next().unwrap_or(""),
        None => "",
    };
    let safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        "download".to_string()
    } else {
        safe
    }
}

/// Hashes what passes through on its way to the file, so a download is
/// read only once.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Removes the temporary file unless the download completed.
struct TempGuard<'a>(Option<&'a Path>);

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

fn download(url: &str, dest: &Path, expected: Option<&str>, key: &str) -> Result<()> {
    let offline = |e: &dyn std::fmt::Display| {
        err!(
            "{key}: could not download {url} ({e}); offline? download it by hand and pass the local file with --set {key}=PATH"
        )
    };
    let dir = dest.parent().expect("cached paths have a folder");
    fs::create_dir_all(dir).map_err(|e| err!("{key}: cannot create cache folder {} ({e})", dir.display()))?;
    let name = dest.file_name().expect("cached paths have a name").to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // Unique per process and call, so concurrent runs never share a temp file.
    let tmp = dir.join(format!(".{name}.{}-{nanos}.part", std::process::id()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| err!("{key}: cannot write to cache folder {} ({e})", dir.display()))?;
    let mut guard = TempGuard(Some(&tmp));

    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .build();
    let agent: ureq::Agent = config.into();
    let response = agent.get(url).call().map_err(|e| offline(&e))?;
    // Said only once the server answered, so that offline the error stays the one line.
    eprintln!("downloading {url} …");
    // A streaming reader: `read_to_vec` would stop at ureq's 10 MB limit.
    let mut body = response.into_body().into_reader();
    let mut out = HashingWriter {
        inner: io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
    };
    io::copy(&mut body, &mut out).map_err(|e| offline(&e))?;
    let HashingWriter { inner, hasher } = out;
    let file = inner
        .into_inner()
        .map_err(|e| err!("{key}: cannot write {} ({})", tmp.display(), e.error()))?;
    file.sync_all()
        .map_err(|e| err!("{key}: cannot write {} ({e})", tmp.display()))?;
    drop(file);

    let got = hex(&hasher.finalize());
    if let Some(want) = expected {
        if got != want {
            bail!("{key}: download of {url} has sha256 {got}, expected {want}; refusing to use it");
        }
    }
    fs::rename(&tmp, dest).map_err(|e| err!("{key}: cannot move download into {} ({e})", dest.display()))?;
    guard.0 = None;
    Ok(())
}

/// The sha256 digest of a file's content, as 64 lowercase hex digits; the
/// file is streamed, not loaded.
pub fn sha256_file(path: &Path) -> Result<String> {
    let shown = path.display();
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => err!("{shown}: no such file"),
        _ => err!("{shown}: cannot open ({e})"),
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => bail!("{shown}: cannot read ({e})"),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hexadecimal of `bytes` (digests in messages and file names).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    const KEY: &str = "data.synapses";

    /// Serve one canned response per connection, in order, then stop, so a
    /// later request to the same port can only be answered by the cache.
    fn serve(responses: Vec<(u16, Vec<u8>)>) -> (String, JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            for (status, body) in responses {
                let (stream, _) = listener.accept().unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
                served += 1;
            }
            served
        });
        (base, handle)
    }

    /// Bytes that do not compress or repeat, larger than ureq's 10 MB
    /// in-memory limit.
    fn big_body() -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..12 * 1024 * 1024)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect()
    }

    fn digest(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".part"))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn local_paths_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cells.feather");
        fs::write(&p, b"x").unwrap();
        let s = p.to_str().unwrap();
        assert_eq!(resolve(s, None, "data.cells").unwrap(), p);
        assert_eq!(resolve_in(dir.path(), s, None, "data.cells").unwrap(), p);
        let missing = dir.path().join("none.feather");
        let e = resolve(missing.to_str().unwrap(), None, KEY).unwrap_err().to_string();
        assert_eq!(e, format!("{KEY}: no such file '{}'", missing.display()));
    }

    #[test]
    fn pins_are_checked_on_local_files_too() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("syn.feather");
        fs::write(&p, b"some bytes").unwrap();
        let s = p.to_str().unwrap();
        let good = digest(b"some bytes");
        assert_eq!(resolve(s, Some(&good.to_uppercase()), KEY).unwrap(), p);
        let bad = digest(b"other bytes");
        let e = resolve(s, Some(&bad), KEY).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{KEY}: ")) && e.contains(&good) && e.contains(&bad),
            "{e}"
        );
        assert!(resolve(s, Some("abc"), KEY)
            .unwrap_err()
            .to_string()
            .contains("64 hex digits"));
    }

    #[test]
    fn download_once_then_cache() {
        let cache = tempfile::tempdir().unwrap();
        let body = big_body();
        let sum = digest(&body);
        let (base, server) = serve(vec![(200, body.clone())]);
        let url = format!("{base}/data/syn.feather?raw=true");
        let p = resolve_in(cache.path(), &url, Some(&sum.to_uppercase()), KEY).unwrap();
        assert_eq!(server.join().unwrap(), 1);
        assert_eq!(p.file_name().unwrap(), "syn.feather");
        let folder = p.parent().unwrap();
        assert_eq!(folder.parent().unwrap(), cache.path());
        assert_eq!(folder.file_name().unwrap().len(), 16);
        assert_eq!(fs::read(&p).unwrap(), body);
        assert!(leftovers(folder).is_empty());
        assert_eq!(sha256_file(&p).unwrap(), sum);

        // The server is gone: only the cache can answer now.
        assert_eq!(resolve_in(cache.path(), &url, Some(&sum), KEY).unwrap(), p);
        assert_eq!(resolve_in(cache.path(), &url, None, KEY).unwrap(), p);

        // A pinned digest is checked on every use of the cached file.
        let wrong = "0".repeat(64);
        let e = resolve_in(cache.path(), &url, Some(&wrong), KEY)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{KEY}: cached file ")), "{e}");
        assert!(e.contains(&sum) && e.contains(&wrong), "{e}");
    }

    #[test]
    fn digest_mismatch_is_refused_and_cleaned_up() {
        let cache = tempfile::tempdir().unwrap();
        let body = b"not the file you pinned".to_vec();
        let (base, server) = serve(vec![(200, body.clone())]);
        let url = format!("{base}/cells.feather");
        let wrong = "ab".repeat(32);
        let e = resolve_in(cache.path(), &url, Some(&wrong), KEY)
            .unwrap_err()
            .to_string();
        server.join().unwrap();
        assert!(e.starts_with(&format!("{KEY}: download of {url} has sha256 ")), "{e}");
        assert!(e.contains(&digest(&body)) && e.contains(&wrong), "{e}");
        let path = cached_path(cache.path(), &url);
        assert!(!path.exists());
        assert!(leftovers(path.parent().unwrap()).is_empty());

        let e = resolve_in(cache.path(), &url, Some("xyz"), KEY)
            .unwrap_err()
            .to_string();
        assert_eq!(e, format!("{KEY}: sha256 'xyz' is not 64 hex digits"));
    }

    #[test]
    fn failures_say_how_to_work_offline() {
        let cache = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:1/x.feather";
        let e = resolve_in(cache.path(), url, None, KEY).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{KEY}: could not download {url} (")), "{e}");
        assert!(
            e.ends_with(&format!(
                "); offline? download it by hand and pass the local file with --set {KEY}=PATH"
            )),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");

        let (base, server) = serve(vec![(404, b"gone".to_vec())]);
        let url = format!("{base}/missing.csv");
        let e = resolve_in(cache.path(), &url, None, KEY).unwrap_err().to_string();
        server.join().unwrap();
        assert!(e.starts_with(&format!("{KEY}: could not download {url} (")), "{e}");
        assert!(e.contains("404") && e.contains("--set"), "{e}");
        let path = cached_path(cache.path(), &url);
        assert!(!path.exists());
        assert!(leftovers(path.parent().unwrap()).is_empty());
    }

    #[test]
    fn cache_names_keep_the_extension() {
        assert_eq!(basename("https://h/a/b.feather?raw=1#frag"), "b.feather");
        assert_eq!(
            basename("https://github.com/o/r/raw/refs/heads/main/data/cell_info_1300.feather"),
            "cell_info_1300.feather"
        );
        assert_eq!(basename("https://host"), "download");
        assert_eq!(basename("https://host/dir/"), "download");
        assert_eq!(basename("https://host/.."), "download");
        assert_eq!(basename("https://h/my%20file:x.csv"), "my_20file_x.csv");
        let c = Path::new("/c");
        assert_ne!(cached_path(c, "https://a/x.csv"), cached_path(c, "https://b/x.csv"));
        assert!(is_url("HTTPS://x/y") && is_url("http://x") && !is_url("data/http.csv"));
    }

    #[test]
    fn sha256_streams_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let e = sha256_file(&dir.path().join("none")).unwrap_err().to_string();
        assert!(e.ends_with("none: no such file"), "{e}");
    }

    #[test]
    fn cache_dir_defaults_under_ratenet() {
        let d = cache_dir().unwrap();
        match std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
            Some(v) => assert_eq!(d, PathBuf::from(v)),
            None => assert!(d.ends_with("ratenet")),
        }
    }
}
