"""Steps shared by the commands: choosing targets, creating and finalizing a Run."""
from __future__ import annotations

import re
import sys

from stackprof.model import Run
from stackprof.redact import Redactor
from stackprof.target import Target


def targets_for(pythons: tuple[str, ...]) -> list[Target]:
    return [Target(p) for p in (pythons or (sys.executable,))]


def labels_for(targets: list[Target], labels: tuple[str, ...]) -> list[str]:
    names = list(labels)
    for target in targets[len(names):]:
        names.append(_default_label(target, names))
    return names


def _default_label(target: Target, taken: list[str]) -> str:
    parts = [p for p in re.split(r"[\\/]", target.executable) if p]
    # ".../envA/bin/python" -> "envA"; else the interpreter name
    name = parts[-3] if len(parts) >= 3 and parts[-2] in ("bin", "Scripts") else parts[-1]
    label, n = name, 2
    while label in taken:
        label, n = f"{name}-{n}", n + 1
    return label


def new_run(label: str, mode: str, redact: bool, **options) -> Run:
    return Run(label=label, options={"mode": mode, "redact": redact, **options})


def finalize(run: Run, redact: bool) -> Run:
    """Last step before anything is written or printed: secrets (always) and identity (default)."""
    clean = Redactor(identity=redact).walk(run.to_dict())
    return Run.from_dict(clean)
