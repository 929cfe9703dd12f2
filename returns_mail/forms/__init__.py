"""Admin forms of returns_mail, one module per admin subject: rules (trigger rules, routes and
the rule trial), segments, api_clients, suppression and catalogue (the event-type switch)."""
