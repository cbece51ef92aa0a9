"""The AsyncAPI 3.0 document of Fluxo's Kafka topics, generated from the topic registry.

One channel per topic in `schemas.topics.ALL_TOPICS`, one message per record
type it carries. A message is the Kafka value in CloudEvents structured mode:
the envelope (`envelope.json`) whose `type` is the record type and whose
`data` is that type's JSON Schema. The payload schemas are `$ref`s to the
exported JSON Schemas, relative to `schema_base` (the repo copy points into
`schemas/json/`, the API's copy at its own `schemas/` endpoint).
"""

from __future__ import annotations

from typing import Any

from schemas.cloudevents import FLUXO_NAMESPACE
from schemas.codec import SOURCE_HEADER, TYPE_HEADER
from schemas.envelope import CONTENT_TYPE, SOURCE_PREFIX, SPEC_VERSION, RecordData
from schemas.export import ENVELOPE_FILE, schema_file
from schemas.records import RECORD_TYPES
from schemas.topics import ALL_TOPICS, EVENTS, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
# The document's own version: the contract changes only compatibly within it
# (tests/unit/schemas/test_compatibility.py), breaking changes are new record types.
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
# The repo copy sits in docs/streams/; the JSON Schemas in schemas/json/.
REPO_SCHEMA_BASE = "../../schemas/json/"

PREFIX_NOTE = (
    "The address is the topic's base name. A deployment may set FLUXO_TOPIC_PREFIX, "
    "in which case the Kafka topic is that prefix followed by this address "
    "(for example `staging.fluxo.executions.v1`)."
)


def _channel_id(topic: TopicSpec) -> str:
    # fluxo.executions.v1 -> executions; ids must be stable, they are referenced.
    return topic.name.removeprefix("fluxo.").rsplit(".", 1)[0]


def _summary(model: type[RecordData]) -> str:
    doc = (model.__doc__ or "").strip()
    return doc.split("\n\n", 1)[0].replace("\n", " ") if doc else model.TYPE


def _message(type_name: str, key: str, schema_base: str) -> dict[str, Any]:
    model = RECORD_TYPES[type_name]
    return {
        "name": type_name,
        "title": type_name,
        "summary": _summary(model),
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "description": "Kafka record headers (CloudEvents Kafka binding, structured mode).",
            "properties": {
                "content-type": {"type": "string", "const": CONTENT_TYPE},
                TYPE_HEADER: {"type": "string", "const": type_name,
                              "description": "the envelope's `type`, to skip records without parsing them"},
                SOURCE_HEADER: {"type": "string", "description": "the envelope's `source`"},
            },
        },
        "payload": {
            "description": (
                f"A CloudEvents {SPEC_VERSION} event in structured mode: the envelope "
                f"with `type` = `{type_name}` and `data` as described by its schema."
            ),
            "allOf": [
                {"$ref": schema_base + ENVELOPE_FILE},
                {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "type": {"const": type_name},
                        "data": {"$ref": schema_base + schema_file(type_name)},
                    },
                },
            ],
        },
        "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"UTF-8 `{key}`"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


# A producer's own CloudEvent on fluxo.events.v1 (schemas/cloudevents.py): not a Fluxo record type.
PLAIN_EVENT = "plain-cloudevent"
_EVENT_TYPE = {
    "type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[A-Za-z0-9_.:\-]+$",
    "not": {"pattern": "^" + FLUXO_NAMESPACE.replace(".", r"\.")},
    "description": "the producer's own event type (`com.shop.order.created`, `ORDER_CREATED`): what triggers"
    " match (`trigger_config.event_type`). Types in the `fluxo.` namespace are Fluxo's records.",
}
_PLAIN_ATTRIBUTES: dict[str, Any] = {
    "specversion": {"type": "string", "const": SPEC_VERSION},
    "id": {"type": "string", "minLength": 1, "description": "unique per `source`: a re-sent event (same source and id) starts nothing new"},
    "source": {"type": "string", "minLength": 1, "description": "a URI naming the producer"},
    "type": _EVENT_TYPE,
    "subject": {"type": "string", "maxLength": 200, "description": "the user id (the contact the event is about)"},
    "time": {"type": "string", "format": "date-time", "description": "when it happened (RFC 3339); the Kafka timestamp if left out"},
    "datacontenttype": {"type": "string", "description": "application/json (or another JSON media type)"},
    "workspaceid": {"type": "string", "minLength": 1, "description": "Fluxo extension: the workspace the event belongs to (it must exist)"},
    "conversationid": {"type": "string", "maxLength": 200, "description": "optional extension: the conversation"},
    "correlationid": {"type": "string", "description": "optional extension"},
    "causationid": {"type": "string", "description": "optional extension"},
}


def _plain_message(key: str) -> dict[str, Any]:
    ce_headers = {
        f"ce_{name}": {**schema, "description": f"binary mode: the `{name}` attribute"}
        for name, schema in _PLAIN_ATTRIBUTES.items() if name != "datacontenttype"
    }
    return {
        "name": PLAIN_EVENT,
        "title": "A producer's own CloudEvent",
        "summary": (
            f"A standard CloudEvents {SPEC_VERSION} event of the producer's own type, written straight to"
            f" {EVENTS.name} and read as a fluxo.event.ingested.v1 of that type."
        ),
        "description": (
            "Structured mode: the value is the event as JSON (`content-type: application/cloudevents+json`,"
            " or any JSON object with `specversion`). Binary mode (CloudEvents Kafka binding): the attributes"
            " are `ce_*` headers (`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_subject`,"
            " `ce_workspaceid`, ...), `content-type` is the data's media type and the value is the data."
            " It is read as `event_type` = `type`, `user_id` = `subject`, `data` = `data` (a JSON object;"
            " none is `{}`), `conversation_id` = the `conversationid` extension, `occurred_at` = `time`."
            " Its Fluxo event id is derived from (workspaceid, source, id). A record that cannot be read so"
            " (a missing `id`, `source`, `type` or `workspaceid`, JSON that does not parse, `data` that is"
            " not an object, an unknown workspace) goes to fluxo.deadletter.v1 with the reason."
        ),
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "description": "Kafka record headers: `content-type` alone in structured mode; `ce_*` and `content-type` in binary mode.",
            "properties": {
                "content-type": {"type": "string", "examples": [CONTENT_TYPE, "application/json"]},
                **ce_headers,
            },
        },
        "payload": {
            "description": "Structured mode: the CloudEvent (in binary mode, the value is its `data` alone).",
            "type": "object",
            "required": ["specversion", "id", "source", "type", "workspaceid"],
            "properties": {**_PLAIN_ATTRIBUTES, "data": {"type": "object", "description": "the event's payload"}},
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"UTF-8 `{key}` (subject: the user id, else the conversation id)"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _state_message(topic: TopicSpec) -> dict[str, Any]:
    return {
        "name": f"{topic.name}.state",
        "title": f"{topic.name} state",
        "summary": "A processor's private state: not a contract, may change without notice.",
        "contentType": "application/json",
        "payload": {"type": ["object", "null"], "description": "state as JSON; null is a tombstone"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"UTF-8 `{topic.key}`"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(topic: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [topic.cleanup]}
    if topic.retention_ms is not None:
        config["retention.ms"] = topic.retention_ms
    lines = [
        f"Holds {topic.holds}.",
        f"Key: `{topic.key}` (UTF-8); records with the same key are in one partition, in order.",
        f"Cleanup policy: `{topic.cleanup}`"
        + (" (compacted: the latest record per key is kept)." if topic.cleanup == "compact" else "."),
        PREFIX_NOTE,
    ]
    if topic.internal:
        lines.insert(0, "Internal: a processor's state changelog, listed for operators only.")
    elif not topic.records:
        lines.insert(0, "Reserved: created, but no record type is written to it yet.")
    messages = (
        {f"{topic.name}.state": {"$ref": f"#/components/messages/{topic.name}.state"}}
        if topic.internal
        else {t: {"$ref": f"#/components/messages/{t}"} for t in topic.type_names}
    )
    if topic is EVENTS:
        messages[PLAIN_EVENT] = {"$ref": f"#/components/messages/{PLAIN_EVENT}"}
    channel: dict[str, Any] = {
        "address": topic.name,
        "title": topic.name,
        "summary": topic.holds,
        "description": "\n\n".join(lines),
        "messages": messages,
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "topicConfiguration": config,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if topic.internal:
        channel["tags"] = [{"name": "internal"}]
    return channel


def asyncapi_document(schema_base: str = REPO_SCHEMA_BASE) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        cid = _channel_id(topic)
        channels[cid] = _channel(topic)
        if topic.internal:
            messages[f"{topic.name}.state"] = _state_message(topic)
        for type_name in topic.type_names:
            # A record type on two topics keeps the first topic's key description.
            messages.setdefault(type_name, _message(type_name, topic.key, schema_base))
        if topic is EVENTS:
            messages[PLAIN_EVENT] = _plain_message(topic.key)
        if topic.records:
            operations[f"consume-{cid}"] = {
                "action": "receive",
                "title": f"Consume {topic.name}",
                "summary": f"Read {topic.name} (use isolation.level=read_committed: Fluxo writes transactionally).",
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": [{"$ref": f"#/channels/{cid}/messages/{t}"} for t in channels[cid]["messages"]],
            }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Fluxo streams",
            "version": CONTRACT_VERSION,
            "description": (
                "Every Kafka topic of Fluxo and the records on it. Each record's value is a "
                f"CloudEvents {SPEC_VERSION} event in structured mode (`content-type: {CONTENT_TYPE}`); "
                f"`source` starts with `{SOURCE_PREFIX}`, `type` names the record type and its version, "
                "`data` follows that type's JSON Schema. Extensions: `workspaceid`, `executionid`, "
                "`correlationid`, `causationid`, `depth`. A change that would break a consumer is a new "
                "record type (`….v2`), never an edit: within a type, fields are only ever added as optional. "
                "Producers writing to fluxo.events.v1 may also use binary mode (`ce_*` headers), and may write "
                f"plain CloudEvents of their own event types there (the `{PLAIN_EVENT}` message)."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "correlationIds": {
                "correlationid": {
                    "description": "The id of the record that began this chain of records.",
                    "location": "$message.payload#/correlationid",
                }
            },
        },
    }
