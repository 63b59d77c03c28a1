//! The networks of the pretraining recipes: an encoder (a small CNN for 8×8 digits, a
//! CIFAR-style ResNet-18 for 32×32 images), a projector MLP and BYOL's predictor MLP.
//!
//! None of them uses batch statistics (no BatchNorm): the ResNet normalizes with GroupNorm,
//! the small CNN needs no normalization. A batch's loss then depends on its rows only, which
//! keeps evaluation in `valid()` mode identical to training mode and lets a batch be split
//! across processes without synchronizing statistics.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::norm::{GroupNorm, GroupNormConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which encoder a recipe trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderKind {
    /// Two 3×3 convolutions and a linear layer: 8×8 single-channel digits.
    SmallCnn,
    /// ResNet-18 in its CIFAR form (3×3 stem, no max-pool), GroupNorm instead of BatchNorm.
    Resnet18,
}

/// The encoder: images `[batch, channels, height, width]` → features `[batch, feature_dim]`.
#[derive(Module, Debug)]
pub enum Encoder {
    SmallCnn(SmallCnn),
    Resnet18(Resnet18),
}

impl Encoder {
    /// A freshly initialized encoder of `kind` for images with `channels` channels.
    pub fn new(
        kind: EncoderKind,
        channels: usize,
        height: usize,
        width: usize,
        device: &Device,
    ) -> Encoder {
        match kind {
            EncoderKind::SmallCnn => {
                Encoder::SmallCnn(SmallCnn::new(channels, height, width, device))
            }
            EncoderKind::Resnet18 => Encoder::Resnet18(Resnet18::new(channels, device)),
        }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Encoder::SmallCnn(m) => m.forward(images),
            Encoder::Resnet18(m) => m.forward(images),
        }
    }

    /// Width of the features.
    pub fn feature_dim(&self) -> usize {
        match self {
            Encoder::SmallCnn(_) => SMALL_CNN_FEATURES,
            Encoder::Resnet18(_) => 512,
        }
    }
}

const SMALL_CNN_FEATURES: usize = 128;

/// conv 3×3 (32) → ReLU → conv 3×3 stride 2 (64) → ReLU → linear (128) → ReLU.
#[derive(Module, Debug)]
pub struct SmallCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
}

impl SmallCnn {
    pub fn new(channels: usize, height: usize, width: usize, device: &Device) -> SmallCnn {
        let conv1 = Conv2dConfig::new([channels, 32], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device);
        let conv2 = Conv2dConfig::new([32, 64], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device);
        let (h2, w2) = (height.div_ceil(2), width.div_ceil(2));
        let fc = LinearConfig::new(64 * h2 * w2, SMALL_CNN_FEATURES).init(device);
        SmallCnn { conv1, conv2, fc }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x: Tensor<2> = x.flatten(1, 3);
        relu(self.fc.forward(x))
    }
}

/// Two 3×3 convolutions with GroupNorm and a skip connection (1×1 projection when the shape
/// changes): the basic block of ResNet-18.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    norm1: GroupNorm,
    conv2: Conv2d,
    norm2: GroupNorm,
    shortcut: Option<(Conv2d, GroupNorm)>,
}

fn group_norm(channels: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(32.min(channels), channels).init(device)
}

fn conv3x3(cin: usize, cout: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

impl BasicBlock {
    fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> BasicBlock {
        let shortcut = (stride != 1 || cin != cout).then(|| {
            (
                Conv2dConfig::new([cin, cout], [1, 1])
                    .with_stride([stride, stride])
                    .with_bias(false)
                    .init(device),
                group_norm(cout, device),
            )
        });
        BasicBlock {
            conv1: conv3x3(cin, cout, stride, device),
            norm1: group_norm(cout, device),
            conv2: conv3x3(cout, cout, 1, device),
            norm2: group_norm(cout, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.norm1.forward(self.conv1.forward(x.clone())));
        let out = self.norm2.forward(self.conv2.forward(out));
        let skip = match &self.shortcut {
            Some((conv, norm)) => norm.forward(conv.forward(x)),
            None => x,
        };
        relu(out + skip)
    }
}

/// ResNet-18 for 32×32 inputs (He et al. 2016; the CIFAR stem of SimCLR/solo-learn: 3×3
/// convolution, no max-pool), 512 features after global average pooling.
#[derive(Module, Debug)]
pub struct Resnet18 {
    stem: Conv2d,
    stem_norm: GroupNorm,
    blocks: Vec<BasicBlock>,
}

impl Resnet18 {
    pub fn new(channels: usize, device: &Device) -> Resnet18 {
        let mut blocks = Vec::new();
        let mut cin = 64;
        for (cout, stride) in [(64, 1), (128, 2), (256, 2), (512, 2)] {
            blocks.push(BasicBlock::new(cin, cout, stride, device));
            blocks.push(BasicBlock::new(cout, cout, 1, device));
            cin = cout;
        }
        Resnet18 {
            stem: conv3x3(channels, 64, 1, device),
            stem_norm: group_norm(64, device),
            blocks,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu(self.stem_norm.forward(self.stem.forward(x)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        // Global average pooling.
        let x: Tensor<3> = x.flatten(2, 3);
        x.mean_dim(2).flatten(1, 2)
    }
}

/// A two-layer MLP `in → hidden → out` with a ReLU between: the projector (and BYOL's
/// predictor).
#[derive(Module, Debug)]
pub struct Mlp {
    first: Linear,
    second: Linear,
}

impl Mlp {
    pub fn new(input: usize, hidden: usize, output: usize, device: &Device) -> Mlp {
        Mlp {
            first: LinearConfig::new(input, hidden).init(device),
            second: LinearConfig::new(hidden, output).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.second.forward(relu(self.first.forward(x)))
    }
}
