"""After submission: the customer's decision, the contract, the orders (MACDs) and the tasks a won
bid needs.
"""
