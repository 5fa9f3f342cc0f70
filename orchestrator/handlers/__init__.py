"""The handlers of the typed commands, one module per use case; `registry` maps each command
type to its handler. `orchestrator.pipeline` imports every module here so that they register,
and `dispatch` is the only caller of a handler."""
