"""A labelled corpus for the redaction benchmark, generated at run time from a seed.

Nothing sensitive-looking is stored in this file: keys, tokens, key blocks, card numbers and the like are built
when the corpus is generated (prefixes by concatenation, bodies from the seeded generator), so the repository's
secret scan has nothing to flag and every run with the same ``n`` and ``seed`` gives the same corpus.

A sample is a short document as an LLM application sees it, in one of these styles:

* ``prose``: a user prompt or an assistant answer in English, German, French, Spanish, Portuguese, Japanese or
  Chinese (CJK text without spaces around the values, French no-break spaces before colons and guillemets);
* ``json``: a tool call or API body, some with ``ensure_ascii`` escapes, chat content with ``\\n`` escapes, and
  OpenAI-style ``arguments`` (JSON inside a JSON string, so escaped twice);
* ``log``: a structured log line; ``env`` and ``yaml``: configuration; ``code``: a Python snippet; ``http``: a
  request dump; ``table``: a markdown or CSV table.

Each sample carries entities of the kinds of ``tracehouse.redaction.KINDS`` (type and character span) and hard
negatives, values that must survive redaction: order and invoice numbers, dates, times and epoch timestamps,
versions, UUIDs, hashes, trace and request ids, model names, prices, counts, ISBNs, tracking numbers, IMEIs
(Luhn-valid, but no card), Luhn-failing 16-digit numbers, IBANs with wrong check digits, impossible SSNs
(``000-``, ``666-``), MAC addresses, ``std::vector``, ``@decorators``, ``pkg@1.2.3``, ``logo@2x.png``,
coordinates, and code that names a secret without holding one (``api_key=os.environ[...]``, ``password=password``,
``password: ********``, ``Bearer $TOKEN``). All text that is not an entity counts as negative too.

Labelling conventions (what a placeholder has to cover, see ``benchmarks.redaction`` for the scoring):

* A span is the sensitive value only: the password in ``scheme://user:PASSWORD@host``, the token after ``Bearer``,
  the value after ``password:``. A private key is the whole block, BEGIN line to END line, or to the last body line
  when the block is cut off. A phone number includes its ``+``, parentheses and separators.
* The most specific kind wins: a provider key (``sk-...``, ``AKIA...``) is ``api_key`` wherever it stands, also
  after ``api_key=`` or ``Bearer``; a JWT is ``jwt`` also after ``Bearer``; a prefix-less key or token after a
  key word (``password``, ``client_secret``, ``api-key:``, ``access_token=``) is ``secret``; whatever stands in
  the password position of a URL is ``url_password``.
* Values that only context makes recognisable come with that context, as people write them: passwords and
  prefix-less keys after a key word (``password:``, ``mot de passe :``, ``my password is``, ``パスワードは``);
  phone numbers in shapes that could be anything else (``612 345 678``, ``98765 43210``, ten bare digits) near a
  phone word (``tel.``, ``phone``, ``電話``); SSNs without dashes after ``SSN``. Bare digit strings without such
  context are never labelled phone numbers: nothing tells them from order numbers.
* Dotted quads are IP addresses, except right after a version word (``version 2.4.1.8``, ``v2.4.1.8``,
  ``Version: 4.8.1.0``), where they are versions (a negative). Every IP address, private ranges and loopback
  included, is an entity.

The rules of ``tracehouse.redaction`` and this corpus were written together: a score here says the formats above
are handled, not how often real traffic holds formats the corpus lacks. Checks from outside it: the hand-written
cases in ``tests/test_redaction_corpus.py`` and the false-alarm count on the clustering benchmark's LLM traffic
that ``benchmarks.redaction`` prints.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections import Counter
from dataclasses import dataclass
from typing import Callable

__all__ = ["KINDS", "LANGUAGES", "STYLES", "Entity", "Sample", "generate"]

KINDS = ("email", "phone", "card", "iban", "ssn", "ip_address", "api_key", "jwt", "bearer_token", "url_password",
         "private_key", "secret")
LANGUAGES = ("en", "de", "fr", "es", "pt", "ja", "zh")
STYLES = ("prose", "json", "log", "env", "yaml", "code", "http", "table")
_STYLE_WEIGHTS = (40, 16, 10, 6, 5, 10, 6, 7)

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_ALNUM = string.ascii_uppercase + string.digits

Piece = tuple[str, "str | None"]  # text and its kind (None: context or negative)


@dataclass(frozen=True)
class Entity:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    text: str
    entities: tuple[Entity, ...]
    style: str
    language: str


def _r(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choices(alphabet, k=n))


def _digits(r: random.Random, n: int) -> str:
    return _r(r, string.digits, n)


# -- entity values ------------------------------------------------------------------------------------------------
_FIRST = ["jane", "john", "maria", "jose", "li", "wei", "hiroshi", "yuki", "anna", "lukas", "chloe", "lucas", "ana",
          "joao", "fatima", "omar", "priya", "raj", "sofia", "mateo", "emma", "noah", "olga", "ivan", "mia", "leon"]
_LAST = ["doe", "smith", "garcia", "muller", "dupont", "tanaka", "wang", "silva", "schmidt", "rossi", "nguyen",
         "kumar", "martin", "lopez", "kowalski", "jensen", "oliveira", "moreau", "sato", "chen"]
_DOMAINS = ["example.com", "example.org", "acme.co.uk", "mail.example.net", "company.io", "gmail.com", "outlook.fr",
            "web.de", "yahoo.co.jp", "qq.com", "163.com", "uni-muenchen.de", "correo.es", "empresa.com.br",
            "startup.ai", "corp.example.de", "support.shop.example", "posteo.de"]


def email(r: random.Random) -> str:
    first, last = r.choice(_FIRST), r.choice(_LAST)
    if r.random() < 0.04:  # Latin letters with diacritics in the local part
        first = r.choice(["françois", "zoë", "josé", "jürgen", "inés", "joão"])
    local = r.choice([f"{first}.{last}", f"{first[0]}.{last}", f"{first}_{last}", f"{first}{last}{r.randint(1, 99)}",
                      f"{first}-{last}", f"{first}", f"{first}.{last}+{r.choice(['billing', 'news', 'test'])}",
                      r.choice(["support", "ops-team", "billing", "noreply", "hr"])])
    domain = r.choice(_DOMAINS)
    value = f"{local}@{domain}"
    return value.upper() if r.random() < 0.03 else value


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i:i + size])
        i += size
    return sep.join(out)


def phone(r: random.Random, strong: bool = False) -> tuple[str, bool]:
    """A phone number and whether it needs a phone word nearby to be recognisable."""
    d = lambda n: _digits(r, n)  # noqa: E731
    nanp = lambda: str(r.randint(2, 9)) + d(2)  # noqa: E731
    strong_forms: list[Callable[[], str]] = [
        lambda: f"({nanp()}) {nanp()}-{d(4)}", lambda: f"{nanp()}-{nanp()}-{d(4)}",
        lambda: f"{nanp()}.{nanp()}.{d(4)}",
        lambda: f"+1 {nanp()} {nanp()} {d(4)}", lambda: f"+1-{nanp()}-{nanp()}-{d(4)}",
        lambda: f"+1 ({nanp()}) {nanp()}-{d(4)}", lambda: f"1-800-{nanp()}-{d(4)}",
        lambda: f"+44 20 {d(4)} {d(4)}", lambda: f"020 {d(4)} {d(4)}", lambda: f"07{d(3)} {d(6)}",
        lambda: f"+44 7{d(3)} {d(6)}", lambda: f"+44 (0)20 {d(4)} {d(4)}",
        lambda: "0" + str(r.randint(1, 7)) + " " + _group(d(8), [2, 2, 2, 2], " "),
        lambda: f"+33 {r.randint(1, 7)} " + _group(d(8), [2, 2, 2, 2], " "),
        lambda: f"+33 (0){r.randint(1, 7)} " + _group(d(8), [2, 2, 2, 2], " "),
        lambda: f"+33{r.randint(6, 7)}{d(8)}",
        lambda: f"+49 30 {d(8)}", lambda: f"030 {d(8)}", lambda: f"01{r.randint(5, 7)}{d(1)} {d(7)}",
        lambda: f"+49 1{r.randint(5, 7)}{d(1)} {d(7)}", lambda: f"030/{d(7)}", lambda: f"+49 (0)30 {d(4)} {d(4)}",
        lambda: f"01{r.randint(5, 7)}{d(1)}-{d(7)}", lambda: f"+49{r.randint(30, 89)}{d(8)}",
        lambda: f"+34 6{d(2)} {d(2)} {d(2)} {d(2)}", lambda: f"9{d(2)} {d(2)} {d(2)} {d(2)}",
        lambda: f"+351 9{d(2)} {d(3)} {d(3)}", lambda: f"+39 06 {d(4)} {d(4)}", lambda: f"3{d(2)} {d(3)} {d(4)}",
        lambda: f"0{r.choice(['90', '80', '70'])}-{d(4)}-{d(4)}", lambda: f"03-{d(4)}-{d(4)}",
        lambda: f"+81 90-{d(4)}-{d(4)}", lambda: f"+81 3 {d(4)} {d(4)}",
        lambda: f"1{r.randint(3, 9)}{d(1)} {d(4)} {d(4)}", lambda: f"+86 1{r.randint(3, 9)}{d(1)} {d(4)} {d(4)}",
        lambda: f"010-{d(4)}-{d(4)}", lambda: f"+91 9{d(4)} {d(5)}", lambda: f"+55 11 9{d(4)}-{d(4)}",
        lambda: f"(11) 9{d(4)}-{d(4)}", lambda: f"06-{d(8)}", lambda: f"+31 6 {d(8)}",
        lambda: f"+61 4{d(2)} {d(3)} {d(3)}",
        lambda: f"0044 20 {d(4)} {d(4)}",
    ]
    weak_forms: list[Callable[[], str]] = [
        lambda: f"6{d(2)} {d(3)} {d(3)}", lambda: f"9{d(4)} {d(5)}", lambda: nanp() + nanp() + d(4),
        lambda: f"1{r.randint(3, 9)}{d(9)}", lambda: f"0{r.randint(1, 9)}{d(8)}", lambda: f"{d(3)} {d(4)}",
        lambda: f"{nanp()} {d(4)}",
    ]
    if strong or r.random() < 0.8:
        return r.choice(strong_forms)(), False
    return r.choice(weak_forms)(), True


def _luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        v = int(c)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return str((10 - total % 10) % 10)


_CARD_BRANDS = [  # prefix choices, length, weight
    (["4"], 16, 30), (["4"], 13, 1), (["4"], 19, 1), ([str(p) for p in range(51, 56)], 16, 15),
    ([str(p) for p in range(2221, 2721, 37)], 16, 4), (["34", "37"], 15, 10), (["6011", "65"], 16, 5),
    ([str(p) for p in range(3528, 3590, 7)], 16, 4), (["36", "38"], 14, 2), (["62"], 16, 4), (["62"], 19, 1),
    (["6759", "5018"], 16, 2), (["2200", "2204"], 16, 1),
]


def card_digits(r: random.Random, valid: bool = True) -> str:
    prefixes, length, _ = r.choices(_CARD_BRANDS, weights=[b[2] for b in _CARD_BRANDS])[0]
    prefix = r.choice(prefixes)
    body = prefix + _digits(r, length - len(prefix) - 1)
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + r.randint(1, 9)) % 10)
    return body + check


def format_card(r: random.Random, digits: str) -> str:
    n = len(digits)
    if n == 15:
        sizes = [4, 6, 5]
    elif n == 14:
        sizes = [4, 6, 4]
    else:
        sizes = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    style = r.random()
    if style < 0.45:
        return _group(digits, sizes, " ")
    if style < 0.65:
        return _group(digits, sizes, "-")
    return digits


_IBAN = {  # country: (BBAN layout: 'n' digit, 'a' upper letter, 'c' upper alnum)
    "DE": "n" * 18, "GB": "aaaa" + "n" * 14, "FR": "n" * 10 + "c" * 11 + "nn", "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
    "NL": "aaaa" + "n" * 10, "BE": "n" * 12, "CH": "n" * 5 + "c" * 12, "AT": "n" * 16, "PT": "n" * 21, "PL": "n" * 24,
    "SE": "n" * 20, "IE": "aaaa" + "n" * 14, "LU": "nnn" + "c" * 13, "DK": "n" * 14, "NO": "n" * 11, "FI": "n" * 14,
}


def _mod97(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


def iban(r: random.Random, valid: bool = True) -> str:
    country = r.choice(list(_IBAN))
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_ALNUM}
    bban = "".join(r.choice(alphabet[c]) for c in _IBAN[country])
    check = 98 - _mod97(bban + country + "00")
    if not valid:
        check = (check + r.randint(1, 90)) % 97 or 1
        if 98 - _mod97(bban + country + "00") == check:
            check = check % 96 + 2
    value = f"{country}{check:02d}{bban}"
    if r.random() < 0.55:
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return value


def ssn(r: random.Random) -> tuple[str, bool]:
    """An SSN and whether it needs ``SSN`` before it."""
    area = r.choice([n for n in range(1, 900) if n != 666] if r.random() < 0.5 else range(100, 666))
    a, g, s = f"{area:03d}", f"{r.randint(1, 99):02d}", f"{r.randint(1, 9999):04d}"
    roll = r.random()
    if roll < 0.75:
        return f"{a}-{g}-{s}", False
    if roll < 0.85:
        return f"{a} {g} {s}", False
    return a + g + s, True


def ip(r: random.Random) -> str:
    roll = r.random()
    if roll < 0.55:
        first = r.choice([10, 172, 192, 203, 198, 100, 8, 34, 52, 81, 127, 185, r.randint(1, 223)])
        return ".".join(str(x) for x in [first, r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)])
    groups = [f"{r.randint(0, 0xFFFF):x}" for _ in range(8)]
    if roll < 0.65:
        return ":".join(groups)
    if roll < 0.67:
        return "::1"
    if roll < 0.72:
        return f"::ffff:{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    if roll < 0.8:
        return "fe80::" + ":".join(groups[:r.randint(1, 4)])
    head = ["2001", "db8"] if r.random() < 0.5 else groups[:2]
    return ":".join(head) + "::" + ":".join(groups[2:2 + r.randint(1, 4)])


def api_key(r: random.Random) -> str:
    sk = "s" + "k-"
    makers: list[Callable[[], str]] = [
        lambda: sk + "proj-" + _r(r, B64URL, 156), lambda: sk + _r(r, ALNUM, 48),
        lambda: sk + "svcacct-" + _r(r, B64URL, 120), lambda: sk + "ant-" + "api03-" + _r(r, B64URL, 93) + "AA",
        lambda: sk + "ant-" + "admin01-" + _r(r, B64URL, 93) + "AA",
        lambda: "AK" + "IA" + _r(r, string.ascii_uppercase + "234567", 16),
        lambda: "AS" + "IA" + _r(r, string.ascii_uppercase + "234567", 16),
        lambda: "gh" + r.choice("pousr") + "_" + _r(r, ALNUM, 36),
        lambda: "github" + "_pat_" + _r(r, ALNUM, 22) + "_" + _r(r, ALNUM, 59),
        lambda: "gl" + "pat-" + _r(r, B64URL, 20),
        lambda: "xo" + "xb-" + _digits(r, 12) + "-" + _digits(r, 13) + "-" + _r(r, ALNUM, 24),
        lambda: "AI" + "za" + _r(r, B64URL, 35), lambda: "s" + "k_live_" + _r(r, ALNUM, 99),
        lambda: "s" + "k_test_" + _r(r, ALNUM, 24), lambda: "r" + "k_live_" + _r(r, ALNUM, 24),
        lambda: "h" + "f_" + _r(r, string.ascii_letters, 34), lambda: "g" + "sk_" + _r(r, ALNUM, 52),
        lambda: "x" + "ai-" + _r(r, ALNUM, 80), lambda: "pp" + "lx-" + _r(r, ALNUM, 48),
        lambda: "r" + "8_" + _r(r, ALNUM, 37), lambda: "S" + "G." + _r(r, B64URL, 22) + "." + _r(r, B64URL, 43),
        lambda: "n" + "pm_" + _r(r, ALNUM, 36), lambda: sk + "or-v1-" + _r(r, HEX, 64), lambda: sk + _r(r, HEX, 32),
        lambda: "ls" + "v2_pt_" + _r(r, HEX, 32) + "_" + _r(r, HEX, 10), lambda: "ya" + "29." + _r(r, B64URL, 120),
        lambda: "py" + "pi-" + "AgEIcHlwaS5vcmc" + _r(r, B64URL, 140), lambda: "wh" + "sec_" + _r(r, ALNUM, 32),
        lambda: "sh" + "pat_" + _r(r, HEX, 32), lambda: "do" + "p_v1_" + _r(r, HEX, 64),
    ]
    return r.choice(makers)()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(r: random.Random) -> str:
    alg = r.choice(["HS256", "RS256", "ES256"])
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": _r(r, ALNUM, r.randint(8, 24)), "iat": 1700000000 + r.randint(0, 10 ** 7)}
    if r.random() < 0.5:
        claims["email"] = email(r)
    if r.random() < 0.5:
        claims["scope"] = r.choice(["read write", "openid profile", "admin"])
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _r(r, B64URL, {"HS256": 43, "RS256": 342, "ES256": 86}[alg])
    return f"{header}.{payload}.{signature}"


_WORDS = ["Summer", "Winter", "Sunshine", "Dragon", "Monkey", "Falcon", "Coffee", "Berlin", "Paris", "Tokyo", "Azul",
          "Sol", "Gato", "Hunter", "Pepper", "Rocket", "Velvet", "Tiger"]
_SYMBOLS = "!#%*-_.?@+=~"


def password(r: random.Random, url_safe: bool = False) -> str:
    roll = r.random()
    if roll < 0.3:
        value = r.choice(_WORDS) + str(r.randint(1990, 2026)) + r.choice("!#?*")
    elif roll < 0.45:
        value = r.choice(_WORDS).lower() + str(r.randint(1, 999))
    elif roll < 0.8:
        value = _r(r, ALNUM, r.randint(6, 14)) + r.choice(_SYMBOLS) + _r(r, ALNUM + _SYMBOLS, r.randint(2, 8))
    elif roll < 0.9:
        value = "-".join(r.choice(["correct", "horse", "battery", "staple", "blue", "river",
                                   "stone"]) for _ in range(4))
        value += str(r.randint(1, 99))
    else:
        value = _r(r, ALNUM, r.randint(12, 24))
    if not any(c.isdigit() for c in value):
        value += str(r.randint(0, 9))
    value = value.rstrip(".")
    if url_safe:
        for char, code in (("@", "%40"), ("#", "%23"), ("?", "%3F"), ("+", "%2B"), ("=", "%3D")):
            value = value.replace(char, code)
    return value


def generic_secret(r: random.Random) -> str:
    """A prefix-less key or token: Azure/Mistral/Cohere-style keys, Django secret keys, random tokens."""
    makers: list[Callable[[], str]] = [
        lambda: _r(r, HEX, 32), lambda: _r(r, ALNUM, 32), lambda: _r(r, ALNUM, 40), lambda: _r(r, HEX, 64),
        lambda: _r(r, B64, 43) + "=", lambda: _r(r, ALNUM + "!#%*-_=+", 50),
    ]
    value = r.choice(makers)()
    while not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        value = r.choice(makers)()
    return value


def bearer_value(r: random.Random) -> str:
    value = r.choice([lambda: _r(r, B64URL, r.randint(24, 64)), lambda: _r(r, HEX, 40), lambda: _r(r, ALNUM, 32),
                      lambda: _r(r, ALNUM, 20) + "." + _r(r, B64URL, 27)])()
    while not any(c.isdigit() for c in value):
        value = _r(r, B64URL, 32)
    return value


_PEM_TYPES = ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "]


def private_key(r: random.Random) -> tuple[str, str]:
    """A key block and what follows it (a truncated block ends with its last body line)."""
    pgp = r.random() < 0.08
    label = ("PGP " + "PRIVATE" + " KEY BLOCK") if pgp else (r.choice(_PEM_TYPES) + "PRIVATE" + " KEY")
    lines = [_r(r, B64, 64) for _ in range(r.randint(3, 14))]
    lines.append(_r(r, B64, r.randint(4, 60)) + r.choice(["", "=", "=="]))
    begin, end = "-----BEGIN " + label + "-----", "-----END " + label + "-----"
    if pgp:
        lines.insert(0, "")
    if r.random() < 0.15:  # cut off, e.g. by a length limit
        return "\n".join([begin] + lines[:r.randint(1 + pgp, len(lines))]), r.choice(["", "\n...", " [truncated]"])
    return "\n".join([begin] + lines + [end]), ""


# -- negatives --------------------------------------------------------------------------------------------------
def _isbn13(r: random.Random) -> str:
    body = "978" + _digits(r, 9)
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:6]}-{body[6:12]}-{check}"


def _imei(r: random.Random) -> str:
    body = r.choice(["35", "86", "01"]) + _digits(r, 12)
    return body + _luhn_digit(body)


def _uuid(r: random.Random) -> str:
    h = _r(r, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{r.choice('89ab')}{h[17:20]}-{h[20:]}"


def _date(r: random.Random) -> str:
    y, mo, dd = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    hh, mi, ss = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    return r.choice([
        f"{y}-{mo:02d}-{dd:02d}T{hh:02d}:{mi:02d}:{ss:02d}Z", f"{y}-{mo:02d}-{dd:02d} {hh:02d}:{mi:02d}:{ss:02d}",
        f"{y}-{mo:02d}-{dd:02d}", f"{dd:02d}.{mo:02d}.{y}", f"{mo:02d}/{dd:02d}/{y}",
        f"{dd:02d}/{mo:02d}/{y} {hh:02d}:{mi:02d}",
        str(1700000000 + r.randint(0, 10 ** 8)), str(1700000000000 + r.randint(0, 10 ** 11)),
        f"{y}-{mo:02d}-{dd:02d}T{hh:02d}:{mi:02d}:{ss:02d}.{r.randint(0, 999999):06d}+00:00",
        f"{dd:02d}.{mo:02d}.{y} {hh:02d}:{mi:02d}", f"{y}/{mo:02d}/{dd:02d} {hh:02d}:{mi:02d}:{ss:02d}",
    ])


def _price(r: random.Random) -> str:
    a, c = r.randint(1, 99999), r.randint(0, 99)
    dotted = f"{a:,}".replace(",", ".")  # 1.299 (German and Spanish grouping)
    return r.choice([f"${a:,}.{c:02d}", f"{dotted},{c:02d} €", f"€{dotted}", f"¥{a * 100:,}", f"£{a:,}.{c:02d}",
                     f"R$ {dotted},{c:02d}", f"CHF {a}.{c:02d}", f"{a} {c:02d}0 ₽", f"{a:,}.{c:02d} USD"])


def negative(r: random.Random) -> tuple[str, str]:
    """A hard negative: (noun key, text). The text must survive redaction unchanged."""
    makers: list[tuple[str, Callable[[], str]]] = [
        ("order", lambda: f"ORD-{_digits(r, 6)}-{_digits(r, 4)}"), ("order", lambda: "#" + _digits(r, 8)),
        ("order", lambda: str(r.randint(10 ** 9, 10 ** 10 - 1))),
        ("invoice", lambda: f"INV-{r.randint(2019, 2026)}-{_digits(r, 4)}"),
        ("version", lambda: f"{r.randint(0, 12)}.{r.randint(0, 30)}.{r.randint(0, 40)}"),
        ("version", lambda: f"v{r.randint(0, 5)}.{r.randint(0, 30)}.{r.randint(0, 9)}"),
        ("version", lambda: f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}-rc.{r.randint(1, 5)}"),
        ("version", lambda: f"10.0.{r.randint(10000, 22999)}.{r.randint(1000, 5000)}"),
        ("date", lambda: _date(r)), ("date", lambda: _date(r)), ("date", lambda: _date(r)),
        ("price", lambda: _price(r)), ("price", lambda: _price(r)),
        ("id", lambda: _uuid(r)), ("id", lambda: "req_" + _r(r, ALNUM, 24)),
        ("id", lambda: "chatcmpl-" + _r(r, ALNUM, 29)),
        ("id", lambda: "msg_01" + _r(r, ALNUM, 22)), ("id", lambda: _r(r, HEX, 32)), ("id", lambda: _r(r, HEX, 16)),
        ("id", lambda: "call_" + _r(r, ALNUM, 24)),
        ("hash", lambda: _r(r, HEX, 40)), ("hash", lambda: _r(r, HEX, 7)),
        ("hash", lambda: "sha256:" + _r(r, HEX, 64)),
        ("hash", lambda: _r(r, HEX, 32)),
        ("model", lambda: r.choice(["gpt-4o-2024-08-06", "gpt-4o-mini", "claude-3-5-sonnet-20241022",
                                    "o3-mini-2025-01-31", "gemini-1.5-pro-002", "mistral-large-2407"])),
        ("tracking", lambda: "1Z" + _r(r, UPPER_ALNUM, 6) + _digits(r, 10)), ("tracking", lambda: _digits(r, 12)),
        ("isbn", lambda: _isbn13(r)), ("imei", lambda: _imei(r)),
        ("reference", lambda: format_card(r, card_digits(r, valid=False))),
        ("reference", lambda: format_card(r, card_digits(r, valid=False))),
        ("reference", lambda: iban(r, valid=False)),
        ("case", lambda: r.choice(["000", "666"]) + f"-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"),
        ("case", lambda: f"{r.randint(2019, 2026)}-{_digits(r, 6)}"),
        ("count", lambda: f"{r.randint(1000, 9999999):,}"),
        ("count", lambda: f"{r.randint(1, 999)} {r.randint(100, 999)} {r.randint(100, 999)}"),
        ("count", lambda: str(r.choice([512, 1024, 4096, 8192, 128000]))),
        ("duration", lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"),
        ("duration", lambda: f"{r.randint(1, 9999)} ms"),
        ("range", lambda: f"{r.randint(2015, 2022)}-{r.randint(2023, 2026)}"),
        ("range", lambda: f"{r.randint(1, 200)}-{r.randint(201, 400)}"),
        ("coords", lambda: f"{r.uniform(-80, 80):.4f}, {r.uniform(-170, 170):.4f}"),
        ("mac", lambda: ":".join(_r(r, "0123456789ABCDEF", 2) for _ in range(6))),
        ("zip", lambda: f"{_digits(r, 5)}-{_digits(r, 4)}"),
        ("oid", lambda: "1.3.6.1.4.1." + str(r.randint(100, 60000))),
        ("ratio", lambda: r.choice(["16:9", "4:3", "3:2", "1:1000"])),
    ]
    noun, make = r.choice(makers)
    return noun, make()


def version_quad(r: random.Random, lang: str) -> str:
    quad = f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}"
    words = {"ja": "バージョン", "zh": "版本", "de": "Version", "fr": "version", "es": "versión", "pt": "versão"}
    word = words.get(lang, "version")
    return r.choice([f"{word} {quad}", f"v{quad}", f"Version: {quad}", f"{word} {quad}"])


# Code and prose that name secrets without holding one, and other look-alikes that must survive.
_LOOKALIKES = [
    'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
    "conn = connect(host=host, user=user, password=password)",
    "password: ********", "OPENAI_API_KEY=${OPENAI_API_KEY}", 'curl -H "Authorization: Bearer $TOKEN" $URL',
    "Authorization: Bearer YOUR_API_KEY", "max_tokens=4096", "password: SecretStr", "token = get_token()",
    "The password is incorrect.", "The bearer of this letter is a friend.", "secret: true",
    "api_key = settings.API_KEY",
    "@dataclass(frozen=True)", "npm install react@18.2.0", "background: url(logo@2x.png)", "ping @jane_doe on Slack",
    "std::vector<int> v;", "Foo::Bar.baz()", "Set the password to at least 12 characters.",
    "api_key: Optional[str] = None",
    "password=db_password", "See RFC 5322 section 3.4.1 for the address grammar.",
    "Use token-based auth (OAuth 2.0).",
    "Your token usage was 12,345 tokens.", "pip install tracehouse==0.4.1", "docker run -p 8080:8080 app:1.2.3",
    "The API key goes in the header, never in the URL.", "Passwords must contain a digit.", "x-api-key: <your key>",
]


# -- language tables --------------------------------------------------------------------------------------------
_NOUNS: dict[str, dict[str, str]] = {
    "en": {"email": "email address", "phone": "phone number", "card": "card number", "iban": "IBAN", "ssn": "SSN",
           "ip_address": "IP address", "api_key": "API key", "jwt": "token", "url_password": "connection string",
           "private_key": "key", "order": "order number", "invoice": "invoice", "version": "version", "date": "date",
           "price": "price", "id": "request id", "hash": "commit", "model": "model", "tracking": "tracking number",
           "isbn": "ISBN", "imei": "IMEI", "reference": "reference number", "case": "case number",
           "count": "token count",
           "duration": "duration", "range": "range", "coords": "coordinates", "mac": "MAC address", "zip": "ZIP code",
           "oid": "OID", "ratio": "aspect ratio"},
    "de": {"email": "die E-Mail-Adresse", "phone": "die Telefonnummer", "card": "die Kartennummer",
           "iban": "die IBAN",
           "ssn": "die SSN", "ip_address": "die IP-Adresse", "api_key": "der API-Schlüssel", "jwt": "das Token",
           "url_password": "der Verbindungsstring", "private_key": "der Schlüssel", "order": "die Bestellnummer",
           "invoice": "die Rechnung", "version": "die Version", "date": "das Datum", "price": "der Preis",
           "id": "die Anfrage-ID", "hash": "der Commit", "model": "das Modell", "tracking": "die Sendungsnummer",
           "isbn": "die ISBN", "imei": "die IMEI", "reference": "die Referenznummer", "case": "das Aktenzeichen",
           "count": "die Token-Anzahl", "duration": "die Dauer", "range": "der Zeitraum", "coords": "die Koordinaten",
           "mac": "die MAC-Adresse", "zip": "die PLZ", "oid": "die OID", "ratio": "das Seitenverhältnis"},
    "fr": {"email": "l'adresse e-mail", "phone": "le numéro de téléphone", "card": "le numéro de carte",
           "iban": "l'IBAN",
           "ssn": "le SSN", "ip_address": "l'adresse IP", "api_key": "la clé API", "jwt": "le jeton",
           "url_password": "la chaîne de connexion", "private_key": "la clé", "order": "le numéro de commande",
           "invoice": "la facture", "version": "la version", "date": "la date", "price": "le prix",
           "id": "l'identifiant de requête", "hash": "le commit", "model": "le modèle",
           "tracking": "le numéro de suivi",
           "isbn": "l'ISBN", "imei": "l'IMEI", "reference": "la référence", "case": "le numéro de dossier",
           "count": "le nombre de jetons", "duration": "la durée", "range": "la période", "coords": "les coordonnées",
           "mac": "l'adresse MAC", "zip": "le code postal", "oid": "l'OID", "ratio": "le format"},
    "es": {"email": "el correo electrónico", "phone": "el número de teléfono", "card": "el número de tarjeta",
           "iban": "el IBAN", "ssn": "el SSN", "ip_address": "la dirección IP", "api_key": "la clave de API",
           "jwt": "el token", "url_password": "la cadena de conexión", "private_key": "la clave",
           "order": "el número de pedido", "invoice": "la factura", "version": "la versión", "date": "la fecha",
           "price": "el precio", "id": "el id de solicitud", "hash": "el commit", "model": "el modelo",
           "tracking": "el número de seguimiento", "isbn": "el ISBN", "imei": "el IMEI", "reference": "la referencia",
           "case": "el número de expediente", "count": "el número de tokens", "duration": "la duración",
           "range": "el periodo", "coords": "las coordenadas", "mac": "la dirección MAC", "zip": "el código postal",
           "oid": "el OID", "ratio": "la relación de aspecto"},
    "pt": {"email": "o e-mail", "phone": "o número de telefone", "card": "o número do cartão", "iban": "o IBAN",
           "ssn": "o SSN", "ip_address": "o endereço IP", "api_key": "a chave de API", "jwt": "o token",
           "url_password": "a string de conexão", "private_key": "a chave", "order": "o número do pedido",
           "invoice": "a fatura", "version": "a versão", "date": "a data", "price": "o preço",
           "id": "o id da requisição",
           "hash": "o commit", "model": "o modelo", "tracking": "o código de rastreio", "isbn": "o ISBN",
           "imei": "o IMEI", "reference": "a referência", "case": "o número do processo",
           "count": "a contagem de tokens",
           "duration": "a duração", "range": "o período", "coords": "as coordenadas", "mac": "o endereço MAC",
           "zip": "o CEP", "oid": "o OID", "ratio": "a proporção"},
    "ja": {"email": "メールアドレス", "phone": "電話番号", "card": "カード番号", "iban": "IBAN", "ssn": "SSN",
           "ip_address": "IPアドレス", "api_key": "APIキー", "jwt": "トークン", "url_password": "接続文字列",
           "private_key": "鍵", "order": "注文番号", "invoice": "請求書", "version": "バージョン", "date": "日付",
           "price": "価格", "id": "リクエストID", "hash": "コミット", "model": "モデル", "tracking": "追跡番号",
           "isbn": "ISBN", "imei": "IMEI", "reference": "参照番号", "case": "案件番号", "count": "トークン数",
           "duration": "所要時間", "range": "期間", "coords": "座標", "mac": "MACアドレス", "zip": "郵便番号",
           "oid": "OID", "ratio": "アスペクト比"},
    "zh": {"email": "邮箱地址", "phone": "电话号码", "card": "卡号", "iban": "IBAN", "ssn": "SSN", "ip_address": "IP地址",
           "api_key": "API密钥", "jwt": "令牌", "url_password": "连接字符串", "private_key": "密钥", "order": "订单号",
           "invoice": "发票", "version": "版本", "date": "日期", "price": "价格", "id": "请求ID", "hash": "提交",
           "model": "模型", "tracking": "快递单号", "isbn": "ISBN", "imei": "IMEI", "reference": "参考号",
           "case": "案件编号", "count": "token数量", "duration": "时长", "range": "期间", "coords": "坐标",
           "mac": "MAC地址", "zip": "邮编", "oid": "OID", "ratio": "宽高比"},
}

# Sentences naming the value ({noun}) and wrapping it ({x}); user prompts and assistant answers.
_NOUN_TEMPLATES: dict[str, list[str]] = {
    "en": ["Hi, my {noun} is {x}. Can you update my account?",
           "Please double-check the {noun} {x} before sending anything.",
           "I already gave you the {noun}: {x}", "Sure! I've saved the {noun} {x} to the customer record.",
           "The {noun} ({x}) doesn't match what we have on file.",
           "Customer wrote: \"my {noun} is {x}\" - please summarise the ticket.", "{Noun}: {x}"],
    "de": ["Hallo, {noun} lautet {x}. Können Sie mein Konto aktualisieren?",
           "Bitte prüfen Sie {noun} {x}, bevor Sie etwas versenden.", "Ich habe Ihnen {noun} schon genannt: {x}",
           "Gerne! Ich habe {noun} {x} im Kundendatensatz gespeichert.",
           "{Noun} ({x}) stimmt nicht mit unseren Unterlagen überein.",
           "Der Kunde schreibt: „{noun} ist {x}“ – bitte fassen Sie das Ticket zusammen."],
    "fr": ["Bonjour, {noun} est {x}, pouvez-vous mettre à jour mon compte\u00a0?",
           "Merci de vérifier {noun} {x} avant d'envoyer quoi que ce soit.",
           "Je vous ai déjà donné {noun}\u00a0: {x}",
           "Bien sûr\u00a0! J'ai enregistré {noun} {x} dans la fiche client.",
           "{Noun} ({x}) ne correspond pas à nos données.",
           "Le client écrit\u00a0: «\u00a0{noun} est {x}\u00a0» — pouvez-vous résumer le ticket\u00a0?"],
    "es": ["Hola, {noun} es {x}, ¿puedes actualizar mi cuenta?", "Por favor, revisa {noun} {x} antes de enviar nada.",
           "Ya te di {noun}: {x}", "¡Claro! He guardado {noun} {x} en la ficha del cliente.",
           "{Noun} ({x}) no coincide con lo que tenemos.",
           "El cliente escribió: «{noun} es {x}». Resume el ticket, por favor."],
    "pt": ["Olá, {noun} é {x}, pode atualizar minha conta?", "Por favor, confira {noun} {x} antes de enviar.",
           "Já te passei {noun}: {x}", "Claro! Salvei {noun} {x} no cadastro do cliente.",
           "{Noun} ({x}) não confere com o nosso cadastro.",
           "O cliente escreveu: \"{noun} é {x}\". Resuma o chamado."],
    "ja": ["{noun}は{x}です。アカウントを更新してください。", "送信する前に{noun} {x} を確認してください。",
           "{noun}はもう伝えました：{x}。", "承知しました。{noun}（{x}）を顧客情報に保存しました。",
           "{noun}「{x}」が登録内容と一致しません。", "お客様からのメッセージ：「{noun}は{x}です」。チケットを要約してください。"],
    "zh": ["我的{noun}是{x}，请帮我更新账户。", "发送之前请核对{noun} {x}。", "{noun}我已经给过你了：{x}。",
           "好的！已将{noun}（{x}）保存到客户档案。", "{noun}“{x}”与我们的记录不一致。", "客户留言：“我的{noun}是{x}”，请总结这个工单。"],
}
# Sentences for values that bring their own context (a header, a key word, a code line).
_WRAP_TEMPLATES: dict[str, list[str]] = {
    "en": ["Here is what I have: {x}", "I tried this and it still fails:\n{x}\nAny idea why?",
           "From the logs - {x} - please advise.", "{x}"],
    "de": ["Hier ist, was ich habe: {x}", "Ich habe das versucht, es schlägt immer noch fehl:\n{x}\nWoran liegt das?",
           "{x}"],
    "fr": ["Voici ce que j'ai\u00a0: {x}", "J'ai essayé ceci et ça échoue toujours\u00a0:\n{x}\nUne idée\u00a0?",
           "{x}"],
    "es": ["Esto es lo que tengo: {x}", "Probé esto y sigue fallando:\n{x}\n¿Alguna idea?", "{x}"],
    "pt": ["Isto é o que eu tenho: {x}", "Tentei isto e continua falhando:\n{x}\nAlguma ideia?", "{x}"],
    "ja": ["手元にあるのはこれです：{x}。", "これを試しましたが失敗します：\n{x}\n原因は分かりますか？", "{x}。"],
    "zh": ["我这里的信息是：{x}。", "我试了这个，还是失败：\n{x}\n知道为什么吗？", "{x}。"],
}
_SECRET_PHRASES: dict[str, list[str]] = {
    "en": ["my password is {v}", "password: {v}", "the new password is {v}", "pwd={v}", "Password: {v}",
           "my password is now {v}", "the password was '{v}'"],
    "de": ["mein Passwort ist {v}", "Passwort: {v}", "Kennwort: {v}", "das neue Passwort lautet {v}"],
    "fr": ["mon mot de passe est {v}", "mot de passe\u00a0: {v}", "mdp : {v}", "le nouveau mot de passe est {v}"],
    "es": ["mi contraseña es {v}", "contraseña: {v}", "la nueva contraseña es {v}"],
    "pt": ["minha senha é {v}", "senha: {v}", "a nova senha é {v}"],
    "ja": ["パスワードは{v}です", "パスワード：{v}", "新しいパスワードは {v} です"],
    "zh": ["我的密码是{v}", "密码：{v}", "新密码是 {v}"],
}
_PHONE_WORDS = {"en": ["tel. ", "phone: ", "call me on ", "mobile "], "de": ["Tel. ", "Telefon: ", "Handy: "],
                "fr": ["tél. ", "portable\u00a0: "], "es": ["tel. ", "móvil: "], "pt": ["tel. ", "celular: "],
                "ja": ["電話：", "携帯："], "zh": ["电话：", "手机："]}

# Key names in structured text, by kind.
_KEYS = {
    "email": ["email", "e-mail", "contact", "user_email", "billing_email", "to", "reply_to"],
    "phone": ["phone", "mobile", "tel", "phone_number", "contact_phone"],
    "card": ["card", "card_number", "pan", "cc_number"], "iban": ["iban", "bank_account", "payout_iban"],
    "ssn": ["ssn", "social_security_number"], "ip_address": ["ip", "client_ip", "remote_addr", "source_ip", "peer"],
    "api_key": ["api_key", "openai_api_key", "key", "apiKey", "credentials"],
    "jwt": ["id_token", "access_token", "token", "jwt"],
    "url_password": ["database_url", "dsn", "redis_url", "broker_url", "url"],
    "private_key": ["private_key", "ssh_key", "signing_key"],
    "secret": ["password", "db_password", "passwd", "client_secret", "secret", "api_key", "access_token",
               "auth_token",
               "secret_key", "refresh_token", "apiKey", "admin_password"],
}
_NEG_KEYS = {"order": "order_id", "invoice": "invoice", "version": "version", "date": "created_at", "price": "amount",
             "id": "request_id", "hash": "sha", "model": "model", "tracking": "tracking_number", "isbn": "isbn",
             "imei": "imei", "reference": "reference", "case": "case_id", "count": "tokens", "duration": "duration",
             "range": "period", "coords": "location", "mac": "mac", "zip": "zip", "oid": "oid", "ratio": "aspect"}
_SCHEMES = ["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp", "https", "ftp", "smtp", "mssql",
            "postgresql+psycopg2", "rediss"]
_HOSTS = ["db.internal", "localhost", "cluster0.ab1cd.mongodb.net", "prod-db.eu-west-1.rds.amazonaws.com",
          "mq.example.com", "github.com", "ftp.example.org", "smtp.mailgun.org", "cache.internal"]


# -- mentions: pieces of text, some of them entities ---------------------------------------------------------------
def _secret_value(r: random.Random, key: str) -> str:
    return password(r) if "pass" in key.lower() or "pwd" in key.lower() else generic_secret(r)


def url_pieces(r: random.Random) -> list[Piece]:
    scheme = r.choice(_SCHEMES)
    user = r.choice(["app", "admin", "root", "deploy", "svc_etl", "x-access-token", "guest"])
    if scheme.startswith("redis") and r.random() < 0.5:
        user = ""  # redis://:password@host
    pw = password(r, url_safe=True) if r.random() < 0.7 else _r(r, ALNUM, r.randint(12, 32))
    pieces: list[Piece] = [(f"{scheme}://{user}:", None), (pw, "url_password"), ("@", None)]
    if r.random() < 0.15:  # the host is an IP address: a second entity
        pieces.append((f"10.0.{r.randint(0, 255)}.{r.randint(1, 254)}", "ip_address"))
    else:
        pieces.append((r.choice(_HOSTS), None))
    pieces.append((r.choice([":5432/app", ":3306/shop", "/orders?retryWrites=true", ":6379/0", "/org/repo.git",
                             ":5672//", "", ":21/"]), None))
    return pieces


def value_pieces(r: random.Random, kind: str, key: str = "") -> list[Piece]:
    """The entity as the value of a field (the key gives context, none is added)."""
    if kind == "email":
        return [(email(r), kind)]
    if kind == "phone":
        return [(phone(r)[0], kind)]
    if kind == "card":
        return [(format_card(r, card_digits(r)), kind)]
    if kind == "iban":
        return [(iban(r), kind)]
    if kind == "ssn":
        value, needs = ssn(r)
        if needs and "ssn" not in key and "social" not in key:  # bare digits only under an SSN key
            value = f"{value[:3]}-{value[3:5]}-{value[5:]}"
        return [(value, kind)]
    if kind == "ip_address":
        return [(ip(r), kind)]
    if kind == "api_key":
        return [(api_key(r), kind)]
    if kind == "jwt":
        return [(jwt(r), kind)]
    if kind == "bearer_token":
        if r.random() < 0.12:
            user = r.choice(_FIRST)
            return [("Basic ", None), (base64.b64encode(f"{user}:{password(r)}".encode()).decode(), kind)]
        return [(r.choice(["Bearer ", "Bearer ", "bearer "]), None), (bearer_value(r), kind)]
    if kind == "url_password":
        return url_pieces(r)
    if kind == "private_key":
        block, tail = private_key(r)
        return [(block, kind), (tail, None)]
    if kind == "secret":
        return [(_secret_value(r, key or "password"), kind)]
    raise ValueError(kind)


def prose_mention(r: random.Random, kind: str, lang: str) -> tuple[list[Piece], bool]:
    """Pieces for a prose sentence and whether they carry their own context (use a wrap template)."""
    if kind == "secret":
        phrase = r.choice(_SECRET_PHRASES[lang])
        before, after = phrase.split("{v}")
        value = password(r)
        return [(before, None), (value, kind), (after, None)], True
    if kind == "bearer_token":
        token = value_pieces(r, kind)
        head = r.choice(["Authorization: ", "the header is Authorization: ", "-H 'Authorization: "])
        tail = "'" if head.startswith("-H") else ""
        return [(head, None)] + token + [(tail, None)], True
    if kind == "phone":
        value, needs = phone(r)
        if needs and r.random() < 0.5:
            return [(r.choice(_PHONE_WORDS[lang]), None), (value, kind)], True
        return [(value, kind)], False
    if kind == "ssn":
        value, needs = ssn(r)
        if needs:
            return [(r.choice(["SSN ", "SSN: ", "SSN#"]), None), (value, kind)], True
        return [(value, kind)], False
    if kind == "email" and r.random() < 0.15:
        return [(r.choice(["mailto:", "<"]), None), (email(r), kind),
                (">", None)][: 2 if r.random() < 0.5 else 3], False
    if kind == "ip_address" and r.random() < 0.2:
        address = ip(r)
        if ":" in address:
            return [("[", None), (address, kind), (f"]:{r.choice([443, 8443, 22])}", None)], False
        return [(address, kind), (r.choice([":8080", "/24", ":22", ":5432"]), None)], False
    if kind == "private_key":
        block, tail = private_key(r)
        return [("```\n", None), (block, kind), (tail + "\n```", None)], False
    return value_pieces(r, kind), False


def _fill(template: str, noun: str, pieces: list[Piece]) -> list[Piece]:
    text = template.replace("{noun}", noun).replace("{Noun}", noun[:1].upper() + noun[1:])
    before, after = text.split("{x}")
    return [(before, None)] + pieces + [(after, None)]


# -- documents -----------------------------------------------------------------------------------------------------
Item = tuple[str, "str | None"]  # (entity kind, None) or ("neg", noun)

_STYLE_KINDS = {
    "prose": KINDS, "json": KINDS,
    "log": ("email", "phone", "card", "iban", "ssn", "ip_address", "api_key", "jwt", "bearer_token", "url_password",
            "secret"),
    "env": ("api_key", "secret", "url_password", "jwt", "email", "ip_address", "private_key"),
    "yaml": ("api_key", "secret", "url_password", "email", "ip_address", "private_key", "phone"),
    "code": ("api_key", "secret", "url_password", "bearer_token", "jwt", "email", "ip_address", "private_key",
             "phone"),
    "http": ("bearer_token", "jwt", "api_key", "ip_address", "email", "secret"),
    "table": ("email", "phone", "ip_address", "iban", "card", "ssn"),
}


def _esc(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def _prose(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    out: list[Piece] = []
    joiner = "" if lang in ("ja", "zh") else " "
    for i, (kind, noun) in enumerate(items):
        if i:  # CJK sentences follow each other without a space, after their own full stop
            glue = joiner if out[-1][0][-1:] >= "\u2e80" else "\n"
            out.append((r.choice([glue, "\n", glue]), None))
        if kind == "neg":
            if noun == "lookalike":
                out.append((r.choice(_LOOKALIKES), None))
            elif noun == "version_quad":
                out += _fill(r.choice(_WRAP_TEMPLATES[lang]), "", [(version_quad(r, lang), None)])
            else:
                noun_key, value = negative(r)
                out += _fill(r.choice(_NOUN_TEMPLATES[lang]), _NOUNS[lang][noun_key], [(value, None)])
            continue
        pieces, own = prose_mention(r, kind, lang)
        if own:
            out += _fill(r.choice(_WRAP_TEMPLATES[lang]), "", pieces)
        else:
            out += _fill(r.choice(_NOUN_TEMPLATES[lang]), _NOUNS[lang][kind], pieces)
    return out


def _fields(r: random.Random, items: list[Item], lang: str) -> list[tuple[str, list[Piece]]]:
    fields = []
    for kind, noun in items:
        if kind == "neg":
            if noun == "lookalike":
                fields.append(("note", [(r.choice(_LOOKALIKES), None)]))
            elif noun == "version_quad":
                fields.append(("version", [(version_quad(r, lang).split()[-1].lstrip("v"), None)]))
            else:
                noun_key, value = negative(r)
                fields.append((_NEG_KEYS[noun_key], [(value, None)]))
        elif kind == "bearer_token":
            fields.append((r.choice(["authorization", "Authorization"]), value_pieces(r, kind)))
        elif kind == "jwt" and r.random() < 0.3:
            fields.append(("Authorization", [("Bearer ", None), (jwt(r), kind)]))
        else:
            key = r.choice(_KEYS[kind])
            fields.append((key, value_pieces(r, kind, key)))
    return fields


def _json(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    ascii_only = r.random() < 0.3
    roll = r.random()
    if roll < 0.3:  # chat message content: prose, escaped
        prose = _prose(r, lang, items)
        body = [(_esc(t, ascii_only), k) for t, k in prose]
        role = r.choice(["user", "assistant", "tool"])
        head = '{"messages": [{"role": "system", "content": "You are a helpful assistant."}, '
        return [(head + '{"role": "' + role + '", "content": "', None)] + body + [('"}]}', None)]
    fields = _fields(r, items, lang)
    inner: list[Piece] = [("{", None)]
    for i, (key, pieces) in enumerate(fields):
        inner.append(((", " if i else "") + f'"{key}": "', None))
        inner += [(_esc(t, ascii_only), k) for t, k in pieces]
        inner.append(('"', None))
    inner.append(("}", None))
    if roll < 0.55:  # OpenAI-style tool call: arguments is a JSON string inside JSON
        name = r.choice(["update_customer", "send_email", "create_ticket", "lookup_account", "configure_integration"])
        return ([('{"type": "function", "function": {"name": "' + name + '", "arguments": "', None)]
                + [(_esc(t, False), k) for t, k in inner] + [('"}}', None)])
    return inner


def _log(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    level = r.choice(["INFO", "WARN", "ERROR", "DEBUG"])
    service = r.choice(["api", "worker-3", "gateway", "billing"])
    message = r.choice(["request completed", "payment failed", "user updated", "retrying call", "tool call"])
    out: list[Piece] = [(f"{_date(r)} {level} [{service}] {message}", None)]
    for key, pieces in _fields(r, items, lang):
        quote = '"' if any(" " in t for t, _ in pieces) or r.random() < 0.3 else ""
        out += [(f" {key}={quote}", None)] + pieces + [(quote, None)]
    out.append((f" latency_ms={r.randint(3, 9000)}", None))
    return out


def _env(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    out: list[Piece] = [("# .env\n", None)]
    names = {"api_key": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "STRIPE_SECRET_KEY",
                         "AWS_ACCESS_KEY_ID", "HF_TOKEN", "API_KEY"],
             "secret": ["DB_PASSWORD", "POSTGRES_PASSWORD", "CLIENT_SECRET", "AZURE_OPENAI_API_KEY", "COHERE_API_KEY",
                        "SECRET_KEY", "JWT_SECRET", "MISTRAL_API_KEY"],
             "url_password": ["DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"], "jwt": ["SERVICE_TOKEN", "ID_TOKEN"],
             "email": ["ADMIN_EMAIL", "SMTP_FROM"], "ip_address": ["BIND_ADDR", "UPSTREAM_IP"],
             "private_key": ["SIGNING_KEY"]}
    for kind, noun in items:
        if kind == "neg":
            if noun in ("lookalike", "version_quad"):
                out.append((r.choice(["OPENAI_API_KEY=${OPENAI_API_KEY}", "APP_VERSION=2.4.1.8", "MAX_TOKENS=4096",
                                      "PASSWORD=", "DEBUG=true"]) + "\n", None))
            else:
                noun_key, value = negative(r)
                out.append((f"{_NEG_KEYS[noun_key].upper()}={value}\n", None))
            continue
        name = r.choice(names[kind])
        if kind == "private_key":
            block, _ = private_key(r)
            out += [(f'{name}="', None), (block.replace("\n", "\\n"), kind), ('"\n', None)]
            continue
        pieces = value_pieces(r, kind, name)
        quote = r.choice(["", "", '"', "'"])
        out += [(f"{name}={quote}", None)] + pieces + [(f"{quote}\n", None)]
    return out


def _yaml(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    out: list[Piece] = [("service:\n  name: billing\n  replicas: 3\n", None)]
    for kind, noun in items:
        if kind == "neg":
            if noun in ("lookalike", "version_quad"):
                out.append((r.choice(["  password: ${DB_PASSWORD}\n", "  version: 2.4.1.8\n", "  secret: true\n",
                                      "  max_tokens: 4096\n"]), None))
            else:
                noun_key, value = negative(r)
                out.append((f"  {_NEG_KEYS[noun_key]}: {value}\n", None))
            continue
        key = r.choice(_KEYS[kind])
        if kind == "private_key":
            block, _ = private_key(r)
            out.append((f"  {key}: |\n", None))
            lines = block.split("\n")
            indented = "\n".join("    " + line for line in lines)
            out += [("    ", None), (indented[4:], kind), ("\n", None)]
            continue
        quote = r.choice(["", '"'])
        out += [(f"  {key}: {quote}", None)] + value_pieces(r, kind, key) + [(f"{quote}\n", None)]
    return out


def _code(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    out: list[Piece] = [("```python\n", None)]
    for kind, noun in items:
        if kind == "neg":
            if noun in ("lookalike", "version_quad"):
                out.append((r.choice(_LOOKALIKES[:13] + ['__version__ = "2.4.1.8"']) + "\n", None))
            else:
                noun_key, value = negative(r)
                out.append((f'{_NEG_KEYS[noun_key]} = "{value}"\n', None))
            continue
        if kind == "api_key":
            line = r.choice(['client = OpenAI(api_key="{}")', 'anthropic.Anthropic(api_key="{}")', 'API_KEY = "{}"',
                             'os.environ["OPENAI_API_KEY"] = "{}"', 'headers = {{"x-api-key": "{}"}}', 'key = "{}"'])
            pieces = value_pieces(r, kind)
        elif kind == "secret":
            line = r.choice(['conn = psycopg2.connect(host="db", user="app", password="{}")', 'PASSWORD = "{}"',
                             "app.config['SECRET_KEY'] = '{}'", 'client_secret="{}",',
                             'login(username="admin", password=\'{}\')'])
            pieces = [(password(r) if "assword" in line.lower() else generic_secret(r), kind)]
        elif kind == "url_password":
            line = r.choice(['engine = create_engine("{}")', 'redis.from_url("{}")', 'DATABASE_URL = "{}"'])
            pieces = url_pieces(r)
        elif kind == "bearer_token":
            line = 'headers = {{"Authorization": "{}"}}'
            pieces = value_pieces(r, kind)
        elif kind == "jwt":
            line = r.choice(['token = "{}"', 'requests.get(url, headers={{"Authorization": "Bearer {}"}})'])
            pieces = [(jwt(r), kind)]
        elif kind == "email":
            line = r.choice(['send_email(to="{}", subject="Invoice")', 'ADMINS = ["{}"]', 'user = User(email="{}")'])
            pieces = [(email(r), kind)]
        elif kind == "ip_address":
            line = r.choice(['ALLOWED_HOSTS = ["{}"]', 'sock.connect(("{}", 8080))', 'upstream = "{}"'])
            pieces = [(ip(r), kind)]
        elif kind == "phone":
            line = r.choice(['sms.send(to="{}", body="Your code is 482913")',
                             'twilio.calls.create(to="{}", from_=FROM)'])
            pieces = [(phone(r, strong="sms" not in line)[0], kind)]
        elif kind == "private_key":
            line = 'KEY = """{}"""'
            block, _ = private_key(r)
            pieces = [(block, kind)]
        else:
            raise ValueError(kind)
        before, after = line.format("\x00").split("\x00")
        out += [(before, None)] + pieces + [(after + "\n", None)]
    out.append(("```", None))
    return out


def _http(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    path = r.choice(["chat/completions", "messages", "embeddings", "orders/42"])
    out: list[Piece] = [(f"{r.choice(['POST', 'GET'])} /v1/{path} HTTP/1.1\n"
                         "Host: api.example.com\nContent-Type: application/json\n", None)]
    for kind, _ in items:
        if kind == "neg":
            noun_key, value = negative(r)
            out.append((f"X-{_NEG_KEYS[noun_key].title().replace('_', '-')}: {value}\n", None))
        elif kind == "bearer_token":
            out += [("Authorization: ", None)] + value_pieces(r, kind) + [("\n", None)]
        elif kind == "jwt":
            out += [(r.choice(["Authorization: Bearer ", "X-Id-Token: "]), None), (jwt(r), kind), ("\n", None)]
        elif kind == "api_key":
            out += [(r.choice(["x-api-key: ", "Authorization: Bearer ", "X-Goog-Api-Key: "]), None),
                    (api_key(r), kind), ("\n", None)]
        elif kind == "secret":
            out += [(r.choice(["api-key: ", "X-Api-Key: ", "X-Auth-Token: "]), None), (generic_secret(r), kind),
                    ("\n", None)]
        elif kind == "ip_address":
            out += [(r.choice(["X-Forwarded-For: ", "X-Real-IP: "]), None), (ip(r), kind), ("\n", None)]
        elif kind == "email":
            out += [("From: ", None), (email(r), kind), ("\n", None)]
    out.append((f"Content-Length: {r.randint(20, 4000)}\n", None))
    return out


def _table(r: random.Random, lang: str, items: list[Item]) -> list[Piece]:
    kinds = [k for k, _ in items if k != "neg"] or ["email"]
    cols = list(dict.fromkeys(kinds))
    has_neg = any(k == "neg" for k, _ in items)
    markdown = r.random() < 0.6
    header = ["name"] + cols + (["order_id", "created_at"] if has_neg else [])
    sep = " | " if markdown else ","
    if markdown:
        out: list[Piece] = [("| " + sep.join(header) + " |\n|" + "---|" * len(header) + "\n", None)]
    else:
        out = [(sep.join(header) + "\n", None)]
    rows = max(1, len(kinds) // len(cols))
    for _ in range(rows):
        out.append((("| " if markdown else "") + r.choice(_FIRST).title() + " " + r.choice(_LAST).title(), None))
        for col in cols:
            value = phone(r, strong=True)[0] if col == "phone" else None
            if col == "ssn":
                value = ssn(r)[0]
                if " " in value or len(value) == 9:
                    value = value.replace(" ", "-") if " " in value else f"{value[:3]}-{value[3:5]}-{value[5:]}"
            out += [(sep, None), (value if value is not None else value_pieces(r, col)[0][0], col)]
        if has_neg:
            out.append((sep + f"ORD-{_digits(r, 6)}" + sep + _date(r), None))
        out.append(((" |" if markdown else "") + "\n", None))
    return out


_RENDER = {"prose": _prose, "json": _json, "log": _log, "env": _env, "yaml": _yaml, "code": _code, "http": _http,
           "table": _table}


def _assemble(pieces: list[Piece]) -> tuple[str, tuple[Entity, ...]]:
    parts, entities, pos = [], [], 0
    for text, kind in pieces:
        if kind is not None and text:
            entities.append(Entity(kind, pos, pos + len(text)))
        parts.append(text)
        pos += len(text)
    return "".join(parts), tuple(entities)


def generate(n: int = 2000, seed: int = 7) -> list[Sample]:
    """``n`` documents; entity kinds are balanced (each document takes the kinds its style allows that are behind)."""
    r = random.Random(seed)
    counts: Counter[str] = Counter()
    samples = []
    for _ in range(n):
        style = r.choices(STYLES, weights=_STYLE_WEIGHTS)[0]
        lang = r.choice(LANGUAGES)
        allowed = _STYLE_KINDS[style]
        items: list[Item] = []
        for _ in range(r.choice([0, 1, 1, 2, 2, 3])):
            kind = min(allowed, key=lambda k: counts[k] + r.random() * 3)
            counts[kind] += 1
            items.append((kind, None))
        for _ in range(r.choice([0, 1, 1, 2, 3])):
            items.append(("neg", r.choices(["value", "lookalike", "version_quad"], weights=[8, 2, 1])[0]))
        if not items:
            items.append(("neg", "value"))
        r.shuffle(items)
        text, entities = _assemble(_RENDER[style](r, lang, items))
        samples.append(Sample(text, entities, style, lang))
    return samples
