"""Errors a user can meet: one-line messages that say what to fix."""


class QmriError(Exception):
    """A problem with the user's input or environment; printed without a traceback."""
