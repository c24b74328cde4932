"""Plain Python: code sets, value objects, rules and errors. Imports nothing of the app."""
