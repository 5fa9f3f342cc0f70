"""Accounts and the portfolio review: the customers bids are for."""
