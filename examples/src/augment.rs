//! Random views of an image for self-supervised learning: random resized crop, horizontal
//! flip, contrast, brightness and Gaussian noise, each view fixed by its own seed.

use crate::rng::SplitMix64;

/// Strengths of the random transformations applied to make one view.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Range of the crop's area as a fraction of the image, e.g. `(0.5, 1.0)`.
    pub crop_scale: (f64, f64),
    /// Range of the crop's aspect ratio (width / height) relative to the image's own,
    /// sampled log-uniformly; on square images it is the plain aspect ratio.
    pub crop_ratio: (f64, f64),
    /// Mirror left-right with probability 1/2 (off where orientation carries the class).
    pub flip: bool,
    /// Add `U(-brightness, brightness)` to every pixel.
    pub brightness: f64,
    /// Scale around the image mean by `U(1 - contrast, 1 + contrast)`.
    pub contrast: f64,
    /// Standard deviation of the Gaussian noise added to every pixel.
    pub noise_std: f64,
}

impl Augment {
    /// For 8x8 digits: gentle crops and no flip, since a mirrored digit is another glyph.
    pub fn digits() -> Self {
        Self {
            crop_scale: (0.6, 1.0),
            crop_ratio: (0.8, 1.25),
            flip: false,
            brightness: 0.2,
            contrast: 0.3,
            noise_std: 0.05,
        }
    }

    /// For natural images (CIFAR, photo folders), close to SimCLR's crop and jitter.
    pub fn natural() -> Self {
        Self {
            crop_scale: (0.2, 1.0),
            crop_ratio: (3.0 / 4.0, 4.0 / 3.0),
            flip: true,
            brightness: 0.4,
            contrast: 0.4,
            noise_std: 0.02,
        }
    }
}

fn mix(x: u64) -> u64 {
    SplitMix64::new(x).next_u64()
}

/// Seed of one view of one sample: a SplitMix64 hash of `(seed, epoch, index, view)`, so a
/// sample's augmentation never depends on batch composition or on how many processes
/// share the work.
pub fn view_seed(seed: u64, epoch: u64, index: u64, view: u64) -> u64 {
    // Mixing after each field (not one xor of all) keeps e.g. (epoch 1, index 0) and
    // (epoch 0, index 1) apart.
    mix(mix(mix(mix(seed) ^ epoch) ^ index) ^ view)
}

/// Crop rectangle in continuous pixel coordinates: (x0, y0, width, height).
fn sample_crop(h: usize, w: usize, aug: &Augment, rng: &mut SplitMix64) -> (f64, f64, f64, f64) {
    let (hf, wf) = (h as f64, w as f64);
    let area = hf * wf;
    let (s0, s1) = aug.crop_scale;
    let (r0, r1) = (aug.crop_ratio.0.ln(), aug.crop_ratio.1.ln());
    // Continuous (not whole-pixel) sizes: on 8x8 digits rounding would leave only a
    // handful of distinct crops.
    for _ in 0..10 {
        let target = area * (s0 + (s1 - s0) * rng.uniform());
        // Relative to the image's own aspect, so that scale (1, 1) with ratio (1, 1) is
        // the whole image whatever its shape; on square images this is torchvision's rule.
        let ratio = (r0 + (r1 - r0) * rng.uniform()).exp();
        let cw = (target * ratio * wf / hf).sqrt();
        let ch = (target / ratio * hf / wf).sqrt();
        if cw > 0.0 && ch > 0.0 && cw <= wf && ch <= hf {
            let x0 = (wf - cw) * rng.uniform();
            let y0 = (hf - ch) * rng.uniform();
            return (x0, y0, cw, ch);
        }
    }
    // As torchvision: fall back to the largest centred crop whose ratio is in range.
    let (cw, ch) = if aug.crop_ratio.0 > 1.0 {
        (wf, hf / aug.crop_ratio.0)
    } else if aug.crop_ratio.1 < 1.0 {
        (wf * aug.crop_ratio.1, hf)
    } else {
        (wf, hf)
    };
    ((wf - cw) / 2.0, (hf - ch) / 2.0, cw, ch)
}

/// One random view of `image` (CHW, `channels x height x width`), fixed by `seed`: random
/// resized crop (bilinear, per channel, back to `height x width`), then flip, contrast,
/// brightness and noise. Contrast and brightness results are clamped to [0, 1] as
/// torchvision does; the noise is added after and not clamped. Returns a new CHW vector.
/// Panics if `image.len() != channels * height * width` or a crop range is not positive.
pub fn augment(
    image: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    aug: &Augment,
    seed: u64,
) -> Vec<f32> {
    assert_eq!(
        image.len(),
        channels * height * width,
        "image has {} values, expected {channels}x{height}x{width}",
        image.len()
    );
    assert!(
        aug.crop_scale.0 > 0.0 && aug.crop_scale.0 <= aug.crop_scale.1,
        "crop_scale must satisfy 0 < lo <= hi, got {:?}",
        aug.crop_scale
    );
    assert!(
        aug.crop_ratio.0 > 0.0 && aug.crop_ratio.0 <= aug.crop_ratio.1,
        "crop_ratio must satisfy 0 < lo <= hi, got {:?}",
        aug.crop_ratio
    );
    let plane = height * width;
    if plane == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed);
    let (x0, y0, cw, ch) = sample_crop(height, width, aug, &mut rng);
    let flip = aug.flip && rng.uniform() < 0.5;

    // Source coordinate of each output column/row: pixel centres of the output grid mapped
    // into the crop. A full crop maps j to exactly j, so the resample is then the identity.
    let (sx, sy) = (cw / width as f64, ch / height as f64);
    let taps = |j: usize, o: f64, s: f64, n: usize| {
        let c = (o + (j as f64 + 0.5) * s - 0.5).clamp(0.0, (n - 1) as f64);
        let i0 = c.floor() as usize;
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, (c - i0 as f64) as f32)
    };
    let cols: Vec<_> = (0..width)
        .map(|j| {
            let jj = if flip { width - 1 - j } else { j };
            taps(jj, x0, sx, width)
        })
        .collect();
    let rows: Vec<_> = (0..height).map(|i| taps(i, y0, sy, height)).collect();

    let mut out = vec![0f32; image.len()];
    for c in 0..channels {
        let src = &image[c * plane..(c + 1) * plane];
        let dst = &mut out[c * plane..(c + 1) * plane];
        for (i, &(r0, r1, fy)) in rows.iter().enumerate() {
            let (a, b) = (&src[r0 * width..][..width], &src[r1 * width..][..width]);
            for (j, &(c0, c1, fx)) in cols.iter().enumerate() {
                let top = a[c0] + fx * (a[c1] - a[c0]);
                let bot = b[c0] + fx * (b[c1] - b[c0]);
                dst[i * width + j] = top + fy * (bot - top);
            }
        }
    }

    if aug.contrast > 0.0 || aug.brightness > 0.0 {
        let f = 1.0 + aug.contrast * (2.0 * rng.uniform() - 1.0);
        let shift = aug.brightness * (2.0 * rng.uniform() - 1.0);
        let mean = out.iter().map(|&v| v as f64).sum::<f64>() / out.len() as f64;
        for v in &mut out {
            *v = (mean + f * (*v as f64 - mean) + shift).clamp(0.0, 1.0) as f32;
        }
    }
    if aug.noise_std > 0.0 {
        for v in &mut out {
            *v += (aug.noise_std * rng.normal()) as f32;
        }
    }
    // Garbage in (NaN pixels) is the only way to get non-finite values; keep the promise.
    for v in &mut out {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image(c: usize, h: usize, w: usize) -> Vec<f32> {
        let mut rng = SplitMix64::new(99);
        (0..c * h * w).map(|_| rng.uniform() as f32).collect()
    }

    fn identity() -> Augment {
        Augment {
            crop_scale: (1.0, 1.0),
            crop_ratio: (1.0, 1.0),
            flip: false,
            brightness: 0.0,
            contrast: 0.0,
            noise_std: 0.0,
        }
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let x = test_image(3, 16, 16);
        for aug in [Augment::digits(), Augment::natural()] {
            let a = augment(&x, 3, 16, 16, &aug, 5);
            assert_eq!(a, augment(&x, 3, 16, 16, &aug, 5));
            assert_ne!(a, augment(&x, 3, 16, 16, &aug, 6));
            assert_eq!(a.len(), x.len());
            assert!(a.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn zero_strength_is_identity() {
        for (c, h, w) in [(1, 8, 8), (3, 32, 32), (3, 5, 7), (2, 1, 1)] {
            let x = test_image(c, h, w);
            for seed in 0..20 {
                let y = augment(&x, c, h, w, &identity(), seed);
                assert_eq!(y.len(), x.len());
                for (a, b) in x.iter().zip(&y) {
                    assert!((a - b).abs() <= 1e-6, "{c}x{h}x{w} seed {seed}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn keeps_shape_and_range_without_noise() {
        let mut aug = Augment::natural();
        aug.noise_std = 0.0;
        let x = test_image(3, 12, 20);
        for seed in 0..50 {
            let y = augment(&x, 3, 12, 20, &aug, seed);
            assert_eq!(y.len(), 3 * 12 * 20);
            assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn flip_only_when_enabled() {
        // A left-to-right ramp: a mirrored view would decrease along each row.
        let (h, w) = (6, 10);
        let x: Vec<f32> = (0..h * w).map(|k| (k % w) as f32 / w as f32).collect();
        let mut aug = identity();
        aug.crop_scale = (0.3, 1.0);
        aug.crop_ratio = (0.5, 2.0);
        let increasing = |y: &[f32]| y.chunks(w).all(|r| r.windows(2).all(|p| p[1] >= p[0]));
        for seed in 0..200 {
            assert!(increasing(&augment(&x, 1, h, w, &aug, seed)));
        }
        aug.flip = true;
        let mirrored = (0..200)
            .filter(|&s| !increasing(&augment(&x, 1, h, w, &aug, s)))
            .count();
        assert!((60..140).contains(&mirrored), "{mirrored} of 200 mirrored");

        // Full-crop flip is an exact mirror.
        let mut aug = identity();
        aug.flip = true;
        let flipped = (0..20)
            .map(|s| augment(&x, 1, h, w, &aug, s))
            .find(|y| !increasing(y))
            .unwrap();
        for i in 0..h {
            for j in 0..w {
                assert_eq!(flipped[i * w + j], x[i * w + w - 1 - j]);
            }
        }
    }

    #[test]
    fn crops_vary_and_photometric_changes_apply() {
        let x = test_image(1, 8, 8);
        let mut aug = identity();
        aug.crop_scale = (0.5, 1.0);
        let a = augment(&x, 1, 8, 8, &aug, 1);
        let b = augment(&x, 1, 8, 8, &aug, 2);
        assert_ne!(a, b);

        let mut aug = identity();
        aug.brightness = 0.3;
        let y = augment(&x, 1, 8, 8, &aug, 3);
        assert!(x.iter().zip(&y).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn view_seed_separates_fields() {
        let base = view_seed(1, 2, 3, 0);
        assert_eq!(base, view_seed(1, 2, 3, 0));
        let others = [
            view_seed(1, 2, 3, 1),
            view_seed(1, 2, 4, 0),
            view_seed(1, 3, 3, 0),
            view_seed(2, 2, 3, 0),
            view_seed(1, 3, 2, 0),
        ];
        for o in others {
            assert_ne!(o, base);
        }
        assert_ne!(view_seed(0, 1, 0, 0), view_seed(0, 0, 1, 0));
        assert_ne!(view_seed(0, 0, 0, 0), 0);
    }
}
