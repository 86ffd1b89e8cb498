"""Fact paths: flatten a Run's environment into {path: value} and match paths against patterns.

Paths are dotted (``torch.config.build_settings.USE_MKL``); items of lists of records get a stable key
in brackets instead of a position, so that the same library or package lines up across runs
(``packages[numpy]``, ``native_libs.libraries[blas:openblas].architecture``, ``gpus.devices[0].name``).
Patterns use ``*`` as the only wildcard (it matches anything, dots and brackets included).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

# Facts that change from one run to the next on an unchanged environment (pytest-benchmark#255):
# never part of an environment diff.
VOLATILE = (
    "system.cpu.cur_mhz", "system.memory.available_bytes", "system.cgroup.throttling*",
    "*.import_s", "*elapsed_s", "*timestamp*", "*uptime*", "*load_avg*", "*.errors*", "errors*",
    "gpus.devices[*].clocks.sm_mhz", "gpus.devices[*].clocks.mem_mhz", "gpus.devices[*].temperature_c",
    "gpus.devices[*].power.draw_w", "gpus.devices[*].memory_used_bytes", "gpus.devices[*].memory_free_bytes",
    "gpus.devices[*].utilization*", "gpus.devices[*].fan*",
    "torch.config.raw",          # the parsed build_settings/versions beside it carry the same facts
)

ABSENT = object()                # a fact one run has and another lacks


def pattern_regex(pattern: str) -> re.Pattern:
    return _compile(pattern)


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z")


def matches(path: str, patterns) -> bool:
    return any(_compile(p).match(path) for p in patterns)


def is_volatile(path: str) -> bool:
    return matches(path, VOLATILE)


def flatten_environment(environment: dict) -> dict[str, object]:
    """{path: JSON scalar or list} for every non-volatile fact of a Run's environment."""
    out: dict[str, object] = {}
    for section, facts in (environment or {}).items():
        if section == "packages" and isinstance(facts, dict) and isinstance(facts.get("distributions"), list):
            _packages(facts, out)
        else:
            _walk(facts, str(section), out)
    return {k: v for k, v in out.items() if not is_volatile(k)}


def _walk(node, path: str, out: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(value, f"{path}.{key}", out)
    elif isinstance(node, list) and node and all(isinstance(i, dict) for i in node):
        for key, item in zip(_item_keys(path, node), node):
            _walk(item, f"{path}[{key}]", out)
    else:
        out[path] = node


def _item_keys(path: str, items: list[dict]) -> list[str]:
    """Stable keys for a list of records: a native library by its API (blas:openblas), a device by its
    index, else its name, else its position."""
    if all("internal_api" in i for i in items):     # native libraries (threadpoolctl records)
        raw = [f"{i.get('user_api') or '?'}:{i.get('internal_api') or i.get('prefix') or '?'}" for i in items]
    else:
        field = next((f for f in ("index", "name", "id") if all(f in i for i in items)
                      and len({json.dumps(i[f]) for i in items}) == len(items)), None)
        raw = [str(i[field]) for i in items] if field else [str(n) for n in range(len(items))]
    seen: dict[str, int] = {}
    keys = []
    for key in raw:                          # two OpenBLAS copies (numpy's, scipy's): blas:openblas, blas:openblas#2
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


def _packages(section: dict, out: dict) -> None:
    """One fact per distribution — its version and how it was installed — so that a package present
    on one side only is one row, not ten."""
    for key, value in section.items():
        if key != "distributions":
            _walk(value, f"packages.{key}", out)
    for dist in section["distributions"]:
        if isinstance(dist, dict) and dist.get("name"):
            out[f"packages[{dist['name']}]"] = package_summary(dist)


def package_summary(dist: dict) -> str:
    parts = [str(dist.get("version") or "?")]
    if dist.get("installer"):
        parts.append(f"({dist['installer']})")
    conda = dist.get("conda")
    if isinstance(conda, dict) and (conda.get("channel") or conda.get("build")):
        parts.append(f"conda {conda.get('channel') or '?'}/{conda.get('build') or '?'}")
    if dist.get("editable"):
        parts.append("editable")
    if dist.get("location_kind") not in (None, "site-packages", "dist-packages"):
        parts.append(f"[{dist['location_kind']}]")
    if dist.get("direct_url") and not dist.get("editable"):
        parts.append(f"from {dist['direct_url']}")
    return " ".join(parts)


def canonical(value) -> str:
    """Equality key of a fact value (dict order and int/float spelling do not matter)."""
    if value is ABSENT:
        return "\0absent"
    return json.dumps(_normal(value), sort_keys=True, default=str)


def _normal(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def section_of(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]
