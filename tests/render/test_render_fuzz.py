"""Fuzz: hostile strings in package names, versions, env values, CPU model, paths, benchmark ids,
finding text and errors go through the html, md and terminal renderers; nothing comes out unescaped."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from render_builders import full_run, with_strings
from render_safety import html_problems, markdown_problems, parse_html, strip_assets, terminal_problems

from stackprof.render import render

NASTY = ["<script>alert(1)</script>", "</script><script>alert(1)</script>", "<!--", "-->", "<![CDATA[",
         '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)", "javascript:alert(1)", "&lt;b&gt;", "&#60;",
         "`", "``", "|", "\\|", "\\", "*", "_", "[x](https://evil)", "![i](https://evil/i.png)", "@octocat",
         "$x$", "~~", "\x1b[31m", "\x1b]0;t\x07", "\x00", "\r\n", "\u202e", "\u2028", "{{ 7*7 }}", "{% raw %}",
         "<details>", "</details>", "<summary>", "# h", "- item", "1. x", "> q", "<style>", "<svg onload=x>",
         "</textarea>", "\ud7ff", "é", "😀"]
SPECIALS = "<>&\"'`|\\*_[]()$@~!#=-/:;{}\x1b\x00\x07\n\r\t\u202e\u2028 aeiopcrstv"
PIECES = st.one_of(st.sampled_from(NASTY), st.text(alphabet=SPECIALS, min_size=1, max_size=10),
                   st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8))
HOSTILE = st.lists(PIECES, min_size=1, max_size=6).map("".join)

BASE = full_run()
BASE_HTML = strip_assets(render(BASE, "html"))
BASE_SCRIPTS = len(parse_html(BASE_HTML).scripts)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
def test_hostile_strings_come_out_escaped(text):
    check_escaped(text)


@pytest.mark.parametrize("text", NASTY + ["".join(NASTY)])
def test_each_known_nasty_string_comes_out_escaped(text):
    check_escaped(text)


def check_escaped(text: str) -> None:
    run = with_strings(BASE, text)

    html = strip_assets(render(run, "html"))
    assert not html_problems(html, expected_scripts=BASE_SCRIPTS)
    if re.search(r"<[A-Za-z!/?]", text) and text not in BASE_HTML:     # planted markup never appears as is
        assert text not in html

    md = render(run, "md")
    assert not markdown_problems(md)

    for color in (False, True):
        assert not terminal_problems(render(run, "terminal", color=color), color=color)
