"""The words of the public unsubscribe and preference pages, per locale: a small catalogue kept
here (the customer has no Django language setting; the page speaks the language of the email
it came from). English is the fallback and must hold every key."""

from __future__ import annotations

from templates_lib.rendering import pick_locale

FALLBACK = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Email preferences",
        "confirm_heading": "Unsubscribe from promotional emails?",
        "confirm_text": "{email} will no longer receive offers and other promotional emails.",
        "confirm_button": "Unsubscribe",
        "done_heading": "You are unsubscribed",
        "done_text": "{email} will no longer receive promotional emails.",
        "transactional_note": (
            "Emails about your returns and refunds are always sent: they are part of the "
            "service you asked for."
        ),
        "preferences_link": "Manage your email preferences",
        "preferences_heading": "Your email preferences",
        "offers_label": "Offers and other promotional emails",
        "transactional_label": "Emails about your returns and refunds (always on)",
        "save_button": "Save",
        "saved": "Your preferences are saved.",
        "offers_blocked": (
            "Promotional emails stay off for this address because earlier mail to it bounced "
            "or was reported as spam."
        ),
        "invalid_heading": "This link is not valid",
        "invalid_text": "Please use the link from the latest email you received from us.",
        "expired_heading": "This link has expired",
        "expired_text": "Please use the link from a more recent email you received from us.",
    },
    "de": {
        "title": "E-Mail-Einstellungen",
        "confirm_heading": "Werbe-E-Mails abbestellen?",
        "confirm_text": "{email} erhält dann keine Angebote und anderen Werbe-E-Mails mehr.",
        "confirm_button": "Abbestellen",
        "done_heading": "Sie haben sich abgemeldet",
        "done_text": "{email} erhält keine Werbe-E-Mails mehr.",
        "transactional_note": (
            "E-Mails zu Ihren Retouren und Erstattungen erhalten Sie weiterhin: Sie gehören zu "
            "dem Service, den Sie angefordert haben."
        ),
        "preferences_link": "E-Mail-Einstellungen verwalten",
        "preferences_heading": "Ihre E-Mail-Einstellungen",
        "offers_label": "Angebote und andere Werbe-E-Mails",
        "transactional_label": "E-Mails zu Ihren Retouren und Erstattungen (immer aktiv)",
        "save_button": "Speichern",
        "saved": "Ihre Einstellungen sind gespeichert.",
        "offers_blocked": (
            "Werbe-E-Mails bleiben für diese Adresse aus, weil frühere E-Mails nicht zugestellt "
            "werden konnten oder als Spam gemeldet wurden."
        ),
        "invalid_heading": "Dieser Link ist ungültig",
        "invalid_text": "Bitte verwenden Sie den Link aus der neuesten E-Mail von uns.",
        "expired_heading": "Dieser Link ist abgelaufen",
        "expired_text": "Bitte verwenden Sie den Link aus einer neueren E-Mail von uns.",
    },
    "fr": {
        "title": "Préférences e-mail",
        "confirm_heading": "Se désabonner des e-mails promotionnels ?",
        "confirm_text": "{email} ne recevra plus d'offres ni d'autres e-mails promotionnels.",
        "confirm_button": "Se désabonner",
        "done_heading": "Vous êtes désabonné",
        "done_text": "{email} ne recevra plus d'e-mails promotionnels.",
        "transactional_note": (
            "Les e-mails concernant vos retours et remboursements sont toujours envoyés : ils "
            "font partie du service que vous avez demandé."
        ),
        "preferences_link": "Gérer vos préférences e-mail",
        "preferences_heading": "Vos préférences e-mail",
        "offers_label": "Offres et autres e-mails promotionnels",
        "transactional_label": "E-mails concernant vos retours et remboursements (toujours actifs)",
        "save_button": "Enregistrer",
        "saved": "Vos préférences sont enregistrées.",
        "offers_blocked": (
            "Les e-mails promotionnels restent désactivés pour cette adresse : des e-mails "
            "précédents n'ont pas pu être remis ou ont été signalés comme spam."
        ),
        "invalid_heading": "Ce lien n'est pas valide",
        "invalid_text": "Veuillez utiliser le lien du dernier e-mail que nous vous avons envoyé.",
        "expired_heading": "Ce lien a expiré",
        "expired_text": (
            "Veuillez utiliser le lien d'un e-mail plus récent que nous vous avons envoyé."
        ),
    },
}


def page_locale(*wanted: str) -> str:
    """The first of `wanted` (the email's locale, the customer's) the catalogue speaks, by
    locale or language ("de-AT" -> "de"); English otherwise."""
    for locale in wanted:
        if locale and (picked := pick_locale(list(STRINGS), locale, "")):
            return picked
    return FALLBACK


def page_strings(locale: str) -> dict[str, str]:
    return {**STRINGS[FALLBACK], **STRINGS.get(locale, {})}
