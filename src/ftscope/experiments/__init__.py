"""Experiments: one YAML expanded into a grid of cells, run into the store, cached and resumable.

Kept import-light on purpose: `cells` and `store` have no torch, so the report can read the store;
the runner (which trains and evaluates) is imported where it is used.
"""
