"""One-time notices (一次性告知 / 补正)."""
