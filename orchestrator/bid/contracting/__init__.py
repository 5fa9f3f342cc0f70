"""Contracts and renewals: a signed bid becomes a contract, whose dates the agreed start sets; a
contract nearing its end opens its renewal.
"""
