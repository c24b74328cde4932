"""Docking (issue 15): the tables of the projects adapter (app/services/docking). Placeholder being built."""
