"""Real CPU quotas for tests: a cgroup made by the test (v2 where its cpu controller can be enabled,
else v1's cpu controller), removed afterwards. ``cpu_quota(cores)`` yields a shell prefix that runs
a command inside the group, or skips the test with the reason when neither version can be created
(no root, a read-only /sys/fs/cgroup, no cpu controller)."""
from __future__ import annotations

import contextlib
import os
import shlex
import time
import uuid
from pathlib import Path

import pytest

PERIOD_US = 100_000


def _mounts() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        if parts[2] == "cgroup2":
            found.setdefault("v2", parts[1])
        elif parts[2] == "cgroup" and "cpu" in parts[3].split(","):
            found.setdefault("v1", parts[1])
    return found


def _make_v2(root: str, cores: float) -> Path | None:
    base = Path(root)
    if "cpu" not in (base / "cgroup.controllers").read_text().split():
        return None
    group = base / f"stackprof-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    (group / "cpu.max").write_text(f"{int(cores * PERIOD_US)} {PERIOD_US}")
    return group


def _make_v1(root: str, cores: float) -> Path:
    group = Path(root) / f"stackprof-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (group / "cpu.cfs_quota_us").write_text(str(int(cores * PERIOD_US)))
    return group


@contextlib.contextmanager
def cpu_quota(cores: float):
    """Yield (shell prefix, version): `prefix + "exec cmd"` runs cmd inside a group limited to `cores`."""
    mounts, group, version, errors = _mounts(), None, None, []
    for kind, make in (("v2", _make_v2), ("v1", _make_v1)):
        if kind not in mounts:
            continue
        try:
            group = make(mounts[kind], cores)
        except OSError as exc:
            errors.append(f"cgroup {kind}: {exc.strerror or exc}")
            continue
        if group is not None:
            version = kind
            break
        errors.append(f"cgroup {kind}: no cpu controller to enable")
    if group is None:
        pytest.skip("cannot create a cgroup with a CPU quota here: " + ("; ".join(errors) or "no cgroup mounted"))
    try:
        yield f"echo $$ > {shlex.quote(str(group / 'cgroup.procs'))} && ", version
    finally:
        for _ in range(50):                 # the group is removable once its processes have exited
            try:
                os.rmdir(group)
                break
            except OSError:
                time.sleep(0.1)
