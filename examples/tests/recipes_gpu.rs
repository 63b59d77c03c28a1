//! The recipes on the GPU path (`--backend wgpu`: cubecl kernels for the T-REGS terms, burn's
//! wgpu backend for the networks), a few steps each. Without a Vulkan adapter these tests
//! fail with the adapter error: they never skip.
#![cfg(feature = "wgpu")]

use std::process::Command;
use tregs_examples::clip::{digit_pairs, train_clip, ClipConfig};
use tregs_examples::pretrain::{pretrain, Backend, DataSource, PretrainArgs};
use tregs_examples::recipe::Recipe;

#[test]
fn pretrain_runs_on_wgpu() {
    let out = std::env::temp_dir().join(format!("tregs-recipes-gpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut config = Recipe::shipped("mse_tregs").unwrap().config;
    config.train.epochs = 2;
    config.train.batch_size = 32;
    config.train.projector_hidden = 32;
    config.train.embedding_dim = 16;
    let args = PretrainArgs {
        recipe: Recipe::check(config, "tiny").unwrap(),
        data: DataSource::Digits(None),
        out: out.clone(),
        seed: 3,
        backend: Backend::Wgpu,
        resume: false,
        limit: Some(96),
        stop_after: None,
    };
    let r = pretrain(&args).expect("pretraining on wgpu");
    assert_eq!(r.epochs.len(), 2);
    for e in &r.epochs {
        assert!(e.total.is_finite() && e.effective_rank >= 1.0, "{e:?}");
        assert!(e.terms.contains_key("mst_len(z)"), "{e:?}");
    }
    assert!(r.pretrained.linear_probe_top1 > 0.2, "{:?}", r.pretrained);
    assert!(out.join("results.json").exists() && out.join("checkpoint/model-2.bpk").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn clip_with_tregs_runs_on_wgpu() {
    let device = Backend::Wgpu.device().expect("a wgpu adapter");
    let (train, test) = digit_pairs().split(0.2, 0);
    let mut config = ClipConfig::clip_tregs();
    config.epochs = 3;
    let r = train_clip(&config, &train, &test, 0, &device).expect("clip on wgpu");
    assert!(
        r.loss_per_epoch.iter().all(|l| l.is_finite()),
        "{:?}",
        r.loss_per_epoch
    );
    assert!(
        r.after.a_to_b_r5 > r.before.a_to_b_r5,
        "{:?} vs {:?}",
        r.after,
        r.before
    );
}

/// `pretrain --distance split-f16` on the GPU path: it trains and says so in results.json.
/// (A process of its own: the distance method is process-wide.)
#[test]
fn pretrain_with_split_f16_distances() {
    let out = std::env::temp_dir().join(format!("tregs-recipes-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pretrain"))
        .args([
            "--backend",
            "wgpu",
            "--distance",
            "split-f16",
            "--epochs",
            "1",
        ])
        .args([
            "--batch-size",
            "32",
            "--limit",
            "64",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["distance"], "split-f16", "{results}");
    assert_eq!(results["backend"], "wgpu", "{results}");
    let total = results["epochs"][0]["total"].as_f64().unwrap();
    assert!(total.is_finite(), "{results}");
    let _ = std::fs::remove_dir_all(&out);
}
