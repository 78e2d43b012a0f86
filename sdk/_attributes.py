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
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
DATA_SOURCE_ID = "gen_ai.data_source.id"
RETRIEVAL_QUERY = "gen_ai.retrieval.query.text"
RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
RETRIEVAL_TOP_K = "gen_ai.retrieval.top_k"
AGENT_NAME = "gen_ai.agent.name"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
HTTP_STATUS_CODE = "http.response.status_code"
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
REDACTED_KINDS = "tracehouse.redaction.kinds"  # string[]: what redaction replaced on this span
CAPTURE_POLICY = "tracehouse.capture_content"  # resource attribute: full | redacted | none

# Content attributes: left out under capture_content="none". Under "redacted" every string attribute except
# the structural ones below is redacted before export.
CONTENT_KEYS = frozenset({
    INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS, TOOL_DEFINITIONS, TOOL_CALL_ARGUMENTS, TOOL_CALL_RESULT,
    RETRIEVAL_QUERY, RETRIEVAL_DOCUMENTS, INPUT, OUTPUT,
})
STRUCTURAL_KEYS = frozenset({
    OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL, RESPONSE_ID, FINISH_REASONS, PROMPT_NAME, PROMPT_VERSION,
    TOOL_NAME, TOOL_TYPE, TOOL_CALL_ID, DATA_SOURCE_ID, AGENT_NAME, ERROR_TYPE, SPAN_KIND, TENANT, USER_ID,
    SESSION_ID, CONVERSATION_ID, TAGS, SERVER_ADDRESS, REDACTED_KINDS,
})

SPAN_KINDS = ("llm", "embedding", "tool", "retrieval", "agent", "chain", "other")
