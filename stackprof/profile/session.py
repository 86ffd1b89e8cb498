"""The profile step of a command: record, put the section into the Run, keep the raw profile (redacted)
beside the report, and add the findings that read it. Used by `stackprof profile` and `stackprof run --profile`."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from stackprof.model import Run
from stackprof.profile.record import Options, Recorder, Recording
from stackprof.profile.summarize import RAW_NAME, summarize
from stackprof.redact import Redactor

PYTHON_NAME = re.compile(r"^(python|pypy)[0-9.]*(\.exe)?$")


def interpreter_for(command: list[str] | None, pid: int | None) -> tuple[str | None, str]:
    """The interpreter whose environment the profiled program runs in, and how it was found."""
    if pid is not None:
        try:
            return os.readlink(f"/proc/{pid}/exe"), f"/proc/{pid}/exe"
        except OSError:
            return None, f"cannot read /proc/{pid}/exe"
    if not command:
        return None, "no command"
    first = command[0]
    path = first if os.sep in first else (shutil.which(first) or first)
    if PYTHON_NAME.match(os.path.basename(first)):
        return path, "the command's interpreter"
    try:                                    # a console script (torchrun, accelerate…): its #! line
        with open(path, "rb") as handle:
            line = handle.readline(400).decode("utf-8", "replace").strip()
    except OSError:
        return None, f"{first} is not a file stackprof can read"
    if line.startswith("#!"):
        parts = line[2:].split()
        if parts and parts[0].endswith("/env") and len(parts) > 1:
            parts = [shutil.which(parts[1]) or parts[1]]
        if parts and PYTHON_NAME.match(os.path.basename(parts[0])):
            return parts[0], f"the #! line of {first}"
    return None, f"{first} does not name a Python interpreter"


def record(opts: Options, command: list[str] | None = None, pid: int | None = None, say=None) -> Recording:
    workdir = Path(tempfile.mkdtemp(prefix="stackprof-profile-"))
    recorder = Recorder(opts, workdir=workdir, say=say)
    return recorder.attach(pid) if pid is not None else recorder.launch(list(command or []))


def attach(run: Run, rec: Recording) -> None:
    """Summarize the recording into run.profile (reads run.environment to name the BLAS library)."""
    started = time.perf_counter()
    run.profile = summarize(rec, run.environment)
    for message in rec.errors:
        run.add_error("profile", "py-spy", message, kind="partial" if rec.raw_path else "error")
    run.timings["profile_analysis_s"] = round(time.perf_counter() - started, 3)


def keep_raw(rec: Recording, outdir: str | Path, redact: bool) -> Path | None:
    """Copy py-spy's raw profile beside the report, through the same redaction as every other output."""
    if not rec.raw_path or not Path(rec.raw_path).exists():
        return None
    out = Path(outdir) / RAW_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    redactor = Redactor(identity=redact)
    tmp = out.with_name(out.name + ".tmp")
    with open(rec.raw_path, encoding="utf-8", errors="replace") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(redactor.text(line))
    tmp.replace(out)
    shutil.rmtree(Path(rec.raw_path).parent, ignore_errors=True)
    return out


def add_findings(run: Run) -> None:
    """Run only the rules that read the profile and merge their findings into the ranked list (for
    `run --profile`, where the profile is recorded after analyze and verify have run)."""
    from dataclasses import asdict

    from stackprof.analyze import rank
    from stackprof.rules import RULES
    from stackprof.rules.facts import Facts
    from stackprof.rules.p_profile import PROFILE_RULES

    facts = Facts(run)
    found = [f for f in run.findings if not (isinstance(f, dict) and f.get("id") in PROFILE_RULES)]
    for rule_id in PROFILE_RULES:
        rule = RULES.get(rule_id)
        if rule is None:
            continue
        try:
            finding = rule.check(facts)
        except Exception as exc:          # noqa: BLE001 - one broken rule must not lose the others
            run.add_error("analyze", f"rule {rule_id}", f"{exc.__class__.__name__}: {exc}", kind="exception")
            continue
        if finding is not None:
            found.append(asdict(finding))
    run.findings = rank(found)


def exit_code(rec: Recording) -> int:
    """What `stackprof profile` returns: the program's own status (128+N when killed by signal N)."""
    status = rec.exit_status
    if status is None or status == 0:
        return 0
    return 128 - status if status < 0 else status
