"""The bid workspace: server-rendered pages for the people who never open a terminal.

Every change goes through `orchestrator.pipeline.dispatch`, like every other door."""
