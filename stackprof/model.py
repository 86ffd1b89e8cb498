"""The Run document: the single contract between stages and the artifact users attach.

Everything a report shows is in it; a report can be re-rendered from it alone. See
docs/run-schema.md for every key. Loading checks the schema and fails with one clear line.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from stackprof import __version__
from stackprof.errors import DocumentError

RUN_SCHEMA = "stackprof.run/1"
RUN_SCHEMA_NAME, RUN_SCHEMA_MAJOR = RUN_SCHEMA.split("/")


@dataclass
class Finding:
    """A diagnosed cause of slowness, with what triggered it, what it costs and how to fix it."""
    id: str                               # catalogue id (A5, C4…) or a measurement rule id (M1…)
    severity: str                         # critical | high | medium | low | info
    kind: str = "defect"                  # defect | opportunity | note (docs/schema-findings.md)
    title: str = ""
    evidence: list = field(default_factory=list)      # [{"fact": "numpy.blas.architecture", "value": "Haswell"}, …]
    impact: dict = field(default_factory=dict)        # {"kind": "measured"|"estimated", "ratio": 1.4, "text": …, "source": …}
    fix: str = ""
    references: list = field(default_factory=list)    # ["numpy/numpy#15764", "https://…"]
    ab: bool = False                                  # cuts both ways: "measure both"
    experiment: dict | None = None                    # {"env": {...}, "benchmarks": [ids], "expect": "faster"}
    verification: dict | None = None                  # filled by verify: before/after, ratio, verdict
    status: str = "suspected"                         # suspected | confirmed | not_confirmed | info

    @classmethod
    def from_dict(cls, data: dict) -> "Finding":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Run:
    label: str = ""
    environment: dict = field(default_factory=dict)   # section -> facts (probe output, host facts)
    benchmarks: list = field(default_factory=list)    # benchmark records (see docs/run-schema.md)
    findings: list = field(default_factory=list)      # Finding dicts, ranked
    headline: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)        # [{"stage", "source", "kind", "message"}]
    target: dict = field(default_factory=dict)        # interpreter probed
    options: dict = field(default_factory=dict)       # how the run was invoked (mode, budget, redact…)
    timings: dict = field(default_factory=dict)       # wall seconds per stage
    noise: dict = field(default_factory=dict)         # the run's own drift and machine reference (noise.py)
    dist: dict = field(default_factory=dict)          # per-rank results of a distributed run (docs/schema-dist.md)
    profile: dict = field(default_factory=dict)       # workload profile (docs/schema-profile.md); {} when none
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_utc: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    tool: dict = field(default_factory=lambda: {"name": "stackprof", "version": __version__})
    schema: str = RUN_SCHEMA

    def to_dict(self) -> dict:
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=str, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)                 # never leave a half-written document behind
        return path

    @classmethod
    def from_dict(cls, data: dict, source: str = "document") -> "Run":
        check_schema(data, RUN_SCHEMA, source)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def add_error(self, stage: str, source: str, message: str, kind: str = "error") -> None:
        self.errors.append({"stage": stage, "source": source, "kind": kind, "message": one_line(message)})

    def benchmark(self, bench_id: str) -> dict | None:
        return next((b for b in self.benchmarks if b.get("id") == bench_id), None)

    def fact(self, path: str, default=None):
        """Dotted lookup into environment: run.fact('torch.config.BLAS_INFO')."""
        node = self.environment
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node


def one_line(message: object, limit: int = 400) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_schema(data: object, expected: str, source: str) -> None:
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: not a stackprof document (top level is not a JSON object)")
    schema = data.get("schema")
    if not isinstance(schema, str) or "/" not in schema:
        raise DocumentError(f"{source}: not a stackprof document (no 'schema' key)")
    name, _, major = schema.partition("/")
    want_name, _, want_major = expected.partition("/")
    if name != want_name:
        raise DocumentError(f"{source}: is a '{schema}' document, expected '{expected}'")
    if not re.fullmatch(r"\d+", major):
        raise DocumentError(f"{source}: unreadable schema version '{schema}'")
    if int(major) > int(want_major):
        raise DocumentError(f"{source}: schema '{schema}' is newer than this stackprof understands "
                            f"('{expected}'); upgrade stackprof")
    if int(major) < int(want_major):
        raise DocumentError(f"{source}: schema '{schema}' is older than '{expected}' and cannot be read")


def read_json_document(path: str | Path) -> dict:
    """Read a JSON document, or the Run embedded in a stackprof report.html; one clear line on failure."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if path.suffix.lower() in (".html", ".htm") or text.lstrip().startswith("<"):
        text = _embedded_json(text, path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        hint = "truncated" if ends_early else "corrupt"
        raise DocumentError(f"{path}: {hint} JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


EMBED_ID = "stackprof-run"


def _embedded_json(html: str, path: Path) -> str:
    match = re.search(r'<script[^>]*id="' + EMBED_ID + r'"[^>]*>(.*?)</script>', html, re.S)
    if not match:
        raise DocumentError(f"{path}: HTML file has no embedded stackprof Run")
    # The renderer escapes "<" inside the JSON as \u003c, so the payload is plain JSON.
    return match.group(1)


def load_run(path: str | Path) -> Run:
    return Run.from_dict(read_json_document(path), source=str(path))
