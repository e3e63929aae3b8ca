# The float32 matmul rate of an independent BLAS (numpy's), for RuntimeBenchmark: the same
# [512x2048]x[2048x8192] product, best of several runs. Prints "<GFLOP/s> <blas name and version>".
import sys
import time

import numpy as np

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 6
a = np.random.default_rng(0).standard_normal((512, 2048), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((2048, 8192), dtype=np.float32)
a @ b
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - start)
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
except Exception:  # numpy < 1.25 has no mode="dicts"
    name = "numpy's BLAS"
print(f"{2 * 512 * 2048 * 8192 / best / 1e9:.1f} numpy {np.__version__}, {name}")
