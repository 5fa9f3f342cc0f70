"""A bid coming in and being qualified: the opportunity and its sites, BANTS and go/no-go, edits
with a trail, and what we offer.
"""
