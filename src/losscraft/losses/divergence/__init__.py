"""Divergence losses."""
