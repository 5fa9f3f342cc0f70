"""Read-only views of bids for the doors, and the meeting packs."""
