//! The session cookie on the wire: reading it from `Cookie` headers and writing the `Set-Cookie`
//! that opens (HttpOnly, SameSite=Lax, Secure behind TLS) or clears it.

use chrono::TimeDelta;
use http::{HeaderMap, HeaderValue, header};

use crate::state::CookieSecurity;

/// The value of the named cookie, from any of the `Cookie` headers (HTTP/2 may split them).
pub fn find(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether the request reached us over HTTPS, as far as a cookie needs to know.
pub fn secure(policy: CookieSecurity, headers: &HeaderMap) -> bool {
    match policy {
        CookieSecurity::Always => true,
        CookieSecurity::Auto => headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https")),
    }
}

/// `Set-Cookie` for a new session. The value is a random token of URL-safe characters.
pub fn set(name: &str, value: &str, max_age: TimeDelta, secure: bool) -> Option<HeaderValue> {
    let mut cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.num_seconds().max(0)
    );
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).ok()
}

/// `Set-Cookie` that makes the browser forget the cookie.
pub fn clear(name: &str, secure: bool) -> HeaderValue {
    let cookie = format!(
        "{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_others_and_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; a=1"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("lb_session=lbs_x;b=2"),
        );
        assert_eq!(find(&headers, "lb_session").as_deref(), Some("lbs_x"));
        assert_eq!(find(&headers, "a").as_deref(), Some("1"));
        assert_eq!(find(&headers, "missing"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("lb_session="));
        assert_eq!(find(&headers, "lb_session"), None);
    }

    #[test]
    fn session_cookie_attributes() {
        let c = set("lb_session", "lbs_x", TimeDelta::hours(1), false).unwrap();
        assert_eq!(
            c,
            "lb_session=lbs_x; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"
        );
        let c = set("lb_session", "lbs_x", TimeDelta::hours(1), true).unwrap();
        assert!(c.to_str().unwrap().ends_with("; Secure"));
        assert!(
            clear("lb_session", false)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[test]
    fn secure_when_configured_or_forwarded_over_https() {
        let mut headers = HeaderMap::new();
        assert!(secure(CookieSecurity::Always, &headers));
        assert!(!secure(CookieSecurity::Auto, &headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(secure(CookieSecurity::Auto, &headers));
    }
}
