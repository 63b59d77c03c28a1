//! One file per primitive: the formula and its paper in the doc comment, the row-wise host
//! math the fused CPU operation uses, and a reference written with plain burn tensor ops
//! (the fallback on backends without a fused implementation, and an independent check).

pub mod mse;
pub mod mst_len;
pub mod sphere;
