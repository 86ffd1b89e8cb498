"""Fact probes: each module defines ``collect(ctx, **args) -> dict`` (raw facts, no judgement)."""
