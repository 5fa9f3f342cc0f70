"""After submission: the customer's decision, the orders (MACDs) and the tasks a won
bid needs.
"""
