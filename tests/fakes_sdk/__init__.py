"""Local fake servers for the SDK tests: an HTTP server on 127.0.0.1 and a free port, run in a thread, speaking
the OpenAI chat completions, Anthropic messages and tracehouse collector (OTLP/HTTP + scores) wire protocols."""

from .anthropic_server import FakeAnthropic
from .collector import FakeCollector
from .http import Answer, FakeServer, Reply, Request
from .openai_server import FakeOpenAI

__all__ = ["Answer", "FakeAnthropic", "FakeCollector", "FakeOpenAI", "FakeServer", "Reply", "Request"]
