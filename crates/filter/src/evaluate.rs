//! Evaluation of a [`FilterTree`] against one request (SPEC §3.2): [`FilterTree::evaluate`]
//! for the proxy (short-circuiting, allocation-free) and [`FilterTree::explain`] for
//! `POST /api/filters/explain` (every node).

use bidsieve_openrtb::BidFields;

use crate::compile::{FilterTree, Node, Op};
use crate::model::ListField;

/// What a filter tree reads about one request.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The request's extracted fields.
    pub request: &'a BidFields<'a>,
    /// The id of the stream the request arrived on.
    pub stream_id: i64,
    /// The id of that stream's supplier.
    pub supplier_id: i64,
    /// The raw UID2, when the request's token decrypted.
    pub uid2: Option<&'a str>,
    /// The UID2 decryption status name (SPEC §4.3), `"NONE"` when there was no token.
    pub uid2_status: &'a str,
}

/// The tree's decision for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// True when the root passes: forward the request.
    pub pass: bool,
    /// When `pass` is false, the filter that decided the block: a failing leaf decides itself;
    /// a failing `and` is decided by its first failing child in evaluation order; a failing `or`
    /// by its first child in evaluation order (all of them failed); an `or` without children
    /// decides itself. Evaluation order is the compiled order (cheaper children first, then by
    /// id), so the same tree always names the same filter for the same request. `None` when
    /// `pass` is true.
    pub blocked_by: Option<i64>,
}

// === impl FilterTree (evaluation) ===

impl FilterTree {
    /// Decides one request. Allocates nothing, takes no lock.
    #[must_use]
    pub fn evaluate(&self, facts: &Facts<'_>) -> Verdict {
        match self.eval(self.root, facts) {
            Ok(()) => Verdict {
                pass: true,
                blocked_by: None,
            },
            Err(decider) => Verdict {
                pass: false,
                blocked_by: Some(decider),
            },
        }
    }

    /// Every node's result for one request, without short-circuiting: `(filter id, passes)`,
    /// root first, then each subtree in evaluation order. The root's entry is the decision.
    #[must_use]
    pub fn explain(&self, facts: &Facts<'_>) -> Vec<(i64, bool)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        self.explain_node(self.root, facts, &mut out);
        out
    }

    /// `Ok` when the node passes, otherwise the id of the filter that decided the failure.
    /// Recursion depth is bounded by validation (`MAX_TREE_DEPTH`).
    fn eval(&self, at: u32, facts: &Facts<'_>) -> Result<(), i64> {
        let Some(node) = self.node(at) else {
            return Err(0);
        };
        match &node.op {
            Op::All { start, end } => {
                for &child in self.child_indices(*start, *end) {
                    self.eval(child, facts)?;
                }
                Ok(())
            }
            Op::Any {
                start,
                end,
                fail_decider,
            } => {
                let mut first_failure = *fail_decider;
                for &child in self.child_indices(*start, *end) {
                    match self.eval(child, facts) {
                        Ok(()) => return Ok(()),
                        Err(decider) => {
                            first_failure.get_or_insert(decider);
                        }
                    }
                }
                Err(first_failure.unwrap_or(node.id))
            }
            Op::Const { pass, decider } => {
                if *pass {
                    Ok(())
                } else {
                    Err(*decider)
                }
            }
            _ => {
                if leaf_passes(node, facts) {
                    Ok(())
                } else {
                    Err(node.id)
                }
            }
        }
    }

    fn explain_node(&self, at: u32, facts: &Facts<'_>, out: &mut Vec<(i64, bool)>) -> bool {
        let Some(node) = self.node(at) else {
            return false;
        };
        let slot = out.len();
        out.push((node.id, false));
        let pass = match &node.op {
            Op::All { start, end } => {
                let mut all = true;
                for &child in self.child_indices(*start, *end) {
                    all &= self.explain_node(child, facts, out);
                }
                all
            }
            Op::Any { start, end, .. } => {
                let mut any = false;
                for &child in self.child_indices(*start, *end) {
                    any |= self.explain_node(child, facts, out);
                }
                any
            }
            Op::Const { pass, .. } => *pass,
            _ => leaf_passes(node, facts),
        };
        if let Some(entry) = out.get_mut(slot) {
            entry.1 = pass;
        }
        pass
    }
}

/// SPEC §3.2 for one leaf.
fn leaf_passes(node: &Node, facts: &Facts<'_>) -> bool {
    match &node.op {
        Op::List { field, white, list } => {
            let request = facts.request;
            // `None`: the request has no value for the field.
            let found = match field {
                ListField::User => request.user_id.as_deref().map(|v| list.contains_str(v)),
                ListField::Domain => request.domain.as_deref().map(|v| list.contains_str(v)),
                ListField::Uid2 => facts.uid2.map(|v| list.contains_str(v)),
                ListField::Uid2Status => Some(list.contains_str(facts.uid2_status)),
                ListField::Country => request.country.map(|c| list.contains_country(c)),
                ListField::Size => {
                    if request.sizes.is_empty() {
                        None
                    } else {
                        Some(request.sizes.iter().any(|s| list.contains_size(*s)))
                    }
                }
                ListField::Stream => Some(list.contains_int(facts.stream_id)),
                ListField::Supplier => Some(list.contains_int(facts.supplier_id)),
            };
            match found {
                // White: some value in the list. Black: no value in the list.
                Some(in_list) => in_list == *white,
                // White: no value fails. Black: no value passes.
                None => !*white,
            }
        }
        Op::AuthedAtLeast(threshold) => facts.request.authed.is_some_and(|s| s >= *threshold),
        Op::AuthedBelow(threshold) => facts.request.authed.is_some_and(|s| s < *threshold),
        Op::Const { pass, .. } => *pass,
        Op::All { .. } | Op::Any { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use bidsieve_openrtb::{Size, Sizes};

    use super::*;
    use crate::compile::NoLists;
    use crate::list::ListValues;
    use crate::model::{BoolOp, FilterKind, FilterSpec, ThresholdOp};

    fn spec(id: i64, parent: Option<i64>, kind: FilterKind) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: parent,
            kind,
        }
    }

    fn list(field: ListField, white: bool, values: &[&str]) -> FilterKind {
        FilterKind::List {
            field,
            white,
            values: ListValues::from_texts(field, values.iter().copied()).unwrap(),
        }
    }

    fn one_leaf(kind: FilterKind) -> FilterTree {
        FilterTree::compile(&[spec(1, None, kind)], &NoLists).unwrap()
    }

    fn facts<'a>(request: &'a BidFields<'a>) -> Facts<'a> {
        Facts {
            request,
            stream_id: 10,
            supplier_id: 20,
            uid2: None,
            uid2_status: "NONE",
        }
    }

    fn passes(tree: &FilterTree, request: &BidFields<'_>) -> bool {
        tree.evaluate(&facts(request)).pass
    }

    fn user(id: &str) -> BidFields<'_> {
        BidFields {
            user_id: Some(Cow::Borrowed(id)),
            ..BidFields::default()
        }
    }

    #[test]
    fn white_list_rules() {
        let tree = one_leaf(list(ListField::User, true, &["a", "b"]));
        assert!(passes(&tree, &user("a")));
        assert!(!passes(&tree, &user("c")));
        // No value fails.
        assert!(!passes(&tree, &BidFields::default()));
        assert_eq!(
            tree.evaluate(&facts(&user("c"))),
            Verdict {
                pass: false,
                blocked_by: Some(1)
            }
        );
        // Empty white list passes nothing.
        let empty = one_leaf(list(ListField::User, true, &[]));
        assert!(!passes(&empty, &user("a")));
    }

    #[test]
    fn black_list_rules() {
        let tree = one_leaf(list(ListField::User, false, &["a"]));
        assert!(!passes(&tree, &user("a")));
        assert!(passes(&tree, &user("b")));
        // No value passes.
        assert!(passes(&tree, &BidFields::default()));
        assert_eq!(
            tree.evaluate(&facts(&user("b"))),
            Verdict {
                pass: true,
                blocked_by: None
            }
        );
        // Empty black list passes everything.
        let empty = one_leaf(list(ListField::User, false, &[]));
        assert!(passes(&empty, &user("a")));
    }

    #[test]
    fn multi_valued_sizes() {
        let mut sizes = Sizes::new();
        sizes.push(Size { w: 728, h: 90 });
        sizes.push(Size { w: 300, h: 250 });
        let request = BidFields {
            sizes,
            ..BidFields::default()
        };
        assert!(passes(
            &one_leaf(list(ListField::Size, true, &["300x250"])),
            &request
        ));
        assert!(!passes(
            &one_leaf(list(ListField::Size, true, &["320x50"])),
            &request
        ));
        // Black: passes iff none of the values is listed.
        assert!(!passes(
            &one_leaf(list(ListField::Size, false, &["300x250"])),
            &request
        ));
        assert!(passes(
            &one_leaf(list(ListField::Size, false, &["320x50"])),
            &request
        ));
        // No sizes.
        assert!(!passes(
            &one_leaf(list(ListField::Size, true, &["300x250"])),
            &BidFields::default()
        ));
        assert!(passes(
            &one_leaf(list(ListField::Size, false, &["300x250"])),
            &BidFields::default()
        ));
    }

    #[test]
    fn stream_supplier_and_uid2_fields() {
        let request = BidFields::default();
        assert!(passes(
            &one_leaf(list(ListField::Stream, true, &["10"])),
            &request
        ));
        assert!(!passes(
            &one_leaf(list(ListField::Stream, true, &["11"])),
            &request
        ));
        assert!(passes(
            &one_leaf(list(ListField::Supplier, true, &["20"])),
            &request
        ));
        assert!(!passes(
            &one_leaf(list(ListField::Supplier, false, &["20"])),
            &request
        ));
        let status = one_leaf(list(ListField::Uid2Status, true, &["SUCCESS"]));
        assert!(!passes(&status, &request));
        let none = one_leaf(list(ListField::Uid2Status, true, &["NONE"]));
        assert!(passes(&none, &request));
        let uid2 = one_leaf(list(ListField::Uid2, true, &["raw-id"]));
        assert!(!passes(&uid2, &request));
        let with_uid2 = Facts {
            uid2: Some("raw-id"),
            uid2_status: "SUCCESS",
            ..facts(&request)
        };
        assert!(uid2.evaluate(&with_uid2).pass);
        assert!(status.evaluate(&with_uid2).pass);
        let uid2_black = one_leaf(list(ListField::Uid2, false, &["raw-id"]));
        assert!(passes(&uid2_black, &request));
    }

    #[test]
    fn domain_field() {
        let tree = one_leaf(list(ListField::Domain, true, &["www.Example.com"]));
        let request = BidFields {
            domain: Some(Cow::Borrowed("example.com")),
            ..BidFields::default()
        };
        assert!(passes(&tree, &request));
        assert!(!passes(&tree, &BidFields::default()));
    }

    #[test]
    fn country_field() {
        let tree = one_leaf(list(ListField::Country, true, &["UK"]));
        let gb = BidFields {
            country: bidsieve_openrtb::normalize_country("GBR"),
            ..BidFields::default()
        };
        assert!(gb.country.is_some());
        assert!(passes(&tree, &gb));
        let us = BidFields {
            country: bidsieve_openrtb::normalize_country("US"),
            ..BidFields::default()
        };
        assert!(!passes(&tree, &us));
        assert!(!passes(&tree, &BidFields::default()));
        let black = one_leaf(list(ListField::Country, false, &["UK"]));
        assert!(passes(&black, &BidFields::default()));
        assert!(!passes(&black, &gb));
    }

    #[test]
    fn threshold_rules() {
        let at_least = one_leaf(FilterKind::Threshold {
            op: ThresholdOp::GreaterThan,
            threshold: 0.5,
        });
        let below = one_leaf(FilterKind::Threshold {
            op: ThresholdOp::LessThan,
            threshold: 0.5,
        });
        let score = |s: f64| BidFields {
            authed: Some(s),
            ..BidFields::default()
        };
        assert!(passes(&at_least, &score(0.5)));
        assert!(passes(&at_least, &score(0.9)));
        assert!(!passes(&at_least, &score(0.49)));
        assert!(passes(&below, &score(0.49)));
        assert!(!passes(&below, &score(0.5)));
        // No score fails both.
        assert!(!passes(&at_least, &BidFields::default()));
        assert!(!passes(&below, &BidFields::default()));
    }

    #[test]
    fn boolean_rules_and_empty_nodes() {
        let and = FilterTree::compile(&[spec(1, None, FilterKind::Boolean(BoolOp::And))], &NoLists)
            .unwrap();
        assert!(passes(&and, &BidFields::default()));
        let or = FilterTree::compile(&[spec(1, None, FilterKind::Boolean(BoolOp::Or))], &NoLists)
            .unwrap();
        assert_eq!(
            or.evaluate(&facts(&BidFields::default())),
            Verdict {
                pass: false,
                blocked_by: Some(1)
            }
        );
        let tree = FilterTree::compile(
            &[
                spec(1, None, FilterKind::Boolean(BoolOp::Or)),
                spec(2, Some(1), list(ListField::User, true, &["a"])),
                spec(3, Some(1), list(ListField::User, true, &["b"])),
                spec(4, Some(1), FilterKind::Boolean(BoolOp::And)),
                spec(5, Some(4), list(ListField::User, false, &["c"])),
                spec(6, Some(4), list(ListField::User, true, &["c", "d"])),
            ],
            &NoLists,
        )
        .unwrap();
        assert!(passes(&tree, &user("a")));
        assert!(passes(&tree, &user("b")));
        assert!(passes(&tree, &user("d")));
        let verdict = tree.evaluate(&facts(&user("c")));
        assert!(!verdict.pass);
        assert!(matches!(verdict.blocked_by, Some(2 | 3 | 5)));
        let explained = tree.explain(&facts(&user("c")));
        assert_eq!(explained.len(), 6);
        assert_eq!(explained[0], (1, false));
        let result = |id: i64| explained.iter().find(|(i, _)| *i == id).unwrap().1;
        assert!(!result(2) && !result(3) && !result(4) && !result(5) && result(6));
    }

    #[test]
    fn explain_reports_every_node_even_after_a_decision() {
        let tree = FilterTree::compile(
            &[
                spec(1, None, FilterKind::Boolean(BoolOp::And)),
                spec(2, Some(1), list(ListField::User, true, &["x"])),
                spec(3, Some(1), list(ListField::User, true, &["a"])),
            ],
            &NoLists,
        )
        .unwrap();
        let explained = tree.explain(&facts(&user("a")));
        let mut sorted = explained.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![(1, false), (2, false), (3, true)]);
        assert_eq!(explained[0], (1, false));
    }
}
