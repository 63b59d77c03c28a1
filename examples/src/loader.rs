//! Batches of two augmented views for burn's `Learner`, fully determined by the seed.
//!
//! burn's own shuffling draws from one RNG that advances with every epoch and is not part of
//! a checkpoint, so a resumed run would see other batches than an uninterrupted one. Here the
//! order of epoch `e` is a permutation seeded by (seed, e), and each view of each sample is
//! augmented with a seed derived from (seed, e, sample index, view): a resumed run sees the
//! same batches, and the batches do not depend on how the work is split.

use crate::augment::{augment, view_seed, Augment};
use crate::data::ImageSet;
use crate::rng::SplitMix64;
use crate::ssl::SslBatch;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::{Device, Tensor, TensorData};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves one epoch of [`SslBatch`]es per call to `iter`.
#[derive(Clone)]
pub struct EpochLoader {
    set: Arc<ImageSet>,
    /// Indices into `set` this loader serves (all of them, or a slice).
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    seed: u64,
    augment: Augment,
    device: Device,
    /// The 1-based epoch the next `iter` serves; `None`: a fixed epoch (validation), in the
    /// same order every time.
    next_epoch: Option<Arc<AtomicUsize>>,
    fixed_epoch: usize,
}

impl EpochLoader {
    /// A training loader: epoch `first_epoch` (1-based) first, reshuffled every epoch. The
    /// last incomplete batch of an epoch is dropped (a batch of one row has no tree).
    pub fn train(
        set: Arc<ImageSet>,
        batch_size: usize,
        seed: u64,
        augment: Augment,
        first_epoch: usize,
        device: &Device,
    ) -> EpochLoader {
        let indices = Arc::new((0..set.len()).collect());
        EpochLoader {
            set,
            indices,
            batch_size,
            seed,
            augment,
            device: device.clone(),
            next_epoch: Some(Arc::new(AtomicUsize::new(first_epoch))),
            fixed_epoch: 0,
        }
    }

    /// A validation loader: the same views in the same order every epoch.
    pub fn fixed(
        set: Arc<ImageSet>,
        batch_size: usize,
        seed: u64,
        augment: Augment,
        device: &Device,
    ) -> EpochLoader {
        let indices = Arc::new((0..set.len()).collect());
        EpochLoader {
            set,
            indices,
            batch_size,
            seed,
            augment,
            device: device.clone(),
            next_epoch: None,
            fixed_epoch: usize::MAX,
        }
    }

    /// Number of batches per epoch.
    pub fn batches(&self) -> usize {
        self.indices.len() / self.batch_size
    }

    /// The samples of epoch `epoch`, in batch order.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order = self.indices.as_ref().clone();
        if self.next_epoch.is_some() {
            // A generator seeded by (seed, epoch).
            SplitMix64::new(view_seed(self.seed, epoch as u64, u64::MAX, 7)).shuffle(&mut order);
        }
        order
    }

    /// Batch `step` of epoch `epoch`.
    pub fn batch(&self, epoch: usize, step: usize, order: &[usize]) -> SslBatch {
        let rows = &order[step * self.batch_size..(step + 1) * self.batch_size];
        self.batch_of(epoch, step, rows)
    }

    /// The part `part` of `parts` equal parts of batch `step` of epoch `epoch`: what one of
    /// `parts` data-parallel processes trains on. Every sample's views are seeded by
    /// (seed, epoch, sample), so the parts together are exactly [`EpochLoader::batch`].
    pub fn batch_part(
        &self,
        epoch: usize,
        step: usize,
        order: &[usize],
        part: usize,
        parts: usize,
    ) -> SslBatch {
        let rows = &order[step * self.batch_size..(step + 1) * self.batch_size];
        let share = self.batch_size / parts;
        self.batch_of(epoch, step, &rows[part * share..(part + 1) * share])
    }

    /// The two views of the samples `rows` (indices into the set) in epoch `epoch`.
    fn batch_of(&self, epoch: usize, step: usize, rows: &[usize]) -> SslBatch {
        let (c, h, w) = (self.set.channels, self.set.height, self.set.width);
        let mut views = [
            Vec::with_capacity(rows.len() * c * h * w),
            Vec::with_capacity(rows.len() * c * h * w),
        ];
        for &i in rows {
            for (view, out) in views.iter_mut().enumerate() {
                let seed = view_seed(self.seed, epoch as u64, i as u64, view as u64);
                out.extend(augment(self.set.image(i), c, h, w, &self.augment, seed));
            }
        }
        let [v1, v2] = views;
        let shape = [rows.len(), c, h, w];
        SslBatch {
            view1: Tensor::from_data(TensorData::new(v1, shape), &self.device),
            view2: Tensor::from_data(TensorData::new(v2, shape), &self.device),
            epoch,
            step,
        }
    }
}

struct EpochIter<'a> {
    loader: &'a EpochLoader,
    epoch: usize,
    order: Vec<usize>,
    step: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = Result<SslBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.step >= self.loader.batches() {
            return None;
        }
        let batch = self.loader.batch(self.epoch, self.step, &self.order);
        self.step += 1;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<SslBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress {
            items_processed: self.step * self.loader.batch_size,
            items_total: self.loader.batches() * self.loader.batch_size,
            unit: Some("images".to_string()),
        }
    }
}

impl DataLoader<SslBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<SslBatch> + 'a> {
        let epoch = match &self.next_epoch {
            Some(next) => next.fetch_add(1, Ordering::SeqCst),
            None => self.fixed_epoch,
        };
        Box::new(EpochIter {
            loader: self,
            epoch,
            order: self.order(epoch),
            step: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.batches() * self.batch_size
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<SslBatch>> {
        let mut moved = self.clone();
        moved.device = device.clone();
        Arc::new(moved)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<SslBatch>> {
        let mut sliced = self.clone();
        sliced.indices = Arc::new(
            self.indices[start.min(self.indices.len())..end.min(self.indices.len())].to_vec(),
        );
        Arc::new(sliced)
    }
}
