"""The registry's manifests: one reader per decisive field (readers), schema and file checks (loader), the
typed snapshot and its views (snapshot), artifacts and the serving index (index)."""
