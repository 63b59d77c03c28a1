//! The source cubecl generates for every kernel, WGSL and CUDA C++, produced offline (no
//! GPU, no adapter) and snapshot-tested: a change to a kernel is a readable diff in review.
//! Every kernel is also compiled to SPIR-V (the `vulkan` feature's path, which lavapipe
//! cannot run), so that a kernel cubecl cannot lower there fails here, not on a GPU.
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

/// The kernel compiled by cubecl's SPIR-V compiler (the `vulkan` feature's): the words of
/// the module. Not snapshot (a binary); checked to compile and to be a SPIR-V module, since
/// lavapipe cannot run it (see README) and a kernel that cannot be lowered would otherwise
/// show only on a GPU.
fn spirv(kernel: Box<dyn CubeKernel>) -> Vec<u32> {
    // As cubecl's Vulkan backend sets them for a Vulkan 1.3 device (NVIDIA's: SPIR-V 1.6,
    // 64-bit integers, 4-wide vectors, 256 bytes of push constants).
    let mut options = WgpuCompilationOptions {
        supports_vulkan_compiler: true,
        supports_u64: true,
        ..Default::default()
    };
    options.vulkan.max_spirv_version = (1, 6);
    options.vulkan.max_vector_size = 4;
    options.vulkan.push_constant_size = 256;
    cubecl_spirv::SpirvCompiler
        .compile(kernel.define(), &options)
        .expect("the kernel compiles to SPIR-V")
        .assembled_module
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
    assert_eq!(wgsl_sources.len(), 22, "every kernel is snapshot");
    for (name, source) in &wgsl_sources {
        assert!(source.contains("@compute"), "{name} is a compute shader");
        snapshot(&format!("wgsl_{name}"), source);
    }
    for (name, source) in &cuda_sources {
        assert!(source.contains("__global__"), "{name} is a CUDA kernel");
        snapshot(&format!("cuda_{name}"), source);
    }
}

/// Every fixed kernel, and the fused gradient kernels of the objective, compile to SPIR-V
/// modules (magic number first).
#[test]
fn every_kernel_compiles_to_spirv() {
    const SPIRV_MAGIC: u32 = 0x0723_0203;
    let mut compiled: Vec<(String, Vec<u32>)> = kernels()
        .into_iter()
        .map(|(name, k)| {
            // Names the kernel whose lowering panics (the output shows on failure only).
            eprintln!("compiling {name} to SPIR-V");
            (name.to_string(), spirv(k))
        })
        .collect();
    let objective =
        "10*mse(z, z2) + 0.2*(mst_len(z) + mst_len(z2)) + 8e-4*(sphere(z) + sphere(z2))";
    let loss = RuntimeLoss::parse(objective, &Default::default()).expect("valid expression");
    for (input, plan) in loss.plan().inputs.iter().zip(loss.plan().gradient_plans()) {
        compiled.push((
            format!("fused_gradient_{input}"),
            spirv(fused_gradient_kernel(&plan)),
        ));
    }
    assert_eq!(compiled.len(), 22 + 2);
    for (name, words) in &compiled {
        assert_eq!(
            words.first(),
            Some(&SPIRV_MAGIC),
            "{name} is a SPIR-V module"
        );
        assert!(words.len() > 5, "{name} has more than a header");
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
