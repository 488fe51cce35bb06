//! Staying within Dataverse's service protection limits: an adaptive concurrency window (slow
//! start, additive increase while responses are clean, halved on 429, capped by `x-ms-dop-hint`
//! and 52), a pause for `Retry-After`, and which failures are retried, with what backoff.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde::Serialize;

use crate::config::Throttling;
use crate::error::Error;

/// Dataverse refuses more concurrent requests than this per user.
pub const MAX_IN_FLIGHT: usize = 52;

/// Counters for progress displays and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ThrottleStats {
    /// 429 responses received.
    pub throttled: u64,
    /// Requests sent again after a failure.
    pub retries: u64,
    /// The current concurrency window.
    pub window: usize,
    /// The last `x-ms-dop-hint` received.
    pub dop_hint: Option<usize>,
    /// Requests sent (retries included).
    pub requests: u64,
    /// The time requests spent in flight, added up: divided by a stretch of wall time, the
    /// average number in flight.
    pub in_flight_seconds: f64,
}

struct State {
    /// The window as a real number, so additive increase can add a fraction per response.
    window: f64,
    in_flight: usize,
    dop_hint: Option<usize>,
    /// No request starts before this (set from `Retry-After`).
    paused_until: Option<Instant>,
    /// Slow start ends at the first 429.
    slow_start: bool,
    last_decrease: Option<Instant>,
    stats: ThrottleStats,
}

pub(crate) struct Governor {
    settings: Throttling,
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

/// A slot in the window, given back when dropped.
pub(crate) struct Permit<'a> {
    governor: &'a Governor,
    since: Instant,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        {
            let mut s = self.governor.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.stats.in_flight_seconds += self.since.elapsed().as_secs_f64();
        }
        self.governor.changed.notify_waiters();
    }
}

/// How one attempt ended, as far as the window is concerned.
pub(crate) enum Signal {
    /// The server answered without complaining about load (errors such as 404 included).
    Clean,
    /// 429: back off.
    Throttled(Option<Duration>),
    /// No answer or a server error: neither grow nor shrink.
    Neutral,
}

impl Governor {
    pub fn new(settings: Throttling) -> Governor {
        let start = settings
            .initial_concurrency
            .clamp(1, max_in_flight(&settings));
        Governor {
            settings,
            state: Mutex::new(State {
                window: start as f64,
                in_flight: 0,
                dop_hint: None,
                paused_until: None,
                slow_start: true,
                last_decrease: None,
                stats: ThrottleStats {
                    window: start,
                    ..ThrottleStats::default()
                },
            }),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn limit(&self, s: &State) -> usize {
        let mut limit = (s.window.floor() as usize).max(1);
        if let Some(hint) = s.dop_hint {
            limit = limit.min(hint.max(1));
        }
        limit.min(max_in_flight(&self.settings))
    }

    /// Waits for a slot in the window (and for any `Retry-After` pause to pass).
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = {
                let mut s = self.lock();
                match s.paused_until {
                    Some(until) if until > Instant::now() => Some(until),
                    _ => {
                        if s.in_flight < self.limit(&s) {
                            s.in_flight += 1;
                            s.stats.requests += 1;
                            return Permit {
                                governor: self,
                                since: Instant::now(),
                            };
                        }
                        None
                    }
                }
            };
            match pause {
                Some(until) => tokio::time::sleep_until(until.into()).await,
                None => notified.await,
            }
        }
    }

    /// Reads `x-ms-dop-hint` from any Web API response.
    pub fn note_headers(&self, headers: &HeaderMap) {
        let hint = headers
            .get("x-ms-dop-hint")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|h| *h > 0);
        if let Some(hint) = hint {
            let mut s = self.lock();
            if s.dop_hint != Some(hint) {
                s.dop_hint = Some(hint);
                s.stats.dop_hint = Some(hint);
                // A window far above the hint would grow without effect; keep it near.
                s.window = s.window.min(hint as f64 + 1.0);
                s.stats.window = self.limit(&s);
            }
        }
    }

    /// Adjusts the window after an attempt.
    pub fn observe(&self, signal: Signal) {
        let now = Instant::now();
        {
            let mut s = self.lock();
            let cap = max_in_flight(&self.settings) as f64;
            match signal {
                Signal::Clean => {
                    s.window = if s.slow_start {
                        s.window + 1.0
                    } else {
                        s.window + 1.0 / s.window
                    }
                    .min(cap);
                }
                Signal::Throttled(retry_after) => {
                    s.stats.throttled += 1;
                    s.slow_start = false;
                    let wait = retry_after.unwrap_or(self.settings.base_backoff);
                    // One congestion event halves once, however many requests it refused.
                    let recent = s
                        .last_decrease
                        .is_some_and(|t| now.duration_since(t) < wait.max(Duration::from_secs(1)));
                    if !recent {
                        s.window = (s.window / 2.0).max(1.0);
                        s.last_decrease = Some(now);
                    }
                    let until = now + wait.min(self.settings.max_backoff);
                    if s.paused_until.is_none_or(|p| p < until) {
                        s.paused_until = Some(until);
                    }
                }
                Signal::Neutral => {}
            }
            s.stats.window = self.limit(&s);
        }
        self.changed.notify_waiters();
    }

    pub fn note_retry(&self) {
        self.lock().stats.retries += 1;
    }

    pub fn stats(&self) -> ThrottleStats {
        self.lock().stats
    }

    /// How long to wait before sending again, or `None` when the failure must not be retried:
    /// throttling and requests that never reached the server are always retried; server errors
    /// and broken connections only when the request is safe to repeat. `attempts` counts the
    /// sends that ended like this one (throttled, or failed otherwise), the last included.
    pub fn retry_after(
        &self,
        error: &Error,
        not_sent: bool,
        idempotent: bool,
        attempts: u32,
    ) -> Option<Duration> {
        let backoff = || backoff(&self.settings, attempts);
        if let Error::Throttled { retry_after, .. } = error {
            if attempts >= self.settings.max_throttled_attempts {
                return None;
            }
            return match retry_after {
                Some(wait) if *wait > self.settings.max_backoff => None,
                Some(wait) => Some(*wait),
                None => Some(backoff()),
            };
        }
        if attempts >= self.settings.max_attempts {
            return None;
        }
        match error {
            Error::CannotConnect { .. } if not_sent || idempotent => Some(backoff()),
            Error::CrmApi(f) if idempotent && matches!(f.status, 500 | 502 | 503 | 504) => {
                Some(backoff())
            }
            _ => None,
        }
    }
}

fn max_in_flight(settings: &Throttling) -> usize {
    settings.max_concurrency.clamp(1, MAX_IN_FLIGHT)
}

/// Exponential backoff with jitter: between half and all of `base × 2^(attempt-1)`, capped.
fn backoff(settings: &Throttling, attempt: u32) -> Duration {
    let exp = settings
        .base_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(settings.max_backoff);
    let jitter: f64 = rand::random_range(0.5..=1.0);
    capped.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiFailure;
    use futures_util::FutureExt;

    fn settings() -> Throttling {
        Throttling {
            initial_concurrency: 2,
            max_concurrency: 52,
            max_attempts: 3,
            max_throttled_attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
        }
    }

    fn failure(status: u16) -> ApiFailure {
        ApiFailure {
            status,
            code: String::new(),
            message: String::new(),
        }
    }

    #[test]
    fn the_window_grows_while_clean_and_halves_once_per_throttling_event() {
        let g = Governor::new(settings());
        assert_eq!(g.stats().window, 2);
        for _ in 0..10 {
            g.observe(Signal::Clean);
        }
        assert_eq!(g.stats().window, 12);
        g.observe(Signal::Throttled(Some(Duration::from_secs(1))));
        g.observe(Signal::Throttled(Some(Duration::from_secs(1))));
        assert_eq!(g.stats().window, 6);
        assert_eq!(g.stats().throttled, 2);
        // After slow start the window grows by about one per window of clean responses.
        for _ in 0..7 {
            g.observe(Signal::Clean);
        }
        assert_eq!(g.stats().window, 7);
    }

    #[test]
    fn the_window_never_exceeds_the_dop_hint_nor_52() {
        let g = Governor::new(settings());
        for _ in 0..200 {
            g.observe(Signal::Clean);
        }
        assert_eq!(g.stats().window, 52);
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-dop-hint", "8".parse().unwrap());
        g.note_headers(&headers);
        assert_eq!(g.stats().window, 8);
        assert_eq!(g.stats().dop_hint, Some(8));
        let wide = Governor::new(Throttling {
            max_concurrency: 500,
            initial_concurrency: 500,
            ..settings()
        });
        assert_eq!(wide.stats().window, 52);
    }

    #[test]
    fn only_safe_failures_are_retried_and_attempts_are_bounded() {
        let g = Governor::new(settings());
        let throttled = Error::Throttled {
            failure: failure(429),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            g.retry_after(&throttled, false, false, 1),
            Some(Duration::from_secs(3))
        );
        assert_eq!(g.retry_after(&throttled, false, false, 5), None);
        let too_long = Error::Throttled {
            failure: failure(429),
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(g.retry_after(&too_long, false, true, 1), None);
        let dropped = Error::CannotConnect {
            host: "h".into(),
            detail: "reset".into(),
        };
        assert!(g.retry_after(&dropped, false, false, 1).is_none());
        assert!(g.retry_after(&dropped, true, false, 1).is_some());
        assert!(g.retry_after(&dropped, false, true, 1).is_some());
        let server = Error::CrmApi(failure(503));
        assert!(g.retry_after(&server, false, true, 1).is_some());
        assert!(g.retry_after(&server, false, false, 1).is_none());
        let refused = Error::Validation(failure(400));
        assert!(g.retry_after(&refused, false, true, 1).is_none());
        assert!(g.retry_after(&server, false, true, 3).is_none());
        assert!(g.retry_after(&throttled, false, true, 3).is_some());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let s = settings();
        for attempt in 1..=4 {
            let full = Duration::from_millis(100 * (1 << (attempt - 1)));
            let b = backoff(&s, attempt);
            assert!(b >= full / 2 && b <= full, "{attempt}: {b:?}");
        }
        assert!(backoff(&s, 40) <= s.max_backoff);
    }

    #[tokio::test]
    async fn a_full_window_makes_callers_wait_for_a_slot() {
        let g = Governor::new(Throttling {
            initial_concurrency: 1,
            ..settings()
        });
        let first = g.acquire().await;
        assert!(g.acquire().now_or_never().is_none());
        drop(first);
        assert!(g.acquire().now_or_never().is_some());
        assert_eq!(g.stats().requests, 2);
    }
}
