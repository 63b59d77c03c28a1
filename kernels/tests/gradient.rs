//! Gradient of the tree length vs central finite differences; duplicates stay finite.

mod common;

use common::{to_f32, Cloud};
use proptest::prelude::*;
use tregs_kernels::{accumulate_tree_gradient, minimum_spanning_tree, Tree};

/// Tree length of `x` evaluated on a fixed tree (lengths recomputed in f64).
fn length_on_tree(x: &[f64], d: usize, tree: &Tree) -> f64 {
    tregs_kernels::edge_lengths(x, d, &tree.edges).iter().sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `accumulate_tree_gradient` with scale s adds s * dL/dx. Checked against central
    /// differences of the MST length itself; cases where the MST changes within +-h of
    /// x (near-ties, where L is not differentiable) are discarded, so the tree is unique
    /// in the neighbourhood and the check is of the true derivative.
    #[test]
    fn gradient_matches_central_differences(
        n in 2usize..24, d in 1usize..8, seed in any::<u64>(), scale in -3.0f64..3.0,
    ) {
        let x = Cloud::Gaussian.generate(n, d, seed);
        let tree = minimum_spanning_tree(&x, n, d);
        let mut grad = vec![0.0f64; n * d];
        accumulate_tree_gradient(&x, d, &tree, scale, &mut grad);

        let h = 1e-6;
        for idx in 0..n * d {
            let mut plus = x.clone();
            plus[idx] += h;
            let mut minus = x.clone();
            minus[idx] -= h;
            let (tree_plus, tree_minus) =
                (minimum_spanning_tree(&plus, n, d), minimum_spanning_tree(&minus, n, d));
            prop_assume!(tree_plus.edges == tree.edges && tree_minus.edges == tree.edges);
            let fd = scale * (tree_plus.total_length() - tree_minus.total_length()) / (2.0 * h);
            prop_assert!((grad[idx] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                "coordinate {}: analytic {} vs fd {}", idx, grad[idx], fd);
            // The fixed-tree length and the MST length coincide here.
            prop_assert!((length_on_tree(&plus, d, &tree) - tree_plus.total_length()).abs() <= 1e-12);
        }
    }

    /// Zero-length edges (duplicate points) contribute nothing: the gradient stays finite
    /// and equals the gradient computed without those edges.
    #[test]
    fn duplicates_give_finite_gradient(n in 2usize..120, d in 1usize..16, seed in any::<u64>()) {
        for kind in [Cloud::GaussianDuplicates, Cloud::GridDuplicates] {
            let x = to_f32(&kind.generate(n, d, seed));
            let tree = minimum_spanning_tree(&x, n, d);
            let mut grad = vec![0.0f32; n * d];
            accumulate_tree_gradient(&x, d, &tree, -1.0 / n as f64, &mut grad);
            prop_assert!(grad.iter().all(|g| g.is_finite()));

            let kept: Vec<usize> = (0..tree.edges.len()).filter(|&e| tree.lengths[e] > 0.0).collect();
            let pruned = Tree {
                edges: kept.iter().map(|&e| tree.edges[e]).collect(),
                lengths: kept.iter().map(|&e| tree.lengths[e]).collect(),
            };
            let mut grad_pruned = vec![0.0f32; n * d];
            accumulate_tree_gradient(&x, d, &pruned, -1.0 / n as f64, &mut grad_pruned);
            prop_assert_eq!(grad, grad_pruned);
        }
    }
}

#[test]
fn gradient_of_a_single_edge() {
    // Two points at distance 5: dL/dx_0 = (x_0 - x_1) / 5, dL/dx_1 = -(x_0 - x_1) / 5.
    let x = [0.0f32, 0.0, 3.0, 4.0];
    let tree = minimum_spanning_tree(&x, 2, 2);
    let mut grad = [1.0f32; 4];
    accumulate_tree_gradient(&x, 2, &tree, 2.0, &mut grad);
    assert_eq!(grad, [-0.2, -0.6, 2.2, 2.6]);

    // All points identical: every edge has length 0, the gradient is untouched.
    let same = [2.0f32; 12];
    let tree = minimum_spanning_tree(&same, 4, 3);
    let mut grad = [0.0f32; 12];
    accumulate_tree_gradient(&same, 3, &tree, -0.25, &mut grad);
    assert_eq!(grad, [0.0; 12]);
}
