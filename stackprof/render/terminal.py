"""Terminal summary (placeholder: sections and errors)."""


def render(run) -> str:
    lines = [f"stackprof — {run.label}"]
    for section, facts in run.environment.items():
        status = facts.get("status", "ok") if isinstance(facts, dict) else "ok"
        lines.append(f"  {section:<12} {status}")
    for err in run.errors:
        lines.append(f"  error [{err['source']}]: {err['message']}")
    return "\n".join(lines) + "\n"
