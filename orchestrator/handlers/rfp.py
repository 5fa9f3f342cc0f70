"""Handlers of rfp commands."""
