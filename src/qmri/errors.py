"""Errors a user can meet: one-line messages that say what to fix."""


class QmriError(Exception):
    """A problem with the user's input or environment; printed without a traceback."""


def first_line(error: BaseException) -> str:
    """Return the first line of ``error``'s message, or its type's name where it has none: the reason a one-line
    message quotes from a library's (often multi-line) exception."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
