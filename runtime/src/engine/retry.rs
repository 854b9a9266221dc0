//! Retries of transient connector failures: jittered exponential backoff that honours a
//! retry-after hint.

use std::time::Duration;

use rand::Rng;

use crate::connector::{ConnectorError, ErrorKind};

/// How transient failures are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total (1: no retry).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests).
    pub fn immediate(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 0): half to all of the
    /// exponential delay, at least the retry-after hint, at most `max_delay` unless the hint
    /// asks for more.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let jittered = if exp.is_zero() {
            exp
        } else {
            exp.mul_f64(rand::rng().random_range(0.5..=1.0))
        };
        match retry_after {
            Some(hint) => jittered.max(hint),
            None => jittered,
        }
    }

    /// Runs `op`, retrying transient failures.
    pub async fn run<T>(
        &self,
        mut op: impl AsyncFnMut() -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if e.is_transient() && attempt + 1 < self.attempts => {
                    let hint = match e.kind {
                        ErrorKind::Transient { retry_after } => retry_after,
                        _ => None,
                    };
                    let wait = self.delay(attempt, hint);
                    tracing::debug!(error = %e, ?wait, "transient failure, retrying");
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::Operation;

    #[test]
    fn delays_grow_are_capped_and_honour_hints() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let d0 = p.delay(0, None);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        assert!(p.delay(10, None) <= Duration::from_secs(1));
        assert!(p.delay(40, None) <= Duration::from_secs(1));
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retries_transient_then_gives_up() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let transient = ConnectorError::new(
            ErrorKind::Transient { retry_after: None },
            "S",
            Operation::Get,
            "503",
        );
        let mut calls = 0;
        let out: Result<u8, _> = rt.block_on(RetryPolicy::immediate(3).run(async || {
            calls += 1;
            if calls < 3 {
                Err(transient.clone())
            } else {
                Ok(7)
            }
        }));
        assert_eq!(out, Ok(7));
        let mut calls = 0;
        let out: Result<u8, _> = rt.block_on(RetryPolicy::immediate(2).run(async || {
            calls += 1;
            Err(transient.clone())
        }));
        assert!(out.is_err());
        assert_eq!(calls, 2);
        let mut calls = 0;
        let permanent = ConnectorError::new(ErrorKind::Permanent, "S", Operation::Get, "400");
        let out: Result<u8, _> = rt.block_on(RetryPolicy::immediate(5).run(async || {
            calls += 1;
            Err(permanent.clone())
        }));
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }
}
