"""Markdown summary (placeholder)."""


def render(run) -> str:
    return f"## stackprof — {run.label}\n"
