//! Implementations of [`crate::ops::TregsOps`]: native on Flex, a hand-written backward for
//! Autodiff. Other backends take the tensor-op fallback in [`crate::evaluate`].

mod autodiff;
mod flex;
