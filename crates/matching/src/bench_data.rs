//! Labelled benchmark data: deterministic synthetic CRM (right) and workspace (left) records with
//! the corruption real exports show, plus the truth of which left record is which right record.

use std::collections::HashSet;

use serde::Serialize;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::person_name::nicknames_of;
use crate::record::{CompanyRecord, PersonRecord};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct BenchConfig {
    /// Records on each side.
    pub size: usize,
    pub seed: u64,
    /// Share of left records that are a corrupted copy of a right record.
    pub match_rate: f64,
}

impl BenchConfig {
    pub fn new(size: usize, seed: u64) -> Self {
        Self {
            size,
            seed,
            match_rate: 0.5,
        }
    }
}

/// The hard change applied to a workspace copy, if any (see [`TruthPair::change`]).
type Change = Option<&'static str>;

/// One left record that really is a right record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruthPair {
    pub left_id: String,
    pub right_id: String,
    /// The change that makes this pair hard to find, when there is one: `job_change` (the
    /// person moved to another company) or `moved` (the company moved to another address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Change,
}

/// One generated data set; `truth` pairs a left id with the right id it really is.
pub struct Dataset<R> {
    pub left: Vec<R>,
    pub right: Vec<R>,
    pub truth: Vec<TruthPair>,
}

/// SplitMix64: tiny, fast, and its output for a seed never changes between versions (unlike
/// `rand`'s `StdRng`), which keeps published benchmark numbers reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5eed_5eed_5eed_5eed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick_copy<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Skewed towards the start of the list: real name frequencies are heavy-headed, which is
    /// what produces many "John Smith"s.
    fn pick_skewed<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let u = self.unit().powf(1.5);
        &items[(u * items.len() as f64) as usize % items.len()]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A language/country: names, places and formats as they are written there.
struct Locale {
    country: &'static str,
    iso2: &'static str,
    calling_code: &'static str,
    trunk: &'static str,
    national_digits: usize,
    tld: &'static str,
    first: &'static [&'static str],
    last: &'static [&'static str],
    /// Parts of synthetic family and company names. Within a list no two parts are one typo
    /// apart, so generated names are not systematically near-duplicates of each other.
    syllables: [&'static [&'static str]; 3],
    cities: &'static [(&'static str, &'static str, &'static str)],
    streets: &'static [&'static str],
    legal: &'static [&'static str],
    descriptors: &'static [&'static str],
}

#[rustfmt::skip]
const LOCALES: &[Locale] = &[
    Locale {
        country: "United States",
        iso2: "US",
        calling_code: "1",
        trunk: "1",
        national_digits: 10,
        tld: "com",
        first: &[
            "John", "Michael", "Robert", "William", "James", "David", "Mary", "Jennifer",
            "Elizabeth", "Patricia", "Richard", "Thomas", "Christopher", "Daniel", "Matthew",
            "Linda", "Susan", "Jessica", "Sarah", "Karen", "Steven", "Andrew", "Katherine",
            "Margaret", "Anthony", "Joseph", "Emily", "Ashley", "Brian", "Kevin",
        ],
        last: &[
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
            "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "Clark", "Lewis",
            "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green",
            "Adams", "Baker", "Nelson", "Carter",
        ],
        syllables: [
            &[
                "Ash", "Brad", "Cal", "Dun", "Ell", "Fair", "Gar", "Hol", "Kend", "Lang", "Mor",
                "Pem", "Ray", "Stan", "Thorn", "Wes",
            ],
            &["er", "ing", "ley", "ton", "ford", "wood", "by", "ham"],
            &["", "son", "ridge", "well", "field", "more"],
        ],
        cities: &[
            ("New York", "100", "NY"), ("Chicago", "606", "IL"), ("Austin", "787", "TX"),
            ("Seattle", "981", "WA"), ("Boston", "021", "MA"), ("Denver", "802", "CO"),
            ("Atlanta", "303", "GA"), ("San Diego", "921", "CA"),
        ],
        streets: &[
            "Main Street", "Oak Avenue", "Maple Drive", "Park Road", "Cedar Lane",
            "Washington Boulevard",
        ],
        legal: &["Inc.", "Inc", "LLC", "Corp.", "Corporation", "Co."],
        descriptors: &[
            "Systems", "Logistics", "Software", "Partners", "Capital", "Foods", "Health",
            "Analytics",
        ],
    },
    Locale {
        country: "United Kingdom",
        iso2: "GB",
        calling_code: "44",
        trunk: "0",
        national_digits: 10,
        tld: "co.uk",
        first: &[
            "Oliver", "George", "Harry", "Jack", "Charlotte", "Amelia", "Olivia", "Emily",
            "William", "Thomas", "James", "Sophie", "Lucy", "Daniel", "Edward", "Alice",
        ],
        last: &[
            "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts",
            "Walker", "Wright", "Thompson", "O'Brien", "MacDonald", "Hughes", "Edwards",
        ],
        syllables: [
            &[
                "Ald", "Bram", "Chis", "Dews", "Eg", "Fen", "Grim", "Hart", "Ket", "Lyd", "Mar",
                "Pen", "Rad", "Sher",
            ],
            &["ing", "ley", "ton", "wick", "stone", "bury"],
            &["", "ham", "worth", "more"],
        ],
        cities: &[
            ("London", "SW1", "England"), ("Manchester", "M1", "England"),
            ("Leeds", "LS1", "England"), ("Bristol", "BS1", "England"),
            ("Glasgow", "G1", "Scotland"), ("Cardiff", "CF1", "Wales"),
        ],
        streets: &["High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane"],
        legal: &["Ltd", "Ltd.", "Limited", "PLC", "LLP"],
        descriptors: &["Consulting", "Engineering", "Trading", "Holdings", "Media", "Logistics"],
    },
    Locale {
        country: "Italy",
        iso2: "IT",
        calling_code: "39",
        trunk: "",
        national_digits: 10,
        tld: "it",
        first: &[
            "Giovanni", "Giuseppe", "Marco", "Luca", "Francesco", "Alessandro", "Andrea", "Matteo",
            "Giulia", "Francesca", "Chiara", "Sara", "Martina", "Paolo", "Lorenzo", "Nicolò",
            "Federica", "Elena", "Roberto", "Antonio",
        ],
        last: &[
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
            "Lombardi", "Moretti", "Barbieri",
        ],
        syllables: [
            &[
                "Bel", "Ca", "Fer", "Gal", "Lom", "Mar", "Pel", "Ros", "San", "Tor", "Val", "Zan",
                "Bor", "Cre", "Fo",
            ],
            &["li", "et", "on", "uc", "ar", "ib"],
            &["ini", "etti", "ozzi", "ucci", "ardi", "ato", "ese", "elli"],
        ],
        cities: &[
            ("Milano", "201", "Lombardia"), ("Roma", "001", "Lazio"), ("Torino", "101", "Piemonte"),
            ("Bologna", "401", "Emilia-Romagna"), ("Napoli", "801", "Campania"),
            ("Firenze", "501", "Toscana"),
        ],
        streets: &[
            "Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante", "Viale Europa",
            "Piazza Duomo",
        ],
        legal: &["S.p.A.", "SpA", "S.r.l.", "Srl", "S.R.L."],
        descriptors: &["Costruzioni", "Logistica", "Alimentari", "Meccanica", "Servizi", "Tessile"],
    },
    Locale {
        country: "Spain",
        iso2: "ES",
        calling_code: "34",
        trunk: "",
        national_digits: 9,
        tld: "es",
        first: &[
            "José", "María", "Juan", "Carlos", "Javier", "Sofía", "Lucía", "Pablo", "Álvaro",
            "Inés", "Raúl", "Carmen", "Antonio", "Manuel", "Laura", "Sergio",
        ],
        last: &[
            "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
            "Gómez", "Jiménez", "Muñoz", "Ruiz", "Díaz", "Moreno", "Álvarez", "Romero",
        ],
        syllables: [
            &[
                "Al", "Bar", "Cas", "Ech", "Gal", "Ib", "Lar", "Men", "Ol", "Sal", "Ur", "Var",
            ],
            &["ar", "ev", "ol", "and", "iz", "um"],
            &["ez", "ero", "oso", "illa", "ano", "ena"],
        ],
        cities: &[
            ("Madrid", "280", "Madrid"), ("Barcelona", "080", "Cataluña"),
            ("Valencia", "460", "Comunidad Valenciana"), ("Sevilla", "410", "Andalucía"),
            ("Bilbao", "480", "País Vasco"),
        ],
        streets: &[
            "Calle Mayor", "Avenida de la Constitución", "Calle Real", "Gran Vía",
            "Paseo del Prado",
        ],
        legal: &["S.A.", "SA", "S.L.", "SL"],
        descriptors: &[
            "Construcciones", "Logística", "Alimentación", "Ingeniería", "Servicios", "Energía",
        ],
    },
    Locale {
        country: "France",
        iso2: "FR",
        calling_code: "33",
        trunk: "0",
        national_digits: 9,
        tld: "fr",
        first: &[
            "François", "Jérôme", "Hélène", "Amélie", "Céline", "Benoît", "Léa", "Chloé", "Pierre",
            "Jean", "Élodie", "Nicolas", "Julien", "Camille", "Sophie", "Thomas",
        ],
        last: &[
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Roux",
        ],
        syllables: [
            &[
                "Bou", "Cha", "Dela", "Fon", "Gir", "Lam", "Mar", "Pou", "Rou", "Ver", "Ber", "Cou",
            ],
            &["ch", "ill", "rr", "nt", "ss", "v"],
            &["et", "ier", "and", "eau", "ain", "ois"],
        ],
        cities: &[
            ("Paris", "750", "Île-de-France"), ("Lyon", "690", "Auvergne-Rhône-Alpes"),
            ("Marseille", "130", "Provence-Alpes-Côte d'Azur"), ("Toulouse", "310", "Occitanie"),
            ("Lille", "590", "Hauts-de-France"),
        ],
        streets: &[
            "Rue de la Paix", "Avenue Victor Hugo", "Boulevard Saint-Michel", "Rue du Commerce",
            "Place de la République",
        ],
        legal: &["SARL", "S.A.R.L.", "SAS", "S.A.S.", "SA"],
        descriptors: &[
            "Conseil", "Ingénierie", "Transports", "Distribution", "Industries", "Énergie",
        ],
    },
    Locale {
        country: "Netherlands",
        iso2: "NL",
        calling_code: "31",
        trunk: "0",
        national_digits: 9,
        tld: "nl",
        first: &[
            "Jan", "Pieter", "Sanne", "Bram", "Daan", "Femke", "Joost", "Maarten", "Lieke", "Sem",
            "Anouk", "Thijs", "Eva", "Ruben",
        ],
        last: &[
            "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
            "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
        ],
        syllables: [
            &[
                "Ber", "Dek", "Gro", "Hoog", "Kui", "Lin", "Over", "Rijk", "Stee", "Ven", "Wit",
                "Zwa",
            ],
            &["", "en", "ster", "kel"],
            &["man", "hof", "stra", "veld", "dijk", "kamp"],
        ],
        cities: &[
            ("Amsterdam", "101", "Noord-Holland"), ("Rotterdam", "301", "Zuid-Holland"),
            ("Utrecht", "351", "Utrecht"), ("Eindhoven", "561", "Noord-Brabant"),
            ("Groningen", "971", "Groningen"),
        ],
        streets: &["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat"],
        legal: &["B.V.", "BV", "N.V."],
        descriptors: &["Techniek", "Logistiek", "Bouw", "Advies", "Handel", "Software"],
    },
    Locale {
        country: "Portugal",
        iso2: "PT",
        calling_code: "351",
        trunk: "",
        national_digits: 9,
        tld: "pt",
        first: &[
            "João", "Gonçalo", "Inês", "Tiago", "Luís", "André", "Beatriz", "Mariana", "Rui", "Ana",
            "Catarina", "Diogo",
        ],
        last: &[
            "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
            "Gonçalves", "Sousa", "Fernandes", "Lopes",
        ],
        syllables: [
            &[
                "Ab", "Bran", "Cor", "Fal", "Gou", "Mag", "Pin", "Quei", "Tav", "Val",
            ],
            &["ar", "ei", "ou", "im"],
            &["es", "ão", "eira", "inho", "oso"],
        ],
        cities: &[
            ("Lisboa", "1000", "Lisboa"), ("Porto", "4000", "Porto"), ("Braga", "4700", "Braga"),
            ("Coimbra", "3000", "Coimbra"),
        ],
        streets: &[
            "Rua Augusta", "Avenida da Liberdade", "Rua de Santa Catarina", "Praça do Comércio",
        ],
        legal: &["Lda", "Lda.", "S.A."],
        descriptors: &["Construções", "Logística", "Serviços", "Tecnologia", "Vinhos"],
    },
    Locale {
        country: "Germany",
        iso2: "DE",
        calling_code: "49",
        trunk: "0",
        national_digits: 10,
        tld: "de",
        first: &[
            "Jürgen", "Jörg", "Björn", "Lukas", "Anna", "Katharina", "Stefan", "Thomas", "Michael",
            "Sabine", "Andreas", "Julia", "Tobias", "Lena",
        ],
        last: &[
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Köhler",
        ],
        syllables: [
            &[
                "Alt", "Brand", "Eck", "Fried", "Groß", "Hein", "Lind", "Roth", "Stein", "Wald",
                "Kirch", "Bühl",
            ],
            &["", "en", "ster", "ling"],
            &["mann", "berg", "hof", "bach", "feld", "ner"],
        ],
        cities: &[
            ("Berlin", "101", "Berlin"), ("München", "803", "Bayern"),
            ("Hamburg", "203", "Hamburg"), ("Köln", "506", "Nordrhein-Westfalen"),
            ("Frankfurt am Main", "603", "Hessen"),
        ],
        streets: &["Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Dorfstraße"],
        legal: &["GmbH", "GmbH & Co. KG", "AG"],
        descriptors: &["Maschinenbau", "Logistik", "Technik", "Software", "Bau", "Handel"],
    },
];

#[rustfmt::skip]
const TITLES: &[&str] = &[
    "Sales Manager", "VP of Sales", "Chief Executive Officer", "CEO", "Head of Marketing",
    "Software Engineer", "Account Executive", "Procurement Director", "Operations Manager", "CFO",
    "Chief Financial Officer", "HR Business Partner", "Marketing Manager",
    "Senior Software Engineer", "Purchasing Manager", "Managing Director",
    "Business Development Manager", "IT Director", "Office Manager", "Product Manager",
];

#[rustfmt::skip]
const INDUSTRIES: &[&str] = &[
    "Manufacturing", "Software", "Retail", "Logistics", "Construction", "Food & Beverage",
    "Financial Services", "Healthcare", "Energy", "Consulting",
];

/// Company names several unrelated companies use.
#[rustfmt::skip]
const GENERIC_COMPANIES: &[&str] = &[
    "Global Solutions", "Prime Consulting", "Euro Trading", "Alpha Services", "Tech Partners",
    "Green Energy", "First Logistics", "Smart Systems",
];

/// Parts of made-up given names (Marlo, Teva…), shared by all locales.
#[rustfmt::skip]
const GIVEN_HEADS: &[&str] = &[
    "Al", "Be", "Ca", "Da", "El", "Fa", "Gi", "Ha", "Il", "Jo", "Ka", "Le", "Ma", "Ni", "Or", "Pa",
    "Ra", "Sa", "Te", "Va", "Ze", "Lu", "Mi", "Ro",
];
#[rustfmt::skip]
const GIVEN_TAILS: &[&str] = &[
    "na", "ra", "lo", "no", "ria", "ton", "lia", "ris", "mir", "vin", "da", "ka", "belle", "mon",
];

const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com", "hotmail.com"];

/// A real-world company, before any side's spelling of it.
#[derive(Clone)]
struct CompanyTruth {
    locale: usize,
    brand: String,
    legal: &'static str,
    domain_label: String,
    street: String,
    city: usize,
    postal: String,
    phone: String,
    industry: &'static str,
    employees: u32,
}

/// A real-world person.
#[derive(Clone)]
struct PersonTruth {
    locale: usize,
    first: String,
    last: String,
    company: usize,
    email_domain: String,
    email_local: String,
    title: &'static str,
    city: usize,
    postal: String,
    street: String,
    phone: String,
    slug: String,
}

fn ascii_fold(s: &str) -> String {
    s.nfkd().filter(|c| !is_combining_mark(*c)).collect()
}

fn slugify(s: &str) -> String {
    let folded = crate::text::fold(s);
    folded.replace(' ', "")
}

/// A made-up name in the locale's style. Real family names are a long tail (most people share
/// theirs with few others), so the space here is tens of thousands per locale.
fn synthetic_word(rng: &mut Rng, loc: &Locale) -> String {
    let [a, b, c] = loc.syllables;
    let head = rng.pick(a);
    if rng.chance(0.5) {
        format!("{head}{}{}", rng.pick(b), rng.pick(c))
    } else {
        let second = rng.pick(a).to_lowercase();
        format!("{head}{second}{}{}", rng.pick(b), rng.pick(c))
    }
}

fn national_number(rng: &mut Rng, loc: &Locale) -> String {
    let first = char::from(b'2' + rng.below(7) as u8);
    format!("{first}{}", rng.digits(loc.national_digits - 1))
}

/// Writes a national significant number the way people do: internationally, nationally with
/// the trunk prefix, with separators, brackets or `00`.
fn format_phone(rng: &mut Rng, loc: &Locale, nsn: &str) -> String {
    let groups = |s: &str| {
        let (a, rest) = s.split_at(3.min(s.len()));
        let (b, c) = rest.split_at(3.min(rest.len()));
        format!("{a} {b} {c}")
    };
    match rng.below(5) {
        0 => format!("+{} {}", loc.calling_code, groups(nsn)),
        1 => format!("+{}{nsn}", loc.calling_code),
        2 if loc.trunk == "0" => format!("+{} (0){}", loc.calling_code, groups(nsn)),
        3 => format!("00{} {}", loc.calling_code, nsn),
        _ if loc.calling_code == "1" => format!("({}) {}-{}", &nsn[..3], &nsn[3..6], &nsn[6..]),
        _ => format!("{}{}", loc.trunk, groups(nsn))
            .replace(' ', if rng.chance(0.5) { " " } else { "-" }),
    }
}

fn typo(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 4 {
        return s.to_string();
    }
    // Typos rarely hit the first letter.
    let i = 1 + rng.below(chars.len() - 1);
    match rng.below(4) {
        0 => {
            chars.remove(i);
        }
        1 => chars.insert(i, chars[i - 1]),
        2 if i + 1 < chars.len() => chars.swap(i, i + 1),
        _ => chars[i] = char::from(b'a' + rng.below(26) as u8),
    }
    chars.into_iter().collect()
}

fn add_accent(rng: &mut Rng, s: &str) -> String {
    let mut done = false;
    s.chars()
        .map(|c| match c {
            'e' if !done && rng.chance(0.5) => {
                done = true;
                'é'
            }
            'a' if !done && rng.chance(0.5) => {
                done = true;
                'à'
            }
            c => c,
        })
        .collect()
}

/// `registry` holds the names and domains already taken: a company register does not give two
/// companies of one country the same name, and a domain belongs to one organisation.
fn company_truth(rng: &mut Rng, registry: &mut HashSet<String>) -> CompanyTruth {
    let locale = rng.below(LOCALES.len());
    let loc = &LOCALES[locale];
    let generic = rng.chance(0.03);
    let brand = if generic {
        rng.pick(GENERIC_COMPANIES).to_string()
    } else {
        let mut brand = synthetic_word(rng, loc);
        loop {
            brand = match rng.below(3) {
                0 => brand,
                1 => format!("{brand} {}", rng.pick(loc.descriptors)),
                _ => format!("{brand} {}", synthetic_word(rng, loc)),
            };
            if registry.insert(format!("name:{locale}:{}", slugify(&brand))) {
                break brand;
            }
        }
    };
    let domains = registry;
    let label = slugify(&brand);
    // Distinct companies need distinct domains even when their names collide.
    let mut domain_label = if generic || rng.chance(0.3) {
        format!("{label}{}", rng.below(1000))
    } else {
        label
    };
    // A domain belongs to one organisation.
    while !domains.insert(format!("{domain_label}.{}", loc.tld)) {
        domain_label.push(char::from(b'0' + rng.below(10) as u8));
    }
    let city = rng.below(loc.cities.len());
    CompanyTruth {
        locale,
        legal: rng.pick_copy(loc.legal),
        domain_label,
        street: format!("{} {}", rng.pick(loc.streets), 1 + rng.below(200)),
        city,
        postal: format!("{}{}", loc.cities[city].1, rng.digits(2)),
        phone: national_number(rng, loc),
        industry: rng.pick_copy(INDUSTRIES),
        employees: 5 + (rng.unit().powi(3) * 20000.0) as u32,
        brand,
    }
}

fn company_domain(c: &CompanyTruth) -> String {
    format!("{}.{}", c.domain_label, LOCALES[c.locale].tld)
}

fn person_truth(
    rng: &mut Rng,
    companies: &[CompanyTruth],
    name: Option<(usize, &str, &str)>,
    used: &mut HashSet<String>,
) -> PersonTruth {
    let company = rng.below(companies.len());
    let c = &companies[company];
    // Most people work in their company's country; some do not.
    let locale = if rng.chance(0.85) {
        c.locale
    } else {
        rng.below(LOCALES.len())
    };
    let (locale, first, last) = match name {
        Some((locale, first, last)) => (locale, first.to_string(), last.to_string()),
        None => {
            let loc = &LOCALES[locale];
            // Real given names are spread over hundreds of names per country (the commonest
            // is a few percent): the listed ones, skewed, for 40%, made-up ones otherwise.
            let first = if rng.chance(0.4) {
                rng.pick_skewed(loc.first).to_string()
            } else {
                format!("{}{}", rng.pick(GIVEN_HEADS), rng.pick(GIVEN_TAILS))
            };
            let last = if rng.chance(0.2) {
                rng.pick_skewed(loc.last).to_string()
            } else {
                synthetic_word(rng, loc)
            };
            (locale, first, last)
        }
    };
    let loc = &LOCALES[locale];
    let (f, l) = (slugify(&first), slugify(&last));
    let email_local = match rng.below(5) {
        0 => format!("{f}.{l}"),
        1 => format!("{}{l}", &f[..1]),
        2 => format!("{f}{}", &l[..1.min(l.len())]),
        3 => format!("{f}_{l}"),
        _ => format!("{f}.{l}{}", rng.below(100)),
    };
    // A free-mail address belongs to one person, so it gets a number that makes it unique.
    let (mut email_local, email_domain) = if rng.chance(0.1) {
        (
            format!("{email_local}{}", rng.below(1_000_000)),
            rng.pick(FREE_MAIL).to_string(),
        )
    } else {
        (email_local, company_domain(c))
    };
    // A mailbox belongs to one person: colleagues with the same initials get a number.
    while !used.insert(format!("{email_local}@{email_domain}")) {
        email_local.push(char::from(b'0' + rng.below(10) as u8));
    }
    let city = if locale == c.locale && rng.chance(0.7) {
        c.city
    } else {
        rng.below(loc.cities.len())
    };
    PersonTruth {
        locale,
        company,
        email_domain,
        email_local,
        title: rng.pick_copy(TITLES),
        city,
        postal: format!("{}{}", loc.cities[city].1, rng.digits(2)),
        street: format!("{} {}", rng.pick(loc.streets), 1 + rng.below(300)),
        phone: national_number(rng, loc),
        slug: format!("{f}-{l}-{:x}", rng.next_u64() & 0xffff_ffff),
        first,
        last,
    }
}

fn opt(rng: &mut Rng, p: f64, value: impl FnOnce(&mut Rng) -> String) -> Option<String> {
    if rng.chance(p) {
        Some(value(rng))
    } else {
        None
    }
}

fn company_name(rng: &mut Rng, c: &CompanyTruth, with_legal: f64) -> String {
    if rng.chance(with_legal) {
        format!("{} {}", c.brand, c.legal)
    } else {
        c.brand.clone()
    }
}

/// How the CRM holds a person.
fn crm_person(
    rng: &mut Rng,
    p: &PersonTruth,
    companies: &[CompanyTruth],
    id: String,
) -> PersonRecord {
    let loc = &LOCALES[p.locale];
    let c = &companies[p.company];
    PersonRecord {
        id,
        first_name: Some(p.first.clone()),
        last_name: Some(p.last.clone()),
        full_name: None,
        email: opt(rng, 0.85, |_| {
            format!("{}@{}", p.email_local, p.email_domain)
        }),
        phone: opt(rng, 0.55, |r| format_phone(r, loc, &p.phone)),
        title: opt(rng, 0.6, |_| p.title.to_string()),
        company: opt(rng, 0.9, |r| company_name(r, c, 0.7)),
        street: opt(rng, 0.35, |_| p.street.clone()),
        city: opt(rng, 0.65, |_| loc.cities[p.city].0.to_string()),
        postal_code: opt(rng, 0.45, |_| p.postal.clone()),
        region: opt(rng, 0.35, |_| loc.cities[p.city].2.to_string()),
        country: opt(rng, 0.75, |r| {
            if r.chance(0.5) {
                loc.country.to_string()
            } else {
                loc.iso2.to_string()
            }
        }),
        profile_url: opt(rng, 0.25, |_| {
            format!("https://www.linkedin.com/in/{}", p.slug)
        }),
        // A CRM contact holds the company it was entered with, not a career.
        past_companies: Vec::new(),
    }
}

/// How the workspace (a prospecting tool) holds a person: other fields, other spellings.
fn workspace_person(
    rng: &mut Rng,
    p: &PersonTruth,
    companies: &[CompanyTruth],
    id: String,
) -> (PersonRecord, Change) {
    let loc = &LOCALES[p.locale];
    let c = &companies[p.company];
    let mut first = p.first.clone();
    let mut last = p.last.clone();
    if rng.chance(0.12) {
        let nicks: Vec<&str> = nicknames_of(&crate::text::fold(&first)).collect();
        if !nicks.is_empty() {
            let n = rng.pick(&nicks);
            first = format!("{}{}", n[..1].to_uppercase(), &n[1..]);
        }
    }
    if rng.chance(0.06) {
        last = typo(rng, &last);
    }
    if rng.chance(0.04) {
        first = typo(rng, &first);
    }
    if rng.chance(0.3) {
        first = ascii_fold(&first);
        last = ascii_fold(&last);
    } else if rng.chance(0.03) {
        last = add_accent(rng, &last);
    }
    if rng.chance(0.05) {
        first = first.to_uppercase();
        last = last.to_uppercase();
    }
    if rng.chance(0.03) {
        first = format!("{}.", first.chars().next().unwrap_or('X'));
    }
    let (first_name, last_name, full_name) = match rng.below(100) {
        0..=2 => (Some(last), Some(first), None),
        3..=12 => (None, None, Some(format!("{first} {last}"))),
        13..=15 => (None, None, Some(format!("{last}, {first}"))),
        _ => (Some(first), Some(last), None),
    };
    let job_change = rng.chance(0.07);
    let (company, email, title, phone) = if job_change {
        let other = &companies[rng.below(companies.len())];
        let email = format!("{}@{}", p.email_local, company_domain(other));
        (
            company_name(rng, other, 0.3),
            email,
            rng.pick(TITLES).to_string(),
            None,
        )
    } else {
        let mut email = format!("{}@{}", p.email_local, p.email_domain);
        if rng.chance(0.1) {
            email = email.to_uppercase();
        } else if rng.chance(0.05) {
            email = email.replacen('@', "+crm@", 1);
        }
        let title = if rng.chance(0.8) {
            p.title.to_string()
        } else {
            rng.pick(TITLES).to_string()
        };
        (
            company_name(rng, c, 0.3),
            email,
            title,
            Some(p.phone.clone()),
        )
    };
    // A profile's work history: three in four list earlier employers (up to two here besides
    // the one a job change left). After a job change the CRM's company is the latest of them,
    // unless the person left it off.
    let past_companies = if rng.chance(0.75) {
        let mut past: Vec<String> = (0..rng.below(3))
            .map(|_| {
                let earlier = &companies[rng.below(companies.len())];
                company_name(rng, earlier, 0.3)
            })
            .collect();
        if job_change && rng.chance(0.9) {
            past.insert(0, company_name(rng, c, 0.3));
        }
        past
    } else {
        Vec::new()
    };
    let moved = job_change && rng.chance(0.5);
    let city = if moved {
        rng.below(loc.cities.len())
    } else {
        p.city
    };
    let record = PersonRecord {
        id,
        first_name,
        last_name,
        full_name,
        email: opt(rng, 0.5, |_| email),
        phone: phone.and_then(|nsn| opt(rng, 0.25, |r| format_phone(r, loc, &nsn))),
        title: opt(rng, 0.85, |_| title),
        company: opt(rng, 0.92, |r| {
            if r.chance(0.05) {
                company.to_uppercase()
            } else {
                company
            }
        }),
        street: opt(rng, 0.05, |_| p.street.clone()),
        city: opt(rng, 0.7, |r| {
            let name = loc.cities[city].0;
            if r.chance(0.2) {
                ascii_fold(name)
            } else {
                name.to_string()
            }
        }),
        postal_code: if moved {
            None
        } else {
            opt(rng, 0.1, |_| p.postal.clone())
        },
        region: opt(rng, 0.3, |_| loc.cities[city].2.to_string()),
        country: opt(rng, 0.8, |r| {
            if r.chance(0.5) {
                loc.country.to_string()
            } else {
                loc.iso2.to_lowercase()
            }
        }),
        profile_url: opt(rng, 0.7, |r| match r.below(4) {
            0 => format!(
                "https://{}.linkedin.com/in/{}/",
                loc.iso2.to_lowercase(),
                p.slug
            ),
            1 => format!("linkedin.com/in/{}?trk=profile", p.slug),
            _ => format!("https://www.linkedin.com/in/{}", p.slug),
        }),
        past_companies,
    };
    (record, job_change.then_some("job_change"))
}

fn crm_company(rng: &mut Rng, c: &CompanyTruth, id: String) -> CompanyRecord {
    let loc = &LOCALES[c.locale];
    CompanyRecord {
        id,
        name: Some(company_name(rng, c, 0.8)),
        website: opt(rng, 0.85, |r| match r.below(3) {
            0 => format!("https://www.{}", company_domain(c)),
            1 => format!("www.{}", company_domain(c)),
            _ => format!("http://{}/", company_domain(c)),
        }),
        phone: opt(rng, 0.6, |r| format_phone(r, loc, &c.phone)),
        street: opt(rng, 0.5, |_| c.street.clone()),
        city: opt(rng, 0.8, |_| loc.cities[c.city].0.to_string()),
        postal_code: opt(rng, 0.5, |_| c.postal.clone()),
        region: opt(rng, 0.4, |_| loc.cities[c.city].2.to_string()),
        country: opt(rng, 0.85, |r| {
            if r.chance(0.5) {
                loc.country.to_string()
            } else {
                loc.iso2.to_string()
            }
        }),
        industry: opt(rng, 0.6, |_| c.industry.to_string()),
        employees: opt(rng, 0.5, |_| c.employees.to_string()),
    }
}

fn workspace_company(rng: &mut Rng, c: &CompanyTruth, id: String) -> (CompanyRecord, Change) {
    let loc = &LOCALES[c.locale];
    let mut name = c.brand.clone();
    if rng.chance(0.07) {
        name = typo(rng, &name);
    }
    if rng.chance(0.15) {
        name = ascii_fold(&name);
    }
    if rng.chance(0.05) {
        name = format!("{name} Group");
    }
    if rng.chance(0.5) {
        // Legal forms are spelled however the source likes.
        let legal = if rng.chance(0.5) {
            c.legal.to_string()
        } else {
            rng.pick(loc.legal).to_string()
        };
        name = format!("{name} {legal}");
    }
    if rng.chance(0.1) {
        name = name.to_uppercase();
    }
    let moved = rng.chance(0.05);
    let city = if moved {
        rng.below(loc.cities.len())
    } else {
        c.city
    };
    let record = CompanyRecord {
        id,
        name: Some(name),
        website: opt(rng, 0.75, |r| match r.below(10) {
            // A sister domain under another public suffix.
            0 => format!(
                "https://{}.{}",
                c.domain_label,
                if loc.tld == "com" { "co.uk" } else { "com" }
            ),
            1..=3 => format!("https://www.{}/about-us", company_domain(c)),
            4..=5 => company_domain(c).to_uppercase(),
            _ => format!("https://{}", company_domain(c)),
        }),
        phone: opt(rng, 0.4, |r| format_phone(r, loc, &c.phone)),
        street: if moved {
            None
        } else {
            opt(rng, 0.3, |_| c.street.clone())
        },
        city: opt(rng, 0.75, |r| {
            let n = loc.cities[city].0;
            if r.chance(0.2) {
                ascii_fold(n)
            } else {
                n.to_string()
            }
        }),
        postal_code: if moved {
            None
        } else {
            opt(rng, 0.3, |_| c.postal.clone())
        },
        region: opt(rng, 0.3, |_| loc.cities[city].2.to_string()),
        country: opt(rng, 0.85, |r| {
            if r.chance(0.5) {
                loc.country.to_uppercase()
            } else {
                loc.iso2.to_lowercase()
            }
        }),
        industry: opt(rng, 0.5, |r| {
            if r.chance(0.9) {
                c.industry.to_string()
            } else {
                r.pick(INDUSTRIES).to_string()
            }
        }),
        employees: opt(rng, 0.4, |r| {
            (((c.employees as f64) * (0.8 + 0.4 * r.unit())) as u32).to_string()
        }),
    };
    (record, moved.then_some("moved"))
}

/// Splits left slots into copies of right records and new entities, shuffles the left side and
/// numbers both sides.
fn assemble<T, R>(
    rng: &mut Rng,
    config: BenchConfig,
    right_truths: &[T],
    new_truth: &mut dyn FnMut(&mut Rng, Option<&T>) -> T,
    crm: &mut dyn FnMut(&mut Rng, &T, String) -> R,
    workspace: &mut dyn FnMut(&mut Rng, &T, String) -> (R, Change),
) -> Dataset<R> {
    let right: Vec<R> = right_truths
        .iter()
        .enumerate()
        .map(|(i, t)| crm(rng, t, format!("r{i}")))
        .collect();
    let mut plan: Vec<Option<usize>> = (0..config.size)
        .map(|_| {
            rng.chance(config.match_rate)
                .then(|| rng.below(right_truths.len().max(1)))
        })
        .collect();
    if right_truths.is_empty() {
        plan.iter_mut().for_each(|p| *p = None);
    }
    rng.shuffle(&mut plan);
    let mut truth = Vec::new();
    let mut taken = vec![false; right_truths.len()];
    let left = plan
        .into_iter()
        .enumerate()
        .map(|(i, slot)| {
            let id = format!("l{i}");
            match slot {
                // One workspace copy per CRM record keeps the truth one-to-one.
                Some(r) if !taken[r] => {
                    taken[r] = true;
                    let (record, change) = workspace(rng, &right_truths[r], id.clone());
                    truth.push(TruthPair {
                        left_id: id,
                        right_id: format!("r{r}"),
                        change,
                    });
                    record
                }
                _ => {
                    // Some new people or companies share a name with one in the CRM.
                    let lookalike = (!right_truths.is_empty() && rng.chance(0.25))
                        .then(|| &right_truths[rng.below(right_truths.len())]);
                    let t = new_truth(rng, lookalike);
                    workspace(rng, &t, id).0
                }
            }
        })
        .collect();
    Dataset { left, right, truth }
}

/// People: CRM contacts on the right, workspace people on the left.
pub fn people(config: BenchConfig) -> Dataset<PersonRecord> {
    let mut rng = Rng::new(config.seed);
    let mut domains = HashSet::new();
    let companies: Vec<CompanyTruth> = (0..(config.size / 20).max(10))
        .map(|_| company_truth(&mut rng, &mut domains))
        .collect();
    let mut used = HashSet::new();
    let people: Vec<PersonTruth> = (0..config.size)
        .map(|_| person_truth(&mut rng, &companies, None, &mut used))
        .collect();
    let cs = &companies;
    assemble(
        &mut rng,
        config,
        &people,
        &mut |rng, lookalike| {
            // Namesakes are people with common names: many John Smiths, few Xanthippe Oduyas.
            let namesake = lookalike.filter(|l| LOCALES[l.locale].last.contains(&l.last.as_str()));
            person_truth(
                rng,
                cs,
                namesake.map(|l| (l.locale, l.first.as_str(), l.last.as_str())),
                &mut used,
            )
        },
        &mut |rng, p, id| crm_person(rng, p, cs, id),
        &mut |rng, p, id| workspace_person(rng, p, cs, id),
    )
}

/// Companies: CRM accounts on the right, workspace companies on the left.
pub fn companies(config: BenchConfig) -> Dataset<CompanyRecord> {
    let mut rng = Rng::new(config.seed ^ 0xc0);
    let mut domains = HashSet::new();
    let companies: Vec<CompanyTruth> = (0..config.size)
        .map(|_| company_truth(&mut rng, &mut domains))
        .collect();
    assemble(
        &mut rng,
        config,
        &companies,
        &mut |rng, lookalike| {
            let mut c = company_truth(rng, &mut domains);
            // Distinctive names are shared less often than people's names.
            if let Some(l) = lookalike.filter(|_| rng.chance(0.4)) {
                // Same name, another company: elsewhere, with its own domain.
                c.brand.clone_from(&l.brand);
                c.domain_label = format!("{}{}", l.domain_label, rng.below(100));
                while !domains.insert(format!("{}.{}", c.domain_label, LOCALES[c.locale].tld)) {
                    c.domain_label.push(char::from(b'0' + rng.below(10) as u8));
                }
                c.locale = (l.locale + 1 + rng.below(LOCALES.len() - 1)) % LOCALES.len();
                c.city %= LOCALES[c.locale].cities.len();
            }
            c
        },
        &mut crm_company,
        &mut workspace_company,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = people(BenchConfig::new(300, 7));
        let b = people(BenchConfig::new(300, 7));
        assert_eq!(a.left, b.left);
        assert_eq!(a.right, b.right);
        assert_eq!(a.truth, b.truth);
        let c = people(BenchConfig::new(300, 8));
        assert_ne!(a.left, c.left);
    }

    #[test]
    fn truth_is_one_to_one_and_sized() {
        let d = companies(BenchConfig::new(1000, 1));
        assert_eq!((d.left.len(), d.right.len()), (1000, 1000));
        let mut rights: Vec<&String> = d.truth.iter().map(|t| &t.right_id).collect();
        rights.sort();
        rights.dedup();
        assert_eq!(rights.len(), d.truth.len());
        assert!(
            d.truth.len() > 300 && d.truth.len() < 500,
            "{}",
            d.truth.len()
        );
    }

    #[test]
    fn typos_change_one_letter() {
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            let t = typo(&mut rng, "smithson");
            assert!(
                crate::text::within_one_edit(&t, "smithson") || t == "smithson",
                "{t}"
            );
        }
    }
}
