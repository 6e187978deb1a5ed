//! The one redaction rule for caller and callee numbers, shared by logs, CDRs and the
//! router, so that a number never shows in one place what another hides.

/// Redacts a number (or any SIP user) for logs and CDRs: the leading `+` (if any), at most
/// the first 4 and the last 2 characters stay, every other character becomes `*`, and at
/// least half the characters are always hidden. The length is kept, so numbers of
/// different plans still look different.
///
/// ```
/// use voxgate_config::redact_number;
/// assert_eq!(redact_number("+442071234512"), "+4420******12");
/// assert_eq!(redact_number("1001"), "10**");
/// ```
pub fn redact_number(n: &str) -> String {
    let (plus, rest) = match n.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", n),
    };
    let len = rest.chars().count();
    // Never more than half shown: short numbers (extensions) give little away, and a
    // 7-digit local number does not come out almost whole.
    let shown = (len / 2).min(6);
    let tail = shown / 3;
    let head = shown - tail;
    let mut out = String::with_capacity(n.len());
    out.push_str(plus);
    for (i, c) in rest.chars().enumerate() {
        if i < head || i >= len - tail {
            out.push(c);
        } else {
            out.push('*');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_number;

    #[test]
    fn redaction_table() {
        let cases = [
            // E.164: country code-ish head, last two.
            ("+442071234512", "+4420******12"),
            ("+14155550123", "+1415******3"),
            ("+4930123456", "+4930*****6"),
            ("442071234512", "4420******12"),
            // Shorter: at most half shown.
            ("5551234", "55****4"),
            ("12345678", "123****8"),
            ("1001", "10**"),
            ("112", "1**"),
            ("7", "*"),
            ("+", "+"),
            ("", ""),
            // Not a number: same rule, by characters.
            ("anonymous", "ano*****s"),
            ("\u{e9}l\u{e8}ve", "\u{e9}l***"),
        ];
        for (number, shown) in cases {
            assert_eq!(redact_number(number), shown, "{number}");
            assert_eq!(
                redact_number(number).chars().count(),
                number.chars().count(),
                "{number}: the length is kept"
            );
        }
    }

    #[test]
    fn at_least_half_is_hidden() {
        for len in 0..40 {
            let n = "9".repeat(len);
            let stars = redact_number(&n).chars().filter(|&c| c == '*').count();
            assert!(stars * 2 >= len, "{len}: {}", redact_number(&n));
        }
    }
}
