"""The Run document itself."""


def render(run) -> str:
    return run.to_json() + "\n"
