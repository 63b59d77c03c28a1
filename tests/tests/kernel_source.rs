//! The source cubecl generates for every kernel, WGSL and CUDA C++, produced offline (no
//! GPU, no adapter) and snapshot-tested: a change to a kernel is a readable diff in review.
//!
//! Entry points carry an 8-hex-digit hash that changes with the crate's metadata (even a
//! version bump), so it is masked.

use cubecl::wgpu::WgslCompiler;
use cubecl::{Compiler, CubeKernel, WgpuCompilationOptions};
use cubecl_cpp::shared::{CompilationOptions, CppCompiler};
use cubecl_cpp::target::Cuda;
use tregs::RuntimeLoss;
use tregs_kernels::gpu::source::{fused_gradient_kernel, kernels};

fn wgsl(kernel: Box<dyn CubeKernel>) -> String {
    WgslCompiler
        .compile(kernel.define(), &WgpuCompilationOptions::default())
        .expect("the kernel compiles to WGSL")
        .to_string()
}

fn cuda(kernel: Box<dyn CubeKernel>) -> String {
    CppCompiler::<Cuda>::default()
        .compile(kernel.define(), &CompilationOptions::default())
        .expect("the kernel compiles to CUDA C++")
        .source
}

fn snapshot(name: &str, source: &str) {
    insta::with_settings!({
        filters => vec![(r"_[0-9a-f]{8}\b", "_<hash>")],
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, source);
    });
}

#[test]
fn fixed_kernels_wgsl_and_cuda() {
    let wgsl_sources: Vec<(&str, String)> = kernels()
        .into_iter()
        .map(|(name, k)| (name, wgsl(k)))
        .collect();
    let cuda_sources: Vec<(&str, String)> = kernels()
        .into_iter()
        .map(|(name, k)| (name, cuda(k)))
        .collect();
    assert_eq!(wgsl_sources.len(), 20, "every kernel is snapshot");
    for (name, source) in &wgsl_sources {
        assert!(source.contains("@compute"), "{name} is a compute shader");
        snapshot(&format!("wgsl_{name}"), source);
    }
    for (name, source) in &cuda_sources {
        assert!(source.contains("__global__"), "{name} is a CUDA kernel");
        snapshot(&format!("cuda_{name}"), source);
    }
}

/// The fused gradient kernel of three expressions, per input: the terms an input takes
/// part in are compiled in, so each expression has its own kernel.
#[test]
fn fused_gradient_kernels_of_three_expressions() {
    let mut kernels_of_z = Vec::new();
    let expressions = [
        (
            "tregs_mse",
            "10*mse(z, z2) + 0.2*(mst_len(z) + mst_len(z2)) + 8e-4*(sphere(z) + sphere(z2))",
        ),
        ("point_cloud", "0.01*mst_len(z) + sphere(z)"),
        ("mse_only", "mse(z, z2)"),
    ];
    for (label, expression) in expressions {
        let loss = RuntimeLoss::parse(expression, &Default::default()).expect("valid expression");
        let plans = loss.plan().gradient_plans();
        for (input, plan) in loss.plan().inputs.iter().zip(plans) {
            let wgsl_source = wgsl(fused_gradient_kernel(&plan));
            let cuda_source = cuda(fused_gradient_kernel(&plan));
            if input == "z" {
                kernels_of_z.push(wgsl_source.clone());
            }
            snapshot(
                &format!("wgsl_fused_gradient_{label}_{input}"),
                &wgsl_source,
            );
            snapshot(
                &format!("cuda_fused_gradient_{label}_{input}"),
                &cuda_source,
            );
        }
    }
    assert_eq!(kernels_of_z.len(), 3);
    assert_ne!(kernels_of_z[0], kernels_of_z[1]);
    assert_ne!(kernels_of_z[0], kernels_of_z[2]);
    assert_ne!(kernels_of_z[1], kernels_of_z[2]);
}
