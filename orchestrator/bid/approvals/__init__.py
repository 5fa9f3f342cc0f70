"""The governance gate: approvals asked, decided and invalidated; MACDs held for finance."""
