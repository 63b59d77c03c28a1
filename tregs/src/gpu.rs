//! How the GPU path computes its distance matrices, the step that dominates it for wide
//! embeddings (n²·d multiply-adds per view).
//!
//! - [`DistanceMethod::F32`] (the default): tregs's tiled f32 Gram kernel, one triangle of
//!   the matrix, on the GPU's f32 units.
//! - [`DistanceMethod::SplitF16`]: each shifted row split into two f16 pieces
//!   (`hi + lo`, scaled per row), the Gram matrix from one f16 × f16 → f32 product of
//!   `[hi | 2lo]` (n × 2d) by `[hi | hi]ᵀ` (burn's matmul: tensor cores where the device
//!   reports them, e.g. NVIDIA through Vulkan's cooperative matrices; a plain kernel
//!   elsewhere), then finished into distances in place, each entry summed with its mirror
//!   ([`tregs_kernels::gpu::split_gram`]). Twice the multiply-adds of the full product
//!   (four times the f32 kernel's triangle), at tensor-core rates; accuracy close to f32
//!   (only the `lo·lo` term, under 2⁻²² of each product, is dropped). It needs f16
//!   support on the device; its inputs take 8·n·d bytes more.
//!
//! The choice is process-wide: [`set_distance_method`] (or [`crate::use_distance_method`],
//! which also takes CPU devices).

use crate::evaluate::execution_device;
use crate::LossError;
use burn::backend::DispatchDevice;
use burn::tensor::{DType, Device};
use burn_cubecl::cubecl::ir::{ElemType, FloatKind};
use burn_cubecl::kernel::matmul::{matmul, MatmulStrategy};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeDevice;
use std::sync::atomic::{AtomicU8, Ordering};
use tregs_kernels::gpu::{self, DeviceBuffer, InputLayout, SplitOperands};

pub use crate::DistanceMethod;

static METHOD: AtomicU8 = AtomicU8::new(0);

/// The method every GPU evaluation of this process uses from now on. An error when `device`
/// is not a GPU device (for either method), or, for `SplitF16`, has no f16 arithmetic.
/// ([`crate::use_distance_method`] takes `F32` on any device.)
pub fn set_distance_method(method: DistanceMethod, device: &Device) -> Result<(), LossError> {
    let device = cube_device(device)?;
    if method == DistanceMethod::SplitF16 && !supports_f16(device) {
        return Err(LossError::Device(
            "the split-f16 distances need f16 arithmetic, which this device does not offer \
             (wgpu: the SHADER_F16 feature); keep the f32 method"
                .into(),
        ));
    }
    METHOD.store(method as u8, Ordering::Relaxed);
    Ok(())
}

/// The method GPU evaluations use now.
pub fn distance_method() -> DistanceMethod {
    match METHOD.load(Ordering::Relaxed) {
        0 => DistanceMethod::F32,
        _ => DistanceMethod::SplitF16,
    }
}

/// The cubecl device under `device`'s autodiff layers, or an error for a CPU device.
fn cube_device(device: &Device) -> Result<&CubeDevice, LossError> {
    match execution_device(device) {
        DispatchDevice::Cube(cube) => Ok(cube),
        #[allow(unreachable_patterns)]
        _ => Err(LossError::Device(format!(
            "{device:?} is not a GPU device: the distance method applies to the GPU path"
        ))),
    }
}

fn supports_f16(device: &CubeDevice) -> bool {
    use burn_cubecl::cubecl::features::TypeUsage;
    device
        .client()
        .properties()
        .features
        .type_usage(ElemType::Float(FloatKind::F16))
        .is_superset(TypeUsage::Buffer | TypeUsage::Conversion | TypeUsage::Arithmetic)
}

/// Whether `device` reports f16 × f16 → f32 matrix instructions (tensor cores), which the
/// split-f16 product uses when it can (benchmarks print it beside their timings); false
/// for CPU devices.
pub fn has_f16_tensor_cores(device: &Device) -> bool {
    let Ok(device) = cube_device(device) else {
        return false;
    };
    let f16 = ElemType::Float(FloatKind::F16);
    let f32 = ElemType::Float(FloatKind::F32);
    device
        .client()
        .properties()
        .features
        .matmul
        .cmma
        .iter()
        .any(|mma| mma.a_type == f16 && mma.b_type == f16 && mma.cd_type == f32)
}

/// Whether burn's matmul autotune is built in (feature `autotune`): then the split-f16
/// product's kernel is the fastest of burn's candidates on the device, timed at its first
/// use per shape; otherwise cubek's default routine.
pub const MATMUL_AUTOTUNE: bool = cfg!(feature = "autotune");

/// One input of a group of distance matrices: where it lies, and its shift μ and shifted
/// squared norms (from [`gpu::column_shifts`] and [`gpu::row_sums`]).
pub struct DistanceInput<'a> {
    pub x: &'a DeviceBuffer,
    pub input: InputLayout,
    pub shift: DeviceBuffer,
    pub shifted_sq: DeviceBuffer,
}

/// The squared distance matrices of `inputs` (all of n rows), matrix t at element `t·n²`
/// of `dist`, by `method`.
pub fn sq_distance_matrices(
    device: &CubeDevice,
    inputs: &[DistanceInput],
    dist: &DeviceBuffer,
    method: DistanceMethod,
) {
    let client = device.client();
    let Some(first) = inputs.first() else {
        return;
    };
    let n = first.input.n;
    assert!(
        inputs.iter().all(|i| i.input.n == n) && dist.len >= inputs.len() * n * n,
        "one n × n matrix per input, in the distance buffer"
    );
    match method {
        DistanceMethod::F32 => {
            for (t, i) in inputs.iter().enumerate() {
                gpu::sq_distance_matrix(
                    &client,
                    i.x,
                    i.input,
                    &i.shift,
                    &i.shifted_sq,
                    dist,
                    t * n * n,
                );
            }
        }
        DistanceMethod::SplitF16 => {
            let width = inputs.iter().map(|i| i.input.d).max().unwrap_or(0);
            let operands = SplitOperands::new(&client, inputs.len(), n, width);
            for (t, i) in inputs.iter().enumerate() {
                gpu::split_rows(&client, i.x, i.input, &i.shift, &operands, t);
            }
            split_product(device, &operands, dist);
            gpu::finish_split_gram(&client, &operands, dist);
        }
    }
    // Either method, as the CPU: the pairs the Gram trick cannot order, from the rows.
    for (t, i) in inputs.iter().enumerate() {
        gpu::exact_close_pairs(&client, i.x, i.input, &i.shifted_sq, dist, t * n * n);
    }
}

/// `a · bᵀ` per tree, f16 × f16 accumulated in f32, into the first `trees·n²` elements of
/// `dist`: one batched product through burn's matmul (autotuned with [`MATMUL_AUTOTUNE`]).
fn split_product(device: &CubeDevice, operands: &SplitOperands, dist: &DeviceBuffer) {
    let client = device.client();
    let pieces = tregs_kernels::gpu::split_gram::SPLIT_PIECES as usize;
    let (trees, n, k) = (operands.trees, operands.n, pieces * operands.width);
    let tensor = |buffer: &DeviceBuffer, shape: [usize; 3], dtype| {
        CubeTensor::new_contiguous(
            client.clone(),
            device.clone(),
            shape.into(),
            buffer.handle.clone(),
            dtype,
        )
    };
    let lhs = tensor(&operands.a, [trees, n, k], DType::F16);
    let rhs = burn_cubecl::ops::permute(tensor(&operands.b, [trees, n, k], DType::F16), &[0, 2, 1]);
    let out = tensor(dist, [trees, n, n], DType::F32);
    if let Err(e) = matmul(lhs, rhs, Some(out), MatmulStrategy::default(), DType::F32) {
        panic!("tregs: the split-f16 distance product (f16 {trees}×{n}×{k} by its transpose) could not launch: {e:?}");
    }
}
