"""stackprof on every rank of a torch.distributed job (docs/schema-dist.md).

Two sides live here:

- **the per-rank side** — ``python -m stackprof.dist`` / ``torchrun … -m stackprof.dist``, or this
  folder's ``__main__.py`` run as a script by ``stackprof dist``: ``rank``, ``outdir``, ``plan``,
  ``placement``, ``gpu_nvml``, ``probe_loader``, ``machine``. It runs in the training environment, so it uses the
  standard library and torch only, imports nothing of stackprof outside these modules (relative
  imports only: it may be loaded under a synthetic package name, like the probes), parses under
  Python 3.8, and reuses the probes (facts, per-device benchmarks, collectives) by file path.
- **the host side** — ``launch`` (runs torchrun), ``merge`` (rank folders → one Run), ``envdiff``,
  ``stragglers``, ``whatif``: ordinary stackprof modules, imported by ``stackprof dist``.

A test checks that no per-rank module imports a host module or anything outside the standard library
and torch.
"""
PER_RANK_MODULES = ("__init__", "__main__", "rank", "outdir", "plan", "placement", "gpu_nvml", "probe_loader",
                    "machine")
