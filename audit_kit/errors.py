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


class NotEnoughData(AuditKitError):
    """The tables are there but hold too little for a module to show anything (no new patient for a
    cohort). `args[0]` is the catalog key of the sentence the report shows in the module's place;
    the runner marks the module skipped with it (not failed)."""
