"""Throw-away virtual environments with hand-written packages (a framework that raises, crashes or
hangs on import; conda metadata), built in tmp_path so the shared cached venvs stay clean."""
from __future__ import annotations

import json
import sys
import venv
from pathlib import Path


def bare_venv(root: Path) -> Path:
    """A fresh venv without pip (fast); returns its python."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    return root / "bin" / "python"


def site_packages(python: Path) -> Path:
    root = python.parent.parent
    return root / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def add_package(python: Path, name: str, version: str, *, code: str | None = None, installer: str | None = "pip",
                direct_url: dict | None = None, requested: bool = False) -> Path:
    """Write <name>/__init__.py (when code is given) and <name>-<version>.dist-info into the venv."""
    site = site_packages(python)
    if code is not None:
        (site / name).mkdir(parents=True, exist_ok=True)
        (site / name / "__init__.py").write_text(code)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if installer is not None:
        (info / "INSTALLER").write_text(installer + "\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    if requested:
        (info / "REQUESTED").write_text("")
    return info


def add_conda_record(python: Path, name: str, version: str, build: str, channel: str, files: list[str]) -> None:
    meta = python.parent.parent / "conda-meta"
    meta.mkdir(exist_ok=True)
    record = {"name": name, "version": version, "build": build, "build_number": 0, "channel": channel,
              "files": files, "depends": []}
    (meta / f"{name}-{version}-{build}.json").write_text(json.dumps(record))
