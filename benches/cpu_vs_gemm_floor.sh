#!/usr/bin/env bash
# The CPU goal of issue 2, measured the only fair way on a shared machine: the whole two-view
# T-REGS objective (forward + backward, `tregs bench`) alternated with the GEMM floor (the two
# bare `z @ z.T` products in PyTorch and numpy, ../shared/tools/gemm_floor.py), ROUNDS times,
# same sizes, same minutes. Prints one JSON line per measurement.
# usage: benches/cpu_vs_gemm_floor.sh [N D ROUNDS]   (default 1024 2048 3)
set -euo pipefail
n=${1:-1024}
d=${2:-2048}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
floor="$root/../shared/tools/gemm_floor.py"
[[ -f $floor ]] || { echo "error: $floor not found (the shared tools folder)" >&2; exit 1; }
cargo build --release -q -p tregs --bin tregs --manifest-path "$root/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for ((r = 1; r <= rounds; r++)); do
    python3 "$floor" "$n" "$d"
    "$target_dir/release/tregs" bench --sizes "${n}x${d}" --reps 10 --json |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(json.dumps({"tregs_objective_ms": r["ms"], "tregs_distance_ms_one_view": r["distance_ms"]}))'
done
