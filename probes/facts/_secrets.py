"""Secret detection for values recorded by probes: a copy of stackprof.redact.looks_secret(strict=True)
(probes cannot import stackprof). tests/probes/test_secrets_sync.py keeps the two identical."""
import re

SECRET_PATTERNS = [
    r"gh[pousr]_[A-Za-z0-9]{20,}",              # GitHub
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"hf_[A-Za-z0-9]{20,}",                     # Hugging Face
    r"sk-[A-Za-z0-9_\-]{20,}",                  # OpenAI-style
    r"xox[abpr]-[A-Za-z0-9\-]{10,}",            # Slack
    r"AKIA[0-9A-Z]{16}",                        # AWS access key id
    r"glpat-[A-Za-z0-9_\-]{20,}",               # GitLab
    r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWT
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"(?i:password|passwd|token|secret|api[_-]?key)\s*[=:]\s*\S+",
    r"[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@",   # credentials inside a URL
]
UUID_PATTERN = r"\b(GPU|MIG)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"
WORD_PATTERN = r"[A-Za-z0-9_\-+=.]{24,}"          # a long run without spaces, slashes or colons
CHUNK_SPLIT_PATTERN = r"[_\-+=.]+"
PLAIN_CHUNK_PATTERN = r"[a-z]+|[A-Z]+|[0-9]+|.{0,6}"

_SECRET_RE = re.compile("|".join("(?:%s)" % p for p in SECRET_PATTERNS))
_UUID_RE = re.compile(UUID_PATTERN)
_WORD_RE = re.compile(WORD_PATTERN)
_CHUNK_SPLIT_RE = re.compile(CHUNK_SPLIT_PATTERN)
_PLAIN_CHUNK_RE = re.compile(PLAIN_CHUNK_PATTERN)


def looks_secret(value):
    """True for a value that must never be recorded (known token shapes, long random words)."""
    if _SECRET_RE.search(value):
        return True
    for match in _WORD_RE.finditer(value):
        word = match.group(0)
        if _UUID_RE.fullmatch(word) or value[max(0, match.start() - 1):match.start()] == "/":
            continue                        # a UUID, or a file name inside a path
        if _random_looking(word):
            return True
    return False


def _random_looking(word):
    if not re.search(r"[0-9]", word) or len(set(word)) <= 10:
        return False
    # Words made of plain parts are identifiers, flags or file names, not tokens.
    return not all(_PLAIN_CHUNK_RE.fullmatch(c) for c in _CHUNK_SPLIT_RE.split(word) if c)
