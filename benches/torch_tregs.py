"""The common PyTorch recipe for the T-REGS objective, as a baseline for `tregs bench`.

torch.cdist for the distances, SciPy's minimum_spanning_tree on the host for the tree, the
tree's edge lengths recomputed in torch so that autograd gives the gradient. Two views,
forward plus backward, f32, Gaussian points N(0, 1/d), on the GPU when there is one.

    python3 benches/torch_tregs.py --sizes 1024x128,4096x2048 --reps 10
"""

import argparse
import json
import time

import numpy as np
import torch
from scipy.sparse.csgraph import minimum_spanning_tree

BETA, GAMMA, LAMBDA = 10.0, 0.2, 8e-4


def mst_len(z):
    """L_E = -(1/n) * sum of the MST edge lengths, the tree found on the host."""
    d2 = torch.cdist(z.detach(), z.detach())
    tree = minimum_spanning_tree(d2.cpu().numpy()).tocoo()
    u = torch.as_tensor(tree.row, device=z.device, dtype=torch.long)
    v = torch.as_tensor(tree.col, device=z.device, dtype=torch.long)
    return -(z[u] - z[v]).norm(dim=1).sum() / z.shape[0]


def sphere(z):
    return ((z.norm(dim=1) - 1.0) ** 2).mean()


def objective(z, z2):
    mse = torch.nn.functional.mse_loss(z, z2)
    return BETA * mse + GAMMA * (mst_len(z) + mst_len(z2)) + LAMBDA * (sphere(z) + sphere(z2))


def timed(fn, reps, device):
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        ms.append((time.perf_counter() - start) * 1e3)
    return min(ms), float(np.median(ms))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1024x128,1024x2048,4096x128,4096x2048,8192x128,8192x2048")
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    rows = []
    for size in args.sizes.split(","):
        n, d = (int(x) for x in size.split("x"))
        g = torch.Generator().manual_seed(n * 7919 + d)
        z = (torch.randn(n, d, generator=g) / d**0.5).to(device).requires_grad_()
        z2 = (torch.randn(n, d, generator=g) / d**0.5).to(device).requires_grad_()

        def step():
            z.grad = None
            z2.grad = None
            objective(z, z2).backward()

        call = timed(step, args.reps, device)
        cdist = timed(lambda: torch.cdist(z.detach(), z.detach()), args.reps, device)
        gram = timed(lambda: z.detach() @ z.detach().T, args.reps, device)
        rows.append({"n": n, "d": d, "call_ms": call, "cdist_ms": cdist, "gram_ms": gram})
        print(f"| {n:5} | {d:5} | {call[0]:9.2f} | {call[1]:9.2f} | {cdist[1]:9.3f} | {gram[1]:9.3f} |", flush=True)
    print(json.dumps({"device": name, "torch": torch.__version__, "results": rows}))


if __name__ == "__main__":
    main()
