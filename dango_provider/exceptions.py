"""The one error tree of dango-provider. Every error the provider raises on purpose is here."""

from __future__ import annotations


class DangoError(Exception):
    """Base class of every error raised by dango-provider on purpose."""


class DangoConfigError(DangoError, ValueError):
    """A project or sources.yml is invalid. Names the file, the line and the field path."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None):
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
        if field:
            where = f"{where}: {field}" if where else field
        super().__init__(f"{where}: {message}" if where else message)


class DangoConfigErrors(DangoConfigError):
    """Several configuration errors found in one file, reported together."""

    def __init__(self, errors: list[DangoConfigError]):
        self.errors = errors
        first = errors[0]
        DangoError.__init__(self, "\n".join(str(e) for e in errors))
        self.file, self.line, self.field, self.message = first.file, first.line, first.field, first.message


class WarehouseLockTimeout(DangoError):
    """The warehouse write lock was not acquired in time. Retryable; the message names the holder."""


class SourceDataError(DangoError):
    """Source data cannot be loaded as it is (ragged rows, bad encoding, empty files). Names file and line."""


class IngestError(DangoError):
    """A dlt extract, normalize or load step failed."""


class DbtRunError(DangoError):
    """A dbt command failed (model error or failing test)."""


class GovernanceViolation(DangoError):
    """A governance check failed. Not retried."""


class SchemaDriftError(GovernanceViolation):
    """A breaking schema change was detected and policy blocks it."""


class PIIPolicyError(GovernanceViolation):
    """Personal data was found where policy blocks it."""


class FreshnessError(GovernanceViolation):
    """A source is older than its error_after threshold."""


class MissingCredentialsError(DangoError):
    """A source's credentials are not available: the named connection or environment variable is missing."""
