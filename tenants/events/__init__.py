"""The workspace's event outbox: what happened, written with the change, delivered after commit to consumers."""
