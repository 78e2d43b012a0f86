"""Cost: a normalization step built by ``make_price_step(overrides)`` (pure, thread-safe).

Where a price comes from, first match wins: the project's ``PriceOverrides`` (custom models, negotiated
rates), then the bundled ``genai-prices`` table (works offline). Rules:

- A cost the client reported stays in ``reported_cost_usd`` and never replaces ours.
- Tokens but no price (unknown or missing model) -> no cost and ``cost_source = "unpriced"``, never a guess.
- No tokens -> ``"reported"`` when the client sent a cost, else ``"none"``.
- A span with a model but no provider gets the provider the table knows the model under.
- Tokens follow OTel: cache reads/writes are inside input, reasoning inside output; cache counts larger than
  the input are clamped, not double-billed.

Speed: ``genai_prices.calc_price`` costs ~200 us a call, mostly model matching and unit bookkeeping. The match
is cached per (provider, model) and flat per-token prices are computed here directly; entries the table
prices in tiers (or in units beyond text tokens and cache) go through the library's own calculation.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from genai_prices import Usage, calc_price
from genai_prices.types import ModelPrice, TieredPrices, calc_unit_price

from .otlp import RawSpan

logger = logging.getLogger("tracehouse.collector")
Step = Callable[[RawSpan, dict[str, Any]], None]
PER_MTOK = 1_000_000
_MEMO_LIMIT = 4096

# OTel provider names -> genai-prices provider ids (others are spelled the same).
_TABLE_PROVIDER = {"gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google",
                   "aws.bedrock": "aws", "azure.ai.openai": "azure", "azure.ai.inference": "azure",
                   "mistral_ai": "mistral", "x_ai": "x-ai"}
# Table prices computed here: flat text-token and cache prices. Prices for units we never have counts for
# (audio, images, searches, cache TTL variants) add nothing and are ignored; anything else -> the library.
_FAST_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_IGNORABLE = re.compile(r"^(\w+_searches_kcount|code_executions_kcount|cache_write_(5m|1h)_mtok|"
                        r"(input|output|cache)_(audio|image|video)\w*)$")


@dataclass(frozen=True)
class Rate:
    """USD per million tokens. A cache price left out bills those tokens at the input price."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cache_read", "cache_write"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"price {name} must be a number >= 0 (USD per million tokens), got {value!r}")


@dataclass(frozen=True)
class PriceRule:
    """``pattern`` matches the model name: exact, or a glob (``my-ft-*``), case-insensitive.
    ``provider`` limits the rule to one provider (empty: any)."""

    pattern: str
    rate: Rate
    provider: str = ""


@dataclass(frozen=True)
class PriceOverrides:
    """A project's custom prices; they win over the bundled table. The most specific rule wins: an exact
    model before a glob, a provider-limited rule before one for any provider, then the first listed.
    Lookups are memoized per (provider, model)."""

    rules: tuple[PriceRule, ...] = ()
    _compiled: tuple[tuple[PriceRule, re.Pattern[str] | None], ...] = field(init=False, repr=False, compare=False)
    _memo: dict[tuple[str, str], Rate | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple((r, re.compile(fnmatch.translate(r.pattern.lower())) if _is_glob(r.pattern) else None)
                         for r in self.rules)
        object.__setattr__(self, "_compiled", compiled)

    def find(self, provider: str, model: str) -> Rate | None:
        key = (provider, model)
        if key not in self._memo:
            if len(self._memo) >= _MEMO_LIMIT:  # model names come from clients: bound what they can make us keep
                self._memo.clear()
            self._memo[key] = self._find(provider.lower(), model.lower())
        return self._memo[key]

    def _find(self, provider: str, model: str) -> Rate | None:
        # Most specific first: exact before glob, and a provider-limited rule before one for any provider.
        best: tuple[int, int] | None = None
        found: Rate | None = None
        for order, (rule, rx) in enumerate(self._compiled):
            if rule.provider and rule.provider.lower() != provider:
                continue
            if rx.match(model) if rx is not None else rule.pattern.lower() == model:
                rank = (0 if rx is None else 2) + (0 if rule.provider else 1)
                if best is None or (rank, order) < best:
                    best, found = (rank, order), rule.rate
        return found

    @classmethod
    def from_config(cls, items: Iterable[Mapping[str, Any]]) -> "PriceOverrides":
        """From API/config entries ``{model, provider?, input, output, cache_read?, cache_write?}`` (USD per
        million tokens). ValueError names the bad entry."""
        rules = []
        for i, item in enumerate(items):
            try:
                pattern = str(item["model"]).strip()
                if not pattern:
                    raise ValueError("model must not be empty")
                rate = Rate(*(_price(item.get(k)) for k in ("input", "output")),
                            cache_read=_price(item.get("cache_read"), optional=True),
                            cache_write=_price(item.get("cache_write"), optional=True))
                rules.append(PriceRule(pattern, rate, str(item.get("provider") or "")))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"price override #{i} ({dict(item)!r}): {exc}") from exc
        return cls(tuple(rules))


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _price(value: Any, optional: bool = False) -> Any:
    if value is None:
        if optional:
            return None
        raise ValueError("input and output prices are required")
    return float(value) if isinstance(value, (int, float, str, Decimal)) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class Costs:
    input: float  # uncached input
    cache: float  # cache reads + writes
    output: float
    total: float


def cost_from_rate(tokens_in: int, tokens_out: int, cache_read: int, cache_write: int, rate: Rate) -> Costs:
    """Cost with flat per-million prices; cache counts must already be clamped into ``tokens_in``."""
    cached = 0.0
    uncached = tokens_in
    if rate.cache_read is not None:
        cached += cache_read * rate.cache_read
        uncached -= cache_read
    if rate.cache_write is not None:
        cached += cache_write * rate.cache_write
        uncached -= cache_write
    cost_in, cost_cache = uncached * rate.input / PER_MTOK, cached / PER_MTOK
    cost_out = tokens_out * rate.output / PER_MTOK
    return Costs(cost_in, cost_cache, cost_out, cost_in + cost_cache + cost_out)


def _simple_prices(model_price: ModelPrice) -> dict[str, Decimal | TieredPrices] | None:
    """The text-token and cache prices of a table entry, or None when it prices anything else we might
    have counts for (per-request, reasoning, characters...): such entries go through the library."""
    prices = {k: v for k, v in vars(model_price).items() if v is not None and not k.startswith("_")}
    if any(k not in _FAST_KEYS and not _IGNORABLE.match(k) for k in prices):
        return None
    return {k: prices[k] for k in _FAST_KEYS if k in prices}  # a unit without a price costs nothing


def flat_rate(model_price: ModelPrice) -> Rate | None:
    """The table entry as a flat ``Rate`` when our formula gives exactly the library's result, else None."""
    prices = _simple_prices(model_price)
    if prices is None or not all(isinstance(v, Decimal) for v in prices.values()):
        return None
    opt = {k: float(v) for k, v in prices.items()}
    return Rate(opt.get("input_mtok", 0.0), opt.get("output_mtok", 0.0), opt.get("cache_read_mtok"),
                opt.get("cache_write_mtok"))


@dataclass(frozen=True)
class TieredRate:
    """A table entry whose text-token and cache prices have tiers ("cliff" pricing: the tier is chosen by
    the request's total input tokens and applies to all its tokens). Computed per unit with the library's
    own tier rule, which is exact and far cheaper than its full calculation."""

    prices: Mapping[str, Decimal | TieredPrices]

    @classmethod
    def of(cls, model_price: ModelPrice) -> "TieredRate | None":
        prices = _simple_prices(model_price)
        return cls(prices) if prices is not None else None

    def costs(self, tokens_in: int, tokens_out: int, cache_read: int, cache_write: int) -> Costs:
        p = self.prices

        def unit(key: str, n: int) -> Decimal:
            return calc_unit_price(p[key], n, tokens_in, PER_MTOK) if key in p else Decimal(0)

        uncached = tokens_in - (cache_read if "cache_read_mtok" in p else 0) \
            - (cache_write if "cache_write_mtok" in p else 0)
        cost_in, cost_out = unit("input_mtok", uncached), unit("output_mtok", tokens_out)
        cost_cache = unit("cache_read_mtok", cache_read) + unit("cache_write_mtok", cache_write)
        return Costs(float(cost_in), float(cost_cache), float(cost_out), float(cost_in + cost_cache + cost_out))


def library_costs(model_price: ModelPrice, tokens_in: int, tokens_out: int, cache_read: int, cache_write: int,
                  reasoning: int) -> Costs:
    """The library's full calculation (per-request, reasoning and other unit prices); the cache share uses
    the library's own tier rule, so that input + cache + output add up to its total."""
    usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out, cache_read_tokens=cache_read or None,
                  cache_write_tokens=cache_write or None, output_reasoning_tokens=reasoning or None)
    result = model_price.calc_price(usage)
    cache = Decimal(0)
    read_price, write_price = model_price.cache_read_mtok, model_price.cache_write_mtok
    if isinstance(read_price, (Decimal, TieredPrices)):
        cache += calc_unit_price(read_price, cache_read, tokens_in, PER_MTOK)
    if isinstance(write_price, (Decimal, TieredPrices)):
        cache += calc_unit_price(write_price, cache_write, tokens_in, PER_MTOK)
    return Costs(float(result["input_price"] - cache), float(cache), float(result["output_price"]),
                 float(result["total_price"]))


TableEntry = Rate | TieredRate | ModelPrice


@functools.lru_cache(maxsize=4096)
def table_entry(provider: str, model: str) -> TableEntry | None:
    """The bundled table's price for (provider, model): a flat ``Rate``, a ``TieredRate``, a ``ModelPrice``
    needing the library's full calculation, or None when unknown. Model matching is the slow part, hence
    the cache; the prices cached are the ones in force when first looked up."""
    probe = Usage(input_tokens=0, output_tokens=0)
    table_provider = _TABLE_PROVIDER.get(provider, provider)
    for provider_id in ([table_provider] if table_provider else []) + [None]:
        try:
            model_price = calc_price(probe, model_ref=model, provider_id=provider_id).model_price
        except LookupError:
            continue
        except Exception:  # a bad table entry must not break ingest: unpriced, logged once per model
            logger.warning("genai-prices failed for %s/%s", provider, model, exc_info=True)
            return None
        return flat_rate(model_price) or TieredRate.of(model_price) or model_price
    return None


# genai-prices provider ids -> OTel provider names, for a provider inferred from the model name alone.
_OTEL_PROVIDER = {"google": "gcp.gen_ai", "x-ai": "x_ai", "mistral": "mistral_ai", "aws": "aws.bedrock",
                  "azure": "azure.ai.openai"}


@functools.lru_cache(maxsize=4096)
def provider_of(model: str) -> str:
    """The provider the bundled table knows ``model`` under ("" if unknown): for spans that name a model but
    no provider (the Langfuse SDK's generations, hand-made spans)."""
    try:
        found = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref=model).provider.id
    except Exception:
        return ""
    return _OTEL_PROVIDER.get(found, found)


def make_price_step(overrides: PriceOverrides | None = None) -> Step:
    """A normalization step pricing with ``overrides`` first, then the bundled table."""
    overrides = overrides or PriceOverrides()

    def price(raw: RawSpan, d: dict[str, Any]) -> None:
        if d.get("model") and not d.get("provider"):
            d["provider"] = provider_of(d["model"])
        tokens_in, tokens_out = d.get("input_tokens", 0), d.get("output_tokens", 0)
        if not (tokens_in or tokens_out):
            d["cost_source"] = "reported" if d.get("reported_cost_usd") is not None else "none"
            return
        model, provider = d.get("model", ""), d.get("provider", "")
        # Overrides may name the request model too (Azure deployment names, fine-tune aliases).
        entry = (overrides.find(provider, model) or overrides.find(provider, d.get("request_model") or model)
                 or table_entry(provider, model)) if model else None
        if entry is None:
            d["cost_source"] = "unpriced"
            return
        # Cache counts are subsets of input; a client that reports more is clamped rather than left unpriced.
        cache_read = min(d.get("cache_read_tokens", 0), tokens_in)
        cache_write = min(d.get("cache_write_tokens", 0), tokens_in - cache_read)
        try:
            if isinstance(entry, Rate):
                costs = cost_from_rate(tokens_in, tokens_out, cache_read, cache_write, entry)
            elif isinstance(entry, TieredRate):
                costs = entry.costs(tokens_in, tokens_out, cache_read, cache_write)
            else:
                reasoning = min(d.get("reasoning_tokens", 0), tokens_out)
                costs = library_costs(entry, tokens_in, tokens_out, cache_read, cache_write, reasoning)
        except Exception:
            logger.warning("pricing failed for %s/%s", provider, model, exc_info=True)
            d["cost_source"] = "unpriced"
            return
        d.update(cost_input_usd=costs.input, cost_cache_usd=costs.cache, cost_output_usd=costs.output,
                 cost_usd=costs.total, cost_source="computed")

    return price


price = make_price_step()  # the bundled table alone, for projects without overrides
