"""Errors that end a command with one clear line (the CLI prints ``str(exc)`` and exits 2)."""


class StackprofError(Exception):
    """Base for user-facing errors: the message is the whole story, no traceback."""


class TargetError(StackprofError):
    """The interpreter to probe is missing, not executable, or not a usable Python."""


class DocumentError(StackprofError):
    """A Run/Comparison document is corrupt, truncated, or of an unsupported schema."""
