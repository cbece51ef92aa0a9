-- Contacts: each subject's profile, as the trigger matcher built it from events.
CREATE TABLE contacts (
    workspace_id   text NOT NULL,
    id             text NOT NULL,
    email          text,
    first_name     text,
    last_name      text,
    tags           text[] NOT NULL DEFAULT '{}',
    conversation_status text,
    profile        jsonb NOT NULL,
    events_count   bigint NOT NULL DEFAULT 0,
    last_event_type text,
    last_event_at  timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX contacts_tags ON contacts USING gin (tags);
