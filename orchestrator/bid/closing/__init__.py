"""After submission: the customer's decision and the orders (MACDs) on a won bid."""
