"""The audit trail: an append-only event log in the platform database, and (as it lands) its Merkle tree,
signed checkpoints, export bundles and offline verification."""

from validation.audit.log import (
    EVENT_FIELDS,
    GENESIS_HASH,
    ChainBreak,
    append_event,
    canonical_event_bytes,
    check_chain,
    event_dict,
    event_hash,
    iter_events,
)

__all__ = [
    "EVENT_FIELDS",
    "GENESIS_HASH",
    "ChainBreak",
    "append_event",
    "canonical_event_bytes",
    "check_chain",
    "event_dict",
    "event_hash",
    "iter_events",
]
