"""The target runner against real interpreters: crashes, hangs and exceptions become errors,
results of the other probes are kept, and bad --python paths fail with one line."""
from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from stackprof import target as target_mod
from stackprof.errors import TargetError
from stackprof.paths import probes_dir
from stackprof.target import Target, Task


@pytest.fixture
def probe_dir(tmp_path, monkeypatch):
    """A copy of the real agent with extra probes that misbehave on purpose."""
    root = tmp_path / "probes"
    shutil.copytree(probes_dir(), root)
    (root / "testing").mkdir()
    (root / "testing" / "__init__.py").write_text("")
    probes = {
        "ok": "def collect(ctx, value=1):\n    print('noise on stdout')\n    return {'value': value}\n",
        "raises": "def collect(ctx):\n    raise RuntimeError('boom\\nsecond line')\n",
        "hangs": "import time\ndef collect(ctx):\n    time.sleep(600)\n",
        "crashes": "import os\ndef collect(ctx):\n    os.abort()\n",
        "streams": textwrap.dedent("""
            import time
            def run(ctx, n=3, hang_after=None):
                for i in range(n):
                    if hang_after is not None and i == hang_after:
                        time.sleep(600)
                    ctx.progress('item %d' % i)
                    yield {'i': i}
        """),
    }
    for name, code in probes.items():
        (root / "testing" / f"{name}.py").write_text(code)
    monkeypatch.setattr(target_mod, "probes_dir", lambda: root)
    return root


def test_results_in_order_despite_failures(probe_dir):
    t = Target(sys.executable)
    tasks = [Task("testing.ok", {"value": 7}), Task("testing.raises"), Task("testing.hangs", timeout_s=2),
             Task("testing.crashes"), Task("testing.ok", {"value": 9})]
    results = t.run_tasks(tasks)
    assert [r.probe for r in results] == [task.probe for task in tasks]
    assert results[0].ok and results[0].data == {"value": 7}
    assert not results[1].ok and results[1].kind == "exception"
    assert results[1].error == "RuntimeError: boom second line"
    assert not results[2].ok and results[2].kind == "timeout" and "2 s" in results[2].error
    assert not results[3].ok and results[3].kind == "crash" and "SIGABRT" in results[3].error
    assert results[4].ok and results[4].data == {"value": 9}


def test_streamed_records_survive_a_hang(probe_dir):
    events = []
    result = Target(sys.executable).run_tasks(
        [Task("testing.streams", {"n": 5, "hang_after": 2}, timeout_s=3)], listener=events.append)[0]
    assert not result.ok and result.kind == "timeout"
    assert result.records == [{"i": 0}, {"i": 1}]
    assert [e["message"] for e in events if e["event"] == "progress"] == ["item 0", "item 1"]


def test_probe_module_cannot_shadow_target_packages(probe_dir):
    # probes/ holds facts/torch.py etc.; "import json" inside a probe must still be the stdlib one.
    (probe_dir / "testing" / "json.py").write_text("def collect(ctx):\n    import json\n    return {'f': json.__file__}\n")
    result = Target(sys.executable).run_probe("testing.json")
    assert result.ok and "testing" not in result.data["f"]


@pytest.mark.parametrize("bad, expected", [
    ("/no/such/python", "Python interpreter not found"),
    ("/tmp", "a directory"),
])
def test_bad_interpreter_paths(bad, expected):
    with pytest.raises(TargetError, match=expected):
        Target(bad)


def test_file_that_is_not_executable(tmp_path):
    plain = tmp_path / "python"
    plain.write_text("print(1)\n")
    plain.chmod(0o644)
    with pytest.raises(TargetError, match="not executable"):
        Target(plain)


def test_executable_that_is_not_python(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    with pytest.raises(TargetError, match="not a working Python interpreter"):
        Target(fake)


def test_cli_bad_python_is_one_line(stackprof_cli, tmp_path):
    proc = stackprof_cli("probe", "--python", tmp_path / "missing")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr
