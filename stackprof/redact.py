"""Make a Run safe to attach in public.

Two passes over every string of the document:
- secrets: values that look like credentials are replaced whatever key holds them (never optional);
- identity (default on, ``--no-redact`` turns it off): host name, user name, home directory,
  GPU UUIDs.
"""
from __future__ import annotations

import getpass
import os
import re
import socket
from pathlib import Path

SECRET_MARK = "<secret removed>"

# Token shapes of common providers, plus long opaque strings that are not paths or numbers.
# probes/facts/_secrets.py holds a copy of these (probes cannot import stackprof); a test keeps
# the two in sync.
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

_SECRET_RE = re.compile("|".join(f"(?:{p})" for p in SECRET_PATTERNS))
_UUID_RE = re.compile(UUID_PATTERN)
_WORD_RE = re.compile(WORD_PATTERN)
_CHUNK_SPLIT_RE = re.compile(CHUNK_SPLIT_PATTERN)
_PLAIN_CHUNK_RE = re.compile(PLAIN_CHUNK_PATTERN)


def looks_secret(value: str, strict: bool = False) -> bool:
    """True for values that must never be recorded.

    Known token shapes are always caught. ``strict`` (used for environment-variable values, where
    no long opaque string is expected) also catches any long random-looking word.
    """
    if _SECRET_RE.search(value):
        return True
    if not strict:
        return False
    for match in _WORD_RE.finditer(value):
        word = match.group(0)
        if _UUID_RE.fullmatch(word) or value[max(0, match.start() - 1):match.start()] == "/":
            continue                        # a UUID, or a file name inside a path
        if _random_looking(word):
            return True
    return False


def _random_looking(word: str) -> bool:
    if not re.search(r"[0-9]", word) or len(set(word)) <= 10:
        return False
    # Words made of plain parts are identifiers, flags or file names, not tokens:
    # "--xla_force_host_platform_device_count=8", "libtcmalloc_minimal.so.4.5.16".
    return not all(_PLAIN_CHUNK_RE.fullmatch(c) for c in _CHUNK_SPLIT_RE.split(word) if c)


def scrub_secrets(value: str, strict: bool = False) -> str:
    return SECRET_MARK if looks_secret(value, strict) else value


class Redactor:
    def __init__(self, identity: bool = True, home: str | None = None, user: str | None = None,
                 host: str | None = None):
        self.identity = identity
        self.home = home if home is not None else str(Path.home())
        self.user = user if user is not None else _safe(getpass.getuser)
        self.host = host if host is not None else _safe(socket.gethostname)
        self._rules = self._identity_rules() if identity else []

    def _identity_rules(self) -> list[tuple[re.Pattern, str]]:
        rules = []
        if self.home and self.home != "/" and len(self.home) > 1:
            # Only where a path starts (not ".../gcc-toolset-13/root/usr/bin/c++"), and only the
            # whole component ("/root" but not "/rootfs").
            rules.append((re.compile(r"(?<![\w./~-])" + re.escape(self.home) + r"(?=/|$|[\s:;,'\"<>)])"), "~"))
        # Other users' homes too (a venv shared from a colleague's directory names them).
        rules.append((re.compile(r"(?<![\w.])/(home|Users)/[^/\s:;,'\"<>]+"), r"/\1/<user>"))
        short = self.host.split(".")[0] if self.host else ""
        for name in dict.fromkeys((self.host, short)):     # FQDN first, then the short name
            if name and name not in ("localhost",) and len(name) >= 3:
                rules.append((re.compile(r"\b" + re.escape(name) + r"\b"), "<host>"))
        if self.user and self.user not in ("root",) and len(self.user) >= 3:
            rules.append((re.compile(r"(?<=/)" + re.escape(self.user) + r"(?=/|$)"), "<user>"))
            rules.append((re.compile(r"\b" + re.escape(self.user) + r"\b(?=@)"), "<user>"))
        rules.append((_UUID_RE, r"\1-<redacted>"))
        return rules

    def text(self, value: str) -> str:
        value = scrub_secrets(value)
        for pattern, repl in self._rules:
            value = pattern.sub(repl, value)
        return value

    def walk(self, node):
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {self.text(k) if isinstance(k, str) else k: self.walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [self.walk(v) for v in node]
        return node


def _safe(fn) -> str:
    try:
        return fn() or ""
    except Exception:
        return os.environ.get("USER", "")
