"""Provenance of jobs (W3C PROV, IVOA Provenance DM): documents, the chain across jobs, formats."""
