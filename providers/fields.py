"""Encrypted secret fields that never pass ciphertext off as a secret.

django-encrypted-model-fields returns the stored ciphertext unchanged when the configured keys
cannot decrypt it. Here such a value comes back as `UndecryptableSecret`, which
`ProviderAccount.secret()` refuses to hand to a client, the start-up check reports, and saving
writes back untouched (encrypting it again would bury the original for good).
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from encrypted_model_fields import fields as encrypted


class UndecryptableSecret(str):
    """Ciphertext that none of the keys in FIELD_ENCRYPTION_KEY can decrypt."""

    __slots__ = ()


class SecretField(encrypted.EncryptedCharField):
    def to_python(self, value):
        if value is None or isinstance(value, UndecryptableSecret):
            return value
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str) or not value.startswith("gAAAAA"):
            return value  # plaintext being assigned in Python, not a stored token
        try:
            return encrypted.decrypt_str(value)
        except InvalidToken:
            return UndecryptableSecret(value)

    def get_db_prep_save(self, value, connection):
        if isinstance(value, UndecryptableSecret):
            return str(value)
        return super().get_db_prep_save(value, connection)


def reload_keys() -> None:
    """Re-read FIELD_ENCRYPTION_KEY (the library builds its crypter once, at import)."""
    encrypted.CRYPTER = encrypted.get_crypter()
