"""Recording a change to a bid (its audit event, in the caller's transaction), its versions,
the tasks it opens for people, and rendering its documents from a version.
"""
