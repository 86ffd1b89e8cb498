"""py-spy's raw format read back: pseudo-frames, frame kinds, odd names, damaged lines."""
from __future__ import annotations

from stackprof.profile.collapsed import parse_frame, parse_line, read_stacks


def test_process_and_thread_pseudo_frames():
    s = parse_line('process 10:"python a.py; echo x";process 11:"python -c \\"x\\"";thread (12): Worker-1;'
                   "f (a.py:3);g (libfoo.so) 7")
    assert s.processes == ((10, "python a.py; echo x"), (11, 'python -c \\"x\\"'))
    assert (s.pid, s.tid, s.thread_name, s.count) == (11, "12", "Worker-1", 7)
    assert [f.name for f in s.frames] == ["f", "g"]


def test_frame_kinds():
    assert parse_frame("train (train.py:40)").kind == "python"
    assert parse_frame("train (train.py:40)").key == "train.py:train"
    assert parse_frame("_find_and_load (<frozen importlib._bootstrap>:1176)").kind == "python"
    native = parse_frame("at::native::(anonymous namespace)::add_kernel (libtorch_cpu.so)")
    assert (native.kind, native.name, native.lib) == ("native", "at::native::(anonymous namespace)::add_kernel",
                                                      "libtorch_cpu.so")
    source = parse_frame("sock_accept (socketmodule.c:2759)")
    assert (source.kind, source.file, source.lib) == ("native", "socketmodule.c", "")
    assert parse_frame("0x7f60e2e4524a (libc.so.6)").kind == "address"
    assert parse_frame("0x7f60e2e4524a (libc.so.6)").lib == "libc.so.6"
    assert parse_frame("weird frame without location").kind == "native"


def test_thread_without_name_and_hex_thread_id():
    s = parse_line("thread (0x7F00AB);f (a.py:1) 3")
    assert (s.tid, s.thread_name, s.pid) == ("0x7F00AB", "", None)


def test_damaged_lines_are_counted_not_fatal(tmp_path):
    raw = tmp_path / "p.txt"
    raw.write_text("thread (1): MainThread;f (a.py:1) 5\n\ngarbage without count\nthread (1);g (a.py:2) x\n"
                   "thread (1): MainThread;f (a.py:1) 2\n", encoding="utf-8")
    stacks, bad = read_stacks(raw)
    assert [s.count for s in stacks] == [5, 2] and bad == 2
