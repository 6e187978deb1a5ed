//! E.164 normalisation of dialled numbers per the inbound trunk's numbering plan.

use voxgate_config::Numbering;

/// Normalises a dialled number (a Request-URI user) to E.164 (`+` and digits) per a
/// trunk's numbering plan.
///
/// - Visual separators (`-`, `.`, space, parentheses) are removed first.
/// - `+` followed by digits is already E.164 and kept. A trunk prefix in parentheses
///   (`+44 (0)20 ...`: `(0)` or this plan's national prefix) is dropped, as it is never
///   dialled from abroad.
/// - The international prefix (`00`) becomes `+`; the national prefix (`0`) becomes `+`
///   and the country code. The longer prefix is tried first, so `00` wins over `0`.
/// - Digits with neither prefix (a short code such as `112`, an extension, a national
///   number in a plan without a trunk prefix) come back with only the separators removed:
///   there is no safe way to tell a subscriber number from a short code.
/// - Anything else (letters, `*`, `#`, a `tel:`-style or parameterised user, an empty
///   number, a prefix with nothing after it) comes back unchanged.
///
/// ```
/// use voxgate_config::Numbering;
/// use voxgate_control::normalise;
///
/// let uk = Numbering {
///     country_code: "44".into(),
///     national_prefix: Some("0".into()),
///     international_prefix: Some("00".into()),
/// };
/// assert_eq!(normalise("020 7123 4567", &uk), "+442071234567");
/// assert_eq!(normalise("0049 30 1234567", &uk), "+49301234567");
/// assert_eq!(normalise("999", &uk), "999");
/// ```
pub fn normalise(number: &str, numbering: &Numbering) -> String {
    let cleaned: String = number
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' ' | '(' | ')'))
        .collect();
    if let Some(digits) = cleaned.strip_prefix('+') {
        if !all_digits(digits) {
            return number.to_owned();
        }
        return match trunk_prefix_in_parentheses(number, numbering) {
            Some(fixed) => fixed,
            None => cleaned,
        };
    }
    if !all_digits(&cleaned) {
        return number.to_owned();
    }
    let international = numbering.international_prefix.as_deref();
    let national = numbering.national_prefix.as_deref();
    // Longest first: with "0" and "00", "0049..." is international.
    let mut prefixes = [(international, true), (national, false)];
    prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.map_or(0, str::len)));
    for (prefix, is_international) in prefixes {
        let Some(rest) = prefix.and_then(|p| cleaned.strip_prefix(p)) else {
            continue;
        };
        if rest.is_empty() {
            // Only the prefix was dialled: nothing to normalise.
            return cleaned;
        }
        return if is_international {
            format!("+{rest}")
        } else {
            format!("+{}{rest}", numbering.country_code)
        };
    }
    cleaned
}

/// `+44 (0)20 7123 4567` → `+442071234567`: the "(0)" written after a country code for
/// readers who dial nationally is never dialled from abroad. Recognised as `(0)` or as
/// this plan's national prefix in parentheses; other parentheses are plain separators.
fn trunk_prefix_in_parentheses(number: &str, numbering: &Numbering) -> Option<String> {
    let compact: String = number
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' '))
        .collect();
    let national = numbering
        .national_prefix
        .as_deref()
        .map(|p| format!("({p})"));
    let group = [Some("(0)"), national.as_deref()]
        .into_iter()
        .flatten()
        .find(|g| compact.contains(g))?;
    let digits: String = compact
        .replacen(group, "", 1)
        .chars()
        .filter(|c| !matches!(c, '(' | ')'))
        .collect();
    digits
        .strip_prefix('+')
        .is_some_and(all_digits)
        .then_some(digits)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cc: &str, national: Option<&str>, international: Option<&str>) -> Numbering {
        Numbering {
            country_code: cc.to_owned(),
            national_prefix: national.map(str::to_owned),
            international_prefix: international.map(str::to_owned),
        }
    }

    fn check(numbering: &Numbering, table: &[(&str, &str)]) {
        for (input, expected) in table {
            assert_eq!(normalise(input, numbering), *expected, "{input:?}");
        }
    }

    #[test]
    fn united_kingdom() {
        check(
            &plan("44", Some("0"), Some("00")),
            &[
                ("02071234567", "+442071234567"),
                ("020 7123 4567", "+442071234567"),
                ("(020) 7123-4567", "+442071234567"),
                ("07700900123", "+447700900123"),
                ("00442071234567", "+442071234567"),
                ("0049301234567", "+49301234567"),
                ("001 212 555 0100", "+12125550100"),
                ("+442071234567", "+442071234567"),
                ("+44 20 7123 4567", "+442071234567"),
                ("+44 (0)20 7123 4567", "+442071234567"),
                ("+44(0)2071234567", "+442071234567"),
                // "(0)" is the trunk prefix whatever the country code.
                ("+49 (0)30 1234567", "+49301234567"),
                ("+1 (212) 555-0100", "+12125550100"),
                ("999", "999"),
                ("112", "112"),
                ("2071234567", "2071234567"),
                ("0", "0"),
                ("00", "00"),
            ],
        );
    }

    #[test]
    fn united_states() {
        check(
            &plan("1", Some("1"), Some("011")),
            &[
                ("12125550100", "+12125550100"),
                ("1-212-555-0100", "+12125550100"),
                ("1 (212) 555-0100", "+12125550100"),
                ("011442071234567", "+442071234567"),
                ("011 49 30 1234567", "+49301234567"),
                ("+1 212 555 0100", "+12125550100"),
                ("+1.212.555.0100", "+12125550100"),
                // Ten digits without the trunk prefix: left as dialled (documented).
                ("2125550100", "2125550100"),
                ("911", "911"),
            ],
        );
    }

    #[test]
    fn germany() {
        check(
            &plan("49", Some("0"), Some("00")),
            &[
                ("030 1234567", "+49301234567"),
                ("030/1234567", "030/1234567"),
                ("0301234567", "+49301234567"),
                ("0151 12345678", "+4915112345678"),
                ("0043 1 234567", "+431234567"),
                ("+49 (0)30 1234567", "+49301234567"),
                ("110", "110"),
            ],
        );
    }

    #[test]
    fn france() {
        check(
            &plan("33", Some("0"), Some("00")),
            &[
                ("01 23 45 67 89", "+33123456789"),
                ("01.23.45.67.89", "+33123456789"),
                ("06-12-34-56-78", "+33612345678"),
                ("0044 20 7123 4567", "+442071234567"),
                ("+33 1 23 45 67 89", "+33123456789"),
                ("15", "15"),
            ],
        );
    }

    #[test]
    fn plans_without_prefixes() {
        // Only a country code: only "+" numbers are E.164, the rest is left alone.
        check(
            &plan("39", None, None),
            &[
                ("06 1234567", "061234567"),
                ("+39 06 1234567", "+39061234567"),
            ],
        );
        // Only an international prefix.
        check(
            &plan("46", None, Some("00")),
            &[("0046812345", "+46812345")],
        );
        // A trunk prefix other than 0, in parentheses after the country code.
        check(
            &plan("7", Some("8"), Some("810")),
            &[
                ("+7 (8)495 1234567", "+74951234567"),
                ("8 495 1234567", "+74951234567"),
                ("810 44 20 7123 4567", "+442071234567"),
            ],
        );
    }

    #[test]
    fn not_numbers_are_unchanged() {
        let uk = plan("44", Some("0"), Some("00"));
        check(
            &uk,
            &[
                ("alice", "alice"),
                ("", ""),
                ("+", "+"),
                ("+44abc", "+44abc"),
                ("tel:+442071234567", "tel:+442071234567"),
                ("*21#", "*21#"),
                ("020 7123 4567;isub=1", "020 7123 4567;isub=1"),
                ("0207123456%37", "0207123456%37"),
                ("--", "--"),
            ],
        );
    }
}
