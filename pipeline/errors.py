"""Errors a user can act on: the CLI prints them as one line, without a traceback."""


class SeqpipeError(Exception):
    """Base class of every error caused by the user's config or data, not by a bug."""


class ConfigError(SeqpipeError):
    """A config value is missing, unknown or of the wrong type; the message names its key path."""


class DataError(SeqpipeError):
    """Input data cannot be used: a missing file, too many rejected records, an anomaly."""


class TrainingError(SeqpipeError):
    """Training cannot go on (a NaN or infinite loss); the message says what to change."""


class EvaluationError(SeqpipeError):
    """The evaluation cannot decide: a metric the blessing rule reads is missing from the scores."""


class ValidationError(SeqpipeError):
    """The exported model does not behave like the trained one; nothing was pushed."""
