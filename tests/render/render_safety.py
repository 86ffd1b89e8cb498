"""Checks that rendered output contains nothing unescaped: used by the fuzz and renderer tests.

HTML: parsed with the standard library parser; only the tags/attributes our templates produce may
appear, links go to http(s) or an anchor, every JSON block parses. Markdown: structural checks of
what GitHub would interpret (raw HTML, mentions, table cells), plus — when markdown-it-py is
installed — a real CommonMark+tables render checked with the HTML checker.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from stackprof.paths import reports_dir

HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p", "span",
             "b", "nav", "a", "main", "section", "div", "details", "summary", "table", "caption", "thead",
             "tbody", "tr", "th", "td", "article", "dl", "dt", "dd", "ul", "ol", "li", "code", "pre", "figure",
             "figcaption", "script", "footer", "sub", "br", "em", "strong", "del", "s"}
HTML_ATTRS = {"class", "id", "href", "rel", "target", "title", "type", "scope", "lang", "charset", "name",
              "content", "http-equiv", "open", "data-spec", "role", "style", "align", "start"}
CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self._data: list[str] = []
        self.others: list[str] = []          # comments, declarations, processing instructions

    def handle_comment(self, data):
        self.others.append(f"comment <!--{data[:40]}")

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.others.append(f"declaration <!{decl[:40]}")

    def unknown_decl(self, data):
        self.others.append(f"declaration <![{data[:40]}")

    def handle_pi(self, data):
        self.others.append(f"processing instruction <?{data[:40]}")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "script":
            self._script, self._data = attrs, []

    def handle_data(self, data):
        if self._script is not None:
            self._data.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._data)))
            self._script = None


def parse_html(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


def html_problems(text: str, expected_scripts: int | None = None) -> list[str]:
    """Everything in ``text`` that our templates would never produce."""
    problems = []
    doc = parse_html(text)
    problems += [f"unexpected {other}" for other in doc.others]
    for tag, attrs in doc.tags:
        if tag not in HTML_TAGS:
            problems.append(f"unexpected tag <{tag}>")
        for name, value in attrs.items():
            if name not in HTML_ATTRS or name.startswith("on"):
                problems.append(f"unexpected attribute {name!r} on <{tag}>")
            if name == "href" and not re.match(r"(#|https?://)", value or ""):
                problems.append(f"link to {value!r}")
    for attrs, body in doc.scripts:
        if attrs.get("type") == "application/json":
            try:
                json.loads(body)
            except ValueError as exc:
                problems.append(f"JSON block {attrs.get('id')} does not parse: {exc}")
            if re.search(r"[<>&]", body):
                problems.append(f"JSON block {attrs.get('id')} has a literal < > or &")
        elif attrs:
            problems.append(f"script with attributes {attrs}")
    if expected_scripts is not None and len(doc.scripts) != expected_scripts:
        problems.append(f"{len(doc.scripts)} script elements, expected {expected_scripts}")
    return problems


def strip_assets(text: str) -> str:
    """The page without our inlined CSS/JS (their text is ours, not data)."""
    for name in ("plotly-basic.min.js", "report.js", "report.css"):
        text = text.replace((reports_dir() / "assets" / name).read_text(encoding="utf-8"), "")
    return text


# ---------------------------------------------------------------- Markdown

OUR_MD_TAGS = re.compile(r"</?(details|summary|sub)>")
LINK_DEST = re.compile(r"\]\(<https?://[^<>\s]*>\)")


def markdown_problems(text: str) -> list[str]:
    problems = []
    if CONTROL_RE.search(text):
        problems.append(f"control character {CONTROL_RE.search(text).group(0)!r}")
    header = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = cell_separators(line)
        header = cells if header is None else header
        if cells != header:
            problems.append(f"table row has {cells} cell separators, header {header}: {line[:120]!r}")
    outside = "\n".join(outside_code(line) for line in text.splitlines())
    outside = LINK_DEST.sub("]", outside)
    outside = OUR_MD_TAGS.sub("", outside)
    if "<" in outside:
        at = outside.index("<")
        problems.append(f"unescaped '<' outside code: {outside[max(at - 40, 0):at + 40]!r}")
    if re.search(r"@\w", outside):
        problems.append("an @mention outside code")
    if re.search(r"&#?\w+;", outside.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "")
                 .replace("&quot;", "").replace("&#x27;", "")):
        problems.append("an unexpected HTML entity outside code")
    problems += _rendered_markdown_problems(text)
    return problems


def outside_code(line: str) -> str:
    """The line without its code spans, as CommonMark finds them: a backtick run opens a span that the
    next run of the same length closes; a backslash outside code escapes the next character (both
    are dropped: an escaped character is literal text)."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\":
            i += 2                   # escaped character: literal, cannot open anything
            continue
        if line[i] == "`":
            j = i
            while j < len(line) and line[j] == "`":
                j += 1
            run = line[i:j]
            close = _closing_run(line, j, len(run))
            if close is None:
                i = j                # no closer: the backticks are literal text
            else:
                i = close + len(run)
            continue
        out.append(line[i])
        i += 1
    return "".join(out)


def _closing_run(line: str, start: int, length: int) -> int | None:
    for match in re.finditer(r"`+", line[start:]):
        if len(match.group(0)) == length:
            return start + match.start()
    return None


def cell_separators(line: str) -> int:
    """Unescaped pipes as GFM's table scanner sees them: a backslash escapes the next character."""
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def _rendered_markdown_problems(text: str) -> list[str]:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return []
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return [f"rendered Markdown: {p}" for p in html_problems(rendered)]


def terminal_problems(text: str, color: bool = False) -> list[str]:
    if not color and "\x1b" in text:
        return ["an escape sequence in uncoloured output"]
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", text)
    found = CONTROL_RE.search(stripped.replace("\t", ""))
    return [f"control character {found.group(0)!r}"] if found else []
