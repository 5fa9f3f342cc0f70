"""Recording a change to a bid (its audit event, in the caller's transaction), its versions, and
rendering its documents from a version.
"""
