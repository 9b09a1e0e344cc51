"""Importers: an MLflow model registry or a GTO repository becomes mlgate manifests, in one pull request.

Each source module (:mod:`.mlflow`, :mod:`.gto`) reads its registry into the source-neutral shapes of
:mod:`.common` (:class:`~.common.ModelIn`, :class:`~.common.VersionIn`); :func:`.common.run_import` decides
what is new against the target branch, copies the artifacts to the store and writes everything through
:mod:`mlgate.change.batch`. What has no home in mlgate is listed in the result, never dropped silently.
"""
