"""The output folder of a distributed run, written by every rank as it goes (per-rank side; the host's
merge reads the same layout):

    DIR/job.json                       rank 0: run id, world, mode, plan, model description
    DIR/ranks/rank-00003/identity.json rank, local rank, node, host, device, placement, versions
                        /status.json   state (running | done | failed | terminated), phase, detail
                        /facts.json    the environment facts (the keys of `stackprof probe`)
                        /records.jsonl one benchmark record per line, appended as each is measured

Every JSON file is replaced atomically; records.jsonl only grows, one complete line at a time, so a
rank that dies leaves everything it finished. Standard library only; Python 3.8 syntax.
"""
import json
import os
import time

RANK_SCHEMA = "stackprof.dist-rank/1"
JOB_SCHEMA = "stackprof.dist-job/1"
RANKS = "ranks"
FILES = ("identity.json", "status.json", "facts.json", "records.jsonl")


def rank_dir(root, rank):
    return os.path.join(root, RANKS, "rank-%05d" % int(rank))


def write_json(path, data):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(data, handle, default=str)
    os.replace(tmp, path)


def read_json(path):
    """The document, or None when it is missing or unreadable (a rank killed mid-write)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def read_records(path):
    """Complete lines only: a line cut by a kill is left out."""
    out = []
    try:
        with open(path) as handle:
            for line in handle:
                if line.endswith("\n"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


class RankFolder(object):
    def __init__(self, root, rank):
        self.root = root
        self.path = rank_dir(root, rank)
        self.status = {"schema": RANK_SCHEMA, "state": "running", "phase": "starting", "detail": None,
                       "error": None, "errors": [], "started": time.time(), "updated": time.time()}

    def start(self, identity):
        if not os.path.isdir(self.path):
            os.makedirs(self.path)
        for name in FILES:                 # a folder left by an earlier run of this rank
            try:
                os.remove(os.path.join(self.path, name))
            except OSError:
                pass
        self.identity(identity)
        self._write_status()

    def identity(self, identity):
        write_json(os.path.join(self.path, "identity.json"), dict(identity, schema=RANK_SCHEMA))

    def phase(self, phase, detail=None):
        self.status.update(phase=phase, detail=detail)
        self.status.setdefault("phase_started", {}).setdefault(phase, time.time())
        self._write_status()

    def detail(self, detail):
        self.status["detail"] = detail
        self._write_status()

    def finish(self, state, error=None):
        self.status.update(state=state, error=error, finished=time.time())
        self._write_status()

    def facts(self, facts):
        write_json(os.path.join(self.path, "facts.json"), facts)

    def record(self, record):
        with open(os.path.join(self.path, "records.jsonl"), "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()

    def documents(self):
        """The folder's files as text, to send to rank 0 when nodes do not share a filesystem."""
        out = {}
        for name in FILES:
            try:
                with open(os.path.join(self.path, name)) as handle:
                    out[name] = handle.read()
            except OSError:
                pass
        return out

    def _write_status(self):
        self.status["updated"] = time.time()
        try:
            write_json(os.path.join(self.path, "status.json"), self.status)
        except OSError:
            pass                           # a status that cannot be written must not stop the rank


def store_documents(root, rank, documents, run_id):
    """Rank 0: write another rank's files unless this filesystem already has them from this run."""
    path = rank_dir(root, rank)
    present = read_json(os.path.join(path, "identity.json"))
    if present and present.get("run_id") == run_id:
        return False
    if not os.path.isdir(path):
        os.makedirs(path)
    for name, text in documents.items():
        if name in FILES:
            tmp = os.path.join(path, name + ".tmp")
            with open(tmp, "w") as handle:
                handle.write(text)
            os.replace(tmp, os.path.join(path, name))
    return True
