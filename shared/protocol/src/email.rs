//! The one normal form of an email address, used wherever one is stored, compared or looked up.

use unicode_normalization::UnicodeNormalization as _;

/// Trimmed, Unicode NFKC, lower-cased: `Bob@Example.COM` and `ｂｏｂ@example.com` are one address, while
/// look-alikes from other scripts (a Cyrillic `о` for a Latin `o`) stay distinct, as they are distinct
/// mailboxes.
pub fn normalize(email: &str) -> String {
    email.trim().nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn case_width_and_spaces_fold() {
        assert_eq!(normalize("  Bob@Example.COM "), "bob@example.com");
        assert_eq!(normalize("ｂｏｂ@ｅｘａｍｐｌｅ.com"), "bob@example.com");
    }

    #[test]
    fn look_alikes_stay_distinct() {
        let latin = normalize("bob@example.com");
        for other in ["b\u{043e}b@example.com", "bob@ex\u{0430}mple.com", "bo\u{0431}@example.com", "boß@example.com"]
        {
            assert_ne!(normalize(other), latin, "{other}");
        }
        assert_ne!(normalize("strasse@example.com"), normalize("straße@example.com"));
    }
}
