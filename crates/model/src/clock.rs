//! The clock every part of entman reads the time from: the system's, or a manual
//! one that stands still until a test advances it (controls.md §2, "clock").
//!
//! Time never goes backwards: a manual clock may only be set or advanced forward,
//! and a return to the system clock continues from the manual time when that was
//! ahead (the system clock then runs with that offset).

use crate::time::Timestamp;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

/// How the clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// The system's time (plus an offset after a manual period ahead of it).
    System,
    /// Stands still until advanced.
    Manual,
}

/// Why a clock change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The asked time is before the clock's time.
    #[error("the clock cannot go back from {now} to {asked}")]
    Backwards {
        /// The clock's time.
        now: Timestamp,
        /// The time asked for.
        asked: Timestamp,
    },
    /// The change applies only to a manual clock.
    #[error("the clock is not manual")]
    NotManual,
}

/// A shared clock. Reading it is two atomic loads.
#[derive(Debug)]
pub struct Clock {
    manual: AtomicBool,
    /// Manual: the time, in microseconds. System: the offset added to the system time.
    value: AtomicI64,
    /// Serialises changes (readers never take it).
    change: Mutex<()>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            manual: AtomicBool::new(false),
            value: AtomicI64::new(0),
            change: Mutex::new(()),
        }
    }

    /// A manual clock standing at `now`.
    pub fn manual(now: Timestamp) -> Clock {
        Clock {
            manual: AtomicBool::new(true),
            value: AtomicI64::new(now.micros()),
            change: Mutex::new(()),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        if self.manual.load(Ordering::Acquire) {
            Timestamp::from_micros(self.value.load(Ordering::Acquire))
        } else {
            let offset = self.value.load(Ordering::Acquire);
            Timestamp::from_micros(Timestamp::now().micros().saturating_add(offset))
        }
    }

    /// Whether the clock is manual or follows the system time.
    pub fn mode(&self) -> ClockMode {
        if self.manual.load(Ordering::Acquire) {
            ClockMode::Manual
        } else {
            ClockMode::System
        }
    }

    /// Makes the clock manual, standing at `at` (not before the current time).
    pub fn set_manual(&self, at: Timestamp) -> Result<Timestamp, ClockError> {
        let _one = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now();
        if at < now {
            return Err(ClockError::Backwards { now, asked: at });
        }
        self.value.store(at.micros(), Ordering::Release);
        self.manual.store(true, Ordering::Release);
        Ok(at)
    }

    /// Makes the clock manual, standing at the current time.
    pub fn freeze(&self) -> Timestamp {
        let _one = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now();
        self.value.store(now.micros(), Ordering::Release);
        self.manual.store(true, Ordering::Release);
        now
    }

    /// Returns to the system clock, continuing from the current time if it is
    /// ahead of the system's.
    pub fn set_system(&self) -> Timestamp {
        let _one = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now();
        let offset = now
            .micros()
            .saturating_sub(Timestamp::now().micros())
            .max(0);
        // The offset first: a reader between the two stores sees manual time.
        self.value.store(offset, Ordering::Release);
        self.manual.store(false, Ordering::Release);
        self.now()
    }

    /// Moves a manual clock forward by `micros`.
    pub fn advance(&self, micros: i64) -> Result<Timestamp, ClockError> {
        let _one = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.manual.load(Ordering::Acquire) {
            return Err(ClockError::NotManual);
        }
        let now = self.now();
        if micros < 0 {
            return Err(ClockError::Backwards {
                now,
                asked: Timestamp::from_micros(now.micros().saturating_add(micros)),
            });
        }
        let next = Timestamp::from_micros(now.micros().saturating_add(micros));
        self.value.store(next.micros(), Ordering::Release);
        Ok(next)
    }

    /// Back to the system clock without an offset (a reset).
    pub fn reset(&self) {
        let _one = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.manual.store(false, Ordering::Release);
        self.value.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_and_never_goes_back() {
        let start = Timestamp::parse("2026-03-01T10:00:00Z").unwrap();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.mode(), ClockMode::Manual);
        assert_eq!(clock.advance(1_500_000).unwrap(), start.plus_millis(1500));
        assert_eq!(clock.now(), start.plus_millis(1500));
        assert!(matches!(
            clock.set_manual(start),
            Err(ClockError::Backwards { .. })
        ));
        assert!(matches!(
            clock.advance(-1),
            Err(ClockError::Backwards { .. })
        ));
        assert_eq!(clock.now(), start.plus_millis(1500));
    }

    #[test]
    fn the_system_clock_continues_from_a_manual_time_ahead_of_it() {
        let clock = Clock::system();
        assert!(matches!(clock.advance(1), Err(ClockError::NotManual)));
        let frozen = clock.freeze();
        assert_eq!(clock.now(), frozen);
        clock.set_system();
        let ahead = Timestamp::now().plus_millis(3_600_000);
        clock.set_manual(ahead).unwrap();
        let back = clock.set_system();
        assert!(back >= ahead);
        assert!(clock.now() >= ahead);
        assert_eq!(clock.mode(), ClockMode::System);
        clock.reset();
        assert!(clock.now() < ahead);
    }
}
