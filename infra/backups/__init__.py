"""Encrypted per-workspace backups (dump, encrypt, store, restore, verify) and the workspace's full export."""
