"""Benchmark probes: each module defines ``run(ctx, **args)`` yielding raw benchmark records."""
