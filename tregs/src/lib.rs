//! # tregs
//!
//! Regularized self-supervised losses, written declaratively and run as one fused operation.
//!
//! ```
//! use tregs::burn::tensor::{Device, Tensor, TensorData};
//! use tregs::loss;
//!
//! let device = Device::default().autodiff();
//! let cloud = |shift: f32| {
//!     let data: Vec<f32> = (0..32 * 8).map(|i| ((i * 37 % 29) as f32 / 29.0) + shift).collect();
//!     Tensor::<2>::from_data(TensorData::new(data, [32, 8]), &device).require_grad()
//! };
//! let (z, z2) = (cloud(0.0), cloud(0.1));
//! let (β, γ, λ) = (10.0, 0.2, 8e-4);
//! let out = loss!(β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2)))?;
//! let grads = out.total().backward();
//! assert!(z.grad(&grads).is_some());
//! assert!(out.term("mst_len(z)").unwrap().value < 0.0);
//! # Ok::<(), tregs::LossError>(())
//! ```
//!
//! The data's path: `loss!` tokens (or a string) → [`tregs_macros_core::Plan`] →
//! [`LossPlan`] → [`ops::TregsOps::fused_loss_forward`] (per input: norms and the minimum
//! spanning tree, computed once) → [`ops::TregsOps::fused_loss_backward`] (per input: one pass).
//!
//! Primitives (see [`primitives`]): `mst_len(z)` = L_E, `sphere(z)` = L_S, `mse(a, b)`.
//!
//! Data-parallel training: a term written `mst_len(z, scope = global)` sees the batch of
//! every process (see [`distributed`]).

mod backends;
pub mod backward;
mod config;
mod distance_method;
pub mod distributed;
mod error;
mod evaluate;
pub mod forward;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub mod gpu;
pub mod metrics;
pub mod ops;
mod output;
pub mod plan;
pub mod primitives;
mod read_back;
mod runtime;

pub use burn;
pub use burn::tensor::Tensor;
pub use distance_method::{distance_method_in_use, use_distance_method, DistanceMethod};
pub use error::{ConfigError, LossError};
pub use evaluate::{evaluate, gpu_buffer_limit, has_fused_op, reference_values, tree_edges};
pub use output::{checks_deferred, defer_checks, DeferredChecks, LossOutput, TermValue};
pub use plan::{FusedPlan, FusedTerm, LossPlan, TermPlan};
pub use runtime::RuntimeLoss;
pub use tregs_kernels::Tree;
pub use tregs_macros::loss;
pub use tregs_macros_core::{Primitive, Scope};

/// The exact Euclidean minimum spanning tree of the rows of `z` (read to the host), with
/// edge lengths recomputed in f64.
///
/// # Errors
/// [`LossError::Input`] (input `z`) when a row holds NaN or Inf (naming the row and column),
/// or when the squared distances overflow the dtype, so that they order no tree.
pub fn minimum_spanning_tree(z: &Tensor<2>) -> Result<Tree, LossError> {
    let [n, d] = z.dims();
    let data = read_back::data(z, "z")?;
    let tree = if data.dtype() == burn::tensor::DType::F64 {
        let x: Vec<f64> = data.try_to_vec().expect("f64 data");
        tree_of_finite(&x, n, d)
    } else {
        let x: Vec<f32> = data.convert::<f32>().try_to_vec().expect("float data");
        tree_of_finite(&x, n, d)
    };
    tree.map_err(|problem| LossError::Input {
        input: "z".to_string(),
        problem,
    })
}

/// The tree of the rows of `x` (n × d), or what stops it: the first NaN or Inf ("NaN at
/// row r, column c"), or squared distances that overflow `T`.
pub(crate) fn tree_of_finite<T: tregs_kernels::Real>(
    x: &[T],
    n: usize,
    d: usize,
) -> Result<Tree, String> {
    if let Some(problem) = evaluate::first_non_finite(x, d) {
        return Err(problem);
    }
    tregs_kernels::try_minimum_spanning_tree(x, n, d).ok_or_else(|| {
        format!(
            "its squared distances overflow {} (rows of norm up to {:.3e}): rescale it",
            std::any::type_name::<T>(),
            x.chunks_exact(d.max(1))
                .map(|row| tregs_kernels::sq_norm(row).sqrt())
                .fold(0.0, f64::max)
        )
    })
}

/// The default wgpu device (Vulkan, Metal or DX12; Mesa's lavapipe on machines without a
/// GPU), or an error that says why there is none, instead of a panic at first use.
#[cfg(feature = "wgpu")]
pub fn wgpu_device() -> Result<burn::tensor::Device, LossError> {
    use burn::backend::{CubeDevice, WgpuDeviceKind};
    CubeDevice::wgpu(WgpuDeviceKind::DefaultDevice)
        .map(burn::tensor::Device::new)
        .map_err(|e| {
            LossError::Device(format!(
                "no wgpu adapter: {e}. Install a Vulkan driver (on Debian/Ubuntu without a \
                 GPU: apt-get install mesa-vulkan-drivers) or use the Flex backend"
            ))
        })
}

#[doc(hidden)]
pub mod __private {
    //! What `loss!` expansions call. Not a public API.
    pub use crate::config::{from_json, from_toml, load_config};
    pub use crate::evaluate::evaluate;
    use burn::tensor::Tensor;
    pub use serde;

    /// Reads a named loss's coefficient from a config: TOML and JSON readers accept `nan`
    /// and `inf` (TOML) or overflow to them, which would only fail at the first `forward`.
    pub fn finite_coefficient<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<f64, D::Error> {
        let value = <f64 as serde::Deserialize>::deserialize(deserializer)?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(serde::de::Error::custom(format!(
                "a coefficient must be a finite number, found {value}"
            )))
        }
    }

    /// A value usable as a `loss!` coefficient.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a number: a `loss!` coefficient must be an f64, f32 or integer",
        label = "not a number"
    )]
    pub trait Coefficient {
        fn to_f64(&self) -> f64;
    }

    macro_rules! coefficient {
        ($($t:ty),*) => {$(
            impl Coefficient for $t {
                fn to_f64(&self) -> f64 {
                    *self as f64
                }
            }
        )*};
    }
    coefficient!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

    impl<T: Coefficient + ?Sized> Coefficient for &T {
        fn to_f64(&self) -> f64 {
            (**self).to_f64()
        }
    }

    pub fn coef<C: Coefficient + ?Sized>(value: &C) -> f64 {
        value.to_f64()
    }

    /// A value usable as a `loss!` tensor input.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a 2-D tensor: `loss!` inputs are `Tensor<2>` (n rows, d columns)",
        label = "expected a `Tensor<2>`"
    )]
    pub trait LossInput {
        fn as_tensor(&self) -> &Tensor<2>;
    }

    impl LossInput for Tensor<2> {
        fn as_tensor(&self) -> &Tensor<2> {
            self
        }
    }

    impl<T: LossInput + ?Sized> LossInput for &T {
        fn as_tensor(&self) -> &Tensor<2> {
            (**self).as_tensor()
        }
    }

    pub fn input<T: LossInput + ?Sized>(value: &T) -> &Tensor<2> {
        value.as_tensor()
    }
}
