"""The analytics admin: one module per area (webhook deliveries; alerts and health checks)."""
