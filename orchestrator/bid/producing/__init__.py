"""Bid production: quote requests sent, quotes imported, the design frozen, and every change
checked against rules/changes.yaml.
"""
