#!/usr/bin/env bash
# The GPU device check, run ON the lent GPU machine from the repository root, after
# `benches/gpu_device_build.sh` here:
#   run(command="bash benches/gpu_device_check.sh", carry=[".devbin/gpu", ".gl"], timeout_s=540)
# It runs the GPU tests over NVIDIA's Vulkan driver, the split-f16 distances on tensor
# cores against the CPU, then `tregs bench --backend wgpu` for WGSL, SPIR-V and SPIR-V with
# split-f16 distances alternated (same sizes as README's table), SPIR-V with checks deferred,
# a per-kernel device-time profile, both Borůvka schedules at small n, then the PyTorch
# recipe.
# Everything lands in $OUT; copy it to benches/results/<gpu>-<date>/ and update README.
set -x
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES="${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}" XDG_RUNTIME_DIR=/tmp
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
cat .devbin/gpu/commit | tee -a "$OUT/gpu.txt"
mkdir -p /tmp/b && tar -C /tmp/b -xJf .devbin/gpu/bins.tar.xz
cd /tmp/b
timeout 120 ./gpu_path --test-threads 1 > "$OUT/gpu_path.txt" 2>&1; echo "rc=$?" >> "$OUT/gpu_path.txt"
timeout 60 ./gpu_launches > "$OUT/gpu_launches.txt" 2>&1; echo "rc=$?" >> "$OUT/gpu_launches.txt"
# The longest Borůvka hook walk on a chain of 4096 hooks (path halving; lavapipe: 3 to 771).
timeout 30 ./gpu_path a_chain_of_hooks --nocapture 2>&1 | grep -E 'longest|test result' | tee "$OUT/hook_walk.txt"
timeout 60 ./gpu_split_f16 --test-threads 1 > "$OUT/gpu_split_f16.txt" 2>&1; echo "rc=$?" >> "$OUT/gpu_split_f16.txt"
tail -n 3 "$OUT/gpu_path.txt" "$OUT/gpu_launches.txt" "$OUT/gpu_split_f16.txt"
# Tensor cores (SPIR-V: Vulkan's cooperative matrices; WGSL has none): the split-f16
# distances' objective and gradients against the CPU's, and the device's f16 matrix types.
timeout 120 python3 split_f16_check.py --sizes 1024x128,2048x256,4096x2048 \
  > "$OUT/split_f16_check.txt" 2>&1; echo "rc=$?" >> "$OUT/split_f16_check.txt"; cat "$OUT/split_f16_check.txt"
S="${TREGS_SIZES:-1024x128,1024x2048,4096x128,4096x2048,8192x128,8192x2048}"
# Output lands in $OUT as it goes, so a run cut off by its time limit keeps what came
# first: the steps run in the order of what decides the next change.
round() {
  timeout 90 ./tregs bench --backend wgpu --reps 10 --sizes $S > "$OUT/wgsl_$1.txt" 2>&1
  timeout 90 ./tregs_vk bench --backend wgpu --reps 10 --sizes $S > "$OUT/spirv_$1.txt" 2>&1
  timeout 90 ./tregs_vk bench --backend wgpu --reps 10 --sizes $S --distance split-f16 \
    > "$OUT/spirv_split_f16_$1.txt" 2>&1
  tail -n 8 "$OUT/wgsl_$1.txt" "$OUT/spirv_$1.txt" "$OUT/spirv_split_f16_$1.txt"
}
round 1
# Checks deferred (no read-back between forward and backward) against the rounds above.
timeout 45 ./tregs_vk bench --backend wgpu --reps 10 --sizes 1024x128,4096x128,4096x2048 \
  --deferred-checks > "$OUT/spirv_deferred.txt" 2>&1; tail -n 5 "$OUT/spirv_deferred.txt"
# Device time per kernel (cubecl's profiler times each kernel alone, so this run's call
# times are not comparable): one table per call, kept without the kernels' sources.
CUBECL_DEBUG_LOG=/tmp/cubecl.log CUBECL_DEBUG_OPTION=profile timeout 60 ./tregs_vk bench \
  --backend wgpu --reps 1 --sizes 1024x128,4096x2048 > /dev/null 2>&1
grep '^|' /tmp/cubecl.log > "$OUT/kernel_profile.txt"; grep -c Total "$OUT/kernel_profile.txt"
CUBECL_DEBUG_LOG=/tmp/cubecl_split.log CUBECL_DEBUG_OPTION=profile timeout 45 ./tregs_vk bench \
  --backend wgpu --reps 1 --sizes 4096x2048 --distance split-f16 > /dev/null 2>&1
grep '^|' /tmp/cubecl_split.log > "$OUT/kernel_profile_split_f16.txt"
# The second round, against the machine's noise.
round 2
# Where one-cube Borůvka stops paying (ONE_CUBE_MAX_ROWS): both schedules, small n (one cube up to 1024).
timeout 45 ./tregs bench --backend wgpu --reps 10 --sizes 128x128,256x128,512x128,1024x128,2048x128 \
  > "$OUT/schedules.txt" 2>&1; tail -n 6 "$OUT/schedules.txt"
# The PyTorch recipe (measured on the H100 on 2026-11-27 already).
timeout 80 python3 torch_tregs.py --reps 3 --sizes 1024x128,1024x2048,4096x2048 > "$OUT/torch.txt" 2>&1; tail -n 6 "$OUT/torch.txt"
