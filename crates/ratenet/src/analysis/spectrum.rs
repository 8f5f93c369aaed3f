//! The eigenvalue spectrum of W: where the linearised dynamics
//! `tau dr/dt = −r + W r` stop being stable (the leading eigenvalue's real
//! part reaching 1), which is what a sweep's "did not return" or "diverged"
//! runs usually show.

use faer::Mat;

use crate::{bail, err, Result};

/// Summary of the eigenvalues of a weight matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spectrum {
    /// Largest |λ|.
    pub spectral_radius: f64,
    /// Largest Re(λ): the linear network is stable when it is below 1.
    pub max_real: f64,
}

/// Largest size for which the dense eigen-decomposition is attempted.
pub const MAX_DENSE: usize = 4000;

/// Eigenvalues of the dense row-major `n × n` matrix `w` (faer's real
/// Schur decomposition), summarised.
pub fn spectrum(n: usize, w: &[f64]) -> Result<Spectrum> {
    if w.len() != n * n {
        bail!(
            "spectrum: expected {} entries for a {n} × {n} matrix, got {}",
            n * n,
            w.len()
        );
    }
    if n > MAX_DENSE {
        bail!("spectrum: {n} neurons is more than the {MAX_DENSE} a dense eigen-decomposition handles here");
    }
    if n == 0 {
        return Ok(Spectrum {
            spectral_radius: 0.0,
            max_real: f64::NEG_INFINITY,
        });
    }
    let m = Mat::<f64>::from_fn(n, n, |i, j| w[i * n + j]);
    let ev = m
        .eigenvalues()
        .map_err(|e| err!("spectrum: the eigen-decomposition did not converge ({e:?})"))?;
    let mut s = Spectrum {
        spectral_radius: 0.0,
        max_real: f64::NEG_INFINITY,
    };
    for z in ev {
        s.spectral_radius = s.spectral_radius.max(z.re.hypot(z.im));
        s.max_real = s.max_real.max(z.re);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_matrix_has_its_diagonal_as_eigenvalues() {
        // Upper triangular: eigenvalues 0.5, -2, 1.5.
        let w = [0.5, 3.0, -1.0, 0.0, -2.0, 4.0, 0.0, 0.0, 1.5];
        let s = spectrum(3, &w).unwrap();
        assert!((s.spectral_radius - 2.0).abs() < 1e-12, "{s:?}");
        assert!((s.max_real - 1.5).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn rotation_has_complex_eigenvalues() {
        // 2 · rotation by 90°: eigenvalues ±2i.
        let w = [0.0, -2.0, 2.0, 0.0];
        let s = spectrum(2, &w).unwrap();
        assert!(
            (s.spectral_radius - 2.0).abs() < 1e-12 && s.max_real.abs() < 1e-12,
            "{s:?}"
        );
    }

    #[test]
    fn wrong_size_is_refused() {
        assert!(spectrum(3, &[1.0; 4]).unwrap_err().message().contains("9 entries"));
    }
}
