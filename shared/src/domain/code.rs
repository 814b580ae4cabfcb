//! Invite codes: `I-XXXX-XXXX-XXXX`, 12 Crockford base32 characters.

use super::secret::{HashKeys, SecretHash, fill_random};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 12;

/// A syntactically valid invite code, held in canonical form (12 symbols).
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode(String);

impl std::fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InviteCode(…{})", self.last4())
    }
}

impl InviteCode {
    /// Forgiving parse: case-insensitive, spaces and hyphens ignored, the
    /// `I-` prefix optional, `O` read as `0`, `I`/`L` read as `1`.
    pub fn parse(input: &str) -> Option<Self> {
        let mut symbols: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-' | b'\t'))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        // 13 symbols starting with I: the prefix. (A 12-symbol code may itself
        // start with `1`, typed as `I`; that one is kept.)
        if symbols.len() == LEN + 1 && symbols[0] == b'I' {
            symbols.remove(0);
        }
        if symbols.len() != LEN {
            return None;
        }
        let mut canonical = String::with_capacity(LEN);
        for symbol in symbols {
            let c = match symbol {
                b'O' => b'0',
                b'I' | b'L' => b'1',
                other => other,
            };
            if !ALPHABET.contains(&c) {
                return None;
            }
            canonical.push(c as char);
        }
        Some(Self(canonical))
    }

    /// 60 bits from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; LEN];
        fill_random(&mut bytes);
        Self(
            bytes
                .iter()
                .map(|b| ALPHABET[usize::from(b & 0x1f)] as char)
                .collect(),
        )
    }

    /// The hash a new code is stored under.
    pub fn hash(&self, keys: &HashKeys) -> SecretHash {
        keys.hash("code", &self.0)
    }

    /// Every hash this code may be stored under (see [`HashKeys`]).
    pub fn hashes(&self, keys: &HashKeys) -> Vec<SecretHash> {
        keys.candidates("code", &self.0)
    }

    pub fn last4(&self) -> &str {
        &self.0[LEN - 4..]
    }

    /// The display form, shown to an admin once at creation.
    pub fn formatted(&self) -> String {
        format!("I-{}-{}-{}", &self.0[0..4], &self.0[4..8], &self.0[8..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_code_round_trips() {
        let code = InviteCode::parse("I-7KQ2-M9TX-4HCD").expect("valid");
        assert_eq!(code.formatted(), "I-7KQ2-M9TX-4HCD");
        assert_eq!(code.last4(), "4HCD");
    }

    #[test]
    fn input_is_forgiving() {
        let want = InviteCode::parse("I-7KQ2-M9TX-4HCD").expect("valid");
        for typed in [
            "i-7kq2-m9tx-4hcd",
            "7KQ2M9TX4HCD",
            " I 7KQ2 M9TX 4HCD ",
            "I7KQ2-M9TX-4HCD",
            "7kq2-m9tx-4hcd",
        ] {
            assert_eq!(InviteCode::parse(typed).as_ref(), Some(&want), "{typed}");
        }
        assert_eq!(
            InviteCode::parse("I-OOII-LLOO-0000"),
            InviteCode::parse("0011-1100-0000")
        );
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for typed in [
            "",
            "I-",
            "I-7KQ2-M9TX-4H",
            "I-7KQ2-M9TX-4HCDD",
            "I-7KQ2-M9TX-4HCU",
            "I-7KQ2-M9TX-4HC!",
        ] {
            assert!(InviteCode::parse(typed).is_none(), "{typed}");
        }
    }

    #[test]
    fn a_twelve_symbol_input_starting_with_i_is_a_code_not_a_prefix() {
        // Without the prefix, a leading `I` is the symbol `1` (the input rule
        // "I reads as 1"); only a 13th symbol makes it the prefix.
        assert_eq!(
            InviteCode::parse("I7KQ2M9TX4HC").map(|c| c.formatted()),
            Some("I-17KQ-2M9T-X4HC".to_owned())
        );
    }

    #[test]
    fn generated_codes_are_canonical_and_distinct() {
        let a = InviteCode::generate();
        assert_eq!(InviteCode::parse(&a.formatted()), Some(a.clone()));
        assert_ne!(a, InviteCode::generate());
    }

    #[test]
    fn hash_is_of_the_canonical_form() {
        let a = InviteCode::parse("i-7kq2-m9tx-4hcd").expect("valid");
        let b = InviteCode::parse("I-7KQ2-M9TX-4HCD").expect("valid");
        let keys = HashKeys::development();
        assert_eq!(a.hash(&keys), b.hash(&keys));
    }
}

/// Properties, over generated input (256 cases each; `PROPTEST_CASES`
/// raises it for a soak).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A code in canonical form: 12 symbols of the alphabet.
    fn canonical() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), LEN)
            .prop_map(|symbols| symbols.into_iter().map(char::from).collect())
    }

    /// How a person may type `symbol`: either case, and `0` as `O`/`o`,
    /// `1` as `I`/`i`/`L`/`l`.
    fn typed(symbol: char) -> BoxedStrategy<char> {
        let spellings: Vec<char> = match symbol {
            '0' => vec!['0', 'O', 'o'],
            '1' => vec!['1', 'I', 'i', 'L', 'l'],
            c => vec![c, c.to_ascii_lowercase()],
        };
        prop::sample::select(spellings).boxed()
    }

    /// `canonical` as typed: each symbol spelled in any accepted way, any
    /// run of spaces, tabs and hyphens between and around them, with or
    /// without the `I-` prefix.
    fn variant(canonical: &str) -> impl Strategy<Value = String> + use<> {
        let symbols: Vec<BoxedStrategy<char>> = canonical.chars().map(typed).collect();
        let gaps = prop::collection::vec("[ \t-]{0,2}", LEN + 1);
        let prefix = prop_oneof![Just(""), Just("I-"), Just("i"), Just("I "), Just("-i-")];
        (symbols, gaps, prefix).prop_map(|(symbols, gaps, prefix)| {
            let mut typed = String::from(prefix);
            for (gap, symbol) in gaps.iter().zip(&symbols) {
                typed.push_str(gap);
                typed.push(*symbol);
            }
            typed.push_str(&gaps[LEN]);
            typed
        })
    }

    /// Whether the forgiving mapping takes `c` into the alphabet.
    fn accepted(c: char) -> bool {
        let upper = c.to_ascii_uppercase();
        matches!(upper, 'O' | 'I' | 'L') || (upper.is_ascii() && ALPHABET.contains(&(upper as u8)))
    }

    proptest! {
        #[test]
        fn the_formatted_form_parses_back(symbols in canonical()) {
            let code = InviteCode::parse(&symbols).expect("canonical symbols");
            prop_assert_eq!(code.0.as_str(), symbols.as_str());
            prop_assert_eq!(InviteCode::parse(&code.formatted()), Some(code.clone()));
            prop_assert_eq!(code.last4(), &symbols[LEN - 4..]);
            let fresh = InviteCode::generate();
            prop_assert_eq!(InviteCode::parse(&fresh.formatted()), Some(fresh));
        }

        #[test]
        fn every_typed_variant_is_the_same_code(
            (symbols, typed) in canonical().prop_flat_map(|c| (Just(c.clone()), variant(&c)))
        ) {
            let want = InviteCode::parse(&symbols).expect("canonical symbols");
            let got = InviteCode::parse(&typed);
            prop_assert_eq!(got.as_ref(), Some(&want), "{:?}", typed);
            let keys = HashKeys::development();
            prop_assert_eq!(got.map(|c| c.hash(&keys)), Some(want.hash(&keys)));
        }

        #[test]
        fn a_character_outside_the_alphabet_is_refused(
            symbols in canonical(),
            at in 0..=LEN,
            bad in any::<char>().prop_filter("outside the alphabet", |c| {
                !accepted(*c) && !matches!(c, ' ' | '\t' | '-')
            }),
        ) {
            let mut typed: Vec<char> = symbols.chars().collect();
            typed.insert(at, bad);
            let typed: String = typed.into_iter().collect();
            prop_assert!(InviteCode::parse(&typed).is_none(), "{:?}", typed);
            // Replacing a symbol instead of adding one: still refused.
            let mut replaced: Vec<char> = symbols.chars().collect();
            replaced[at.min(LEN - 1)] = bad;
            let replaced: String = replaced.into_iter().collect();
            prop_assert!(InviteCode::parse(&replaced).is_none(), "{:?}", replaced);
        }

        #[test]
        fn parse_never_panics_and_yields_canonical_codes(raw in any::<String>()) {
            if let Some(code) = InviteCode::parse(&raw) {
                prop_assert_eq!(code.0.len(), LEN);
                prop_assert!(code.0.bytes().all(|b| ALPHABET.contains(&b)));
                prop_assert_eq!(InviteCode::parse(&code.formatted()), Some(code));
            }
        }

        #[test]
        fn parse_never_panics_on_near_codes(raw in "[ -~]{0,20}") {
            let _ = InviteCode::parse(&raw);
        }
    }
}
