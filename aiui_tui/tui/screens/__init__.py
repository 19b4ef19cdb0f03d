"""Top-level screens (Textual modes) and modal screens."""
