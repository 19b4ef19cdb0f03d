"""The Textual UI: renders service state and sends intents; no business logic here."""
