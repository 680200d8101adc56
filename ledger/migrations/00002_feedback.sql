-- Feedback: what humans kept of ghostwriter's drafts. drafts holds each
-- ticket.draft_ready the feedback consumer saw, so that a reply can be
-- compared with its draft; feedback has one row per ticket.reply_sent.

-- +goose Up
CREATE TABLE drafts (
    event_id        text PRIMARY KEY,
    ticket_id       text        NOT NULL,
    tenant_id       text        NOT NULL,
    source_event_id text        NOT NULL,
    task            text        NOT NULL,
    prompt_version  text        NOT NULL,
    model           text        NOT NULL,
    replay_id       text        NOT NULL DEFAULT '',
    -- draft is the text a human was offered. It derives from the ticket:
    -- it is kept as long as the ticket events are (an operator's policy).
    draft           text        NOT NULL,
    drafted_at      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drafts_ticket ON drafts (tenant_id, ticket_id, drafted_at);
CREATE INDEX drafts_drafted_at ON drafts (drafted_at);

CREATE TABLE feedback (
    reply_event_id text PRIMARY KEY,
    ticket_id      text        NOT NULL,
    tenant_id      text        NOT NULL,
    -- draft_event_id is the draft the reply was compared with: the one the
    -- product named, or for not_used the ticket's latest; '' when none.
    draft_event_id text        NOT NULL DEFAULT '',
    task           text        NOT NULL DEFAULT '',
    prompt_version text        NOT NULL DEFAULT '',
    model          text        NOT NULL DEFAULT '',
    class          text        NOT NULL CHECK (class IN ('accepted', 'lightly_edited', 'rewritten', 'not_used')),
    -- distance is the normalised edit distance from draft to reply, 0..1;
    -- NULL for not_used.
    distance       double precision CHECK (distance BETWEEN 0 AND 1),
    draft_chars    integer     NOT NULL DEFAULT 0,
    final_chars    integer     NOT NULL DEFAULT 0,
    replied_at     timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_replied_at ON feedback (replied_at);

-- +goose Down
DROP TABLE feedback;
DROP TABLE drafts;
