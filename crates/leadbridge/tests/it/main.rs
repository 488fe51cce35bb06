//! The product walked in a real browser: the demo started in-process exactly as `leadbridge
//! demo` starts it, headless Chromium driven through WebDriver, the CRM checked through the
//! emulator's Web API.

// Fixtures are built by the tests themselves; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod browser;
mod crm;
mod demo;
mod walk;
