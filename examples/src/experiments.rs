//! The two point-cloud experiments: run, measure, check, plot. Used by the `point_cloud`
//! binary and by the integration tests.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::metrics::{self, Summary};
use crate::plot::{self, Histogram, Marker, Series, Style};
use crate::point_cloud::{optimize, CloudConfig, CloudRun, LogEntry};
use crate::rng::SplitMix64;

/// Log the loss every this many steps in the reports.
const LOG_EVERY: usize = 250;

/// One pass/fail criterion with the measured value.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub criterion: String,
    pub value: f64,
    pub pass: bool,
}

impl Check {
    fn new(criterion: impl Into<String>, value: f64, pass: bool) -> Self {
        Self {
            criterion: criterion.into(),
            value,
            pass,
        }
    }
}

/// Experiment 1 (n ≤ d + 1): how close the final cloud is to a regular simplex.
#[derive(Debug, Clone, Serialize)]
pub struct SimplexReport {
    pub config: CloudConfig,
    pub seconds: f64,
    /// −1/(n − 1): the pairwise cosine of a regular simplex with n vertices.
    pub target_mean_cosine: f64,
    /// Pairwise cosines of the initial cloud.
    pub initial_cosine: Summary,
    /// Pairwise cosines of the final cloud.
    pub cosine: Summary,
    /// Norms of the final points.
    pub norms: Summary,
    /// max norm / min norm − 1.
    pub norm_spread: f64,
    pub checks: Vec<Check>,
    pub png: Option<String>,
    pub log: Vec<LogEntry>,
}

/// Experiment 2 (n > d + 1): how uniformly the final cloud covers the sphere.
#[derive(Debug, Clone, Serialize)]
pub struct SphereReport {
    pub config: CloudConfig,
    pub seconds: f64,
    /// Wang–Isola uniformity (t = 2) of the normalized final cloud.
    pub uniformity: f64,
    /// The same for the normalized initial cloud (Gaussian, so its directions are uniform).
    pub uniformity_initial: f64,
    /// The same for an independent uniform sample of n points on the sphere.
    pub uniformity_uniform_sample: f64,
    /// The infinite-sample value for the uniform distribution (closed form for d = 2, 3).
    pub uniformity_uniform_limit: Option<f64>,
    /// |uniformity − uniformity_uniform_sample|.
    pub uniformity_gap: f64,
    /// Tolerance on the gap.
    pub tolerance: f64,
    /// Pairwise cosines of the final cloud.
    pub cosine: Summary,
    /// Norms of the final points.
    pub norms: Summary,
    pub checks: Vec<Check>,
    pub png: Option<String>,
    pub log: Vec<LogEntry>,
}

/// Either experiment's report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Report {
    Simplex(SimplexReport),
    Sphere(SphereReport),
}

impl Report {
    pub fn name(&self) -> &'static str {
        match self {
            Report::Simplex(_) => "simplex",
            Report::Sphere(_) => "sphere",
        }
    }

    pub fn checks(&self) -> &[Check] {
        match self {
            Report::Simplex(r) => &r.checks,
            Report::Sphere(r) => &r.checks,
        }
    }

    pub fn passed(&self) -> bool {
        self.checks().iter().all(|c| c.pass)
    }
}

/// `{"simplex": {...}, "sphere": {...}}` for the experiments that ran.
pub fn results_json(reports: &[Report]) -> serde_json::Value {
    let map = reports
        .iter()
        .map(|r| {
            (
                r.name().to_string(),
                serde_json::to_value(r).expect("serializable"),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

fn timed(config: &CloudConfig) -> Result<(CloudRun, f64), tregs::LossError> {
    let start = Instant::now();
    let run = optimize(config, LOG_EVERY)?;
    Ok((run, start.elapsed().as_secs_f64()))
}

/// Tolerances of the simplex criteria.
pub const SIMPLEX_MEAN_TOL: f64 = 0.005;
pub const SIMPLEX_STD_MAX: f64 = 0.01;
pub const SIMPLEX_NORM_SPREAD_MAX: f64 = 0.01;

/// The simplex criteria of a final cloud of `n` points in `R^d`.
pub fn simplex_checks(cosine: &Summary, norms: &Summary, n: usize) -> Vec<Check> {
    let target = -1.0 / (n as f64 - 1.0);
    let spread = norms.max / norms.min - 1.0;
    vec![
        Check::new(
            format!("|mean cosine - (-1/(n-1))| < {SIMPLEX_MEAN_TOL} (target {target:.5})"),
            (cosine.mean - target).abs(),
            (cosine.mean - target).abs() < SIMPLEX_MEAN_TOL,
        ),
        Check::new(
            format!("std of pairwise cosines < {SIMPLEX_STD_MAX}"),
            cosine.std,
            cosine.std < SIMPLEX_STD_MAX,
        ),
        Check::new(
            format!("max norm / min norm - 1 < {SIMPLEX_NORM_SPREAD_MAX}"),
            spread,
            spread < SIMPLEX_NORM_SPREAD_MAX,
        ),
    ]
}

/// Runs experiment 1 and, if `out` is given, writes `simplex_cosines.png` there.
pub fn simplex(
    config: &CloudConfig,
    out: Option<&Path>,
) -> Result<Report, Box<dyn std::error::Error>> {
    let (run, seconds) = timed(config)?;
    let (n, d) = (config.n, config.d);
    let target = -1.0 / (n as f64 - 1.0);
    let cosines = metrics::pairwise_cosines(&run.points, d);
    let cosine = Summary::of(&cosines);
    let norms = Summary::of(&metrics::row_norms(&run.points, d));
    let checks = simplex_checks(&cosine, &norms, n);

    let png = match out {
        Some(dir) => {
            // Zoom on the target: ±0.005, or wider to show every pair.
            let half = (1.1 * (cosine.min - target).abs().max((cosine.max - target).abs()))
                .clamp(0.005, 1.0);
            let path = dir.join("simplex_cosines.png");
            Histogram {
                title: format!("PAIRWISE COSINES, N={n} D={d}, {} STEPS", config.steps),
                x_label: "COSINE SIMILARITY".into(),
                lo: target - half,
                hi: target + half,
                bins: 100,
                series: vec![Series {
                    label: "FINAL CLOUD".into(),
                    values: &cosines,
                    color: plot::BLUE,
                    style: Style::Bars,
                }],
                markers: vec![Marker {
                    label: format!("-1/(N-1) = {target:.4}"),
                    x: target,
                    color: plot::RED,
                }],
                reference_density: None,
            }
            .save_png(&path)?;
            Some(path.display().to_string())
        }
        None => None,
    };

    Ok(Report::Simplex(SimplexReport {
        config: config.clone(),
        seconds,
        target_mean_cosine: target,
        initial_cosine: Summary::of(&metrics::pairwise_cosines(&run.initial, d)),
        cosine,
        norms,
        norm_spread: norms.max / norms.min - 1.0,
        checks,
        png,
        log: run.log,
    }))
}

/// Tolerance on |U(final) − U(uniform sample)|, for n = 512 on S².
///
/// Two effects separate the two even when the cloud is as uniform as it gets:
/// * the sample's own noise: U's pair mean is a degenerate U-statistic on the sphere (the mean
///   kernel value seen from any point is the same), so its standard deviation is only
///   ≈ √(2·Var k / n²) / E k ≈ 0.005 (200 samples with numpy: sd 0.0050, range
///   −2.089…−2.055 around the limit −2.0798);
/// * a well-spread finite cloud sits *below* the uniform limit: mean_{i<j} k ≥ (n·E k − 1)/(n − 1)
///   gives U ≥ −2.0935, 0.014 below, and the optimized clouds measure −2.085…−2.092
///   (seeds 0–9; their gaps to the seed's sample 0.004…0.020).
///
/// 0.05 covers 0.014 plus six of the sample's standard deviations, for any seed; a cloud that
/// has not spread (the blob at init: U ≈ −0.5; no tree term: −0.59; a constant rate of 0.01:
/// −1.93) is off by 0.15 or more.
pub const SPHERE_UNIFORMITY_TOL: f64 = 0.05;

/// Runs experiment 2 and, if `out` is given, writes `sphere_cosines.png` there.
pub fn sphere(
    config: &CloudConfig,
    out: Option<&Path>,
) -> Result<Report, Box<dyn std::error::Error>> {
    let (run, seconds) = timed(config)?;
    let (n, d) = (config.n, config.d);
    // The reference sample's seed differs from the initial cloud's.
    let sample = SplitMix64::new(config.seed ^ 0x5EED_5A3B_1E00_0001).uniform_on_sphere(n, d);
    let uniformity = metrics::uniformity(&run.points, d);
    let uniformity_sample = metrics::uniformity(&sample, d);
    let gap = (uniformity - uniformity_sample).abs();
    let cosines = metrics::pairwise_cosines(&run.points, d);
    let sample_cosines = metrics::pairwise_cosines(&sample, d);
    let norms = Summary::of(&metrics::row_norms(&run.points, d));
    let checks = vec![Check::new(
        format!("|U(final) - U(uniform sample)| < {SPHERE_UNIFORMITY_TOL}"),
        gap,
        gap < SPHERE_UNIFORMITY_TOL,
    )];

    let png = match out {
        Some(dir) => {
            let path = dir.join("sphere_cosines.png");
            Histogram {
                title: format!("PAIRWISE COSINES, N={n} D={d}, {} STEPS", config.steps),
                x_label: "COSINE SIMILARITY".into(),
                lo: -1.0,
                hi: 1.0,
                bins: 50,
                series: vec![
                    Series {
                        label: "FINAL CLOUD".into(),
                        values: &cosines,
                        color: plot::BLUE,
                        style: Style::Bars,
                    },
                    Series {
                        label: "UNIFORM SAMPLE".into(),
                        values: &sample_cosines,
                        color: plot::ORANGE,
                        style: Style::Outline,
                    },
                ],
                markers: vec![],
                // On S², the cosine of two independent uniform points is uniform on [−1, 1].
                reference_density: (d == 3)
                    .then(|| ("UNIFORM ON S2: 1/2".to_string(), 0.5, plot::RED)),
            }
            .save_png(&path)?;
            Some(path.display().to_string())
        }
        None => None,
    };

    Ok(Report::Sphere(SphereReport {
        config: config.clone(),
        seconds,
        uniformity,
        uniformity_initial: metrics::uniformity(&run.initial, d),
        uniformity_uniform_sample: uniformity_sample,
        uniformity_uniform_limit: metrics::uniformity_of_uniform_sphere(d),
        uniformity_gap: gap,
        tolerance: SPHERE_UNIFORMITY_TOL,
        cosine: Summary::of(&cosines),
        norms,
        checks,
        png,
        log: run.log,
    }))
}
