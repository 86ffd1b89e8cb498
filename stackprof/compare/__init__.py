"""Compare runs: environment diff, per-benchmark verdicts, attribution of differences to facts.

``compare_runs(runs) -> dict`` builds the Comparison document (``stackprof.comparison/1``);
renderers live in stackprof/render/compare_*.py.
"""
from stackprof.compare.document import COMPARISON_SCHEMA, check_comparison, compare_runs, load_runs

__all__ = ["COMPARISON_SCHEMA", "check_comparison", "compare_runs", "load_runs"]
