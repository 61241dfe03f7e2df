"""Figures; every function returns or saves a matplotlib Figure (no pyplot state)."""
