//! Reading and writing 2-D float `.npy` matrices (f32 or f64, C or Fortran order).

use super::CliError;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// A matrix's elements, row-major, in the file's precision.
#[derive(Debug, Clone, PartialEq)]
pub enum Elements {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Elements {
    /// `"f32"` or `"f64"`.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Elements::F32(_) => "f32",
            Elements::F64(_) => "f64",
        }
    }

    /// The position and kind (`"NaN"`/`"Inf"`) of the first non-finite element.
    pub fn first_non_finite(&self) -> Option<(usize, &'static str)> {
        fn scan<T: Copy>(
            v: &[T],
            nan: impl Fn(T) -> bool,
            fin: impl Fn(T) -> bool,
        ) -> Option<(usize, &'static str)> {
            v.iter()
                .position(|&x| !fin(x))
                .map(|i| (i, if nan(v[i]) { "NaN" } else { "Inf" }))
        }
        match self {
            Elements::F32(v) => scan(v, f32::is_nan, f32::is_finite),
            Elements::F64(v) => scan(v, f64::is_nan, f64::is_finite),
        }
    }

    /// The same values in f64 (exact from f32).
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Elements::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Elements::F64(v) => v.clone(),
        }
    }
}

/// An n x d matrix read from a `.npy` file: n points (rows) of d coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub n: usize,
    pub d: usize,
    pub elements: Elements,
}

/// Reads a 2-D f32 or f64 array; every problem is one line naming the file.
pub fn read_matrix(path: &Path) -> Result<Matrix, CliError> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| CliError::new(format!("cannot read {shown}: {e}")))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(CliError::new(format!(
            "cannot read {shown}: it is a directory"
        )));
    }
    let npy = NpyFile::new(BufReader::new(file)).map_err(|e| {
        CliError::new(format!(
            "{shown} is not a .npy file ({}); save the points with numpy.save",
            one_line(&e.to_string())
        ))
    })?;
    let shape: Vec<u64> = npy.shape().to_vec();
    let dims = shape
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" x ");
    if shape.len() != 2 {
        return Err(CliError::new(format!(
            "{shown} holds a {}-D array ({}); expected a 2-D array of n points x d coordinates",
            shape.len(),
            if shape.is_empty() {
                "a scalar".to_string()
            } else {
                dims
            }
        )));
    }
    let (n, d) = (shape[0] as usize, shape[1] as usize);
    let dtype = npy.dtype();
    let precision = match &dtype {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float => ts.size_field(),
        _ => 0,
    };
    let order = npy.order();
    let file_bytes = std::fs::metadata(path).map(|m| m.len()).ok();
    let read_error = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            let data = (n as u64)
                .saturating_mul(d as u64)
                .saturating_mul(precision);
            let size = file_bytes.map_or(String::new(), |b| format!(" and the file has {b}"));
            return CliError::new(format!(
                "{shown} is truncated: its header declares {n} x {d} values of {precision} \
                 bytes ({data} bytes after the header){size}"
            ));
        }
        CliError::new(format!(
            "cannot read the data of {shown}: {}",
            one_line(&e.to_string())
        ))
    };
    let elements = match precision {
        4 => Elements::F32(reorder(
            npy.into_vec::<f32>().map_err(read_error)?,
            n,
            d,
            order,
        )),
        8 => Elements::F64(reorder(
            npy.into_vec::<f64>().map_err(read_error)?,
            n,
            d,
            order,
        )),
        _ => {
            let text = match &dtype {
                DType::Plain(ts) => ts.to_string(),
                other => other.descr(),
            };
            return Err(CliError::new(format!(
                "{shown} has dtype {text}; tregs reads float arrays (f32 `<f4` or f64 `<f8`): \
                 convert with .astype(numpy.float32)"
            )));
        }
    };
    Ok(Matrix { n, d, elements })
}

/// Row-major from the file's order.
fn reorder<T: Copy>(data: Vec<T>, n: usize, d: usize, order: Order) -> Vec<T> {
    match order {
        Order::C => data,
        // Fortran: element (i, j) is stored at j * n + i.
        Order::Fortran => (0..n * d).map(|k| data[(k % d) * n + k / d]).collect(),
    }
}

/// Writes `matrix` to `path` (C order, the matrix's dtype) through a temporary file in the
/// same directory, renamed into place only once complete: a failure leaves any existing
/// file at `path` untouched and no partial file behind.
pub fn write_matrix_atomically(path: &Path, matrix: &Matrix) -> Result<(), CliError> {
    let shown = path.display();
    let fail = |e: &dyn std::fmt::Display| {
        CliError::new(format!(
            "cannot write {shown}: {}",
            one_line(&e.to_string())
        ))
    };
    // Through a symlink, the file it points to is replaced and the link kept.
    let resolved = if path.is_symlink() {
        std::fs::canonicalize(path).map_err(|e| fail(&e))?
    } else {
        path.to_path_buf()
    };
    let path = resolved.as_path();
    let dir = output_dir(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tregs-")
        .suffix(".npy.tmp")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        let shape = [matrix.n as u64, matrix.d as u64];
        match &matrix.elements {
            Elements::F32(v) => write_elements(&mut out, &shape, v),
            Elements::F64(v) => write_elements(&mut out, &shape, v),
        }
        .map_err(|e| fail(&e))?;
        out.flush().map_err(|e| fail(&e))?;
    }
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    set_output_permissions(tmp.as_file(), path);
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

fn write_elements<T: npyz::AutoSerialize + Copy, W: Write>(
    out: W,
    shape: &[u64],
    v: &[T],
) -> std::io::Result<()> {
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(out)
        .begin_nd()?;
    writer.extend(v.iter().copied())?;
    writer.finish()
}

/// The directory an output file goes to; it must exist (checked before any work is done).
fn output_dir(path: &Path) -> Result<&Path, CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(CliError::new(format!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(CliError::new(format!(
            "cannot write {}: it is a directory",
            path.display()
        )));
    }
    Ok(dir)
}

/// Checks, before any work, that `path` can take an output without destroying anything it
/// should not: its directory exists; if something is already there, it is a regular file
/// (directly or through a symlink; not a directory, device or pipe, which the rename into
/// place would replace), and not one of `inputs` (`(flag, path)`), even through another
/// name (a symlink or a hard link).
pub fn check_output(flag: &str, path: &Path, inputs: &[(&str, &Path)]) -> Result<(), CliError> {
    output_dir(path)?;
    let shown = path.display();
    if path.is_symlink() && !path.exists() {
        return Err(CliError::new(format!(
            "{flag} {shown}: a symlink to nothing; give a file path"
        )));
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Err(CliError::new(format!(
            "{flag} {shown}: not a regular file (a device, pipe or socket would be replaced by \
             the output); give a file path"
        )));
    }
    for &(input_flag, input) in inputs {
        if let Ok(input_meta) = std::fs::metadata(input) {
            if same_file(&meta, &input_meta, path, input) {
                return Err(CliError::new(format!(
                    "{flag} {shown} is the input file of {input_flag} ({}): refusing to \
                     overwrite an input; give another path",
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata, a_path: &Path, b_path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (a_path, b_path);
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        match (std::fs::canonicalize(a_path), std::fs::canonicalize(b_path)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// A temporary file is private (0600); the output gets the permissions of the file it
/// replaces, or the usual 0644.
fn set_output_permissions(file: &File, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (file, path);
}

/// Joins a possibly multi-line library message into one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
