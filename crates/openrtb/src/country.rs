//! Country codes: ISO 3166-1 alpha-2, with alpha-3 and `UK` mapped onto it.

/// A normalized country code: upper-case ISO 3166-1 alpha-2 when known; an unknown alpha-3 code
/// is kept as its three upper-case letters so that it still equals itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 3]);

impl Country {
    /// The code's text (`"GB"`, or an unknown alpha-3 such as `"XKX"`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        let len = if self.0[2] == 0 { 2 } else { 3 };
        // The bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0[..len]).unwrap_or("")
    }

    /// The raw bytes (third byte 0 for an alpha-2 code).
    #[must_use]
    pub const fn bytes(&self) -> [u8; 3] {
        self.0
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalizes a country code as SPEC §2.4 says. Returns `None` unless `code` is two or three
/// ASCII letters.
///
/// Letters are upper-cased; an alpha-2 code is kept as it is (`UK` becomes `GB`, its ISO
/// spelling); an ISO 3166-1 alpha-3 code becomes its alpha-2 (`GBR` → `GB`, `usa` → `US`); an
/// alpha-3 code ISO does not assign (`XKX`) is kept as its three letters. No trimming: `" US"` is
/// `None`.
#[must_use]
pub fn normalize_country(code: &str) -> Option<Country> {
    normalize_country_bytes(code.as_bytes())
}

/// [`normalize_country`] on the bytes of a string (any byte that is not an ASCII letter refuses
/// the code, so no UTF-8 check is needed first).
pub(crate) fn normalize_country_bytes(code: &[u8]) -> Option<Country> {
    match *code {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            let pair = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
            let [a, b] = if pair == *b"UK" { *b"GB" } else { pair };
            Some(Country([a, b, 0]))
        }
        [a, b, c]
            if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() && c.is_ascii_alphabetic() =>
        {
            let upper = [
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ];
            // Big-endian packing keeps the table's order; one integer compare per probe.
            let key = |&[a, b, c]: &[u8; 3]| u32::from_be_bytes([0, a, b, c]);
            let wanted = key(&upper);
            match ALPHA3_TO_ALPHA2.binary_search_by(|(alpha3, _)| key(alpha3).cmp(&wanted)) {
                Ok(i) => ALPHA3_TO_ALPHA2
                    .get(i)
                    .map(|(_, [a, b])| Country([*a, *b, 0])),
                Err(_) => Some(Country(upper)),
            }
        }
        _ => None,
    }
}

/// Every ISO 3166-1 alpha-3 code with its alpha-2 code, sorted by alpha-3 (binary-searched).
/// Source: the ISO 3166-1 list as published in Debian's `iso-codes` data (249 entries).
static ALPHA3_TO_ALPHA2: [([u8; 3], [u8; 2]); 249] = [
    (*b"ABW", *b"AW"), // Aruba
    (*b"AFG", *b"AF"), // Afghanistan
    (*b"AGO", *b"AO"), // Angola
    (*b"AIA", *b"AI"), // Anguilla
    (*b"ALA", *b"AX"), // Åland Islands
    (*b"ALB", *b"AL"), // Albania
    (*b"AND", *b"AD"), // Andorra
    (*b"ARE", *b"AE"), // United Arab Emirates
    (*b"ARG", *b"AR"), // Argentina
    (*b"ARM", *b"AM"), // Armenia
    (*b"ASM", *b"AS"), // American Samoa
    (*b"ATA", *b"AQ"), // Antarctica
    (*b"ATF", *b"TF"), // French Southern Territories
    (*b"ATG", *b"AG"), // Antigua and Barbuda
    (*b"AUS", *b"AU"), // Australia
    (*b"AUT", *b"AT"), // Austria
    (*b"AZE", *b"AZ"), // Azerbaijan
    (*b"BDI", *b"BI"), // Burundi
    (*b"BEL", *b"BE"), // Belgium
    (*b"BEN", *b"BJ"), // Benin
    (*b"BES", *b"BQ"), // Bonaire, Sint Eustatius and Saba
    (*b"BFA", *b"BF"), // Burkina Faso
    (*b"BGD", *b"BD"), // Bangladesh
    (*b"BGR", *b"BG"), // Bulgaria
    (*b"BHR", *b"BH"), // Bahrain
    (*b"BHS", *b"BS"), // Bahamas
    (*b"BIH", *b"BA"), // Bosnia and Herzegovina
    (*b"BLM", *b"BL"), // Saint Barthélemy
    (*b"BLR", *b"BY"), // Belarus
    (*b"BLZ", *b"BZ"), // Belize
    (*b"BMU", *b"BM"), // Bermuda
    (*b"BOL", *b"BO"), // Bolivia
    (*b"BRA", *b"BR"), // Brazil
    (*b"BRB", *b"BB"), // Barbados
    (*b"BRN", *b"BN"), // Brunei Darussalam
    (*b"BTN", *b"BT"), // Bhutan
    (*b"BVT", *b"BV"), // Bouvet Island
    (*b"BWA", *b"BW"), // Botswana
    (*b"CAF", *b"CF"), // Central African Republic
    (*b"CAN", *b"CA"), // Canada
    (*b"CCK", *b"CC"), // Cocos (Keeling) Islands
    (*b"CHE", *b"CH"), // Switzerland
    (*b"CHL", *b"CL"), // Chile
    (*b"CHN", *b"CN"), // China
    (*b"CIV", *b"CI"), // Côte d'Ivoire
    (*b"CMR", *b"CM"), // Cameroon
    (*b"COD", *b"CD"), // Congo, The Democratic Republic of the
    (*b"COG", *b"CG"), // Congo
    (*b"COK", *b"CK"), // Cook Islands
    (*b"COL", *b"CO"), // Colombia
    (*b"COM", *b"KM"), // Comoros
    (*b"CPV", *b"CV"), // Cabo Verde
    (*b"CRI", *b"CR"), // Costa Rica
    (*b"CUB", *b"CU"), // Cuba
    (*b"CUW", *b"CW"), // Curaçao
    (*b"CXR", *b"CX"), // Christmas Island
    (*b"CYM", *b"KY"), // Cayman Islands
    (*b"CYP", *b"CY"), // Cyprus
    (*b"CZE", *b"CZ"), // Czechia
    (*b"DEU", *b"DE"), // Germany
    (*b"DJI", *b"DJ"), // Djibouti
    (*b"DMA", *b"DM"), // Dominica
    (*b"DNK", *b"DK"), // Denmark
    (*b"DOM", *b"DO"), // Dominican Republic
    (*b"DZA", *b"DZ"), // Algeria
    (*b"ECU", *b"EC"), // Ecuador
    (*b"EGY", *b"EG"), // Egypt
    (*b"ERI", *b"ER"), // Eritrea
    (*b"ESH", *b"EH"), // Western Sahara
    (*b"ESP", *b"ES"), // Spain
    (*b"EST", *b"EE"), // Estonia
    (*b"ETH", *b"ET"), // Ethiopia
    (*b"FIN", *b"FI"), // Finland
    (*b"FJI", *b"FJ"), // Fiji
    (*b"FLK", *b"FK"), // Falkland Islands (Malvinas)
    (*b"FRA", *b"FR"), // France
    (*b"FRO", *b"FO"), // Faroe Islands
    (*b"FSM", *b"FM"), // Micronesia, Federated States of
    (*b"GAB", *b"GA"), // Gabon
    (*b"GBR", *b"GB"), // United Kingdom
    (*b"GEO", *b"GE"), // Georgia
    (*b"GGY", *b"GG"), // Guernsey
    (*b"GHA", *b"GH"), // Ghana
    (*b"GIB", *b"GI"), // Gibraltar
    (*b"GIN", *b"GN"), // Guinea
    (*b"GLP", *b"GP"), // Guadeloupe
    (*b"GMB", *b"GM"), // Gambia
    (*b"GNB", *b"GW"), // Guinea-Bissau
    (*b"GNQ", *b"GQ"), // Equatorial Guinea
    (*b"GRC", *b"GR"), // Greece
    (*b"GRD", *b"GD"), // Grenada
    (*b"GRL", *b"GL"), // Greenland
    (*b"GTM", *b"GT"), // Guatemala
    (*b"GUF", *b"GF"), // French Guiana
    (*b"GUM", *b"GU"), // Guam
    (*b"GUY", *b"GY"), // Guyana
    (*b"HKG", *b"HK"), // Hong Kong
    (*b"HMD", *b"HM"), // Heard Island and McDonald Islands
    (*b"HND", *b"HN"), // Honduras
    (*b"HRV", *b"HR"), // Croatia
    (*b"HTI", *b"HT"), // Haiti
    (*b"HUN", *b"HU"), // Hungary
    (*b"IDN", *b"ID"), // Indonesia
    (*b"IMN", *b"IM"), // Isle of Man
    (*b"IND", *b"IN"), // India
    (*b"IOT", *b"IO"), // British Indian Ocean Territory
    (*b"IRL", *b"IE"), // Ireland
    (*b"IRN", *b"IR"), // Iran
    (*b"IRQ", *b"IQ"), // Iraq
    (*b"ISL", *b"IS"), // Iceland
    (*b"ISR", *b"IL"), // Israel
    (*b"ITA", *b"IT"), // Italy
    (*b"JAM", *b"JM"), // Jamaica
    (*b"JEY", *b"JE"), // Jersey
    (*b"JOR", *b"JO"), // Jordan
    (*b"JPN", *b"JP"), // Japan
    (*b"KAZ", *b"KZ"), // Kazakhstan
    (*b"KEN", *b"KE"), // Kenya
    (*b"KGZ", *b"KG"), // Kyrgyzstan
    (*b"KHM", *b"KH"), // Cambodia
    (*b"KIR", *b"KI"), // Kiribati
    (*b"KNA", *b"KN"), // Saint Kitts and Nevis
    (*b"KOR", *b"KR"), // South Korea
    (*b"KWT", *b"KW"), // Kuwait
    (*b"LAO", *b"LA"), // Laos
    (*b"LBN", *b"LB"), // Lebanon
    (*b"LBR", *b"LR"), // Liberia
    (*b"LBY", *b"LY"), // Libya
    (*b"LCA", *b"LC"), // Saint Lucia
    (*b"LIE", *b"LI"), // Liechtenstein
    (*b"LKA", *b"LK"), // Sri Lanka
    (*b"LSO", *b"LS"), // Lesotho
    (*b"LTU", *b"LT"), // Lithuania
    (*b"LUX", *b"LU"), // Luxembourg
    (*b"LVA", *b"LV"), // Latvia
    (*b"MAC", *b"MO"), // Macao
    (*b"MAF", *b"MF"), // Saint Martin (French part)
    (*b"MAR", *b"MA"), // Morocco
    (*b"MCO", *b"MC"), // Monaco
    (*b"MDA", *b"MD"), // Moldova
    (*b"MDG", *b"MG"), // Madagascar
    (*b"MDV", *b"MV"), // Maldives
    (*b"MEX", *b"MX"), // Mexico
    (*b"MHL", *b"MH"), // Marshall Islands
    (*b"MKD", *b"MK"), // North Macedonia
    (*b"MLI", *b"ML"), // Mali
    (*b"MLT", *b"MT"), // Malta
    (*b"MMR", *b"MM"), // Myanmar
    (*b"MNE", *b"ME"), // Montenegro
    (*b"MNG", *b"MN"), // Mongolia
    (*b"MNP", *b"MP"), // Northern Mariana Islands
    (*b"MOZ", *b"MZ"), // Mozambique
    (*b"MRT", *b"MR"), // Mauritania
    (*b"MSR", *b"MS"), // Montserrat
    (*b"MTQ", *b"MQ"), // Martinique
    (*b"MUS", *b"MU"), // Mauritius
    (*b"MWI", *b"MW"), // Malawi
    (*b"MYS", *b"MY"), // Malaysia
    (*b"MYT", *b"YT"), // Mayotte
    (*b"NAM", *b"NA"), // Namibia
    (*b"NCL", *b"NC"), // New Caledonia
    (*b"NER", *b"NE"), // Niger
    (*b"NFK", *b"NF"), // Norfolk Island
    (*b"NGA", *b"NG"), // Nigeria
    (*b"NIC", *b"NI"), // Nicaragua
    (*b"NIU", *b"NU"), // Niue
    (*b"NLD", *b"NL"), // Netherlands
    (*b"NOR", *b"NO"), // Norway
    (*b"NPL", *b"NP"), // Nepal
    (*b"NRU", *b"NR"), // Nauru
    (*b"NZL", *b"NZ"), // New Zealand
    (*b"OMN", *b"OM"), // Oman
    (*b"PAK", *b"PK"), // Pakistan
    (*b"PAN", *b"PA"), // Panama
    (*b"PCN", *b"PN"), // Pitcairn
    (*b"PER", *b"PE"), // Peru
    (*b"PHL", *b"PH"), // Philippines
    (*b"PLW", *b"PW"), // Palau
    (*b"PNG", *b"PG"), // Papua New Guinea
    (*b"POL", *b"PL"), // Poland
    (*b"PRI", *b"PR"), // Puerto Rico
    (*b"PRK", *b"KP"), // North Korea
    (*b"PRT", *b"PT"), // Portugal
    (*b"PRY", *b"PY"), // Paraguay
    (*b"PSE", *b"PS"), // Palestine, State of
    (*b"PYF", *b"PF"), // French Polynesia
    (*b"QAT", *b"QA"), // Qatar
    (*b"REU", *b"RE"), // Réunion
    (*b"ROU", *b"RO"), // Romania
    (*b"RUS", *b"RU"), // Russian Federation
    (*b"RWA", *b"RW"), // Rwanda
    (*b"SAU", *b"SA"), // Saudi Arabia
    (*b"SDN", *b"SD"), // Sudan
    (*b"SEN", *b"SN"), // Senegal
    (*b"SGP", *b"SG"), // Singapore
    (*b"SGS", *b"GS"), // South Georgia and the South Sandwich Islands
    (*b"SHN", *b"SH"), // Saint Helena, Ascension and Tristan da Cunha
    (*b"SJM", *b"SJ"), // Svalbard and Jan Mayen
    (*b"SLB", *b"SB"), // Solomon Islands
    (*b"SLE", *b"SL"), // Sierra Leone
    (*b"SLV", *b"SV"), // El Salvador
    (*b"SMR", *b"SM"), // San Marino
    (*b"SOM", *b"SO"), // Somalia
    (*b"SPM", *b"PM"), // Saint Pierre and Miquelon
    (*b"SRB", *b"RS"), // Serbia
    (*b"SSD", *b"SS"), // South Sudan
    (*b"STP", *b"ST"), // Sao Tome and Principe
    (*b"SUR", *b"SR"), // Suriname
    (*b"SVK", *b"SK"), // Slovakia
    (*b"SVN", *b"SI"), // Slovenia
    (*b"SWE", *b"SE"), // Sweden
    (*b"SWZ", *b"SZ"), // Eswatini
    (*b"SXM", *b"SX"), // Sint Maarten (Dutch part)
    (*b"SYC", *b"SC"), // Seychelles
    (*b"SYR", *b"SY"), // Syria
    (*b"TCA", *b"TC"), // Turks and Caicos Islands
    (*b"TCD", *b"TD"), // Chad
    (*b"TGO", *b"TG"), // Togo
    (*b"THA", *b"TH"), // Thailand
    (*b"TJK", *b"TJ"), // Tajikistan
    (*b"TKL", *b"TK"), // Tokelau
    (*b"TKM", *b"TM"), // Turkmenistan
    (*b"TLS", *b"TL"), // Timor-Leste
    (*b"TON", *b"TO"), // Tonga
    (*b"TTO", *b"TT"), // Trinidad and Tobago
    (*b"TUN", *b"TN"), // Tunisia
    (*b"TUR", *b"TR"), // Türkiye
    (*b"TUV", *b"TV"), // Tuvalu
    (*b"TWN", *b"TW"), // Taiwan
    (*b"TZA", *b"TZ"), // Tanzania
    (*b"UGA", *b"UG"), // Uganda
    (*b"UKR", *b"UA"), // Ukraine
    (*b"UMI", *b"UM"), // United States Minor Outlying Islands
    (*b"URY", *b"UY"), // Uruguay
    (*b"USA", *b"US"), // United States
    (*b"UZB", *b"UZ"), // Uzbekistan
    (*b"VAT", *b"VA"), // Holy See (Vatican City State)
    (*b"VCT", *b"VC"), // Saint Vincent and the Grenadines
    (*b"VEN", *b"VE"), // Venezuela
    (*b"VGB", *b"VG"), // Virgin Islands, British
    (*b"VIR", *b"VI"), // Virgin Islands, U.S.
    (*b"VNM", *b"VN"), // Vietnam
    (*b"VUT", *b"VU"), // Vanuatu
    (*b"WLF", *b"WF"), // Wallis and Futuna
    (*b"WSM", *b"WS"), // Samoa
    (*b"YEM", *b"YE"), // Yemen
    (*b"ZAF", *b"ZA"), // South Africa
    (*b"ZMB", *b"ZM"), // Zambia
    (*b"ZWE", *b"ZW"), // Zimbabwe
];

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(code: &str) -> Option<String> {
        normalize_country(code).map(|c| c.as_str().to_owned())
    }

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in ALPHA3_TO_ALPHA2.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} !< {:?}", pair[0].0, pair[1].0);
        }
        for (a3, a2) in &ALPHA3_TO_ALPHA2 {
            assert!(a3.iter().chain(a2).all(u8::is_ascii_uppercase));
        }
        let mut alpha2: Vec<[u8; 2]> = ALPHA3_TO_ALPHA2.iter().map(|(_, a2)| *a2).collect();
        alpha2.sort_unstable();
        alpha2.dedup();
        assert_eq!(
            alpha2.len(),
            ALPHA3_TO_ALPHA2.len(),
            "each alpha-2 appears once"
        );
    }

    #[test]
    fn every_alpha3_maps_to_its_alpha2_in_any_case() {
        for (a3, a2) in &ALPHA3_TO_ALPHA2 {
            let a3 = std::str::from_utf8(a3).unwrap();
            let a2 = std::str::from_utf8(a2).unwrap();
            assert_eq!(norm(a3).as_deref(), Some(a2));
            assert_eq!(norm(&a3.to_ascii_lowercase()).as_deref(), Some(a2));
            // An alpha-2 code is kept as it is.
            assert_eq!(norm(a2).as_deref(), Some(a2));
        }
    }

    #[test]
    fn known_codes() {
        assert_eq!(norm("GBR").as_deref(), Some("GB"));
        assert_eq!(norm("USA").as_deref(), Some("US"));
        assert_eq!(norm("usa").as_deref(), Some("US"));
        assert_eq!(norm("DEU").as_deref(), Some("DE"));
        assert_eq!(norm("CHE").as_deref(), Some("CH"));
        assert_eq!(norm("ALA").as_deref(), Some("AX"));
        assert_eq!(norm("SSD").as_deref(), Some("SS"));
        assert_eq!(norm("us").as_deref(), Some("US"));
        assert_eq!(norm("De").as_deref(), Some("DE"));
    }

    #[test]
    fn uk_is_an_alias_of_gb() {
        assert_eq!(norm("UK").as_deref(), Some("GB"));
        assert_eq!(norm("uk").as_deref(), Some("GB"));
        assert_eq!(normalize_country("uK"), normalize_country("GBR"));
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(norm("XKX").as_deref(), Some("XKX"));
        assert_eq!(norm("xkx").as_deref(), Some("XKX"));
        assert_eq!(norm("XX").as_deref(), Some("XX"));
        let c = normalize_country("zzz").unwrap();
        assert_eq!(c.bytes(), *b"ZZZ");
        assert_eq!(c.to_string(), "ZZZ");
    }

    #[test]
    fn anything_else_is_none() {
        for bad in [
            "", "U", "USAA", "U1", "12", "US ", " US", "Ü", "ÜS", "U-S", "G0B",
        ] {
            assert_eq!(normalize_country(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn alpha2_bytes_end_with_zero() {
        assert_eq!(normalize_country("gb").unwrap().bytes(), *b"GB\0");
    }
}
