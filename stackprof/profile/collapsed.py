"""Read py-spy's raw output: collapsed stacks, one line per distinct stack, ``frame;frame;…;frame COUNT``
(root first), as written by ``py-spy record --format raw --threads [--subprocesses]``.

py-spy puts two kinds of pseudo-frames at the root: ``process PID:"COMMAND LINE"`` (with
--subprocesses, outermost parent first) and ``thread (TID)`` or ``thread (TID): NAME`` (with
--threads). Real frames are ``function (file.py:line)`` for Python and ``function (library.so)``,
``function (source.c:line)`` or ``0xADDRESS (library)`` for native code (--native).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_FRAME = re.compile(r"^(?P<name>.*) \((?P<where>[^()]*)\)$")
_THREAD = re.compile(r"^thread \((?P<tid>\w+)\)(?:: (?P<name>.*))?$")
_PROCESS = re.compile(r'^process (?P<pid>\d+):"(?P<cmd>.*)"$', re.S)
_PYTHON_FILE = re.compile(r"(\.py[cw]?|^<[^>]*>)(:\d+)?$")
_LINE = re.compile(r":\d+$")


@dataclass(frozen=True, eq=False)
class Frame:
    text: str           # as py-spy wrote it
    name: str           # function
    kind: str           # python | native | address (an unresolved 0x… frame)
    file: str = ""      # Python file (short) or native source file, without the line
    lib: str = ""       # native library basename ("" for a native frame known only by its source file)

    @property
    def function(self) -> str:
        """The frame without its line number: 'dgemm_kernel_SKYLAKEX (libopenblas.so)', 'train (train.py)'."""
        return f"{self.name} ({self.file or self.lib or '?'})"

    @property
    def key(self) -> str:
        """What the category table's ``python`` patterns are matched against: "file:function"."""
        return f"{self.file}:{self.name}"

    def __hash__(self) -> int:          # the text is the identity; str caches its hash
        return hash(self.text)

    def __eq__(self, other) -> bool:
        return isinstance(other, Frame) and other.text == self.text


@dataclass
class Stack:
    frames: tuple[Frame, ...]          # root first
    count: int
    text: str = ""                     # the frames as py-spy wrote them (the identity of the stack)
    tid: str = ""
    thread_name: str = ""
    processes: tuple[tuple[int, str], ...] = ()    # (pid, command line), outermost first

    @property
    def pid(self) -> int | None:
        return self.processes[-1][0] if self.processes else None


@lru_cache(maxsize=65536)
def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text)
    if not match:
        return Frame(text, text, "address" if text.startswith("0x") else "native")
    name, where = match.group("name"), match.group("where")
    if _PYTHON_FILE.search(where) and not where.endswith((".so", ".dll", ".dylib")):
        return Frame(text, name, "python", file=_LINE.sub("", where))
    kind = "address" if name.startswith("0x") else "native"
    if _LINE.search(where):                       # function (socketmodule.c:2759): debug info, no library
        return Frame(text, name, kind, file=_LINE.sub("", where))
    return Frame(text, name, kind, lib=where.rsplit("/", 1)[-1])


def _split(stack_text: str) -> list[str]:
    """Split on ';' but keep a process pseudo-frame whole (its command line may contain ';')."""
    parts, out, pending = stack_text.split(";"), [], None
    for part in parts:
        if pending is not None:
            pending += ";" + part
            if pending.endswith('"'):
                out.append(pending)
                pending = None
            continue
        if part.startswith("process ") and ':"' in part and not part.endswith('"'):
            pending = part
            continue
        out.append(part)
    if pending is not None:
        out.append(pending)
    return out


def parse_line(line: str) -> Stack | None:
    """One raw line -> Stack, or None for a line that is not a stack (blank, truncated)."""
    line = line.rstrip("\n")
    text, _, count = line.rpartition(" ")
    if not text or not count.isdigit():
        return None
    processes, tid, thread_name, frames, start = [], "", "", [], 0
    for part in _split(text):
        if not frames and not tid and part.startswith("process ") and (m := _PROCESS.match(part)):
            processes.append((int(m.group("pid")), m.group("cmd")))
            start += len(part) + 1
        elif not frames and not tid and part.startswith("thread (") and (m := _THREAD.match(part)):
            tid, thread_name = m.group("tid"), m.group("name") or ""
            start += len(part) + 1
        elif part:
            frames.append(parse_frame(part))
    return Stack(tuple(frames), int(count), text[start:], tid=tid, thread_name=thread_name,
                 processes=tuple(processes))


def read_stacks(path) -> tuple[list[Stack], int]:
    """Every stack of a raw file, and the number of lines that could not be read."""
    stacks, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            stack = parse_line(line)
            if stack is None:
                bad += 1
            else:
                stacks.append(stack)
    return stacks, bad
