//! Retry schedule: exponential back-off with jitter, capped, and the attempt limit after which a notification is
//! dead-lettered. Pure: the jitter is a parameter.

use std::time::Duration;

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure, before jitter.
    pub base: Duration,
    /// Largest delay, before jitter.
    pub max: Duration,
    /// Attempts in all (the first included); a notification that fails this many times is dead-lettered.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_attempts: 12,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt after `failed_attempts` failures (1 for the first), with `jitter` in
    /// `[0, 1)`: between half and all of `min(max, base * 2^(failed_attempts - 1))` ("equal jitter"), so retries of
    /// many notifications after an outage spread out instead of arriving together.
    pub fn delay(&self, failed_attempts: u32, jitter: f64) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(30);
        let full = self
            .base
            .saturating_mul(1u32 << exponent)
            .min(self.max)
            .as_millis() as f64;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::from_millis((full / 2.0 + jitter * full / 2.0) as u64)
    }

    /// Whether a notification that has now failed `failed_attempts` times is given up.
    pub fn exhausted(&self, failed_attempts: u32) -> bool {
        failed_attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_until_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
            max_attempts: 5,
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(b.delay(1, 0.999_999), Duration::from_millis(99));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(300));
        assert_eq!(b.delay(10, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_millis(1_000));
        assert_eq!(b.delay(2, f64::NAN), Duration::from_millis(100));
        assert!(!b.exhausted(4));
        assert!(b.exhausted(5));
    }
}
