//! The management API run natively: every route through `Api::handle` over a
//! `MemoryStore`, no server and no network.

#[path = "api/harness.rs"]
mod harness;
#[path = "api/smoke.rs"]
mod smoke;
