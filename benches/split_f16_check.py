"""The split-f16 distances (tensor cores) against the CPU, through `tregs eval`.

On a GPU machine, with the binaries of `benches/gpu_device_build.sh` in the working
directory: for each size, a Gaussian pair (z, z2 = z + 0.1 noise) is written as .npy and
the T-REGS objective evaluated by `tregs eval` on the CPU (Flex) and on the GPU
(`tregs_vk`: SPIR-V, where Vulkan's cooperative matrices give tensor cores) with
`--distance f32` and `--distance split-f16`. Prints, per size and method, the total's
relative difference from the CPU's, the largest gradient difference (relative to
max(|g|, 1e-3 of the largest)), and the GPU call's median ms; exits 1 when a method is
off by more than the GPU tests allow (1e-5 on the total, 1e-4 on the gradients).

    python3 split_f16_check.py --sizes 1024x128,2048x256,4096x2048
"""

import argparse
import json
import subprocess
import sys

import numpy as np

LOSS = "β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))"
COEFS = ["--coef", "beta=10", "--coef", "gamma=0.2", "--coef", "lambda=8e-4"]


def evaluate(binary, extra, grad):
    cmd = [binary, "eval", "--points", "z.npy", "--points2", "z2.npy", "--loss", LOSS,
           *COEFS, "--json", "--grad", grad, *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout), np.load(grad)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1024x128,2048x256,4096x2048")
    parser.add_argument("--gpu-binary", default="./tregs_vk")
    parser.add_argument("--cpu-binary", default="./tregs")
    args = parser.parse_args()
    failed = False
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.split("x"))
        rng = np.random.default_rng(n * d)
        z = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
        z2 = (z + 0.1 * rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
        np.save("z.npy", z)
        np.save("z2.npy", z2)
        cpu, g_cpu = evaluate(args.cpu_binary, [], "g_cpu.npy")
        floor = 1e-3 * np.abs(g_cpu).max()
        for method in ["f32", "split-f16"]:
            extra = ["--backend", "wgpu", "--distance", method, "--repeat", "5"]
            gpu, g_gpu = evaluate(args.gpu_binary, extra, "g_gpu.npy")
            total = abs(gpu["total"] - cpu["total"]) / abs(cpu["total"])
            grad = (np.abs(g_gpu - g_cpu) / np.maximum(np.abs(g_cpu), floor)).max()
            ok = total <= 1e-5 and grad <= 1e-4
            failed |= not ok
            print(f"{n}x{d} {method:>9}: total rel diff {total:.2e}, gradient rel diff "
                  f"{grad:.2e}, call median {gpu['ms']['median']:.2f} ms "
                  f"{'ok' if ok else 'OFF'}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
