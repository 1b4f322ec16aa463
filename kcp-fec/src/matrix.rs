//! Small dense matrices over GF(2^8): the Vandermonde-derived encoding matrix
//! and the inversions the decoder needs.

use alloc::vec;
use alloc::vec::Vec;

use crate::gf;

/// Row-major `rows x cols` matrix over GF(2^8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<u8>,
}

impl Matrix {
    pub(crate) fn zero(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0; rows * cols],
        }
    }

    #[cfg(test)]
    pub(crate) fn identity(n: usize) -> Self {
        let mut m = Self::zero(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1;
        }
        m
    }

    /// `entry[r][c] = r^c` (field power, `0^0 = 1`).
    pub(crate) fn vandermonde(rows: usize, cols: usize) -> Self {
        let mut m = Self::zero(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                // rows <= 256, so `r as u8` is the field element r.
                m.data[r * cols + c] = gf::pow(r as u8, c);
            }
        }
        m
    }

    #[cfg(test)]
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn row(&self, r: usize) -> &[u8] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub(crate) fn mul(&self, rhs: &Matrix) -> Matrix {
        debug_assert_eq!(self.cols, rhs.rows);
        let mut out = Matrix::zero(self.rows, rhs.cols);
        for r in 0..self.rows {
            for k in 0..self.cols {
                let a = self.data[r * self.cols + k];
                if a == 0 {
                    continue;
                }
                let row = &gf::MUL[a as usize];
                for c in 0..rhs.cols {
                    out.data[r * rhs.cols + c] ^= row[rhs.data[k * rhs.cols + c] as usize];
                }
            }
        }
        out
    }

    /// The square matrix made of the listed rows, in order.
    pub(crate) fn select_rows(&self, rows: impl Iterator<Item = usize>) -> Matrix {
        let mut data = Vec::with_capacity(self.cols * self.cols);
        let mut n = 0;
        for r in rows {
            data.extend_from_slice(self.row(r));
            n += 1;
        }
        Matrix {
            rows: n,
            cols: self.cols,
            data,
        }
    }

    /// Gauss-Jordan inversion; `None` when the matrix is singular.
    pub(crate) fn invert(&self) -> Option<Matrix> {
        debug_assert_eq!(self.rows, self.cols);
        let rows: Vec<u8> = (0..self.rows).map(|r| r as u8).collect();
        let (mut work, mut out) = (Vec::new(), Vec::new());
        let ok = invert_rows_into(self, &rows, &mut work, &mut out);
        ok.then_some(Matrix {
            rows: self.rows,
            cols: self.cols,
            data: out,
        })
    }
}

/// Inverts the square matrix made of rows `rows` of `m` (as many rows as
/// `m` has columns) into `out`, row-major, with `work` as scratch, by
/// Gauss-Jordan elimination. Both buffers are resized, so once they have
/// the capacity nothing is allocated. `false` if the rows are singular.
pub(crate) fn invert_rows_into(
    m: &Matrix,
    rows: &[u8],
    work: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> bool {
    let n = m.cols;
    debug_assert_eq!(rows.len(), n);
    work.clear();
    for &r in rows {
        work.extend_from_slice(m.row(r as usize));
    }
    out.clear();
    out.resize(n * n, 0);
    for i in 0..n {
        out[i * n + i] = 1;
    }
    let (a, inv) = (work, out);
    for col in 0..n {
        let Some(pivot) = (col..n).find(|&r| a[r * n + col] != 0) else {
            return false;
        };
        if pivot != col {
            for c in 0..n {
                a.swap(pivot * n + c, col * n + c);
                inv.swap(pivot * n + c, col * n + c);
            }
        }
        let Some(scale) = gf::inv(a[col * n + col]) else {
            return false;
        };
        for c in 0..n {
            a[col * n + c] = gf::mul(a[col * n + c], scale);
            inv[col * n + c] = gf::mul(inv[col * n + c], scale);
        }
        for r in 0..n {
            if r == col {
                continue;
            }
            let f = a[r * n + col];
            if f == 0 {
                continue;
            }
            let mrow = &gf::MUL[f as usize];
            for c in 0..n {
                let (pa, pi) = (a[col * n + c], inv[col * n + c]);
                a[r * n + c] ^= mrow[pa as usize];
                inv[r * n + c] ^= mrow[pi as usize];
            }
        }
    }
    true
}

/// klauspost/reedsolomon's default encoding matrix for `New(d, p)`:
/// the `(d+p) x d` Vandermonde matrix times the inverse of its top square,
/// which makes the top `d` rows the identity (a systematic code).
pub(crate) fn encoding_matrix(data_shards: usize, parity_shards: usize) -> Matrix {
    let v = Matrix::vandermonde(data_shards + parity_shards, data_shards);
    let top = v.select_rows(0..data_shards);
    // A Vandermonde square with distinct points (0..d-1) is never singular.
    let top_inv = top.invert().expect("vandermonde top square is invertible");
    v.mul(&top_inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matrix_is_systematic() {
        for (d, p) in [(1, 1), (3, 1), (10, 3), (17, 5), (200, 56)] {
            let m = encoding_matrix(d, p);
            assert_eq!(m.rows(), d + p);
            for r in 0..d {
                for c in 0..d {
                    assert_eq!(m.row(r)[c], u8::from(r == c));
                }
            }
        }
    }

    #[test]
    fn invert_roundtrip() {
        let m = encoding_matrix(6, 4).select_rows([1, 3, 6, 7, 8, 9].into_iter());
        let inv = m.invert().unwrap();
        assert_eq!(m.mul(&inv), Matrix::identity(6));
        assert!(Matrix::zero(3, 3).invert().is_none());
    }
}
