"""Reads of returns_mail, one module per subject: messages (the REST API's reads of events and
their messages), campaigns (progress and results) and segments (members and audience)."""
