//! Service protection limits, per user as Dataverse applies them: requests and combined execution
//! time over a sliding window, and concurrent requests, each answered with 429, `Retry-After` and the
//! documented error code once exceeded.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use http::StatusCode;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// The limits in force; the defaults are Dataverse's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitSettings {
    pub requests_per_window: u32,
    pub execution_ms_per_window: u64,
    pub concurrent_requests: u32,
    pub window_seconds: u64,
    /// The `x-ms-dop-hint` the emulator advertises.
    pub dop_hint: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            requests_per_window: 6000,
            execution_ms_per_window: 1_200_000,
            concurrent_requests: 52,
            window_seconds: 300,
            dop_hint: 4,
        }
    }
}

#[derive(Default)]
struct UserUsage {
    /// (start, execution time) of each request in the window.
    requests: VecDeque<(Instant, Duration)>,
    executing: Duration,
    in_flight: u32,
}

#[derive(Default)]
pub struct Limiter {
    pub settings: Mutex<LimitSettings>,
    usage: Mutex<HashMap<Uuid, UserUsage>>,
    pub throttled: std::sync::atomic::AtomicU64,
}

/// A request admitted under the limits; finishing it records its execution time.
pub struct Admission<'a> {
    limiter: &'a Limiter,
    user: Uuid,
    started: Instant,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let mut usage = self.limiter.usage.lock();
        let u = usage.entry(self.user).or_default();
        u.in_flight = u.in_flight.saturating_sub(1);
        if let Some(last) = u
            .requests
            .iter_mut()
            .rev()
            .find(|(t, _)| *t == self.started)
        {
            last.1 = elapsed;
        }
        u.executing += elapsed;
    }
}

fn throttle(code: &'static str, message: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
    e.retry_after = Some(retry_after.max(1));
    e
}

impl Limiter {
    pub fn new(settings: LimitSettings) -> Self {
        Limiter {
            settings: Mutex::new(settings),
            ..Default::default()
        }
    }

    pub fn reset(&self) {
        self.usage.lock().clear();
    }

    /// Admits a request of `user` or says which limit it hit.
    pub fn admit(&self, user: Uuid) -> Result<Admission<'_>, ApiError> {
        let s = *self.settings.lock();
        let now = Instant::now();
        let window = Duration::from_secs(s.window_seconds);
        let mut usage = self.usage.lock();
        let u = usage.entry(user).or_default();
        while let Some((t, d)) = u.requests.front().copied() {
            if now.duration_since(t) < window {
                break;
            }
            u.requests.pop_front();
            u.executing = u.executing.saturating_sub(d);
        }
        let refused = if u.in_flight >= s.concurrent_requests {
            Some(throttle(
                "0x80072326",
                format!(
                    "Number of concurrent requests exceeded the limit of {}.",
                    s.concurrent_requests
                ),
                1,
            ))
        } else if u.requests.len() as u64 >= u64::from(s.requests_per_window) {
            let oldest = u.requests.front().map_or(now, |(t, _)| *t);
            let wait = window.saturating_sub(now.duration_since(oldest));
            Some(throttle(
                "0x80072322",
                format!(
                    "Number of requests exceeded the limit of {} over time window of {} seconds.",
                    s.requests_per_window, s.window_seconds
                ),
                wait.as_secs_f64().ceil() as u64,
            ))
        } else if u.executing.as_millis() as u64 >= s.execution_ms_per_window {
            let oldest = u.requests.front().map_or(now, |(t, _)| *t);
            let wait = window.saturating_sub(now.duration_since(oldest));
            Some(throttle(
                "0x80072321",
                format!(
                    "Combined execution time of incoming requests exceeded limit of {} milliseconds over time window of {} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
                    group(s.execution_ms_per_window),
                    s.window_seconds
                ),
                wait.as_secs_f64().ceil() as u64,
            ))
        } else {
            None
        };
        if let Some(e) = refused {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        u.in_flight += 1;
        u.requests.push_back((now, Duration::ZERO));
        Ok(Admission {
            limiter: self,
            user,
            started: now,
        })
    }

    /// The informational headers: remaining requests and execution time in the window.
    pub fn remaining(&self, user: Uuid) -> (u64, u64) {
        let s = *self.settings.lock();
        let usage = self.usage.lock();
        let u = usage.get(&user);
        let used = u.map_or(0, |u| u.requests.len() as u64);
        let exec = u.map_or(0, |u| u.executing.as_millis() as u64);
        (
            u64::from(s.requests_per_window).saturating_sub(used),
            s.execution_ms_per_window.saturating_sub(exec),
        )
    }
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
