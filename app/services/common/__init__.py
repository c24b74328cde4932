"""What every wing may use and that knows nothing of cases or people: the application's clock
(``clock``), transaction and row-lock helpers that work on SQLite and PostgreSQL (``db_support``),
and blob storage — uploaded bytes told by their content, stored once per SHA-256 outside the web
root, read back after a checksum (``blobs``). Imports nothing from app.services."""
