"""Email addresses as accounts key them: checked by `email-validator` (syntax only, no DNS)
and lower-cased whole, so `Ann@Example.org` and `ann@example.org` are one account."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalise_email(text: str) -> str:
    """The normal form of `text`; `ValueError` saying what is wrong when it is no address."""
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not an email address: {exc}") from None
    return checked.normalized.lower()
