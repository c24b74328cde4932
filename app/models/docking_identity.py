"""Docking (issue 15): the tables of the identity adapter (app/services/docking). Placeholder being built."""
