"""Paper-mail intake, receipts, results, progress query."""
