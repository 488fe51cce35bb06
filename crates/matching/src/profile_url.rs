//! Profile URLs (LinkedIn and other networks) to one canonical `host/path` form, so that scheme,
//! `www.`, country subdomains, query strings, sub-pages and percent-encoding do not matter.

/// Canonical form of a profile URL, e.g. `linkedin.com/in/jane-doe`; `None` when it has no path.
pub fn canonical(raw: &str) -> Option<String> {
    let s = raw.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split(['?', '#']).next().unwrap_or("");
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host
        .split(':')
        .next()
        .unwrap_or(host)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let host = linkedin_host(host).unwrap_or(host);
    if host.is_empty() || !host.contains('.') {
        return None;
    }
    let decoded = percent_decode(path).to_lowercase();
    let segments: Vec<&str> = decoded.split('/').filter(|p| !p.is_empty()).collect();
    // LinkedIn's public profile is `/in/<slug>`; anything after the slug is a sub-page of it.
    let segments = match (host, segments.as_slice()) {
        ("linkedin.com", ["in", slug, ..]) => vec!["in", *slug],
        _ => segments,
    };
    if segments.is_empty() {
        return None;
    }
    Some(format!("{host}/{}", segments.join("/")))
}

/// `uk.linkedin.com`, `it.linkedin.com` and `linkedin.com` serve the same profiles.
fn linkedin_host(host: &str) -> Option<&'static str> {
    (host == "linkedin.com" || host.ends_with(".linkedin.com")).then_some("linkedin.com")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn linkedin_variants_agree() {
        let want = Some("linkedin.com/in/jane-doe-1a2b".to_string());
        for raw in [
            "https://www.linkedin.com/in/jane-doe-1a2b/",
            "http://uk.linkedin.com/in/Jane-Doe-1a2b?trk=abc",
            "linkedin.com/in/jane-doe-1a2b/details/experience/",
            "HTTPS://LinkedIn.com/in/jane-doe-1a2b#top",
        ] {
            assert_eq!(canonical(raw), want, "{raw}");
        }
    }

    #[test]
    fn percent_encoding_is_decoded() {
        assert_eq!(
            canonical("https://it.linkedin.com/in/nicol%C3%B2-rossi"),
            Some("linkedin.com/in/nicolò-rossi".into())
        );
    }

    #[test]
    fn other_networks_keep_their_path() {
        assert_eq!(
            canonical("https://www.xing.com/profile/Max_Mustermann/"),
            Some("xing.com/profile/max_mustermann".into())
        );
        assert_eq!(canonical("https://linkedin.com/"), None);
        assert_eq!(canonical("not a url"), None);
    }

    proptest! {
        #[test]
        fn canonical_is_a_fixed_point(slug in "[a-z0-9-]{1,20}", www in any::<bool>(), slash in any::<bool>()) {
            let raw = format!("https://{}linkedin.com/in/{slug}{}", if www { "www." } else { "" }, if slash { "/" } else { "" });
            let once = canonical(&raw);
            prop_assert_eq!(once.clone().and_then(|c| canonical(&c)), once);
        }
    }
}
