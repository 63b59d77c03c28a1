#!/usr/bin/env bash
# The CPU kernels' unsafe code under Miri: kernels/tests/unsafe_paths.rs (every SIMD build
# of the Gram micro-kernels, their packing and stores, the workers' shared output, Prim's
# relax step, Borůvka's row scan, the row passes), interpreted with Miri's checks for
# out-of-bounds and misaligned accesses, uninitialized reads, data races and aliasing.
#
# Run twice: with AVX-512 enabled, so that the AVX-512 builds, which this project's CPUs
# cannot execute, run somewhere and are compared with the portable code; and with AVX2+FMA
# only, so that the AVX2 builds chosen at run time (column statistics, Prim's relax step)
# are the ones checked. Each configuration has its own target folder: the flags differ,
# and one folder would rebuild every dependency at each switch (about 6 minutes each).
#
# Needs a nightly toolchain with the `miri` component (installed here if missing:
# `rustup toolchain install nightly --component miri,rust-src`). .ci/test.sh runs this script when
# that toolchain is present, and says so when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${CARGO_TARGET_DIR:-$HOME/.cache/tregs-target}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "miri.sh: installing the nightly toolchain's miri component" >&2
    rustup toolchain install nightly --profile minimal --component miri,rust-src >&2
fi
cargo +nightly miri setup >/dev/null

# Tree Borrows: rayon's work-stealing deque (crossbeam-epoch) breaks the older Stacked
# Borrows rules inside its own code, which would stop the run before ours. Permissive
# provenance: crossbeam casts integers to pointers. Leaks: rayon's pool outlives main.
# Deterministic floats: Miri otherwise perturbs log2/exp2 by an ulp at random, as a libm
# may, and the centring shift (a power of two from log2 and exp2) would then differ
# between two calls of one test that compares them bit for bit.
export MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-permissive-provenance -Zmiri-ignore-leaks -Zmiri-deterministic-floats"
configs=("avx512:+avx2,+fma,+avx512f,+avx512vl,+avx512bw,+avx512dq" "avx2:+avx2,+fma")
# `miri_test NAME:FEATURES [cargo test args]`: the test file in that configuration's folder.
miri_test() {
    local name="${1%%:*}" features="${1#*:}"
    shift
    CARGO_TARGET_DIR="$base/miri-$name" RUSTFLAGS="-C target-feature=$features" \
        cargo +nightly miri test -p tregs-kernels --test unsafe_paths "$@"
}
# Built one after the other (cargo's output stays readable), then run side by side: Miri
# is single-threaded and each run takes minutes.
for config in "${configs[@]}"; do miri_test "$config" -q --no-run; done
pids=()
for config in "${configs[@]}"; do
    (miri_test "$config" 2>&1 | sed "s/^/[miri ${config%%:*}] /") &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status != 0 ]]; then
    echo "miri.sh: FAILED (see the [miri ...] lines above)" >&2
    exit 1
fi
echo "miri.sh: both configurations passed" >&2
