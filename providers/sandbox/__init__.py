"""A loopback ESP sandbox: speaks the SendGrid, Mailchimp Marketing and Mailchimp Transactional
APIs (and SMTP) well enough for the real SDKs, records what it accepted, injects faults on
demand and posts signed webhooks back. Used by the demo and the tests; never in production."""

from providers.sandbox.server import EspSandbox

__all__ = ["EspSandbox"]
