"""The one write path: every change to a bid goes through a service function here."""
