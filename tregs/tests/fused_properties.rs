//! Property tests of the fused operation against the tensor-op reference, over shapes and
//! point layouts that stress the tree: tiny clouds, one dimension, integer grids with ties,
//! duplicate points, clouds far from the origin.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use proptest::prelude::*;
use tregs::{loss, reference_values, LossPlan, Primitive};

#[derive(Debug, Clone, Copy)]
enum Layout {
    Uniform,
    Grid,
    Duplicates,
    FarAway,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Uniform),
        Just(Layout::Grid),
        Just(Layout::Duplicates),
        Just(Layout::FarAway)
    ]
}

fn make(n: usize, d: usize, layout: Layout, seed: u64) -> Vec<f64> {
    let mut next_word = common::xorshift(seed);
    let mut next = move || {
        let state = next_word();
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x: Vec<f64> = (0..n * d).map(|_| next() * 2.0 - 1.0).collect();
    match layout {
        Layout::Uniform => {}
        Layout::Grid => x.iter_mut().for_each(|v| *v = (*v * 3.0).round()),
        Layout::Duplicates => {
            for r in (1..n).step_by(2) {
                let (src, dst) = ((r - 1) * d, r * d);
                for c in 0..d {
                    x[dst + c] = x[src + c];
                }
            }
        }
        Layout::FarAway => x.iter_mut().for_each(|v| *v += 1e4),
    }
    x
}

fn tensor(x: &[f64], n: usize, d: usize, device: &Device) -> Tensor<2> {
    // Without an explicit dtype, burn converts to the device's default float (f32).
    Tensor::from_data(TensorData::new(x.to_vec(), [n, d]), (device, DType::F64)).require_grad()
}

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// f64 inputs: the fused values and gradients equal the reference's to rounding.
    #[test]
    fn fused_matches_reference(n in 2usize..120, d in 1usize..24, layout in layout(), seed in any::<u64>()) {
        let device = Device::default().autodiff();
        let (a, b) = (make(n, d, layout, seed), make(n, d, layout, seed ^ 1));
        let (z, z2) = (tensor(&a, n, d, &device), tensor(&b, n, d, &device));
        let (γ, λ) = (0.2, 0.5);
        let out = loss!(3.0*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*sphere(z)).unwrap();
        let grads = out.total().backward();
        let (gz, gz2) = (host(z.grad(&grads).unwrap()), host(z2.grad(&grads).unwrap()));
        prop_assert!(gz.iter().chain(&gz2).all(|g| g.is_finite()), "non-finite gradient");
        prop_assert_eq!(z.dtype(), DType::F64);

        let (za, z2a) = (tensor(&a, n, d, &device), tensor(&b, n, d, &device));
        let plan = LossPlan::from_static("", &["z", "z2"], &[
            (Primitive::Mse, &[0, 1], "mse(z, z2)"),
            (Primitive::MstLen, &[0], "mst_len(z)"),
            (Primitive::MstLen, &[1], "mst_len(z2)"),
            (Primitive::Sphere, &[0], "sphere(z)"),
        ]);
        let values = reference_values(&plan, &[&za, &z2a]);
        let weights =
            Tensor::<1>::from_data(TensorData::new(vec![3.0, γ, γ, λ], [4]), (&device, DType::F64));
        let ref_grads = (values.clone() * weights).sum().backward();
        let ref_values: Vec<f64> = values.into_data().convert::<f64>().try_to_vec().unwrap();
        for (term, reference) in out.terms().iter().zip(&ref_values) {
            prop_assert!((term.value - reference).abs() <= 1e-9 * (1.0 + reference.abs()),
                "{}: fused {} vs reference {}", term.name, term.value, reference);
        }
        // Duplicate points: the fused backward gives zero-length edges no force; the
        // reference's clamp does the same.
        for (g, r) in gz.iter().zip(host(za.grad(&ref_grads).unwrap())) {
            prop_assert!((g - r).abs() <= 1e-7 * (1.0 + r.abs()), "grad z: {g} vs {r}");
        }
        for (g, r) in gz2.iter().zip(host(z2a.grad(&ref_grads).unwrap())) {
            prop_assert!((g - r).abs() <= 1e-7 * (1.0 + r.abs()), "grad z2: {g} vs {r}");
        }
    }

    /// The tree the fused operation uses is the minimum spanning tree under the strict order
    /// (d², min, max): the edges of a brute-force Kruskal on exact f64 distances. The
    /// reference above shares the tree with the fused path, so this is what checks its
    /// choice, ties on grids and duplicates included.
    #[test]
    fn the_tree_is_kruskal_s(n in 2usize..120, d in 1usize..24, layout in layout(), seed in any::<u64>()) {
        let device = Device::default();
        let x = make(n, d, layout, seed);
        let z = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), (&device, DType::F64));
        let mut expected: Vec<(u32, u32)> = tregs_kernels::kruskal_reference_f64(&x, n, d);
        expected.sort_unstable();
        prop_assert_eq!(tregs::tree_edges(&z).unwrap(), expected);
    }

    /// The same input gives the same tree and the same bits, every run.
    #[test]
    fn deterministic(n in 2usize..200, d in 1usize..16, layout in layout(), seed in any::<u64>()) {
        let device = Device::default();
        let a = make(n, d, layout, seed);
        let x: Vec<f32> = a.iter().map(|v| *v as f32).collect();
        let z = Tensor::<2>::from_data(TensorData::new(x, [n, d]), &device);
        let first = loss!(mst_len(z) + sphere(z)).unwrap();
        let second = loss!(mst_len(z) + sphere(z)).unwrap();
        prop_assert_eq!(first.terms(), second.terms());
        prop_assert_eq!(tregs::minimum_spanning_tree(&z), tregs::minimum_spanning_tree(&z));
    }
}
