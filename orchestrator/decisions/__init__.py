"""Decisions and process data from `rules/`: the zen-engine port and every loader."""
