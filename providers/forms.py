"""Admin forms for provider accounts: replace-only secrets, per-kind requirements, SMTP presets."""

from __future__ import annotations

import ipaddress

from django import forms

from providers.models import (
    ProviderAccount,
    ProviderKind,
    SmtpSecurity,
    smtp_endpoint,
    webhook_secret_problem,
)
from providers.webhooks.sendgrid import load_verification_key

# Form field -> model secret field. The form never shows the stored value.
SECRET_INPUTS = {
    "new_api_key": "api_key",
    "new_webhook_secret": "webhook_secret",
    "new_smtp_password": "smtp_password",
    "new_inbound_secret": "inbound_secret",
}

SMTP_PRESETS = {
    "sendgrid": {
        "smtp_host": "smtp.sendgrid.net",
        "smtp_port": 587,
        "smtp_security": SmtpSecurity.STARTTLS,
        "smtp_username": "apikey",
    },
    "mandrill": {
        "smtp_host": "smtp.mandrillapp.com",
        "smtp_port": 587,
        "smtp_security": SmtpSecurity.STARTTLS,
    },
}

INBOUND_SECRET_MIN_CHARS = 24

API_KINDS = {
    ProviderKind.SENDGRID,
    ProviderKind.MAILCHIMP_MARKETING,
    ProviderKind.MAILCHIMP_TRANSACTIONAL,
}


def _secret_input(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text or "Leave empty to keep the current value.",
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProviderAccountForm(forms.ModelForm):
    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        assume_scheme="https",
        help_text=ProviderAccount._meta.get_field("api_base_url").help_text
        + " Only the provider's own hosts (and those PROVIDER_EXTRA_HOSTS names) are accepted.",
    )
    new_api_key = _secret_input("API key")
    new_webhook_secret = _secret_input(
        "webhook secret",
        "Mailchimp Transactional: the webhook key. Mailchimp Marketing: the secret in the "
        "webhook URL (at least 32 characters; better generated). Leave empty to keep the "
        "current value.",
    )
    generate_webhook_secret = forms.BooleanField(
        label="generate a new webhook URL secret",
        required=False,
        help_text="Mailchimp Marketing: 32 random bytes (done anyway for a new account with none "
        "entered). The webhook URL with it is shown once, after saving: paste it into Mailchimp.",
    )
    new_inbound_secret = _secret_input(
        "inbound secret",
        "SendGrid Inbound Parse (customers' replies): the basic-auth password of the inbound "
        'URL (user "inbound"); at least 24 random characters. Leave empty to keep the '
        "current value.",
    )
    new_smtp_password = _secret_input(
        "SMTP password",
        "SendGrid relay: the API key. Leave empty to keep the current value; it must be entered "
        "again when the host, port or security changes.",
    )
    smtp_preset = forms.ChoiceField(
        label="SMTP preset",
        required=False,
        choices=[
            ("", "—"),
            ("sendgrid", "SendGrid SMTP relay"),
            ("mandrill", "Mailchimp Transactional SMTP"),
        ],
        help_text="Fills host, port, security (and username) with the provider's relay settings.",
    )

    class Meta:
        model = ProviderAccount
        # Listed, not excluded: a secret field added later must never appear here by default.
        fields = [
            "name",
            "kind",
            "purpose",
            "priority",
            "is_active",
            "sandbox_mode",
            "api_base_url",
            "from_email",
            "from_name",
            "reply_to",
            "webhook_verification_key",
            "audience_id",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_username",
            "smtp_timeout",
        ]

    def clean(self):
        cleaned = super().clean()
        preset = cleaned.get("smtp_preset")
        if preset:
            cleaned.update(SMTP_PRESETS[preset])
        kind = cleaned.get("kind")
        if kind in API_KINDS and not (cleaned.get("new_api_key") or self.instance.api_key):
            self.add_error("new_api_key", "An API key is required for this kind of account.")
        if kind == ProviderKind.MAILCHIMP_MARKETING and not cleaned.get("audience_id"):
            self.add_error("audience_id", "Mailchimp Marketing accounts need an audience id.")
        self._clean_webhook_secret(cleaned)
        if kind == ProviderKind.SMTP:
            self._clean_smtp(cleaned)
        return cleaned

    def clean_new_inbound_secret(self) -> str:
        value = self.cleaned_data.get("new_inbound_secret", "")
        if value and len(value) < INBOUND_SECRET_MIN_CHARS:
            raise forms.ValidationError(
                f"At least {INBOUND_SECRET_MIN_CHARS} characters: it is the only proof that "
                "a reply was posted by the provider."
            )
        return value

    def clean_webhook_verification_key(self) -> str:
        key = self.cleaned_data.get("webhook_verification_key", "").strip()
        if key:
            try:
                load_verification_key(key)
            except ValueError:
                raise forms.ValidationError(
                    "Not a SendGrid verification key: paste the public key SendGrid shows for "
                    "the signed event webhook (base64, starting MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQ)."
                ) from None
        return key

    def _clean_webhook_secret(self, cleaned):
        kind, entered = cleaned.get("kind"), cleaned.get("new_webhook_secret")
        if kind != ProviderKind.MAILCHIMP_MARKETING:
            if cleaned.get("generate_webhook_secret"):
                self.add_error(
                    "generate_webhook_secret",
                    "Only Mailchimp Marketing accounts have a webhook URL secret to generate.",
                )
            return
        if entered and cleaned.get("generate_webhook_secret"):
            self.add_error("new_webhook_secret", "Enter a secret or generate one, not both.")
        elif problem := webhook_secret_problem(kind, entered):
            self.add_error("new_webhook_secret", problem)
        elif not entered and (
            self.instance.kind != kind or not self.instance.webhook_secret
        ):  # a new Mailchimp Marketing account gets a strong secret without asking
            cleaned["generate_webhook_secret"] = True

    def _clean_smtp(self, cleaned):
        host = cleaned.get("smtp_host")
        if not host:
            self.add_error("smtp_host", "SMTP accounts need a host.")
        if not cleaned.get("smtp_port"):
            self.add_error("smtp_port", "SMTP accounts need a port.")
        if cleaned.get("smtp_security") == SmtpSecurity.NONE and host and not is_loopback(host):
            self.add_error(
                "smtp_security",
                "Unencrypted SMTP is allowed only to this machine (localhost); use STARTTLS "
                "or implicit TLS for a remote relay.",
            )
        if not cleaned.get("smtp_username") or cleaned.get("new_smtp_password"):
            return
        stored = self.instance.smtp_password
        endpoint = smtp_endpoint(cleaned.get("smtp_security"), host, cleaned.get("smtp_port"))
        if stored and endpoint != self.instance.smtp_password_endpoint:
            # The stored password is never sent to another server: saving would clear it.
            self.add_error(
                "new_smtp_password",
                "The host, port or security changed: enter the password again (the stored one "
                "is never sent to another server).",
            )
        elif not stored:
            self.add_error("new_smtp_password", "A password is required with a username.")

    def secrets(self) -> dict[str, str]:
        return {
            model_field: self.cleaned_data.get(name, "")
            for name, model_field in SECRET_INPUTS.items()
        }


class SendTestEmailForm(forms.Form):
    to = forms.EmailField(label="Recipient", help_text="Who receives the test email.")
