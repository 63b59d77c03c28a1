#!/usr/bin/env bash
# The project's test command (README "Run the tests"): formatting, lints, every test,
# the GPU path included (cubecl kernels over wgpu on Mesa's lavapipe, a Vulkan driver
# that runs on the CPU, so that every machine and CI run them).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tregs-target}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# Disk: a full disk shows up as a linker killed by SIGBUS in the middle of the run, which
# names nothing. Check first, and say what is missing. What this script builds (the debug
# profile, trybuild's and Miri's folders) is all regenerated, so when space is short the
# stale builds of earlier runs go first; nothing else in the target folder is touched.
# A cold run grew the target folder by 18 GB (README, "Run the tests"); 25 leaves room.
NEED_GB=25
free_gb() {
    local dir=$1
    while [[ ! -d "$dir" ]]; do dir=$(dirname "$dir"); done
    df -Pk "$dir" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'
}
if (( $(free_gb "$CARGO_TARGET_DIR") < NEED_GB )) && [[ -d "$CARGO_TARGET_DIR" ]]; then
    echo "test.sh: only $(free_gb "$CARGO_TARGET_DIR") GB free beside $CARGO_TARGET_DIR;" \
        "removing this script's earlier builds there (debug/, tests/trybuild/, miri-*/)" >&2
    rm -rf "$CARGO_TARGET_DIR/debug" "$CARGO_TARGET_DIR/tests/trybuild" "$CARGO_TARGET_DIR"/miri-*
fi
for dir in "$CARGO_TARGET_DIR" "${TMPDIR:-/tmp}"; do
    if (( $(free_gb "$dir") < NEED_GB )); then
        echo "test.sh: only $(free_gb "$dir") GB free for $dir; a cold run needs about" \
            "$NEED_GB GB (set CARGO_TARGET_DIR or TMPDIR to a larger disk)" >&2
        exit 1
    fi
done
# Incremental caches only help a developer's edit-compile loop, not a one-shot CI run.
if [[ "${CI:-}" == true ]]; then export CARGO_INCREMENTAL=0; fi

# A Vulkan driver must exist: the wgpu tests fail (they do not skip) without an adapter.
# (No pipelines here: under `pipefail` an early `grep -q` or a missing folder would fail them.)
has_vulkan_driver() {
    local icds loader
    icds=$(compgen -G '/usr/share/vulkan/icd.d/*.json' || compgen -G '/etc/vulkan/icd.d/*.json' || true)
    loader=$(ldconfig -p 2>/dev/null || true)
    [[ -n "$icds" && "$loader" == *libvulkan.so.1* ]]
}
if ! has_vulkan_driver; then
    echo "test.sh: no Vulkan driver found; installing Mesa's lavapipe (mesa-vulkan-drivers)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    has_vulkan_driver || { echo "test.sh: still no Vulkan driver after installing lavapipe" >&2; exit 1; }
fi

# MPI (OpenMPI, and libclang for the bindings of the `mpi` crate) for the data-parallel
# tests; the default build needs none of it.
has_mpi() {
    local libs
    libs=$(ldconfig -p 2>/dev/null || true)
    command -v mpirun >/dev/null && command -v mpicc >/dev/null && [[ "$libs" == *libclang* ]]
}
if ! has_mpi; then
    echo "test.sh: no MPI found; installing OpenMPI (libopenmpi-dev openmpi-bin libclang-dev)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev >/dev/null
    has_mpi || { echo "test.sh: still no MPI after installing OpenMPI" >&2; exit 1; }
fi

GPU_FEATURES="tregs/wgpu,tregs-tests/wgpu,tregs-examples/wgpu"
MPI_FEATURES="tregs/mpi,tregs-tests/mpi,tregs-examples/mpi"
cargo fmt --all --check
cargo clippy --workspace --all-targets --features "$GPU_FEATURES,$MPI_FEATURES" -- -D warnings
# The default build (CPU only, nothing to install) must stay warning-free too.
cargo clippy -p tregs --all-targets -- -D warnings
# The opt-in SPIR-V build (feature `vulkan`) is compiled and linted, not run: Mesa's lavapipe
# crashes creating its pipelines (README, "WGSL or SPIR-V"); it runs on the GPU machine,
# with burn's matmul autotune (benches/gpu_device_build.sh).
cargo clippy -p tregs --features vulkan,autotune --bin tregs -- -D warnings
# The API docs: every intra-doc link resolves (a cubecl kernel is a function and a module of
# the same name, so links to kernels say `name()`).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
# The x86_64 SIMD builds run only where the CPU has their features; the ones this CPU lacks
# are compiled and linted but cannot be run, and the tests must be told so
# (kernels/tests/gram.rs fails otherwise, rather than skip in silence).
untested_simd=()
if [[ "$(uname -m)" == x86_64 ]]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    has_flags() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
    has_flags avx512f avx512vl avx512bw avx512dq || untested_simd+=(avx512)
    has_flags avx2 fma || untested_simd+=(avx2)
fi
TREGS_UNTESTED_SIMD=$(IFS=,; echo "${untested_simd[*]}")
export TREGS_UNTESTED_SIMD
if [[ -n "$TREGS_UNTESTED_SIMD" ]]; then
    echo "test.sh: NOTE: this CPU lacks ${TREGS_UNTESTED_SIMD}: those SIMD builds (Gram" \
        "micro-kernels, Borůvka row scan, Prim relax) are compiled and linted, NOT run" \
        "natively here (the Miri step at the end runs them in its interpreter)" >&2
fi
# Everything, on the default features (the kernel-source snapshots need no device)...
cargo test --workspace
# ...then the GPU path itself. Kept apart so that trybuild's own builds of the UI tests
# do not have to compile the wgpu stack a second time.
# The `tregs` CLI's GPU path (eval, bench) is built in the same invocation, so that the two
# packages share one build of the wgpu stack.
cargo test -p tregs-tests -p tregs --features "tregs/wgpu,tregs-tests/wgpu" \
    --test gpu_path --test gpu_launches --test gpu_split_f16 --test cli
# The recipes with --backend wgpu (pretrain and clip, a few steps).
cargo test -p tregs-examples --features wgpu --test recipes_gpu
# Data-parallel: the global-batch terms and sharded Borůvka under `mpirun -np 2` and
# `-np 3`, then `pretrain --steps` with 2 processes against 1, and a dead or hung process.
cargo test -p tregs-tests --features mpi --test mpi
cargo test -p tregs-examples --features mpi --test data_parallel
# The CPU kernels' unsafe code under Miri, AVX-512 builds included (.ci/miri.sh), where a
# nightly toolchain with Miri is installed; the stable toolchain is all the rest needs, so
# a machine without it says so instead of failing.
# Under CI (90 minutes at most) a run that rebuilt everything (a cold cache: 67 minutes on
# 2 cores) has no room left for Miri's two configurations (about 20 minutes cold): it says
# so rather than let the whole run time out.
MIRI_LATEST_START_S=$((60 * 60))
if [[ "${CI:-}" == true ]] && (( SECONDS > MIRI_LATEST_START_S )); then
    echo "test.sh: NOTE: this run has taken $((SECONDS / 60)) minutes of CI's 90 (a cold" \
        "build): the unsafe-code check (.ci/miri.sh) did NOT run; the next run, warm, has it" >&2
elif cargo +nightly miri --version >/dev/null 2>&1; then
    bash .ci/miri.sh
else
    echo "test.sh: NOTE: no nightly toolchain with Miri here: the unsafe-code check" \
        "(.ci/miri.sh) did NOT run; install it with" \
        "'rustup toolchain install nightly --component miri' and run .ci/miri.sh" >&2
fi
