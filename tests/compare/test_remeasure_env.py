"""`compare --remeasure` restores each run's recorded variables: a redacted home path is expanded for the
agent but the documents keep it as recorded; a value redaction removed is not restored; an allow-listed
variable the run did not have is unset."""
from __future__ import annotations

import os

from stackprof.model import Run
from stackprof.remeasure import recorded_env


def test_recorded_variables_are_restored_and_documented_as_recorded(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")              # set here, not in the run: unset
    run = Run(environment={"env_vars": {"vars": {"LD_LIBRARY_PATH": "~/lib", "OMP_NUM_THREADS": "2",
                                                 "MKL_VERBOSE": "/home/<user>/x"}}})
    overrides, shown, notes = recorded_env(run)
    assert overrides["LD_LIBRARY_PATH"] == os.path.expanduser("~/lib") and shown["LD_LIBRARY_PATH"] == "~/lib"
    assert overrides["OMP_NUM_THREADS"] == shown["OMP_NUM_THREADS"] == "2"
    assert overrides["OPENBLAS_CORETYPE"] is None and shown["OPENBLAS_CORETYPE"] is None
    assert "MKL_VERBOSE" not in overrides and any("MKL_VERBOSE was redacted" in n for n in notes)
    assert os.path.expanduser("~") not in repr(shown)
