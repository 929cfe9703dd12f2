"""Placeholder: the sendgrid API of the sandbox is being written."""

from __future__ import annotations

from providers.sandbox.core import SandboxRequest, SandboxResponse


class SendGridApp:
    name = "sendgrid"

    def api_key(self, request: SandboxRequest) -> str | None:
        return None

    def handle(self, request, sandbox) -> SandboxResponse:
        return SandboxResponse.json(404, {"error": "not implemented yet"})

    def fault_response(self, status: int, request: SandboxRequest) -> SandboxResponse:
        return SandboxResponse.json(status, {"error": "fault"})
