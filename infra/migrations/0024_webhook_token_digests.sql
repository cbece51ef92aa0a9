-- Webhook tokens are kept as digests only (fluxo.webhook.defined.v2): the read model
-- holds the SHA-256 of the token (the lookup of /hooks/{token}) and a display prefix,
-- like API keys, and a call's logged path keeps only that prefix. The upcaster of v1
-- records (schemas/upcasting.py) computes the same values, so a replay ends the same.
ALTER TABLE webhooks
    ADD COLUMN token_digest text,
    ADD COLUMN token_prefix text,
    -- Existing webhooks keep taking the sha256=<hex> signatures their senders make.
    ADD COLUMN signature_format text NOT NULL DEFAULT 'legacy';
UPDATE webhooks SET token_digest = encode(sha256(convert_to(token, 'UTF8')), 'hex'), token_prefix = left(token, 8);
ALTER TABLE webhooks
    ALTER COLUMN token_digest SET NOT NULL,
    ALTER COLUMN token_prefix SET NOT NULL,
    ALTER COLUMN signature_format DROP DEFAULT;
DROP INDEX webhooks_token;
ALTER TABLE webhooks DROP COLUMN token;
CREATE INDEX webhooks_token_digest ON webhooks (token_digest) WHERE NOT deleted;

-- ingest.webhooks.redacted_path, for the calls logged before.
UPDATE webhook_logs
SET path = regexp_replace(path, '^(.*/(?:hooks|webhooks/execute)/)([^/]{1,8})[^/]*', '\1\2...')
WHERE path ~ '/(hooks|webhooks/execute)/';
