"""Attribute names the SDK emits.

Standard OTel GenAI names wherever OTel has one; ``tracehouse.*`` only where it has none (tenant, tags,
metadata, prompt version, our span kind). The collector reads the same constants.
"""

# OTel GenAI (semantic-conventions >= 1.37)
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
CONVERSATION_ID = "gen_ai.conversation.id"
PROMPT_NAME = "gen_ai.prompt.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
DATA_SOURCE_ID = "gen_ai.data_source.id"
AGENT_NAME = "gen_ai.agent.name"
ERROR_TYPE = "error.type"
REQUEST_PARAM_PREFIX = "gen_ai.request."
REQUEST_PARAMS = (
    "temperature", "top_p", "top_k", "max_tokens", "seed", "frequency_penalty",
    "presence_penalty", "stop_sequences", "choice.count", "stream",
)

# General OTel
USER_ID = "user.id"
SESSION_ID = "session.id"
ENVIRONMENT = "deployment.environment.name"
SERVICE_VERSION = "service.version"

# Ours, where OTel has nothing
TENANT = "tracehouse.tenant"
TAGS = "tracehouse.tags"
METADATA = "tracehouse.metadata"
PROMPT_VERSION = "tracehouse.prompt.version"
SPAN_KIND = "tracehouse.span.kind"
INPUT = "tracehouse.input"
OUTPUT = "tracehouse.output"

SPAN_KINDS = ("llm", "embedding", "tool", "retrieval", "agent", "chain", "other")
