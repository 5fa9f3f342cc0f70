"""Measuring the sales cycle: funnel, win/loss, forecast, monthly review (read-only on bids)."""
