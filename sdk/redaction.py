"""Redaction of PII and secrets: text in, text with typed placeholders out.

Pure functions over strings (and nested JSON-like values), no I/O and no state, so the SDK (before anything
leaves the process) and the collector (before anything is stored) apply exactly the same rules::

    >>> from tracehouse.redaction import redact
    >>> redact("mail jane@example.com, card 4111 1111 1111 1111")
    'mail <EMAIL>, card <CARD>'

Rules run in a fixed order, secrets first (so ``https://user:pw@host`` is a password, not an e-mail), then
numbers with checksums (payment cards by Luhn, IBANs by ISO 7064 mod 97), then the looser shapes (e-mail, IP
addresses, phone numbers). Placeholders contain no digits or ``@``, so a later rule never matches an earlier
placeholder. Replacements never contain quotes or backslashes, so redacting JSON text keeps it valid JSON.

Redaction is best effort: it recognises the formats listed in ``KINDS``; free-form personal data (names,
street addresses) is out of its reach. Thread-safe (compiled patterns only).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

__all__ = ["KINDS", "PLACEHOLDERS", "RedactionResult", "redact", "redact_detailed", "redact_value"]


@dataclass(frozen=True)
class _Rule:
    kind: str
    placeholder: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()  # cheap pre-check: skip the regex unless one of these substrings occurs
    digits: bool = False  # skip unless the text has a digit
    valid: Callable[[str], bool] | None = None  # a checksum or parser over the matched text (group "v")


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18,
    "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26,
    "UA": 29, "VG": 24, "XK": 20,
}


def _iban(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ipv6(candidate: str) -> bool:
    if candidate.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _phone(candidate: str) -> bool:
    return 7 <= sum(c.isdigit() for c in candidate) <= 15


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

# Order matters: see the module docstring.
_RULES: tuple[_Rule, ...] = (
    _Rule("private_key", "<PRIVATE_KEY>", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:[A-Za-z0-9+/=\s]|\\[nr])*)", re.S), triggers=("PRIVATE KEY",)),  # unterminated: the base64 body
    _Rule("jwt", "<JWT>", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
          triggers=("eyJ",)),
    _Rule("url_password", "<PASSWORD>", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"'\\]+:(?P<v>[^\s@/\"'\\]+)@"), triggers=("://",)),
    _Rule("bearer_token", "<TOKEN>", re.compile(
        r"(?i)\b(?:bearer|token|basic)\s+(?P<v>(?=[A-Za-z0-9\-._~+/]*\d)[A-Za-z0-9\-._~+/]{16,}=*)"),
          digits=True),
    _Rule("api_key", "<API_KEY>", re.compile(
        r"\b(?:sk-ant-[a-z]+\d{0,3}-[A-Za-z0-9_-]{20,}"  # Anthropic
        r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI
        r"|(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"  # AWS access key id
        r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
        r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
        r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
        r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})"  # Stripe
        r"(?![A-Za-z0-9_-])"
        r"|https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
          triggers=("sk-", "AKIA", "ASIA", "ABIA", "ACCA", "gh", "github_pat_", "xox", "AIza", "k_live_", "k_test_",
                    "hooks.slack.com")),
    _Rule("secret", "<SECRET>", re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret"
        r"|aws_secret_access_key)\s*[:=]\s*(?P<v>[^\s\"',;&\\<>]{4,})")),
    _Rule("card", "<CARD>", re.compile(r"(?<![\w.+-])(?P<v>\d(?:[ -]?\d){12,18})(?![\w]|[.-]\d)"),
          digits=True, valid=_luhn),
    _Rule("iban", "<IBAN>", re.compile(r"\b(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})\b"), digits=True,
          valid=_iban),
    _Rule("ssn", "<SSN>", re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"),
          digits=True),
    _Rule("email", "<EMAIL>", re.compile(
        r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), triggers=("@",)),
    _Rule("ip_address", "<IP_ADDRESS>", re.compile(
        r"(?<![\w:.])(?P<v>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|" + _OCTET + r"(?:\." + _OCTET + r"){3})?)"
        r"(?![\w:]|\.\d)"), triggers=(":",), valid=_ipv6),
    _Rule("ip_address", "<IP_ADDRESS>", re.compile(
        r"(?<![\w.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![\w]|\.\d)"), digits=True),
    _Rule("phone", "<PHONE>", re.compile(
        r"(?<![\w+.-])(?P<v>"
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international: +44 20 7946 0958
        r"|\(\d{3}\)[ .-]?\d{3}[ .-]?\d{4}"  # (415) 555-0132
        r"|\d{3}[ .-]\d{3}[ .-]\d{4}"  # 415-555-0132
        r"|0\d{1,4}(?:[ .-/]\d{2,8}){2,4}"  # national with trunk prefix: 06 12 34 56 78, 030 123 4567
        r")(?![\w]|[.-]\d)"), digits=True, valid=_phone),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in _RULES))
PLACEHOLDERS: Mapping[str, str] = {rule.kind: rule.placeholder for rule in _RULES}


@dataclass(frozen=True)
class RedactionResult:
    text: str
    counts: Mapping[str, int] = field(default_factory=dict)  # kind -> replacements made

    @property
    def redacted(self) -> bool:
        return bool(self.counts)


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _apply(rule: _Rule, text: str, counts: Counter[str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        group = "v" if "v" in match.re.groupindex and match.group("v") is not None else 0
        value = match.group(group)
        if rule.valid is not None and not rule.valid(value):
            return match.group(0)
        counts[rule.kind] += 1
        if group == 0:
            return rule.placeholder
        start, end = match.span(group)
        offset = match.start(0)
        whole = match.group(0)
        return whole[: start - offset] + rule.placeholder + whole[end - offset:]

    return rule.pattern.sub(substitute, text)


def redact_detailed(text: str, kinds: Iterable[str] | None = None) -> RedactionResult:
    """Redact ``text`` and say what was replaced. ``kinds`` limits the rules to a subset of ``KINDS``."""
    wanted = None if kinds is None else frozenset(kinds)
    counts: Counter[str] = Counter()
    has_digit: bool | None = None
    for rule in _RULES:
        if wanted is not None and rule.kind not in wanted:
            continue
        if rule.triggers and not any(t in text for t in rule.triggers):
            continue
        if rule.digits:
            if has_digit is None:
                has_digit = _has_digit(text)
            if not has_digit:
                continue
        text = _apply(rule, text, counts)
    return RedactionResult(text, dict(counts))


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with every recognised PII or secret replaced by its typed placeholder (e.g. ``<EMAIL>``)."""
    return redact_detailed(text, kinds).text


def redact_value(value: Any, kinds: Iterable[str] | None = None) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples); other values are returned as is."""
    if isinstance(value, str):
        return redact(value, kinds)
    if isinstance(value, Mapping):
        return {k: redact_value(v, kinds) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v, kinds) for v in value)
    return value
