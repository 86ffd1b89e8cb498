"""Escaping for every output format. Every string from the environment goes through one of these.

- HTML: Jinja2 autoescape (see html.py); JSON inside <script> blocks: ``json_for_script``.
- Markdown (GitHub): environment values as code spans (no HTML, no mentions, no links inside code),
  prose as backslash-escaped text; ``|`` escaped in table cells.
- Terminal: control characters (ESC sequences that could rewrite the screen) made visible.
"""
from __future__ import annotations

import html
import json
import math
import re

# C0/C1 controls, DEL, and the bidi/line-separator characters that can reorder or hide text.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Inline markup only: values never start a line, so list/heading markers need no escape; $ is math.
_MD_PUNCT_RE = re.compile(r"([\\`*_\[\]<>|~&$])")


def visible_controls(text: str, keep: str = "") -> str:
    """Replace control characters by a visible escape such as ``\\x1b``; ``keep`` lists the ones
    to leave as they are (e.g. newlines in preformatted text)."""
    return _CONTROL_RE.sub(lambda m: m.group(0) if m.group(0) in keep else _escape_char(m.group(0)), text)


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object, limit: int | None = None) -> str:
    """A value as a single visible line, cut to ``limit`` characters with an ellipsis."""
    value = visible_controls(str(text).replace("\r\n", "\n").replace("\n", " ").replace("\t", " "))
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 1)] + "…"
    return value


def md_text(text: object, limit: int | None = None) -> str:
    """Prose for Markdown: every markup character backslash-escaped, so nothing is interpreted.

    '@' is followed by a zero-width joiner so that a value never mentions (notifies) a GitHub user.
    """
    value = _MD_PUNCT_RE.sub(r"\\\1", one_line(text, limit))
    return value.replace("@", "@\u2060")


def md_html(text: object, limit: int | None = None) -> str:
    """Text inside a raw HTML block of Markdown (e.g. <summary>): Markdown is not parsed there, so
    HTML entities, not backslashes."""
    return html.escape(one_line(text, limit), quote=True).replace("@", "@\u2060")


def md_code(text: object, limit: int | None = 200, table: bool = True) -> str:
    """A value as a Markdown code span: shown literally, never HTML, never a link or a mention.

    The fence is one backtick longer than the longest run inside; in a table cell ``|`` must still
    be escaped (GFM splits cells before parsing code spans and removes the backslash).
    """
    value = one_line(text, limit)
    if value == "":
        return '`""`'
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    if value.startswith("`") or value.endswith("`") or (value.startswith(" ") and value.endswith(" ")):
        value = f" {value} "
    if table:   # GFM splits cells first: a pipe must follow an odd number of backslashes
        value = re.sub(r"(\\*)\|", lambda m: m.group(1) + "\\" * (len(m.group(1)) % 2) + "\\|", value)
    return f"{fence}{value}{fence}"


def json_for_script(data: object, indent: int | None = None) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` appear
    literally (they become \\u003c \\u003e \\u0026), so no string can close the script element."""
    options = dict(indent=indent, ensure_ascii=False, allow_nan=False, default=str,
                   separators=(",", ":") if indent is None else None)
    try:
        text = json.dumps(data, **options)
    except ValueError:          # NaN/Infinity (a hand-edited document): not JSON, written as null
        text = json.dumps(_finite(data), **options)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plotly_text(text: object, limit: int = 80) -> str:
    """Text for a plotly label: plotly interprets a subset of HTML tags and entities in labels, so
    the markup characters are given as entities (plotly displays them as the characters)."""
    value = one_line(text, limit)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finite(data: object) -> object:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data
