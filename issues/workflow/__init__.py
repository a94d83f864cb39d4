"""Workflow rules of a report's life: the SLA clock in working time, and what builds on it."""
