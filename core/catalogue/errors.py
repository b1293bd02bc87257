"""What can go wrong while installing a catalogue encoder, as one-line :class:`SuiteError` s."""

from __future__ import annotations

from core.errors import SuiteError


class CatalogueError(SuiteError):
    """An install that cannot finish: pip failed, a source file is missing or not in the expected format."""


class ChecksumError(CatalogueError):
    """A downloaded file is not the one the catalogue pinned: refuse to build anything from it."""
