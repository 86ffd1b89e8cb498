"""I. Installation: the same distribution installed more than once on sys.path (packages.shadowed), with
which copy wins and who installed each. Not a catalogue cause of slowness by itself: the copy that
wins is the build that runs, so a user-site pip wheel over a distribution package (or the reverse)
decides which BLAS and which version the benchmarks measured."""
from __future__ import annotations

from stackprof import provenance as words
from stackprof.rules import provenance as prov
from stackprof.rules.facts import Facts
from stackprof.rules.findings import estimated, experiment, fact, make
from stackprof.rules.registry import rule

PLACES = {"user-site": "the user site-packages", "site-packages": "site-packages", "dist-packages": "dist-packages",
          "other": "another folder"}


def _copy_text(copy: dict) -> str:
    where = PLACES.get(str(copy.get("location_kind")), "another folder")
    how = copy.get("provenance") or copy.get("installer") or "unknown origin"
    return f"{copy.get('version') or '?'} in {where} ({how})"


def _speed_relevant(facts: Facts, name: str) -> bool:
    return name in words.builds(prov.env(facts)) or name.split("-")[0] in (
        "numpy", "scipy", "torch", "tensorflow", "jax", "jaxlib", "mkl", "intel", "nvidia", "triton")


@rule("I1", "the same package installed twice on sys.path")
def i1_shadowed(facts: Facts):
    names = [n for n in facts.list("packages.shadowed") if isinstance(n, str)]
    details = {s.get("name"): s for s in facts.list("packages.shadowing") if isinstance(s, dict)}
    if not names:
        return None
    worst, evidence, texts, user_site_wins = "info", [], [], []
    for name in names:
        copies = [c for c in (details.get(name) or {}).get("copies") or [] if isinstance(c, dict)]
        if len(copies) < 2:
            continue
        differ = len({(c.get("version"), c.get("provenance")) for c in copies}) > 1
        if differ and _speed_relevant(facts, name):
            worst = "low"
        wins = (details[name].get("import_wins") if details[name].get("import_wins") is not None else 0)
        winner, others = copies[wins] if wins < len(copies) else copies[0], [c for i, c in enumerate(copies) if i != wins]
        text = f"{name} {_copy_text(winner)} wins over " + ", ".join(_copy_text(c) for c in others)
        if wins != details[name].get("metadata_wins", 0):
            text += f" (but importlib.metadata reports {copies[0].get('version')}, the other copy's version)"
        texts.append(text)
        evidence.append(fact(f"packages.shadowing[{name}]", text))
        if winner.get("location_kind") == "user-site":
            user_site_wins.append(name)
    if not texts:
        return None                      # an older document without details: nothing to say precisely
    evidence.append(fact("packages.shadowed", names))
    fix = ("Uninstall the copy that should not run (pip uninstall <name> removes the first one on sys.path; a "
           "distribution package's copy goes with apt/dnf remove)")
    if user_site_wins:
        fix += ", or keep the user site-packages out with PYTHONNOUSERSITE=1 (python -s)"
    return make(
        "I1", worst, f"installed twice, one copy hidden: {'; '.join(texts[:2])}"
        + (f" (+{len(texts) - 2} more)" if len(texts) > 2 else ""),
        evidence=evidence,
        impact=estimated("the copy first on sys.path is the build that runs (its version and BLAS); a stale copy "
                         "can also break the import (no speed ratio in the sources)", "numpy/numpy#15910"),
        fix=fix + ".",
        references=["numpy/numpy#15910", "numpy/numpy#14722", "toxygen-project/toxygen#49"],
        experiment=experiment({"PYTHONNOUSERSITE": "1"}, facts.benchmarks(framework=set(user_site_wins)),
                              "benchmarks re-run with the user site-packages copy left out")
        if user_site_wins else None)
