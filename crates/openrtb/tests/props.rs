//! Property tests: `extract` never panics, and agrees with the `serde_json` reference on what it
//! accepts and on every field, for arbitrary bytes, near-JSON token soups, mutated corpus files,
//! and generated bid requests with duplicate keys, escapes and odd whitespace.
//!
//! Deliberate difference from `serde_json`, not reachable by these generators: a number within
//! one rounding step of `f64::MAX` (e.g. `1.7976931348623158e308`) is accepted by `extract`
//! (correctly rounded, it is finite) where `serde_json` without `float_roundtrip` may call it out
//! of range.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::select;

use crate::support::oracle::check;
use crate::support::{corpus_dir, files_under};

fn agree(body: &[u8]) -> Result<(), TestCaseError> {
    check(body).map(|_| ()).map_err(|diff| {
        TestCaseError::fail(format!("{diff}\nbody: {:?}", String::from_utf8_lossy(body)))
    })
}

/// The corpus files that `serde_json` parses, as mutation seeds.
static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    files_under(&corpus_dir())
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|b| b.len() < 8192 && serde_json::from_slice::<serde_json::Value>(b).is_ok())
        .collect()
});

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\"id\"",
    "\"imp\"",
    "\"banner\"",
    "\"w\"",
    "\"h\"",
    "\"format\"",
    "\"x\"",
    "\"\\u0041\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud83d\"",
    "\"\\q\"",
    "\"",
    "\\",
    "0",
    "1",
    "-",
    ".",
    "e",
    "E",
    "+",
    "01",
    "1e400",
    "300",
    "true",
    "false",
    "null",
    "tru",
    "nul",
    "\u{e9}",
    "\u{1}",
    "\t",
    "/",
    "\u{feff}",
];

const KEYS: &[&str] = &[
    "id",
    "imp",
    "banner",
    "w",
    "h",
    "format",
    "site",
    "domain",
    "app",
    "bundle",
    "device",
    "geo",
    "country",
    "user",
    "eids",
    "ext",
    "source",
    "uids",
    "authenticated",
    "authed",
    "score",
    "tmax",
];

const STRINGS: &[&str] = &[
    "uidapi.com",
    "id5-sync.com",
    "www.Example.COM",
    "example.com",
    "www.",
    "",
    "USA",
    "gbr",
    "UK",
    "us",
    "XKX",
    "Deutschland",
    "com.rovio.game",
    "TOKEN+/=",
    "a\"b\\c",
    "line\nbreak",
    "\u{0}",
    "caf\u{e9}",
    "\u{1d11e}",
    "WWW.MÜNCHEN.DE",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "300",
    "250",
    "728",
    "90",
    "-1",
    "1.5",
    "300.0",
    "3e2",
    "0.87",
    "-0.5",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1E-7",
    "123456789012345678901234567890",
];

/// A JSON document as a tree whose objects may repeat keys.
#[derive(Clone, Debug)]
enum Node {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

fn string_text() -> BoxedStrategy<String> {
    prop_oneof![3 => select(STRINGS).prop_map(str::to_owned), 1 => "\\PC{0,12}"].boxed()
}

fn number() -> BoxedStrategy<Node> {
    prop_oneof![
        3 => select(NUMBERS).prop_map(|n| Node::Num(n.to_owned())),
        1 => any::<u32>().prop_map(|n| Node::Num(n.to_string())),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| Node::Num(format!("{f:?}"))),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Node> {
    prop_oneof![
        Just(Node::Null),
        any::<bool>().prop_map(Node::Bool),
        number(),
        string_text().prop_map(Node::Str),
    ]
    .boxed()
}

fn any_node() -> BoxedStrategy<Node> {
    leaf()
        .prop_recursive(4, 24, 4, |inner| {
            let key = prop_oneof![select(KEYS).prop_map(str::to_owned), "[a-z]{1,4}"];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Arr),
                prop::collection::vec((key, inner), 0..4).prop_map(Node::Obj),
            ]
        })
        .boxed()
}

/// Mostly `good`, sometimes any value at all (a wrong type).
fn or_any(good: BoxedStrategy<Node>) -> BoxedStrategy<Node> {
    prop_oneof![4 => good, 1 => any_node()].boxed()
}

/// An object with each named member absent, once or twice, plus stray members, shuffled.
fn object(members: Vec<(&'static str, BoxedStrategy<Node>)>) -> BoxedStrategy<Node> {
    let parts: Vec<BoxedStrategy<Vec<(String, Node)>>> = members
        .into_iter()
        .map(|(key, value)| {
            let count = prop_oneof![1 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize)];
            (count, prop::collection::vec(value, 2))
                .prop_map(move |(n, values)| {
                    values
                        .into_iter()
                        .take(n)
                        .map(|v| (key.to_owned(), v))
                        .collect()
                })
                .boxed()
        })
        .collect();
    let stray = prop::collection::vec(("[a-z]{1,3}", leaf()), 0..2);
    (parts, stray)
        .prop_map(|(parts, stray)| parts.into_iter().flatten().chain(stray).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(Node::Obj)
        .boxed()
}

fn array_of(element: BoxedStrategy<Node>, max: usize) -> BoxedStrategy<Node> {
    prop::collection::vec(element, 0..max)
        .prop_map(Node::Arr)
        .boxed()
}

fn string() -> BoxedStrategy<Node> {
    string_text().prop_map(Node::Str).boxed()
}

/// A width or height: mostly valid, sometimes any number.
fn dimension() -> BoxedStrategy<Node> {
    prop_oneof![
        3 => select(&["300", "250", "728", "90", "0", "4294967295"][..]).prop_map(|n| Node::Num(n.to_owned())),
        1 => number(),
    ]
    .boxed()
}

fn size() -> BoxedStrategy<Node> {
    object(vec![("w", or_any(dimension())), ("h", or_any(dimension()))])
}

fn request() -> BoxedStrategy<Node> {
    let banner = object(vec![
        ("w", or_any(dimension())),
        ("h", or_any(dimension())),
        ("format", or_any(array_of(size(), 4))),
    ]);
    let imp = object(vec![("id", string()), ("banner", or_any(banner))]);
    let geo = object(vec![("country", or_any(string()))]);
    let uid = object(vec![("id", or_any(string()))]);
    let eid = object(vec![
        (
            "source",
            or_any(
                prop_oneof![Just("uidapi.com"), Just("id5-sync.com")]
                    .prop_map(|s| Node::Str(s.to_owned()))
                    .boxed(),
            ),
        ),
        ("uids", or_any(array_of(uid, 3))),
    ]);
    let eids = || or_any(array_of(eid.clone(), 3));
    let user = object(vec![
        ("id", or_any(string())),
        ("geo", or_any(geo.clone())),
        ("eids", eids()),
        ("ext", or_any(object(vec![("eids", eids())]))),
    ]);
    let device = object(vec![("geo", or_any(geo)), ("ua", string())]);
    let authed = object(vec![("score", or_any(number()))]);
    let ext = object(vec![(
        "authenticated",
        or_any(object(vec![("authed", or_any(authed))])),
    )]);
    object(vec![
        ("id", or_any(string())),
        ("imp", or_any(array_of(imp, 4))),
        ("tmax", or_any(number())),
        ("site", or_any(object(vec![("domain", or_any(string()))]))),
        ("app", or_any(object(vec![("bundle", or_any(string()))]))),
        ("device", or_any(device)),
        ("user", or_any(user)),
        ("ext", or_any(ext)),
    ])
}

/// Deterministic choices for rendering, from a seed the strategy draws.
struct Style(u64);

impl Style {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    fn ws(&mut self, out: &mut String) {
        if self.chance(3) {
            out.push_str([" ", "\n", "\t", "\r\n  ", "  "][(self.next() % 5) as usize]);
        }
    }

    fn string(&mut self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if self.chance(8) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                '/' if self.chance(2) => out.push_str("\\/"),
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn render(&mut self, node: &Node, out: &mut String) {
        self.ws(out);
        match node {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Num(n) => out.push_str(n),
            Node::Str(s) => self.string(s, out),
            Node::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.render(item, out);
                }
                self.ws(out);
                out.push(']');
            }
            Node::Obj(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    self.string(key, out);
                    self.ws(out);
                    out.push(':');
                    self.render(value, out);
                }
                self.ws(out);
                out.push('}');
            }
        }
        self.ws(out);
    }
}

fn render(node: &Node, seed: u64) -> String {
    let mut out = String::new();
    Style(seed | 1).render(node, &mut out);
    out
}

/// One edit of a body: overwrite, insert, delete or truncate at `at` (taken modulo the length).
#[derive(Clone, Debug)]
struct Edit {
    at: usize,
    kind: u8,
    byte: u8,
}

fn edit() -> impl Strategy<Value = Edit> {
    let bytes = prop_oneof![
        3 => select(b"{}[]\",:\\ \n0-.eE+tfnu/x".to_vec()),
        1 => select(vec![0x00u8, 0x1f, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xff]),
        1 => any::<u8>(),
    ];
    (any::<usize>(), 0u8..4, bytes).prop_map(|(at, kind, byte)| Edit { at, kind, byte })
}

fn apply(body: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let at = if body.is_empty() {
            0
        } else {
            e.at % body.len()
        };
        match e.kind {
            0 if !body.is_empty() => body[at] = e.byte,
            1 => body.insert(at, e.byte),
            2 if !body.is_empty() => {
                body.remove(at);
            }
            3 => body.truncate(at),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
        agree(&body)?;
    }

    #[test]
    fn arbitrary_text(body in any::<String>()) {
        agree(body.as_bytes())?;
    }

    #[test]
    fn token_soup(tokens in prop::collection::vec(select(TOKENS), 0..48)) {
        agree(tokens.concat().as_bytes())?;
    }

    #[test]
    fn mutated_corpus(index in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..4)) {
        let mut body = index.get(&SEEDS).clone();
        apply(&mut body, &edits);
        agree(&body)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests(doc in request(), seed in any::<u64>()) {
        agree(render(&doc, seed).as_bytes())?;
    }

    #[test]
    fn generated_requests_mutated(doc in request(), seed in any::<u64>(), edits in prop::collection::vec(edit(), 1..3)) {
        let mut body = render(&doc, seed).into_bytes();
        apply(&mut body, &edits);
        agree(&body)?;
    }
}

#[test]
fn corpus_seeds_are_loaded() {
    assert!(SEEDS.len() >= 60, "{} seeds", SEEDS.len());
}

#[test]
fn generated_requests_are_mostly_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (request(), any::<u64>());
    let mut accepted = 0;
    let mut with_sizes = 0;
    let mut with_token = 0;
    for _ in 0..500 {
        let (doc, seed) = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(Ok(fields)) = check(render(&doc, seed).as_bytes()) {
            accepted += 1;
            with_sizes += usize::from(!fields.sizes.is_empty());
            with_token += usize::from(fields.uid2_token.is_some());
        }
    }
    // The generator must reach the interesting paths, or the property above proves little.
    assert!(accepted > 100, "{accepted}");
    assert!(with_sizes > 30, "{with_sizes}");
    assert!(with_token > 10, "{with_token}");
}
