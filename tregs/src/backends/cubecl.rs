//! The fused operation on burn's `CubeBackend` (wgpu; CUDA where it builds): the cubecl
//! kernels of [`tregs_kernels::gpu`], launched on the tensors' own device. The tree never
//! leaves the device: distances, Borůvka rounds, edge lengths, term values and gradients
//! run back to back with no host round-trip.

use crate::gpu::{distance_method, sq_distance_matrices, DistanceInput};
use crate::ops::TregsOps;
use crate::plan::FusedPlan;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;
use std::sync::Arc;
use tregs_kernels::gpu::{self, DeviceBuffer, GradientInputs, InputLayout};
use tregs_macros_core::Primitive;

/// Trees on the same number of points share their Borůvka launches (halving them for two
/// views) while their distance matrices together fit in this many bytes (n ≤ 5 792 for two
/// views); larger batches build one tree at a time, so that the device holds one n × n
/// matrix at a time.
const SHARED_TREES_BYTES: usize = 256 << 20;

/// Where the forward keeps what the backward reads, in the `saved` tensor: every input's
/// row norms, then every tree input's edge lengths; then, for the term values only, every
/// `mse` term's per-row sums.
struct SavedLayout {
    inputs: Vec<InputLayout>,
    /// Offset of input i's norms.
    norms: Vec<usize>,
    /// Per input: its position in `tree_inputs`, if it has a tree.
    tree_slot: Vec<Option<usize>>,
    /// Per tree input: offset of its lengths in `saved` and of its first edge in `trees`.
    lengths: Vec<usize>,
    edges: Vec<usize>,
    /// Per term: the offset of its per-row sums, if it is an `mse` term.
    mse_rows: Vec<Option<usize>>,
    saved_len: usize,
    edge_count: usize,
    /// Per input that a tree or `sphere` reads (an `mse`-only input needs none): where its
    /// shift μ (d) and shifted squared norms (n) go in their scratch buffers, at aligned
    /// offsets so that the distance kernel binds each input's own.
    statistics: Vec<Option<StatisticsAt>>,
    shifts_len: usize,
    shifted_len: usize,
}

#[derive(Clone, Copy)]
struct StatisticsAt {
    shift: usize,
    shifted: usize,
}

impl SavedLayout {
    fn new(plan: &FusedPlan) -> SavedLayout {
        let offsets = plan.offsets();
        // Offsets within the input's own buffer: the first input's, or the others'.
        let inputs: Vec<InputLayout> = plan
            .shapes
            .iter()
            .enumerate()
            .map(|(i, &[n, d])| InputLayout {
                offset: if i == 0 { 0 } else { offsets[i] - offsets[1] },
                n,
                d,
            })
            .collect();
        let mut at = 0;
        let norms = inputs
            .iter()
            .map(|input| {
                at += input.n;
                at - input.n
            })
            .collect();
        let tree_inputs = plan.tree_inputs();
        let mut tree_slot = vec![None; inputs.len()];
        let (mut lengths, mut edges, mut edge_at) = (Vec::new(), Vec::new(), 0);
        for (t, &i) in tree_inputs.iter().enumerate() {
            tree_slot[i] = Some(t);
            lengths.push(at);
            edges.push(edge_at);
            at += inputs[i].n - 1;
            edge_at += inputs[i].n - 1;
        }
        let mse_rows = plan
            .terms
            .iter()
            .map(|term| {
                (term.primitive == Primitive::Mse).then(|| {
                    at += inputs[term.args[0]].n;
                    at - inputs[term.args[0]].n
                })
            })
            .collect();
        let (mut shifts_len, mut shifted_len) = (0, 0);
        let statistics = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let reads_norms = plan.terms.iter().any(|t| {
                    matches!(t.primitive, Primitive::MstLen | Primitive::Sphere) && t.args[0] == i
                });
                reads_norms.then(|| {
                    let at = StatisticsAt {
                        shift: shifts_len,
                        shifted: shifted_len,
                    };
                    shifts_len += input.d.next_multiple_of(gpu::BINDING_ALIGN);
                    shifted_len += input.n.next_multiple_of(gpu::BINDING_ALIGN);
                    at
                })
            })
            .collect();
        SavedLayout {
            statistics,
            shifts_len,
            shifted_len,
            inputs,
            norms,
            tree_slot,
            lengths,
            mse_rows,
            edges,
            saved_len: at,
            edge_count: edge_at,
        }
    }

    /// Input i as the kernels find it: in the first slot (input 0) or the second (the rest).
    fn placed(&self, i: usize) -> gpu::Placed {
        gpu::Placed {
            slot: if i == 0 {
                gpu::Slot::First
            } else {
                gpu::Slot::Rest
            },
            layout: self.inputs[i],
        }
    }

    /// Runs of consecutive tree inputs on the same number of points, as (index of the run's
    /// first tree, trees in the run), each as long as `fits(trees, n)` allows: trees that
    /// can share launches.
    fn same_size_runs(
        &self,
        tree_inputs: &[usize],
        fits: impl Fn(usize, usize) -> bool,
    ) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        let mut first = 0;
        while first < tree_inputs.len() {
            let n = self.inputs[tree_inputs[first]].n;
            let mut group = 1;
            while first + group < tree_inputs.len()
                && self.inputs[tree_inputs[first + group]].n == n
                && fits(group + 1, n)
            {
                group += 1;
            }
            runs.push((first, group));
            first += group;
        }
        runs
    }
}

fn buffer(t: &CubeTensor) -> DeviceBuffer {
    DeviceBuffer {
        handle: t.handle.clone(),
        len: t.meta.num_elements(),
    }
}

/// The trees' edges as the kernels bind them: a plan without trees binds a two-word
/// placeholder instead, since buffers must not be bound empty.
fn bound_edges(trees: &CubeTensor, layout: &SavedLayout) -> DeviceBuffer {
    if layout.edge_count > 0 {
        buffer(trees)
    } else {
        DeviceBuffer::zeros_u32(&trees.client, 2)
    }
}

fn f32_contiguous(t: CubeTensor, what: &str) -> CubeTensor {
    assert_eq!(
        t.dtype,
        DType::F32,
        "tregs: the GPU path computes in f32, {what} is {:?} (evaluate checks this first)",
        t.dtype
    );
    into_contiguous(t)
}

impl TregsOps for CubeBackend {
    fn fused_loss_forward(
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, IntTensor<Self>, FloatTensor<Self>) {
        let (head, tail) = input_buffers(head, tail, &plan);
        let client = head.client.clone();
        let device = head.device.clone();
        let (head_buf, tail_buf) = (buffer(&head), buffer(&tail));
        let x_of = |i: usize| if i == 0 { &head_buf } else { &tail_buf };
        let layout = SavedLayout::new(&plan);
        let empty = |shape: Vec<usize>, dtype| {
            empty_device_dtype(client.clone(), device.clone(), Shape::from(shape), dtype)
        };
        let values = empty(vec![plan.terms.len()], DType::F32);
        let saved = empty(vec![layout.saved_len], DType::F32);
        let trees = empty(vec![layout.edge_count, 2], DType::I32);
        let (values_buf, saved_buf, trees_buf) = (buffer(&values), buffer(&saved), buffer(&trees));

        let buffers = [&head_buf, &tail_buf];
        // The statistics of every input that has them: shifts in one launch, then the
        // shifted norms (for the distances) and norms (for `sphere` and its backward)
        // together with every `mse` term's row sums in another.
        let shifts = DeviceBuffer::empty::<f32>(&client, layout.shifts_len);
        let shifted = DeviceBuffer::empty::<f32>(&client, layout.shifted_len);
        let with_statistics: Vec<(usize, StatisticsAt)> = (0..layout.inputs.len())
            .filter_map(|i| layout.statistics[i].map(|at| (i, at)))
            .collect();
        let shift_inputs: Vec<(gpu::Placed, usize)> = with_statistics
            .iter()
            .map(|&(i, at)| (layout.placed(i), at.shift))
            .collect();
        gpu::column_shifts(&client, buffers, &shift_inputs, &shifts);
        let edges = bound_edges(&trees, &layout);
        let mut jobs: Vec<gpu::RowJob> = with_statistics
            .iter()
            .map(|&(i, at)| gpu::RowJob::Statistics {
                input: layout.placed(i),
                shift_at: at.shift,
                shifted_at: at.shifted,
                norms_at: layout.norms[i],
            })
            .collect();
        for (k, term) in plan.terms.iter().enumerate() {
            if term.primitive == Primitive::Mse {
                jobs.push(gpu::RowJob::MseRows {
                    a: layout.placed(term.args[0]),
                    b: layout.placed(term.args[1]),
                    at: layout.mse_rows[k].expect("an mse term has its rows"),
                });
            }
        }
        gpu::row_sums(
            &client, buffers, &jobs, &shifts, &shifted, &edges, &saved_buf,
        );
        // Per tree input, once: distances, then the tree. Trees on the same number of points
        // (the two views) are built in the same Borůvka launches while their matrices
        // together take at most `SHARED_TREES_BYTES`; beyond that, one matrix at a time.
        let tree_inputs = plan.tree_inputs();
        let groups = layout.same_size_runs(&tree_inputs, |group, n| {
            group * n * n * 4 <= SHARED_TREES_BYTES
        });
        for (first, group) in groups {
            let n = layout.inputs[tree_inputs[first]].n;
            let dist = DeviceBuffer::empty::<f32>(&client, group * n * n);
            let distance_inputs: Vec<DistanceInput> = (0..group)
                .map(|g| {
                    let i = tree_inputs[first + g];
                    let input = layout.inputs[i];
                    let at = layout.statistics[i].expect("tree inputs have statistics");
                    debug_assert_eq!(layout.edges[first + g], layout.edges[first] + g * (n - 1));
                    DistanceInput {
                        x: x_of(i),
                        input,
                        shift: shifts.view(at.shift, input.d),
                        shifted_sq: shifted.view(at.shifted, input.n),
                    }
                })
                .collect();
            sq_distance_matrices(&device, &distance_inputs, &dist, distance_method());
            gpu::boruvka_trees(&client, &dist, n, group, &trees_buf, layout.edges[first]);
        }
        // Every tree's edge lengths, from the coordinates, in one launch.
        let length_jobs: Vec<gpu::RowJob> = tree_inputs
            .iter()
            .enumerate()
            .map(|(t, &i)| gpu::RowJob::EdgeLengths {
                input: layout.placed(i),
                edge_at: layout.edges[t],
                at: layout.lengths[t],
                shifted_at: layout.statistics[i]
                    .expect("tree inputs have statistics")
                    .shifted,
            })
            .collect();
        gpu::row_sums(
            &client,
            buffers,
            &length_jobs,
            &shifts,
            &shifted,
            &edges,
            &saved_buf,
        );
        // Every term's value in one launch, from summands in `saved`.
        let sums: Vec<gpu::TermSum> = plan
            .terms
            .iter()
            .enumerate()
            .map(|(k, term)| {
                let first = layout.inputs[term.args[0]];
                let n = first.n as f32;
                match term.primitive {
                    Primitive::MstLen => gpu::TermSum {
                        offset: layout.lengths[layout.tree_slot[term.args[0]].expect("a tree")],
                        len: first.n - 1,
                        distance_to_one: false,
                        scale: -1.0 / n,
                    },
                    Primitive::Sphere => gpu::TermSum {
                        offset: layout.norms[term.args[0]],
                        len: first.n,
                        distance_to_one: true,
                        scale: 1.0 / n,
                    },
                    Primitive::Mse => gpu::TermSum {
                        offset: layout.mse_rows[k].expect("an mse term has its rows"),
                        len: first.n,
                        distance_to_one: false,
                        scale: 1.0 / (first.n as f32 * first.d as f32),
                    },
                    other => {
                        unreachable!("{other:?} is not fused: `evaluate` runs it with tensor ops")
                    }
                }
            })
            .collect();
        gpu::term_values(&client, &saved_buf, &sums, &values_buf);
        (values, trees, saved)
    }

    fn fused_loss_backward(
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        trees: IntTensor<Self>,
        saved: FloatTensor<Self>,
        term_grads: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let single = plan.shapes.len() == 1;
        let placeholder_tail = tail.clone();
        let (head, tail) = input_buffers(head, tail, &plan);
        let term_grads = f32_contiguous(term_grads, "the term gradient");
        let saved = into_contiguous(saved);
        let trees = into_contiguous(trees);
        let client = head.client.clone();
        let layout = SavedLayout::new(&plan);
        // One flat gradient per input buffer, written where the inputs sit in theirs.
        let flat_like = |t: &CubeTensor| {
            empty_device_dtype(
                client.clone(),
                t.device.clone(),
                Shape::from(vec![t.meta.num_elements()]),
                DType::F32,
            )
        };
        let grad_head = flat_like(&head);
        let grad_tail = (!single).then(|| flat_like(&tail));
        let (head_buf, tail_buf) = (buffer(&head), buffer(&tail));
        let grad_head_buf = buffer(&grad_head);
        let grad_tail_buf = grad_tail.as_ref().map(buffer);
        let edges = bound_edges(&trees, &layout);
        // An input without a tree binds this in place of its adjacency.
        let placeholder = DeviceBuffer::zeros_u32(&client, 2);
        // The trees' adjacency (CSR), consecutive trees on the same number of points in the
        // same launches: per group its buffers, per tree its group and place in it.
        let tree_inputs = plan.tree_inputs();
        let mut adjacency: Vec<(DeviceBuffer, DeviceBuffer)> = Vec::new();
        let mut csr_of_tree: Vec<(usize, usize)> = Vec::with_capacity(tree_inputs.len());
        for (first, group) in layout.same_size_runs(&tree_inputs, |_, _| true) {
            let n = layout.inputs[tree_inputs[first]].n;
            adjacency.push(gpu::tree_adjacency(
                &client,
                &edges,
                layout.edges[first],
                n,
                group,
            ));
            csr_of_tree.extend((0..group).map(|place| (adjacency.len() - 1, place)));
        }
        let (saved_buf, term_grads_buf) = (buffer(&saved), buffer(&term_grads));
        for (i, input) in layout.inputs.iter().enumerate() {
            let grad_plan = plan.gradient_plan(i);
            let mut meta = vec![0u32; gpu::scatter::META_FIELDS];
            let as_u32 = |v: usize| u32::try_from(v).expect("checked by evaluate");
            meta[gpu::scatter::META_X_OFFSET] = as_u32(input.offset);
            meta[gpu::scatter::META_N] = as_u32(input.n);
            meta[gpu::scatter::META_D] = as_u32(input.d);
            meta[gpu::scatter::META_NORMS] = as_u32(layout.norms[i]);
            let (csr_start, csr_adjacency) = match layout.tree_slot[i] {
                Some(t) => {
                    let (group, place) = csr_of_tree[t];
                    meta[gpu::scatter::META_LENGTHS] = as_u32(layout.lengths[t]);
                    meta[gpu::scatter::META_EDGES] = as_u32(layout.edges[t]);
                    meta[gpu::scatter::META_CSR_START] = as_u32(place * (input.n + 1));
                    meta[gpu::scatter::META_CSR_ADJ] = as_u32(place * 2 * (input.n - 1));
                    (&adjacency[group].0, &adjacency[group].1)
                }
                None => (&placeholder, &placeholder),
            };
            for term in plan.terms.iter().filter(|t| t.primitive == Primitive::Mse) {
                if term.args[0] == i {
                    meta.push(as_u32(layout.inputs[term.args[1]].offset));
                }
                if term.args[1] == i {
                    meta.push(as_u32(layout.inputs[term.args[0]].offset));
                }
            }
            let inputs = GradientInputs {
                term_grads: &term_grads_buf,
                saved: &saved_buf,
                edges: &edges,
                csr_start,
                csr_adjacency,
            };
            let (x, other, grad) = if i == 0 {
                (&head_buf, &tail_buf, &grad_head_buf)
            } else {
                let grad_tail = grad_tail_buf.as_ref().expect("inputs after the first");
                (&tail_buf, &head_buf, grad_tail)
            };
            gpu::fused_gradient(&client, x, other, grad, &inputs, &meta, &grad_plan);
        }
        (grad_head, grad_tail.unwrap_or(placeholder_tail))
    }

    fn weighted_total(values: FloatTensor<Self>, weights: Arc<Vec<f64>>) -> FloatTensor<Self> {
        let values = f32_contiguous(values, "the term values");
        let out = empty_device_dtype(
            values.client.clone(),
            values.device.clone(),
            Shape::from(vec![1]),
            DType::F32,
        );
        let weights: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        gpu::weighted_total(&values.client, &buffer(&values), &weights, &buffer(&out));
        out
    }

    fn weighted_total_backward(
        grad: FloatTensor<Self>,
        weights: Arc<Vec<f64>>,
    ) -> FloatTensor<Self> {
        let grad = f32_contiguous(grad, "the total's gradient");
        let out = empty_device_dtype(
            grad.client.clone(),
            grad.device.clone(),
            Shape::from(vec![weights.len()]),
            DType::F32,
        );
        let weights: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
        gpu::weighted_total_backward(&grad.client, &buffer(&grad), &weights, &buffer(&out));
        out
    }
}

/// The inputs as the kernels read them, in place: the first input, and the others end to
/// end (the second slot as it comes: no copy). A loss of one input has no second slot; the
/// first stands in for it, so that every kernel has a buffer to bind.
fn input_buffers(head: CubeTensor, tail: CubeTensor, plan: &FusedPlan) -> (CubeTensor, CubeTensor) {
    let head = f32_contiguous(head, "the first input");
    if plan.shapes.len() == 1 {
        (head.clone(), head)
    } else {
        (head, f32_contiguous(tail, "the other inputs"))
    }
}
