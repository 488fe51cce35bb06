//! Headless Chromium for the walks: Debian's `chromium` (a fresh profile for each walk) driven
//! through `chromedriver` (on a free port for each walk), WebDriver from Rust, and a screenshot of
//! every step under `<target>/tmp/screenshots/<walk>/NN-step.png`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to show what a step waits for.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// Whether the browser walks can run here; `None` when `LEADBRIDGE_SKIP_BROWSER=1` says to skip
/// them, a failure when the packages are missing (CI installs them).
pub fn available() -> bool {
    if std::env::var("LEADBRIDGE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("LEADBRIDGE_SKIP_BROWSER=1: browser walk skipped");
        return false;
    }
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: `apt-get install chromium chromium-driver` (or set \
             LEADBRIDGE_SKIP_BROWSER=1 to skip the browser walks)"
        );
    }
    true
}

pub struct Browser {
    pub client: Client,
    processes: Processes,
    shots: PathBuf,
    step: u32,
    /// The server's time for each page and fragment shown so far (its `Server-Timing`).
    server_times: Vec<(String, f64)>,
    _profile: tempfile::TempDir,
}

/// The `Server-Timing` of the page shown (once per page) and of the requests it made since the
/// last call: `[url, milliseconds]` pairs.
const SERVER_TIMES: &str = r#"
const out = [];
const nav = performance.getEntriesByType('navigation')[0];
if (nav && !window.__serverTimed) {
  window.__serverTimed = true;
  for (const t of nav.serverTiming) if (t.name === 'app') out.push([nav.name, t.duration]);
}
for (const r of performance.getEntriesByType('resource'))
  for (const t of r.serverTiming) if (t.name === 'app') out.push([r.name, t.duration]);
performance.clearResourceTimings();
return out;
"#;

/// A URL as a route: without its origin and query, ids replaced by `{id}`.
fn route_of(url: &str) -> String {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.split('/')
        .map(|segment| {
            if uuid::Uuid::parse_str(segment).is_ok() {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something listens on `address`.
async fn listening(address: SocketAddr, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start listening on {address}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(program: &str, args: &[String]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} does not start: {e}"))
}

impl Browser {
    /// A new browser whose preferred language is `accept_language` (e.g. `fr-FR,fr`); its
    /// screenshots go to `screenshots/<walk>/`.
    ///
    /// Chromium is started here (a child of the test, so that the test alone ends it, by its
    /// process id) and chromedriver attaches to it through its DevTools port.
    pub async fn start(walk: &str, accept_language: &str) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        // The browser's languages are a preference of the profile, as a user would set them.
        let default_profile = profile.path().join("Default");
        std::fs::create_dir_all(&default_profile).expect("the profile's directory");
        std::fs::write(
            default_profile.join("Preferences"),
            json!({"intl": {"accept_languages": accept_language}}).to_string(),
        )
        .expect("the profile's preferences");
        let devtools = free_port();
        let chromium = spawn(
            CHROMIUM,
            &[
                "--headless".into(),
                "--no-sandbox".into(),
                "--disable-gpu".into(),
                "--disable-dev-shm-usage".into(),
                "--disable-quic".into(),
                "--no-first-run".into(),
                "--no-default-browser-check".into(),
                "--disable-background-networking".into(),
                "--disable-component-update".into(),
                "--disable-sync".into(),
                "--ignore-certificate-errors".into(),
                "--window-size=1280,1000".into(),
                format!("--remote-debugging-port={devtools}"),
                format!("--user-data-dir={}", profile.path().display()),
                "about:blank".into(),
            ],
        );
        let devtools = SocketAddr::from(([127, 0, 0, 1], devtools));
        let port = free_port();
        let driver = spawn(CHROMEDRIVER, &[format!("--port={port}")]);
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut processes = Processes { chromium, driver };
        listening(devtools, "Chromium").await;
        listening(address, "chromedriver").await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("acceptInsecureCerts".into(), json!(true));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"debuggerAddress": devtools.to_string()}),
        );
        let client =
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://{address}"))
                .await
            {
                Ok(client) => client,
                Err(e) => {
                    processes.end();
                    panic!("no WebDriver session with headless Chromium: {e}");
                }
            };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("screenshots")
            .join(walk);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("the screenshot directory");
        Browser {
            client,
            processes,
            shots,
            step: 0,
            server_times: Vec::new(),
            _profile: profile,
        }
    }

    /// Saves a screenshot of the page as the walk's next step, and notes the server's time for it.
    pub async fn shot(&mut self, name: &str) {
        self.step += 1;
        if let Ok(times) = self.client.execute(SERVER_TIMES, Vec::new()).await {
            for pair in times.as_array().into_iter().flatten() {
                if let (Some(url), Some(ms)) = (pair[0].as_str(), pair[1].as_f64()) {
                    self.server_times.push((route_of(url), ms));
                }
            }
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).expect("the screenshot is saved");
    }

    /// Scrolls `css` to the middle of the window, then saves the step's screenshot.
    pub async fn shot_at(&mut self, css: &str, name: &str) {
        self.find(css).await;
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
                vec![json!(css)],
            )
            .await
            .expect("the page scrolls");
        self.shot(name).await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("elements are looked up")
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("the click lands");
    }

    /// Types `text` into the (emptied) field `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field is emptied");
        field.send_keys(text).await.expect("the text is typed");
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .expect("the element's text")
    }

    /// The page's visible text; empty while a navigation replaces the page.
    pub async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Resizes the browser window (in headless Chromium the viewport follows it).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resizing the window");
    }

    /// How many pixels the page is wider than the window: above 0, a reader has to scroll
    /// sideways to see all of it.
    pub async fn horizontal_overflow(&self) -> i64 {
        self.client
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                Vec::new(),
            )
            .await
            .expect("measuring the page")
            .as_i64()
            .unwrap_or(0)
    }

    /// Presses and releases `key` (a character or a [`fantoccini::key::Key`]) on the keyboard, as
    /// a user would: it goes to whatever has the focus.
    pub async fn press(&self, key: impl Into<char>) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let key = key.into();
        self.client
            .perform_actions(
                KeyActions::new("keyboard".into())
                    .then(KeyAction::Down { value: key })
                    .then(KeyAction::Up { value: key }),
            )
            .await
            .expect("the key is pressed");
    }

    /// Types `text` into whatever has the focus, key by key.
    pub async fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.press(c).await;
        }
    }

    /// Whether the element with the focus matches `css`.
    pub async fn focused(&self, css: &str) -> bool {
        self.client
            .execute(
                "const a = document.activeElement; return !!a && a.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .expect("the focus is looked up")
            .as_bool()
            .unwrap_or(false)
    }

    /// Presses Tab until `css` has the focus, as a keyboard user reaches a control; fails after
    /// `limit` presses. Checks that each control reached shows where the focus is (an outline or
    /// a shadow), since a keyboard user cannot see it otherwise. Returns the presses it took.
    pub async fn tab_to(&self, css: &str, limit: usize) -> usize {
        for presses in 0..=limit {
            if self.focused(css).await {
                let ring = self
                    .client
                    .execute(
                        "const s = getComputedStyle(document.activeElement); \
                         return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) \
                             || s.boxShadow !== 'none';",
                        Vec::new(),
                    )
                    .await
                    .expect("the focus ring is looked up");
                assert_eq!(
                    ring,
                    json!(true),
                    "{css} has the focus but does not show it"
                );
                return presses;
            }
            self.press(fantoccini::key::Key::Tab).await;
        }
        panic!(
            "{css} not reached with {limit} presses of Tab on {}",
            self.url().await
        );
    }

    /// The document's language (`<html lang>`).
    pub async fn lang(&self) -> String {
        self.find("html")
            .await
            .attr("lang")
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Reloads `url` until `check` holds for the page's HTML, then returns it.
    pub async fn reload_until(
        &self,
        url: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.goto(url).await;
            let html = self.source().await;
            if check(&html) {
                return html;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {what} on {url}:\n{html}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Ends the session and writes the server times noted into `server-times.tsv` beside the
    /// screenshots (route, milliseconds).
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.processes.end();
        let lines: String = self
            .server_times
            .iter()
            .map(|(route, ms)| format!("{route}\t{ms:.1}\n"))
            .collect();
        std::fs::write(self.shots.join("server-times.tsv"), lines).expect("the times are saved");
    }
}

/// The walk's Chromium and chromedriver, ended (each by its own process id) when the walk ends,
/// also when it fails half-way.
struct Processes {
    chromium: Child,
    driver: Child,
}

impl Processes {
    fn end(&mut self) {
        for child in [&mut self.driver, &mut self.chromium] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.end();
    }
}
