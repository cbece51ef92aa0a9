"""What the engine knows about node and action kinds: which it evaluates itself, which it waits on,
which go to a worker, and the bounds it keeps. Pure constants.
"""

from __future__ import annotations

from schemas.workflow import NodeType

SOURCE = "processor/executor"


# Nodes the executor evaluates itself; everything else is a side effect for a worker.
INLINE = {NodeType.TRIGGER, NodeType.CONDITION, NodeType.TRANSFORM}


DISPATCHED = {NodeType.ACTION, NodeType.HTTP_REQUEST, NodeType.DATABASE_QUERY}


# Action types the engine itself performs as a durable wait (seed 003's "wait" action).
WAIT_ACTIONS = {"wait", "delay", "sleep"}


# A bound on steps per execution, so a malformed graph can never spin forever.
MAX_STEPS = 5000


DEFAULT_NODE_TIMEOUT = 30.0


MAX_LOOP_ITEMS = 1000


DEFAULT_LOOP_ITEMS = 100


# Node states that keep an execution open.
OPEN = {"scheduled", "waiting", "delayed", "retrying"}


NOTIFY_NODE = "__on_failure__"


# What an action takes from the contact when its config does not say.
ACTION_DEFAULTS: dict[str, dict[str, str]] = {
    "send_email": {"recipient": "{{user.email}}"},
    # Seed 003: a reply goes to the conversation of the event that started the execution.
    "send_message": {"to": "{{user.phone}}", "conversation_id": "{{conversation.id}}"},
    "whatsapp": {"to": "{{user.phone}}"},
    "send_whatsapp": {"to": "{{user.phone}}"},
}


# Seed 003's send_message: recorded as this event on the events topic once it succeeded.
MESSAGE_SENT = "MESSAGE_SENT"


MESSAGE_ACTIONS = frozenset({"send_message"})


# Config fields holding code: never rendered as templates.
CODE_FIELDS = ("code", "custom_code", "script")


# Action types run in the code sandbox; they get the execution context as `context`.
CODE_ACTIONS = {"custom_code", "code", "run_code", "javascript", "python"}
