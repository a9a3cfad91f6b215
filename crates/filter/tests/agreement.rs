//! The compiled evaluator (and its per-stream specialisation) agrees with a plain reference
//! interpreter written straight from SPEC §3.2, on random trees and random requests.

use std::borrow::Cow;
use std::collections::HashMap;

use bidsieve_filter::{
    BoolOp, Facts, FilterKind, FilterSpec, FilterTree, ListField, ListValues, NoLists, ThresholdOp,
    Verdict,
};
use bidsieve_openrtb::{BidFields, Size, Sizes, normalize_country};
use proptest::prelude::*;

/// A generated tree before ids are given.
#[derive(Clone, Debug)]
enum Gen {
    Bool(BoolOp, Vec<Gen>),
    List(ListField, bool, Vec<String>),
    Threshold(ThresholdOp, f64),
}

const USERS: [&str; 8] = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
const LIST_COUNTRIES: [&str; 7] = ["US", "GB", "UK", "gbr", "DE", "FR", "XKX"];
const REQUEST_COUNTRIES: [&str; 6] = ["US", "GB", "DE", "FR", "IE", "XKX"];
const SIZES: [&str; 4] = ["300x250", "320x50", "728x90", "160x600"];
const LIST_DOMAINS: [&str; 4] = ["a.com", "www.b.com", "C.com", "d.com"];
const REQUEST_DOMAINS: [&str; 5] = ["a.com", "b.com", "c.com", "e.com", "www.a.com"];
const UID2S: [&str; 3] = ["x", "y", "z"];
const STATUSES: [&str; 4] = ["NONE", "SUCCESS", "EXPIRED_TOKEN", "INVALID_PAYLOAD"];
const THRESHOLDS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
const SCORES: [f64; 6] = [0.0, 0.25, 0.5, 0.6, 0.75, 1.0];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn texts(items: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(pick(items).prop_map(String::from), 0..=max)
}

fn leaf() -> impl Strategy<Value = Gen> {
    let white = any::<bool>();
    prop_oneof![
        (white, texts(&USERS, 5)).prop_map(|(w, v)| Gen::List(ListField::User, w, v)),
        // Long user lists exercise the fingerprint representation.
        (white, proptest::collection::vec(0..60u32, 17..40)).prop_map(|(w, v)| Gen::List(
            ListField::User,
            w,
            v.into_iter().map(|i| format!("u{i}")).collect()
        )),
        (white, texts(&LIST_COUNTRIES, 4)).prop_map(|(w, v)| Gen::List(ListField::Country, w, v)),
        (white, texts(&SIZES, 3)).prop_map(|(w, v)| Gen::List(ListField::Size, w, v)),
        (white, proptest::collection::vec(0..5i64, 0..3)).prop_map(|(w, v)| Gen::List(
            ListField::Stream,
            w,
            v.iter().map(i64::to_string).collect()
        )),
        (white, proptest::collection::vec(0..5i64, 0..3)).prop_map(|(w, v)| Gen::List(
            ListField::Supplier,
            w,
            v.iter().map(i64::to_string).collect()
        )),
        (white, texts(&LIST_DOMAINS, 3)).prop_map(|(w, v)| Gen::List(ListField::Domain, w, v)),
        (white, texts(&UID2S, 2)).prop_map(|(w, v)| Gen::List(ListField::Uid2, w, v)),
        (white, texts(&STATUSES, 2)).prop_map(|(w, v)| Gen::List(ListField::Uid2Status, w, v)),
        (any::<bool>(), pick(&THRESHOLDS)).prop_map(|(gt, t)| Gen::Threshold(
            if gt {
                ThresholdOp::GreaterThan
            } else {
                ThresholdOp::LessThan
            },
            t
        )),
    ]
}

fn tree() -> impl Strategy<Value = Gen> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        (any::<bool>(), proptest::collection::vec(inner, 0..5)).prop_map(|(and, children)| {
            Gen::Bool(if and { BoolOp::And } else { BoolOp::Or }, children)
        })
    })
}

/// Flattens a generated tree into specs (pre-order ids from 1), normalizing lists the way
/// validation does.
fn specs(root: &Gen) -> Vec<FilterSpec> {
    fn walk(node: &Gen, parent: Option<i64>, out: &mut Vec<FilterSpec>) {
        let id = out.len() as i64 + 1;
        let kind = match node {
            Gen::Bool(op, _) => FilterKind::Boolean(*op),
            Gen::List(field, white, values) => FilterKind::List {
                field: *field,
                white: *white,
                values: ListValues::from_texts(*field, values.iter().map(String::as_str)).unwrap(),
            },
            Gen::Threshold(op, threshold) => FilterKind::Threshold {
                op: *op,
                threshold: *threshold,
            },
        };
        out.push(FilterSpec {
            id,
            parent_id: parent,
            kind,
        });
        if let Gen::Bool(_, children) = node {
            for child in children {
                walk(child, Some(id), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, None, &mut out);
    out
}

/// A generated request.
#[derive(Clone, Debug)]
struct Req {
    user: Option<String>,
    country: Option<&'static str>,
    sizes: Vec<&'static str>,
    domain: Option<&'static str>,
    authed: Option<f64>,
    stream: i64,
    supplier: i64,
    uid2: Option<&'static str>,
    status: &'static str,
}

fn request() -> impl Strategy<Value = Req> {
    (
        proptest::option::of((0..64u32).prop_map(|i| format!("u{i}"))),
        proptest::option::of(pick(&REQUEST_COUNTRIES)),
        proptest::collection::vec(pick(&SIZES), 0..3),
        proptest::option::of(pick(&REQUEST_DOMAINS)),
        proptest::option::of(pick(&SCORES)),
        0..5i64,
        0..5i64,
        proptest::option::of(pick(&UID2S)),
        pick(&STATUSES),
    )
        .prop_map(
            |(user, country, sizes, domain, authed, stream, supplier, uid2, status)| Req {
                user,
                country,
                sizes,
                domain,
                authed,
                stream,
                supplier,
                uid2,
                status,
            },
        )
}

impl Req {
    fn fields(&self) -> BidFields<'_> {
        let mut sizes = Sizes::new();
        for s in &self.sizes {
            let (w, h) = s.split_once('x').unwrap();
            sizes.push(Size {
                w: w.parse().unwrap(),
                h: h.parse().unwrap(),
            });
        }
        BidFields {
            id: Cow::Borrowed("r"),
            imp_count: 1,
            user_id: self.user.as_deref().map(Cow::Borrowed),
            country: self.country.and_then(normalize_country),
            sizes,
            authed: self.authed,
            // Request-side normal form, as the extractor produces it.
            domain: self.domain.map(bidsieve_openrtb::normalize_domain),
            ..BidFields::default()
        }
    }
}

/// SPEC §3.2, read literally, over the specs (no compilation, no reordering).
struct Reference<'a> {
    by_parent: HashMap<Option<i64>, Vec<&'a FilterSpec>>,
}

impl<'a> Reference<'a> {
    fn new(specs: &'a [FilterSpec]) -> Self {
        let mut by_parent: HashMap<Option<i64>, Vec<&FilterSpec>> = HashMap::new();
        for spec in specs {
            by_parent.entry(spec.parent_id).or_default().push(spec);
        }
        Self { by_parent }
    }

    fn passes(&self, spec: &FilterSpec, req: &Req, fields: &BidFields<'_>) -> bool {
        let children = self
            .by_parent
            .get(&Some(spec.id))
            .cloned()
            .unwrap_or_default();
        match &spec.kind {
            // and: every child passes (none: passes). or: some child passes (none: fails).
            FilterKind::Boolean(BoolOp::And) => {
                children.iter().all(|c| self.passes(c, req, fields))
            }
            FilterKind::Boolean(BoolOp::Or) => children.iter().any(|c| self.passes(c, req, fields)),
            FilterKind::List {
                field,
                white,
                values,
            } => {
                let request_values: Vec<String> = match field {
                    ListField::User => fields.user_id.iter().map(|u| u.to_string()).collect(),
                    ListField::Country => fields
                        .country
                        .iter()
                        .map(|c| c.as_str().to_string())
                        .collect(),
                    ListField::Size => fields
                        .sizes
                        .iter()
                        .map(|s| format!("{}x{}", s.w, s.h))
                        .collect(),
                    ListField::Stream => vec![req.stream.to_string()],
                    ListField::Supplier => vec![req.supplier.to_string()],
                    ListField::Domain => fields.domain.iter().map(|d| d.to_string()).collect(),
                    ListField::Uid2 => req.uid2.iter().map(|u| u.to_string()).collect(),
                    ListField::Uid2Status => vec![req.status.to_string()],
                };
                let list: Vec<String> = values.texts().map(|t| t.into_owned()).collect();
                let some_in_list = request_values.iter().any(|v| list.contains(v));
                // white: some value in the list (no value: fails).
                // black: no value in the list (no value: passes).
                if *white { some_in_list } else { !some_in_list }
            }
            FilterKind::Threshold { op, threshold } => match (fields.authed, op) {
                (None, _) => false,
                (Some(score), ThresholdOp::GreaterThan) => score >= *threshold,
                (Some(score), ThresholdOp::LessThan) => score < *threshold,
            },
        }
    }
}

fn facts<'a>(req: &'a Req, fields: &'a BidFields<'a>) -> Facts<'a> {
    Facts {
        request: fields,
        stream_id: req.stream,
        supplier_id: req.supplier,
        uid2: req.uid2,
        uid2_status: req.status,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiled_evaluation_agrees_with_the_reference(
        root in tree(),
        requests in proptest::collection::vec(request(), 1..8),
    ) {
        let specs = specs(&root);
        let tree = FilterTree::compile(&specs, &NoLists).unwrap();
        let reference = Reference::new(&specs);
        let by_id: HashMap<i64, &FilterSpec> = specs.iter().map(|s| (s.id, s)).collect();
        for req in &requests {
            let fields = req.fields();
            let facts = facts(req, &fields);
            let expected = reference.passes(&specs[0], req, &fields);
            let verdict = tree.evaluate(&facts);
            prop_assert_eq!(verdict.pass, expected, "request {:?}", req);

            // explain: every node, each as the reference says.
            let explained = tree.explain(&facts);
            prop_assert_eq!(explained.len(), specs.len());
            prop_assert_eq!(explained[0], (1, expected));
            for (id, result) in &explained {
                let spec = by_id[id];
                prop_assert_eq!(*result, reference.passes(spec, req, &fields), "node {}", id);
            }

            // blocked_by: a failing leaf, or an `or` without children.
            match verdict {
                Verdict { pass: true, blocked_by } => prop_assert_eq!(blocked_by, None),
                Verdict { pass: false, blocked_by } => {
                    let id = blocked_by.unwrap();
                    prop_assert!(explained.contains(&(id, false)));
                    let spec = by_id[&id];
                    let is_empty_or = matches!(spec.kind, FilterKind::Boolean(BoolOp::Or))
                        && !specs.iter().any(|s| s.parent_id == Some(id));
                    prop_assert!(!spec.kind.is_boolean() || is_empty_or, "blocked_by {}", id);
                }
            }

            // The per-stream tree decides exactly the same.
            let specialized = tree.specialize(req.stream, req.supplier);
            prop_assert!(specialized.len() <= tree.len());
            prop_assert_eq!(specialized.evaluate(&facts), verdict);
        }
    }
}
