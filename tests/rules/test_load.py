"""Loading a Run (stackprof report / compare go through model.load_run): corrupt, truncated, unknown or
newer-schema documents fail with one clear line and exit code 2, never a traceback."""
from __future__ import annotations

import json

import pytest

from stackprof.errors import DocumentError
from stackprof.model import load_run

from .edit import FIXTURES

GOOD = (FIXTURES / "bare-probe.json").read_text(encoding="utf-8")

BAD = {
    "truncated.json": (GOOD[: len(GOOD) // 2], "truncated JSON"),
    "corrupt.json": (GOOD.replace('"environment"', '"environment" "x"', 1), "corrupt JSON"),
    "newer.json": (json.dumps(dict(json.loads(GOOD), schema="stackprof.run/2")), "newer than this stackprof"),
    "other.json": (json.dumps(dict(json.loads(GOOD), schema="stackprof.comparison/1")), "comparison"),
    "noschema.json": (json.dumps({"label": "x"}), "no 'schema' key"),
    "list.json": ("[1, 2]", "top level is not a JSON object"),
    "empty.json": ("", "JSON"),
    "binary.json": (b"\xff\xfe\x00garbage", "cannot read"),
    "page.html": ("<html><body>no run here</body></html>", "no embedded stackprof Run"),
}


@pytest.fixture(params=sorted(BAD))
def bad_document(request, tmp_path):
    content, message = BAD[request.param]
    path = tmp_path / request.param
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path, message


def test_load_run_raises_one_clear_line(bad_document):
    path, message = bad_document
    with pytest.raises(DocumentError) as info:
        load_run(path)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text


@pytest.mark.parametrize("command", ["report", "compare"])
def test_cli_exits_2_with_one_line(bad_document, stackprof_cli, command, tmp_path):
    path, message = bad_document
    args = [command, path] if command == "report" else [command, path, FIXTURES / "bare-probe.json"]
    result = stackprof_cli(*args, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert message in lines[0]


def test_missing_file(stackprof_cli, tmp_path):
    result = stackprof_cli("report", tmp_path / "nope.json", timeout=60)
    assert result.returncode == 2 and "no such file" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_good_fixture_loads_and_rerenders(stackprof_cli):
    run = load_run(FIXTURES / "bare-probe.json")
    assert run.schema == "stackprof.run/1"
    result = stackprof_cli("report", FIXTURES / "bare-probe.json", "--format", "md", timeout=60)
    assert result.returncode == 0, result.stderr
