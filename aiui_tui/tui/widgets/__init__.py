"""Reusable widgets: each renders what its parent sets on it and posts messages up."""
