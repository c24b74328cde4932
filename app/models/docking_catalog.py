"""Docking (issue 15): the tables of the catalog adapter (app/services/docking). Placeholder being built."""
