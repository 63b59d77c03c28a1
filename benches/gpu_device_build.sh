#!/usr/bin/env bash
# Builds, on a machine without a GPU, everything the GPU device check runs, and packs it for
# the lent GPU machine (which has no Rust toolchain and no internet):
#   .devbin/gpu/bins.tar.xz  tregs (WGSL) and tregs_vk (SPIR-V, with burn's matmul autotune)
#                            CLIs, the gpu_path, gpu_launches and gpu_split_f16 test binaries (dev profile: opt-level 2, kernels 3;
#                            symbols stripped, ~40 MB: the device call carries 64 MiB at most)
#   .gl/*.deb                the Vulkan loader and GL dispatch libraries (see the device
#                            README: the machine's NVIDIA driver ships the ICD, not the loader)
# Then run `benches/gpu_device_check.sh` there with carry [".devbin/gpu", ".gl"].
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tregs-target}"
grep -qx '/.devbin/' .git/info/exclude || echo /.devbin/ >> .git/info/exclude
grep -qx '/.gl/' .git/info/exclude || echo /.gl/ >> .git/info/exclude
rm -rf /tmp/tregs-gpu-bins
mkdir -p .devbin/gpu .gl /tmp/tregs-gpu-bins
if ! ls .gl/libvulkan1_*.deb > /dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
# Test binaries: the path of each comes from cargo's JSON messages.
tests_json=$(cargo test -p tregs-tests --features wgpu --test gpu_path --test gpu_launches --test gpu_split_f16 \
  --no-run --message-format=json 2>/dev/null)
for t in gpu_path gpu_launches gpu_split_f16; do
  exe=$(printf '%s\n' "$tests_json" | python3 -c "
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get('reason') == 'compiler-artifact' and m['target']['name'] == '$t' and m.get('executable'):
        print(m['executable'])" | tail -1)
  cp "$exe" /tmp/tregs-gpu-bins/$t
done
cargo build -q -p tregs --features vulkan,autotune --bin tregs
cp "$CARGO_TARGET_DIR/debug/tregs" /tmp/tregs-gpu-bins/tregs_vk
cargo build -q -p tregs --features wgpu --bin tregs
cp "$CARGO_TARGET_DIR/debug/tregs" /tmp/tregs-gpu-bins/tregs
strip --strip-all /tmp/tregs-gpu-bins/*
cp benches/torch_tregs.py benches/split_f16_check.py /tmp/tregs-gpu-bins/
tar -C /tmp/tregs-gpu-bins -cJf .devbin/gpu/bins.tar.xz .
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')" \
  > .devbin/gpu/commit
ls -la .devbin/gpu .gl
