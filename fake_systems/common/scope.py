"""Whose data a caller may see and change: one owner-scope type for the five fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class OwnerScope:
    """Whose data a caller may see and change: `owners` None means every owner (the
    integrator's credential), otherwise exactly those cargo owners."""

    owners: frozenset[str] | None = None

    EVERYONE: ClassVar[OwnerScope]

    @classmethod
    def of(cls, owners: tuple[str, ...] | frozenset[str] | None) -> OwnerScope:
        """The scope of a credential's `owners` (empty or None: every owner)."""
        return cls(frozenset(owners) if owners else None)

    def allows(self, owner: str | None) -> bool:
        return self.owners is None or owner in self.owners

    @property
    def names(self) -> tuple[str, ...]:
        """The owners in a stable order; () for every owner (the services' old convention)."""
        return () if self.owners is None else tuple(sorted(self.owners))


OwnerScope.EVERYONE = OwnerScope(None)
