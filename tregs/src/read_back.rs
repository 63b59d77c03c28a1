//! Reading tensors back to the host. A read is where a device's failure surfaces (a kernel
//! that faulted, a lost device, exhausted memory): it becomes a [`LossError::Device`] that
//! names what was being read, not a panic inside burn.

use crate::error::LossError;
use burn::tensor::kind::Basic;
use burn::tensor::{Tensor, TensorData};

/// The tensor's data on the host, as stored (no conversion).
pub(crate) fn data<const D: usize, K: Basic>(
    t: &Tensor<D, K>,
    what: &str,
) -> Result<TensorData, LossError> {
    t.try_to_data().map_err(|err| {
        LossError::Device(format!(
            "reading {what} back from {:?} failed: {err}",
            t.device()
        ))
    })
}

/// The values of a float or integer tensor on the host, converted to `E` (`f64`, `f32`,
/// `i64`).
pub(crate) fn values<const D: usize, K: Basic, E: burn::tensor::Element>(
    t: &Tensor<D, K>,
    what: &str,
) -> Result<Vec<E>, LossError> {
    Ok(data(t, what)?
        .convert::<E>()
        .try_to_vec::<E>()
        .expect("a converted TensorData holds its target element type"))
}
