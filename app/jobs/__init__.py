"""Scheduler entry points (APScheduler); each job is one service call."""
