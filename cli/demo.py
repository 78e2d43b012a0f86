"""Demo traffic for ``tracehouse demo``: realistic, seeded LLM traces sent through the public SDK.

``generate_demo()`` plays sessions of support, document and shopping requests from five tenant companies
through ``tracehouse.context`` / ``span`` / ``llm_call``, in three shapes: a single chat call, a RAG
workflow (retrieval then LLM) and a tool-using agent (LLM -> tool -> LLM). A share of the traffic fails the
way production traffic does: provider errors, refusals, truncated and off-topic answers, invalid JSON.

Contract: the caller has run ``tracehouse.init()``; this module never calls ``init`` or ``shutdown`` and never
sleeps. Every choice comes from ``random.Random(seed)`` and every timestamp from ``now_ns`` minus an offset, so
the same arguments give the same span names, attributes and times; only the ids (drawn by OpenTelemetry)
differ between runs. Not thread-safe: it drives the SDK's current context from the calling thread.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import tracehouse

__all__ = ["DemoSummary", "generate_demo"]

logger = logging.getLogger("tracehouse.demo")

# OTel GenAI attribute names for the spans the SDK has no dedicated helper for (workflow, retrieval, tool).
_OPERATION = "gen_ai.operation.name"
_AGENT_NAME = "gen_ai.agent.name"
_WORKFLOW_NAME = "gen_ai.workflow.name"
_DATA_SOURCE = "gen_ai.data_source.id"
_TOOL_NAME = "gen_ai.tool.name"
_TOOL_TYPE = "gen_ai.tool.type"
_TOOL_CALL_ID = "gen_ai.tool.call.id"
_TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
_TOOL_RESULT = "gen_ai.tool.call.result"
_TOOL_DEFINITIONS = "gen_ai.tool.definitions"

_MS = 1_000_000
_S = 1_000_000_000
_FLUSH_EVERY = 200  # traces; keeps the SDK's bounded queue from dropping spans on large runs


# --------------------------------------------------------------------------------------------------------
# Models, tenants, prompts
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    provider: str
    name: str                # request model: an id genai-prices knows, so the collector can price it
    response_model: str      # the dated snapshot the provider reports back
    tokens_per_s: float      # decode speed, drives latency
    reasoning: bool = False  # reports reasoning tokens (inside output tokens)


MODELS = {
    m.name: m
    for m in (
        Model("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 95.0),
        Model("openai", "gpt-4.1", "gpt-4.1-2025-04-14", 60.0),
        Model("openai", "o4-mini", "o4-mini-2025-04-16", 120.0, reasoning=True),
        Model("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 55.0),
        Model("anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001", 110.0),
    )
}


@dataclass(frozen=True)
class Tenant:
    id: str
    plan: str
    weight: float
    models: tuple[str, ...]  # each tenant standardises on a few models, as real customers do
    users: tuple[str, ...]


TENANTS = (
    Tenant("acme-corp", "enterprise", 30, ("gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5"),
           ("ana.silva", "ben.okafor", "chloe.martin", "diego.ramos", "emma.schmidt", "farah.haddad",
            "george.lee", "hana.suzuki")),
    Tenant("globex", "pro", 22, ("gpt-4o-mini", "claude-haiku-4-5"),
           ("ivan.petrov", "julia.rossi", "kofi.mensah", "lena.novak", "mateo.garcia", "nina.kowalski",
            "omar.farouk")),
    Tenant("initech", "business", 18, ("gpt-4.1", "o4-mini", "gpt-4o-mini"),
           ("priya.nair", "quentin.dubois", "rosa.lopez", "sam.taylor", "tomas.horvat", "uma.patel")),
    Tenant("umbrella-health", "enterprise", 16, ("claude-sonnet-4-5", "claude-haiku-4-5"),
           ("victor.chen", "wei.zhang", "ximena.cruz", "yusuf.demir", "zoe.clarke")),
    Tenant("soylent-foods", "starter", 14, ("gpt-4o-mini",),
           ("aiko.tanaka", "bruno.costa", "carla.mendes", "dev.sharma")),
)

CHANNELS = (("web", 0.55), ("email", 0.20), ("api", 0.25))


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    temperature: float
    max_tokens: int
    invalid_json_rate: float = 0.0  # extraction prompts only: share of answers that are not valid JSON


_SUPPORT_V1 = (
    "You are the support assistant for Tracehouse Demo Store. Answer the customer's question politely and "
    "concisely. If you are not sure, say so and offer to connect them with a human agent. Never reveal "
    "internal notes, full card numbers or other customers' data."
)
_SUPPORT_V2 = (
    "You are the support assistant for Tracehouse Demo Store.\n"
    "Rules:\n"
    "- Answer in at most 4 sentences, in the customer's language.\n"
    "- Use only the account data, tool results and help-center articles provided; never invent order details.\n"
    "- Quote order numbers, amounts and dates exactly as given.\n"
    "- If a request needs a human (legal threats, chargebacks, account ownership changes), say you are "
    "handing it over.\n"
    "- Never reveal internal notes, full card numbers or other customers' data."
)

PROMPTS = {
    (p.name, p.version): p
    for p in (
        Prompt("support-answer", "1", _SUPPORT_V1, 0.7, 512),
        Prompt("support-answer", "2", _SUPPORT_V2, 0.3, 400),
        Prompt("summarize", "2", "Summarize the user's document.", 0.5, 600),
        Prompt("summarize", "3",
               "You summarize business documents for busy readers. Return 3-5 bullet points covering decisions, "
               "numbers and open questions, then a line 'Action items:' listing each owner and task. Do not add "
               "information that is not in the document.", 0.2, 600),
        Prompt("invoice-extract", "1",
               "Extract the invoice as JSON with keys vendor, invoice_number, date, currency, items (description, "
               "quantity, unit_price), subtotal, tax and total. Output JSON only.", 0.0, 800,
               invalid_json_rate=0.35),
        Prompt("invoice-extract", "2",
               "Extract the invoice as JSON with keys vendor, invoice_number, date, currency, items (description, "
               "quantity, unit_price), subtotal, tax and total. Use ISO 8601 dates and plain numbers without "
               "currency symbols; use null for a missing field. Output a single JSON object and nothing else.",
               0.0, 800, invalid_json_rate=0.08),
        Prompt("translate", "1",
               "Translate the user's text into the requested language. Keep the tone and formatting; output only "
               "the translation.", 0.3, 400),
        Prompt("code-assistant", "2",
               "You are a senior Python engineer. Give a short explanation and a minimal, runnable example. Prefer "
               "the standard library and well-known packages. Use type hints.", 0.2, 1200),
        Prompt("product-recs", "1",
               "You are a shopping assistant. Recommend at most two products from the search results, with one "
               "sentence each on why they fit, and mention prices. Never recommend products that are not in the "
               "results.", 0.7, 500),
    )
}


# --------------------------------------------------------------------------------------------------------
# Topics: paraphrased questions and answers with {slots}, follow-up pairs, help-center articles, tools
# --------------------------------------------------------------------------------------------------------

Slots = dict[str, Any]


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]                 # JSON schema
    arguments: Callable[[Slots], dict[str, Any]]
    result: Callable[[Slots], dict[str, Any]]

    def definition(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": dict(self.parameters)}}


@dataclass(frozen=True)
class Topic:
    name: str
    weight: float
    slots: Callable[[random.Random, dt.date], Slots]  # one coherent scenario per session
    questions: tuple[str, ...]                        # paraphrases of the opening question
    answers: tuple[str, ...]                          # paraphrases of a good answer
    followups: tuple[tuple[str, str], ...]            # (question, answer) for later turns
    prompts: tuple[tuple[str, str, float], ...]       # (prompt name, version, weight)
    shapes: tuple[tuple[str, float], ...]             # ("chat" | "rag" | "agent", weight)
    docs: tuple[Doc, ...] = ()
    tool: Tool | None = None
    agent: str = ""


def _day(d: dt.date) -> str:
    return f"{d:%B} {d.day}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _code(rng: random.Random, prefix: str, digits: int) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(digits))


def _billing_slots(rng: random.Random, today: dt.date) -> Slots:
    plan, seat_price = rng.choice((("Starter", 15.0), ("Pro", 29.0), ("Business", 49.0)))
    seats = rng.randint(3, 40)
    return {"plan": plan, "seats": seats, "amount": _money(seat_price * seats),
            "date": _day(today - dt.timedelta(days=rng.randint(1, 25))),
            "invoice_id": _code(rng, f"INV-{today.year}-", 5)}


def _refund_slots(rng: random.Random, today: dt.date) -> Slots:
    product, price = rng.choice((("wireless headphones", 129.0), ("espresso machine", 349.0),
                                 ("running shoes", 89.95), ("desk lamp", 45.0), ("4K monitor", 299.0)))
    return {"order_id": _code(rng, "ORD-", 6), "product": product, "amount": _money(price),
            "days": rng.randint(2, 28)}


def _shipping_slots(rng: random.Random, today: dt.date) -> Slots:
    eta = today + dt.timedelta(days=rng.randint(1, 5))
    return {"order_id": _code(rng, "ORD-", 6), "carrier": rng.choice(("UPS", "DHL", "FedEx", "USPS")),
            "tracking": _code(rng, "", 12), "eta": f"{eta:%A}, {_day(eta)}", "eta_iso": eta.isoformat(),
            "city": rng.choice(("Denver", "Rotterdam", "Leeds", "Austin", "Lyon", "Toronto"))}


def _account_slots(rng: random.Random, today: dt.date) -> Slots:
    return {"app": rng.choice(("web app", "mobile app", "admin console"))}


API_ERROR_CASES = (
    {"code": "401", "reason": "Unauthorized", "cause": "the request reached us without a valid API key",
     "fix": "send the key in the Authorization header as 'Bearer <key>' and check that it has not been revoked "
            "under Settings > API keys"},
    {"code": "403", "reason": "Forbidden", "cause": "your key is valid but lacks the scope this endpoint needs",
     "fix": "create a key with the write scope, or ask an admin to add the scope to the existing key"},
    {"code": "422", "reason": "Unprocessable Entity", "cause": "the JSON body failed validation",
     "fix": "check the 'errors' array in the response body, which names each invalid field"},
    {"code": "429", "reason": "Too Many Requests", "cause": "you exceeded your plan's limit of 100 requests per "
                                                            "minute",
     "fix": "wait for the number of seconds in the Retry-After header and add exponential backoff to your client"},
    {"code": "500", "reason": "Internal Server Error", "cause": "something failed on our side",
     "fix": "retry with the same Idempotency-Key, and if it keeps failing send us the X-Request-Id header value"},
)


def _api_error_slots(rng: random.Random, today: dt.date) -> Slots:
    return {**rng.choice(API_ERROR_CASES),
            "endpoint": rng.choice(("/v1/orders", "/v1/customers", "/v1/invoices", "/v1/webhooks")),
            "language": rng.choice(("Python", "Node.js", "Go", "Java"))}


DOCUMENTS = (
    {"doc_kind": "meeting notes",
     "document": (
         "Q3 planning sync, 12 attendees.\n"
         "- Marta presented the roadmap: self-serve onboarding ships in July, SSO for the Business plan in August.\n"
         "- Support volume grew 18% quarter over quarter; median first response time is 3h 40m against a 2h "
         "target.\n"
         "- Decision: hire two support engineers in EMEA; Jonas opens the requisitions by Friday.\n"
         "- Finance flagged that LLM costs rose to $41k/month, 60% of it from the summarization feature. Priya "
         "will test claude-haiku-4-5 against gpt-4.1 on 500 real tickets.\n"
         "- Open question: do we keep the free tier after the pricing change? Postponed to the next board "
         "meeting.\n"
         "Action items: Jonas - EMEA requisitions (Friday); Priya - model cost experiment (2 weeks); Marta - "
         "publish the roadmap to customers (end of month)."),
     "summary": (
         "- Self-serve onboarding ships in July; SSO for the Business plan in August.\n"
         "- Support volume is up 18% QoQ and first response (3h 40m) misses the 2h target, so two EMEA support "
         "engineers will be hired.\n"
         "- LLM spend reached $41k/month, mostly summarization; a cheaper-model experiment is planned.\n"
         "- The free-tier decision is postponed to the next board meeting.\n"
         "Action items: Jonas - open the EMEA requisitions by Friday; Priya - run the model cost experiment "
         "within 2 weeks; Marta - publish the roadmap by month end."),
     "one_liner": "The team confirmed the July/August roadmap, will hire two EMEA support engineers, will test a "
                  "cheaper model to cut $41k/month of LLM spend, and postponed the free-tier decision.",
     "owners": "Jonas owns the EMEA requisitions (due Friday), Priya the model cost experiment (2 weeks) and "
               "Marta publishing the roadmap (end of month)."},
    {"doc_kind": "incident report",
     "document": (
         "Incident report INC-2291: checkout errors.\n"
         "Impact: between 14:02 and 14:47 UTC, 23% of checkout requests failed with HTTP 502; about 1,900 orders "
         "were affected and 310 customers contacted support.\n"
         "Root cause: a configuration change lowered the payment service connection pool from 200 to 20 "
         "connections. Under the lunchtime peak, requests queued until the gateway timed out.\n"
         "Detection: the error-rate alert fired at 14:09, seven minutes after the start, because its threshold "
         "was 20%.\n"
         "Resolution: the change was rolled back at 14:41 and error rates recovered by 14:47.\n"
         "Follow-ups: validate pool sizes in CI (owner: Ahmed); lower the alert threshold to 5% (owner: Lisa); "
         "email affected customers a 10% discount code (owner: Support)."),
     "summary": (
         "- From 14:02 to 14:47 UTC, 23% of checkouts failed with 502 errors, affecting about 1,900 orders.\n"
         "- Cause: a config change shrank the payment service connection pool from 200 to 20.\n"
         "- The alert fired 7 minutes late because its threshold was 20%; rolling back the change fixed it.\n"
         "Action items: Ahmed - validate pool sizes in CI; Lisa - lower the alert threshold to 5%; Support - send "
         "affected customers a 10% discount code."),
     "one_liner": "A bad connection-pool setting broke 23% of checkouts for 45 minutes until it was rolled back; "
                  "CI checks, a tighter alert and customer discounts follow.",
     "owners": "Ahmed owns the CI check for pool sizes, Lisa lowering the alert threshold, and the Support team "
               "the discount emails."},
    {"doc_kind": "email thread",
     "document": (
         "From: Dana (Operations, Harbor Freight Co.)\nSubject: Repeated delivery delays\n\n"
         "Hi team, this is the third time this month our weekly order arrived late. Order 4471 was promised for "
         "Monday and came Thursday, so our Wednesday production run started without labels. We have been "
         "customers for four years and value the product, but we need a reliable delivery day. Can you (1) "
         "confirm what happened with order 4471, (2) commit to a delivery window for our standing weekly order, "
         "and (3) credit the expedited shipping we paid for? If this keeps happening we will look at other "
         "suppliers.\n\n"
         "Reply from Sam (Account Manager): Dana, apologies. The delay came from our regional carrier switching "
         "routes. I'm moving your standing order to our direct freight lane with a guaranteed Tuesday delivery "
         "from next week, and I've asked billing to refund the $180 expedited fee."),
     "summary": (
         "- Harbor Freight Co. reports a third late delivery this month: order 4471 came Thursday instead of "
         "Monday and disrupted production.\n"
         "- Dana asks for an explanation, a reliable delivery window and a refund of expedited shipping, and "
         "hints at switching suppliers.\n"
         "- Sam blames a regional carrier route change, moves the standing order to direct freight with "
         "guaranteed Tuesday delivery, and requests a $180 refund.\n"
         "Action items: Sam - confirm the new freight lane starts next week; Billing - refund the $180 fee."),
     "one_liner": "A four-year customer threatened to leave after repeated late deliveries; the account manager "
                  "moved them to guaranteed Tuesday freight and refunded the $180 expedited fee.",
     "owners": "Sam (account manager) owns the move to the direct freight lane and Billing owns the $180 refund."},
    {"doc_kind": "release notes",
     "document": (
         "Release 2.14 notes (draft)\n"
         "New: bulk export of invoices as CSV or PDF from the Billing page, up to 5,000 invoices per export.\n"
         "New: webhooks retry failed deliveries 8 times over 24 hours with exponential backoff; signatures use "
         "HMAC-SHA256.\n"
         "Changed: the /v1/orders list endpoint returns 100 items per page instead of 50; ?limit=50 keeps the old "
         "size.\n"
         "Deprecated: API keys without scopes stop working on 1 October; admins must re-issue them with explicit "
         "scopes.\n"
         "Fixed: a timezone bug showed invoice dates one day early for customers west of UTC.\n"
         "Known issue: CSV export ignores the currency filter; fix planned for 2.14.1.\n"
         "Customer communication: Elena (product marketing); docs update: Raj."),
     "summary": (
         "- New: bulk invoice export (CSV/PDF, up to 5,000) and webhook retries (8 attempts over 24h, "
         "HMAC-SHA256 signatures).\n"
         "- Changed: /v1/orders returns 100 items per page (?limit=50 for the old size).\n"
         "- Deprecated: unscoped API keys stop working on 1 October and must be re-issued.\n"
         "- Fixed the invoice-date timezone bug; known issue: CSV export ignores the currency filter (fix in "
         "2.14.1).\n"
         "Action items: Elena - customer communication; Raj - docs update."),
     "one_liner": "Release 2.14 adds bulk invoice export and webhook retries, doubles the orders page size and "
                  "retires unscoped API keys on 1 October.",
     "owners": "Elena (product marketing) owns customer communication and Raj the documentation update."},
)


def _document_slots(rng: random.Random, today: dt.date) -> Slots:
    return dict(rng.choice(DOCUMENTS))


VENDORS = (
    ("Contoso Cloud Services", "200 Pine St, Seattle, WA 98101", "USD"),
    ("Fabrikam Logistics GmbH", "Hafenstrasse 12, 20457 Hamburg", "EUR"),
    ("Northwind Office Supply", "48 Harbour Road, Leeds LS1 4AB", "GBP"),
    ("Tailspin Print Co.", "77 King St W, Toronto, ON M5K 1A1", "CAD"),
)
LINE_ITEMS = (
    ("Monthly platform subscription", 499.0), ("Additional user seats", 12.0),
    ("Freight, pallet Hamburg-Rotterdam", 185.0), ("Customs handling fee", 45.0),
    ("A4 copy paper, box of 5 reams", 24.5), ("Toner cartridge, black", 61.0),
    ("Business cards, 500 pcs", 38.0), ("On-site support, hourly", 95.0),
)


def _invoice_slots(rng: random.Random, today: dt.date) -> Slots:
    vendor, address, currency = rng.choice(VENDORS)
    issued = today - dt.timedelta(days=rng.randint(2, 40))
    due = issued + dt.timedelta(days=30)
    items = [{"description": d, "quantity": rng.randint(1, 20), "unit_price": p}
             for d, p in rng.sample(LINE_ITEMS, rng.randint(1, 3))]
    subtotal = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
    tax = round(subtotal * 0.2, 2)
    number = _code(rng, "", 6)
    lines = "\n".join(f"{i['quantity']} x {i['description']} @ {i['unit_price']:.2f} = "
                      f"{i['quantity'] * i['unit_price']:.2f}" for i in items)
    text = (f"{vendor}\n{address}\n\nINVOICE {number}\nDate: {issued:%d %b %Y}\nDue: {due:%d %b %Y}\n\n{lines}\n\n"
            f"Subtotal: {subtotal:.2f}\nVAT 20%: {tax:.2f}\nTotal due: {subtotal + tax:.2f} {currency}")
    fields = {"vendor": vendor, "invoice_number": number, "date": issued.isoformat(), "currency": currency,
              "items": items, "subtotal": subtotal, "tax": tax, "total": round(subtotal + tax, 2)}
    return {"invoice_text": text, "invoice_json": json.dumps(fields, indent=2),
            "invoice_json_due": json.dumps({**fields, "due_date": due.isoformat()}, indent=2),
            "subtotal": f"{subtotal:.2f}", "tax": f"{tax:.2f}", "total": f"{subtotal + tax:.2f}",
            "currency": currency}


TRANSLATIONS = (
    {"source": "Your order has shipped and will arrive within 3 to 5 business days.",
     "Spanish": "Su pedido ha sido enviado y llegará en un plazo de 3 a 5 días hábiles.",
     "German": "Ihre Bestellung wurde versandt und kommt innerhalb von 3 bis 5 Werktagen an.",
     "French": "Votre commande a été expédiée et arrivera sous 3 à 5 jours ouvrés.",
     "Japanese": "ご注文の商品は発送済みで、3〜5営業日以内に到着します。",
     "Chinese": "您的订单已发货，将在3至5个工作日内送达。",
     "Arabic": "تم شحن طلبك وسيصل خلال 3 إلى 5 أيام عمل."},
    {"source": "We have received your refund request and will process it within 48 hours.",
     "Spanish": "Hemos recibido su solicitud de reembolso y la procesaremos en un plazo de 48 horas.",
     "German": "Wir haben Ihre Rückerstattungsanfrage erhalten und bearbeiten sie innerhalb von 48 Stunden.",
     "French": "Nous avons bien reçu votre demande de remboursement et la traiterons sous 48 heures.",
     "Japanese": "返金のご依頼を受け付けました。48時間以内に処理いたします。",
     "Chinese": "我们已收到您的退款申请，将在48小时内处理。",
     "Arabic": "لقد تلقينا طلب استرداد المبلغ الخاص بك وسنقوم بمعالجته خلال 48 ساعة."},
    {"source": "Please reset your password using the link we sent to your email.",
     "Spanish": "Restablezca su contraseña con el enlace que le enviamos por correo electrónico.",
     "German": "Bitte setzen Sie Ihr Passwort über den Link zurück, den wir Ihnen per E-Mail geschickt haben.",
     "French": "Veuillez réinitialiser votre mot de passe à l'aide du lien que nous vous avons envoyé par e-mail.",
     "Japanese": "メールでお送りしたリンクからパスワードを再設定してください。",
     "Chinese": "请使用我们发送到您邮箱的链接重置密码。",
     "Arabic": "يرجى إعادة تعيين كلمة المرور باستخدام الرابط الذي أرسلناه إلى بريدك الإلكتروني."},
    {"source": "Thank you for your patience while we look into this issue.",
     "Spanish": "Gracias por su paciencia mientras investigamos este problema.",
     "German": "Vielen Dank für Ihre Geduld, während wir uns um dieses Problem kümmern.",
     "French": "Merci de votre patience pendant que nous examinons ce problème.",
     "Japanese": "この問題を調査している間、お待ちいただきありがとうございます。",
     "Chinese": "感谢您在我们调查此问题期间的耐心等待。",
     "Arabic": "شكرًا لصبرك بينما نبحث في هذه المشكلة."},
)
LANGUAGES = ("Spanish", "German", "French", "Japanese", "Chinese", "Arabic")


def _translation_slots(rng: random.Random, today: dt.date) -> Slots:
    case = rng.choice(TRANSLATIONS)
    language, language2 = rng.sample(LANGUAGES, 2)
    return {"source": case["source"], "language": language, "translation": case[language],
            "language2": language2, "translation2": case[language2]}


CODE_CASES = (
    {"task": "retry an HTTP request with exponential backoff",
     "explanation": "Retry only on transport errors and on the statuses that mean 'try again later' "
                    "(429, 502, 503, 504), doubling the wait each time and capping it.",
     "code": "import time\n\nimport httpx\n\n\n"
             "def get_with_retry(url: str, attempts: int = 5) -> httpx.Response:\n"
             "    for attempt in range(attempts):\n"
             "        try:\n"
             "            response = httpx.get(url, timeout=10)\n"
             "            if response.status_code not in (429, 502, 503, 504):\n"
             "                return response\n"
             "        except httpx.TransportError:\n"
             "            if attempt == attempts - 1:\n"
             "                raise\n"
             "        time.sleep(min(2 ** attempt, 30))\n"
             "    return response"},
    {"task": "read a large CSV file in chunks with pandas",
     "explanation": "Pass chunksize to read_csv: it returns an iterator of DataFrames, so memory stays flat "
                    "however big the file is.",
     "code": "import pandas as pd\n\n"
             "total = 0.0\n"
             "for chunk in pd.read_csv(\"events.csv\", chunksize=100_000):\n"
             "    total += chunk[\"amount\"].sum()\n"
             "print(total)"},
    {"task": "parse an ISO 8601 timestamp into a timezone-aware datetime",
     "explanation": "Since Python 3.11, datetime.fromisoformat accepts the full ISO 8601 syntax, including a "
                    "trailing 'Z'; convert to UTC with astimezone.",
     "code": "from datetime import datetime, timezone\n\n"
             "ts = datetime.fromisoformat(\"2025-03-14T09:30:00Z\")\n"
             "utc = ts.astimezone(timezone.utc)\n"
             "print(utc.isoformat())"},
    {"task": "deduplicate a list while keeping the original order",
     "explanation": "Dictionaries keep insertion order, so dict.fromkeys drops duplicates and preserves the "
                    "first occurrence of each item in O(n).",
     "code": "items = [\"b\", \"a\", \"b\", \"c\", \"a\"]\n"
             "unique = list(dict.fromkeys(items))\n"
             "print(unique)  # ['b', 'a', 'c']"},
    {"task": "run several HTTP requests concurrently with asyncio",
     "explanation": "Share one AsyncClient and start all requests with asyncio.gather; they overlap while "
                    "waiting on the network.",
     "code": "import asyncio\n\nimport httpx\n\n\n"
             "async def fetch_all(urls: list[str]) -> list[int]:\n"
             "    async with httpx.AsyncClient(timeout=10) as client:\n"
             "        responses = await asyncio.gather(*(client.get(u) for u in urls))\n"
             "    return [r.status_code for r in responses]\n\n\n"
             "print(asyncio.run(fetch_all([\"https://example.com\"] * 3)))"},
)


def _code_slots(rng: random.Random, today: dt.date) -> Slots:
    return dict(rng.choice(CODE_CASES))


PRODUCT_CASES = (
    {"category": "noise-cancelling headphones", "budget": 300,
     "uses": ("working in an open office", "long flights", "calls and focus work"),
     "products": (("Contoso QuietPro 700", 279, 4.7, "it has the strongest noise cancelling in its class and "
                                                     "a 30-hour battery"),
                  ("Fabrikam Aura ANC", 199, 4.4, "it is lighter and almost as quiet for much less"),
                  ("Northwind Studio 3", 329, 4.6, "it has the best sound of the three"))},
    {"category": "a standing desk", "budget": 600,
     "uses": ("a small home office", "a shared office", "long coding sessions"),
     "products": (("Tailspin Lift Duo", 549, 4.6, "its dual motors keep it stable at full height and it has "
                                                  "a 7-year warranty"),
                  ("Contoso RiseDesk S", 389, 4.3, "its compact 120 cm top fits small rooms"),
                  ("Fabrikam Summit XL", 749, 4.8, "it has the largest top"))},
    {"category": "an ergonomic office chair", "budget": 500,
     "uses": ("back pain", "8-hour workdays", "a home office"),
     "products": (("Fabrikam Posture One", 459, 4.7, "it has adjustable lumbar support and 4D armrests"),
                  ("Northwind Task Mesh", 279, 4.2, "its breathable mesh back is comfortable at a lower price"),
                  ("Contoso Executive Pro", 689, 4.5, "it is the most padded"))},
    {"category": "a laptop for software development", "budget": 1500,
     "uses": ("running Docker and a few VMs", "Python and data science", "travelling a lot"),
     "products": (("Contoso Book Pro 14", 1399, 4.6, "it has 32 GB of RAM and a sharp 14-inch screen"),
                  ("Fabrikam Dev 13", 1099, 4.4, "it is light, has 16 GB of RAM and excellent Linux support"),
                  ("Northwind Creator 16", 1899, 4.7, "it has the fastest GPU"))},
)


def _product_slots(rng: random.Random, today: dt.date) -> Slots:
    case = rng.choice(PRODUCT_CASES)
    fits = [p for p in case["products"] if p[1] <= case["budget"]]  # what search_products returns
    (top, top_price, _, top_why), (alt, alt_price, _, alt_why) = fits[0], fits[1]
    return {"category": case["category"], "budget": case["budget"], "use": rng.choice(case["uses"]),
            "results": [{"name": n, "price": p, "rating": r} for n, p, r, _ in fits],
            "top": top, "top_price": top_price, "top_why": top_why,
            "alt": alt, "alt_price": alt_price, "alt_why": alt_why}


_SUPPORT_PROMPTS = (("support-answer", "1", 0.35), ("support-answer", "2", 0.65))

TOPICS = (
    Topic(
        "billing", 14, _billing_slots,
        questions=(
            "Why was I charged {amount} twice on {date}?",
            "There's a {amount} charge from you on my card dated {date}. What is it for?",
            "Can you explain invoice {invoice_id}? The total of {amount} looks higher than usual.",
            "we're on the {plan} plan with {seats} seats but got billed {amount}, is that right?",
            "I don't recognise a payment of {amount} from {date}, can you check?",
        ),
        answers=(
            "The {amount} charge on {date} is the renewal of your {plan} plan for {seats} seats. The second line "
            "you see is a temporary authorization hold; your bank releases it within 3-5 business days, so you "
            "were only billed once.",
            "Invoice {invoice_id} covers your {plan} plan for {seats} seats ({amount}). It is higher than last "
            "month because seats added mid-cycle are prorated onto the next invoice. You can see the line-by-line "
            "breakdown under Settings > Billing > Invoices.",
            "I checked your account: {amount} was charged on {date} for the {plan} plan ({seats} seats), and "
            "invoice {invoice_id} is marked as paid. If you expected a lower amount, an admin can review seat "
            "usage under Settings > Billing.",
        ),
        followups=(
            ("Can I get a PDF copy of that invoice?",
             "Yes. Go to Settings > Billing > Invoices and click the download icon next to {invoice_id}. Admins "
             "can also have invoices emailed automatically every month."),
            ("How do I reduce the number of seats?",
             "An admin can lower the seat count under Settings > Billing > Seats. The change applies at your next "
             "renewal; unused seats are not refunded for the current period."),
            ("ok thanks. will the next invoice be the same amount?",
             "If you stay at {seats} seats, your next {plan} invoice will be the standard renewal without "
             "prorated charges, so it should not be higher than {amount}."),
        ),
        prompts=_SUPPORT_PROMPTS,
        shapes=(("chat", 0.35), ("rag", 0.25), ("agent", 0.40)),
        docs=(
            Doc("kb-billing-101", "How billing works",
                "Subscriptions renew monthly or annually on the date you first subscribed. Seats added mid-cycle "
                "are prorated and appear on the next invoice. Invoices are under Settings > Billing > Invoices."),
            Doc("kb-billing-204", "Authorization holds",
                "Some banks show a temporary authorization hold next to the actual charge. Holds are released "
                "automatically within 3-5 business days and are never collected."),
            Doc("kb-billing-310", "Changing seats and plans",
                "Admins can add or remove seats at any time. Removing seats takes effect at the next renewal; "
                "upgrades take effect immediately and are prorated."),
        ),
        tool=Tool(
            "get_invoice", "Look up an invoice of the customer's workspace.",
            {"type": "object", "properties": {"invoice_id": {"type": "string"}}, "required": ["invoice_id"]},
            arguments=lambda s: {"invoice_id": s["invoice_id"]},
            result=lambda s: {"invoice_id": s["invoice_id"], "amount": s["amount"], "plan": s["plan"],
                              "seats": s["seats"], "issued_on": s["date"], "status": "paid"},
        ),
        agent="billing-assistant",
    ),
    Topic(
        "refunds", 12, _refund_slots,
        questions=(
            "I'd like a refund for order {order_id}, the {product} arrived damaged.",
            "How do I get my money back for {order_id}? It's been {days} days since delivery.",
            "Can I still return the {product} I bought? Order {order_id}.",
            "I was promised a refund of {amount} for {order_id} and still haven't seen it. What's going on?",
            "refund status for {order_id}??",
        ),
        answers=(
            "I'm sorry the {product} didn't work out. Order {order_id} was delivered {days} days ago, within our "
            "30-day return window, so it qualifies for a full refund of {amount}. You'll get a prepaid return label "
            "by email, and the refund is issued within 2 business days of receiving the item.",
            "Order {order_id} is eligible for a refund of {amount}. Once the carrier scans the return, refunds "
            "usually reach your original payment method within 5-7 business days.",
            "Thanks for your patience. The refund of {amount} for order {order_id} is approved; banks typically "
            "take 5-7 business days to show it on your statement.",
        ),
        followups=(
            ("Do I need the original packaging?",
             "No, original packaging isn't required, but please pack the {product} securely and include the return "
             "slip from the email so we can match it to order {order_id}."),
            ("Can I get store credit instead?",
             "Yes. Store credit of {amount} is added to your account as soon as the carrier scans the return."),
            ("how long until the money is back on my card?",
             "Refunds are issued within 2 business days of receiving the return, and most banks post them within "
             "5-7 business days after that."),
        ),
        prompts=_SUPPORT_PROMPTS,
        shapes=(("chat", 0.25), ("rag", 0.30), ("agent", 0.45)),
        docs=(
            Doc("kb-returns-001", "Return policy",
                "Items can be returned within 30 days of delivery for a full refund. Damaged or defective items "
                "qualify regardless of packaging. Final-sale items are not returnable."),
            Doc("kb-returns-014", "Refund timing",
                "Refunds are issued within 2 business days after the return is received. Card refunds typically "
                "appear within 5-7 business days; bank transfers can take up to 10."),
            Doc("kb-returns-022", "Store credit",
                "Customers may choose store credit instead of a refund. Store credit is issued as soon as the "
                "carrier scans the return."),
        ),
        tool=Tool(
            "check_refund_eligibility", "Check whether an order can be refunded and for how much.",
            {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
            arguments=lambda s: {"order_id": s["order_id"]},
            result=lambda s: {"order_id": s["order_id"], "eligible": True, "days_since_delivery": s["days"],
                              "return_window_days": 30, "refund_amount": s["amount"]},
        ),
        agent="order-assistant",
    ),
    Topic(
        "shipping", 16, _shipping_slots,
        questions=(
            "Where is my order {order_id}?",
            "My package {order_id} was supposed to arrive yesterday. Any update?",
            "Has order {order_id} shipped yet? I need it in {city} soon.",
            "tracking for {order_id} hasn't updated in 3 days, is it lost?",
            "When will order {order_id} get to {city}?",
        ),
        answers=(
            "Order {order_id} shipped with {carrier} and is in transit to {city}. The latest estimate is delivery "
            "by {eta}; you can follow it with tracking number {tracking}.",
            "Good news: order {order_id} is on its way with {carrier} (tracking {tracking}) and is expected in "
            "{city} on {eta}.",
            "Order {order_id} left our warehouse and is with {carrier}. Tracking can pause for a few days while a "
            "parcel moves between hubs; the current estimate is {eta}. If it hasn't moved by then, we'll send a "
            "replacement.",
        ),
        followups=(
            ("Can I change the delivery address?",
             "Since the parcel is already with {carrier}, I can't change the address from here, but you can "
             "redirect it on the {carrier} website with tracking number {tracking}."),
            ("what if it doesn't arrive by {eta}?",
             "If order {order_id} hasn't arrived by the end of {eta}, reply here and we'll reship it at no cost or "
             "refund you in full."),
            ("Can you send me the tracking number again?",
             "Sure: your tracking number is {tracking} with {carrier}. It is also under Orders > {order_id} in "
             "your account."),
        ),
        prompts=_SUPPORT_PROMPTS,
        shapes=(("chat", 0.15), ("rag", 0.25), ("agent", 0.60)),
        docs=(
            Doc("kb-shipping-003", "Delivery times",
                "Standard shipping takes 3-5 business days, express 1-2. Orders placed before 2 pm ship the same "
                "day."),
            Doc("kb-shipping-011", "Tracking updates",
                "Tracking may not update while a parcel moves between carrier hubs. With no update for 5 business "
                "days, contact support and we will open a carrier investigation."),
            Doc("kb-shipping-019", "Changing an address",
                "Addresses can be changed until the order ships. After that, use the carrier's redirect service "
                "with your tracking number."),
        ),
        tool=Tool(
            "get_order_status", "Get the fulfilment and shipping status of an order.",
            {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
            arguments=lambda s: {"order_id": s["order_id"]},
            result=lambda s: {"order_id": s["order_id"], "status": "in_transit", "carrier": s["carrier"],
                              "tracking_number": s["tracking"], "estimated_delivery": s["eta_iso"],
                              "destination_city": s["city"]},
        ),
        agent="order-assistant",
    ),
    Topic(
        "password_reset", 9, _account_slots,
        questions=(
            "I forgot my password and the reset email never arrives.",
            "How do I reset my password on the {app}?",
            "The password reset link says it has expired. What now?",
            "I'm locked out of the {app} after too many login attempts, help",
            "I can't log in to the {app}, I think I need a new password.",
        ),
        answers=(
            "Open the sign-in page of the {app}, click 'Forgot password?' and enter your work email. The link is "
            "valid for 60 minutes and can be used once; if it doesn't arrive within a few minutes, check your spam "
            "folder.",
            "You can request a new reset link from the sign-in page of the {app} via 'Forgot password?'. Links "
            "expire after 60 minutes, so use the newest one. If your account is locked, it unlocks by itself after "
            "15 minutes, or a workspace admin can unlock it from the admin console.",
            "To reset your password, click 'Forgot password?' on the {app} sign-in page and follow the emailed "
            "link within 60 minutes. If your company signs in with SSO, the reset happens in your identity "
            "provider instead, so your IT team can help.",
        ),
        followups=(
            ("I still don't get the email.",
             "Please check your spam or quarantine folder and make sure mail from no-reply@tracehouse-demo.example "
             "isn't blocked. If your company uses SSO, resets are handled by your identity provider."),
            ("Does resetting log me out of the mobile app?",
             "Yes. Changing your password signs you out of every device, including the mobile app, so you'll need "
             "to sign in again with the new password."),
            ("How long is the link valid?",
             "Reset links expire after 60 minutes and can be used once. If yours has expired, request a new one "
             "from the sign-in page."),
        ),
        prompts=_SUPPORT_PROMPTS,
        shapes=(("chat", 0.4), ("rag", 0.6)),
        docs=(
            Doc("kb-account-002", "Resetting your password",
                "Click 'Forgot password?' on the sign-in page and enter your work email. Reset links expire after "
                "60 minutes and can be used once."),
            Doc("kb-account-007", "Account lockouts",
                "After 5 failed sign-in attempts an account is locked for 15 minutes. Workspace admins can unlock "
                "accounts from the admin console."),
            Doc("kb-account-015", "Single sign-on",
                "Workspaces using SSO manage passwords in their identity provider (Okta, Entra ID, Google). "
                "Password resets in our app are disabled for SSO users."),
        ),
    ),
    Topic(
        "api_errors", 10, _api_error_slots,
        questions=(
            "I keep getting {code} {reason} when calling POST {endpoint}. What am I doing wrong?",
            "Our integration started returning HTTP {code} from {endpoint} this morning, nothing changed on our "
            "side.",
            "What does a {code} error from your API mean? We use the {language} client.",
            "getting {code} on {endpoint} intermittently, is there an outage?",
        ),
        answers=(
            "A {code} {reason} from {endpoint} means {cause}. To fix it, {fix}.",
            "That {code} response usually means {cause}. The {language} client doesn't change this, so please "
            "{fix}. Our status page shows no ongoing incident.",
            "HTTP {code} ({reason}) indicates {cause}. Please {fix}. If it persists, share the X-Request-Id "
            "header value and we'll look it up.",
        ),
        followups=(
            ("Is there a sandbox I can test against?",
             "Yes: https://sandbox.api.tracehouse-demo.example accepts test keys, has the same endpoints as "
             "production, including {endpoint}, and never charges real cards."),
            ("What are the rate limits on my plan?",
             "The default is 100 requests per minute per key, with bursts up to 200. Enterprise plans can raise it; "
             "remaining quota is returned in the X-RateLimit-Remaining header."),
            ("Will retrying create duplicate records?",
             "Not if you send an Idempotency-Key header: retries with the same key within 24 hours return the "
             "original response instead of creating a duplicate."),
        ),
        prompts=_SUPPORT_PROMPTS,
        shapes=(("chat", 0.45), ("rag", 0.55)),
        docs=(
            Doc("api-errors", "Error codes",
                "401 means a missing or invalid API key. 403 means the key lacks the required scope. 422 means the "
                "request body failed validation. 429 means the rate limit was exceeded. 5xx errors are retryable."),
            Doc("api-rate-limits", "Rate limits",
                "Each key may send 100 requests per minute with bursts up to 200. Responses include "
                "X-RateLimit-Remaining and, on 429, a Retry-After header."),
            Doc("api-idempotency", "Idempotent requests",
                "Send an Idempotency-Key header on POST requests. Retries with the same key within 24 hours return "
                "the original response."),
        ),
    ),
    Topic(
        "summarize", 9, _document_slots,
        questions=(
            "Summarize this for me:\n\n{document}",
            "Can you give me a short summary of these {doc_kind}? Bullet points please.\n\n{document}",
            "TL;DR?\n\n{document}",
            "I need the key points and action items from the following {doc_kind}:\n\n{document}",
        ),
        answers=("{summary}", "Here's a summary of the {doc_kind}:\n\n{summary}"),
        followups=(
            ("Can you make it shorter, one sentence?", "{one_liner}"),
            ("Who owns the action items?", "{owners}"),
        ),
        prompts=(("summarize", "2", 0.3), ("summarize", "3", 0.7)),
        shapes=(("chat", 1.0),),
    ),
    Topic(
        "invoice_extraction", 8, _invoice_slots,
        questions=(
            "Extract the vendor, invoice number, date, line items and total from this invoice as JSON:\n\n"
            "{invoice_text}",
            "Please parse this invoice into JSON.\n\n{invoice_text}",
            "Here's an invoice we received, return JSON only.\n\n{invoice_text}",
        ),
        answers=("{invoice_json}",),
        followups=(
            ("Also add the due date.", "{invoice_json_due}"),
            ("What's the total before tax?",
             "The subtotal before tax is {subtotal} {currency}, plus {tax} {currency} VAT, for a total of {total} "
             "{currency}."),
        ),
        prompts=(("invoice-extract", "1", 0.4), ("invoice-extract", "2", 0.6)),
        shapes=(("chat", 1.0),),
    ),
    Topic(
        "translation", 7, _translation_slots,
        questions=(
            "Translate into {language}: \"{source}\"",
            "How would I say this in {language}? {source}",
            "Please translate the following customer message to {language}:\n{source}",
            "{language} version of this please: {source}",
        ),
        answers=("{translation}", "Here's the {language} translation:\n\n{translation}"),
        followups=(
            ("And in {language2}?", "{translation2}"),
            ("Thanks!", "You're welcome! Let me know if you need anything else translated."),
        ),
        prompts=(("translate", "1", 1.0),),
        shapes=(("chat", 1.0),),
    ),
    Topic(
        "code_help", 8, _code_slots,
        questions=(
            "How do I {task} in Python?",
            "What's the cleanest way to {task}? I'm on Python 3.12.",
            "can you show me code to {task}",
            "I'm trying to {task} but my version is slow and ugly. Any better approach?",
        ),
        answers=(
            "Here's a straightforward way:\n\n```python\n{code}\n```\n\n{explanation}",
            "Sure! {explanation}\n\n```python\n{code}\n```",
        ),
        followups=(
            ("Does this work on Python 3.9?",
             "Yes, apart from one detail: built-in generics such as list[str] work from 3.9, but anything relying "
             "on 3.11 behaviour (like fromisoformat accepting 'Z') needs a small workaround on older versions."),
            ("How would I test this?",
             "Write a small pytest test that calls the function with a known input and asserts on the result. For "
             "network code, swap in httpx.MockTransport so the test never touches the network."),
        ),
        prompts=(("code-assistant", "2", 1.0),),
        shapes=(("chat", 1.0),),
    ),
    Topic(
        "recommendations", 7, _product_slots,
        questions=(
            "I need {category} for {use} under ${budget}. What do you recommend?",
            "what {category} would you suggest for {use}? budget is around ${budget}",
            "Looking for {category}, mainly for {use}. Anything good below ${budget}?",
        ),
        answers=(
            "For {use}, I'd go with the {top} (${top_price}): {top_why}. If you'd like to spend less, the {alt} "
            "(${alt_price}) is a solid choice because {alt_why}.",
            "Two good options within ${budget}: the {top} at ${top_price}, because {top_why}, and the {alt} at "
            "${alt_price}, because {alt_why}.",
        ),
        followups=(
            ("Which one has the better warranty?",
             "The {top} comes with a 2-year warranty and the {alt} with 1 year; both can be extended at checkout."),
            ("Is the {alt} in stock?", "Yes, the {alt} is in stock and ships within 1 business day."),
            ("Can I return it if I don't like it?",
             "Yes, every product can be returned within 30 days of delivery for a full refund."),
        ),
        prompts=(("product-recs", "1", 1.0),),
        shapes=(("chat", 0.3), ("agent", 0.7)),
        tool=Tool(
            "search_products", "Search the catalogue by keyword and maximum price.",
            {"type": "object", "properties": {"query": {"type": "string"}, "max_price": {"type": "number"}},
             "required": ["query"]},
            arguments=lambda s: {"query": s["category"], "max_price": s["budget"]},
            result=lambda s: {"results": s["results"]},
        ),
        agent="shopping-assistant",
    ),
)
_RAG_DOCS = tuple(doc for topic in TOPICS for doc in topic.docs)


# --------------------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------------------

OUTCOME_RATES = {"error": 0.04, "refusal": 0.04, "truncated": 0.03, "off_topic": 0.03}

# Failures concentrate in a few topics, as in real traffic, so failure clustering has something to find.
# The multipliers are renormalised below so the overall rates stay at OUTCOME_RATES.
OUTCOME_BIAS = {
    "password_reset": {"refusal": 4.0},
    "code_help": {"refusal": 1.5, "truncated": 2.0},
    "summarize": {"truncated": 4.0},
    "translation": {"truncated": 1.5},
    "recommendations": {"off_topic": 4.0},
    "api_errors": {"error": 1.5},
}


def _topic_outcome_rates() -> dict[str, dict[str, float]]:
    total = sum(t.weight for t in TOPICS)
    rates: dict[str, dict[str, float]] = {t.name: {} for t in TOPICS}
    for outcome, base in OUTCOME_RATES.items():
        mean_bias = sum(t.weight * OUTCOME_BIAS.get(t.name, {}).get(outcome, 1.0) for t in TOPICS) / total
        for t in TOPICS:
            rates[t.name][outcome] = base * OUTCOME_BIAS.get(t.name, {}).get(outcome, 1.0) / mean_bias
    return rates


_RATES_BY_TOPIC = _topic_outcome_rates()


@dataclass(frozen=True)
class ProviderError:
    error_type: str       # the client library's exception class, as instrumentations report it
    message: str          # "{model}" is replaced by the request model
    latency_s: tuple[float, float]

    def render(self, model: str) -> str:
        return self.message.replace("{model}", model)


PROVIDER_ERRORS = {
    "openai": (
        ProviderError("RateLimitError",
                      "Error code: 429 - {'error': {'message': 'Rate limit reached for {model} in organization "
                      "org-demo on tokens per min (TPM): Limit 200000, Used 199432, Requested 1620.', 'type': "
                      "'tokens', 'code': 'rate_limit_exceeded'}}", (0.3, 0.6)),
        ProviderError("InternalServerError",
                      "Error code: 500 - {'error': {'message': 'The server had an error while processing your "
                      "request. Sorry about that!', 'type': 'server_error'}}", (0.8, 4.0)),
        ProviderError("APITimeoutError", "Request timed out.", (8.0, 8.0)),
    ),
    "anthropic": (
        ProviderError("RateLimitError",
                      "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': "
                      "'Number of request tokens has exceeded your per-minute rate limit'}}", (0.3, 0.6)),
        ProviderError("OverloadedError",
                      "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': "
                      "'Overloaded'}}", (0.5, 2.5)),
        ProviderError("APITimeoutError", "Request timed out.", (8.0, 8.0)),
    ),
}

REFUSALS = (
    "I'm sorry, but I can't help with that.",
    "I'm sorry, but I can't assist with that request.",
    "I can't help with that. If you have another question about your account, I'm happy to help.",
    "I'm not able to help with that request. For security reasons, please contact your workspace administrator.",
    "Sorry, I can't help with that.",
)

OFF_TOPIC_ANSWERS = (
    "Here are five tips for staying productive while working from home: keep a fixed schedule, set up a "
    "dedicated workspace, take short breaks, limit notifications and end your day with a short plan for tomorrow.",
    "Great question! The history of the espresso machine goes back to 1884, when Angelo Moriondo patented a "
    "steam-driven coffee brewer in Turin.",
    "As an AI model, I find the topic of renewable energy fascinating. Solar capacity has grown dramatically over "
    "the last decade, driven by falling panel prices.",
)


# --------------------------------------------------------------------------------------------------------
# Planning: what each trace will contain, decided before any span starts
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    topic: Topic
    prompt: Prompt
    model: Model
    shape: str
    outcome: str                  # ok | error | refusal | truncated | off_topic | invalid_json
    question: str
    answer: str                   # what the model finally says ("" for an error)
    finish_reason: str
    error: ProviderError | None   # set when outcome is "error"
    history: tuple[dict[str, str], ...]
    slots: Slots
    stream: bool
    max_tokens: int
    turn_index: int


@dataclass
class _Tally:
    traces: int = 0
    spans: int = 0
    llm_calls: int = 0
    errors: int = 0
    tenants: set[str] = field(default_factory=set)
    first_trace_id: str | None = None


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, float], ...] | list[tuple[Any, float]]) -> Any:
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights)[0]


def _tokens(text: str) -> int:
    # About 4 UTF-8 bytes a token: close for English, and denser for CJK and Arabic, as real tokenizers are.
    return max(1, round(len(text.encode("utf-8")) / 4))


def _render(template: str, slots: Slots) -> str:
    return template.format_map(slots)


def _casual(rng: random.Random, question: str) -> str:
    """Real users greet, thank and skip punctuation; vary the surface of templated questions a little."""
    roll = rng.random()
    if roll < 0.15:
        question = rng.choice(("Hi, ", "Hello! ", "hey - ")) + question[0].lower() + question[1:]
    elif roll < 0.25 and "\n" not in question:
        question = question + rng.choice((" Thanks!", " thx", " Thank you in advance."))
    return question


def _pick_outcome(rng: random.Random, topic: Topic, prompt: Prompt) -> str:
    roll = rng.random()
    for outcome, rate in _RATES_BY_TOPIC[topic.name].items():
        if roll < rate:
            return outcome
        roll -= rate
    if prompt.invalid_json_rate and rng.random() < prompt.invalid_json_rate:
        return "invalid_json"
    return "ok"


def _truncate(rng: random.Random, text: str) -> str:
    """Cut mid-sentence at a word boundary, as a max_tokens stop does."""
    words = text.split(" ")
    keep = max(3, int(len(words) * rng.uniform(0.35, 0.7)))
    return " ".join(words[:keep]).rstrip(".,;:")


def _corrupt_json(rng: random.Random, text: str) -> str:
    """The ways extraction prompts really fail to return JSON: prose, code fences, trailing commas, Python repr."""
    kind = rng.randrange(4)
    if kind == 0:
        return "Sure! Here is the extracted invoice data:\n\n" + text + "\n\nLet me know if you need anything else."
    if kind == 1:
        return "```json\n" + text + "\n```"
    if kind == 2:
        return text[: text.rindex("\n}")] + ",\n}"  # trailing comma after the last field
    return repr(json.loads(text))


def _off_topic(rng: random.Random, topic: Topic, today: dt.date) -> str:
    if rng.random() < 0.5:
        return rng.choice(OFF_TOPIC_ANSWERS)
    other = rng.choice([t for t in TOPICS if t is not topic])
    return _render(rng.choice(other.answers), other.slots(rng, today))


def _final_answer(rng: random.Random, outcome: str, answer: str, topic: Topic,
                  today: dt.date) -> tuple[str, str]:
    """The text the model returns for this outcome, and its finish reason."""
    if outcome == "error":
        return "", "error"
    if outcome == "refusal":
        return rng.choice(REFUSALS), "stop"
    if outcome == "truncated":
        return _truncate(rng, answer), "length"
    if outcome == "off_topic":
        return _off_topic(rng, topic, today), "stop"
    if outcome == "invalid_json":
        return _corrupt_json(rng, answer), "stop"
    return answer, "stop"


@dataclass(frozen=True)
class Session:
    tenant: Tenant
    user: str
    session_id: str
    channel: str
    topic: Topic
    prompt: Prompt
    model: Model
    shape: str
    slots: Slots
    turns: int


def _plan_session(rng: random.Random, turns: int, today: dt.date) -> Session:
    tenant = _weighted(rng, [(t, t.weight) for t in TENANTS])
    topic = _weighted(rng, [(t, t.weight) for t in TOPICS])
    name, version = _weighted(rng, [((n, v), w) for n, v, w in topic.prompts])
    return Session(
        tenant=tenant,
        user=rng.choice(tenant.users),
        session_id="sess_" + "".join(rng.choice("0123456789abcdef") for _ in range(16)),
        channel=_weighted(rng, CHANNELS),
        topic=topic,
        prompt=PROMPTS[(name, version)],
        model=MODELS[rng.choice(tenant.models)],
        shape=_weighted(rng, topic.shapes),
        slots=topic.slots(rng, today),
        turns=turns,
    )


def _plan_turns(rng: random.Random, session: Session, today: dt.date) -> list[Turn]:
    topic, slots = session.topic, session.slots
    followups = rng.sample(topic.followups, len(topic.followups))
    history: list[dict[str, str]] = []
    turns: list[Turn] = []
    retry: tuple[str, str] | None = None
    for index in range(session.turns):
        if retry is not None:  # after a provider error the user asks again
            question, answer = retry
        elif index == 0:
            question = _casual(rng, _render(rng.choice(topic.questions), slots))
            answer = _render(rng.choice(topic.answers), slots)
        else:
            template_q, template_a = followups[(index - 1) % len(followups)]
            question, answer = _render(template_q, slots), _render(template_a, slots)
        outcome = _pick_outcome(rng, topic, session.prompt)
        if outcome == "invalid_json" and not answer.lstrip().startswith("{"):
            outcome = "ok"  # only JSON answers can be broken JSON
        final, finish_reason = _final_answer(rng, outcome, answer, topic, today)
        max_tokens = session.prompt.max_tokens
        if outcome == "truncated":  # this caller passed a tight limit, and the answer hit it
            max_tokens = 16 * math.ceil(_tokens(final) / 16)
        error = rng.choice(PROVIDER_ERRORS[session.model.provider]) if outcome == "error" else None
        turns.append(Turn(
            topic=topic, prompt=session.prompt, model=session.model, shape=session.shape, outcome=outcome,
            question=question, answer=final, finish_reason=finish_reason, error=error, history=tuple(history),
            slots=slots, stream=session.channel == "web", max_tokens=max_tokens, turn_index=index,
        ))
        retry = (question, answer) if outcome == "error" else None
        if outcome != "error":
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": final}]
    return turns


def _session_lengths(rng: random.Random, traces: int) -> list[int]:
    lengths: list[int] = []
    remaining = traces
    while remaining > 0:
        n = min(remaining, _weighted(rng, ((1, 0.35), (2, 0.25), (3, 0.20), (4, 0.12), (5, 0.08))))
        lengths.append(n)
        remaining -= n
    return lengths


def _turn_starts(rng: random.Random, turns: int, now_ns: int, window_s: float) -> list[int]:
    """Start times of a session's traces: users read the answer for 25-240 s before asking again.

    The session is placed uniformly in the window so that its last trace (at most ~20 s long) ends before
    ``now_ns``; a window shorter than the session pushes the start further back rather than into the future.
    """
    gaps = [rng.uniform(25.0, 240.0) for _ in range(turns - 1)]
    span_s = sum(gaps) + 25.0
    back_s = span_s + rng.random() * max(0.0, window_s - span_s)
    start = now_ns - int(back_s * _S)
    starts = [start]
    for gap in gaps:
        starts.append(starts[-1] + int(gap * _S))
    return starts


# --------------------------------------------------------------------------------------------------------
# Emitting spans through the SDK
# --------------------------------------------------------------------------------------------------------

def _random_id(rng: random.Random, prefix: str, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def _request(turn: Turn, system: str, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """OpenAI takes the system prompt as the first message, Anthropic as a separate parameter."""
    if turn.model.provider == "openai":
        return [{"role": "system", "content": system}, *messages], None
    return messages, system


def _prompt_tokens(system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    total = _tokens(system) + 3
    for message in messages:
        total += 4 + _tokens(message.get("content") or "")
        if message.get("tool_calls"):
            total += _tokens(json.dumps(message["tool_calls"]))
    return total + sum(_tokens(json.dumps(t)) for t in tools)


@dataclass(frozen=True)
class Reply:
    """What one LLM call returns: text, a tool call (OpenAI message format), or a provider error."""
    text: str | None = None
    tool_message: dict[str, Any] | None = None
    finish_reason: str = "stop"
    error: ProviderError | None = None


class _Emitter:
    """Turns planned traces into spans; counts what it emits."""

    def __init__(self, rng: random.Random, tally: _Tally) -> None:
        self.rng = rng
        self.tally = tally

    # -- traces ---------------------------------------------------------------------------------------

    def trace(self, session: Session, turn: Turn, start_ns: int) -> None:
        with tracehouse.context(
            tenant=session.tenant.id, user=session.user, session=session.session_id,
            tags=["demo", turn.topic.name],
            metadata={"channel": session.channel, "plan": session.tenant.plan, "turn": turn.turn_index + 1},
        ):
            emit = {"chat": self._chat, "rag": self._rag, "agent": self._agent}[turn.shape]
            trace_id, failed = emit(turn, start_ns)
        self.tally.traces += 1
        self.tally.errors += int(failed)
        self.tally.tenants.add(session.tenant.id)
        if self.tally.first_trace_id is None:
            self.tally.first_trace_id = trace_id

    def _chat(self, turn: Turn, t0: int) -> tuple[str, bool]:
        messages = [*turn.history, {"role": "user", "content": turn.question}]
        trace_id, _, failed = self._llm(turn, turn.prompt.system, messages, t0, self._final_reply(turn),
                                        cached_prefix=self._history_prefix(turn))
        return trace_id, failed

    def _rag(self, turn: Turn, t0: int) -> tuple[str, bool]:
        self.tally.spans += 1
        with tracehouse.span("invoke_workflow help-center-qa", kind="chain", start_time_ns=t0,
                             attributes={_OPERATION: "invoke_workflow", _WORKFLOW_NAME: "help-center-qa"}) as root:
            root.set_input(turn.question)
            docs, t = self._retrieve(turn, t0 + self._ms(1, 4))
            context = "\n\n".join(f"[{d['id']}] {d['title']}\n{d['content']}" for d in docs)
            system = f"{turn.prompt.system}\n\nHelp-center articles:\n{context}"
            messages = [*turn.history, {"role": "user", "content": turn.question}]
            _, end, failed = self._llm(turn, system, messages, t + self._ms(1, 5), self._final_reply(turn))
            self._close_root(root, turn, end + self._ms(1, 4))
            return root.trace_id, failed

    def _agent(self, turn: Turn, t0: int) -> tuple[str, bool]:
        tool = turn.topic.tool
        assert tool is not None, f"topic {turn.topic.name} has the agent shape but no tool"
        self.tally.spans += 1
        with tracehouse.span(f"invoke_agent {turn.topic.agent}", kind="agent", start_time_ns=t0,
                             attributes={_OPERATION: "invoke_agent", _AGENT_NAME: turn.topic.agent}) as root:
            root.set_input(turn.question)
            messages: list[dict[str, Any]] = [*turn.history, {"role": "user", "content": turn.question}]
            tools = [tool.definition()]
            t = t0 + self._ms(2, 10)
            # A refusal, or an error on the first call, ends the run before any tool is called.
            if turn.outcome == "refusal" or (turn.outcome == "error" and self.rng.random() < 0.5):
                _, end, failed = self._llm(turn, turn.prompt.system, messages, t, self._final_reply(turn), tools)
                self._close_root(root, turn, end + self._ms(1, 4))
                return root.trace_id, failed
            call_id = _random_id(self.rng, "call_" if turn.model.provider == "openai" else "toolu_", 24)
            arguments = tool.arguments(turn.slots)
            tool_message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": call_id, "type": "function",
                "function": {"name": tool.name, "arguments": json.dumps(arguments)}}]}
            _, t, _ = self._llm(turn, turn.prompt.system, messages, t,
                                Reply(tool_message=tool_message, finish_reason="tool_calls"), tools,
                                cached_prefix=self._history_prefix(turn))
            result = tool.result(turn.slots)
            t = self._tool(tool, call_id, arguments, result, t + self._ms(1, 3))
            first_request_tokens = _prompt_tokens(turn.prompt.system, messages, tools)  # cacheable prefix
            messages += [tool_message, {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)}]
            _, end, failed = self._llm(turn, turn.prompt.system, messages, t + self._ms(1, 3),
                                       self._final_reply(turn), tools, cached_prefix=first_request_tokens)
            self._close_root(root, turn, end + self._ms(1, 4))
            return root.trace_id, failed

    # -- spans ----------------------------------------------------------------------------------------

    def _retrieve(self, turn: Turn, t0: int) -> tuple[list[dict[str, Any]], int]:
        """Top-3 help-center articles: mostly the topic's own, sometimes a weaker match from another topic."""
        own = self.rng.sample(turn.topic.docs, self.rng.choice((2, 3)))
        pool = [d for d in _RAG_DOCS if d not in own]
        picked = own if len(own) == 3 else [*own, self.rng.choice(pool)]
        scores = sorted((round(self.rng.uniform(0.55, 0.93), 3) for _ in picked), reverse=True)
        docs = [{"id": d.id, "title": d.title, "score": s, "content": d.text} for d, s in zip(picked, scores)]
        end = t0 + self._ms(40, 260)
        self.tally.spans += 1
        with tracehouse.span("retrieval help-center", kind="retrieval", start_time_ns=t0,
                             attributes={_OPERATION: "retrieval", _DATA_SOURCE: "help-center"}) as span:
            span.set_input({"query": turn.question, "top_k": 3})
            span.set_output(docs)
            span.end_at(end)
        return docs, end

    def _tool(self, tool: Tool, call_id: str, arguments: dict[str, Any], result: dict[str, Any], t0: int) -> int:
        end = t0 + self._ms(30, 900)
        self.tally.spans += 1
        with tracehouse.span(f"execute_tool {tool.name}", kind="tool", start_time_ns=t0, attributes={
            _OPERATION: "execute_tool", _TOOL_NAME: tool.name, _TOOL_TYPE: "function", _TOOL_CALL_ID: call_id,
        }) as span:
            span.set_attribute(_TOOL_ARGUMENTS, arguments)
            span.set_attribute(_TOOL_RESULT, result)
            span.set_input(arguments)
            span.set_output(result)
            span.end_at(end)
        return end

    def _llm(self, turn: Turn, system: str, messages: list[dict[str, Any]], t0: int, reply: Reply,
             tools: list[dict[str, Any]] | None = None, cached_prefix: int = 0) -> tuple[str, int, bool]:
        """One LLM span; returns its trace id, end time and whether it failed."""
        model, rng = turn.model, self.rng
        request_messages, system_param = _request(turn, system, messages)
        final = reply.tool_message is None
        params = {
            "temperature": None if model.reasoning else turn.prompt.temperature,  # o-series reject temperature
            "max_tokens": turn.max_tokens if final else turn.prompt.max_tokens,  # the tight limit hits the answer
            "stream": turn.stream or None,
        }
        self.tally.spans += 1
        self.tally.llm_calls += 1
        with tracehouse.llm_call(provider=model.provider, model=model.name, messages=request_messages,
                                 system=system_param, params=params, prompt_name=turn.prompt.name,
                                 prompt_version=turn.prompt.version, start_time_ns=t0) as call:
            if tools:
                call.set_attribute(_TOOL_DEFINITIONS, tools)
            if reply.error is not None:
                low, high = reply.error.latency_s
                call.set_error(reply.error.render(model.name), reply.error.error_type)
                end = t0 + int(rng.uniform(low, high) * _S)
                call.end_at(end)
                return call.trace_id, end, True
            input_tokens = _prompt_tokens(system, messages, tools or [])
            output = reply.text if final else reply.tool_message
            visible = turn.max_tokens if reply.finish_reason == "length" else _tokens(
                output if isinstance(output, str) else json.dumps(output))
            reasoning = 64 * rng.randint(2, 28) if model.reasoning else 0
            duration_s, ttft_s = self._latency(model, visible, reasoning)
            cache_read = self._cache_read(cached_prefix, input_tokens)
            cache_write = None if cache_read else self._cache_write(turn, system)  # a cache hit writes nothing
            call.set_output(
                output,
                finish_reason=reply.finish_reason,
                response_model=model.response_model,
                response_id=(_random_id(rng, "chatcmpl-", 29) if model.provider == "openai"
                             else _random_id(rng, "msg_01", 22)),
                input_tokens=input_tokens,
                output_tokens=visible + reasoning,
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
                reasoning_tokens=reasoning or None,
                time_to_first_token_s=round(ttft_s, 3) if turn.stream else None,
            )
            end = t0 + int(duration_s * _S)
            call.end_at(end)
            return call.trace_id, end, False

    # -- helpers --------------------------------------------------------------------------------------

    def _final_reply(self, turn: Turn) -> Reply:
        if turn.error is not None:
            return Reply(error=turn.error)
        return Reply(text=turn.answer, finish_reason=turn.finish_reason)

    def _close_root(self, root: tracehouse.SpanHandle, turn: Turn, end: int) -> None:
        if turn.error is not None:  # the provider's exception propagated out of the agent/workflow
            root.set_error(f"{turn.error.error_type}: {turn.error.render(turn.model.name)}", turn.error.error_type)
        else:
            root.set_output(turn.answer)
        root.end_at(end)

    def _latency(self, model: Model, visible_tokens: int, reasoning_tokens: int) -> tuple[float, float]:
        """(duration, time to first token) in seconds: queueing + thinking, then decoding; 300 ms to 8 s."""
        rng = self.rng
        ttft = rng.uniform(0.18, 0.9) + reasoning_tokens / (model.tokens_per_s * 2)
        duration = ttft + visible_tokens / model.tokens_per_s * rng.uniform(0.8, 1.25)
        if rng.random() < 0.05:  # a slow tail: provider congestion
            duration *= rng.uniform(1.8, 3.0)
        duration = min(max(duration, 0.3), 8.0)
        return duration, min(ttft, duration * 0.9)

    def _history_prefix(self, turn: Turn) -> int:
        """Tokens a later turn shares with the previous request (system prompt + history), i.e. cacheable."""
        if not turn.history:
            return 0
        return _prompt_tokens(turn.prompt.system, list(turn.history[:-1]), [])

    def _cache_read(self, prefix_tokens: int, input_tokens: int) -> int | None:
        # Providers cache in fixed-size blocks and not every request hits the cache.
        cached = 64 * (min(prefix_tokens, input_tokens) // 64)
        return cached if cached and self.rng.random() < 0.7 else None

    def _cache_write(self, turn: Turn, system: str) -> int | None:
        # Anthropic writes the cache on an explicit cache_control breakpoint, on the first turn of a session.
        if turn.model.provider != "anthropic" or turn.turn_index or self.rng.random() >= 0.4:
            return None
        return _tokens(system) + 3

    def _ms(self, low: float, high: float) -> int:
        return int(self.rng.uniform(low, high) * _MS)


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` sent. ``errors`` counts traces with a failed span; ``tenants`` distinct tenants."""
    traces: int
    spans: int
    llm_calls: int
    errors: int
    tenants: int
    first_trace_id: str | None  # lowercase hex; None when no trace was generated


def generate_demo(
    traces: int = 200,
    seed: int = 7,
    now_ns: int | None = None,
    span_window_s: float = 24 * 3600,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Send ``traces`` realistic demo traces through the SDK and flush them.

    Assumes ``tracehouse.init()`` was called (without it the spans are no-ops). Spans start within the last
    ``span_window_s`` seconds before ``now_ns`` (default: the current time) and carry explicit start and end
    times, so nothing sleeps. ``progress(done, total)`` is called about every 10% and at the end. Blocks while
    flushing: every 200 traces (until a flush fails) and at the end. Raises ``ValueError`` for a negative
    count or a non-positive window.
    """
    if traces < 0:
        raise ValueError(f"traces must be >= 0, got {traces}")
    if span_window_s <= 0:
        raise ValueError(f"span_window_s must be > 0, got {span_window_s}")
    now_ns = time.time_ns() if now_ns is None else now_ns
    today = dt.datetime.fromtimestamp(now_ns / _S, tz=dt.timezone.utc).date()
    rng = random.Random(seed)
    tally = _Tally()
    emitter = _Emitter(rng, tally)
    step = max(1, traces // 10)
    flush_periodically = True
    for length in _session_lengths(rng, traces):
        session = _plan_session(rng, length, today)
        starts = _turn_starts(rng, length, now_ns, span_window_s)
        for turn, start_ns in zip(_plan_turns(rng, session, today), starts):
            emitter.trace(session, turn, start_ns)
            if flush_periodically and tally.traces % _FLUSH_EVERY == 0:
                flush_periodically = tracehouse.flush()  # a failed flush means the collector is away: don't wait again
            if progress is not None and (tally.traces % step == 0 or tally.traces == traces):
                progress(tally.traces, traces)
    if not tracehouse.flush():
        logger.warning("tracehouse demo: flush did not finish; some demo spans may not have been exported")
    return DemoSummary(traces=tally.traces, spans=tally.spans, llm_calls=tally.llm_calls, errors=tally.errors,
                       tenants=len(tally.tenants), first_trace_id=tally.first_trace_id)
