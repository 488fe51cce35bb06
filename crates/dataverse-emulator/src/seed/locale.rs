//! Word tables for the seven seed languages: per country, people's names, company naming, legal
//! suffixes, cities with their regions, postal and phone codes, streets and job titles.

/// The countries the seed draws accounts, contacts and users from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Country {
    Us,
    Uk,
    Italy,
    Netherlands,
    Portugal,
    Spain,
    France,
    Germany,
}

pub(super) struct City {
    pub name: &'static str,
    pub region: &'static str,
    /// Trunk-less area code, as written after the country code.
    pub area: &'static str,
    /// The numeric part of the postal code: `lo..=hi` in steps of `step`. For the UK this is the
    /// outward district number, after `uk_area`.
    pub postal_lo: u32,
    pub postal_hi: u32,
    pub postal_step: u32,
    pub uk_area: &'static str,
}

const fn city(
    name: &'static str,
    region: &'static str,
    area: &'static str,
    lo: u32,
    hi: u32,
) -> City {
    City {
        name,
        region,
        area,
        postal_lo: lo,
        postal_hi: hi,
        postal_step: 1,
        uk_area: "",
    }
}

const fn city_step(
    name: &'static str,
    region: &'static str,
    area: &'static str,
    lo: u32,
    hi: u32,
    step: u32,
) -> City {
    City {
        name,
        region,
        area,
        postal_lo: lo,
        postal_hi: hi,
        postal_step: step,
        uk_area: "",
    }
}

const fn uk_city(
    name: &'static str,
    region: &'static str,
    area: &'static str,
    uk_area: &'static str,
    hi: u32,
) -> City {
    City {
        name,
        region,
        area,
        postal_lo: 1,
        postal_hi: hi,
        postal_step: 1,
        uk_area,
    }
}

/// How a house number sits against the street name.
#[derive(Clone, Copy)]
pub(super) enum HouseNumber {
    /// "1450 Oak Street", "12 rue de la Paix".
    First,
    /// "Via Roma 12", "Hauptstraße 12".
    After,
    /// "Rua Augusta, 45", "Calle Mayor, 23".
    AfterComma,
}

/// How the company's sector word and a family name combine.
#[derive(Clone, Copy)]
pub(super) enum NameOrder {
    /// "Smith Logistics": the sector follows.
    SectorAfter,
    /// Both orders are usual ("Trasporti Rossi", "Rossi Trasporti").
    Either,
}

pub(super) struct Locale {
    pub country: Country,
    /// The country as the org's users type it into `address1_country`.
    pub country_name: &'static str,
    /// Share of the org's customers in this country, in percent.
    pub weight: u32,
    pub tld: &'static str,
    /// Most common first (see `Rng::pick_common`).
    pub male: &'static [&'static str],
    pub female: &'static [&'static str],
    pub surnames: &'static [&'static str],
    /// Legal-form suffix and its weight; "" for a name without one.
    pub legal: &'static [(&'static str, u32)],
    /// Sector word and the Dataverse `industrycode` it implies.
    pub sectors: &'static [(&'static str, i64)],
    pub order: NameOrder,
    /// Halves of coined brand names ("Tecno" + "plast").
    pub brand_heads: &'static [&'static str],
    pub brand_tails: &'static [&'static str],
    pub cities: &'static [City],
    pub streets: &'static [&'static str],
    pub house_number: HouseNumber,
    /// Job titles in the country's language (English ones are shared, see `ENGLISH_TITLES`).
    pub titles: &'static [&'static str],
    /// Consumer mailbox providers popular in the country.
    pub mailboxes: &'static [&'static str],
    /// "Request for quote"-style lead topic openers in the country's language.
    pub lead_topics: &'static [&'static str],
}

#[rustfmt::skip]
pub(super) const ENGLISH_TITLES: &[&str] = &[
    "CEO", "CFO", "CTO", "COO", "VP of Sales", "Head of Procurement", "Purchasing Manager",
    "IT Director", "Operations Manager", "Marketing Director", "Office Manager", "Finance Manager",
    "Sales Director", "Project Manager", "Facilities Manager", "Chief Digital Officer",
    "Head of Operations", "Business Analyst", "Plant Manager", "Procurement Specialist",
    "IT Manager", "Managing Director",
];

#[rustfmt::skip]
pub(super) const ENGLISH_BRAND_HEADS: &[&str] = &[
    "North", "Blue", "Bright", "Silver", "Oak", "Red", "Green", "Summit", "Pioneer", "Apex",
    "Clear", "Iron", "Eagle", "Harbor", "Stone", "Sun", "Lake", "River", "Pine", "Golden",
    "Granite", "Cedar", "Maple", "Falcon", "Crystal", "Swift", "True", "Prime", "Nova", "Atlas",
    "West", "East", "High", "Star", "Wind", "Frost", "Copper", "Coral", "Sky", "Fox",
];

#[rustfmt::skip]
pub(super) const ENGLISH_BRAND_TAILS: &[&str] = &[
    "field", "wave", "point", "bridge", "stone", "view", "gate", "line", "works", "way", "core",
    "path", "peak", "star", "light", "ridge", "brook", "wood", "land", "port", "stream", "mark",
    "crest", "haven", "side",
];

#[rustfmt::skip]
const ENGLISH_SECTORS: &[(&str, i64)] = &[
    ("Consulting", 7), ("Logistics", 30), ("Engineering", 12), ("Foods", 17), ("Financial", 16),
    ("Insurance", 20), ("Media", 3), ("Design", 9), ("Distribution", 10), ("Manufacturing", 12),
    ("Health", 11), ("Restaurants", 13), ("Rentals", 15), ("Retail", 22), ("Transport", 30),
    ("Energy", 31), ("Motors", 32), ("Wholesale", 33), ("Construction", 28), ("Properties", 29),
    ("Accountants", 1), ("Farms", 2), ("Services", 6), ("Solutions", 6), ("Systems", 12),
    ("Technologies", 12), ("Industries", 12), ("Brokers", 4), ("Building Supply", 5),
    ("Repairs", 19), ("Chemicals", 24), ("Software", 6), ("Law Group", 21), ("Home Care", 27),
    ("Entertainment", 14), ("Outfitters", 22),
];

#[rustfmt::skip]
pub(super) const LOCALES: &[Locale] = &[
    Locale {
        country: Country::Us,
        country_name: "United States",
        weight: 30,
        tld: "com",
        male: &[
            "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph",
            "Thomas", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul",
            "Andrew", "Joshua", "Kevin", "Brian", "Sean", "Ryan", "Jason", "Eric", "Carlos",
            "José", "Luis", "Jamal", "Tyler", "Kyle",
        ],
        female: &[
            "Mary", "Jennifer", "Linda", "Patricia", "Elizabeth", "Susan", "Jessica", "Sarah",
            "Karen", "Lisa", "Nancy", "Emily", "Ashley", "Michelle", "Amanda", "Melissa", "Laura",
            "Rachel", "Megan", "Hannah", "María", "Sofía", "Chloe", "Renée", "Zoë",
        ],
        surnames: &[
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
            "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
            "O'Brien", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
            "Robinson", "Walker", "O'Connor", "Young", "Allen", "King", "Wright", "Scott",
            "Hernández", "Nguyen", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter",
            "Mitchell", "Pérez", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
            "Edwards", "Collins", "McCarthy", "D'Souza", "Kowalski", "Murphy", "Sullivan", "Peña",
            "Bennett", "Foster", "Reyes", "Brooks",
        ],
        legal: &[
            ("Inc.", 40), ("LLC", 35), ("Corp.", 10), ("Co.", 5), ("", 10),
        ],
        sectors: ENGLISH_SECTORS,
        order: NameOrder::SectorAfter,
        brand_heads: ENGLISH_BRAND_HEADS,
        brand_tails: ENGLISH_BRAND_TAILS,
        cities: &[
            city("New York", "NY", "212", 10001, 10282),
            city("Chicago", "IL", "312", 60601, 60661),
            city("Houston", "TX", "713", 77001, 77099),
            city("Los Angeles", "CA", "213", 90001, 90089),
            city("San Francisco", "CA", "415", 94102, 94134),
            city("Seattle", "WA", "206", 98101, 98199),
            city("Boston", "MA", "617", 2108, 2137),
            city("Atlanta", "GA", "404", 30301, 30349),
            city("Denver", "CO", "303", 80202, 80239),
            city("Austin", "TX", "512", 78701, 78759),
            city("Miami", "FL", "305", 33101, 33199),
            city("Phoenix", "AZ", "602", 85001, 85099),
            city("Coeur d'Alene", "ID", "208", 83814, 83816),
        ],
        streets: &[
            "Main Street", "Oak Avenue", "Maple Drive", "Park Avenue", "Washington Boulevard",
            "Lake Street", "Cedar Lane", "Elm Street", "Market Street", "Broadway", "Pine Street",
            "2nd Avenue", "Sunset Boulevard", "Commerce Drive", "Industrial Parkway",
        ],
        house_number: HouseNumber::First,
        titles: ENGLISH_TITLES,
        mailboxes: &[
            "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com",
        ],
        lead_topics: &["Request for quote:", "Interested in", "Demo request:"],
    },
    Locale {
        country: Country::Uk,
        country_name: "United Kingdom",
        weight: 14,
        tld: "co.uk",
        male: &[
            "Oliver", "George", "Harry", "Jack", "James", "David", "Thomas", "William", "Charlie",
            "Daniel", "Matthew", "Sean", "Liam", "Callum", "Ewan", "Rhys", "Owen", "Alistair",
            "Niall", "Rory", "Samuel", "Edward", "Henry", "Joseph", "Jacob",
        ],
        female: &[
            "Olivia", "Amelia", "Emily", "Sophie", "Charlotte", "Emma", "Jessica", "Isla", "Lucy",
            "Hannah", "Chloe", "Siobhán", "Niamh", "Eilidh", "Catriona", "Rebecca", "Zoë", "Grace",
            "Ruby", "Eleanor",
        ],
        surnames: &[
            "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
            "Roberts", "Johnson", "Lewis", "Walker", "O'Neill", "Robinson", "Wood", "Thompson",
            "White", "Watson", "Jackson", "Wright", "Green", "Harris", "Cooper", "King", "Lee",
            "Martin", "Clarke", "O'Brien", "James", "Morgan", "Hughes", "Edwards", "Hill", "Moore",
            "Clark", "Harrison", "Scott", "Young", "Morris", "Hall", "Ward", "McDonald", "MacLeod",
            "Campbell", "Stewart", "Patel", "Khan", "Fitzgerald", "O'Sullivan",
        ],
        legal: &[
            ("Ltd", 55), ("Limited", 15), ("PLC", 5), ("LLP", 5), ("", 20),
        ],
        sectors: ENGLISH_SECTORS,
        order: NameOrder::SectorAfter,
        brand_heads: ENGLISH_BRAND_HEADS,
        brand_tails: ENGLISH_BRAND_TAILS,
        cities: &[
            uk_city("London", "Greater London", "20", "SW", 20),
            uk_city("Manchester", "Greater Manchester", "161", "M", 40),
            uk_city("Birmingham", "West Midlands", "121", "B", 40),
            uk_city("Leeds", "West Yorkshire", "113", "LS", 29),
            uk_city("Glasgow", "Scotland", "141", "G", 40),
            uk_city("Edinburgh", "Scotland", "131", "EH", 17),
            uk_city("Bristol", "Bristol", "117", "BS", 16),
            uk_city("Liverpool", "Merseyside", "151", "L", 38),
            uk_city("Cardiff", "Wales", "29", "CF", 24),
            uk_city("Belfast", "Northern Ireland", "28", "BT", 17),
        ],
        streets: &[
            "High Street", "Station Road", "Church Lane", "King's Road", "Victoria Street",
            "Queen's Road", "Mill Lane", "London Road", "Park Road", "St John's Street",
        ],
        house_number: HouseNumber::First,
        titles: ENGLISH_TITLES,
        mailboxes: &[
            "gmail.com", "outlook.com", "btinternet.com", "hotmail.co.uk", "yahoo.co.uk",
        ],
        lead_topics: &["Enquiry:", "Quote request:", "Interested in"],
    },
    Locale {
        country: Country::Germany,
        country_name: "Germany",
        weight: 13,
        tld: "de",
        male: &[
            "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jürgen",
            "Klaus", "Peter", "Wolfgang", "Uwe", "Matthias", "Sebastian", "Tobias", "Jörg",
            "Björn", "Lukas", "Jonas", "Maximilian", "Florian", "Dieter", "Günter", "Ralf",
            "Sören",
        ],
        female: &[
            "Sabine", "Susanne", "Petra", "Andrea", "Claudia", "Nicole", "Stefanie", "Julia",
            "Anna", "Katharina", "Laura", "Lena", "Sarah", "Jana", "Jutta", "Bärbel", "Anja",
            "Birgit", "Ute", "Heike", "Käthe", "Jördis",
        ],
        surnames: &[
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
            "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
            "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
            "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer",
            "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung",
            "Hahn", "Vogel", "Groß", "Keßler", "von Bülow", "Sauer",
        ],
        legal: &[
            ("GmbH", 62), ("AG", 10), ("GmbH & Co. KG", 15), ("KG", 5), ("e.K.", 5), ("", 3),
        ],
        sectors: &[
            ("Maschinenbau", 12), ("Logistik", 30), ("Beratung", 7), ("Bau", 28),
            ("Elektrotechnik", 28), ("Spedition", 30), ("Lebensmittel", 17),
            ("Versicherungen", 20), ("Immobilien", 29), ("Energie", 31), ("Autohaus", 32),
            ("Großhandel", 33), ("Metallbau", 12), ("Steuerberatung", 1), ("Medizintechnik", 11),
            ("Software", 6), ("Druckerei", 3), ("Vermietung", 15), ("Baustoffe", 5),
            ("Gastronomie", 13), ("Chemie", 24), ("Agrar", 2), ("Werbeagentur", 9),
            ("Kunststofftechnik", 12),
        ],
        order: NameOrder::SectorAfter,
        brand_heads: &[
            "Nord", "Süd", "Rhein", "Elb", "Alpen", "Tech", "Euro", "Inno", "Medi", "Isar",
        ],
        brand_tails: &[
            "tec", "metall", "bau", "plan", "tronik", "log", "data", "form", "werk", "systeme",
        ],
        cities: &[
            city("Berlin", "Berlin", "30", 10115, 14199),
            city("Hamburg", "Hamburg", "40", 20095, 22769),
            city("München", "Bayern", "89", 80331, 81929),
            city("Köln", "Nordrhein-Westfalen", "221", 50667, 51149),
            city("Frankfurt am Main", "Hessen", "69", 60306, 60599),
            city("Stuttgart", "Baden-Württemberg", "711", 70173, 70629),
            city("Düsseldorf", "Nordrhein-Westfalen", "211", 40210, 40629),
            city("Leipzig", "Sachsen", "341", 4103, 4357),
            city("Dortmund", "Nordrhein-Westfalen", "231", 44135, 44388),
            city("Nürnberg", "Bayern", "911", 90402, 90491),
            city("Bremen", "Bremen", "421", 28195, 28779),
            city("Hannover", "Niedersachsen", "511", 30159, 30669),
        ],
        streets: &[
            "Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Industriestraße",
            "Lindenallee", "Königsallee", "Marktplatz", "Friedrichstraße", "Mühlenweg",
        ],
        house_number: HouseNumber::After,
        titles: &[
            "Geschäftsführer", "Geschäftsführerin", "Einkaufsleiter", "Leiter Vertrieb",
            "Vertriebsleiterin", "Leiter IT", "Prokurist", "Kaufmännischer Leiter",
            "Technischer Leiter", "Projektleiter", "Leiterin Marketing",
            "Sachbearbeiterin Einkauf",
        ],
        mailboxes: &["gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de"],
        lead_topics: &["Angebotsanfrage:", "Interesse an", "Rückruf erbeten:"],
    },
    Locale {
        country: Country::France,
        country_name: "France",
        weight: 11,
        tld: "fr",
        male: &[
            "Jean", "Pierre", "Michel", "Philippe", "Nicolas", "François", "Laurent", "Julien",
            "Sébastien", "Thomas", "Antoine", "Olivier", "Christophe", "Stéphane", "Frédéric",
            "Jérôme", "Mathieu", "Alexandre", "Guillaume", "Benoît", "Hervé", "Jean-Pierre",
            "Jean-Luc", "Loïc", "Gaël",
        ],
        female: &[
            "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Sophie", "Christine",
            "Valérie", "Céline", "Camille", "Chloé", "Léa", "Manon", "Émilie", "Aurélie", "Hélène",
            "Élodie", "Anaïs", "Mathilde", "Françoise", "Marie-Claire",
        ],
        surnames: &[
            "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
            "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
            "Dupont", "Lambert", "Bonnet", "François", "N'Diaye", "Legrand", "Garnier", "Faure",
            "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
            "Morin", "D'Almeida", "Mathieu", "Clément", "Gauthier", "Dumont", "Fontaine",
            "Chevalier", "Robin", "L'Huillier", "Bélanger", "Lefèbvre",
        ],
        legal: &[
            ("SAS", 35), ("SARL", 33), ("S.A.", 12), ("EURL", 8), ("SA", 5), ("", 7),
        ],
        sectors: &[
            ("Conseil", 7), ("Transports", 30), ("Logistique", 30), ("Industrie", 12),
            ("Bâtiment", 28), ("Alimentaire", 17), ("Assurances", 20), ("Immobilier", 29),
            ("Énergie", 31), ("Automobiles", 32), ("Distribution", 10), ("Négoce", 33),
            ("Expertise Comptable", 1), ("Santé", 11), ("Informatique", 6), ("Édition", 3),
            ("Location", 15), ("Matériaux", 5), ("Restauration", 13), ("Chimie", 24),
            ("Services", 6), ("Design", 9),
        ],
        order: NameOrder::Either,
        brand_heads: &[
            "Euro", "Atlan", "Nord", "Alpi", "Techno", "Medi", "Arve", "Loire", "Seine", "Ouest",
        ],
        brand_tails: &[
            "tech", "logis", "plast", "bat", "com", "net", "services", "industrie", "fluides",
            "metal",
        ],
        cities: &[
            city("Paris", "Île-de-France", "1", 75001, 75020),
            city("Lyon", "Auvergne-Rhône-Alpes", "4", 69001, 69009),
            city("Marseille", "Provence-Alpes-Côte d'Azur", "4", 13001, 13016),
            city_step("Toulouse", "Occitanie", "5", 31000, 31500, 100),
            city_step("Lille", "Hauts-de-France", "3", 59000, 59800, 100),
            city_step("Bordeaux", "Nouvelle-Aquitaine", "5", 33000, 33800, 100),
            city_step("Nantes", "Pays de la Loire", "2", 44000, 44300, 100),
            city_step("Strasbourg", "Grand Est", "3", 67000, 67200, 100),
            city_step("Nice", "Provence-Alpes-Côte d'Azur", "4", 6000, 6300, 100),
            city_step("Rennes", "Bretagne", "2", 35000, 35700, 100),
            city_step("Montpellier", "Occitanie", "4", 34000, 34090, 10),
            city_step("Villeneuve-d'Ascq", "Hauts-de-France", "3", 59491, 59493, 1),
        ],
        streets: &[
            "rue de la Paix", "avenue des Champs-Élysées", "boulevard Haussmann",
            "rue du Faubourg Saint-Honoré", "rue de la République", "place Bellecour",
            "rue Victor Hugo", "avenue Jean Jaurès", "rue des Écoles", "quai d'Orsay",
        ],
        house_number: HouseNumber::First,
        titles: &[
            "Directeur Commercial", "Directrice Financière", "Responsable des Achats",
            "Président-Directeur Général", "DSI", "Directeur Général", "Responsable Logistique",
            "Chef de Projet", "Directrice Marketing", "Gérant", "Acheteuse",
        ],
        mailboxes: &[
            "orange.fr", "free.fr", "gmail.com", "laposte.net", "sfr.fr", "wanadoo.fr",
        ],
        lead_topics: &[
            "Demande de devis :", "Intéressé par", "Demande d'information :",
        ],
    },
    Locale {
        country: Country::Italy,
        country_name: "Italy",
        weight: 11,
        tld: "it",
        male: &[
            "Marco", "Giuseppe", "Giovanni", "Antonio", "Francesco", "Alessandro", "Andrea",
            "Luca", "Matteo", "Lorenzo", "Davide", "Stefano", "Paolo", "Roberto", "Simone",
            "Federico", "Riccardo", "Nicolò", "Niccolò", "Gianluca", "Pierpaolo", "Fabrizio",
            "Massimo", "Salvatore", "Raffaele",
        ],
        female: &[
            "Maria", "Giulia", "Francesca", "Chiara", "Sara", "Laura", "Valentina", "Alessia",
            "Martina", "Elena", "Federica", "Silvia", "Paola", "Anna", "Roberta", "Elisa",
            "Ilaria", "Beatrice", "Noemi", "Lucrezia",
        ],
        surnames: &[
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo", "D'Angelo", "Conti", "De Luca", "Costa",
            "Giordano", "Mancini", "Rizzo", "Lombardi", "Moretti", "D'Amico", "Barbieri",
            "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini",
            "Leone", "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola",
            "De Santis", "Dell'Acqua", "D'Alessandro", "Marchetti", "Parisi", "Villa", "Conte",
            "Ferraro", "Fabbri", "Bianco", "Cattaneo", "Sala", "Pellegrini", "Palumbo", "Sanna",
            "Fiore", "Forlì", "Cantù",
        ],
        legal: &[
            ("S.r.l.", 52), ("S.p.A.", 18), ("S.n.c.", 10), ("S.a.s.", 6), ("Srl", 10), ("", 4),
        ],
        sectors: &[
            ("Consulenze", 7), ("Logistica", 30), ("Meccanica", 12), ("Alimentari", 17),
            ("Finanziaria", 16), ("Assicurazioni", 20), ("Trasporti", 30), ("Costruzioni", 28),
            ("Edilizia", 5), ("Impianti", 28), ("Immobiliare", 29), ("Energia", 31),
            ("Distribuzione", 10), ("Tessile", 12), ("Ristorazione", 13), ("Noleggi", 15),
            ("Servizi", 6), ("Informatica", 6), ("Arredamenti", 22), ("Automobili", 32),
            ("Commercio all'Ingrosso", 33), ("Editoriale", 3), ("Agricola", 2),
            ("Studio Associato", 1),
        ],
        order: NameOrder::Either,
        brand_heads: &[
            "Tecno", "Euro", "Italo", "Meta", "Nord", "Sud", "Alpi", "Medi", "Adria", "Lario",
        ],
        brand_tails: &[
            "tecnica", "plast", "flex", "service", "sistemi", "metal", "gas", "com", "log", "tex",
        ],
        cities: &[
            city("Milano", "Lombardia", "02", 20121, 20162),
            city("Roma", "Lazio", "06", 118, 199),
            city("Torino", "Piemonte", "011", 10121, 10156),
            city("Napoli", "Campania", "081", 80121, 80147),
            city("Bologna", "Emilia-Romagna", "051", 40121, 40141),
            city("Firenze", "Toscana", "055", 50121, 50145),
            city("Genova", "Liguria", "010", 16121, 16167),
            city("Venezia", "Veneto", "041", 30121, 30176),
            city("Bari", "Puglia", "080", 70121, 70132),
            city("Palermo", "Sicilia", "091", 90121, 90151),
            city("Verona", "Veneto", "045", 37121, 37142),
            city("Bergamo", "Lombardia", "035", 24121, 24129),
            city("L'Aquila", "Abruzzo", "0862", 67100, 67100),
        ],
        streets: &[
            "Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Via dell'Industria",
            "Piazza della Repubblica", "Via Giuseppe Verdi", "Viale Europa",
            "Via San Francesco d'Assisi", "Via Dante Alighieri", "Via della Libertà",
        ],
        house_number: HouseNumber::After,
        titles: &[
            "Direttore Commerciale", "Responsabile Acquisti", "Amministratore Delegato",
            "Responsabile IT", "Direttore Generale", "Responsabile Marketing", "Ufficio Acquisti",
            "Responsabile Logistica", "Direttore Tecnico", "Responsabile Amministrativo",
            "Titolare",
        ],
        mailboxes: &[
            "libero.it", "gmail.com", "virgilio.it", "alice.it", "tiscali.it", "hotmail.it",
        ],
        lead_topics: &[
            "Richiesta preventivo:", "Interessato a", "Richiesta informazioni:",
        ],
    },
    Locale {
        country: Country::Spain,
        country_name: "Spain",
        weight: 9,
        tld: "es",
        male: &[
            "Antonio", "José", "Manuel", "Francisco", "David", "Juan", "Javier", "Daniel",
            "Carlos", "Jesús", "Alejandro", "Miguel", "Rafael", "Pablo", "Sergio", "Fernando",
            "Jorge", "Luis", "Álvaro", "Adrián", "Iñaki", "Íñigo", "Raúl", "Andrés", "Martín",
        ],
        female: &[
            "María", "Carmen", "Ana", "Isabel", "Laura", "Cristina", "Marta", "Lucía", "Elena",
            "Paula", "Sara", "Raquel", "Rocío", "Pilar", "Inés", "Nuria", "Mónica", "Begoña",
            "Ainhoa", "Sofía", "María José",
        ],
        surnames: &[
            "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
            "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz",
            "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez",
            "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina", "Morales",
            "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez",
            "Iglesias", "Medina", "Garrido", "Cortés", "Castillo", "Lozano", "Guerrero", "Cano",
            "Prieto", "Méndez", "Calvo", "Ibáñez", "de la Fuente",
        ],
        legal: &[
            ("S.L.", 58), ("S.A.", 22), ("S.L.U.", 10), ("SL", 6), ("", 4),
        ],
        sectors: &[
            ("Consultores", 7), ("Logística", 30), ("Transportes", 30), ("Construcciones", 28),
            ("Alimentación", 17), ("Seguros", 20), ("Inmobiliaria", 29), ("Energía", 31),
            ("Automoción", 32), ("Distribuciones", 10), ("Ingeniería", 12), ("Asesoría", 1),
            ("Informática", 6), ("Servicios", 6), ("Gráficas", 3), ("Alquileres", 15),
            ("Materiales", 5), ("Hostelería", 13), ("Agrícola", 2), ("Mayorista", 33),
            ("Clínica", 11), ("Abogados", 21),
        ],
        order: NameOrder::Either,
        brand_heads: &[
            "Ibero", "Euro", "Hispa", "Tecno", "Medi", "Cantá", "Levan", "Astur", "Galai", "Norte",
        ],
        brand_tails: &[
            "tec", "plast", "logis", "metal", "gest", "net", "sur", "data", "for", "trans",
        ],
        cities: &[
            city("Madrid", "Madrid", "91", 28001, 28055),
            city("Barcelona", "Cataluña", "93", 8001, 8042),
            city("Valencia", "Comunidad Valenciana", "96", 46001, 46026),
            city("Sevilla", "Andalucía", "95", 41001, 41020),
            city("Bilbao", "País Vasco", "94", 48001, 48015),
            city("Málaga", "Andalucía", "95", 29001, 29018),
            city("Zaragoza", "Aragón", "976", 50001, 50021),
            city("A Coruña", "Galicia", "981", 15001, 15011),
            city("Palma", "Islas Baleares", "971", 7001, 7015),
            city("Alicante", "Comunidad Valenciana", "96", 3001, 3016),
            city("Córdoba", "Andalucía", "957", 14001, 14014),
        ],
        streets: &[
            "Calle Mayor", "Calle de Alcalá", "Gran Vía", "Paseo de la Castellana",
            "Avenida Diagonal", "Calle del Príncipe", "Plaza de España", "Calle Real",
            "Avenida de la Constitución", "Calle de Núñez de Balboa",
        ],
        house_number: HouseNumber::AfterComma,
        titles: &[
            "Director Comercial", "Directora Financiera", "Jefe de Compras", "Director General",
            "Responsable de Informática", "Gerente", "Director de Operaciones",
            "Responsable de Logística", "Directora de Marketing", "Técnico de Compras",
        ],
        mailboxes: &[
            "gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net",
        ],
        lead_topics: &[
            "Solicitud de presupuesto:", "Interesado en", "Petición de información:",
        ],
    },
    Locale {
        country: Country::Netherlands,
        country_name: "Netherlands",
        weight: 7,
        tld: "nl",
        male: &[
            "Jan", "Pieter", "Kees", "Hendrik", "Johannes", "Willem", "Dirk", "Bram", "Daan",
            "Sem", "Lucas", "Thijs", "Jeroen", "Maarten", "Ruud", "Sander", "Joost", "Bas",
            "Rutger", "Gijs", "Stijn", "Niels", "Wouter", "Koen", "Teun",
        ],
        female: &[
            "Anna", "Maria", "Emma", "Johanna", "Sophie", "Julia", "Lotte", "Sanne", "Femke",
            "Anouk", "Eva", "Lieke", "Marieke", "Inge", "Noor", "Daniëlle", "Chantal", "Ingrid",
            "Esther", "Roos", "Chloë",
        ],
        surnames: &[
            "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
            "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
            "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
            "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
            "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Berg",
            "Schouten", "van Beek", "Willems", "van Vliet", "Hoekstra", "Maas", "Verhoeven",
            "Koster", "Prins", "'t Hart", "van 't Hof",
        ],
        legal: &[
            ("B.V.", 68), ("BV", 12), ("N.V.", 5), ("V.O.F.", 5), ("", 10),
        ],
        sectors: &[
            ("Advies", 7), ("Logistiek", 30), ("Transport", 30), ("Techniek", 12), ("Bouw", 28),
            ("Installatietechniek", 28), ("Voeding", 17), ("Verzekeringen", 20), ("Vastgoed", 29),
            ("Energie", 31), ("Autobedrijf", 32), ("Groothandel", 33), ("Accountants", 1),
            ("ICT", 6), ("Zorg", 11), ("Drukkerij", 3), ("Verhuur", 15), ("Bouwmaterialen", 5),
            ("Horeca", 13), ("Agri", 2), ("Ontwerp", 9),
        ],
        order: NameOrder::SectorAfter,
        brand_heads: &[
            "Holland", "Noord", "Zuid", "Delta", "Polder", "Rijn", "Maas", "Euro", "Tech", "Duin",
        ],
        brand_tails: &[
            "tec", "plan", "bouw", "log", "data", "groep", "werk", "net", "com", "trans",
        ],
        cities: &[
            city("Amsterdam", "Noord-Holland", "20", 1011, 1109),
            city("Rotterdam", "Zuid-Holland", "10", 3011, 3089),
            city("Den Haag", "Zuid-Holland", "70", 2491, 2599),
            city("'s-Hertogenbosch", "Noord-Brabant", "73", 5211, 5237),
            city("Utrecht", "Utrecht", "30", 3511, 3585),
            city("Eindhoven", "Noord-Brabant", "40", 5611, 5658),
            city("Groningen", "Groningen", "50", 9711, 9747),
            city("Tilburg", "Noord-Brabant", "13", 5011, 5049),
            city("Almere", "Flevoland", "36", 1311, 1364),
            city("Nijmegen", "Gelderland", "24", 6511, 6546),
            city("Arnhem", "Gelderland", "26", 6811, 6846),
        ],
        streets: &[
            "Keizersgracht", "Stationsweg", "Kerkstraat", "Dorpsstraat", "Industrieweg",
            "Hoofdstraat", "Molenstraat", "Julianalaan", "Prinsengracht", "Marktplein",
        ],
        house_number: HouseNumber::After,
        titles: &[
            "Directeur", "Inkoper", "Hoofd Inkoop", "Manager Bedrijfsvoering",
            "Commercieel Directeur", "Hoofd ICT", "Algemeen Directeur", "Financieel Directeur",
            "Projectleider", "Officemanager", "Eigenaar",
        ],
        mailboxes: &[
            "gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "outlook.com",
        ],
        lead_topics: &["Offerteaanvraag:", "Interesse in", "Informatieaanvraag:"],
    },
    Locale {
        country: Country::Portugal,
        country_name: "Portugal",
        weight: 5,
        tld: "pt",
        male: &[
            "João", "José", "António", "Francisco", "Manuel", "Pedro", "Luís", "Rui", "Miguel",
            "Tiago", "Gonçalo", "Diogo", "Ricardo", "Paulo", "Nuno", "Bruno", "André", "Rodrigo",
            "Hugo", "Sérgio", "Vítor", "Duarte", "Afonso", "Fábio", "Simão",
        ],
        female: &[
            "Maria", "Ana", "Beatriz", "Mariana", "Inês", "Sofia", "Carolina", "Joana", "Catarina",
            "Leonor", "Rita", "Marta", "Sara", "Patrícia", "Cláudia", "Filipa", "Teresa", "Helena",
            "Conceição", "Luísa",
        ],
        surnames: &[
            "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
            "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves",
            "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes",
            "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha", "Raposo", "Neves",
            "Coelho", "Cruz", "Cunha", "Pires", "Simões", "Magalhães", "Brandão", "Araújo",
            "Falcão", "Guimarães", "Sá", "Pacheco",
        ],
        legal: &[("Lda.", 58), ("S.A.", 24), ("Unipessoal Lda.", 14), ("", 4)],
        sectors: &[
            ("Consultoria", 7), ("Logística", 30), ("Transportes", 30), ("Construções", 28),
            ("Alimentar", 17), ("Seguros", 20), ("Imobiliária", 29), ("Energia", 31),
            ("Automóveis", 32), ("Distribuição", 10), ("Engenharia", 12), ("Contabilidade", 1),
            ("Informática", 6), ("Serviços", 6), ("Gráfica", 3), ("Alugueres", 15),
            ("Materiais de Construção", 5), ("Restauração", 13), ("Agrícola", 2),
            ("Comércio por Grosso", 33), ("Têxteis", 12),
        ],
        order: NameOrder::Either,
        brand_heads: &[
            "Luso", "Euro", "Tecno", "Atlân", "Iber", "Norte", "Sul", "Tejo", "Douro", "Minho",
        ],
        brand_tails: &[
            "tec", "plás", "logis", "metal", "gest", "net", "sis", "data", "for", "trans",
        ],
        cities: &[
            city("Lisboa", "Lisboa", "21", 1000, 1990),
            city("Porto", "Porto", "22", 4000, 4369),
            city("Braga", "Braga", "253", 4700, 4719),
            city("Coimbra", "Coimbra", "239", 3000, 3049),
            city("Faro", "Faro", "289", 8000, 8009),
            city("Aveiro", "Aveiro", "234", 3800, 3814),
            city("Setúbal", "Setúbal", "265", 2900, 2914),
            city("Funchal", "Madeira", "291", 9000, 9064),
            city("Guimarães", "Braga", "253", 4800, 4839),
            city("Évora", "Évora", "266", 7000, 7005),
        ],
        streets: &[
            "Rua Augusta", "Avenida da Liberdade", "Rua de São Bento", "Rua do Comércio",
            "Avenida da República", "Rua Dom João V", "Praça do Município", "Rua da Alegria",
            "Rua Sá da Bandeira", "Avenida dos Aliados",
        ],
        house_number: HouseNumber::AfterComma,
        titles: &[
            "Diretor Comercial", "Diretora Financeira", "Gestor de Compras", "Diretor Geral",
            "Responsável de TI", "Diretor de Operações", "Gerente de Vendas", "Administrador",
            "Técnico de Compras", "Diretora de Marketing", "Sócio-Gerente",
        ],
        mailboxes: &[
            "gmail.com", "sapo.pt", "hotmail.com", "outlook.pt", "clix.pt",
        ],
        lead_topics: &[
            "Pedido de orçamento:", "Interessado em", "Pedido de informação:",
        ],
    },
];

/// Products and services the org sells, used for opportunity names and lead topics.
#[rustfmt::skip]
pub(super) const PRODUCTS: &[&str] = &[
    "Fleet Telematics", "Managed Print Services", "Cloud Backup", "Field Service Tablets",
    "Security Cameras", "Industrial Sensors", "CRM Licences", "Premium Support Contract",
    "Training Package", "Data Warehouse", "Network Upgrade", "Warehouse Scanners",
    "Conference Room Kits", "Energy Monitoring", "Point of Sale Terminals",
    "Cybersecurity Assessment", "3D Printers", "Laptop Refresh", "VoIP Phones",
    "Predictive Maintenance",
];

/// What an opportunity is about, after the product.
#[rustfmt::skip]
pub(super) const DEAL_KINDS: &[&str] = &[
    "renewal", "expansion", "pilot", "rollout", "upgrade", "new business", "phase 2",
    "replacement",
];

/// Where leads come from, for English topics.
#[rustfmt::skip]
pub(super) const LEAD_SOURCES: &[&str] = &[
    "Website enquiry", "Trade show follow-up", "Webinar attendee", "Partner referral",
    "Inbound call", "Newsletter reply",
];
