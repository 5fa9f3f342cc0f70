"""Handlers of people commands."""
