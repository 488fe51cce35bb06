//! Countries: names, ISO codes and native spellings to one ISO 3166 alpha-2 code, with the
//! dialling facts phone normalisation needs (calling code, national trunk prefix).

use crate::text::fold;

/// One country: ISO alpha-2, calling code, national trunk prefix, and folded names it goes by.
pub struct Country {
    pub iso2: &'static str,
    pub calling_code: &'static str,
    /// Digit dialled before national numbers and dropped internationally ("0" in the UK); Italy
    /// keeps its leading 0 internationally, so it has none here (ITU-T E.164 national plans).
    pub trunk_prefix: &'static str,
    names: &'static [&'static str],
}

const COUNTRIES: &[Country] = &[
    Country {
        iso2: "us",
        calling_code: "1",
        trunk_prefix: "1",
        names: &[
            "usa",
            "united states",
            "united states of america",
            "u s",
            "u s a",
            "america",
        ],
    },
    Country {
        iso2: "ca",
        calling_code: "1",
        trunk_prefix: "1",
        names: &["canada"],
    },
    Country {
        iso2: "gb",
        calling_code: "44",
        trunk_prefix: "0",
        names: &[
            "uk",
            "u k",
            "united kingdom",
            "great britain",
            "britain",
            "england",
            "scotland",
            "wales",
            "northern ireland",
        ],
    },
    Country {
        iso2: "ie",
        calling_code: "353",
        trunk_prefix: "0",
        names: &["ireland", "eire"],
    },
    Country {
        iso2: "it",
        calling_code: "39",
        trunk_prefix: "",
        names: &["italy", "italia"],
    },
    Country {
        iso2: "es",
        calling_code: "34",
        trunk_prefix: "",
        names: &["spain", "espana"],
    },
    Country {
        iso2: "pt",
        calling_code: "351",
        trunk_prefix: "",
        names: &["portugal"],
    },
    Country {
        iso2: "fr",
        calling_code: "33",
        trunk_prefix: "0",
        names: &["france"],
    },
    Country {
        iso2: "nl",
        calling_code: "31",
        trunk_prefix: "0",
        names: &["netherlands", "the netherlands", "nederland", "holland"],
    },
    Country {
        iso2: "be",
        calling_code: "32",
        trunk_prefix: "0",
        names: &["belgium", "belgique", "belgie", "belgien"],
    },
    Country {
        iso2: "lu",
        calling_code: "352",
        trunk_prefix: "",
        names: &["luxembourg", "luxemburg"],
    },
    Country {
        iso2: "de",
        calling_code: "49",
        trunk_prefix: "0",
        names: &["germany", "deutschland"],
    },
    Country {
        iso2: "at",
        calling_code: "43",
        trunk_prefix: "0",
        names: &["austria", "osterreich", "oesterreich"],
    },
    Country {
        iso2: "ch",
        calling_code: "41",
        trunk_prefix: "0",
        names: &["switzerland", "schweiz", "suisse", "svizzera"],
    },
    Country {
        iso2: "pl",
        calling_code: "48",
        trunk_prefix: "",
        names: &["poland", "polska"],
    },
    Country {
        iso2: "se",
        calling_code: "46",
        trunk_prefix: "0",
        names: &["sweden", "sverige"],
    },
    Country {
        iso2: "no",
        calling_code: "47",
        trunk_prefix: "",
        names: &["norway", "norge"],
    },
    Country {
        iso2: "dk",
        calling_code: "45",
        trunk_prefix: "",
        names: &["denmark", "danmark"],
    },
    Country {
        iso2: "fi",
        calling_code: "358",
        trunk_prefix: "0",
        names: &["finland", "suomi"],
    },
    Country {
        iso2: "br",
        calling_code: "55",
        trunk_prefix: "0",
        names: &["brazil", "brasil"],
    },
    Country {
        iso2: "mx",
        calling_code: "52",
        trunk_prefix: "",
        names: &["mexico"],
    },
    Country {
        iso2: "ar",
        calling_code: "54",
        trunk_prefix: "0",
        names: &["argentina"],
    },
    Country {
        iso2: "au",
        calling_code: "61",
        trunk_prefix: "0",
        names: &["australia"],
    },
    Country {
        iso2: "nz",
        calling_code: "64",
        trunk_prefix: "0",
        names: &["new zealand"],
    },
    Country {
        iso2: "in",
        calling_code: "91",
        trunk_prefix: "0",
        names: &["india"],
    },
    Country {
        iso2: "jp",
        calling_code: "81",
        trunk_prefix: "0",
        names: &["japan"],
    },
    Country {
        iso2: "cn",
        calling_code: "86",
        trunk_prefix: "0",
        names: &["china"],
    },
    Country {
        iso2: "za",
        calling_code: "27",
        trunk_prefix: "0",
        names: &["south africa"],
    },
];

/// The country named by `raw` (ISO alpha-2, alpha-3 or a common name); `None` when unknown.
pub fn lookup(raw: &str) -> Option<&'static Country> {
    let folded = fold(raw);
    if folded.is_empty() {
        return None;
    }
    COUNTRIES
        .iter()
        .find(|c| c.iso2 == folded || c.names.contains(&folded.as_str()))
        .or_else(|| {
            let alpha3 = match folded.as_str() {
                "gbr" => "gb",
                "ita" => "it",
                "esp" => "es",
                "prt" => "pt",
                "fra" => "fr",
                "nld" => "nl",
                "bel" => "be",
                "deu" => "de",
                "aut" => "at",
                "che" => "ch",
                "irl" => "ie",
                "can" => "ca",
                "bra" => "br",
                "mex" => "mx",
                "aus" => "au",
                _ => return None,
            };
            COUNTRIES.iter().find(|c| c.iso2 == alpha3)
        })
}

/// A normalised country value: the ISO code when known, otherwise the folded text.
pub fn normalise(raw: &str) -> String {
    lookup(raw)
        .map(|c| c.iso2.to_string())
        .unwrap_or_else(|| fold(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        for raw in ["Italy", "ITALIA", "it", "ITA"] {
            assert_eq!(lookup(raw).map(|c| c.iso2), Some("it"), "{raw}");
        }
        for raw in ["United Kingdom", "UK", "U.K.", "gb", "England"] {
            assert_eq!(lookup(raw).map(|c| c.iso2), Some("gb"), "{raw}");
        }
        assert_eq!(lookup("España").map(|c| c.iso2), Some("es"));
        assert_eq!(lookup("Österreich").map(|c| c.iso2), Some("at"));
        assert_eq!(normalise("Narnia"), "narnia");
        assert!(lookup("").is_none());
    }
}
