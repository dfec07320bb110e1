"""Domain errors. Domain code raises these; only `serve` maps them to HTTP, only the CLI to exit codes."""

from __future__ import annotations


class RiskError(Exception):
    """Base class for every error the toolkit raises on purpose."""


class ContractError(RiskError):
    """Input that breaks the data contract so badly that nothing can go on (a *fatal* problem).

    The message names the file, the field, the offending value when there is one, and the fix.
    Row-level problems are never raised: they are quarantined with a reason.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.value = value
        self.fix = fix
        parts = []
        if file:
            parts.append(f"{file}:")
        if field:
            parts.append(f"field '{field}':")
        parts.append(message)
        if value is not None:
            parts.append(f"(got {value!r})")
        text = " ".join(parts)
        if fix:
            text = f"{text}. Fix: {fix}"
        super().__init__(text)


class ConfigError(RiskError):
    """A setting or parameter has a value outside what is accepted."""


class InvalidTransition(RiskError):
    """A review item was asked to move to a state its current state does not allow."""


class NotInScope(RiskError):
    """The actor's scope does not cover the object asked for."""


class NotFitted(RiskError):
    """A model or baseline was asked to predict before `fit`."""
