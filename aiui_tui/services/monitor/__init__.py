"""System and GPU monitoring."""
