//! The point-cloud recipe end to end, through the library (the binary runs the same code):
//! T-REGS alone, `γ·mst_len(z) + λ·sphere(z)`, optimized with Adam on Flex.
//!
//! Each run takes a few seconds in a debug build (the cloud is small; tregs and burn are built
//! optimized even in dev), so the tests use the recipe's full settings and criteria.

use tregs_examples::experiments::{self, simplex_checks, SPHERE_UNIFORMITY_TOL};
use tregs_examples::metrics::{self, Summary};
use tregs_examples::point_cloud::{optimize, CloudConfig};
use tregs_examples::rng::SplitMix64;

struct Simplex {
    cosine: Summary,
    norms: Summary,
}

fn run_simplex(config: &CloudConfig) -> Simplex {
    let run = optimize(config, usize::MAX).expect("valid loss");
    Simplex {
        cosine: Summary::of(&metrics::pairwise_cosines(&run.points, config.d)),
        norms: Summary::of(&metrics::row_norms(&run.points, config.d)),
    }
}

fn failed_criteria(s: &Simplex, n: usize) -> Vec<String> {
    simplex_checks(&s.cosine, &s.norms, n)
        .into_iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{} (measured {:.5})", c.criterion, c.value))
        .collect()
}

#[test]
fn n_le_d_plus_1_reaches_a_regular_simplex() {
    let config = CloudConfig::simplex();
    assert!(config.n <= config.d + 1);
    let s = run_simplex(&config);
    let target = -1.0 / (config.n as f64 - 1.0);
    // The three criteria, spelled out.
    assert!(
        (s.cosine.mean - target).abs() < 0.005,
        "mean cosine {} vs {target}",
        s.cosine.mean
    );
    assert!(s.cosine.std < 0.01, "cosine std {}", s.cosine.std);
    assert!(
        s.norms.max / s.norms.min - 1.0 < 0.01,
        "norms {}..{}",
        s.norms.min,
        s.norms.max
    );
    // And the library's own checks agree.
    assert_eq!(failed_criteria(&s, config.n), Vec::<String>::new());
}

/// Negative control: without the sphere term nothing holds the scale; the tree term pushes
/// the points outward without bound and the simplex criteria fail.
#[test]
fn without_the_sphere_term_the_simplex_criteria_fail() {
    let config = CloudConfig {
        lambda: 0.0,
        ..CloudConfig::simplex()
    };
    let s = run_simplex(&config);
    assert!(
        s.norms.min > 10.0,
        "points should fly out: min norm {}",
        s.norms.min
    );
    let failed = failed_criteria(&s, config.n);
    assert!(
        !failed.is_empty(),
        "expected a failure, got cosine {:?}, norms {:?}",
        s.cosine,
        s.norms
    );
}

/// Negative control: a constant learning rate leaves the points jittering around the simplex.
#[test]
fn without_the_decaying_schedule_the_simplex_criteria_fail() {
    let base = CloudConfig::simplex();
    let config = CloudConfig {
        lr_min: base.lr,
        ..base
    };
    let s = run_simplex(&config);
    assert!(
        s.cosine.std >= 0.01,
        "constant lr {} should not settle: cosine std {}",
        config.lr,
        s.cosine.std
    );
}

struct Sphere {
    uniformity: f64,
    initial: f64,
    sample: f64,
}

fn run_sphere(config: &CloudConfig) -> Sphere {
    let run = optimize(config, usize::MAX).expect("valid loss");
    let sample = SplitMix64::new(1234).uniform_on_sphere(config.n, config.d);
    Sphere {
        uniformity: metrics::uniformity(&run.points, config.d),
        initial: metrics::uniformity(&run.initial, config.d),
        sample: metrics::uniformity(&sample, config.d),
    }
}

#[test]
fn n_gt_d_plus_1_spreads_uniformly_over_the_sphere() {
    let config = CloudConfig::sphere();
    assert!(config.n > config.d + 1);
    let s = run_sphere(&config);
    // The blob starts far from uniform ...
    assert!(
        s.initial > s.sample + 1.0,
        "initial U {} vs sample {}",
        s.initial,
        s.sample
    );
    // ... and ends as uniform as a uniform sample (see SPHERE_UNIFORMITY_TOL for the margin).
    assert!(
        (s.uniformity - s.sample).abs() < SPHERE_UNIFORMITY_TOL,
        "U {} vs uniform sample {}",
        s.uniformity,
        s.sample
    );
    let limit = metrics::uniformity_of_uniform_sphere(3).unwrap();
    assert!((s.uniformity - limit).abs() < SPHERE_UNIFORMITY_TOL);
}

/// Negative control: with the sphere term alone the blob is only projected onto the sphere;
/// it does not spread.
#[test]
fn without_the_tree_term_the_cloud_does_not_spread() {
    let config = CloudConfig {
        gamma: 0.0,
        ..CloudConfig::sphere()
    };
    let s = run_sphere(&config);
    assert!(
        (s.uniformity - s.sample).abs() > SPHERE_UNIFORMITY_TOL,
        "U {} vs uniform sample {}",
        s.uniformity,
        s.sample
    );
}

/// The binary's path: reports, JSON and PNGs (few steps; only the artifacts are checked).
#[test]
fn experiments_write_json_ready_reports_and_pngs() {
    let dir = std::env::temp_dir().join(format!("tregs-point-cloud-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let simplex = experiments::simplex(
        &CloudConfig {
            steps: 20,
            ..CloudConfig::simplex()
        },
        Some(&dir),
    )
    .unwrap();
    let sphere = experiments::sphere(
        &CloudConfig {
            steps: 20,
            ..CloudConfig::sphere()
        },
        Some(&dir),
    )
    .unwrap();
    let json = experiments::results_json(&[simplex, sphere]);
    assert_eq!(json["simplex"]["config"]["n"], 64);
    assert_eq!(json["simplex"]["checks"].as_array().unwrap().len(), 3);
    assert!(json["sphere"]["uniformity"].as_f64().unwrap().is_finite());
    for name in ["simplex_cosines.png", "sphere_cosines.png"] {
        let path = dir.join(name);
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let info = decoder.read_info().unwrap();
        let (w, h) = info.info().size();
        assert!(w >= 400 && h >= 300, "{name}: {w}x{h}");
        assert_eq!(
            json[name.split('_').next().unwrap()]["png"],
            path.display().to_string()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
