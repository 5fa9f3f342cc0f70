"""Prefect flows: thin doors into `orchestrator.bid.progress.services`, one per lifecycle step.

Importing a module here defines flows and runs nothing. The database stays the single source
of truth for a bid's state; a flow run only asks the services to do a step's work.
"""
