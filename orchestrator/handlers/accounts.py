"""Handlers of accounts commands."""
