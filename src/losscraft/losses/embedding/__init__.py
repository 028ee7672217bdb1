"""Embedding losses."""
