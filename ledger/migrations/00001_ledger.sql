-- The cost ledger: one row per model call, spend per day, tenant budgets
-- and their holds, and the terminal result of each task. Money is integer
-- micro-dollars everywhere.

-- +goose Up
CREATE TABLE calls (
    call_id             text PRIMARY KEY,
    source_event_id     text        NOT NULL,
    task                text        NOT NULL,
    tenant_id           text        NOT NULL,
    provider            text        NOT NULL,
    model               text        NOT NULL,
    prompt_version      text        NOT NULL,
    input_tokens        bigint      NOT NULL CHECK (input_tokens >= 0),
    cached_input_tokens bigint      NOT NULL DEFAULT 0 CHECK (cached_input_tokens >= 0),
    output_tokens       bigint      NOT NULL CHECK (output_tokens >= 0),
    reasoning_tokens    bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    cost_microusd       bigint      NOT NULL CHECK (cost_microusd >= 0),
    latency_ms          bigint      NOT NULL CHECK (latency_ms >= 0),
    outcome             text        NOT NULL,
    -- called_at is the ai.cost event's time; it decides the day.
    called_at           timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_tenant_called_at ON calls (tenant_id, called_at);
CREATE INDEX calls_source_event_id ON calls (source_event_id);

-- daily_spend is kept by the same statement that inserts calls, from the
-- rows actually inserted, so a redelivered event never counts twice.
CREATE TABLE daily_spend (
    day                 date   NOT NULL,
    tenant_id           text   NOT NULL,
    model               text   NOT NULL,
    task                text   NOT NULL,
    prompt_version      text   NOT NULL,
    calls               bigint NOT NULL,
    input_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    cost_microusd       bigint NOT NULL,
    PRIMARY KEY (day, tenant_id, model, task, prompt_version)
);

-- budgets holds each tenant's limits (0: no limit) and the spend and
-- reservations of its current day and month, which roll over in place.
-- A tenant without a row is unlimited.
CREATE TABLE budgets (
    tenant_id               text PRIMARY KEY,
    daily_hard_microusd     bigint      NOT NULL DEFAULT 0 CHECK (daily_hard_microusd >= 0),
    daily_soft_microusd     bigint      NOT NULL DEFAULT 0 CHECK (daily_soft_microusd >= 0),
    monthly_hard_microusd   bigint      NOT NULL DEFAULT 0 CHECK (monthly_hard_microusd >= 0),
    monthly_soft_microusd   bigint      NOT NULL DEFAULT 0 CHECK (monthly_soft_microusd >= 0),
    day                     date        NOT NULL DEFAULT '1970-01-01',
    day_spent_microusd      bigint      NOT NULL DEFAULT 0,
    day_reserved_microusd   bigint      NOT NULL DEFAULT 0,
    month                   date        NOT NULL DEFAULT '1970-01-01',
    month_spent_microusd    bigint      NOT NULL DEFAULT 0,
    month_reserved_microusd bigint      NOT NULL DEFAULT 0,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- budget_holds are estimates reserved before a model call and not yet
-- settled with its real cost.
CREATE TABLE budget_holds (
    hold_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         text        NOT NULL,
    day               date        NOT NULL,
    month             date        NOT NULL,
    estimate_microusd bigint      NOT NULL CHECK (estimate_microusd >= 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX budget_holds_created_at ON budget_holds (created_at);

-- task_outcomes has one row per terminal result of a task.
CREATE TABLE task_outcomes (
    source_event_id text        NOT NULL,
    task            text        NOT NULL,
    prompt_version  text        NOT NULL,
    replay_id       text        NOT NULL DEFAULT '',
    tenant_id       text        NOT NULL,
    ticket_id       text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('draft_ready', 'draft_failed')),
    error_code      text        NOT NULL DEFAULT '',
    model           text        NOT NULL DEFAULT '',
    attempts        integer     NOT NULL DEFAULT 0,
    cost_microusd   bigint      NOT NULL DEFAULT 0,
    latency_ms      bigint      NOT NULL DEFAULT 0,
    finished_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_event_id, task, prompt_version, replay_id)
);

-- +goose Down
DROP TABLE task_outcomes;
DROP TABLE budget_holds;
DROP TABLE budgets;
DROP TABLE daily_spend;
DROP TABLE calls;
