"""What a bid's data adds up to, read only: the priced deal and its summary, the Bid Control Plan's
milestones, the exit criteria and the facts the lifecycle's guards look at.
"""
