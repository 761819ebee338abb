"""The job execution contract shared by every manager (working directory, wrapper, results)."""
