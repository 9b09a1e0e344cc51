"""The edges to the outside: the only importers of PyYAML (yamlio), jsonschema (schemas), git (git) and
fsspec (store), and the one atomic write."""
