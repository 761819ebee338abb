"""Console scripts of uws-pyramid (uws-admin)."""
