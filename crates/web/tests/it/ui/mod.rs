//! The browser UI over real HTTP: a small cookie-keeping client that posts forms the way a browser
//! does (with the page's form token), and checks on every page it reads (labels, languages).

mod browser;
mod crm;
mod engine;
mod signin;

pub use browser::Browser;
