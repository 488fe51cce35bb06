//! Fault injection for chaos tests: latency, rates of 429/500/503 and connections dropped
//! mid-response, per route (method and path prefix), set at start-up or through the admin API.

use parking_lot::Mutex;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One rule; the first rule whose method and path prefix match a request applies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FaultRule {
    /// `GET`, `POST`…; any method when absent.
    pub method: Option<String>,
    /// Matched against the path after `/api/data/v9.2/` (e.g. `accounts`, `$batch`); any when absent.
    pub path_prefix: Option<String>,
    pub latency_ms: u64,
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_503: f64,
    /// Share of responses whose connection is cut after the headers and part of the body.
    pub rate_drop: f64,
    /// `Retry-After` seconds sent with injected 429s.
    pub retry_after_seconds: u64,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Throttle(u64),
    ServerError,
    Unavailable,
    Drop,
}

#[derive(Default)]
pub struct Faults {
    pub rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    /// The latency to add and the fault to inject for a request.
    pub fn decide(&self, method: &str, path: &str) -> (u64, Fault) {
        let rules = self.rules.lock();
        let Some(rule) = rules.iter().find(|r| {
            r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        }) else {
            return (0, Fault::None);
        };
        let roll: f64 = rand::rng().random();
        let mut edge = rule.rate_429;
        let fault = if roll < edge {
            Fault::Throttle(rule.retry_after_seconds.max(1))
        } else if roll < {
            edge += rule.rate_500;
            edge
        } {
            Fault::ServerError
        } else if roll < {
            edge += rule.rate_503;
            edge
        } {
            Fault::Unavailable
        } else if roll < edge + rule.rate_drop {
            Fault::Drop
        } else {
            Fault::None
        };
        (rule.latency_ms, fault)
    }
}
