"""Errors a user can act on.

A `TinymlError` is printed as one line (no traceback) and becomes the process
exit code. Anything else is a bug and keeps its traceback.
"""

from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class TinymlError(Exception):
    """A known failure; its message is the whole story for the user."""

    exit_code = EXIT_FAILURE


class BadInput(TinymlError):
    """The user gave us something we cannot use (file, model, dataset, option)."""

    exit_code = EXIT_BAD_INPUT


def expected(what: str, received: object, todo: str | None = None) -> BadInput:
    """Build the one-line message: what was expected, what was received, what to do."""
    message = f"Expected {what}. Received: {received}."
    if todo:
        message += f" {todo}"
    return BadInput(message)


def require_file(path, what: str = "a file", todo: str | None = None):
    """Return `path` as a Path if it is an existing file, else raise a one-line BadInput."""
    p = Path(path)
    if not p.is_file():
        state = "a folder" if p.is_dir() else "no such file"
        raise expected(what, f"'{p}' ({state})", todo or "Check the path.")
    return p
