"""Moving bids on: what advance does in each state, the service functions every door calls, stalled
bids and the deadline watch.
"""
