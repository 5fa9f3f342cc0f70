"""The Slack door and adapter: messages, Block Kit, the notifier, the inbound app."""
