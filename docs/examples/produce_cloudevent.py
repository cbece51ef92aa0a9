"""Write one plain CloudEvent of your own event type straight to fluxo.events.v1.

    python docs/examples/produce_cloudevent.py --workspace <workspace id> \
        --type com.shop.order.created --subject u-42 --data '{"order": "A-1", "total": 42}' [--binary]

Only aiokafka is needed. The event is a standard CloudEvents 1.0 event (Kafka protocol
binding): `type` is your event type (what a workflow's `trigger_config.event_type` names),
`subject` the user id, `data` the payload (a JSON object), and the `workspaceid` extension
says whose event it is. Structured mode (the default) writes the event as the JSON value;
`--binary` writes the attributes as `ce_*` headers and the data as the value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer


async def produce(
    bootstrap: str, topic: str, workspace: str, event_type: str, subject: str, data: dict[str, Any],
    *, binary: bool = False, source: str = "urn:example:producer", event_id: str | None = None,
) -> str:
    """Write the event; returns its CloudEvents id (unique per source: a re-send with the same
    id starts nothing new)."""
    attributes = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": datetime.now(UTC).isoformat(),
        "workspaceid": workspace,
    }
    if binary:
        headers = [(f"ce_{name}", value.encode()) for name, value in attributes.items()]
        headers.append(("content-type", b"application/json"))
        value = json.dumps(data).encode()
    else:
        headers = [("content-type", b"application/cloudevents+json")]
        value = json.dumps({**attributes, "datacontenttype": "application/json", "data": data}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        # Keyed by workspace and subject: one user's events stay in order, on one partition.
        await producer.send_and_wait(topic, key=f"{workspace}:{subject}".encode(), value=value, headers=headers)
    finally:
        await producer.stop()
    return attributes["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="fluxo.events.v1", help="with your FLUXO_TOPIC_PREFIX in front, if set")
    parser.add_argument("--workspace", required=True, help="your workspace id (your JWT's ws claim)")
    parser.add_argument("--type", required=True, help="your event type, e.g. com.shop.order.created")
    parser.add_argument("--subject", required=True, help="the user id")
    parser.add_argument("--data", default="{}", help="the payload, a JSON object")
    parser.add_argument("--binary", action="store_true", help="binary content mode (ce_* headers)")
    args = parser.parse_args()
    event_id = asyncio.run(produce(args.bootstrap, args.topic, args.workspace, args.type, args.subject,
                                   json.loads(args.data), binary=args.binary))
    print(f"wrote {args.type} {event_id}")


if __name__ == "__main__":
    main()
