//! CPU numeric core of T-REGS (arXiv 2510.23484).
//!
//! T-REGS regularizes a batch of embeddings `Z` (n rows, d columns, row-major) with
//! the length of its Euclidean minimum spanning tree:
//!
//! ```text
//! L_E(Z) = -(1/n) * sum_{(u,v) in MST(Z)} ||z_u - z_v||
//! ```
//!
//! Everything needed on the CPU lives in [`cpu`] and is re-exported here:
//!
//! * [`pairwise_sq_distances`]: the dense n x n matrix of squared distances, computed
//!   through a symmetric Gram matrix (one triangle only, SIMD micro-kernels, both cores);
//! * [`prim_mst`]: the exact MST of that matrix under one strict total order on edges;
//! * [`edge_lengths`] / [`minimum_spanning_tree`]: the tree with lengths recomputed in f64;
//! * [`pairwise_sq_distances_rows`] / [`ShardedBoruvka`]: the same tree when the rows are
//!   sharded over processes (each computes its rows of the matrix, bit-identical to the
//!   full one; Borůvka rounds with the communication left to the caller), with the
//!   close-pair step's parts ([`close_threshold`], [`close_pair_components`],
//!   [`patch_close_pairs`], [`scaled_up_if_tiny`]) to repeat the one-process tree exactly;
//! * [`accumulate_tree_gradient`]: the gradient of the tree length with the tree held fixed,
//!   gathered per row through [`TreeAdjacency`] ([`add_tree_row_gradient`] for one row);
//! * [`sq_norm`], [`sq_distance`], [`add_scaled`], [`add_scaled_difference`],
//!   [`store_rounded`]: vectorizing f64 row passes (AVX2 where the CPU has it);
//! * [`kruskal_reference_f64`]: a brute-force reference used by the tests;
//! * [`clouds`]: the clouds where the Gram trick alone gets the tree wrong, for tests and
//!   benchmarks of every tree path.

pub mod clouds;
pub mod cpu;
pub mod gpu;

pub use cpu::*;
