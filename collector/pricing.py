"""Cost from the ``genai-prices`` table (bundled data, works offline): a normalization step.

Rules: a cost the client reported is kept apart (``reported_cost_usd``) and never replaces ours; a model the
table does not know gives no cost and ``cost_source = "unpriced"`` (never a guessed number); spans with no
tokens are not priced (``"none"``). Tokens follow OTel: cache inside input, reasoning inside output.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from genai_prices import Usage, calc_price

from .otlp import RawSpan

logger = logging.getLogger("tracehouse.collector")


@functools.lru_cache(maxsize=4096)
def _model_price(provider: str, model: str) -> Any:
    """The table's price entry for (provider, model), or None when unknown. Lookups are slow; cache them."""
    probe = Usage(input_tokens=0, output_tokens=0)
    for provider_id in ([provider] if provider else []) + [None]:
        try:
            return calc_price(probe, model_ref=model, provider_id=provider_id).model_price
        except LookupError:
            continue
        except Exception:
            logger.debug("genai-prices failed for %s/%s", provider, model, exc_info=True)
            return None
    return None


def _usage(input_tokens: int, output_tokens: int, cache_read: int, cache_write: int) -> Usage:
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                 cache_read_tokens=cache_read or None, cache_write_tokens=cache_write or None)


def price(raw: RawSpan, d: dict[str, Any]) -> None:
    tokens_in, tokens_out = d.get("input_tokens", 0), d.get("output_tokens", 0)
    if not (tokens_in or tokens_out) or not d.get("model"):
        d["cost_source"] = "reported" if d.get("reported_cost_usd") is not None else "none"
        return
    model_price = _model_price(d.get("provider", ""), d["model"])
    if model_price is None:
        d["cost_source"] = "unpriced"
        return
    # Cache counts are subsets of input; a client that reports more is clamped rather than left unpriced.
    cache_read = min(d.get("cache_read_tokens", 0), tokens_in)
    cache_write = min(d.get("cache_write_tokens", 0), tokens_in - cache_read)
    try:
        full = model_price.calc_price(_usage(tokens_in, tokens_out, cache_read, cache_write))
        uncached_tokens = max(0, tokens_in - cache_read - cache_write)
        no_cache = model_price.calc_price(_usage(uncached_tokens, 0, 0, 0))
    except Exception:
        logger.debug("pricing failed for %s", d["model"], exc_info=True)
        d["cost_source"] = "unpriced"
        return
    d["cost_input_usd"] = float(no_cache["input_price"])
    d["cost_cache_usd"] = float(full["input_price"]) - d["cost_input_usd"]
    d["cost_output_usd"] = float(full["output_price"])
    d["cost_usd"] = float(full["total_price"])
    d["cost_source"] = "computed"
