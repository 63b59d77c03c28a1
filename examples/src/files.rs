//! Result files written whole or not at all.
//!
//! A run killed while it writes `results.json` (Ctrl-C, out of disk, a node's time limit)
//! must not leave half a file where a whole one was, or where a rerun would take it for a
//! finished run. Each file is written beside its final place under a hidden temporary name,
//! flushed to disk, then renamed over the final name, which POSIX makes atomic within a
//! directory.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file and a rename: `path` holds either its
/// earlier content or all of `bytes`, never a part.
pub fn write_whole(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    write_whole_with(path, |file| file.write_all(bytes.as_ref()))
}

/// As [`write_whole`], for content produced by a writer (an image encoder, ...): `write`
/// fills the temporary file; if it fails, the temporary file is removed and `path` is left
/// as it was.
pub fn write_whole_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let partial = partial_path(path)?;
    let result = File::create(&partial).and_then(|mut file| {
        write(&mut file)?;
        file.sync_all()
    });
    let result = result.and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// `dir/.name.partial` for `dir/name`.
fn partial_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        )
    })?;
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(name);
    hidden.push(".partial");
    Ok(path.with_file_name(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tregs-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_file_is_left() {
        let dir = temp_dir("whole");
        let path = dir.join("results.json");
        write_whole(&path, "first").unwrap();
        write_whole(&path, "second, longer").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second, longer");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["results.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_earlier_file_untouched() {
        let dir = temp_dir("failed");
        let path = dir.join("report.png");
        write_whole(&path, "earlier").unwrap();
        let e = write_whole_with(&path, |file| {
            file.write_all(b"half of a")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "encoder failed");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
