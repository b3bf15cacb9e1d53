"""Errors a user can cause and fix: the CLI prints them as one line, never as a traceback."""


class GaitReidError(Exception):
    """Base class for user-facing errors (bad input, missing files, wrong configuration)."""


class DataError(GaitReidError):
    """A dataset, sequence or frame cannot be used; the message names the path and the problem."""


class UnsafePickleError(DataError):
    """A pickle names a global other than the numpy array machinery; nothing in it was run."""


class StoreError(DataError):
    """A sequence store (the frame cache) is missing, truncated or inconsistent."""


class ConfigError(GaitReidError):
    """A preset, YAML file or command-line override is invalid."""


class CheckpointError(GaitReidError):
    """A checkpoint is missing, truncated, or belongs to another model."""
