// Package schemas owns ghostwriter's event contract: the JSON Schema files
// (the source of truth), the Go types that mirror them, the CloudEvents
// envelope, strict decoding and validation, and the names of subjects,
// streams, consumers and buckets. It must not know about NATS clients or
// models; it is the only ghostwriter package the product side may import.
package schemas

// Event types. The NATS subject of an event equals its type.
const (
	TypeTicketCreated = "ticket.created"
	TypeDraftReady    = "ticket.draft_ready"
	TypeDraftFailed   = "ticket.draft_failed"
	TypeCost          = "ai.cost"
	TypeReplySent     = "ticket.reply_sent"
	// TypeTriaged and TypeTriageFailed are the triage task's results.
	TypeTriaged      = "ticket.triaged"
	TypeTriageFailed = "ticket.triage_failed"
)

// JetStream streams, consumers and buckets.
const (
	StreamTickets = "TICKETS"
	StreamCosts   = "AI_COSTS"
	StreamReplay  = "GHOSTWRITER_REPLAY"
	StreamDLQ     = "GHOSTWRITER_DLQ"
	StreamShadow  = "GHOSTWRITER_SHADOW"

	SubjectsTickets = "ticket.>"
	SubjectsCosts   = "ai.cost"
	SubjectsReplay  = "ghostwriter.replay.>"
	SubjectsDLQ     = "ghostwriter.dlq.>"
	SubjectsShadow  = "ghostwriter.shadow.>"

	// SubjectReplayPrefix is followed by the replay id and the original
	// subject: ghostwriter.replay.<id>.ticket.created.
	SubjectReplayPrefix = "ghostwriter.replay."
	// SubjectShadowPrefix is followed by the result's type: a shadow
	// replay's results never reach the product's subjects.
	SubjectShadowPrefix = "ghostwriter.shadow."

	// SubjectDLQPrefix is followed by the original subject of a dead letter.
	SubjectDLQPrefix = "ghostwriter.dlq."

	ConsumerDrafts = "ghostwriter-drafts"
	// ConsumerReplay feeds the workers what a replay selected.
	ConsumerReplay = "ghostwriter-replay"
	ConsumerLedger = "ghostwriter-ledger"
	// ConsumerFeedback reads ticket.draft_ready and ticket.reply_sent
	// from TICKETS, to score the replies humans send against the drafts.
	ConsumerFeedback = "ghostwriter-feedback"

	BucketTasks = "ghostwriter_tasks"
	// BucketReplays holds each replay's spec and progress.
	BucketReplays = "ghostwriter_replays"
	// BucketCache holds cached drafts when the response cache is on.
	BucketCache = "ghostwriter_cache"
)

// Headers ghostwriter sets on what it publishes.
const (
	HeaderMsgID       = "Nats-Msg-Id"
	HeaderTraceparent = "traceparent"
	// HeaderReason names why a message went to the dead-letter stream.
	HeaderReason = "Ghostwriter-Reason"
	// HeaderErrorCode is the closed-set code of a dead letter, and
	// HeaderErrorDetail its stable detail (a FieldError Kind).
	HeaderErrorCode   = "Ghostwriter-Error-Code"
	HeaderErrorDetail = "Ghostwriter-Error-Detail"
	// HeaderSourceStream and HeaderSourceSeq locate the original message.
	HeaderSourceStream  = "Ghostwriter-Source-Stream"
	HeaderSourceSeq     = "Ghostwriter-Source-Seq"
	HeaderSourceSubject = "Ghostwriter-Source-Subject"
	// HeaderReplayID, HeaderReplayPromptVersion and HeaderReplayShadow
	// travel on replayed events and their results.
	HeaderReplayID            = "Ghostwriter-Replay-Id"
	HeaderReplayPromptVersion = "Ghostwriter-Replay-Prompt-Version"
	HeaderReplayShadow        = "Ghostwriter-Replay-Shadow"
	// HeaderReplayTask names the task a replayed event is for; absent
	// means support_draft.
	HeaderReplayTask = "Ghostwriter-Replay-Task"
	// HeaderSourceEventID names the input event an output answers.
	HeaderSourceEventID = "Ghostwriter-Source-Event-Id"
)
