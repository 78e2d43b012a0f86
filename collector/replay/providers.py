"""Model providers for replay, on the official client libraries (imported lazily, on first use).

``Provider`` is the seam: ``complete(request)`` sends one chat call and waits; ``stream(request)`` sends it
streamed and yields the text deltas as they arrive, then one final ``ReplayResult``. Two implementations:

- ``OpenAIProvider(base_url, api_key)``: the ``openai`` client's chat completions. Any OpenAI-compatible
  server by base URL: OpenAI, Azure OpenAI's v1 endpoint, vLLM, Ollama, LiteLLM.
- ``AnthropicProvider(base_url, api_key)``: the ``anthropic`` client's messages API.

``Providers`` holds the configured ones by family (``openai``, ``anthropic``) and picks one for a call.

Credentials: keys live only inside the client objects. They are never put in a span, a result or an error:
provider error messages are scrubbed of the key (and of anything shaped like a key) before they leave here.

Thread safety: a provider may be shared by threads (batch replay); its client is created once, under a lock.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

from . import _convert
from .errors import ProviderError, ProviderNotConfigured

__all__ = ["AnthropicProvider", "OpenAIProvider", "Provider", "Providers", "ReplayRequest", "ReplayResult",
           "TokenUsage", "family_of", "run_request"]

Message = dict[str, Any]
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"
_KEY_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*]{6,}|\bBearer\s+\S+", re.IGNORECASE)


@dataclass(frozen=True)
class ReplayRequest:
    """One chat call in canonical form. ``messages`` include any system message; ``params`` use canonical names
    (see ``_convert``); ``forward_unknown_params``: send parameters the target API does not name (true when the
    call is replayed on the family it was recorded on)."""

    model: str
    messages: tuple[Message, ...]
    tools: tuple[dict[str, Any], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    forward_unknown_params: bool = True


@dataclass(frozen=True)
class TokenUsage:
    """OTel's convention: cache tokens inside ``input_tokens``, reasoning tokens inside ``output_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class ReplayResult:
    provider: str  # the family that answered: "openai" | "anthropic"
    request_model: str
    model: str  # as the provider reported it
    output_messages: tuple[Message, ...]
    finish_reason: str  # OTel's vocabulary: stop, length, tool_call, content_filter
    usage: TokenUsage
    start_time_ns: int
    end_time_ns: int
    time_to_first_token_ms: float | None = None
    response_id: str = ""
    sent_params: Mapping[str, Any] = field(default_factory=dict)  # canonical names, as sent
    dropped_params: tuple[str, ...] = ()  # recorded parameters the target API does not take

    @property
    def latency_ms(self) -> float:
        return max(0, self.end_time_ns - self.start_time_ns) / 1e6


@runtime_checkable
class Provider(Protocol):
    name: str

    def complete(self, request: ReplayRequest) -> ReplayResult:
        """Send the call and wait for the whole answer. Raises ``ProviderError``."""

    def stream(self, request: ReplayRequest) -> Iterator[str | ReplayResult]:
        """Send the call streamed: yields text deltas (str) as they arrive, then exactly one ``ReplayResult``.
        Raises ``ProviderError`` (also mid-stream)."""


def run_request(provider: Provider, request: ReplayRequest,
                on_delta: Callable[[str], None] | None = None) -> ReplayResult:
    """``stream`` when the request asks for it (deltas to ``on_delta``), else ``complete``."""
    if not request.stream:
        return provider.complete(request)
    result = None
    for item in provider.stream(request):
        if isinstance(item, str):
            if on_delta is not None:
                on_delta(item)
        else:
            result = item
    if result is None:
        raise ProviderError(provider.name, "the stream ended without a result")
    return result


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    return _KEY_SHAPES.sub("***", text)


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _known_params(method: Any) -> frozenset[str]:
    return frozenset(p for p in inspect.signature(method).parameters if p not in ("self", "extra_body"))


class _ClientHolder:
    """The lazily built client of a provider, created once under a lock."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
        return self._client


# -- OpenAI-compatible -----------------------------------------------------------------------------------------
class OpenAIProvider:
    """Chat completions on the ``openai`` client. ``include_usage``: ask streams for a final usage chunk
    (``stream_options``); turn it off for servers that reject the option. ``max_retries`` and ``timeout_s`` go
    to the client (it retries 429 and 5xx with backoff)."""

    name = "openai"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout_s: float = 120.0,
                 max_retries: int = 2, include_usage: bool = True) -> None:
        self.base_url = base_url or OPENAI_DEFAULT_BASE_URL
        self._api_key = api_key
        self.include_usage = include_usage
        self._known: frozenset[str] | None = None

        def make() -> Any:
            import openai

            # Local servers (Ollama, vLLM) take any key; the client insists on one.
            return openai.OpenAI(base_url=self.base_url, api_key=api_key or "not-set", timeout=timeout_s,
                                 max_retries=max_retries)

        self._holder = _ClientHolder(make)

    def __repr__(self) -> str:
        return f"OpenAIProvider(base_url={self.base_url!r})"

    def _kwargs(self, request: ReplayRequest) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        client = self._holder.get()
        if self._known is None:
            self._known = _known_params(client.chat.completions.create)
        kwargs, extra, sent, dropped = _convert.openai_body(request.params, self._known,
                                                            request.forward_unknown_params)
        kwargs.update(model=request.model, messages=_convert.openai_messages(request.messages))
        if request.tools:
            kwargs["tools"] = _convert.openai_tools(request.tools)
            sent = {**sent, "tools": list(request.tools)}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs, sent, dropped

    def _error(self, exc: Exception) -> ProviderError:
        import openai

        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, Mapping) else {}
            error = body.get("error") if isinstance(body.get("error"), Mapping) else body
            message = str(error.get("message") or exc.message) if isinstance(error, Mapping) else exc.message
            kind = str(error.get("type") or "") if isinstance(error, Mapping) else ""
            return ProviderError(self.name, _scrub(message, self._api_key), exc.status_code, kind)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(self.name, "request timed out", None, "timeout")
        return ProviderError(self.name, _scrub(str(exc) or type(exc).__name__, self._api_key), None,
                             type(exc).__name__)

    def complete(self, request: ReplayRequest) -> ReplayResult:
        import httpx
        import openai

        kwargs, sent, dropped = self._kwargs(request)
        start = time.time_ns()
        try:
            response = self._holder.get().chat.completions.create(**kwargs)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._error(exc) from exc
        end = time.time_ns()
        data = _plain(response)
        outputs = tuple(_convert.from_openai_message(c.get("message") or {}, c.get("finish_reason"))
                        for c in data.get("choices") or ())
        return ReplayResult(self.name, request.model, str(data.get("model") or request.model), outputs,
                            _convert.finish_reason(outputs), _openai_usage(data.get("usage")), start, end, None,
                            str(data.get("id") or ""), sent, tuple(dropped))

    def stream(self, request: ReplayRequest) -> Iterator[str | ReplayResult]:
        import httpx
        import openai

        kwargs, sent, dropped = self._kwargs(request)
        kwargs["stream"] = True
        if self.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        start = time.time_ns()
        first: int | None = None
        choices: dict[int, dict[str, Any]] = {}
        usage: Any = None
        model = response_id = ""
        try:
            for chunk in self._holder.get().chat.completions.create(**kwargs):
                data = _plain(chunk)
                model = data.get("model") or model
                response_id = data.get("id") or response_id
                usage = data.get("usage") or usage
                for choice in data.get("choices") or ():
                    state = choices.setdefault(int(choice.get("index") or 0),
                                               {"text": [], "reasoning": [], "refusal": [], "tools": {},
                                                "finish": None})
                    delta = choice.get("delta") or {}
                    text = delta.get("content")
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if (text or delta.get("tool_calls") or reasoning or delta.get("refusal")) and first is None:
                        first = time.time_ns()
                    if isinstance(reasoning, str) and reasoning:
                        state["reasoning"].append(reasoning)
                    if delta.get("refusal"):
                        state["refusal"].append(delta["refusal"])
                    for call in delta.get("tool_calls") or ():
                        tool = state["tools"].setdefault(int(call.get("index") or 0),
                                                         {"id": None, "name": None, "args": []})
                        tool["id"] = tool["id"] or call.get("id")
                        fn = call.get("function") or {}
                        tool["name"] = tool["name"] or fn.get("name")
                        if fn.get("arguments"):
                            tool["args"].append(fn["arguments"])
                    state["finish"] = choice.get("finish_reason") or state["finish"]
                    if text:
                        state["text"].append(text)
                        if int(choice.get("index") or 0) == 0:
                            yield text
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._error(exc) from exc
        end = time.time_ns()
        outputs = []
        for _, state in sorted(choices.items()):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(state["text"]) or None,
                                       "refusal": "".join(state["refusal"]) or None,
                                       "reasoning_content": "".join(state["reasoning"]) or None}
            if state["tools"]:
                message["tool_calls"] = [{"id": t["id"], "type": "function", "function": {
                    "name": t["name"], "arguments": "".join(t["args"])}} for _, t in sorted(state["tools"].items())]
            outputs.append(_convert.from_openai_message(message, state["finish"]))
        yield ReplayResult(self.name, request.model, str(model or request.model), tuple(outputs),
                           _convert.finish_reason(outputs), _openai_usage(usage), start, end,
                           (first - start) / 1e6 if first is not None else None, str(response_id), sent,
                           tuple(dropped))


def _openai_usage(usage: Any) -> TokenUsage:
    usage = _plain(usage) or {}
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return TokenUsage(input_tokens=_int(usage.get("prompt_tokens")), output_tokens=_int(usage.get("completion_tokens")),
                      cache_read_tokens=_int(prompt.get("cached_tokens")),
                      reasoning_tokens=_int(completion.get("reasoning_tokens")))


# -- Anthropic --------------------------------------------------------------------------------------------------
class AnthropicProvider:
    """The messages API on the ``anthropic`` client. Sampling parameters the client no longer names
    (``temperature``, ``top_p``, ``top_k``) travel in ``extra_body``."""

    name = "anthropic"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout_s: float = 120.0,
                 max_retries: int = 2) -> None:
        self.base_url = base_url or ANTHROPIC_DEFAULT_BASE_URL
        self._api_key = api_key
        self._known: frozenset[str] | None = None

        def make() -> Any:
            import anthropic

            return anthropic.Anthropic(base_url=self.base_url, api_key=api_key or "not-set", timeout=timeout_s,
                                       max_retries=max_retries)

        self._holder = _ClientHolder(make)

    def __repr__(self) -> str:
        return f"AnthropicProvider(base_url={self.base_url!r})"

    def _kwargs(self, request: ReplayRequest) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        client = self._holder.get()
        if self._known is None:
            self._known = _known_params(client.messages.create)
        kwargs, extra, sent, dropped = _convert.anthropic_body(request.params, self._known,
                                                               request.forward_unknown_params)
        system, messages = _convert.anthropic_messages(request.messages)
        kwargs.update(model=request.model, messages=messages)
        if system is not None:
            kwargs["system"] = system
        if request.tools:
            kwargs["tools"] = _convert.anthropic_tools(request.tools)
            sent = {**sent, "tools": list(request.tools)}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs, sent, dropped

    def _error(self, exc: Exception) -> ProviderError:
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            body = exc.body if isinstance(exc.body, Mapping) else {}
            error = body.get("error") if isinstance(body.get("error"), Mapping) else {}
            message = str(error.get("message") or exc.message)
            return ProviderError(self.name, _scrub(message, self._api_key), exc.status_code,
                                 str(error.get("type") or ""))
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(self.name, "request timed out", None, "timeout")
        return ProviderError(self.name, _scrub(str(exc) or type(exc).__name__, self._api_key), None,
                             type(exc).__name__)

    def complete(self, request: ReplayRequest) -> ReplayResult:
        import anthropic
        import httpx

        kwargs, sent, dropped = self._kwargs(request)
        start = time.time_ns()
        try:
            response = self._holder.get().messages.create(**kwargs)
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            raise self._error(exc) from exc
        end = time.time_ns()
        return self._result(request, _plain(response), start, end, None, sent, dropped)

    def _result(self, request: ReplayRequest, data: Mapping[str, Any], start: int, end: int, ttft: float | None,
                sent: dict[str, Any], dropped: list[str]) -> ReplayResult:
        output = _convert.from_anthropic_content(data.get("content") or (), data.get("stop_reason"))
        return ReplayResult(self.name, request.model, str(data.get("model") or request.model), (output,),
                            _convert.finish_reason([output]), _anthropic_usage(data.get("usage")), start, end, ttft,
                            str(data.get("id") or ""), sent, tuple(dropped))

    def stream(self, request: ReplayRequest) -> Iterator[str | ReplayResult]:
        import anthropic
        import httpx

        kwargs, sent, dropped = self._kwargs(request)
        start = time.time_ns()
        first: int | None = None
        try:
            with self._holder.get().messages.stream(**kwargs) as events:
                for event in events:
                    kind = getattr(event, "type", "")
                    if first is None and kind in ("text", "input_json", "thinking"):
                        first = time.time_ns()
                    if kind == "text" and event.text:
                        yield event.text
                final = _plain(events.get_final_message())
        except (anthropic.AnthropicError, httpx.HTTPError) as exc:
            raise self._error(exc) from exc
        end = time.time_ns()
        yield self._result(request, final, start, end, (first - start) / 1e6 if first is not None else None, sent,
                           dropped)


def _anthropic_usage(usage: Any) -> TokenUsage:
    usage = _plain(usage) or {}
    cache_read, cache_write = _int(usage.get("cache_read_input_tokens")), _int(usage.get("cache_creation_input_tokens"))
    return TokenUsage(input_tokens=_int(usage.get("input_tokens")) + cache_read + cache_write,
                      output_tokens=_int(usage.get("output_tokens")), cache_read_tokens=cache_read,
                      cache_write_tokens=cache_write)


# -- choosing a provider ----------------------------------------------------------------------------------------
FAMILIES = ("openai", "anthropic")
_SETTING = {"openai": "TRACEHOUSE_OPENAI_BASE_URL / TRACEHOUSE_OPENAI_API_KEY",
            "anthropic": "TRACEHOUSE_ANTHROPIC_BASE_URL / TRACEHOUSE_ANTHROPIC_API_KEY"}
_OPENAI_MODEL_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-davinci")


def family_of(provider: str) -> str:
    """The API family a recorded provider speaks: ``anthropic``, else ``openai`` (OpenAI, Azure, vLLM, Ollama,
    LiteLLM and most others serve the chat completions API)."""
    return "anthropic" if provider.strip().lower() == "anthropic" else "openai"


def _family_of_model(model: str) -> str | None:
    name = model.strip().lower().rpartition("/")[2]
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith(_OPENAI_MODEL_PREFIXES):
        return "openai"
    return None


class Providers:
    """The configured providers by family. Build once per process with ``from_settings`` (or pass providers,
    e.g. fakes in tests). Immutable after construction, so safe to share between threads."""

    def __init__(self, providers: Mapping[str, Provider] | None = None) -> None:
        self._by_family = dict(providers or {})
        unknown = set(self._by_family) - set(FAMILIES)
        if unknown:
            raise ValueError(f"provider families are {', '.join(FAMILIES)}; got {sorted(unknown)}")

    @classmethod
    def from_settings(cls, openai_base_url: str | None = None, openai_api_key: str | None = None,
                      anthropic_base_url: str | None = None, anthropic_api_key: str | None = None,
                      **client_options: Any) -> "Providers":
        """A family is configured when its base URL or its key is set (a local server needs no key; the public
        APIs are the default base URLs). ``client_options``: ``timeout_s``, ``max_retries``."""
        providers: dict[str, Provider] = {}
        if openai_base_url or openai_api_key:
            providers["openai"] = OpenAIProvider(openai_base_url, openai_api_key, **client_options)
        if anthropic_base_url or anthropic_api_key:
            providers["anthropic"] = AnthropicProvider(anthropic_base_url, anthropic_api_key, **client_options)
        return cls(providers)

    @property
    def families(self) -> Sequence[str]:
        return tuple(self._by_family)

    def family_for(self, recorded_provider: str, model: str, model_changed: bool = False,
                   explicit: str | None = None) -> str:
        """Which family serves a call: ``explicit`` (an override) > the edited model's name (``claude-*`` ->
        anthropic, ``gpt-*``/``o*`` -> openai) > the recorded provider's family."""
        if explicit:
            family = explicit.strip().lower()
            if family not in FAMILIES:
                family = family_of(family)
            return family
        if model_changed:
            by_name = _family_of_model(model)
            if by_name:
                return by_name
        return family_of(recorded_provider)

    def get(self, family: str) -> Provider:
        provider = self._by_family.get(family)
        if provider is None:
            raise ProviderNotConfigured(
                f"replaying on {family} needs {_SETTING.get(family, family)} set on the collector "
                f"(configured: {', '.join(self._by_family) or 'none'})")
        return provider
