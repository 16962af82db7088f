"""Operations of the platform: per-workspace backups and restores, exports, and the cryptography they use."""
