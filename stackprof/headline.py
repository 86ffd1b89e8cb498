"""The one-number summary of a Run's benchmarks, and the max achievable per operation.

score = geometric mean, over the key kernels, of pct_of_best of each framework's default path
(variant null: what a user gets without opting in to TF32, channels_last, a forced backend or
torch.compile) at its best shape. A score of 0.41 reads "this environment reaches 41% of the best
measured on this machine for the same operations". Every measured dtype counts.
"""
from __future__ import annotations

from stackprof import stats

KEY_OPS = ("gemm", "conv2d", "sdpa", "stream_triad", "softmax", "layer_norm")
METHOD = ("geometric mean, over key kernels (" + ", ".join(KEY_OPS) + "; each framework's default "
          "path at its best shape, every dtype measured), of the result as a fraction of the best "
          "measured on this machine for the same operation, device and dtype (pct_of_best); the best "
          "includes re-runs that verify made with a confirmed fix applied")


def _better(a: dict, b: dict) -> bool:
    lower = a.get("direction") == "lower"
    return a["value"] < b["value"] if lower else a["value"] > b["value"]


def best_per_framework(records: list[dict], default_path_only: bool) -> dict[tuple[str, str], dict]:
    best: dict[tuple[str, str], dict] = {}
    for record in records:
        if record.get("status") != "ok" or record.get("value") is None:
            continue
        if default_path_only and (record.get("variant") is not None or record.get("role") == "search"):
            continue
        key = (record.get("op_key"), record.get("framework"))
        if key not in best or _better(record, best[key]):
            best[key] = record
    return best


def compute(records: list[dict]) -> dict:
    chosen = [r for (key, _), r in best_per_framework(records, True).items()
              if r.get("op") in KEY_OPS and r.get("pct_of_best") is not None]
    chosen.sort(key=lambda r: (r["op_key"], r["framework"]))
    components = [{"op_key": r["op_key"], "id": r["id"], "framework": r["framework"],
                   "pct_of_best": r["pct_of_best"], "best_id": (r.get("best_on_machine") or {}).get("id")}
                  for r in chosen]
    fixes = sorted({(r.get("best_on_machine") or {}).get("fix") for r in chosen} - {None})
    score = stats.geometric_mean([c["pct_of_best"] for c in components]) if components else None
    if score is None:
        text = "no key kernel was measured"
    else:
        text = (f"this environment reaches {score:.0%} of the best measured on this machine "
                f"(geometric mean over {len(components)} key kernel results"
                + (f"; the best includes re-runs with the confirmed {', '.join(fixes)} fix applied)" if fixes else ")"))
    maxima = [{"op_key": r["op_key"], "framework": r["framework"], "id": r["id"], "value": r["value"],
               "unit": r["unit"], "shape": r.get("shape"), "variant": r.get("variant")}
              for r in best_per_framework(records, False).values()]
    maxima.sort(key=lambda m: (m["op_key"], m["framework"]))
    return {"score": score, "text": text, "method": METHOD, "components": components,
            "max_achievable": maxima}
