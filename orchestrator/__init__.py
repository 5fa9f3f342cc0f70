"""Bid orchestrator: carries every customer opportunity from pre-qualification to contract."""

__version__ = "0.1.0"
