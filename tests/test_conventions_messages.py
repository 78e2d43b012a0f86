"""Message readers: every convention's shapes -> OTel GenAI messages (pure)."""

from __future__ import annotations

import json

import pytest

from tracehouse.collector.conventions import (finish_reason, flatten, messages_from_value, openinference_messages,
                                              openllmetry_messages, otel_messages, span_event_messages,
                                              system_message, to_parts, view_of)


def text(content: str) -> dict:
    return {"type": "text", "content": content}


@pytest.mark.parametrize("item, part", [
    ("plain", text("plain")),
    ({"type": "text", "text": "openai block"}, text("openai block")),
    ({"type": "input_text", "text": "responses api"}, text("responses api")),
    ({"type": "image_url", "image_url": {"url": "https://x/y.png"}},
     {"type": "uri", "modality": "image", "uri": "https://x/y.png"}),
    ({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
     {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "content": "AAAA"}),
    ({"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
     {"type": "tool_call", "id": "t1", "name": "f", "arguments": {"a": 1}}),
    ({"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
     {"type": "tool_call_response", "id": "t1", "response": "ok"}),
    ({"type": "thinking", "thinking": "hmm"}, {"type": "reasoning", "content": "hmm"}),
    ({"text": "bedrock"}, text("bedrock")),
    ({"toolUse": {"toolUseId": "b1", "name": "g", "input": {}}},
     {"type": "tool_call", "id": "b1", "name": "g", "arguments": {}}),
    ({"type": "tool_call_response", "id": "c", "result": 3}, {"type": "tool_call_response", "id": "c", "response": 3}),
    ({"type": "file", "modality": "pdf", "file_id": "f-1"}, {"type": "file", "modality": "pdf", "file_id": "f-1"}),
    ({"type": "custom_thing", "x": 1}, {"type": "custom_thing", "x": 1}),
])
def test_parts_from_every_provider_shape(item, part):
    assert to_parts([item]) == [part]


def test_json_string_and_structured_otel_messages_are_the_same():
    messages = [{"role": "user", "parts": [text("hi")]}, {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "1", "name": "f", "arguments": {"x": 1}}], "finish_reason": "tool_calls"}]
    assert otel_messages(json.dumps(messages), "user") == otel_messages(messages, "user")
    assert otel_messages(messages, "user")[1]["finish_reason"] == "tool_call"  # OTel's value


def test_system_instructions_string_or_parts():
    assert system_message("Be brief.") == {"role": "system", "parts": [text("Be brief.")]}
    assert system_message('[{"type": "text", "content": "Be brief."}]') == {"role": "system",
                                                                             "parts": [text("Be brief.")]}
    assert system_message("") is None and system_message(None) is None


def test_openai_request_and_response_bodies():
    request = {"model": "m", "system": "sys", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"r\": 2}"}]}
    assert messages_from_value(json.dumps(request), "user") == [
        {"role": "system", "parts": [text("sys")]},
        {"role": "user", "parts": [text("q")]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"r": 2}}]}]
    response = {"choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "a"}}]}
    assert messages_from_value(response, "assistant") == [
        {"role": "assistant", "parts": [text("a")], "finish_reason": "length"}]


def test_text_mime_type_is_never_parsed_as_json():
    assert messages_from_value('{"a": 1}', "user", "text/plain") == [{"role": "user", "parts": [text('{"a": 1}')]}]
    assert messages_from_value('{"a": 1}', "user", "application/json") == [
        {"role": "user", "parts": [text('{"a": 1}')]}]  # not a message: kept whole as text
    assert messages_from_value("", "user") == [] and messages_from_value(None, "user") == []


def test_openinference_flattened_messages_keep_their_order_past_nine():
    attrs = {f"llm.input_messages.{i}.message.role": "user" for i in range(12)}
    attrs.update({f"llm.input_messages.{i}.message.content": f"m{i}" for i in range(12)})
    messages = openinference_messages(view_of(attrs).group("llm.input_messages."), "user")
    assert [m["parts"][0]["content"] for m in messages] == [f"m{i}" for i in range(12)]


def test_openllmetry_refusal_and_function_call():
    group = view_of({"gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.refusal": "I can't",
                     "gen_ai.completion.1.function_call.name": "f",
                     "gen_ai.completion.1.function_call.arguments": "{}",
                     "gen_ai.completion.name": "not an index"}).group("gen_ai.completion.")
    assert openllmetry_messages(group, "assistant") == [
        {"role": "assistant", "parts": [text("I can't")]},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": {}}]}]


def test_span_events_choices_are_ordered_by_index_and_strands_content_lists_read():
    events = (
        {"name": "gen_ai.choice", "time_ns": 3, "attributes": {"index": 1, "message": '{"content": "second"}'}},
        {"name": "gen_ai.user.message", "time_ns": 1, "attributes": {"content": '[{"text": "from strands"}]'}},
        {"name": "gen_ai.choice", "time_ns": 2, "attributes": {"index": 0, "finish_reason": "end_turn",
                                                               "message": '[{"text": "first"}]'}},
        {"name": "exception", "time_ns": 4, "attributes": {}},
    )
    inputs, outputs = span_event_messages(events)
    assert inputs == [{"role": "user", "parts": [text("from strands")]}]
    assert outputs == [{"role": "assistant", "parts": [text("first")], "finish_reason": "stop"},
                       {"role": "assistant", "parts": [text("second")]}]


@pytest.mark.parametrize("value, reason", [
    (["tool_calls"], "tool_call"), ("max_tokens", "length"), ("END_TURN", "stop"), ("[\"stop\"]", "stop"),
    ([], ""), (None, ""), ("refusal", "content_filter"), ("error", "error"),
])
def test_finish_reasons(value, reason):
    assert finish_reason(value) == reason


def test_flatten_skips_binary_parts_and_renders_tool_calls():
    messages = [{"role": "user", "parts": [text("look"), {"type": "blob", "modality": "image", "content": "AAA"}]},
                {"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": {"q": "é"}}]}]
    assert flatten(messages) == 'look\nf({"q": "é"})'  # search must work beyond ASCII


def test_plain_text_is_never_reinterpreted_but_serialized_blobs_are_decoded():
    assert to_parts('"quoted" text') == [text('"quoted" text')]
    assert to_parts('"yes"') == [text('"yes"')]  # message content: a string is a string
    assert messages_from_value('"hi"', "assistant") == [{"role": "assistant", "parts": [text("hi")]}]  # JSON blob
    assert messages_from_value("[]", "user") == []
