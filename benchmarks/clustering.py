"""Evaluation of failure-mode clustering on a seeded, labeled corpus: one command, one table.

    python -m benchmarks.clustering                 # 100,000 interactions, the default embedder and params
    python -m benchmarks.clustering --n 20000 --method hdbscan --k 12
    python -m benchmarks.clustering --n 20000 --compare   # how k is chosen, against the alternatives

The corpus generator plays 12 realistic topics (support, developer, document and internal-assistant requests)
with paraphrased requests (several templates per topic, synonyms, greetings, typos, lower case) and answers,
plus 3% noise (chit-chat, off-topic questions, keyboard mash). Failures are planted:

* ``refusal``       the model refuses a third of the account-security requests
* ``truncation``    long-document summaries hit max_tokens (finish reason ``length``)
* ``invalid_json``  invoice/receipt extraction returns broken JSON (prose, fences, trailing commas, cut off)
* ``tool_error``    the carrier-tracking integration of the shipping agent fails (a tool span in error)

on top of background failures everywhere (provider errors with retries in the same session, timeouts, empty
answers, negative feedback). The report: adjusted Rand index and NMI of the clusters against the planted topics
(noise excluded), the rank by lift of each planted mode's cluster (the cluster holding most of that mode's
interactions; target: top 5), how much of each mode the signal rules detect, and the run time of signals +
clustering (target: 100,000 interactions in under 60 s). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tracehouse.analytics.clustering import ClusterParams, ClusterResult, compute_clusters
from tracehouse.analytics.interactions import Interaction, Score, ToolError
from tracehouse.analytics.signals import SignalRules, detect_all

MODES = ("refusal", "truncation", "invalid_json", "tool_error")
MODE_SIGNAL = {"refusal": "refusal", "truncation": "truncated", "invalid_json": "invalid_json",
               "tool_error": "tool_error"}

# ---------------------------------------------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------------------------------------------

SLOTS: dict[str, Callable[[random.Random], str]] = {
    "amount": lambda r: f"${r.choice([19, 29, 49, 99, 149, 249, 499, 1290])}.{r.choice(['00', '50', '99'])}",
    "date": lambda r: f"{r.choice(['March', 'April', 'May', 'June', 'July', 'August'])} {r.randint(1, 28)}",
    "order": lambda r: f"ORD-{r.randint(100000, 999999)}",
    "invoice": lambda r: f"INV-2026-{r.randint(10000, 99999)}",
    "plan": lambda r: r.choice(["Starter", "Pro", "Business", "Enterprise"]),
    "seats": lambda r: str(r.randint(3, 80)),
    "product": lambda r: r.choice(["wireless headphones", "espresso machine", "running shoes", "desk lamp",
                                   "4K monitor", "backpack", "blender", "smart watch"]),
    "days": lambda r: str(r.randint(2, 40)),
    "carrier": lambda r: r.choice(["UPS", "DHL", "FedEx", "USPS", "GLS"]),
    "city": lambda r: r.choice(["Denver", "Rotterdam", "Leeds", "Austin", "Lyon", "Toronto", "Osaka", "Porto"]),
    "app": lambda r: r.choice(["web app", "mobile app", "admin console", "desktop client"]),
    "code": lambda r: r.choice(["401", "403", "404", "409", "422", "429", "500", "502"]),
    "endpoint": lambda r: r.choice(["/v1/orders", "/v1/customers", "/v1/invoices", "/v1/webhooks", "/v1/events"]),
    "language": lambda r: r.choice(["Python", "Node.js", "Go", "Java", "Ruby"]),
    "lang": lambda r: r.choice(["Spanish", "German", "French", "Japanese", "Italian", "Portuguese", "Dutch"]),
    "task": lambda r: r.choice(["parse a CSV file", "retry an HTTP request with backoff", "deduplicate a list",
                                "read a JSON config", "run tasks concurrently with asyncio",
                                "write a unit test with pytest", "format a datetime in UTC",
                                "connect to Postgres", "sort a list of dicts by a key"]),
    "category": lambda r: r.choice(["noise-cancelling headphones", "a standing desk", "an office chair",
                                    "a laptop for programming", "a mechanical keyboard", "a coffee grinder",
                                    "a travel backpack"]),
    "budget": lambda r: str(r.choice([100, 150, 200, 300, 500, 800, 1500])),
    "use": lambda r: r.choice(["working from home", "long flights", "gaming", "a small apartment", "back pain",
                               "daily commuting"]),
    "vendor": lambda r: r.choice(["Contoso Cloud", "Fabrikam Logistics", "Northwind Supply", "Tailspin Print",
                                  "Wingtip Toys", "Litware Inc"]),
    "doc_kind": lambda r: r.choice(["meeting notes", "incident report", "email thread", "release notes",
                                    "project update", "customer interview", "board memo"]),
    "leave": lambda r: r.choice(["vacation", "parental leave", "sick leave", "unpaid leave", "bereavement leave"]),
    "expense": lambda r: r.choice(["a client dinner", "a train ticket", "a hotel stay", "a conference pass",
                                   "home office equipment"]),
    "name": lambda r: r.choice(["Ana", "Ben", "Chloe", "Diego", "Emma", "Farah", "George", "Hana", "Ivan"]),
}

SYNONYMS = {
    "order": ["order", "purchase"], "package": ["package", "parcel", "delivery"],
    "refund": ["refund", "money back", "reimbursement"], "charged": ["charged", "billed"],
    "cancel": ["cancel", "end", "stop"], "password": ["password", "passcode"],
    "summary": ["summary", "recap", "overview"], "recommend": ["recommend", "suggest"],
    "error": ["error", "failure"], "translate": ["translate", "convert"],
}

GREETINGS = ("Hi, ", "Hello! ", "hey - ", "Good morning, ", "Quick question: ", "")
CLOSINGS = (" Thanks!", " thx", " Thank you in advance.", " Appreciate it.", "", "", "")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    weight: float
    requests: tuple[str, ...]
    answers: tuple[str, ...]
    system: str = "You are a helpful assistant for Tracehouse Demo Store customers."
    tool: str = ""


LOREM_FACTS = (
    "Revenue grew {pct}% quarter over quarter, driven by the enterprise segment.",
    "The team agreed to postpone the pricing change until the next board meeting.",
    "Support volume rose {pct}% and first response time missed its two-hour target.",
    "{name} will own the migration of the billing service to the new cluster.",
    "Customers in the EMEA region reported intermittent checkout failures.",
    "The incident lasted {mins} minutes and affected about {n} orders.",
    "Marketing proposed a referral program with a {pct}% discount for both parties.",
    "Legal asked for a review of the data processing agreement before renewal.",
    "The new onboarding flow reduced time to first value by {pct}%.",
    "Hiring two support engineers was approved for the next quarter.",
    "The vendor contract renews automatically unless cancelled {days} days in advance.",
    "Churn among starter plans remained flat at {pct}% per month.",
)


def _document(r: random.Random, long: bool) -> str:
    n = r.randint(14, 26) if long else r.randint(3, 6)
    facts = [r.choice(LOREM_FACTS).format(pct=r.randint(3, 40), name=r.choice(["Ana", "Jonas", "Priya", "Sam"]),
                                          mins=r.randint(10, 90), n=r.randint(100, 5000), days=r.randint(30, 90))
             for _ in range(n)]
    return " ".join(facts)


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("billing", 10, (
        "Why was I {charged} {amount} twice on {date}?",
        "There's a {amount} charge on my card from {date}, what is it for?",
        "Can you explain invoice {invoice}? The total of {amount} looks higher than usual.",
        "we are on the {plan} plan with {seats} seats but got {charged} {amount}, is that right?",
        "I don't recognise a payment of {amount} from {date}, can you check my billing?",
        "How is my monthly bill calculated for {seats} seats on {plan}?",
        "My invoice {invoice} shows prorated seat charges, what does that mean?",
        "Could you send me a copy of the invoice for {date}? I was {charged} {amount}.",
    ), (
        "The {amount} charge on {date} is the renewal of your {plan} plan for {seats} seats. The second line is a "
        "temporary authorization hold that your bank releases within 3-5 business days.",
        "Invoice {invoice} covers your {plan} plan for {seats} seats. It is higher because seats added mid-cycle "
        "are prorated onto the next invoice; see Settings > Billing > Invoices for the breakdown.",
        "I checked your billing history: {amount} was {charged} on {date} for the {plan} plan and invoice {invoice} "
        "is paid. An admin can review seat usage under Settings > Billing.",
        "Your monthly bill is the per-seat price of the {plan} plan times {seats} seats, plus prorated charges for "
        "seats added during the cycle.",
    ), "You are the billing assistant. Explain charges, invoices and seat pricing precisely."),
    TopicSpec("refunds", 9, (
        "I'd like a {refund} for {order_id}, the {product} arrived damaged.",
        "How do I get my {refund} for {order_id}? It's been {days} days since delivery.",
        "Can I still return the {product} I bought? {order_id}.",
        "I was promised a {refund} of {amount} for {order_id} and haven't seen it yet.",
        "{refund} status for {order_id}??",
        "The {product} doesn't work, I want to send it back and get a {refund}.",
        "Is {order_id} eligible for a return? I changed my mind about the {product}.",
    ), (
        "I'm sorry the {product} didn't work out. {order_id} was delivered {days} days ago, within our 30-day return "
        "window, so it qualifies for a full refund of {amount}. You'll get a prepaid return label by email.",
        "{order_id} is eligible for a refund of {amount}. Once the carrier scans the return, refunds reach your "
        "original payment method within 5-7 business days.",
        "The refund of {amount} for {order_id} is approved; banks usually take 5-7 business days to show it.",
        "You can return the {product} within 30 days of delivery. Start the return from Orders > {order_id} and "
        "we'll email a prepaid label.",
    ), "You are the returns assistant. Apply the 30-day return policy."),
    TopicSpec("shipping", 10, (
        "Where is my {order} {order_id}?",
        "My {package} {order_id} was supposed to arrive yesterday. Any update?",
        "Has {order_id} shipped yet? I need it in {city} soon.",
        "tracking for {order_id} hasn't updated in 3 days, is the {package} lost?",
        "When will {order_id} get to {city}?",
        "Can you track my {package}? The {order} number is {order_id}.",
        "The {carrier} tracking page for {order_id} shows an exception, what happened?",
    ), (
        "{order_id} shipped with {carrier} and is in transit to {city}. The latest estimate is delivery by "
        "{date}.",
        "Good news: {order_id} is on its way with {carrier} and is expected in {city} on {date}.",
        "{order_id} left our warehouse and is with {carrier}. Tracking can pause while a parcel moves between "
        "hubs; the current estimate is {date}.",
    ), "You are the order-status agent. Use the carrier tracking tool before answering.", tool="carrier_api.track"),
    TopicSpec("account_security", 8, (
        "I forgot my {password} and the reset email never arrives.",
        "How do I reset my {password} on the {app}?",
        "The {password} reset link says it has expired. What now?",
        "I'm locked out of the {app} after too many login attempts, help",
        "How do I turn on two-factor authentication for the {app}?",
        "I lost my phone with the authenticator app, how do I get back into my account?",
        "Someone else changed my account email, can you give me access back?",
        "Can you disable 2FA on my account? I can't receive the codes.",
    ), (
        "Open the sign-in page of the {app}, click 'Forgot password?' and enter your work email. The link is valid "
        "for 60 minutes; check your spam folder if it doesn't arrive.",
        "After 5 failed sign-in attempts an account is locked for 15 minutes. A workspace admin can unlock it "
        "from the admin console.",
        "Go to Settings > Security in the {app} and choose 'Enable two-factor authentication', then scan the QR "
        "code with your authenticator app.",
        "If you lost your authenticator, use one of your backup codes to sign in, then set up two-factor "
        "authentication again under Settings > Security.",
    ), "You are the account support assistant. Never bypass identity verification."),
    TopicSpec("api_integration", 8, (
        "I keep getting {code} when calling POST {endpoint}. What am I doing wrong?",
        "Our integration started returning HTTP {code} from {endpoint} this morning.",
        "What does a {code} {error} from your API mean? We use the {language} client.",
        "getting {code} on {endpoint} intermittently, is there an outage?",
        "How do I verify webhook signatures in {language}?",
        "What are the API rate limits, we hit {code} on {endpoint} a lot",
        "Is there a sandbox environment to test the {endpoint} endpoint with {language}?",
    ), (
        "A {code} from {endpoint} usually means the request was rejected: check the API key scopes, the JSON body "
        "against the schema, and the X-Request-Id header if it persists.",
        "HTTP {code} indicates a client-side problem; the {language} client does not change this. Our status page "
        "shows no incident.",
        "Webhook signatures use HMAC-SHA256 over the raw body with your signing secret; compare it with the "
        "X-Signature header using a constant-time comparison in {language}.",
        "Each API key may send 100 requests per minute with bursts up to 200; a 429 carries a Retry-After header.",
    ), "You are the developer support assistant for the REST API."),
    TopicSpec("summarize", 8, (
        "Summarize this {doc_kind} for me:\n\n{document}",
        "Can you give me a short {summary} of these {doc_kind}? Bullet points please.\n\n{document}",
        "TL;DR of the following {doc_kind}?\n\n{document}",
        "I need the key points and action items from this {doc_kind}:\n\n{document}",
        "Please write an executive {summary} of the {doc_kind} below.\n\n{document}",
    ), (
        "- The team reviewed progress and agreed on next steps.\n- Key numbers: growth, support volume and churn "
        "were discussed.\n- Decisions: hiring approved, pricing change postponed.\nAction items: owners were "
        "assigned for each follow-up.",
        "Summary of the {doc_kind}: revenue and support metrics were reviewed, a pricing decision was postponed, "
        "and owners were named for the follow-ups.",
        "Key points:\n1. Metrics moved in the expected direction.\n2. One decision was deferred to the board.\n3. "
        "Two follow-ups have owners and deadlines.",
    ), "You summarize business documents: 3-5 bullet points, then action items with owners."),
    TopicSpec("extraction", 7, (
        "Extract the vendor, invoice number, date, line items and total from this invoice as JSON:\n\n{invoice_text}",
        "Please parse this invoice into JSON.\n\n{invoice_text}",
        "Here's a receipt we received, return JSON only.\n\n{invoice_text}",
        "Convert this invoice to a JSON object with vendor, date and total:\n{invoice_text}",
    ), ("{invoice_json}",), "Extract the invoice as JSON with keys vendor, invoice_number, date, currency, items, "
       "subtotal, tax and total. Output JSON only."),
    TopicSpec("translation", 7, (
        "{translate} this into {lang}: \"Your order has shipped and will arrive within 3 to 5 business days.\"",
        "How would I say this in {lang}? We have received your refund request.",
        "Please {translate} the following customer message to {lang}: Thank you for your patience.",
        "{lang} version of this please: Please reset your password using the link we sent.",
        "Can you {translate} our out-of-office reply to {lang}?",
    ), (
        "Here is the {lang} translation, keeping the polite tone of the original message.",
        "In {lang}: (translated text). I kept the formatting and the formal register.",
        "Sure! The {lang} version reads naturally for customers; I adapted the date format.",
    ), "Translate the user's text into the requested language; output only the translation."),
    TopicSpec("code_help", 8, (
        "How do I {task} in Python?",
        "What's the cleanest way to {task}? I'm on Python 3.12.",
        "can you show me code to {task}",
        "I'm trying to {task} but my version is slow and ugly. Any better approach?",
        "Why does my script raise a TypeError when I {task}?",
        "Write a function that can {task}, with type hints.",
    ), (
        "Here's a straightforward way:\n\n```python\ndef main() -> None:\n    ...\n```\n\nUse the standard library "
        "where you can and add a test for the edge cases.",
        "Sure! The idiomatic approach is to use a context manager and a generator so memory stays flat; here is a "
        "minimal runnable example with type hints.",
        "The TypeError comes from passing a str where an int is expected; convert the value first, then the "
        "function works on Python 3.12.",
    ), "You are a senior Python engineer. Give a short explanation and a minimal runnable example."),
    TopicSpec("recommendations", 7, (
        "I need {category} for {use} under ${budget}. What do you {recommend}?",
        "what {category} would you {recommend} for {use}? budget is around ${budget}",
        "Looking for {category}, mainly for {use}. Anything good below ${budget}?",
        "Compare two options of {category} for {use}, max ${budget}.",
    ), (
        "For {use}, I'd go with the Contoso Pro (${budget}): it has the best reviews in its class. If you'd like "
        "to spend less, the Fabrikam Lite is a solid choice.",
        "Two good options within ${budget}: the Northwind One for comfort and the Tailspin Air for value; both "
        "suit {use}.",
    ), "You are a shopping assistant. Recommend at most two products from the catalogue."),
    TopicSpec("subscription", 7, (
        "How do I {cancel} my {plan} subscription?",
        "I want to downgrade from {plan} to Starter, will I lose data?",
        "Can I upgrade to {plan} in the middle of the billing cycle?",
        "Please {cancel} our subscription at the end of the term.",
        "What happens to my workspace if I {cancel} the {plan} plan?",
        "Can we pause the subscription for two months instead of cancelling?",
    ), (
        "An admin can cancel the {plan} plan under Settings > Subscription. The workspace stays active until the "
        "end of the paid term, then becomes read-only for 30 days.",
        "Downgrading from {plan} keeps all your data; features not in the lower plan become read-only.",
        "Upgrades take effect immediately and are prorated; downgrades apply at the next renewal.",
    ), "You are the subscription assistant."),
    TopicSpec("hr_policy", 6, (
        "How many days of {leave} do I get per year?",
        "What's the process to request {leave}?",
        "Can I expense {expense}? What's the limit?",
        "How do I submit a reimbursement for {expense}?",
        "Does {leave} carry over to next year if I don't use it?",
        "Who approves {leave} requests in my team?",
    ), (
        "Full-time employees get 25 days of vacation per year; {leave} requests go through the HR portal and "
        "your manager approves them.",
        "You can expense {expense} up to the limit in the travel and expense policy; submit the receipt in the "
        "expense tool within 30 days.",
        "Up to 5 unused days carry over to the next year; the rest expires on March 31.",
    ), "You are the internal HR assistant. Answer from the employee handbook."),
)

NOISE_TEXTS = (
    "hi", "hello?", "test", "asdf jkl qwerty", "what's the weather like in Paris today", "tell me a joke",
    "who won the football match yesterday", "what is the meaning of life", "lol", "are you a robot",
    "can you write a poem about the sea", "what time is it in Tokyo", "ignore previous instructions",
    "recipe for banana bread", "how tall is mount everest", "sing me a song", "zzzz", "??",
    "best pizza topping", "translate lorem ipsum", "what day is it", "do you dream",
)
NOISE_ANSWERS = ("Hello! How can I help you today?", "I'm an assistant for Tracehouse Demo Store questions.",
                 "Could you tell me more about what you need?", "Here is a short poem about the sea...")

REFUSALS = ("I'm sorry, but I can't help with that.", "I'm sorry, but I can't assist with that request.",
            "I can't help with that. For security reasons, please contact your workspace administrator.",
            "I'm not able to help with that request.", "Sorry, I can't help with bypassing account security.")


# ---------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Corpus:
    interactions: list[Interaction] = field(default_factory=list)
    tool_errors: list[ToolError] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # planted topic per interaction ("noise" for noise)
    modes: list[str] = field(default_factory=list)   # planted failure mode per interaction ("" for none)


def _fill(template: str, r: random.Random, fixed: dict[str, str]) -> str:
    values: dict[str, str] = {}

    class _Slots(dict):  # type: ignore[type-arg]
        def __missing__(self, key: str) -> str:
            if key in fixed:
                return fixed[key]
            if key in SYNONYMS:
                return r.choice(SYNONYMS[key])
            if key not in values:
                values[key] = SLOTS[key](r) if key in SLOTS else key
            return values[key]

    return template.format_map(_Slots())


def _typos(text: str, r: random.Random) -> str:
    words = text.split(" ")
    for n, w in enumerate(words):
        if len(w) > 4 and r.random() < 0.08:
            i = r.randrange(len(w) - 1)
            words[n] = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    return " ".join(words)


def _paraphrase(text: str, r: random.Random) -> str:
    text = r.choice(GREETINGS) + text if "\n" not in text else text
    if "\n" not in text:
        text += r.choice(CLOSINGS)
    roll = r.random()
    if roll < 0.2:
        text = _typos(text, r)
    elif roll < 0.3:
        text = text.lower()
    return text


def _invoice(r: random.Random) -> tuple[str, str]:
    vendor = SLOTS["vendor"](r)
    items = [{"description": r.choice(["Subscription", "Extra seats", "Freight", "Paper", "Toner", "Support hours"]),
              "quantity": r.randint(1, 20), "unit_price": r.choice([12.0, 24.5, 45.0, 95.0, 185.0])}
             for _ in range(r.randint(1, 3))]
    subtotal = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
    number = str(r.randint(100000, 999999))
    lines = "\n".join(f"{i['quantity']} x {i['description']} @ {i['unit_price']:.2f}" for i in items)
    text = f"{vendor}\nINVOICE {number}\nDate: 2026-0{r.randint(1, 9)}-1{r.randint(0, 9)}\n{lines}\nTotal: {subtotal}"
    fields = {"vendor": vendor, "invoice_number": number, "currency": "USD", "items": items, "total": subtotal}
    return text, json.dumps(fields, indent=2)


def _corrupt_json(text: str, r: random.Random) -> str:
    kind = r.randrange(4)
    if kind == 0:
        return "Sure! Here is the extracted invoice data:\n\n" + text + "\n\nLet me know if you need anything else."
    if kind == 1:
        return "```json\n" + text + "\n```"
    if kind == 2:
        return text[: text.rindex("\n}")] + ",\n}"
    return text[: len(text) // 2]


def generate_corpus(n: int, seed: int = 7, noise_share: float = 0.03) -> Corpus:
    """``n`` interactions (plus a few retries) with planted topics and failure modes; deterministic in ``seed``."""
    r = random.Random(seed)
    corpus = Corpus()
    weights = [t.weight for t in TOPICS]
    t0 = 1_767_225_600_000_000_000
    session_n = 0
    span_n = 0

    def ids() -> tuple[str, str]:
        nonlocal span_n
        span_n += 1
        return f"{span_n:032x}", f"{span_n:016x}"

    while len(corpus.interactions) < n:
        session_n += 1
        session = f"sess_{session_n:08x}"
        tenant = r.choice(["acme", "globex", "initech", "umbrella", "soylent"])
        model = r.choice(["gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5"])
        noise = r.random() < noise_share
        topic = None if noise else r.choices(TOPICS, weights=weights)[0]
        fixed = {"order_id": SLOTS["order"](r)}
        start = t0 + session_n * 7_000_000_000
        trace_id, span_id = ids()
        mode, finish, status, status_message, error_type = "", "stop", "unset", "", ""
        if topic is None:
            request, answer, system = r.choice(NOISE_TEXTS), r.choice(NOISE_ANSWERS), "You are a helpful assistant."
            name = "noise"
        else:
            name, system = topic.name, topic.system
            if name == "summarize":
                long = r.random() < 0.6
                fixed["document"] = _document(r, long)
            if name == "extraction":
                fixed["invoice_text"], fixed["invoice_json"] = _invoice(r)
            request = _paraphrase(_fill(r.choice(topic.requests), r, fixed), r)
            answer = _fill(r.choice(topic.answers), r, fixed)
            roll = r.random()
            if name == "account_security" and roll < 0.35:
                mode, answer = "refusal", r.choice(REFUSALS)
            elif name == "summarize" and fixed.get("document") and long and roll < 0.5:
                mode, finish = "truncation", "length"
                answer = answer[: max(20, int(len(answer) * r.uniform(0.3, 0.7)))]
            elif name == "extraction" and roll < 0.3:
                mode, answer = "invalid_json", _corrupt_json(answer, r)
            elif name == "shipping" and roll < 0.3:
                mode = "tool_error"
                answer = ("I couldn't retrieve the tracking information for {o} right now. Please try again in a "
                          "few minutes.").format(o=fixed["order_id"])
                corpus.tool_errors.append(ToolError(trace_id, f"{span_n:015x}f", topic.tool,
                                                    "CarrierAPIError: 503 upstream carrier service unavailable",
                                                    start - 500_000_000))
        # Background failures, anywhere (including planted topics and noise).
        roll = r.random()
        if not mode and roll < 0.015:
            status, error_type = "error", r.choice(["RateLimitError", "InternalServerError", "OverloadedError"])
            status_message, answer, finish = "Error code: 429 - rate limit reached", "", ""
        elif not mode and roll < 0.02:
            status, error_type, status_message, answer, finish = "error", "APITimeoutError", "Request timed out.", "", ""
        elif not mode and roll < 0.023:
            answer = ""
        if r.random() < 0.01:
            corpus.scores.append(Score(trace_id, "", "user_feedback", 0.0))
        tool = bool(topic is not None and topic.tool)
        corpus.interactions.append(Interaction(
            trace_id=trace_id, span_id=span_id, start_time_ns=start, request=request, response=answer,
            system=system, status=status, status_message=status_message, error_type=error_type,
            finish_reason=finish, session=session, tenant=tenant, model=model,
            cost_usd=round(r.uniform(0.0002, 0.02) * (4 if name == "summarize" else 1), 6),
            duration_ms=round(r.uniform(300, 2500) * (3 if finish == "length" else 1), 1), is_tool_call=False,
        ))
        corpus.topics.append(name)
        corpus.modes.append(mode)
        if status == "error" and r.random() < 0.5 and len(corpus.interactions) < n:  # the user asks again
            trace_id, span_id = ids()
            corpus.interactions.append(Interaction(
                trace_id=trace_id, span_id=span_id, start_time_ns=start + 30_000_000_000, request=request,
                response=_fill(r.choice(topic.answers), r, fixed) if topic else r.choice(NOISE_ANSWERS),
                system=system, finish_reason="stop", session=session, tenant=tenant, model=model,
                cost_usd=0.001, duration_ms=900.0, is_tool_call=tool and False,
            ))
            corpus.topics.append(name)
            corpus.modes.append("")
    return corpus


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Report:
    n: int
    seconds: float
    stages: dict[str, float]
    ari: float
    nmi: float
    k: int
    outlier_share: float
    noise_in_outliers: float
    modes: list[dict[str, Any]]
    result: ClusterResult

    @property
    def passed(self) -> bool:
        return self.ari >= 0.7 and all(m["top5"] for m in self.modes)


def evaluate(corpus: Corpus, params: ClusterParams, rules: SignalRules = SignalRules()) -> Report:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    stages: dict[str, float] = {}
    current = ["signals", time.perf_counter()]

    def progress(fraction: float, stage: str) -> None:  # time spent in a stage is charged to its name
        now = time.perf_counter()
        stages[current[0]] = stages.get(current[0], 0.0) + now - current[1]
        current[:] = [stage, now]

    start = time.perf_counter()
    signals = detect_all(corpus.interactions, corpus.tool_errors, corpus.scores, rules)
    progress(0.0, "preparing text")
    result = compute_clusters(corpus.interactions, signals, params, rules=rules, id_salt="eval", progress=progress)
    seconds = time.perf_counter() - start

    predicted = np.array(result.member_cluster_ids())
    topics = np.array(corpus.topics)
    real = topics != "noise"
    ari = float(adjusted_rand_score(topics[real], predicted[real]))
    nmi = float(normalized_mutual_info_score(topics[real], predicted[real]))
    outliers = predicted == "outliers"

    ranked = [c for c in result.clusters if not c.is_outlier]
    by_lift = sorted(ranked, key=lambda c: -c.lift)
    rank_of = {c.cluster_id: n + 1 for n, c in enumerate(by_lift)}
    modes = np.array(corpus.modes)
    report_modes = []
    for mode in MODES:
        planted = modes == mode
        if not planted.any():
            continue
        home = Counter(predicted[planted].tolist()).most_common()
        home_id = next((cid for cid, _ in home if cid != "outliers"), home[0][0])
        cluster = next(c for c in result.clusters if c.cluster_id == home_id)
        detected = np.array([any(s.name == MODE_SIGNAL[mode] for s in result.signals[i])
                             for i in np.flatnonzero(planted)])
        report_modes.append({
            "mode": mode, "planted": int(planted.sum()), "detected": float(detected.mean()),
            "cluster": cluster.label, "share_in_cluster": float((predicted[planted] == home_id).mean()),
            "lift": cluster.lift, "lift_ci": cluster.lift_ci, "rank_by_lift": rank_of.get(home_id, 0),
            "rank_by_score": cluster.rank, "top5": 0 < rank_of.get(home_id, 0) <= 5,
        })
    return Report(n=len(corpus.interactions), seconds=seconds, stages=stages, ari=ari, nmi=nmi, k=result.k,
                  outlier_share=float(outliers.mean()),
                  noise_in_outliers=float(outliers[~real].mean()) if (~real).any() else 0.0,
                  modes=report_modes, result=result)


def format_report(report: Report, params: ClusterParams, generate_s: float) -> str:
    lines = [
        f"failure-mode clustering evaluation: {report.n:,} interactions, embedder {report.result.embedder}, "
        f"method {params.method}, seed {params.seed}",
        "",
        f"{'metric':<44}{'value':>14}{'target':>14}",
        f"{'adjusted Rand index (vs planted topics)':<44}{report.ari:>14.3f}{'>= 0.70':>14}",
        f"{'normalized mutual information':<44}{report.nmi:>14.3f}{'':>14}",
        f"{'clusters (fitted -> after merge)':<44}{f'{report.result.k_fitted} -> {report.k}':>14}{'':>14}",
        f"{'outlier group share':<44}{report.outlier_share:>14.1%}{'':>14}",
        f"{'noise interactions in the outlier group':<44}{report.noise_in_outliers:>14.1%}{'':>14}",
        f"{'overall failure rate':<44}{report.result.failure_rate:>14.1%}{'':>14}",
        f"{'run time, signals + clustering (s)':<44}{report.seconds:>14.1f}"
        f"{'< 60 @100k' if report.n >= 100_000 else '':>14}",
        f"{'  corpus generation, not counted (s)':<44}{generate_s:>14.1f}{'':>14}",
    ]
    for stage, seconds in report.stages.items():
        if stage != "done":
            lines.append(f"{'  stage ' + stage:<44}{seconds:>14.1f}{'':>14}")
    lines += ["", f"{'planted mode':<14}{'planted':>8}{'detected':>10}{'in cluster':>11}{'lift':>7}"
                  f"{'lift 95% CI':>14}{'rank(lift)':>11}{'rank(score)':>12}{'top 5':>7}  cluster"]
    for m in report.modes:
        ci = f"[{m['lift_ci'][0]:.2f}, {m['lift_ci'][1]:.2f}]"
        lines.append(f"{m['mode']:<14}{m['planted']:>8,}{m['detected']:>10.0%}{m['share_in_cluster']:>11.0%}"
                     f"{m['lift']:>7.2f}{ci:>14}{m['rank_by_lift']:>11}{m['rank_by_score']:>12}"
                     f"{'yes' if m['top5'] else 'NO':>7}  {m['cluster']}")
    lines += ["", f"{'rank':>4}  {'size':>7}{'fail':>7}{'lift':>7}  {'top reasons':<42}label"]
    for c in report.result.clusters:
        reasons = ", ".join(r.text() for r in c.top_failure_reasons)
        lines.append(f"{c.rank:>4}  {c.size:>7,}{c.failure_rate:>7.1%}{c.lift:>7.2f}  {reasons[:40]:<42}{c.label}")
    target_time = report.n < 100_000 or report.seconds < 60
    lines += ["", "RESULT: " + ("all targets met" if report.passed and target_time else "a target was missed")]
    return "\n".join(lines)


def _silhouette_k(corpus: Corpus, params: ClusterParams, candidates: tuple[int, ...] = (4, 6, 8, 10, 12, 14, 16,
                                                                                     20, 24, 30)) -> int:
    """The k a silhouette search would choose (cosine, on a 3,000-point sample): the rejected alternative."""
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    from tracehouse.analytics import _terms
    from tracehouse.analytics.clustering import _kmeans, _texts
    from tracehouse.analytics.embedding import select_embedder

    embedder = select_embedder("tfidf", seed=params.seed, n_components=params.svd_components)
    texts = _texts(corpus.interactions, embedder, params.max_text_chars)
    counts, _ = _terms.fit_counts(texts, params.term_settings())
    with threadpool_limits(limits=1):
        emb = embedder.fit_transform(texts, counts)
        rows = np.random.default_rng(0).choice(emb.shape[0], min(3000, emb.shape[0]), replace=False)
        x = emb[rows]
        scores = {k: silhouette_score(x, _kmeans(x, k, params.seed)[1], metric="cosine") for k in candidates}
    return max(scores, key=lambda k: (scores[k], -k))


def through_store(corpus: Corpus, params: ClusterParams) -> str:
    """The whole job on an embedded store: spans inserted (not timed), then submit -> load -> compute -> save."""
    import tempfile
    import uuid

    from sklearn.metrics import adjusted_rand_score

    from tracehouse.analytics.jobs import ClusterJobs
    from tracehouse.storage import SpanRecord, Store

    def text(role: str, content: str) -> dict[str, Any]:
        return {"role": role, "parts": [{"type": "text", "content": content}]}

    store = Store.open(f"chdb://{tempfile.mkdtemp(prefix='th-bench-')}?database=bench_{uuid.uuid4().hex[:8]}")
    records = []
    for i in corpus.interactions:
        records.append(SpanRecord(
            project="bench", trace_id=i.trace_id, span_id=i.span_id, parent_span_id="", name="chat", kind="llm",
            start_time_ns=i.start_time_ns, end_time_ns=i.start_time_ns + int(i.duration_ms * 1e6), status=i.status,
            status_message=i.status_message, session=i.session, tenant=i.tenant, model=i.model,
            finish_reason=i.finish_reason, cost_usd=i.cost_usd,
            attributes={"error.type": i.error_type} if i.error_type else {},
            input_messages=(text("system", i.system), text("user", i.request)),
            output_messages=(text("assistant", i.response),) if i.response else (),
            input_text=f"{i.system}\n{i.request}", output_text=i.response))
    for t in corpus.tool_errors:
        records.append(SpanRecord(project="bench", trace_id=t.trace_id, span_id=t.span_id, parent_span_id="",
                                  name=f"execute_tool {t.name}", kind="tool", status="error", status_message=t.message,
                                  start_time_ns=t.start_time_ns, end_time_ns=t.start_time_ns + 100_000_000))
    started = time.perf_counter()
    for n in range(0, len(records), 20000):
        store.insert_spans(records[n:n + 20000])
    for sc in corpus.scores:
        store.insert_score("bench", sc.trace_id, sc.span_id, sc.name, sc.value)
    insert_s = time.perf_counter() - started
    start_ns = min(i.start_time_ns for i in corpus.interactions)
    end_ns = max(i.start_time_ns for i in corpus.interactions) + 1
    jobs = ClusterJobs(store, params=params)
    started = time.perf_counter()
    run = jobs.wait("bench", jobs.submit("bench", start_ns, end_ns), timeout_s=1800, poll_s=0.2)
    job_s = time.perf_counter() - started
    jobs.close()
    cluster_of: dict[str, str] = {}
    cursor = None
    while True:
        page = jobs.members("bench", run["run_id"], limit=1000, cursor=cursor) or {"items": [], "next_cursor": None}
        cluster_of.update({m["span_id"]: m["cluster_id"] for m in page["items"]})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    real = [n for n, t in enumerate(corpus.topics) if t != "noise"]
    ari = adjusted_rand_score([corpus.topics[n] for n in real],
                              [cluster_of.get(corpus.interactions[n].span_id, "?") for n in real])
    return "\n".join([
        f"through an embedded store: {len(corpus.interactions):,} interactions",
        f"{'spans inserted, not counted (s)':<44}{insert_s:>14.1f}",
        f"{'job: load -> compute -> save (s)':<44}{job_s:>14.1f}",
        f"{'status':<44}{run['status']:>14}",
        f"{'clusters':<44}{len(run['clusters']):>14}",
        f"{'ARI from the stored members':<44}{ari:>14.3f}",
    ])


def compare(n: int, seed: int) -> str:
    """How k is chosen, justified: the default (over-cluster, then merge) against the alternatives."""
    corpus = generate_corpus(n, seed=seed)
    k_sil = _silhouette_k(corpus, ClusterParams(embedder="tfidf"))
    strategies = [
        ("over-cluster 40 + merge at 0.2 (default)", ClusterParams(embedder="tfidf")),
        ("merge at 0.15", ClusterParams(embedder="tfidf", merge_similarity=0.15)),
        ("merge at 0.3", ClusterParams(embedder="tfidf", merge_similarity=0.3)),
        (f"silhouette-chosen k={k_sil}", ClusterParams(embedder="tfidf", k=k_sil)),
        ("k = number of planted topics (12, oracle)", ClusterParams(embedder="tfidf", k=len(TOPICS))),
        ("HDBSCAN on a 5,000 sample", ClusterParams(embedder="tfidf", method="hdbscan")),
    ]
    lines = [f"choosing k on {len(corpus.interactions):,} interactions (corpus seed {seed})", "",
             f"{'strategy':<44}{'k':>5}{'ARI':>8}{'NMI':>8}{'modes in top 5':>16}{'seconds':>9}"]
    for name, params in strategies:
        report = evaluate(corpus, params)
        top5 = sum(m["top5"] for m in report.modes)
        lines.append(f"{name:<44}{report.k:>5}{report.ari:>8.3f}{report.nmi:>8.3f}"
                     f"{f'{top5}/{len(report.modes)}':>16}{report.seconds:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="interactions (default 100000)")
    parser.add_argument("--seed", type=int, default=7, help="corpus seed")
    parser.add_argument("--cluster-seed", type=int, default=0, help="clustering seed")
    parser.add_argument("--method", default="kmeans", choices=("kmeans", "hdbscan"))
    parser.add_argument("--k", type=int, default=None, help="fix k instead of choosing it by silhouette")
    parser.add_argument("--embedder", default="tfidf", choices=("auto", "tfidf", "sentence"),
                        help="default tfidf: the 60 s target is for the default embedder")
    parser.add_argument("--compare", action="store_true",
                        help="compare ways of choosing k instead (use with --n 20000)")
    parser.add_argument("--store", action="store_true",
                        help="also run the whole job (load -> compute -> save) on an embedded store")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(args.n, args.seed))
        return 0
    params = ClusterParams(seed=args.cluster_seed, method=args.method, k=args.k, embedder=args.embedder)
    t = time.perf_counter()
    corpus = generate_corpus(args.n, seed=args.seed)
    generate_s = time.perf_counter() - t
    report = evaluate(corpus, params)
    print(format_report(report, params, generate_s))
    if args.store:
        print()
        print(through_store(corpus, params))
    return 0 if report.passed and (report.n < 100_000 or report.seconds < 60) else 1


if __name__ == "__main__":
    sys.exit(main())
