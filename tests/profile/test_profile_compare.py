"""compare_profiles: how category shares moved between profiled runs (pure function + its renderers)."""
from __future__ import annotations

import re

from stackprof.model import Run
from stackprof.profile.compare import compare_profiles
from stackprof.render.parts.profile import comparison_html as html
from stackprof.render.parts.profile import comparison_markdown as markdown
from stackprof.render.parts.profile import comparison_terminal as terminal

from . import builders as b


def run(label, section):
    return Run(label=label, profile=section)


def test_needs_two_profiled_runs():
    assert compare_profiles([run("a", b.captured("matmul"))]) is None
    assert compare_profiles([run("a", b.captured("matmul")), Run(label="plain")]) is None


def test_shares_and_deltas_between_two_programs():
    section = compare_profiles([run("numpy", b.captured("matmul")), run("python", b.captured("pure_python"))])
    rows = {r["id"]: r for r in section["categories"]}
    assert rows["python"]["main"][1] > 0.9 and rows["python"]["delta_pp"][1] > 50
    assert rows["blas"]["main"][0] > rows["blas"]["main"][1] == 0
    assert rows["blas"]["delta_pp"][0] == 0
    assert {n["id"] for n in section["notable"]} >= {"python", "blas"}
    # the table is sorted by the largest move
    moves = [max(abs(d) for d in r["delta_pp"]) for r in section["categories"]]
    assert moves == sorted(moves, reverse=True)


def test_renderers_escape_labels():
    hostile = '<img src=x onerror=alert(1)>|`'
    section = compare_profiles([run(hostile, b.captured("matmul")), run("b", b.captured("sleeper"))])
    page = str(html(section))
    assert "<img" not in page and "&lt;img" in page
    md = markdown(section)
    assert not re.search(r"(?<!\\)<img", md) and "## Profiles compared" in md
    text = terminal(section)
    assert "Profiles compared" in text and "\x1b" not in text


def test_same_labels_are_numbered_and_start_up_has_no_main_share():
    from stackprof.profile.compare import columns
    section = compare_profiles([run("python", b.captured("matmul")), run("python", b.captured("dataloader"))])
    assert columns(section)[1:3] == ["python #1", "python #2"]
    startup = next(r for r in section["categories"] if r["id"] == "startup")
    assert startup["main"] == [None, None] and startup["busy"][1] > 0


def test_default_label_is_the_script_or_module():
    from stackprof.commands.profile import default_label
    assert default_label(["python3", "-u", "train.py", "--lr", "1"], None) == "train.py"
    assert default_label(["/venv/bin/python", "-m", "torch.distributed.run", "x.py"], None) == "torch.distributed.run"
    assert default_label(["torchrun", "x.py"], None) == "torchrun"
    assert default_label([], 42) == "pid-42"
