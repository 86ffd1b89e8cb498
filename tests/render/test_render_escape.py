"""The escaping helpers every renderer relies on."""
from __future__ import annotations

import json

from stackprof.render import fmt
from stackprof.render.escape import json_for_script, md_code, md_html, md_text, one_line, plotly_text, visible_controls
from render_safety import cell_separators


def test_json_for_script_cannot_close_the_element_and_round_trips():
    data = {"name": "</script><script>alert(1)</script>", "amp": "a&b", "cmt": "<!--", "uni": "\u2028é"}
    text = json_for_script(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


def test_json_for_script_writes_non_finite_numbers_as_null():
    assert json.loads(json_for_script({"x": float("nan"), "y": [float("inf"), 2.5]})) == {"x": None, "y": [None, 2.5]}


def test_control_characters_are_made_visible():
    assert visible_controls("a\x1b[31mb\x00\u202e") == "a\\x1b[31mb\\x00\\u202e"
    assert one_line("two\nlines\tand\r\nmore") == "two lines and more"
    assert one_line("x" * 50, 10) == "x" * 9 + "…"


def test_md_text_escapes_markup_and_mentions():
    out = md_text("<b>*bold* _it_ [link](x) | $x$ ~s~ &lt; @octocat \\")
    assert "<b>" not in out and "\\<b\\>" in out
    assert "\\*bold\\*" in out and "\\[link\\]" in out and "\\|" in out and "\\$x\\$" in out and "\\&lt;" in out
    assert "@octocat" not in out            # a zero-width joiner breaks the mention


def test_md_code_fences_longer_than_any_backtick_run_and_escapes_pipes_for_tables():
    assert md_code("a`b``c") == "```a`b``c```"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("") == '`""`'
    for value in ("a|b", "a\\|b", "a\\\\|b", "|", "\\|\\\\|"):
        cell = md_code(value)
        assert cell_separators(f"| {cell} |") == 2, (value, cell)
    assert md_code("a|b", table=False) == "`a|b`"


def test_md_html_is_entity_escaped():
    assert md_html('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"


def test_plotly_text_gives_markup_as_entities():
    assert plotly_text("<a href='x'>&") == "&lt;a href='x'&gt;&amp;"


def test_number_formatting():
    assert fmt.num(179.7123) == "179.7"
    assert fmt.num(0.5) == "0.5000"
    assert fmt.num(123456.7) == "123,457"
    assert fmt.num(None) == fmt.NONE and fmt.num(float("nan")) == "nan"
    assert fmt.pct(55.55) == "55.5%" or fmt.pct(55.55) == "55.6%"
    assert fmt.fraction_pct(0.41) == "41%"
    assert fmt.nbytes(24 * 2**30) == "24.0 GiB"
    assert fmt.pvalue(0.0002) == "p = 0.0002" and fmt.pvalue(1e-9) == "p < 0.0001"
    assert fmt.share(0.637) == "63.7%" and fmt.share(1.0) == "100%" and fmt.share(0.000124) == "0.0124%"
    assert fmt.fact(True) == "yes" and fmt.fact(None) == fmt.NONE and fmt.fact([1, "a"]) == "1, a"
    assert fmt.fact(2048, "memory_limit_bytes") == "2.00 KiB (2,048)"
