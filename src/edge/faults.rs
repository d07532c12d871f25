//! Fault injection for the end-to-end tests (`FAULTS` var; never set in production):
//! a comma-separated list of
//! - `kv_read_error` / `kv_read_error_after=N`: KV reads fail (after the first N);
//! - `kv_read_delay_ms=N`: KV reads take N ms longer;
//! - `kv_write_error`: KV writes fail (snapshot publication);
//! - `d1_error`: every D1 statement fails;
//! - `exposure_redeliver=N`: the exposure consumer writes its first N batches and then
//!   asks the queue for them again instead of acknowledging them, as when an isolate dies
//!   between the commit and the acknowledgements: the queue really delivers them twice;
//! - `exposure_send_error=N`: the first N exposure sends of the visitor path fail (as a
//!   queue over its rate answers Too Many Requests), before the queue is called;
//! - `visit_trap_path=/a/b`: a visit to that path traps the wasm module (as a bug would),
//!   to test that the entry answers it and re-instantiates the module for the next.
//!
//! The layer sits exactly where the real calls are, so the code under test is the code
//! that runs in production; with `FAULTS` unset each check is one branch on a `bool`. The
//! visitor hot path reads KV from JavaScript and asks [`kv_read_plan`] first, so one
//! count of reads covers both.

use std::cell::Cell;

/// Parsed `FAULTS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Faults {
    kv_read_error_after: Option<u64>,
    kv_read_delay_ms: u64,
    kv_write_error: bool,
    d1_error: bool,
    exposure_redeliver: u64,
    exposure_send_error: u64,
    visit_trap_path: Option<String>,
}

thread_local! {
    static KV_READS_SEEN: Cell<u64> = const { Cell::new(0) };
    static EXPOSURE_BATCHES_SEEN: Cell<u64> = const { Cell::new(0) };
    static EXPOSURE_SENDS_SEEN: Cell<u64> = const { Cell::new(0) };
    static ACTIVE: std::cell::RefCell<Faults> = std::cell::RefCell::new(Faults::default());
}

/// Makes `faults` the isolate's faults (settings do this once, from `FAULTS`).
pub(crate) fn install(faults: Faults) {
    ACTIVE.with(|a| *a.borrow_mut() = faults);
}

fn active() -> Faults {
    ACTIVE.with(|a| a.borrow().clone())
}

/// Before a KV read made by the JavaScript hot path (`src/edge/entry.mjs`): the delay to
/// wait, in milliseconds, or `Err` when the read must fail (the delay comes first).
pub(crate) fn kv_read_plan() -> (u64, Result<(), String>) {
    let faults = active();
    (faults.kv_read_delay_ms, faults.count_kv_read())
}

/// At the start of a visit to `path`: traps when `visit_trap_path` names it.
pub(crate) fn visit(path: &str) {
    let trap = ACTIVE.with(|a| a.borrow().visit_trap_path.as_deref() == Some(path));
    if trap {
        std::process::abort();
    }
}

/// Before a KV write.
pub(crate) fn kv_write() -> Result<(), String> {
    active().before_kv_write()
}

/// Before a D1 statement.
pub(crate) fn d1() -> Result<(), String> {
    active().before_d1()
}

/// Before the JavaScript visitor path sends exposures to the queue: whether the send must
/// fail.
pub(crate) fn fail_exposure_send() -> bool {
    let limit = active().exposure_send_error;
    limit > 0
        && EXPOSURE_SENDS_SEEN.with(|c| {
            c.set(c.get() + 1);
            c.get() <= limit
        })
}

/// After the exposure consumer wrote a batch: whether to withhold its acknowledgements
/// (the queue then delivers the batch again).
pub(crate) fn withhold_exposure_acks() -> bool {
    let limit = active().exposure_redeliver;
    limit > 0
        && EXPOSURE_BATCHES_SEEN.with(|c| {
            c.set(c.get() + 1);
            c.get() <= limit
        })
}

impl Faults {
    /// Parses the var; unknown items are ignored (and logged).
    pub(crate) fn parse(list: &str) -> Self {
        let mut faults = Faults::default();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            let number = value.trim().parse::<u64>().ok();
            match name.trim() {
                "kv_read_error" => faults.kv_read_error_after = Some(0),
                "kv_read_error_after" => faults.kv_read_error_after = number,
                "kv_read_delay_ms" => faults.kv_read_delay_ms = number.unwrap_or(0),
                "kv_write_error" => faults.kv_write_error = true,
                "d1_error" => faults.d1_error = true,
                "exposure_redeliver" => faults.exposure_redeliver = number.unwrap_or(0),
                "exposure_send_error" => faults.exposure_send_error = number.unwrap_or(0),
                "visit_trap_path" => faults.visit_trap_path = Some(value.trim().to_owned()),
                other => worker::console_warn!("FAULTS: unknown fault {other:?} ignored"),
            }
        }
        if faults != Faults::default() {
            worker::console_warn!("FAULTS active: {faults:?} (tests only)");
        }
        faults
    }

    fn count_kv_read(&self) -> Result<(), String> {
        let seen = KV_READS_SEEN.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        match self.kv_read_error_after {
            Some(after) if seen > after => Err("injected KV read failure".into()),
            _ => Ok(()),
        }
    }

    fn before_kv_write(&self) -> Result<(), String> {
        if self.kv_write_error {
            Err("injected KV write failure".into())
        } else {
            Ok(())
        }
    }

    fn before_d1(&self) -> Result<(), String> {
        if self.d1_error {
            Err("injected D1 failure".into())
        } else {
            Ok(())
        }
    }
}
