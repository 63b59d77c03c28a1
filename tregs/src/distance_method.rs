//! How the GPU path computes its distance matrices, chosen by name (`--distance` of every
//! command-line tool) and checked against the device in one place.
//!
//! The CPU path always works in f32/f64 from the symmetric Gram matrix; the choice only
//! changes the GPU path ([`crate::gpu`] documents both methods and their accuracy).

#[cfg(any(feature = "wgpu", feature = "cuda"))]
use crate::evaluate::on_gpu;
use crate::LossError;
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// How the GPU path computes squared distances.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum DistanceMethod {
    /// tregs's f32 Gram kernel (one triangle).
    #[default]
    #[value(name = "f32")]
    #[serde(rename = "f32")]
    F32,
    /// Two f16 pieces per entry, one f16 × f16 → f32 matrix product (tensor cores where
    /// the device has them).
    #[value(name = "split-f16")]
    #[serde(rename = "split-f16")]
    SplitF16,
}

impl DistanceMethod {
    /// The method's name, as `--distance` takes it.
    pub fn name(self) -> &'static str {
        match self {
            DistanceMethod::F32 => "f32",
            DistanceMethod::SplitF16 => "split-f16",
        }
    }
}

impl fmt::Display for DistanceMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DistanceMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<DistanceMethod, String> {
        match s {
            "f32" => Ok(DistanceMethod::F32),
            "split-f16" => Ok(DistanceMethod::SplitF16),
            other => Err(format!(
                "unknown distance method `{other}`: expected `f32` or `split-f16`"
            )),
        }
    }
}

/// Makes `method` the one every GPU evaluation of this process uses from now on, checked
/// against `device` (the device the evaluations will run on): `SplitF16` on a CPU device,
/// or on a GPU without f16 arithmetic, is an error; `F32` on a CPU device changes nothing.
pub fn use_distance_method(method: DistanceMethod, device: &Device) -> Result<(), LossError> {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if on_gpu(device) {
        return crate::gpu::set_distance_method(method, device);
    }
    let _ = device;
    match method {
        DistanceMethod::F32 => Ok(()),
        DistanceMethod::SplitF16 => Err(LossError::Device(
            "split-f16 distances run on the GPU path only, and this is a CPU device: use a GPU \
             backend (wgpu)"
                .into(),
        )),
    }
}

/// The method evaluations on `device` use now: the chosen one on a GPU, `F32` on a CPU.
pub fn distance_method_in_use(device: &Device) -> DistanceMethod {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if on_gpu(device) {
        return crate::gpu::distance_method();
    }
    let _ = device;
    DistanceMethod::F32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_every_spelling() {
        for method in [DistanceMethod::F32, DistanceMethod::SplitF16] {
            assert_eq!(method.name().parse::<DistanceMethod>(), Ok(method));
            assert_eq!(
                <DistanceMethod as clap::ValueEnum>::from_str(method.name(), false),
                Ok(method)
            );
            let json = serde_json::to_string(&method).unwrap();
            assert_eq!(json, format!("\"{method}\""));
            assert_eq!(
                serde_json::from_str::<DistanceMethod>(&json).unwrap(),
                method
            );
        }
        assert_eq!(
            "fp8".parse::<DistanceMethod>(),
            Err("unknown distance method `fp8`: expected `f32` or `split-f16`".to_string())
        );
    }

    #[test]
    fn split_f16_is_refused_on_the_cpu() {
        let device = Device::flex().autodiff();
        assert!(use_distance_method(DistanceMethod::F32, &device).is_ok());
        let err = use_distance_method(DistanceMethod::SplitF16, &device).unwrap_err();
        assert!(
            err.to_string()
                .contains("split-f16 distances run on the GPU path only"),
            "{err}"
        );
        assert_eq!(distance_method_in_use(&device), DistanceMethod::F32);
    }
}
