//! Email addresses: case, plus-addressing, provider-specific dot rules, and role mailboxes that
//! identify a department rather than a person.

/// An email address in the form two spellings of one mailbox share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `local@domain`, lowercased, tag removed.
    pub address: String,
    /// Byte offset of the `@` in `address`.
    at: usize,
}

/// Providers that ignore dots in the local part (Gmail documents this for its own addresses).
const DOTLESS_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];

/// Mailboxes shared by a team; they say which company, not which person.
const ROLE_LOCALS: &[&str] = &[
    "admin",
    "contact",
    "contatti",
    "contacto",
    "enquiries",
    "hello",
    "help",
    "hr",
    "info",
    "mail",
    "marketing",
    "office",
    "post",
    "sales",
    "service",
    "support",
    "team",
    "vendite",
];

/// Free mail providers: a shared domain here says nothing about the employer.
const FREE_MAIL: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.de",
    "gmx.net",
    "hotmail.com",
    "icloud.com",
    "libero.it",
    "live.com",
    "mail.com",
    "me.com",
    "orange.fr",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "t-online.de",
    "web.de",
    "yahoo.com",
    "ziggo.nl",
];

impl Email {
    /// Normalises an address; `None` when it is not plausibly an address.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw
            .trim()
            .trim_start_matches("mailto:")
            .trim_matches(|c| c == '<' || c == '>');
        let (local, domain) = raw.rsplit_once('@')?;
        let mut domain = domain.trim_end_matches('.').to_lowercase();
        if domain == "googlemail.com" {
            domain = "gmail.com".to_string();
        }
        let mut local = local.to_lowercase();
        if let Some(plus) = local.find('+') {
            local.truncate(plus);
        }
        if DOTLESS_DOMAINS.contains(&domain.as_str()) {
            local.retain(|c| c != '.');
        }
        let valid = |s: &str| {
            !s.is_empty()
                && !s
                    .chars()
                    .any(|c| c.is_whitespace() || c == '@' || c.is_control())
        };
        if !valid(&local)
            || !valid(&domain)
            || !domain.contains('.')
            || local.len() + domain.len() > 254
        {
            return None;
        }
        let at = local.len();
        Some(Self {
            address: format!("{local}@{domain}"),
            at,
        })
    }

    pub fn local(&self) -> &str {
        &self.address[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// A team mailbox such as `info@` or `sales@`.
    pub fn is_role(&self) -> bool {
        is_role_local(self.local())
    }
}

pub fn is_role_local(local: &str) -> bool {
    ROLE_LOCALS.contains(&local)
}

pub fn is_free_mail(domain: &str) -> bool {
    FREE_MAIL.contains(&domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Option<String> {
        Email::parse(s).map(|e| e.address)
    }

    #[test]
    fn case_and_plus_addressing() {
        assert_eq!(
            norm(" John.Smith+crm@Acme.COM "),
            Some("john.smith@acme.com".into())
        );
        assert_eq!(norm("mailto:<a@b.io>"), Some("a@b.io".into()));
    }

    #[test]
    fn gmail_ignores_dots() {
        assert_eq!(norm("J.Smith@googlemail.com"), norm("jsmith@gmail.com"));
        assert_ne!(norm("j.smith@acme.com"), norm("jsmith@acme.com"));
    }

    #[test]
    fn rejects_non_addresses() {
        for bad in [
            "",
            "john",
            "@acme.com",
            "john@",
            "john@localhost",
            "jo hn@acme.com",
            "+@acme.com",
        ] {
            assert_eq!(norm(bad), None, "{bad}");
        }
    }

    #[test]
    fn role_mailboxes() {
        assert!(Email::parse("Info@acme.com").is_some_and(|e| e.is_role()));
        assert!(Email::parse("ann@acme.com").is_some_and(|e| !e.is_role()));
        assert_eq!(
            Email::parse("a.b@x.org").map(|e| (e.local().to_string(), e.domain().to_string())),
            Some(("a.b".into(), "x.org".into()))
        );
    }
}
