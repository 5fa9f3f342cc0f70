"""Handlers of documents commands."""
