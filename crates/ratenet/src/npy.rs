//! Minimal `.npy` (NumPy format 1.0) reading and writing for float64 and
//! int64 arrays in C order — what the notebook and its golden files use.

use std::io::Write;
use std::path::Path;

use crate::{bail, err, Result};

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// `<f8`, C order.
    F64 {
        /// The shape.
        shape: Vec<usize>,
        /// The values in C order.
        data: Vec<f64>,
    },
    /// `<i8`, C order.
    I64 {
        /// The shape.
        shape: Vec<usize>,
        /// The values in C order.
        data: Vec<i64>,
    },
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Magic (6) + version (2) + length (2) + dict + '\n' is padded to 64 bytes.
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - total % 64) % 64));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

fn write_bytes(path: &Path, head: Vec<u8>, body: impl Iterator<Item = [u8; 8]>) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| err!("{}: cannot write ({e})", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let go = || -> std::io::Result<()> {
        w.write_all(&head)?;
        for b in body {
            w.write_all(&b)?;
        }
        w.flush()
    };
    go().map_err(|e| err!("{}: cannot write ({e})", path.display()))
}

/// Write a float64 array of the given shape (C order).
pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    write_bytes(path, header("<f8", shape), data.iter().map(|v| v.to_le_bytes()))
}

/// Write an int64 array of the given shape (C order).
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    write_bytes(path, header("<i8", shape), data.iter().map(|v| v.to_le_bytes()))
}

/// Read a little-endian float64 or int64 C-order `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| err!("{}: cannot read ({e})", path.display()))?;
    let bad = |what: &str| err!("{}: not a .npy file readable here ({what})", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(&format!("format version {v}"))),
    };
    let dict = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    if dict.contains("'fortran_order': True") {
        return Err(bad("Fortran order"));
    }
    let descr = dict
        .split("'descr':")
        .nth(1)
        .and_then(|s| s.split('\'').nth(1))
        .ok_or_else(|| bad("no descr"))?;
    let shape_txt = dict
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() != 8 * n {
        return Err(bad("data length does not match the shape"));
    }
    let words = body.chunks_exact(8).map(|c| <[u8; 8]>::try_from(c).unwrap());
    match descr {
        "<f8" => Ok(NpyArray::F64 {
            shape,
            data: words.map(f64::from_le_bytes).collect(),
        }),
        "<i8" => Ok(NpyArray::I64 {
            shape,
            data: words.map(i64::from_le_bytes).collect(),
        }),
        d => bail!("{}: dtype {d} not supported (expected <f8 or <i8)", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let data: Vec<f64> = (0..12).map(|i| i as f64 * 0.1 - 0.3).collect();
        write_f64(&p, &[3, 4], &data).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 12 * 8) % 64, 0, "header is 64-byte aligned");
        assert_eq!(
            read(&p).unwrap(),
            NpyArray::F64 {
                shape: vec![3, 4],
                data
            }
        );
        write_i64(&p, &[3], &[1, -2, i64::MAX]).unwrap();
        assert_eq!(
            read(&p).unwrap(),
            NpyArray::I64 {
                shape: vec![3],
                data: vec![1, -2, i64::MAX]
            }
        );
        std::fs::write(&p, b"nope").unwrap();
        assert!(read(&p).unwrap_err().message().contains("a.npy"));
    }
}
