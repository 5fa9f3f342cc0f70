"""Doors that take requests from outside services: the Slack endpoint (`doors.slack`) and the
Prefect UI's form flows (`doors.prefect_forms`)."""
