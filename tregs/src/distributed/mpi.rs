//! MPI transport (feature `mpi`): the same binary runs on one machine
//! (`mpirun -np 2 …`) and across machines (`mpirun -H host1,host2 …`).
//!
//! MPI itself stops a job whose process exits (mpirun kills the others and reports the
//! exit). A process that stays alive but stops answering would leave the others waiting
//! in a collective forever; a watchdog thread ends this process with a message naming the
//! collective after a timeout (default 300 s, `TREGS_COLLECTIVE_TIMEOUT` seconds or
//! [`MpiWorld::set_timeout`]), which makes mpirun stop the job.

use super::{set_communicator, Communicator};
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::datatype::PartitionMut;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Count;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// MPI for this process: installed as tregs' communicator while alive; dropping it
/// finalizes MPI (keep it alive until the end of `main`).
pub struct MpiWorld {
    communicator: Arc<MpiCommunicator>,
    _universe: Universe,
}

/// The world communicator, its calls serialized by a lock.
pub struct MpiCommunicator {
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    watchdog: Arc<Watchdog>,
}

// SAFETY: MPI is initialized with `Threading::Serialized` (or better) and every call on the
// communicator goes through the `world` lock, so no two threads call MPI at once.
unsafe impl Send for MpiCommunicator {}
// SAFETY: as above.
unsafe impl Sync for MpiCommunicator {}

struct Watchdog {
    /// The collective in progress and when it began.
    current: Mutex<Option<(&'static str, Instant)>>,
    timeout: Mutex<Duration>,
}

impl MpiWorld {
    /// Initializes MPI (once per process) and installs it with
    /// [`super::set_communicator`]. Errors when MPI was already initialized or does not
    /// give serialized threading.
    pub fn init() -> Result<MpiWorld, String> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or("MPI is already initialized in this process")?;
        if threading < Threading::Serialized {
            return Err(format!(
                "this MPI library offers {threading:?} threading; tregs needs Serialized"
            ));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let timeout = std::env::var("TREGS_COLLECTIVE_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .unwrap_or(300.0);
        let watchdog = Arc::new(Watchdog {
            current: Mutex::new(None),
            timeout: Mutex::new(Duration::from_secs_f64(timeout)),
        });
        let watched = watchdog.clone();
        std::thread::Builder::new()
            .name("tregs-mpi-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(200));
                let limit = *watched.timeout.lock().unwrap_or_else(|e| e.into_inner());
                let current = *watched.current.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((what, since)) = current {
                    if since.elapsed() > limit {
                        eprintln!(
                            "error: process {rank} of {size} waited {:.0} s in MPI {what} for \
                             the other processes: one of them died or hangs. Stopping this \
                             process (timeout: TREGS_COLLECTIVE_TIMEOUT = {} s); files already \
                             written are intact.",
                            since.elapsed().as_secs_f64(),
                            limit.as_secs_f64()
                        );
                        std::process::exit(75);
                    }
                }
            })
            .map_err(|e| format!("cannot start the MPI watchdog: {e}"))?;
        let communicator = Arc::new(MpiCommunicator {
            world: Mutex::new(world),
            rank,
            size,
            watchdog,
        });
        set_communicator(Some(communicator.clone()));
        Ok(MpiWorld {
            communicator,
            _universe: universe,
        })
    }

    pub fn rank(&self) -> usize {
        self.communicator.rank
    }

    pub fn size(&self) -> usize {
        self.communicator.size
    }

    /// The communicator (also installed for `loss!`).
    pub fn communicator(&self) -> Arc<MpiCommunicator> {
        self.communicator.clone()
    }

    /// How long a collective may wait for the other processes before this process stops.
    pub fn set_timeout(&self, timeout: Duration) {
        *self
            .communicator
            .watchdog
            .timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = timeout;
    }
}

impl Drop for MpiWorld {
    fn drop(&mut self) {
        set_communicator(None);
    }
}

impl MpiCommunicator {
    /// Runs one collective under the lock and the watchdog.
    fn collective<R>(&self, what: &'static str, f: impl FnOnce(&SimpleCommunicator) -> R) -> R {
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        *self
            .watchdog
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((what, Instant::now()));
        let out = f(&world);
        *self
            .watchdog
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        out
    }

    fn gather<T: mpi::datatype::Equivalence + Copy + Default>(
        &self,
        what: &'static str,
        local: &[T],
    ) -> Vec<T> {
        self.collective(what, |world| {
            let count = local.len() as Count;
            let mut counts = vec![0 as Count; self.size];
            world.all_gather_into(&count, &mut counts[..]);
            let displs: Vec<Count> = counts
                .iter()
                .scan(0, |acc, &c| {
                    let start = *acc;
                    *acc += c;
                    Some(start)
                })
                .collect();
            let total: Count = counts.iter().sum();
            let mut out = vec![T::default(); total as usize];
            {
                let mut partition = PartitionMut::new(&mut out[..], counts, &displs[..]);
                world.all_gather_varcount_into(local, &mut partition);
            }
            out
        })
    }

    /// Blocks until every process arrives (under the watchdog).
    pub fn barrier(&self) {
        self.collective("barrier", |world| world.barrier());
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather_f32(&self, local: &[f32]) -> Vec<f32> {
        self.gather("all-gather", local)
    }

    fn all_gather_f64(&self, local: &[f64]) -> Vec<f64> {
        self.gather("all-gather", local)
    }

    fn all_gather_u64(&self, local: &[u64]) -> Vec<u64> {
        self.gather("all-gather", local)
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) {
        self.collective("all-reduce", |world| {
            let send = values.to_vec();
            world.all_reduce_into(&send[..], values, SystemOperation::sum());
        })
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) {
        self.collective("all-reduce", |world| {
            let send = values.to_vec();
            world.all_reduce_into(&send[..], values, SystemOperation::sum());
        })
    }
}
