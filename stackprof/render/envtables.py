"""Turn one environment section (nested JSON) into display blocks, generically, so that every key a
probe adds is shown without renderer changes: scalars as key/value rows (dotted keys), lists of
objects as tables (packages, libraries, devices), multi-line strings as preformatted text.
A "provenance" section comes first: one line per framework build saying where it came from."""
from __future__ import annotations

from dataclasses import dataclass, field

from stackprof import provenance
from stackprof.render import fmt


@dataclass
class Table:
    key: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class SectionView:
    name: str
    status: str                                        # ok | error | not installed
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.facts) + sum(len(t.rows) for t in self.tables)


def section_views(environment: object) -> list[SectionView]:
    if not isinstance(environment, dict):
        return []
    views = [section_view(name, facts) for name, facts in environment.items()]
    lines = provenance.framework_lines(environment)
    if lines:
        views.insert(0, SectionView(name="provenance", status="ok", facts=lines))
    return views


def section_view(name: str, facts: object) -> SectionView:
    view = SectionView(name=str(name), status=_status(facts))
    if isinstance(facts, dict):
        if name == "packages":
            facts = _packages_in_words(facts)
        _walk(facts, "", view)
    else:
        view.facts.append(("value", fmt.fact(facts)))
    return view


def _packages_in_words(facts: dict) -> dict:
    """Each distribution's provenance record as its phrase ("binary wheel from an index (…)")."""
    dists = facts.get("distributions")
    if not isinstance(dists, list):
        return facts
    worded = [dict(d, provenance=provenance.phrase(d)) if isinstance(d, dict) and "provenance" in d else d
              for d in dists]
    return dict(facts, distributions=worded)


def _status(facts: object) -> str:
    if isinstance(facts, dict):
        if facts.get("status") == "error":
            return "error"
        if facts.get("installed") is False:
            return "not installed"
        if facts.get("import_error"):
            return "import failed"
        if facts.get("available") is False:
            return "not available"
    return "ok"


def _walk(node: dict, prefix: str, view: SectionView) -> None:
    for key, item in node.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            _walk(item, path + ".", view)
        elif isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
            view.tables.append(_table(path, item))
        elif isinstance(item, str) and "\n" in item:
            view.texts.append((path, item))
        else:
            view.facts.append((path, fmt.fact(item, str(key))))


def _table(key: str, items: list[dict]) -> Table:
    columns: list[str] = []
    for item in items:
        columns.extend(k for k in item if k not in columns)
    rows = [[fmt.fact(item.get(col), col) if col in item else "" for col in columns] for item in items]
    return Table(key=key, columns=[str(c) for c in columns], rows=rows)
