"""Redaction of PII and secrets: text in, text with typed placeholders out.

Pure functions over strings (and nested JSON-like values), no I/O and no state, so the SDK (before anything
leaves the process) and the collector (before anything is stored) apply exactly the same rules::

    >>> from tracehouse.redaction import redact
    >>> redact("mail jane@example.com, card 4111 1111 1111 1111")
    'mail <EMAIL>, card <CARD>'

Rules run in a fixed order: secrets first (so ``https://user:pw@host`` is a password, not an e-mail, and a
provider key after ``Bearer`` or ``api_key=`` is an API key), then e-mail and IPv6 addresses, then numbers: IBANs
(ISO 7064 mod 97 and the country's length), payment cards (Luhn, issuer prefix and length), SSNs, IPv4 addresses
and phone numbers, in that priority where they overlap (an IBAN-shaped string that fails its check holds no card
and no phone number either). Placeholders contain no digits or ``@``, so a later rule never matches an earlier
placeholder. Replacements never contain quotes or backslashes, so redacting JSON text keeps it valid JSON; JSON
escapes (``\\n``, ``\\"``, ``\\u00e9``, also escaped twice) count as separators, so a value right after ``\\n`` is
found and the ``n`` stays. Word boundaries are ASCII: values are found in Japanese or Chinese text without spaces
around them.

API keys are recognised by their providers' prefixes: OpenAI (and OpenRouter, DeepSeek), Anthropic, AWS access
key ids, GitHub, GitLab, Slack (tokens, webhooks), Google (API keys, OAuth tokens), Stripe, Hugging Face, Groq,
xAI, Perplexity, Replicate, SendGrid, npm, PyPI, LangSmith, Shopify, DigitalOcean. What needs context to be
recognisable takes it from the text before the value:

* passwords and prefix-less keys: a key word and ``:`` or ``=`` (``password:``, ``"client_secret": "``,
  ``DB_PASSWORD=``, ``api-key:``, ``mot de passe :``, ``パスワード：``); for passwords also ``is`` in seven
  languages (``my password is``, ``mein Passwort ist``, ``パスワードは``) when the value has a digit or a symbol.
  Keys and tokens must look random (letters and digits). Values that name a secret without holding one stay:
  ``os.environ[...]``, ``${VAR}``, ``********``, ``password=password``, ``SecretStr``, booleans;
* phone numbers: unambiguous shapes anywhere (``+`` and a country code, an area code in parentheses, North
  American ``415-555-0132``, national numbers with a trunk ``0`` and at least 9 digits, ``138 0013 8000``); any
  7 to 15 digits, grouped or bare, only after a phone word (``tel``, ``phone``, ``call me``, ``Handy``,
  ``portable``, ``móvil``, ``電話``, ``手机`` ...) with no digit or line break in between. Dates, times, ZIP+4
  codes and versions are never phone numbers;
* SSNs: ``123-45-6789`` (or with spaces) anywhere, 9 bare digits after ``SSN`` or ``social security``;
* dotted quads are IP addresses unless a version or section word precedes them (``version 2.4.1.8``,
  ``v2.4.1.8``, ``section 1.2.3.4``).

Redaction is best effort: it recognises the formats above; free-form personal data (names, street addresses),
bare digit strings without a phone word, and secrets without a key word (``curl -u admin:pw``) are out of its
reach. A private key block cut off before its END line is redacted to the end of its last base64 line.
Thread-safe (compiled patterns and constants only).

Cost: Python's ``re`` spends tens of nanoseconds on every position it tries, so no rule's pattern runs over the
whole text. Each rule has anchors, substrings found with ``str.find`` (``@``, ``://``, ``eyJ``, ``sk-``, key
words in the lower-cased text), and its pattern runs only at or around them; the number rules run only at the
runs of digits of numeric tokens (7 or more characters of digits and separators). Three scans by patterns that
start with a literal or a digit find numeric tokens, IBAN check digits and IPv6 colons.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

__all__ = ["KINDS", "PLACEHOLDERS", "RedactionResult", "redact", "redact_detailed", "redact_value"]

Span = tuple[int, int]
_Token = tuple[int, int, list[int]]  # a numeric token: start, end, where its runs of digits start


@dataclass(frozen=True)
class _Rule:
    """A pattern and where to try it.

    Anchored rules try ``pattern`` at each occurrence of an anchor: a substring found with ``str.find`` (in the
    lower-cased text with ``fold``; ``escaped_anchors`` too when the text has JSON ``\\u`` escapes) or a match of
    ``anchor_scan``. The match starts at the anchor, or at ``start_of(text, anchor)``, or, with
    ``reach=(before, after)``, anywhere in that window as long as it covers the anchor. Number rules (``starts``)
    try it where ``_numbers`` says, and only where the character before is not in ``before``.
    """

    kind: str
    placeholder: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...] = ()
    escaped_anchors: tuple[str, ...] = ()
    fold: bool = False
    anchor_scan: re.Pattern[str] | None = None
    anchor_ok: Callable[[str, int], bool] | None = None  # a cheap look at an anchor's neighbours
    start_of: Callable[[str, int], int] | None = None
    reach: tuple[int, int] | None = None  # with ``start_of``: searched when no match starts there
    min_run: int = 0  # skipped when no run of text without white space is this long
    starts: Callable[[str, list[_Token]], Iterable[tuple[int, int]]] | None = None
    before: frozenset[str] = frozenset()
    # Given a match, the span to replace or None to keep the text; default: group "v" if it matched, else all.
    check: Callable[[re.Match[str]], Span | None] | None = None
    # A number match that fails ``check`` but passes this keeps later number rules out of it (an IBAN with a typo
    # holds no card and no phone number).
    holds: Callable[[re.Match[str]], Span | None] | None = None
    # Many anchors in a short text: one scan by a pattern of them all costs less than a ``str.find`` for each.
    anchor_pattern: re.Pattern[str] | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.anchors) >= 8:
            alternatives = sorted(self.anchors, key=len, reverse=True)  # at one position the longer one wins
            object.__setattr__(self, "anchor_pattern", re.compile("|".join(map(re.escape, alternatives))))


def _value_span(m: re.Match[str]) -> Span | None:
    if "v" in m.re.groupindex and m.group("v") is not None:
        return m.span("v")
    return m.span()


def _start(chars: str) -> str:
    """Lookbehind: not preceded by ``chars`` or a backslash, except as the end of a JSON escape."""
    return rf"(?:(?<=\\[nrtbf])|(?<=\\u[0-9a-fA-F]{{4}})|(?<![\\{chars}]))"


def _words(*words: str) -> str:
    """A regex alternation of ``words`` and their JSON-escaped forms (``密码`` and ``\\u5bc6\\u7801``)."""
    forms = dict.fromkeys(form for word in words for form in (word, _escaped(word)))
    return "|".join(re.escape(form) for form in forms)


def _escaped(word: str) -> str:
    return "".join(c if c.isascii() else f"\\u{ord(c):04x}" for c in word)


# horizontal white space: with re.ASCII, \s misses the no-break spaces of French typography (also JSON-escaped)
_H = r"(?:[ \t\u00a0\u202f]|\\u00a0|\\u202f)"


def _ascii_except(chars: str) -> str:
    """A character class of printable ASCII but ``chars`` (URL user info is ASCII: no CJK text runs into it)."""
    return "[" + "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in chars) + "]"
_NUMSEP = r"[ .\-\u00a0\u202f]"  # separators inside numbers
_A = re.ASCII


# -- checks -------------------------------------------------------------------------------------------------------
def _luhn(digits: str) -> bool:
    if len(set(digits)) == 1:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_issuer(d: str) -> bool:
    """Issuer prefix and length of the major networks: numbers that pass Luhn by chance (epoch milliseconds,
    IMEIs, tracking numbers) fail here."""
    n, p2, p4 = len(d), int(d[:2]), int(d[:4])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if p2 in (34, 37):  # American Express
        return n == 15
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if 2200 <= p4 <= 2204 or 3528 <= p4 <= 3589:  # Mir, JCB
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= int(d[:3]) <= 305:  # Diners Club
        return 14 <= n <= 19
    if d[0] == "6" or p2 in (50, 56, 57, 58):  # Discover, UnionPay, Maestro, RuPay
        return 13 <= n <= 19
    return False


_DIGIT_RUN = re.compile(r"\d+", _A)


def _card(m: re.Match[str]) -> Span | None:
    start = m.start("v")
    groups = [g.group() for g in _DIGIT_RUN.finditer(m.group("v"))]
    digits = "".join(groups)
    if 13 <= len(digits) <= 19 and _card_issuer(digits):
        return m.span("v") if _luhn(digits) else None
    # Not a card length for its issuer: the last short group may not be the card's (``... 1111 12/27``).
    if len(groups) > 1 and len(groups[-1]) <= 3:
        digits = digits[:-len(groups[-1])]
        if 13 <= len(digits) <= 19 and _card_issuer(digits) and _luhn(digits):
            return start, start + m.group("v").rindex(groups[-2]) + len(groups[-2])
    return None


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18,
    "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26,
    "UA": 29, "VG": 24, "XK": 20,
}


def _iban_shape(m: re.Match[str]) -> Span | None:
    """The span of an IBAN-shaped match: a known country and its length of characters (the match may run on into
    a following word)."""
    candidate = m.group("v")
    expected = _IBAN_LENGTHS.get(candidate[:2])
    if expected is None:
        return None
    taken = end = 0
    for i, c in enumerate(candidate):
        if c != " " and c != "\u00a0":
            taken += 1
            if taken == expected:
                end = i + 1
                break
    if taken < expected or (end < len(candidate) and candidate[end] not in " \u00a0"):
        return None
    start = m.start("v")
    return start, start + end


def _iban(m: re.Match[str]) -> Span | None:
    """An IBAN shape with check digits that pass ISO 7064 mod 97."""
    span = _iban_shape(m)
    if span is None:
        return None
    iban = m.string[span[0]:span[1]].replace(" ", "").replace("\u00a0", "")
    if not 2 <= int(iban[2:4]) <= 98 or int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 != 1:
        return None
    return span


# Dotted quads after these words are versions or section numbers, not IP addresses.
_VERSION_BEFORE = re.compile(
    r"(?i)(?:(?<![a-z])v|version|(?<![a-z])ver\.?|release|build|firmware|section|chapter|§|(?<![a-z])step|"
    + _words("versión", "versione", "versão", "abschnitt", "kapitel", "バージョン", "版本") + r")[\s\\\"'_:=(]{0,8}$")


def _ipv4(m: re.Match[str]) -> Span | None:
    if _VERSION_BEFORE.search(m.string, max(0, m.start() - 40), m.start()):
        return None
    return m.span()


def _ipv6(m: re.Match[str]) -> Span | None:
    candidate = m.group("v")
    if candidate.count(":") < 2 or not any(c.isdigit() for c in candidate):  # "a::b", "dead::beef" in code
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return m.span("v")


_HEX = frozenset("0123456789abcdefABCDEF")


def _ipv6_anchor(text: str, i: int) -> bool:
    """A colon followed by a hex digit or a colon (found by ``_IPV6_SCAN``) with a hex digit or the start of
    ``::`` before it."""
    return (i > 0 and text[i - 1] in _HEX) or text[i + 1] == ":"


def _ipv6_start(text: str, i: int) -> int:
    end = i
    while i > 0 and (text[i - 1] in _HEX or text[i - 1] == ":"):
        i -= 1
    k = text.rfind("\\u", max(0, i - 2), end)  # not into a JSON escape: "\\u662f::1"
    return i if k < 0 else k + 6


_IPV6_SCAN = re.compile(r":[0-9A-Fa-f:]", _A)  # starts with a literal: sre finds it fast


_FILE_SUFFIXES = frozenset(
    "png jpg jpeg gif svg webp ico bmp tif tiff avif js mjs cjs ts tsx jsx css scss less json yaml yml toml html htm "
    "txt md pdf exe dll so dylib lock map wasm zip gz tar whl".split())


_LOCAL_PART = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")


def _email_start(text: str, i: int) -> int:
    stop = max(0, i - 64)
    while i > stop and (text[i - 1] in _LOCAL_PART or "\u00c0" <= text[i - 1] <= "\u024f"):
        i -= 1
    return i


def _email(m: re.Match[str]) -> Span | None:
    if m.group("tld").lower() in _FILE_SUFFIXES:  # logo@2x.png
        return None
    return m.span()


# A phone word, then no digit and no line break up to the number. "tel" must start a word ("hotel" is none), but
# may follow a JSON escape ("\\ntel.").
_W0 = r"(?<!(?<!\\)[a-z])"
_PHONE_WORDS = re.compile(
    r"(?i)(?:phone|" + _W0 + r"t(?:[eé]|\\u00e9)l|" + _W0 + r"fax|" + _W0 + r"mobil|" + _W0 + r"cell|" + _W0
    + r"(?:call(?:ing)?|reach) (?:me|us)(?![a-z])|whats ?app|" + _W0 + r"sms|text me(?![a-z])|" + _W0
    + r"handy|rufnummer"
    + r"|anruf|portable|" + _W0 + r"appel|m(?:[oó]|\\u00f3)vil|" + _W0 + r"llam|chiam|celular|" + _W0 + r"ligue|"
    + _words("電話", "携帯", "电话", "手机", "联系") + r")(?:\\u[0-9a-fA-F]{4}|[^\d\n]){0,30}$")
_PHONE_STRONG = re.compile(
    r"\+.*"  # international: +44 20 7946 0958
    r"|\(\d{2,5}\).*"  # area code in parentheses: (415) 555-0132, (11) 91234-5678
    r"|(?:1[ .\-])?[2-9]\d\d[ .\-]\d{3}[ .\-]\d{4}"  # North American (415-555-0132, 1-800-555-0199), Italian
    r"|0[1-9]\d{0,4}[ .\-/\u00a0].*"  # trunk prefix: 020 7946 0958, 06 12 34 56 78, 030/1234567, 090-1234-5678
    r"|00[1-9]\d{0,3}[ .\-/\u00a0].*"  # international prefix: 0044 20 7946 0958
    r"|1[3-9]\d[ \-]\d{4}[ \-]\d{4}"  # Chinese mobile: 138 0013 8000
    r"|[6-9]\d\d(?: \d\d){3}",  # Spanish: 912 34 56 78
    _A | re.S)
# a date has exactly three parts (06.12.34.56.78 is a phone number; 15.03.2024 and "2024-03-15 10" are not)
_DATE_LIKE = re.compile(r"(?<![\d./\-])(?:\d{4}(?P<a>[./\-])\d\d?(?P=a)\d\d?|\d\d?(?P<b>[./\-])\d\d?(?P=b)\d{2,4})"
                        r"(?![./\-]?\d)", _A)
_PHONE_STEMS = ("phone", "tel", "tél", "fax", "mobil", "cell", "call", "reach", "whats", "sms", "text me", "handy",
                "rufnummer", "anruf", "portable", "appel", "vil", "llam", "chiam", "celular", "ligue", "電話", "携帯",
                "电话", "手机", "联系")  # a cheap test before ``_PHONE_WORDS``
_PHONE_STEMS_ESCAPED = _PHONE_STEMS + tuple(_escaped(stem).lower() for stem in _PHONE_STEMS if not stem.isascii()) + (
    "t\\u00e9l",)
_NOT_DIGITS = str.maketrans("", "", " .-/()+\u00a0\u202f")
_NOT_PHONE = re.compile(r"\d{3}-\d\d-\d{4}|\d{5}-\d{4}", _A)  # an impossible SSN (000-12-3456), a ZIP+4 code


def _phone(m: re.Match[str]) -> Span | None:
    candidate = m.group("v")
    digits = len(candidate.translate(_NOT_DIGITS))
    if not 7 <= digits <= 15 or _DATE_LIKE.search(candidate) or _NOT_PHONE.fullmatch(candidate):
        return None
    text, start, end = m.string, m.start("v"), m.end("v")
    if text[end:end + 1] == ":" and text[end + 1:end + 2].isdigit():  # "... 10:30": a time follows
        return None
    if "." in candidate and _VERSION_BEFORE.search(text, max(0, start - 40), start):
        return None
    if _PHONE_STRONG.fullmatch(candidate) and (candidate[0] != "0" or digits >= 9):
        return start, end
    before = max(0, start - 48)
    window = text[before:start].lower()
    stems = _PHONE_STEMS
    if "\\u" in window:
        before = max(0, start - 200)  # 30 characters written as JSON escapes
        window, stems = text[before:start].lower(), _PHONE_STEMS_ESCAPED
    if any(stem in window for stem in stems) and _PHONE_WORDS.search(text, before, start):
        return start, end
    return None


_PASSWORD_WORDS = frozenset(
    form for word in "password passwort passwd pwd passphrase passcode pass kennwort wachtwoord mdp senha contraseña "
    "contrasena パスワード 密码 口令 비밀번호 пароль".split() + ["mot de passe"] for form in (word, _escaped(word)))
_NOT_SECRETS = frozenset(
    "none null nil true false undefined required optional string str secretstr bytes int any password passwd "
    "pwd secret token api_key apikey key value changeme redacted hidden masked empty".split())
_IDENTIFIER = re.compile(
    r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", _A)
_PAGE_TOKEN = re.compile(r"(?i)(?:next|page|continuation|sync|cursor)[_-]?$")


def _secret(m: re.Match[str]) -> Span | None:
    start, end = m.span("v")
    text = m.string
    while end - start > 4 and text[end - 1] in ".:":  # a sentence's full stop
        end -= 1
    value = text[start:end]
    has_digit = any(c.isdigit() for c in value)
    if (value.lower() in _NOT_SECRETS or len(set(value)) <= 2 or value[0] == "$" or value.startswith("**")
            or (not has_digit and _IDENTIFIER.fullmatch(value))):  # db_password, settings.API_KEY, $TOKEN
        return None
    key = m.group("k").lower()
    if m.group("nl") is not None:  # "my password is ...": only password words, and the value must look like one
        symbol = any(not c.isalnum() and c not in ".:" for c in value)  # "incorrect." is no password
        if key not in _PASSWORD_WORDS or not (has_digit or symbol):
            return None
    elif key not in _PASSWORD_WORDS and not key.startswith("pass"):  # keys and tokens look random
        if _PAGE_TOKEN.search(text, max(0, m.start("k") - 14), m.start("k")):  # next_page_token: a cursor
            return None
        letters = any(c.isalpha() for c in value)
        mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
        if len(value) < 8 or not ((has_digit and letters) or (len(value) >= 16 and mixed)):  # not "max_token: 4096"
            return None
    return start, end


_AUTHORIZATION_BEFORE = re.compile(r"(?i)authorization\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?$")


def _bearer(m: re.Match[str]) -> Span | None:
    scheme = m.group("scheme").lower()
    value = m.group("v")
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return m.span("v") if ":" in decoded and decoded.isprintable() else None
    if scheme == "token" and not _AUTHORIZATION_BEFORE.search(m.string, max(0, m.start() - 24), m.start()):
        return None  # "token abc..." only in an Authorization header
    if len(value) < 16 or "=" in value.rstrip("="):
        return None
    has_digit = any(c.isdigit() for c in value)
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return m.span("v") if has_digit or mixed else None


def _ssn_keyword(m: re.Match[str]) -> Span | None:
    digits = m.group("v").replace("-", "").replace(" ", "")
    if digits[:3] in ("000", "666") or digits[0] == "9" or digits[3:5] == "00" or digits[5:] == "0000":
        return None
    return m.span("v")


# -- where number rules may match: (start, end) pairs for ``pattern.match`` ----------------------------------------
def _iban_starts(text: str, tokens: list[_Token]) -> Iterable[tuple[int, int]]:
    size = len(text)
    return ((m.start() - 2, size) for m in _IBAN_SCAN.finditer(text))  # BBANs may hold few digits (LU, GB, NL)


def _run_starts(minimum: int, dots: int = 0) -> Callable[[str, list[_Token]], Iterable[tuple[int, int]]]:
    """Every run of digits in a numeric token with at least ``minimum`` characters to the token's end."""

    def starts(text: str, tokens: list[_Token]) -> Iterable[tuple[int, int]]:
        size = len(text)
        for s, e, runs in tokens:
            if e - s < minimum or (dots and text.count(".", s, e) < dots):
                continue
            end = min(size, e + 2)  # lookaheads see what follows the token
            if s < runs[0]:  # "+" or "(" before the first digit
                yield s, end
            for run in runs:
                if e - run < minimum:
                    break
                yield run, end

    return starts


_IBAN_SCAN = re.compile(r"\d\d(?<=[A-Z]{2}\d\d)", _A)  # the check digits; starting with \d is the faster scan
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _free(text: str, i: int, before: frozenset[str]) -> bool:
    """Whether a match may start at ``i``: the character before is not in ``before`` (nor a backslash), or ends a
    JSON escape (``\\n``, ``\\u00e9``)."""
    if i == 0:
        return True
    c = text[i - 1]
    if c == "\\":
        return False
    if c not in before:
        return True
    if c in "nrtbf" and i >= 2 and text[i - 2] == "\\":
        return True
    return i >= 6 and text[i - 6:i - 4] == "\\u" and all(h in _HEX for h in text[i - 4:i])


# -- rules ----------------------------------------------------------------------------------------------------------
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_API_KEY = (
    r"sk-ant-[a-z]+\d{0,3}-[A-Za-z0-9_\-]{20,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, OpenRouter, DeepSeek
    r"|(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}|ya29\.[0-9A-Za-z_\-]{20,}"  # Google API key, OAuth access token
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}"  # Stripe
    r"|hf_[A-Za-z]{30,}"  # Hugging Face
    r"|gsk_[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{40,}"  # Groq, xAI
    r"|pplx-[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}"  # Perplexity, Replicate
    r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}|npm_[A-Za-z0-9]{36}"  # SendGrid, npm
    r"|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}|lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}"  # PyPI, LangSmith
    r"|shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32}|dop_v1_[0-9a-f]{64}"  # Shopify, DigitalOcean
)
_API_ANCHORS = ("sk-", "AKIA", "ASIA", "ABIA", "ACCA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
                "glpat-", "xox", "AIza", "ya29.", "sk_", "rk_", "whsec_", "hf_", "gsk_", "xai-", "pplx-", "r8_",
                "SG.", "npm_", "pypi-", "lsv2_", "shp", "dop_v1_")
_SECRET_KEYS = (
    r"passwor[dt]|passwd|pwd|passphrase|passcode|pass|kennwort|wachtwoord|mot de passe|mdp|contrasena|senha|"
    + _words("contraseña", "パスワード", "密码", "口令", "비밀번호", "пароль") +
    r"|client[_\-]?secret|secret[_\-]?(?:access[_\-]?)?key|secret|api[_\-]?key|apikey|subscription[_\-]?key"
    r"|access[_\-]?token"
    r"|auth[_\-]?token|refresh[_\-]?token|session[_\-]?token|bot[_\-]?token|private[_\-]?token|token|private[_\-]?key"
)
_SECRET_ANCHORS = ("pass", "pwd", "kennwort", "wachtwoord", "mot de passe", "mdp", "contrase", "senha", "パスワード",
                   "密码", "口令", "비밀번호", "пароль", "client", "secret", "api", "subscription", "access", "auth",
                   "refresh", "session", "bot", "private", "token")
_SECRET_VALUE = r"[^\s\"'`,;&\\<>()\[\]{}\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]{4,512}"

# Order matters: see the module docstring. Rules of the same kind may follow each other.
_RULES: tuple[_Rule, ...] = (
    _Rule("private_key", "<PRIVATE_KEY>", re.compile(
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?:(?!-----BEGIN).)*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"  # not through the next block
        # cut off: the base64 body, line by line (real or escaped newlines), or long runs on one line
        r"|(?:(?:[ \t]*(?:\r?\n|(?:\\+r)?\\+n))+[ \t]*[A-Za-z0-9+/=]+(?=[ \t]*(?:[\r\n\\\"'`\[(.]|$))"
        r"|[ \t]+[A-Za-z0-9+/=]{20,})*)", re.S),
          anchors=("-----BEGIN",)),
    _Rule("jwt", "<JWT>", re.compile(
        _start("A-Za-z0-9_-") + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*", _A),
          anchors=("eyJ",), min_run=24),
    _Rule("url_password", "<PASSWORD>", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://" + _ascii_except(":/@\"'\\<>") + "{0,128}"
        r":(?P<v>" + _ascii_except("/?#\"'\\<>") + "{1,128})@", _A),
          anchors=("://",), reach=(33, 262), min_run=7),
    _Rule("api_key", "<API_KEY>", re.compile(
        _start("A-Za-z0-9_-") + r"(?:" + _API_KEY + r")(?![A-Za-z0-9_\-])", _A), anchors=_API_ANCHORS, min_run=15),
    _Rule("api_key", "<API_KEY>", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{1,200}", _A),
          anchors=("hooks.slack.com/services/",), reach=(8, 240), min_run=40),
    _Rule("bearer_token", "<TOKEN>", re.compile(
        r"(?i)" + _start("A-Za-z0-9") + r"(?P<scheme>bearer|token|basic)" + _H + r"+"
        r"(?P<v>[A-Za-z0-9\-._~+/]{6,1024}=*)(?![A-Za-z0-9\-._~+/=])", _A),
          anchors=("bearer", "basic", "token"), fold=True, check=_bearer),
    _Rule("secret", "<SECRET>", re.compile(
        r"(?i)" + _start("A-Za-z0-9") + r"(?P<k>" + _SECRET_KEYS + r")"
        r"(?:\\?[\"']?\]?" + _H + r"*(?:=>|:=|[:=]|：|\\uff1a)" + _H + r"*\\?[\"']?"
        r"|(?P<nl>" + _H + r"+(?:is|was|ist|lautet|war|est|es|era|" + _words("é", "è") + r")(?:" + _H
        + r"+(?:now|jetzt|maintenant|ahora|agora))?" + _H + r"*:?" + _H + r"*\\?[\"']?|" + _H + r"*(?:"
        + _words("は", "是", "为") + r")" + _H + r"*))"
        r"(?P<v>" + _SECRET_VALUE + r")", _A), anchors=_SECRET_ANCHORS, fold=True, check=_secret,
          escaped_anchors=tuple(_escaped(a) for a in _SECRET_ANCHORS if not a.isascii())),
    _Rule("ssn", "<SSN>", re.compile(
        r"(?i)" + _start("A-Za-z0-9") + r"(?:ssn|social[ _\-]security(?:[ _\-](?:number|no\.?))?)[^\w\n]{0,8}"
        r"(?P<v>\d{9}|\d{3}[ \-]\d{2}[ \-]\d{4})(?![\w\-])", _A),
          anchors=("ssn", "social"), fold=True, check=_ssn_keyword),
    _Rule("email", "<EMAIL>", re.compile(
        _start(r"A-Za-z0-9._%+\-\u00c0-\u024f") + r"(?:[A-Za-z0-9._%+\-\u00c0-\u024f]|\\+u0[0-2][0-9a-fA-F]{2}){1,64}"
        r"@[A-Za-z0-9\-\u00c0-\u024f]{1,63}"
        r"(?:\.[A-Za-z0-9\-\u00c0-\u024f]{1,63}){0,8}\.(?P<tld>[A-Za-z]{2,24})(?![A-Za-z0-9\-])", _A),
          anchors=("@",), start_of=_email_start, reach=(390, 300), check=_email),
    _Rule("ip_address", "<IP_ADDRESS>", re.compile(
        _start(r"\w:.") + r"(?P<v>(?:[0-9A-Fa-f]{0,4}:){2,7}"
        r"(?:[0-9A-Fa-f]{1,4}|" + _OCTET + r"(?:\." + _OCTET + r"){3})?)"
        r"(?![\w:]|\.\d)", _A), anchor_scan=_IPV6_SCAN, anchor_ok=_ipv6_anchor, start_of=_ipv6_start,
          check=_ipv6),
    # Numbers, in this order of priority where they overlap.
    _Rule("iban", "<IBAN>", re.compile(r"(?P<v>[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]){11,30})(?!\w)", _A),
          starts=_iban_starts, before=_WORD, check=_iban, holds=_iban_shape),
    _Rule("card", "<CARD>", re.compile(
        r"(?P<v>\d{4}(?P<s>" + _NUMSEP + r"?)\d{4,6}(?P=s)\d{4,5}(?:(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?)?"
        r"|\d{13,19})(?!\w|[.\-]\d|(?P=s)\d)", _A), starts=_run_starts(13), before=_WORD | set(".+-"), check=_card),
    _Rule("ssn", "<SSN>", re.compile(
        r"(?!000|666|9\d\d)\d{3}(?P<s>[\- ])(?!00)\d{2}(?P=s)(?!0000)\d{4}(?![\w\-])", _A),
          starts=_run_starts(11), before=_WORD | {"-"}),
    _Rule("ip_address", "<IP_ADDRESS>", re.compile(_OCTET + r"(?:\." + _OCTET + r"){3}(?!\w|\.\d)", _A),
          starts=_run_starts(7, dots=3), before=_WORD | {"."}, check=_ipv4),
    _Rule("phone", "<PHONE>", re.compile(
        r"(?P<v>"
        r"\+\d{1,6}(?:" + _NUMSEP + r"?\(0?\d{1,4}\)" + _NUMSEP + r"?\d{1,10})?(?:[ .\-/\u00a0\u202f]\d{1,10}){0,6}"
        r"|\+\d{7,15}"  # +33612345678
        r"|\(\d{2,5}\)" + _NUMSEP + r"?\d{2,10}(?:" + _NUMSEP + r"\d{2,10}){0,3}"  # (415) 555-0132
        r"|\d{1,6}(?:[ .\-/\u00a0\u202f]\d{1,10}){1,5}"  # grouped digits
        r"|\d{7,15}"  # bare digits
        r")(?!\w|[.\-/]\d)", _A), starts=_run_starts(7), before=_WORD | set("+.-/"), check=_phone),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in _RULES))
PLACEHOLDERS: Mapping[str, str] = {rule.kind: rule.placeholder for rule in _RULES}

# Numeric tokens: a digit and at least 6 more digits or separators (a leading "+" or "(" is added back).
_NUMERIC_TOKEN = re.compile(r"\d[\d \-./()\u00a0\u202f]{6,}", _A)
_SHORT_TEXT = 128  # up to this length ``_Rule.anchor_pattern`` is the cheaper way to find many anchors
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
Edit = tuple[int, int, _Rule]


@dataclass(frozen=True)
class RedactionResult:
    text: str
    counts: Mapping[str, int] = field(default_factory=dict)  # kind -> replacements made

    @property
    def redacted(self) -> bool:
        return bool(self.counts)


def _positions(rule: _Rule, text: str, lowered: str) -> list[int]:
    """Where ``rule``'s anchors occur, in order (``str.find`` runs at memory speed; a pattern would try every
    position)."""
    if rule.anchor_scan is not None:
        return [m.start() for m in rule.anchor_scan.finditer(text)]
    haystack = lowered if rule.fold else text
    escaped = bool(rule.escaped_anchors) and "\\u" in text
    if rule.anchor_pattern is not None and len(text) <= _SHORT_TEXT:
        positions = [m.start() for m in rule.anchor_pattern.finditer(haystack)]
        anchors = rule.escaped_anchors if escaped else ()
    else:
        positions = []
        anchors = rule.anchors + rule.escaped_anchors if escaped else rule.anchors
    for anchor in anchors:
        i = haystack.find(anchor)
        while i >= 0:
            positions.append(i)
            i = haystack.find(anchor, i + 1)
    if len(anchors) > 1 or (anchors and rule.anchor_pattern is not None):
        positions.sort()
    return positions


def _anchored(rule: _Rule, text: str, positions: list[int]) -> list[Edit]:
    check = rule.check or _value_span
    edits: list[Edit] = []
    done = skip = 0  # replaced up to ``done``; anchors before ``skip`` lie in a rejected match
    for p in positions:
        if p < done or p < skip or (rule.anchor_ok is not None and not rule.anchor_ok(text, p)):
            continue
        if rule.reach is None or rule.start_of is not None:
            start = p if rule.start_of is None else rule.start_of(text, p)
            match = rule.pattern.match(text, max(start, done))
            if match is not None and match.end() > p:
                span = check(match)
                if span is not None:
                    edits.append((span[0], span[1], rule))
                    done = span[1]
                elif rule.start_of is not None:
                    skip = match.end()
                continue
            if rule.reach is None:
                continue
        before, after = rule.reach
        for match in rule.pattern.finditer(text, max(done, p - before), min(len(text), p + after)):
            if match.end() <= p:
                continue
            if match.start() <= p:  # the match around this anchor
                span = check(match)
                if span is not None and span[0] >= done:
                    edits.append((span[0], span[1], rule))
                    done = span[1]
                else:
                    skip = match.end()
            break
    return edits


def _numbers(rules: list[_Rule], text: str) -> list[Edit]:
    """The number rules at the starts their ``starts`` give; where matches overlap, the earlier rule wins."""
    escapes = "\\u" in text
    tokens: list[_Token] = []
    for token in _NUMERIC_TOKEN.finditer(text):
        s, e = token.span()
        runs = [run.start() for run in _DIGIT_RUN.finditer(text, s, e)]
        if escapes:  # a run may begin inside an escape: "\\uff08535-52-7569"
            for j, r in enumerate(runs):
                k = text.rfind("\\u", max(0, r - 5), r)
                if k >= 0 and r < k + 6 < e and text[k + 6].isdigit():
                    runs[j] = k + 6
        if s and text[s - 1] in "+(":
            s -= 1
        tokens.append((s, e, runs))
    if not tokens and _IBAN_SCAN.search(text) is None:
        return []
    edits: list[Edit] = []
    taken: list[Span] = []  # spans of ``edits`` and held shapes, sorted
    for rule in rules:
        check = rule.check or _value_span
        skip = 0  # the end of this rule's last rejected match: no new match starts inside one (as with finditer)
        for start, end in rule.starts(text, tokens):  # type: ignore[misc]
            if start < skip:
                continue
            i = bisect.bisect_right(taken, (start, len(text)))
            if i and taken[i - 1][1] > start:
                continue  # inside a match already taken
            if not _free(text, start, rule.before):
                continue
            match = rule.pattern.match(text, start, end)
            if match is None:
                continue
            span = check(match)
            held = span is None and rule.holds is not None and (span := rule.holds(match)) is not None
            if span is None:
                skip = match.end()
                continue
            i = bisect.bisect_left(taken, span)
            if (i and taken[i - 1][1] > span[0]) or (i < len(taken) and taken[i][0] < span[1]):
                continue  # overlaps a match already taken
            taken.insert(i, span)
            if not held:
                edits.append((span[0], span[1], rule))
    edits.sort(key=lambda edit: edit[0])
    return edits


def _stages(kinds: frozenset[str] | None) -> list[_Rule | list[_Rule]]:
    stages: list[_Rule | list[_Rule]] = []
    numbers: list[_Rule] = []
    for rule in _RULES:
        if kinds is not None and rule.kind not in kinds:
            continue
        if rule.starts is not None:
            numbers.append(rule)
        else:
            stages.append(rule)
    if numbers:
        stages.append(numbers)
    return stages


_ALL_STAGES = _stages(None)


def _run(text: str, kinds: Iterable[str] | None, on_edits: Callable[[list[Edit]], None] | None = None
         ) -> tuple[str, dict[str, int]]:
    stages = _ALL_STAGES if kinds is None else _stages(frozenset(kinds))
    counts: dict[str, int] = {}
    lowered: str | None = None
    longest = -1  # the longest run of text without white space, when the text is short (-1: not measured yet)
    for stage in stages:
        if isinstance(stage, list):
            edits = _numbers(stage, text)
        else:
            if stage.min_run:
                if longest < 0:
                    longest = max(map(len, text.split()), default=0) if len(text) <= 4096 else len(text)
                if longest < stage.min_run:
                    continue
            if stage.fold and lowered is None:
                lowered = text.lower()
                if len(lowered) != len(text):  # a few characters lower-case to two ("İ"): keep positions
                    lowered = text.translate(_ASCII_LOWER)
            if len(stage.anchors) == 1 and stage.anchors[0] not in (lowered if stage.fold else text):
                continue  # the common case, without a call
            positions = _positions(stage, text, lowered or text)
            edits = _anchored(stage, text, positions) if positions else []
        if not edits:
            continue
        if on_edits is not None:
            on_edits(edits)
        parts: list[str] = []
        last = 0
        for start, end, rule in edits:
            parts.append(text[last:start])
            parts.append(rule.placeholder)
            counts[rule.kind] = counts.get(rule.kind, 0) + 1
            last = end
        parts.append(text[last:])
        text = "".join(parts)
        lowered = None
        longest = -1
    return text, counts


def redact_detailed(text: str, kinds: Iterable[str] | None = None) -> RedactionResult:
    """Redact ``text`` and say what was replaced. ``kinds`` limits the rules to a subset of ``KINDS``."""
    return RedactionResult(*_run(text, kinds))


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with every recognised PII or secret replaced by its typed placeholder (e.g. ``<EMAIL>``)."""
    return _run(text, kinds)[0]


def redact_value(value: Any, kinds: Iterable[str] | None = None) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples); other values are returned as is."""
    if isinstance(value, str):
        return redact(value, kinds)
    if isinstance(value, Mapping):
        return {k: redact_value(v, kinds) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v, kinds) for v in value)
    return value


def _redact_spans(text: str, kinds: Iterable[str] | None = None) -> tuple[str, list[tuple[int, int, str]]]:
    """The redacted text and, for each placeholder in it, the span of ``text`` it replaced and its kind.

    For evaluation (``benchmarks.redaction``), not the hot path: it keeps, for every character of the text being
    redacted, the span of the original it stands for. A placeholder that swallows earlier ones replaces them.
    """
    starts = list(range(len(text)))
    ends = list(range(1, len(text) + 1))
    found: list[tuple[int, int, str]] = []

    def on_edits(edits: list[Edit]) -> None:
        for s, e, rule in reversed(edits):  # right to left, so earlier positions stay valid
            o_start, o_end = starts[s], ends[e - 1]
            found[:] = [f for f in found if not (o_start <= f[0] and f[1] <= o_end)]
            found.append((o_start, o_end, rule.kind))
            size = len(rule.placeholder)
            starts[s:e] = [o_start] * size
            ends[s:e] = [o_end] * size

    redacted, _ = _run(text, kinds, on_edits)
    return redacted, sorted(found)
