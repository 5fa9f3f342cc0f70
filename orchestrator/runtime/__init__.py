"""Where automated work runs: the flow runner port, Prefect's environment, the local UI."""
