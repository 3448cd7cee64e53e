"""Errors a user can act on. Each message is one line naming the file, the field and the fix.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""


class FtscopeError(Exception):
    """Base of every error ftscope raises on purpose."""


class ConfigError(FtscopeError):
    """A malformed experiment/dataset spec or command-line value."""


class DataError(FtscopeError):
    """A dataset that is missing, empty, or lacks what its task needs."""


class ModelError(FtscopeError):
    """A model or adapter that cannot be found or loaded."""
