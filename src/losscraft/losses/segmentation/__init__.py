"""Segmentation losses."""
