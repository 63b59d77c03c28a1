//! The `clip` recipe: contrastive training of two encoders on paired rows (CLIP's
//! image–text setting), with `clip(a, b)` alone against `clip(a, b)` + T-REGS on both
//! modalities, evaluated by cross-modal retrieval on a held-out split.
//!
//! Default pairs come from the shipped digits: modality A is the 8×8 image; modality B is a
//! different rendering of the same image that a different encoder must read (rotated by 90°,
//! blurred, with fixed per-sample noise), so matching them is a real cross-modal problem.
//! Real use: two `.npy` files of paired embeddings from any pretrained pair of models, with
//! projection heads fine-tuned on top.

use crate::models::Mlp;
use crate::rng::SplitMix64;
use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tregs::RuntimeLoss;

/// Paired rows: `a[i]` and `b[i]` describe the same item.
#[derive(Debug, Clone)]
pub struct Pairs {
    pub name: String,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub n: usize,
    pub da: usize,
    pub db: usize,
}

impl Pairs {
    /// Rows `indices` of both modalities.
    pub fn subset(&self, indices: &[usize]) -> Pairs {
        let take = |x: &[f32], d: usize| -> Vec<f32> {
            indices
                .iter()
                .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
                .collect()
        };
        Pairs {
            name: self.name.clone(),
            a: take(&self.a, self.da),
            b: take(&self.b, self.db),
            n: indices.len(),
            da: self.da,
            db: self.db,
        }
    }

    /// A held-out split fixed by the seed: (train, test).
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Pairs, Pairs) {
        let mut order: Vec<usize> = (0..self.n).collect();
        shuffle(&mut order, seed);
        let n_test = ((self.n as f64) * test_fraction).round() as usize;
        let (test, train) = order.split_at(n_test);
        (self.subset(train), self.subset(test))
    }
}

fn shuffle(order: &mut [usize], seed: u64) {
    SplitMix64::new(seed).shuffle(order);
}

/// The default pairs: each digit image (A) with a rotated, blurred, noisy rendering (B).
pub fn digit_pairs() -> Pairs {
    let set = crate::data::default_digits();
    let (h, w) = (set.height, set.width);
    let mut rng = SplitMix64::new(12345);
    let mut b = Vec::with_capacity(set.len() * h * w);
    for i in 0..set.len() {
        let img = set.image(i);
        // Rotate by 90°: B's pixel (r, c) is A's pixel (c, w − 1 − r).
        let rotated: Vec<f32> = (0..h * w)
            .map(|k| {
                let (r, c) = (k / w, k % w);
                img[c * w + (w - 1 - r)]
            })
            .collect();
        for k in 0..h * w {
            let (r, c) = (k / w, k % w);
            let mut sum = 0.0;
            let mut count = 0.0;
            for (dr, dc) in [(0i32, 0i32), (-1, 0), (1, 0), (0, -1), (0, 1)] {
                let (rr, cc) = (r as i32 + dr, c as i32 + dc);
                if rr >= 0 && cc >= 0 && (rr as usize) < h && (cc as usize) < w {
                    sum += rotated[rr as usize * w + cc as usize];
                    count += 1.0;
                }
            }
            b.push(sum / count + 0.1 * rng.normal() as f32);
        }
    }
    Pairs {
        name: "digits: image ↔ rotated, blurred, noisy rendering".to_string(),
        a: set.images.clone(),
        b,
        n: set.len(),
        da: h * w,
        db: h * w,
    }
}

/// Reads a 2-D f32 or f64 `.npy` matrix; errors name the file.
pub fn read_npy(path: &Path) -> Result<(Vec<f32>, usize, usize), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| named(&e))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| named(&e))?;
    let shape = npy.shape().to_vec();
    if shape.len() != 2 {
        return Err(named(&format!(
            "expected a 2-D array, found shape {shape:?}"
        )));
    }
    let (n, d) = (shape[0] as usize, shape[1] as usize);
    if n == 0 || d == 0 {
        return Err(named(&format!(
            "expected at least one row and one column, found shape {shape:?}"
        )));
    }
    let fortran = npy.order() == npyz::Order::Fortran;
    let values: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            npy.into_vec::<f32>().map_err(|e| named(&e))?
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            npy.into_vec::<f64>()
                .map_err(|e| named(&e))?
                .into_iter()
                .map(|v| v as f32)
                .collect()
        }
        other => {
            return Err(named(&format!(
                "expected f32 or f64 elements, found {}",
                other.descr()
            )))
        }
    };
    let values = if fortran {
        (0..n * d).map(|k| values[(k % d) * n + k / d]).collect()
    } else {
        values
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(named(&format!(
            "non-finite value at row {}, column {}",
            k / d,
            k % d
        )));
    }
    Ok((values, n, d))
}

/// Two `.npy` files of paired rows.
pub fn npy_pairs(a: &Path, b: &Path) -> Result<Pairs, String> {
    let (va, na, da) = read_npy(a)?;
    let (vb, nb, db) = read_npy(b)?;
    if na != nb {
        return Err(format!(
            "{} has {na} rows but {} has {nb}: the rows must be paired",
            a.display(),
            b.display()
        ));
    }
    if na < 10 {
        return Err(format!(
            "{}: {na} rows, too few for a train/test split",
            a.display()
        ));
    }
    Ok(Pairs {
        name: format!("{} ↔ {}", a.display(), b.display()),
        a: va,
        b: vb,
        n: na,
        da,
        db,
    })
}

/// The two projection heads.
#[derive(Module, Debug)]
pub struct Towers {
    pub a: Mlp,
    pub b: Mlp,
}

/// Settings of one CLIP run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipConfig {
    pub name: String,
    pub expression: String,
    pub coefficients: BTreeMap<String, f64>,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub hidden: usize,
    pub embedding_dim: usize,
}

impl ClipConfig {
    /// Checks the settings (before any data is read or folder made): the loss parses with
    /// finite coefficients that fit f32, the dtype it trains in; at least one epoch; batches
    /// of at least 2 pairs. Returns the loss.
    pub fn check(&self) -> Result<RuntimeLoss, String> {
        let loss = RuntimeLoss::parse(&self.expression, &self.coefficients)
            .map_err(|e| format!("{}: {e}", self.name))?;
        loss.check_dtype(burn::tensor::DType::F32)
            .map_err(|e| format!("{}: {e}", self.name))?;
        if self.epochs == 0 {
            return Err(format!("{}: epochs must be at least 1", self.name));
        }
        if self.batch_size < 2 {
            return Err(format!(
                "{}: batch size {} (a tree needs 2 points): must be at least 2",
                self.name, self.batch_size
            ));
        }
        Ok(loss)
    }

    /// `clip(a, b)` alone.
    pub fn clip_only() -> ClipConfig {
        ClipConfig {
            name: "clip".to_string(),
            expression: "clip(a, b)".to_string(),
            coefficients: BTreeMap::new(),
            epochs: 60,
            batch_size: 256,
            lr: 1e-3,
            hidden: 256,
            embedding_dim: 32,
        }
    }

    /// `clip(a, b)` + T-REGS on both modalities.
    pub fn clip_tregs() -> ClipConfig {
        ClipConfig {
            name: "clip_tregs".to_string(),
            expression: "clip(a, b) + γ*(mst_len(a) + mst_len(b)) + λ*(sphere(a) + sphere(b))"
                .to_string(),
            coefficients: [("gamma".to_string(), 0.2), ("lambda".to_string(), 8e-4)]
                .into_iter()
                .collect(),
            ..ClipConfig::clip_only()
        }
    }
}

/// Cross-modal retrieval on a held-out split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retrieval {
    pub a_to_b_r1: f64,
    pub a_to_b_r5: f64,
    pub b_to_a_r1: f64,
    pub b_to_a_r5: f64,
    /// ‖mean â − mean b̂‖ (Liang et al. 2022).
    pub modality_gap: f64,
}

/// What one run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipResults {
    pub config: ClipConfig,
    pub data: String,
    pub seed: u64,
    pub before: Retrieval,
    pub after: Retrieval,
    /// Mean training loss per epoch.
    pub loss_per_epoch: Vec<f64>,
    pub seconds: f64,
}

fn tensor(values: &[f32], n: usize, d: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [n, d]), device)
}

fn to_f64(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("float data")
}

/// R@1 and R@5 of retrieving row i of `to` from row i of `from` by cosine similarity.
fn recall(from: &[f64], to: &[f64], n: usize, d: usize) -> (f64, f64) {
    let unit = |x: &[f64]| -> Vec<f64> {
        x.chunks_exact(d)
            .flat_map(|r| {
                let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                r.iter().map(move |v| v / norm)
            })
            .collect()
    };
    let (f, t) = (unit(from), unit(to));
    let (mut r1, mut r5) = (0usize, 0usize);
    for i in 0..n {
        let fi = &f[i * d..(i + 1) * d];
        let score = |j: usize| {
            fi.iter()
                .zip(&t[j * d..(j + 1) * d])
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        let own = score(i);
        // Rank of the true match: how many candidates score strictly higher (ties count
        // against the match, so a collapsed embedding cannot score well).
        let better = (0..n).filter(|&j| j != i && score(j) >= own).count();
        r1 += usize::from(better < 1);
        r5 += usize::from(better < 5);
    }
    (r1 as f64 / n as f64, r5 as f64 / n as f64)
}

/// Retrieval scores of the towers on `pairs`.
pub fn retrieval(towers: &Towers, pairs: &Pairs) -> Retrieval {
    let device = &towers.a.devices()[0];
    let za = to_f64(
        towers
            .a
            .forward(tensor(&pairs.a, pairs.n, pairs.da, device)),
    );
    let zb = to_f64(
        towers
            .b
            .forward(tensor(&pairs.b, pairs.n, pairs.db, device)),
    );
    let d = za.len() / pairs.n;
    let (a_to_b_r1, a_to_b_r5) = recall(&za, &zb, pairs.n, d);
    let (b_to_a_r1, b_to_a_r5) = recall(&zb, &za, pairs.n, d);
    Retrieval {
        a_to_b_r1,
        a_to_b_r5,
        b_to_a_r1,
        b_to_a_r5,
        modality_gap: tregs::metrics::modality_gap(&za, pairs.n, &zb, pairs.n, d),
    }
}

/// Trains the towers with the configured loss; evaluates before and after on `test`.
pub fn train_clip(
    config: &ClipConfig,
    train: &Pairs,
    test: &Pairs,
    seed: u64,
    device: &Device,
) -> Result<ClipResults, String> {
    let started = std::time::Instant::now();
    let loss = config.check()?;
    if train.n < config.batch_size {
        return Err(format!(
            "{} training pairs, fewer than one batch of {}",
            train.n, config.batch_size
        ));
    }
    device.seed(seed);
    let mut towers = Towers {
        a: Mlp::new(train.da, config.hidden, config.embedding_dim, device),
        b: Mlp::new(train.db, config.hidden, config.embedding_dim, device),
    };
    let before = retrieval(&towers.valid(), test);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..train.n).collect();
    let mut loss_per_epoch = Vec::new();
    for epoch in 0..config.epochs {
        shuffle(
            &mut order,
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut sum = 0.0;
        let batches = train.n / config.batch_size;
        for k in 0..batches {
            let rows = &order[k * config.batch_size..(k + 1) * config.batch_size];
            let batch = train.subset(rows);
            let a = towers
                .a
                .forward(tensor(&batch.a, batch.n, batch.da, device));
            let b = towers
                .b
                .forward(tensor(&batch.b, batch.n, batch.db, device));
            let out = loss
                .evaluate(&[("a", &a), ("b", &b)])
                .map_err(|e| format!("{} epoch {} step {k}: {e}", config.name, epoch + 1))?;
            sum += out.total_value();
            let grads = GradientsParams::from_grads(out.backward(), &towers);
            towers = optim.step(ModuleLearningRate::from(config.lr), towers, grads);
        }
        loss_per_epoch.push(sum / batches as f64);
    }
    let after = retrieval(&towers.valid(), test);
    Ok(ClipResults {
        config: config.clone(),
        data: train.name.clone(),
        seed,
        before,
        after,
        loss_per_epoch,
        seconds: started.elapsed().as_secs_f64(),
    })
}
