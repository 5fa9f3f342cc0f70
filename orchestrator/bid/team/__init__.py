"""People on bids: who they are, what they were granted, how they prove it."""
