"""Give every sampled stack one category of the table (categories.py), and add the samples up:
in total, per category (with the library/kernel inside it), per thread, per process, per frame
(self and total), and as a flame tree."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from stackprof.profile import categories as table
from stackprof.profile.collapsed import Frame, Stack

_LEAF = [c for c in table.CATEGORIES if c.scope == "leaf"]
_CONTEXT = [c for c in table.CATEGORIES if c.scope == "context"]
_MKL_LIB_KERNEL = re.compile(r"^libmkl_(avx512(?:_mic)?|avx2|avx|mc3?|def|sse4_2)\b")
# Every matcher of the table, numbered: a frame's hits are computed once per distinct frame.
_MATCHERS = [(c, m) for c in table.CATEGORIES for m in c.matches]
_INDEX = {id(m): j for j, (_, m) in enumerate(_MATCHERS)}


@lru_cache(maxsize=None)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text)


@dataclass(frozen=True)
class Verdict:
    category: str           # a reported category id (categories.REPORTED)
    detail: str             # the library or kind inside it
    kernel: str = ""        # BLAS kernel/ISA named by the frame (SKYLAKEX, avx512…)
    lib: str = ""           # library of the deciding native frame
    frame: int = -1         # index of the deciding frame


def _search(pattern: str, text: str) -> bool:
    return bool(text) and _pattern(pattern).search(text) is not None


def _resolved_above(frames: tuple[Frame, ...], i: int) -> Frame | None:
    for j in range(i - 1, -1, -1):
        if frames[j].kind != "address":
            return frames[j]
    return None


def _frame_text(frame: Frame) -> str:
    return frame.key if frame.kind == "python" else frame.name


def _frame_matches(m: table.Match, f: Frame) -> bool:
    """The conditions of a matcher that depend on this frame alone."""
    if m.python and not (f.kind == "python" and _search(m.python, f.key)):
        return False
    if (m.functions or m.libraries) and f.kind == "python":
        return False
    if m.functions and not _search(m.functions, f.name):
        return False
    if m.libraries and not _search(m.libraries, f.lib):
        return False
    return True


_PYTHON_MATCHERS = [j for j, (_, m) in enumerate(_MATCHERS) if m.python]
_NATIVE_MATCHERS = [j for j, (_, m) in enumerate(_MATCHERS) if m.functions or m.libraries]
_HITS: dict = {}


def _hits(f: Frame) -> frozenset:
    """Matchers whose frame conditions hold; cached on what they read (a Python frame's line does not matter)."""
    key = (f.kind == "python", f.key if f.kind == "python" else (f.name, f.lib))
    hits = _HITS.get(key)
    if hits is None:
        pool = _PYTHON_MATCHERS if key[0] else _NATIVE_MATCHERS
        hits = _HITS[key] = frozenset(j for j in pool if _frame_matches(_MATCHERS[j][1], f))
        if len(_HITS) > 500_000:
            _HITS.clear()
    return hits


def _matches(m: table.Match, frames: tuple[Frame, ...], i: int) -> bool:
    if _INDEX[id(m)] not in _hits(frames[i]):
        return False
    if m.caller:
        above = _resolved_above(frames, i)
        if above is None or not _search(m.caller, "python" if above.kind == "python" else above.name):
            return False
    if m.within and not any(_search(m.within, _frame_text(frames[j])) for j in range(i)):
        return False
    return True


def _transparent(frame: Frame) -> bool:
    return frame.kind != "python" and (not frame.lib or bool(table.TRANSPARENT_LIBRARIES.match(frame.lib)))


def _detail(template: str, frame: Frame) -> str:
    return (template.replace("{lib}", frame.lib or frame.file or "unknown library")
            .replace("{name}", frame.name if frame.kind == "native" else frame.key))


def _kernel(detail: str, frame: Frame) -> str:
    if detail == "OpenBLAS":
        m = table.OPENBLAS_KERNEL.search(frame.name)
        return m.group(1) if m else ""
    if detail == "MKL":
        m = table.MKL_KERNEL.search(frame.name) or _MKL_LIB_KERNEL.match(frame.lib)
        return m.group(1) if m else ""
    if detail == "BLIS":
        m = table.BLIS_KERNEL.match(frame.name)
        return m.group(1) if m else ""
    return ""


def _leaf(frames: tuple[Frame, ...]) -> Verdict:
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        transparent = _transparent(frame)
        if frame.kind == "address" and transparent:
            continue            # an unresolved address in libc or JIT code: its caller says whose it is
        for cat in _LEAF:
            for m in cat.matches:
                if (m.fallback and transparent) or not _matches(m, frames, i):
                    continue
                chosen = _refine(cat, frames, i)
                detail = _detail(m.detail, frame) if chosen is cat else _refined_detail(chosen, frames, i)
                return Verdict(table.REPORTED_AS.get(chosen.id, chosen.id), detail,
                               _kernel(detail, frame) if chosen.id == "blas" else "", frame.lib, i)
    # Nothing decided: only transparent native code (libc, libpython) or unresolved addresses.
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        if frame.kind == "native":
            if _search(r"^libpython|^python", frame.lib) or (not frame.lib and frame.file):
                return Verdict("python", "interpreter (C)", lib=frame.lib, frame=i)
            return Verdict("native_other", frame.lib or "unknown library", lib=frame.lib, frame=i)
    return Verdict("native_other", "unresolved native code" if frames else "no frames")


def _refine(cat: table.Category, frames: tuple[Frame, ...], i: int) -> table.Category:
    for rid in cat.refined_by:
        other = table.BY_ID[rid]
        if any(_matches(m, frames, j) for j in range(i) for m in other.matches):
            return other
    return cat


def _refined_detail(cat: table.Category, frames: tuple[Frame, ...], i: int) -> str:
    for j in range(i - 1, -1, -1):
        for m in cat.matches:
            if _matches(m, frames, j):
                return _detail(m.detail, frames[j])
    return cat.label


_CONTEXT_MATCHERS = frozenset(_INDEX[id(m)] for c in _CONTEXT for m in c.matches)
_VERDICTS: dict = {}


def classify(frames: tuple[Frame, ...], key: str | None = None) -> Verdict:
    """The one category of a stack (root-first frames); ``key`` (the stack's text) caches it."""
    key = key if key is not None else ";".join(f.text for f in frames)
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = _VERDICTS[key] = _classify(frames)
        if len(_VERDICTS) > 200_000:
            _VERDICTS.clear()
    return verdict


def _classify(frames: tuple[Frame, ...]) -> Verdict:
    leaf = _leaf(frames)
    present: frozenset = frozenset()
    for f in frames:
        hits = _hits(f)
        if hits & _CONTEXT_MATCHERS:
            present |= hits
    for cat in _CONTEXT:
        if leaf.category in cat.keeps:
            continue
        for m in cat.matches:
            if _INDEX[id(m)] in present and any(_matches(m, frames, j) for j in range(len(frames))):
                inside = leaf.detail if leaf.category == "data_loading" else table.BY_ID[leaf.category].short
                return Verdict(table.REPORTED_AS.get(cat.id, cat.id), f"{m.detail} · {inside}",
                               leaf.kernel, leaf.lib, leaf.frame)
    return leaf


# ---- adding up ----------------------------------------------------------------------------------

_FUNCTION_KEYS: dict = {}


def function_key(frame: Frame) -> str:
    """A frame without its line number: 'dgemm_kernel_SKYLAKEX (libopenblas.so)', 'train (train.py)'."""
    key = _FUNCTION_KEYS.get(frame.text)
    if key is None:
        key = _FUNCTION_KEYS[frame.text] = frame.function
        if len(_FUNCTION_KEYS) > 500_000:
            _FUNCTION_KEYS.clear()
    return key


@dataclass
class Bucket:
    samples: int = 0
    categories: Counter = field(default_factory=Counter)
    details: dict = field(default_factory=dict)         # category -> Counter(detail)
    kernels: dict = field(default_factory=dict)         # category -> Counter(kernel)
    libraries: dict = field(default_factory=dict)       # category -> Counter(library)

    def add(self, verdict: Verdict, n: int) -> None:
        self.samples += n
        self.categories[verdict.category] += n
        self.details.setdefault(verdict.category, Counter())[verdict.detail] += n
        if verdict.kernel:
            self.kernels.setdefault(verdict.category, Counter())[verdict.kernel] += n
        if verdict.lib:
            self.libraries.setdefault(verdict.category, Counter())[verdict.lib] += n


class FlameNode:
    __slots__ = ("value", "own", "categories", "children")

    def __init__(self):
        self.value, self.own, self.categories, self.children = 0, 0, {}, {}

    def dominant(self) -> str | None:
        return max(self.categories, key=self.categories.get) if self.categories else None


@dataclass
class Totals:
    all: Bucket = field(default_factory=Bucket)
    threads: dict = field(default_factory=dict)          # (pid, tid) -> Bucket
    thread_names: dict = field(default_factory=dict)     # (pid, tid) -> name
    processes: dict = field(default_factory=dict)        # pid -> Bucket
    commands: dict = field(default_factory=dict)         # pid -> command line
    parents: dict = field(default_factory=dict)          # pid -> parent pid (from py-spy's process frames)
    workers: set = field(default_factory=set)            # pids running a DataLoader worker loop
    self_frames: Counter = field(default_factory=Counter)
    total_frames: Counter = field(default_factory=Counter)
    frame_category: dict = field(default_factory=dict)   # function key -> Counter(category) of its self samples
    flame: FlameNode = field(default_factory=FlameNode)


WORKER_FRAME = re.compile(r"^torch/utils/data/_utils/worker\.py:_worker_loop$")


def add_up(stacks: list[Stack], root_pid: int | None = None) -> Totals:
    """Add every stack up; stacks without a process frame (no --subprocesses) belong to ``root_pid``."""
    totals = Totals()
    for stack in stacks:
        verdict = classify(stack.frames, stack.text or None)
        n = stack.count
        totals.all.add(verdict, n)
        pid = stack.pid if stack.pid is not None else root_pid
        key = (pid, int(stack.tid) if stack.tid.isdigit() else stack.tid)
        totals.threads.setdefault(key, Bucket()).add(verdict, n)
        if stack.thread_name:
            totals.thread_names[key] = stack.thread_name
        totals.processes.setdefault(pid, Bucket()).add(verdict, n)
        for k, (p, cmd) in enumerate(stack.processes):
            if cmd or p not in totals.commands:
                totals.commands[p] = cmd
            if k:
                totals.parents[p] = stack.processes[k - 1][0]
        if "_worker_loop" in stack.text and any(f.kind == "python" and WORKER_FRAME.search(f.key)
                                                for f in stack.frames):
            totals.workers.add(pid)
        _add_frames(totals, stack, verdict, n, pid)
    return totals


def _add_frames(totals: Totals, stack: Stack, verdict: Verdict, n: int, pid) -> None:
    named = [f for f in stack.frames if f.kind != "address"]
    if named:
        leaf = function_key(named[-1])
        totals.self_frames[leaf] += n
        totals.frame_category.setdefault(leaf, Counter())[verdict.category] += n
    for key in {function_key(f) for f in named}:
        totals.total_frames[key] += n
    # Flame tree: process (when there are several) -> thread -> frames, addresses folded into their caller.
    path = [f"process {pid}"]
    path.append(f"thread {stack.tid}" + (f" {stack.thread_name}" if stack.thread_name else ""))
    # importlib's own frames (5 per nested import) are folded: an import shows as its modules' <module> frames
    path += [function_key(f) for f in named if not f.file.startswith("<frozen importlib")]
    cat = verdict.category
    node = totals.flame
    node.value += n
    node.categories[cat] = node.categories.get(cat, 0) + n
    for part in path:
        child = node.children.get(part)
        if child is None:
            child = node.children[part] = FlameNode()
        node = child
        node.value += n
        node.categories[cat] = node.categories.get(cat, 0) + n
    node.own += n
