"""The catalog: a static site of the registry (models, versions with metric deltas and charts, lineage,
rendered model cards, comparisons, the audit trail and an offline search), built by ``mlgate catalog``.

Every page is plain HTML with every asset beside it in the output folder: nothing is fetched from the network
when the site is opened, and everything read from registry files is escaped (cards are rendered as CommonMark
with raw HTML off, see :mod:`mlgate.catalog.card`). A Content-Security-Policy forbids inline scripts too.
"""

from __future__ import annotations

from mlgate.catalog.build import CatalogResult, build_catalog
from mlgate.catalog.serve import serve

__all__ = ["CatalogResult", "build_catalog", "serve"]
