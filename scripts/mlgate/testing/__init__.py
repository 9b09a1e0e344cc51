"""Fakes and builders for testing mlgate, and code that uses it, on real git repositories with no network:

* :class:`RegistryRepo`: a real git repository holding a registry, with helpers to edit, commit, branch, merge
  and push it (:meth:`~RegistryRepo.add_origin`), and :func:`branch_sha` to read a branch with plain git;
* :class:`StaticReviews`: a pull request's reviews, teams and permissions as a test scripts them;
* :class:`TrainingRun`: the files a training run hands to ``mlgate register``, and :func:`lineage`;
* :func:`local_forge`, :func:`approve`, :func:`merge_approved`: the local forge set up like the example registry;
* :mod:`mlgate.testing.github`: a GitHub REST stand-in on 127.0.0.1 (``StandIn``) for ``--forge github``;
* :mod:`mlgate.testing.s3`: moto's S3 server on 127.0.0.1 (``s3_server()``) with a log of every request.

>>> repo = RegistryRepo.create(tmp_path)            # the example registry, committed on main
>>> repo.branch("pr-1")
>>> repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
>>> repo.commit("Promote v3")

Importing this package imports no test runner, no click and no PyGithub (the stand-in's ``forge()`` imports
PyGithub when it is called).
"""

from mlgate.testing.forge import approve, local_forge, merge_approved
from mlgate.testing.repo import AUTHOR, RegistryRepo, branch_sha
from mlgate.testing.reviews import EXAMPLE_TEAMS, StaticReviews
from mlgate.testing.training import CARD, DATASET_SHA256, TrainingRun, lineage

__all__ = [
    "AUTHOR",
    "CARD",
    "DATASET_SHA256",
    "EXAMPLE_TEAMS",
    "RegistryRepo",
    "StaticReviews",
    "TrainingRun",
    "approve",
    "branch_sha",
    "lineage",
    "local_forge",
    "merge_approved",
]
