//! Image datasets for the recipes: the shipped digits, CIFAR-10/100 in their binary
//! distributions, and folders of PNG/JPEG files. Pixels are `f32` in [0, 1], stored
//! channel-major (CHW) per image, images back to back.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::rng::SplitMix64;

/// A labelled set of equally sized images, pixels in [0, 1], CHW per image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Short name for logs, e.g. `"digits"`, `"cifar10-train"` or the folder name.
    pub name: String,
    /// `len() * image_len()` values; image `i` is `images[i * image_len()..(i + 1) * image_len()]`.
    pub images: Vec<f32>,
    /// One label per image, each below `classes`.
    pub labels: Vec<u32>,
    /// Channels per image (1 or 3).
    pub channels: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Number of classes; labels lie in `0..classes`.
    pub classes: usize,
    /// Name of each class, indexed by label; empty if unknown.
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Pixels of image `i`, CHW. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let l = self.image_len();
        &self.images[i * l..(i + 1) * l]
    }

    /// The images at `indices`, in that order (repeats allowed); same name, shape and classes.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let l = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * l);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        ImageSet {
            name: self.name.clone(),
            images,
            labels,
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes,
            class_names: self.class_names.clone(),
        }
    }

    /// Stratified split fixed by the seed: per class, a seeded shuffle then the first
    /// `round(test_fraction * count)` go to test. Returns `(train, test)`, each in the
    /// original order, named `"<name>-train"` and `"<name>-test"`.
    /// Panics unless `test_fraction` is in [0, 1].
    pub fn split(&self, test_fraction: f64, seed: u64) -> (ImageSet, ImageSet) {
        assert!(
            (0.0..=1.0).contains(&test_fraction),
            "test_fraction must be in [0, 1], got {test_fraction}"
        );
        // BTreeMap, not `0..classes`: visiting classes in a fixed order keeps the single
        // random stream, hence the split, identical whatever labels are present.
        let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &y) in self.labels.iter().enumerate() {
            by_class.entry(y).or_default().push(i);
        }
        let mut rng = SplitMix64::new(seed);
        let mut train = Vec::new();
        let mut test = Vec::new();
        for idx in by_class.values_mut() {
            rng.shuffle(idx);
            let n_test = (test_fraction * idx.len() as f64).round() as usize;
            test.extend_from_slice(&idx[..n_test]);
            train.extend_from_slice(&idx[n_test..]);
        }
        // Back to dataset order so that classes are interleaved as in the source.
        train.sort_unstable();
        test.sort_unstable();
        let mut tr = self.subset(&train);
        let mut te = self.subset(&test);
        tr.name = format!("{}-train", self.name);
        te.name = format!("{}-test", self.name);
        (tr, te)
    }

    /// The first `n` images (all if `n >= len()`) of a seeded shuffle, in shuffled order.
    pub fn take_shuffled(&self, n: usize, seed: u64) -> ImageSet {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        SplitMix64::new(seed).shuffle(&mut idx);
        idx.truncate(n);
        self.subset(&idx)
    }
}

/// The largest side, in pixels, that [`load_image_folder`] resizes images to: 1 024² RGB
/// pixels are 12 MiB per image in f32, beyond any batch the recipes are meant for (ResNet-18
/// on ImageNet uses 224).
pub const MAX_IMAGE_SIZE: usize = 1024;

/// Why a dataset could not be loaded; every message starts with the full path concerned.
#[derive(Debug)]
pub enum DataError {
    /// A file or folder could not be read (missing, permissions, ...).
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A binary file whose size is not a whole number of records.
    BadSize {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        bytes: usize,
        /// Bytes per record.
        record: usize,
    },
    /// A CSV row that cannot be parsed.
    BadRow {
        /// The file (or origin name).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A label outside `0..classes`.
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Where in the file, e.g. `"line 17"` or `"record 5"`.
        at: String,
        /// The label read.
        label: i64,
        /// Number of classes it should be below.
        classes: usize,
    },
    /// Content that cannot be decoded (bad gzip, unreadable image, ...).
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// Images of different sizes in a folder loaded without a target size.
    MixedSizes {
        /// The image whose size differs.
        path: PathBuf,
        /// Its (height, width).
        size: (usize, usize),
        /// The first image of the folder, which set the expected size.
        first: PathBuf,
        /// The expected (height, width).
        expected: (usize, usize),
    },
    /// A folder without what it should hold (no class folders, no images in a class).
    Empty {
        /// The folder.
        path: PathBuf,
        /// What was expected in it.
        what: String,
    },
    /// A target image size with a side of 0 or above [`MAX_IMAGE_SIZE`].
    ImageSize {
        /// The folder to be loaded.
        path: PathBuf,
        /// The (height, width) asked for.
        size: (usize, usize),
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                write!(f, "{}: not found", path.display())
            }
            DataError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataError::BadSize {
                path,
                bytes,
                record,
            } => write!(
                f,
                "{}: {bytes} bytes, expected a multiple of {record}",
                path.display()
            ),
            DataError::BadRow {
                path,
                line,
                problem,
            } => write!(f, "{} line {line}: {problem}", path.display()),
            DataError::LabelOutOfRange {
                path,
                at,
                label,
                classes,
            } => write!(
                f,
                "{} {at}: label {label} out of range 0..{classes}",
                path.display()
            ),
            DataError::Decode { path, message } => {
                write!(f, "{}: cannot decode: {message}", path.display())
            }
            DataError::MixedSizes {
                path,
                size,
                first,
                expected,
            } => write!(
                f,
                "{}: image is {}x{} (HxW) but {} is {}x{}; pass a size to resize them",
                path.display(),
                size.0,
                size.1,
                first.display(),
                expected.0,
                expected.1
            ),
            DataError::Empty { path, what } => write!(f, "{}: {what}", path.display()),
            DataError::ImageSize { path, size } => write!(
                f,
                "{}: cannot resize images to {}x{} (HxW): each side must be from 1 to \
                 {MAX_IMAGE_SIZE} pixels",
                path.display(),
                size.0,
                size.1
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The UCI handwritten digits (1797 images, 8x8, 10 classes) as shipped with the crate:
/// gzip CSV, 64 pixel values 0..16 then the label per row. See data/README.md for the source.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// The shipped digits dataset, named `"digits"`.
pub fn default_digits() -> ImageSet {
    parse_digits(DIGITS_CSV_GZ, "digits.csv.gz").expect("the shipped digits.csv.gz is valid")
}

/// Parses a gzip CSV without header, 64 integers 0..16 then a label 0..9 per row, into
/// 1-channel 8x8 images scaled by 1/16. `origin` names the source in errors.
pub fn parse_digits(bytes_gz: &[u8], origin: &str) -> Result<ImageSet, DataError> {
    const PIXELS: usize = 64;
    const CLASSES: usize = 10;
    let path = PathBuf::from(origin);
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes_gz)
        .read_to_string(&mut text)
        .map_err(|e| DataError::Decode {
            path: path.clone(),
            message: format!("gzip CSV: {e}"),
        })?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let line_no = k + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |problem: String| DataError::BadRow {
            path: path.clone(),
            line: line_no,
            problem,
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(bad(format!(
                "{} values, expected {}",
                fields.len(),
                PIXELS + 1
            )));
        }
        let mut values = Vec::with_capacity(PIXELS + 1);
        for (col, field) in fields.iter().enumerate() {
            let v: i64 = field.trim().parse().map_err(|_| {
                bad(format!(
                    "value {} ({:?}) is not an integer",
                    col + 1,
                    field.trim()
                ))
            })?;
            values.push(v);
        }
        for (col, &v) in values[..PIXELS].iter().enumerate() {
            if !(0..=16).contains(&v) {
                return Err(bad(format!("pixel {} is {v}, expected 0..=16", col + 1)));
            }
        }
        let label = values[PIXELS];
        if !(0..CLASSES as i64).contains(&label) {
            return Err(DataError::LabelOutOfRange {
                path: path.clone(),
                at: format!("line {line_no}"),
                label,
                classes: CLASSES,
            });
        }
        images.extend(values[..PIXELS].iter().map(|&v| v as f32 / 16.0));
        labels.push(label as u32);
    }
    Ok(ImageSet {
        name: "digits".to_string(),
        images,
        labels,
        channels: 1,
        height: 8,
        width: 8,
        classes: CLASSES,
        class_names: (0..CLASSES).map(|d| d.to_string()).collect(),
    })
}

/// Reads a digits-format gzip CSV file (see [`parse_digits`]).
pub fn load_digits(path: &Path) -> Result<ImageSet, DataError> {
    let bytes = read_file(path)?;
    parse_digits(&bytes, &path.display().to_string())
}

const CIFAR_PIXELS: usize = 3 * 32 * 32;

/// `dir` itself if it holds the expected file, else `dir/sub` if that is a folder; otherwise
/// `dir`, so that the missing-file error names the place the user pointed at.
fn cifar_dir(dir: &Path, sub: &str, probe: &str) -> PathBuf {
    if !dir.join(probe).exists() && dir.join(sub).is_dir() {
        dir.join(sub)
    } else {
        dir.to_path_buf()
    }
}

/// Appends the records of one CIFAR binary file. `label_bytes` is 1 (CIFAR-10) or 2
/// (CIFAR-100: coarse then fine); the last label byte is the one kept.
fn read_cifar_file(
    path: &Path,
    label_bytes: usize,
    classes: usize,
    images: &mut Vec<f32>,
    labels: &mut Vec<u32>,
) -> Result<(), DataError> {
    let bytes = read_file(path)?;
    let record = label_bytes + CIFAR_PIXELS;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(DataError::BadSize {
            path: path.to_path_buf(),
            bytes: bytes.len(),
            record,
        });
    }
    images.reserve(bytes.len() / record * CIFAR_PIXELS);
    for (r, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[label_bytes - 1] as usize;
        if label >= classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                at: format!("record {r}"),
                label: label as i64,
                classes,
            });
        }
        labels.push(label as u32);
        // The file is already R plane, G plane, B plane, row-major: exactly CHW.
        images.extend(rec[label_bytes..].iter().map(|&b| b as f32 / 255.0));
    }
    Ok(())
}

/// Class names from a one-name-per-line file; empty if the file is absent or does not
/// list at least `classes` names, since names are only cosmetic.
fn read_class_names(path: &Path, classes: usize) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() >= classes {
        names.into_iter().take(classes).collect()
    } else {
        Vec::new()
    }
}

fn cifar_set(
    name: &str,
    files: &[PathBuf],
    label_bytes: usize,
    classes: usize,
    class_names: &[String],
) -> Result<ImageSet, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for f in files {
        read_cifar_file(f, label_bytes, classes, &mut images, &mut labels)?;
    }
    Ok(ImageSet {
        name: name.to_string(),
        images,
        labels,
        channels: 3,
        height: 32,
        width: 32,
        classes,
        class_names: class_names.to_vec(),
    })
}

/// CIFAR-10 in its binary distribution (`cifar-10-batches-bin`): `data_batch_1.bin` ..
/// `data_batch_5.bin` (train) and `test_batch.bin`, each record 1 label byte then 3072
/// bytes (R, G, B planes of 32x32, row-major). Class names come from `batches.meta.txt`
/// if present. `dir` is the folder holding the files or its parent. Returns `(train, test)`.
pub fn load_cifar10(dir: &Path) -> Result<(ImageSet, ImageSet), DataError> {
    let d = cifar_dir(dir, "cifar-10-batches-bin", "data_batch_1.bin");
    let names = read_class_names(&d.join("batches.meta.txt"), 10);
    let train: Vec<PathBuf> = (1..=5)
        .map(|i| d.join(format!("data_batch_{i}.bin")))
        .collect();
    let train = cifar_set("cifar10-train", &train, 1, 10, &names)?;
    let test = cifar_set("cifar10-test", &[d.join("test_batch.bin")], 1, 10, &names)?;
    Ok((train, test))
}

/// CIFAR-100 in its binary distribution (`cifar-100-binary`): `train.bin` and `test.bin`,
/// each record a coarse label byte, a fine label byte, then 3072 bytes as in CIFAR-10.
/// The fine label (100 classes) is used; names come from `fine_label_names.txt` if
/// present. `dir` is the folder holding the files or its parent. Returns `(train, test)`.
pub fn load_cifar100(dir: &Path) -> Result<(ImageSet, ImageSet), DataError> {
    let d = cifar_dir(dir, "cifar-100-binary", "train.bin");
    let names = read_class_names(&d.join("fine_label_names.txt"), 100);
    let train = cifar_set("cifar100-train", &[d.join("train.bin")], 2, 100, &names)?;
    let test = cifar_set("cifar100-test", &[d.join("test.bin")], 2, 100, &names)?;
    Ok((train, test))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let p = e.map_err(io)?.path();
        // Hidden entries (.DS_Store, .git, ...) are never classes or images.
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn is_image_file(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// One decoded image: RGB CHW pixels in [0, 1], its (height, width), and whether the file
/// was grayscale.
type Decoded = (Vec<f32>, (usize, usize), bool);

/// Decodes one image to RGB CHW in [0, 1], resized if asked.
fn decode_image(path: &Path, size: Option<(usize, usize)>) -> Result<Decoded, DataError> {
    let decode_err = |e: image::ImageError| DataError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let img = image::ImageReader::open(path)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        // The content, not the extension, decides: mislabelled .jpg files are common.
        .with_guessed_format()
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .decode()
        .map_err(decode_err)?;
    let gray = !img.color().has_color();
    let mut rgb = img.to_rgb32f();
    let current = (rgb.height() as usize, rgb.width() as usize);
    match size {
        Some((h, w)) if (h, w) != current => {
            rgb = image::imageops::resize(
                &rgb,
                w as u32,
                h as u32,
                image::imageops::FilterType::Triangle,
            );
        }
        _ => {}
    }
    let (h, w) = (rgb.height() as usize, rgb.width() as usize);
    let mut chw = vec![0f32; 3 * h * w];
    for (k, p) in rgb.pixels().enumerate() {
        for c in 0..3 {
            chw[c * h * w + k] = p.0[c].clamp(0.0, 1.0);
        }
    }
    Ok((chw, (h, w), gray))
}

/// A folder with one sub-folder per class (sorted by name: that order gives the labels) of
/// PNG/JPEG images; other files and hidden entries are skipped. Images become RGB, or 1
/// channel if every image is grayscale, and are resized (triangle filter) to `size` =
/// `(height, width)` if given; without `size` all images must share one size. The set is
/// named after the folder and the class names are the sub-folder names. Each side of `size`
/// must be from 1 to [`MAX_IMAGE_SIZE`].
pub fn load_image_folder(dir: &Path, size: Option<(usize, usize)>) -> Result<ImageSet, DataError> {
    if let Some((h, w)) = size {
        if !(1..=MAX_IMAGE_SIZE).contains(&h) || !(1..=MAX_IMAGE_SIZE).contains(&w) {
            return Err(DataError::ImageSize {
                path: dir.to_path_buf(),
                size: (h, w),
            });
        }
    }
    let class_dirs: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if class_dirs.is_empty() {
        return Err(DataError::Empty {
            path: dir.to_path_buf(),
            what: "no class sub-folders".to_string(),
        });
    }
    let mut images = Vec::new();
    let mut labels = Vec::new();
    let mut all_gray = true;
    let mut first: Option<(PathBuf, (usize, usize))> = None;
    let mut class_names = Vec::new();
    for (label, cdir) in class_dirs.iter().enumerate() {
        let files: Vec<PathBuf> = sorted_entries(cdir)?
            .into_iter()
            .filter(|p| is_image_file(p))
            .collect();
        if files.is_empty() {
            return Err(DataError::Empty {
                path: cdir.clone(),
                what: "class folder with no .png/.jpg/.jpeg images".to_string(),
            });
        }
        for f in &files {
            let (chw, hw, gray) = decode_image(f, size)?;
            match &first {
                None => first = Some((f.clone(), hw)),
                Some((fp, expected)) if *expected != hw => {
                    return Err(DataError::MixedSizes {
                        path: f.clone(),
                        size: hw,
                        first: fp.clone(),
                        expected: *expected,
                    });
                }
                Some(_) => {}
            }
            all_gray &= gray;
            images.extend_from_slice(&chw);
            labels.push(label as u32);
        }
        class_names.push(
            cdir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    let (height, width) = first.map(|(_, hw)| hw).unwrap_or((0, 0));
    let mut channels = 3;
    if all_gray {
        // Gray decoded to RGB has three equal planes: keep the first of each image.
        let plane = height * width;
        images = images
            .chunks_exact(3 * plane)
            .flat_map(|im| im[..plane].iter().copied())
            .collect();
        channels = 1;
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "images".to_string());
    Ok(ImageSet {
        name,
        images,
        labels,
        channels,
        height,
        width,
        classes: class_dirs.len(),
        class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A fresh, empty folder under the system temp dir, unique per test and process.
    fn temp_dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("helper_data_test_{}_{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn row(pixel: u32, label: u32) -> String {
        let mut v: Vec<String> = (0..64).map(|_| pixel.to_string()).collect();
        v.push(label.to_string());
        v.join(",")
    }

    #[test]
    fn digits_default() {
        let d = default_digits();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.classes, 10);
        assert_eq!((d.channels, d.height, d.width), (1, 8, 8));
        assert_eq!(d.images.len(), 1797 * 64);
        assert!(d.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(d.labels.iter().all(|&y| y < 10));
        for c in 0..10 {
            assert!(d.labels.iter().filter(|&&y| y == c).count() > 150);
        }
        // First shipped row: pixels 0,0,5,13,... label 0.
        assert_eq!(d.image(0)[2], 5.0 / 16.0);
        assert_eq!(d.labels[0], 0);
    }

    #[test]
    fn digits_malformed_row_names_line() {
        let mut lines: Vec<String> = (0..16).map(|i| row(i, i % 10)).collect();
        let mut short: Vec<String> = (0..62).map(|_| "1".to_string()).collect();
        short.push("3".to_string());
        lines.push(short.join(","));
        let e = parse_digits(&gz(&lines.join("\n")), "/x/digits.csv.gz").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/x/digits.csv.gz line 17: 63 values, expected 65"
        );

        let e = parse_digits(&gz(&row(3, 10)), "/x/d.csv.gz").unwrap_err();
        assert!(matches!(e, DataError::LabelOutOfRange { .. }));
        assert_eq!(
            e.to_string(),
            "/x/d.csv.gz line 1: label 10 out of range 0..10"
        );

        let e = parse_digits(&gz(&row(17, 1)), "/x/d.csv.gz").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("/x/d.csv.gz line 1: pixel 1 is 17"));

        let e = parse_digits(b"not gzip", "/x/d.csv.gz").unwrap_err();
        assert!(e.to_string().starts_with("/x/d.csv.gz: cannot decode"));
    }

    #[test]
    fn digits_load_file_and_missing() {
        let dir = temp_dir("digits");
        let p = dir.join("small.csv.gz");
        std::fs::write(&p, gz(&format!("{}\n{}\n", row(16, 2), row(0, 7)))).unwrap();
        let d = load_digits(&p).unwrap();
        assert_eq!(d.labels, vec![2, 7]);
        assert!(d.image(0).iter().all(|&v| v == 1.0));
        let missing = dir.join("nope.csv.gz");
        let e = load_digits(&missing).unwrap_err();
        assert!(e.to_string().contains(&missing.display().to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A CIFAR record whose pixels encode (record index, position) so layout can be checked.
    fn cifar_records(n: usize, labels: &[u8], seed: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for r in 0..n {
            out.extend_from_slice(labels);
            out.extend((0..CIFAR_PIXELS).map(|k| ((k + r * 7) as u8).wrapping_add(seed)));
        }
        out
    }

    #[test]
    fn cifar10_round_trip_and_errors() {
        let root = temp_dir("cifar10");
        let d = root.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&d).unwrap();
        for i in 1..=5u8 {
            std::fs::write(
                d.join(format!("data_batch_{i}.bin")),
                cifar_records(2, &[i], i),
            )
            .unwrap();
        }
        std::fs::write(d.join("test_batch.bin"), cifar_records(3, &[9], 0)).unwrap();
        let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
        std::fs::write(d.join("batches.meta.txt"), names).unwrap();

        // Both the folder itself and its parent are accepted.
        for dir in [&root, &d] {
            let (train, test) = load_cifar10(dir).unwrap();
            assert_eq!(train.len(), 10);
            assert_eq!(test.len(), 3);
            assert_eq!(train.labels, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
            assert_eq!((train.channels, train.height, train.width), (3, 32, 32));
            assert_eq!(train.class_names[9], "truck");
            assert_eq!(train.name, "cifar10-train");
            // Second record of batch 1: byte k is (k + 7 + 1) mod 256.
            let im = train.image(1);
            for k in [0, 1023, 1024, 2048, 3071] {
                assert_eq!(im[k], ((k + 8) % 256) as f32 / 255.0);
            }
        }

        // Wrong size: one byte short.
        let bad = d.join("test_batch.bin");
        let mut bytes = cifar_records(3, &[9], 0);
        bytes.pop();
        std::fs::write(&bad, &bytes).unwrap();
        let e = load_cifar10(&root).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: 9218 bytes, expected a multiple of 3073", bad.display())
        );

        // Label out of range.
        std::fs::write(&bad, cifar_records(1, &[10], 0)).unwrap();
        let e = load_cifar10(&root).unwrap_err();
        assert!(e.to_string().contains("label 10 out of range 0..10"));
        assert!(e.to_string().contains(&bad.display().to_string()));

        // Missing file.
        let gone = d.join("data_batch_3.bin");
        std::fs::remove_file(&gone).unwrap();
        let e = load_cifar10(&root).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: not found", gone.display()));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn cifar100_round_trip_and_errors() {
        let root = temp_dir("cifar100");
        let d = root.join("cifar-100-binary");
        std::fs::create_dir_all(&d).unwrap();
        let mut train = cifar_records(1, &[3, 42], 0);
        train.extend(cifar_records(1, &[19, 99], 1));
        std::fs::write(d.join("train.bin"), &train).unwrap();
        std::fs::write(d.join("test.bin"), cifar_records(2, &[0, 5], 2)).unwrap();
        let names: Vec<String> = (0..100).map(|i| format!("class{i}")).collect();
        std::fs::write(d.join("fine_label_names.txt"), names.join("\n")).unwrap();

        let (tr, te) = load_cifar100(&root).unwrap();
        assert_eq!(tr.labels, vec![42, 99]);
        assert_eq!(te.labels, vec![5, 5]);
        assert_eq!(tr.classes, 100);
        assert_eq!(tr.class_names[42], "class42");
        assert_eq!(tr.image(1)[0], 1.0 / 255.0);

        let bad = d.join("train.bin");
        std::fs::write(&bad, vec![0u8; 3073]).unwrap();
        let e = load_cifar100(&d).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: 3073 bytes, expected a multiple of 3074", bad.display())
        );

        std::fs::remove_file(d.join("test.bin")).unwrap();
        std::fs::write(&bad, &train).unwrap();
        let e = load_cifar100(&root).unwrap_err();
        assert!(e
            .to_string()
            .contains(&d.join("test.bin").display().to_string()));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn write_png_rgb(p: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(p)
            .unwrap();
    }

    #[test]
    fn image_folder_classes_resize_and_errors() {
        let root = temp_dir("folder");
        let a = root.join("cats");
        let b = root.join("ants");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        write_png_rgb(&a.join("1.png"), 4, 3, [255, 0, 0]);
        write_png_rgb(&a.join("2.png"), 4, 3, [0, 255, 0]);
        write_png_rgb(&b.join("x.png"), 4, 3, [0, 0, 255]);
        std::fs::write(b.join("notes.txt"), "skipped").unwrap();

        let s = load_image_folder(&root, None).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.classes, 2);
        assert_eq!(s.class_names, vec!["ants", "cats"]);
        assert_eq!(s.labels, vec![0, 1, 1]);
        assert_eq!((s.channels, s.height, s.width), (3, 3, 4));
        // ants/x.png is pure blue: planes R, G zero, B one.
        let im = s.image(0);
        assert!(im[..24].iter().all(|&v| v == 0.0));
        assert!(im[24..].iter().all(|&v| v == 1.0));

        let r = load_image_folder(&root, Some((6, 5))).unwrap();
        assert_eq!((r.height, r.width, r.image_len()), (6, 5, 90));
        // A side of 0 or past MAX_IMAGE_SIZE is refused before any image is decoded.
        for size in [(0, 5), (6, 0), (MAX_IMAGE_SIZE + 1, 5)] {
            let e = load_image_folder(&root, Some(size)).unwrap_err();
            assert!(matches!(e, DataError::ImageSize { .. }), "{size:?}: {e}");
            assert!(e.to_string().starts_with(&root.display().to_string()));
            assert!(e.to_string().contains("from 1 to 1024"), "{e}");
        }
        assert!(r.images.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!((r.image(1)[0] - 1.0).abs() < 1e-6);

        // Mixed sizes without resize.
        write_png_rgb(&a.join("3.png"), 5, 3, [1, 2, 3]);
        let e = load_image_folder(&root, None).unwrap_err();
        assert!(matches!(e, DataError::MixedSizes { .. }));
        assert!(e
            .to_string()
            .contains(&a.join("3.png").display().to_string()));
        assert_eq!(load_image_folder(&root, Some((3, 4))).unwrap().len(), 4);
        std::fs::remove_file(a.join("3.png")).unwrap();

        // Undecodable image.
        std::fs::write(a.join("4.png"), b"not a png").unwrap();
        let e = load_image_folder(&root, Some((3, 4))).unwrap_err();
        assert!(e
            .to_string()
            .contains(&a.join("4.png").display().to_string()));
        std::fs::remove_file(a.join("4.png")).unwrap();

        // Empty class folder.
        let empty = root.join("zebras");
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::write(empty.join("readme.md"), "no images").unwrap();
        let e = load_image_folder(&root, None).unwrap_err();
        assert!(matches!(e, DataError::Empty { .. }));
        assert!(e.to_string().starts_with(&empty.display().to_string()));

        // No class folders at all.
        let e = load_image_folder(&empty, None).unwrap_err();
        assert!(e.to_string().contains("no class sub-folders"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn image_folder_grayscale_is_one_channel() {
        let root = temp_dir("gray");
        for (c, v) in [("a", 10u8), ("b", 200u8)] {
            std::fs::create_dir_all(root.join(c)).unwrap();
            image::GrayImage::from_pixel(3, 2, image::Luma([v]))
                .save(root.join(c).join("g.png"))
                .unwrap();
        }
        let s = load_image_folder(&root, None).unwrap();
        assert_eq!((s.channels, s.height, s.width), (1, 2, 3));
        assert!((s.image(1)[0] - 200.0 / 255.0).abs() < 1e-6);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn image_folder_jpeg_and_missing_folder() {
        let root = temp_dir("jpeg");
        for (c, rgb) in [("a", [250u8, 10, 10]), ("b", [10u8, 10, 250])] {
            std::fs::create_dir_all(root.join(c)).unwrap();
            image::RgbImage::from_pixel(8, 8, image::Rgb(rgb))
                .save(root.join(c).join("p.JPG"))
                .unwrap();
        }
        let s = load_image_folder(&root, Some((4, 4))).unwrap();
        assert_eq!((s.len(), s.channels, s.height, s.width), (2, 3, 4, 4));
        // Lossy, but a red image stays mostly red and a blue one mostly blue.
        assert!(s.image(0)[0] > 0.8 && s.image(0)[32] < 0.2);
        assert!(s.image(1)[0] < 0.2 && s.image(1)[32] > 0.8);

        let missing = root.join("nowhere");
        let e = load_image_folder(&missing, None).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: not found", missing.display()));
        assert!(std::error::Error::source(&e).is_some());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn split_is_stratified_disjoint_complete_and_seeded() {
        let d = default_digits();
        let (tr, te) = d.split(0.2, 7);
        assert_eq!(tr.len() + te.len(), d.len());
        assert_eq!(tr.name, "digits-train");
        for c in 0..10u32 {
            let n = d.labels.iter().filter(|&&y| y == c).count();
            let nt = te.labels.iter().filter(|&&y| y == c).count();
            assert_eq!(nt, (0.2 * n as f64).round() as usize);
        }
        // Every image lands in exactly one side: compare multisets of (image, label).
        let key = |s: &ImageSet, i: usize| {
            let mut k: Vec<u32> = s.image(i).iter().map(|v| (v * 16.0) as u32).collect();
            k.push(s.labels[i]);
            k
        };
        let mut all: Vec<Vec<u32>> = (0..d.len()).map(|i| key(&d, i)).collect();
        let mut parts: Vec<Vec<u32>> = (0..tr.len())
            .map(|i| key(&tr, i))
            .chain((0..te.len()).map(|i| key(&te, i)))
            .collect();
        all.sort();
        parts.sort();
        assert_eq!(all, parts);

        let (tr2, te2) = d.split(0.2, 7);
        assert_eq!((tr2.labels, te2.images), (tr.labels, te.images.clone()));
        let (_, te3) = d.split(0.2, 8);
        assert_ne!(te3.images, te.images);

        let (a, b) = d.split(0.0, 1);
        assert_eq!((a.len(), b.len()), (d.len(), 0));
    }

    #[test]
    fn take_shuffled_and_subset() {
        let d = default_digits();
        let t = d.take_shuffled(50, 3);
        assert_eq!(t.len(), 50);
        assert_eq!(t.images.len(), 50 * 64);
        assert_eq!(t, d.take_shuffled(50, 3));
        assert_ne!(t.images, d.take_shuffled(50, 4).images);
        assert_eq!(d.take_shuffled(5000, 1).len(), d.len());
        let s = d.subset(&[5, 0, 5]);
        assert_eq!(s.image(0), d.image(5));
        assert_eq!(s.image(1), d.image(0));
        assert_eq!(s.labels, vec![d.labels[5], d.labels[0], d.labels[5]]);
        assert!(d.subset(&[]).is_empty());
    }
}
