"""Most of its time in numpy matrix products (BLAS): float64 GEMMs for about SECONDS seconds."""
import sys
import time

import numpy as np

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
rng = np.random.default_rng(0)
a, b = rng.random((512, 512)), rng.random((512, 512))
end = time.perf_counter() + seconds
calls = 0
while time.perf_counter() < end:
    a @ b
    calls += 1
print(f"matmul: {calls} products")
