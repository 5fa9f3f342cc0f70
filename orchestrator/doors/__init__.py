"""Doors that take requests from outside services: the Slack endpoint (`doors.slack`)."""
