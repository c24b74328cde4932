"""Docking (issue 15): the tables of the ywtb adapter (app/services/docking). Placeholder being built."""
