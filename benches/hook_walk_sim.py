#!/usr/bin/env python3
"""How long the Borůvka hook walks get on a chain of hooks (vertex i hooks onto i - 1), with
path halving written back as in `kernels/src/gpu/boruvka.rs` (`hook_jump_vertex`), under
three schedules of the walks: all in lockstep (every walk takes one step, reading the
parents as they were before the step, as on a GPU large enough to hold every walk), warps
of 32 picked at random among a few resident ones, and one walk at a time from the top of
the chain (the worst order, one walk at a time). Prints the longest walk in steps.

    python3 benches/hook_walk_sim.py [n]
"""
import random
import sys


def walk_step(parent, pos, steps, done, v, snapshot):
    r = pos[v]
    p = snapshot[r]
    if p == r:
        done[v] = True
        return
    g = snapshot[p]
    if g != p:
        parent[r] = g
    pos[v] = g
    steps[v] += 1


def simulate(n, schedule, seed=0):
    parent = [max(r - 1, 0) for r in range(n)]
    pos, steps, done = list(range(n)), [0] * n, [False] * n
    if schedule == "lockstep":
        while not all(done):
            snapshot = parent[:]
            for v in range(n):
                if not done[v]:
                    walk_step(parent, pos, steps, done, v, snapshot)
    elif schedule.startswith("warps"):
        resident_max = int(schedule.split(":")[1])
        rnd = random.Random(seed)
        pending = list(range(0, n, 32))
        rnd.shuffle(pending)
        resident = []
        while pending or resident:
            while pending and len(resident) < resident_max:
                resident.append(pending.pop())
            w = rnd.choice(resident)
            lanes = range(w, min(n, w + 32))
            snapshot = parent[:]
            for v in lanes:
                if not done[v]:
                    walk_step(parent, pos, steps, done, v, snapshot)
            if all(done[v] for v in lanes):
                resident.remove(w)
    else:  # one walk at a time, from the last vertex down
        for v in reversed(range(n)):
            while not done[v]:
                walk_step(parent, pos, steps, done, v, parent)
    return max(steps)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    print(f"chain of {n} hooks: one hook per step, the last walk takes {n - 1} steps; "
          f"grandparent jumps without write-back, {(n - 1 + 1) // 2}")
    print(f"lockstep:                      {simulate(n, 'lockstep')}")
    for resident in (8, 64):
        runs = [simulate(n, f"warps:{resident}", seed) for seed in range(3)]
        print(f"random warps, {resident:>2} resident:      {runs}")
    print(f"one walk at a time, top first: {simulate(n, 'serial')}")
