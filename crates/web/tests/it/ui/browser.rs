//! A browser as far as the server can tell: cookies kept from `Set-Cookie`, forms posted as
//! `application/x-www-form-urlencoded` with the form token the page carried, redirects reported
//! (not followed) so tests see where they lead.

use std::collections::BTreeMap;

use crate::harness::{PASSWORD, TestApp};

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The form token of the page's first form.
    pub fn csrf(&self) -> String {
        self.hidden("csrf")
            .unwrap_or_else(|| panic!("no form token on the page:\n{}", self.body))
    }

    /// The value of the first hidden input called `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }

    /// Whether the page shows `text` (as written, or once HTML escapes are read).
    pub fn contains(&self, text: &str) -> bool {
        self.body.contains(text) || self.text().contains(text)
    }

    /// The body with the escapes askama writes turned back into characters.
    pub fn text(&self) -> String {
        self.body
            .replace("&#39;", "'")
            .replace("&#34;", "\"")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
    }

    /// Every form control a person fills in has a label (or an aria-label).
    pub fn assert_labelled(&self) {
        let body = &self.body;
        for tag in ["<input", "<select", "<textarea"] {
            for piece in body.split(tag).skip(1) {
                let element = &piece[..piece.find('>').unwrap()];
                if ["type=\"hidden\"", "type=\"submit\""]
                    .iter()
                    .any(|t| element.contains(t))
                    || element.contains("aria-label=")
                {
                    continue;
                }
                let id = element
                    .split("id=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_else(|| panic!("{tag}{element}> has no id for a label"));
                assert!(
                    body.contains(&format!("for=\"{id}\"")),
                    "{tag}{element}> has no <label for=\"{id}\">"
                );
            }
        }
    }
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `Accept-Language`.
    pub accept_language: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let mut request = request.header("cookie", self.cookie_header());
        if let Some(lang) = &self.accept_language {
            request = request.header("accept-language", lang);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, cookie) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), cookie.to_owned());
            }
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A request as htmx sends it (it then wants a fragment).
    pub async fn htmx_get(&mut self, path: &str) -> Page {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("hx-request", "true");
        self.send(request).await
    }

    /// Posts the fields as a form, exactly as given (add the token yourself).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts a form with the token of the page it was on.
    pub async fn post(&mut self, path: &str, on: &Page, fields: &[(&str, &str)]) -> Page {
        let csrf = on.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Signs in through the sign-in page with the test password.
    pub async fn sign_in(&mut self, email: &str) -> Page {
        let page = self.get("/signin").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let done = self
            .post(
                "/signin",
                &page,
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(done.status, 303, "sign-in of {email}: {}", done.body);
        assert!(self.cookies.contains_key("lb_session"));
        done
    }
}
