"""Fact probes: each module defines ``collect(ctx, **args) -> dict`` (raw facts, no judgement).
Modules starting with "_" are helpers shared by the probes (file readers, loaded-library queries,
framework import, secret patterns); the list and order of probes is stackprof/collect.py::FACT_PROBES."""
