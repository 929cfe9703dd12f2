"""The templates a new install starts with: one branded layout and a template per event type."""
