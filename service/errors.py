"""Errors a user can act on: the command line prints their message instead of a traceback."""


class BoxposeError(Exception):
    """Base of the project's user-facing errors."""
