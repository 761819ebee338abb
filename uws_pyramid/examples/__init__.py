"""Shipped examples: the job types of the Manager contract suite and of a fresh install."""
