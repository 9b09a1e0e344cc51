"""Interop with other registries: the MLflow plugin and importers."""
