//! Every kernel as compiler input, with no device: what the snapshot tests compile to WGSL
//! and CUDA C++ so that a change to a kernel shows up as a readable diff.

use super::{
    boruvka, close_pairs, distance, rows, scatter, split_gram, values, GradientPlan,
    ELEMENTWISE_UNITS,
};
use cubecl::ir::{features::Features, DeviceIdentity, HardwareProperties, MemoryDeviceProperties};
use cubecl::prelude::*;
use cubecl::CubeKernel;
use std::sync::Arc;

/// A device description that no real device has to match: the generated source depends
/// on the kernel, not on it.
fn offline_properties() -> Arc<DeviceProperties> {
    Arc::new(DeviceProperties::new(
        Features::default(),
        MemoryDeviceProperties::new(u64::MAX, 256),
        HardwareProperties {
            load_width: 128,
            vector_register_count: None,
            plane_size_min: 32,
            plane_size_max: 32,
            max_bindings: 32,
            max_shared_memory_size: 65536,
            max_cube_count: (u32::MAX, u16::MAX as u32, u16::MAX as u32),
            max_units_per_cube: 1024,
            max_cube_dim: (1024, 1024, 1024),
            num_streaming_multiprocessors: None,
            num_tensor_cores: None,
            min_tensor_cores_dim: None,
            num_cpu_cores: None,
            last_level_cache_size: None,
            max_vector_size: VectorSize::MAX,
            cube_mma_reserved_shared_memory: 0,
        },
        cubecl::profile::TimingMethod::Device,
        DeviceIdentity {
            name: "offline".to_string(),
            fingerprint: "offline".to_string(),
            physical: None,
        },
    ))
}

fn settings(dim: CubeDim) -> KernelSettings {
    KernelSettings::new(*dim, ExecutionMode::Unchecked, AddressType::U32)
}

fn buf() -> BufferCompilationArg {
    BufferCompilationArg { inplace: None }
}

/// Builds `$module::$kernel::new(settings, properties, target, args...)` and defines it.
macro_rules! define {
    ($dim:expr, $module:ident :: $fn_name:ident :: $kernel:ident ( $($arg:expr),* $(,)? )) => {
        Box::new($module::$fn_name::$kernel::new(
            settings($dim),
            offline_properties(),
            Arc::new(TargetProperties::default()),
            $($arg),*
        ))
    };
}

/// The fixed kernels (distances, Borůvka, tree lengths and adjacency, reductions), named
/// by their function.
pub fn kernels() -> Vec<(&'static str, Box<dyn CubeKernel>)> {
    let line = CubeDim::new_1d(ELEMENTWISE_UNITS);
    let reduce = CubeDim::new_1d(distance::REDUCE_UNITS);
    let tile = CubeDim::new_2d(16, 16);
    vec![
        (
            "close_threshold",
            define!(
                reduce,
                close_pairs::close_threshold_kernel::CloseThresholdKernel(buf(), buf(), (), ())
            ),
        ),
        (
            "close_pairs",
            define!(
                line,
                close_pairs::close_pairs_kernel::ClosePairsKernel(
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    (),
                    (),
                    ()
                )
            ),
        ),
        (
            "column_shifts",
            define!(
                line,
                distance::column_shifts_kernel::ColumnShiftsKernel(buf(), buf(), buf(), buf())
            ),
        ),
        (
            "row_sums",
            define!(
                reduce,
                rows::row_sums_kernel::RowSumsKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf()
                )
            ),
        ),
        (
            "pairwise_sq_distances_64",
            define!(
                tile,
                distance::pairwise_sq_distances_kernel::PairwiseSqDistancesKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    (),
                    (),
                    4usize,
                    4u32
                )
            ),
        ),
        (
            "pairwise_sq_distances_64_scalar_loads",
            define!(
                tile,
                distance::pairwise_sq_distances_kernel::PairwiseSqDistancesKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    (),
                    (),
                    1usize,
                    4u32
                )
            ),
        ),
        (
            "pairwise_sq_distances_128",
            define!(
                tile,
                distance::pairwise_sq_distances_kernel::PairwiseSqDistancesKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    (),
                    (),
                    4usize,
                    8u32
                )
            ),
        ),
        (
            "split_rows",
            define!(
                reduce,
                split_gram::split_rows_kernel::SplitRowsKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    (),
                    (),
                    ()
                )
            ),
        ),
        (
            "finish_split_gram",
            define!(
                tile,
                split_gram::finish_split_gram_kernel::FinishSplitGramKernel(
                    buf(),
                    buf(),
                    buf(),
                    (),
                    ()
                )
            ),
        ),
        (
            "boruvka_first_round",
            define!(
                reduce,
                boruvka::boruvka_first_round_kernel::BoruvkaFirstRoundKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    ()
                )
            ),
        ),
        (
            "boruvka_vertex_min",
            define!(
                reduce,
                boruvka::boruvka_vertex_min_kernel::BoruvkaVertexMinKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    ()
                )
            ),
        ),
        (
            "boruvka_hook_jump",
            define!(
                line,
                boruvka::boruvka_hook_jump_kernel::BoruvkaHookJumpKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    ()
                )
            ),
        ),
        (
            "tree_edges",
            define!(
                line,
                boruvka::tree_edges_kernel::TreeEdgesKernel(buf(), buf(), buf(), (), (), ())
            ),
        ),
        (
            "boruvka_one_cube",
            define!(
                line,
                boruvka::boruvka_one_cube_kernel::BoruvkaOneCubeKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    (),
                    ()
                )
            ),
        ),
        (
            "tree_adjacency_one_cube",
            define!(
                reduce,
                scatter::tree_adjacency_one_cube_kernel::TreeAdjacencyOneCubeKernel(
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    buf(),
                    (),
                    ()
                )
            ),
        ),
        (
            "term_values",
            define!(
                reduce,
                values::term_values_kernel::TermValuesKernel(buf(), buf(), buf())
            ),
        ),
        (
            "weighted_total",
            define!(
                CubeDim::new_1d(1),
                values::weighted_total_kernel::WeightedTotalKernel(buf(), buf(), buf(), ())
            ),
        ),
        (
            "weighted_total_backward",
            define!(
                line,
                values::weighted_total_backward_kernel::WeightedTotalBackwardKernel(
                    buf(),
                    buf(),
                    buf(),
                    ()
                )
            ),
        ),
        (
            "tree_degree",
            define!(
                line,
                scatter::tree_degree_kernel::TreeDegreeKernel(buf(), buf(), (), ())
            ),
        ),
        (
            "exclusive_scan",
            define!(
                reduce,
                scatter::exclusive_scan_kernel::ExclusiveScanKernel(buf(), buf(), ())
            ),
        ),
        (
            "tree_fill",
            define!(
                line,
                scatter::tree_fill_kernel::TreeFillKernel(buf(), buf(), buf(), buf(), (), ())
            ),
        ),
        (
            "order_adjacency",
            define!(
                line,
                scatter::order_adjacency_kernel::OrderAdjacencyKernel(buf(), buf(), buf(), ())
            ),
        ),
    ]
}

/// The fused gradient kernel specialized for one input's [`GradientPlan`].
pub fn fused_gradient_kernel(plan: &GradientPlan) -> Box<dyn CubeKernel> {
    define!(
        CubeDim::new_1d(ELEMENTWISE_UNITS),
        scatter::fused_gradient_kernel::FusedGradientKernel(
            buf(),
            buf(),
            buf(),
            buf(),
            buf(),
            buf(),
            buf(),
            buf(),
            buf(),
            plan.clone()
        )
    )
}
