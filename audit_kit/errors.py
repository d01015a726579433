"""The kit's exceptions: one base, narrow subclasses, messages written for the consultant.

The CLI turns any `AuditKitError` into one line on stderr and exit code 2.
"""


class AuditKitError(Exception):
    """Base class of every error the kit reports to its user."""


class ConfigError(AuditKitError):
    """The audit config (audit.yaml) is missing, malformed or names something unknown."""


class InputError(AuditKitError):
    """A raw export cannot be read or does not fit the canonical data contract."""


class ModuleError(AuditKitError):
    """An audit module could not run (its notebook failed)."""
