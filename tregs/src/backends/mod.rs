//! Implementations of [`crate::ops::TregsOps`]: native on Flex, cubecl kernels on the
//! CubeBackend (feature `wgpu` or `cuda`), a hand-written backward for Autodiff. Other
//! backends take the tensor-op fallback in [`crate::evaluate`].

mod autodiff;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub(crate) mod cubecl;
mod flex;
