"""Classification losses."""
