"""Synthetic LLM traffic generated inside ClickHouse (INSERT ... SELECT from numbers()), for the benchmark.

Pure: SQL text and its parameters. Realistic shapes: traces of 1-7 spans (an agent root, then LLM calls,
retrieval, tools, embeddings); 1,000 tenants with a skewed (Zipf-like) share of traffic; 100k users who belong
to tenants; sessions of a user's traces within half an hour; 20 models, each tenant preferring two; prompt
versions, releases every three days; log-normal-ish latencies with a tail; ~3% errors; input and output text
of a few hundred to a few thousand characters in English, with Chinese, Japanese, Arabic and Spanish traffic,
order numbers and SKUs (rare tokens) among common words; JSON messages and attributes as the collector writes.
"""

from __future__ import annotations

MODELS = [  # (model, provider, $ per 1M input tokens, $ per 1M output tokens)
    ("gpt-4o", "openai", 2.5, 10.0), ("gpt-4o-mini", "openai", 0.15, 0.6), ("gpt-4.1", "openai", 2.0, 8.0),
    ("gpt-4.1-mini", "openai", 0.4, 1.6), ("o3", "openai", 2.0, 8.0), ("o4-mini", "openai", 1.1, 4.4),
    ("claude-sonnet-4", "anthropic", 3.0, 15.0), ("claude-opus-4", "anthropic", 15.0, 75.0),
    ("claude-3-5-haiku", "anthropic", 0.8, 4.0), ("gemini-2.5-pro", "google", 1.25, 10.0),
    ("gemini-2.5-flash", "google", 0.3, 2.5), ("gemini-2.0-flash", "google", 0.1, 0.4),
    ("mistral-large", "mistral", 2.0, 6.0), ("mistral-small", "mistral", 0.1, 0.3),
    ("llama-3.3-70b", "groq", 0.59, 0.79), ("llama-3.1-8b", "groq", 0.05, 0.08),
    ("command-r-plus", "cohere", 2.5, 10.0), ("deepseek-chat", "deepseek", 0.27, 1.1),
    ("qwen-2.5-72b", "together", 0.9, 0.9), ("text-embedding-3-small", "openai", 0.02, 0.0),
]

QUESTIONS = [
    "How do I get a refund for order", "Where is my package? The tracking for order",
    "Please cancel the subscription attached to order", "The invoice for order is wrong, I was charged twice for",
    "My delivery is late and the courier says nothing about order", "Can I change the shipping address on order",
    "The item arrived damaged, I want a replacement for order", "Why was my card declined when I paid for order",
    "I never received the confirmation email for order", "Can you apply my store credit to order",
    "请帮我查询订单的退款进度,订单号", "我的包裹还没有送到,物流显示异常,订单号",
    "注文をキャンセルしたいのですが、注文番号", "配送先の住所を変更できますか?注文番号",
    "مرحبا، أين طلبي؟ لم يصل بعد، رقم الطلب", "أريد استرداد المبلغ لهذا الطلب رقم",
    "Hola, quiero devolver el pedido", "¿Dónde está mi paquete? El número de pedido es",
]
# Index into QUESTIONS by language: most traffic English, then Chinese, Japanese, Arabic, Spanish.
LANG_WEIGHTS = [0] * 88 + [1] * 4 + [2] * 3 + [3] * 3 + [4] * 2
LANG_QUESTIONS = [list(range(0, 10)), [10, 11], [12, 13], [14, 15], [16, 17]]

ANSWERS = [
    "Sure, I can help with that. I have looked up your order and",
    "Thanks for reaching out. According to our records the order",
    "I am sorry for the trouble. I checked the carrier status and",
    "I understand. I have opened a ticket with our billing team and",
    "您好,已为您查询到订单信息,退款将在三到五个工作日内原路返回。",
    "ご注文を確認しました。キャンセル手続きを承りました。",
    "شكرا لتواصلك معنا، تم العثور على طلبك وسيصل خلال ثلاثة أيام.",
    "Gracias por escribirnos, su pedido llegará en tres días hábiles.",
]
SYSTEM = [
    "You are the support assistant for Acme Store. Answer politely and concisely. Use the order tools to look "
    "up orders before answering. Never reveal internal notes. If the customer asks for a refund, check the "
    "refund policy: items may be returned within 30 days of delivery in their original condition.",
    "You are a checkout assistant. Help the customer complete the purchase, explain shipping options and "
    "payment methods, and never ask for the full card number. Escalate fraud suspicions to a human agent.",
    "You are a search assistant for the product catalogue. Rewrite the user's question into a search query, "
    "call the search tool, and summarise the top results with prices and availability.",
]
WORDS = (
    "please help account shipping payment card declined address change warranty return policy store credit "
    "tracking number customer support thanks urgent delayed damaged item replacement billing email password "
    "reset login error delivery courier package invoice charged twice subscription cancel renew plan upgrade "
    "downgrade discount coupon code expired promotion price match stock available size colour blue black "
    "white large small medium jacket shoes laptop phone charger cable headphones monitor keyboard mouse desk "
    "chair lamp kitchen blender kettle toaster battery screen broken missing wrong received yesterday today "
    "week month morning evening weekend holiday gift wrap message receipt tax vat company business personal "
    "profile settings notification app website checkout cart basket wishlist review rating stars quality fast "
    "slow great terrible okay refund exchange store location opening hours phone chat agent manager complaint"
).split()


def _array(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values) + "]"


def _num_array(values: list[float]) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def insert_sql(columns_target: str = "spans") -> str:
    """INSERT of the spans of traces ``[{t0}, {t0}+{tn})``; parameters: t0, tn, now (DateTime64 UTC, the end of
    the window), days (window length), project, retention_days."""
    models = _array([m[0] for m in MODELS])
    providers = _array([m[1] for m in MODELS])
    price_in = _num_array([m[2] for m in MODELS])
    price_out = _num_array([m[3] for m in MODELS])
    lang_questions = "[" + ", ".join("[" + ", ".join(str(i + 1) for i in q) + "]" for q in LANG_QUESTIONS) + "]"
    return f"""
INSERT INTO {columns_target} (project, trace_id, span_id, parent_span_id, name, kind, status, status_message,
    start_time, end_time, duration_ms, time_to_first_token_ms, service, environment, release, tenant, user,
    session, tags, metadata, provider, model, request_model, operation, params, finish_reason, prompt_name,
    prompt_version, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    cost_usd, cost_input_usd, cost_output_usd, cost_cache_usd, reported_cost_usd, cost_source,
    input_messages, output_messages, input_text_stored, output_text_stored, redacted, attributes, resource, scope,
    events, links, convention, retention_days)
WITH
    {models} AS MODELS, {providers} AS PROVIDERS, {price_in} AS PRICE_IN, {price_out} AS PRICE_OUT,
    {_array(QUESTIONS)} AS QUESTIONS, {_array(ANSWERS)} AS ANSWERS, {_array(SYSTEM)} AS SYSTEMS,
    {_array(WORDS)} AS WORDS, {lang_questions} AS LANG_QUESTIONS, {str([w + 1 for w in LANG_WEIGHTS])} AS LANG_W,
    ['llm', 'retrieval', 'llm', 'tool', 'llm', 'embedding'] AS CHILD_KINDS,
    ['RateLimitError: 429 Too Many Requests', 'APITimeoutError: request timed out after 60 s',
     'BadRequestError: context length exceeded', 'ToolError: order service returned 503'] AS ERRORS
SELECT
    {{project:String}} AS project,
    trace_id,
    leftPad(lower(hex(cityHash64(t, i, 99))), 16, '0') AS span_id,
    if(i = 0, '', root_id) AS parent_span_id,
    multiIf(i = 0, 'agent.run', kind = 'llm', concat('chat ', model_name), kind = 'retrieval', 'retrieve.documents',
            kind = 'tool', 'tool.order_lookup', 'embeddings') AS name,
    kind,
    if(is_error, 'error', 'ok') AS status,
    if(is_error, ERRORS[1 + h2 % 4], '') AS status_message,
    start_time,
    start_time + toIntervalMillisecond(toUInt64(duration_ms)) AS end_time,
    duration_ms,
    if(kind = 'llm', duration_ms * 0.15, NULL) AS time_to_first_token_ms,
    service, environment, release, tenant, user, session,
    if(h2 % 5 = 0, ['vip'], []) AS tags,
    concat('{{"feature":"chat","plan":"', ['free','pro','enterprise'][1 + tenant_no % 3], '"}}') AS metadata,
    if(has_model, provider_name, '') AS provider,
    if(has_model, model_name, '') AS model,
    if(has_model, model_name, '') AS request_model,
    multiIf(kind = 'llm', 'chat', kind = 'embedding', 'embeddings', kind = 'tool', 'execute_tool', kind = 'retrieval', 'retrieval', 'invoke_agent') AS operation,
    if(kind = 'llm', '{{"temperature":0.2,"max_tokens":1024}}', '{{}}') AS params,
    if(kind = 'llm' AND NOT is_error, if(h2 % 50 = 0, 'length', 'stop'), '') AS finish_reason,
    if(kind = 'llm', prompt, '') AS prompt_name,
    if(kind = 'llm', prompt_ver, '') AS prompt_version,
    in_tok AS input_tokens, out_tok AS output_tokens, cache_tok AS cache_read_tokens,
    0 AS cache_write_tokens, if(model_no IN (5, 6), intDiv(out_tok, 3), 0) AS reasoning_tokens,
    c_in + c_out + c_cache AS cost_usd, c_in AS cost_input_usd, c_out AS cost_output_usd, c_cache AS cost_cache_usd,
    NULL AS reported_cost_usd,
    if(has_model, 'computed', 'none') AS cost_source,
    if(kind IN ('llm', 'agent'),
       concat('[{{"role":"system","parts":[{{"type":"text","content":', toJSONString(system_text), '}}]}},',
              '{{"role":"user","parts":[{{"type":"text","content":', toJSONString(question), '}}]}}]'),
       concat('[{{"role":"user","parts":[{{"type":"text","content":', toJSONString(question), '}}]}}]')) AS input_messages,
    if(output = '', '[]', concat('[{{"role":"assistant","parts":[{{"type":"text","content":', toJSONString(output),
       '}}],"finish_reason":"stop"}}]')) AS output_messages,
    if(kind = 'llm', concat(system_text, '\\n', question), question) AS input_text,
    output AS output_text,
    0 AS redacted,
    toJSONString(map('gen_ai.system', provider_name, 'gen_ai.request.model', model_name,
        'gen_ai.operation.name', operation, 'gen_ai.usage.input_tokens', toString(in_tok),
        'gen_ai.usage.output_tokens', toString(out_tok), 'tracehouse.tenant', tenant, 'tracehouse.user', user,
        'session.id', session, 'service.version', release)) AS attributes,
    concat('{{"service.name":"', service, '","telemetry.sdk.language":"python","telemetry.sdk.version":"1.45.2"}}') AS resource,
    'tracehouse' AS scope, '[]' AS events, '[]' AS links, 'gen_ai' AS convention,
    {{retention_days:UInt16}} AS retention_days
FROM
(
    SELECT
        t, i,
        cityHash64(t, i, 1) AS h2,
        lower(hex(MD5(toString(t)))) AS trace_id,
        leftPad(lower(hex(cityHash64(t, 0, 99))), 16, '0') AS root_id,
        if(i = 0, 'agent', CHILD_KINDS[1 + (i - 1) % 6]) AS kind,
        kind IN ('llm', 'embedding') AS has_model,
        -- a tenant's traffic is skewed; each tenant prefers two models
        toUInt32(floor(1000 * pow((cityHash64(t, 2) % 1000000) / 1e6, 2.5))) AS tenant_no,
        concat('tenant-', toString(tenant_no)) AS tenant,
        tenant_no * 100 + cityHash64(t, 3) % 100 AS user_no,
        concat('user-', toString(user_no)) AS user,
        trace_start,
        concat('sess-', leftPad(lower(hex(cityHash64(user_no, intDiv(toUnixTimestamp(trace_start), 1800)))), 16, '0')) AS session,
        if(kind = 'embedding', 20,
           1 + multiIf(cityHash64(t, 4) % 100 < 70, cityHash64(tenant_no, 5) % 19,
                       cityHash64(t, 4) % 100 < 95, cityHash64(tenant_no, 6) % 19, cityHash64(t, 4) % 19)) AS model_no,
        MODELS[model_no] AS model_name, PROVIDERS[model_no] AS provider_name,
        ['support-bot', 'checkout-assistant', 'search-api'][1 + tenant_no % 3] AS service,
        if(tenant_no % 25 = 7, 'staging', 'production') AS environment,
        concat('v1.', toString(intDiv(toUInt32(toDate(trace_start) - toDate({{now:DateTime64(9, 'UTC')}}) + 400), 3))) AS release,
        ['support-answer', 'order-lookup', 'search-rewrite'][1 + tenant_no % 3] AS prompt,
        -- a new prompt version every ten days, on 20% of the traffic first
        concat('v', toString(intDiv(toUInt32(toDate(trace_start) - toDate({{now:DateTime64(9, 'UTC')}}) + 400), 10)
                             + (cityHash64(t, 10) % 5 = 0))) AS prompt_ver,
        trace_start + toIntervalMillisecond(i * 900 + h2 % 300) AS start_time,
        multiIf(i = 0, 1500.0 * n_spans + h2 % 4000,
                kind = 'llm', (400 + h2 % 6000) * if(h2 % 100 < 2, 5, 1),
                kind = 'tool', 5 + h2 % 500, kind = 'retrieval', 20 + h2 % 300, 30 + h2 % 200) * 1.0 AS duration_ms,
        (h2 % 1000) < if(kind = 'llm', 40, 25) AS is_error,
        multiIf(kind = 'llm', 300 + cityHash64(t, i, 5) % 6000, kind = 'embedding', 20 + h2 % 500, 0) AS in_tok,
        if(kind = 'llm' AND NOT is_error, 20 + cityHash64(t, i, 6) % 1200, 0) AS out_tok,
        if(kind = 'llm' AND h2 % 4 = 0, intDiv(in_tok, 2), 0) AS cache_tok,
        round((in_tok - cache_tok) * PRICE_IN[model_no] / 1e6, 8) AS c_in,
        round(out_tok * PRICE_OUT[model_no] / 1e6, 8) AS c_out,
        round(cache_tok * PRICE_IN[model_no] * 0.1 / 1e6, 8) AS c_cache,
        SYSTEMS[1 + tenant_no % 3] AS system_text,
        LANG_W[1 + cityHash64(t, 12) % length(LANG_W)] AS lang,
        concat(QUESTIONS[LANG_QUESTIONS[lang][1 + cityHash64(t, 13) % length(LANG_QUESTIONS[lang])]],
               ' #', toString(1000000 + cityHash64(t, 14) % 9000000), ' SKU-', toString(cityHash64(t, 15) % 50000), '. ',
               arrayStringConcat(arrayMap(k -> WORDS[1 + cityHash64(t, k) % length(WORDS)],
                                          range(if(i = 0, 10, 40) + cityHash64(t, i, 16) % 120)), ' ')) AS question,
        if(is_error OR kind IN ('embedding'), '',
           concat(ANSWERS[if(lang = 1, 1 + h2 % 4, lang + 3)], ' ',
                  arrayStringConcat(arrayMap(k -> WORDS[1 + cityHash64(t, i, k) % length(WORDS)],
                                             range(20 + cityHash64(t, i, 17) % 100)), ' '))) AS output
    FROM
    (
        SELECT number AS t, 1 + cityHash64(number, 7) % 7 AS n_spans,
               {{now:DateTime64(9, 'UTC')}} - toIntervalMillisecond(toUInt64((cityHash64(number, 1) % 1000000) / 1e6 * {{days:Float64}} * 86400000)) - toIntervalSecond(60) AS trace_start
        FROM numbers({{t0:UInt64}}, {{tn:UInt64}})
    )
    ARRAY JOIN range(n_spans) AS i
)
SETTINGS max_block_size = 8192
"""
