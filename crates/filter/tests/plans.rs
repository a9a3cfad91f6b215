//! Random sequences of admin changes: every accepted plan leaves a valid, compilable tree, and
//! the plans accept exactly the changes SPEC §3.3 allows (checked against a direct oracle).

use std::collections::HashSet;

use bidsieve_filter::{
    FilterInput, FilterSpec, FilterTree, NoLists, plan_create, plan_delete, plan_replace,
    plan_update, render_tree, validate_tree,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::Store;

#[derive(Clone, Debug)]
enum Change {
    /// Create `leaf ? a user list : an and/or` under the `parent`-th filter.
    Create { parent: usize, leaf: bool, or: bool },
    /// Move the `target`-th filter under the `parent`-th.
    Move { target: usize, parent: usize },
    /// Turn the `target`-th filter into a leaf.
    IntoLeaf { target: usize },
    /// Delete the `target`-th filter.
    Delete { target: usize },
}

fn change() -> impl Strategy<Value = Change> {
    let index = 0..64usize;
    prop_oneof![
        3 => (index.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(parent, leaf, or)| Change::Create { parent, leaf, or }),
        2 => (index.clone(), index.clone()).prop_map(|(target, parent)| Change::Move { target, parent }),
        1 => index.clone().prop_map(|target| Change::IntoLeaf { target }),
        1 => index.prop_map(|target| Change::Delete { target }),
    ]
}

fn nth(store: &Store, i: usize) -> &FilterSpec {
    &store.filters[i % store.filters.len()]
}

fn has_children(store: &Store, id: i64) -> bool {
    store.filters.iter().any(|f| f.parent_id == Some(id))
}

fn subtree(store: &Store, id: i64) -> HashSet<i64> {
    let mut out = HashSet::from([id]);
    loop {
        let before = out.len();
        for f in &store.filters {
            if f.parent_id.is_some_and(|p| out.contains(&p)) {
                out.insert(f.id);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

fn input(value: Value) -> FilterInput {
    serde_json::from_value(value).unwrap()
}

fn assert_valid(store: &Store) -> Result<(), TestCaseError> {
    prop_assert!(validate_tree(&store.filters).is_ok());
    prop_assert!(FilterTree::compile(&store.filters, &NoLists).is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_accept_exactly_the_valid_changes(changes in proptest::collection::vec(change(), 1..24)) {
        let mut store = Store::new(1);
        for change in changes {
            match change {
                Change::Create { parent, leaf, or } => {
                    let parent = nth(&store, parent).clone();
                    let body = if leaf {
                        json!({"field_type": "user", "filter_type": "white", "list": ["a"],
                               "parent_filter_id": parent.id})
                    } else {
                        json!({"field_type": if or { "or" } else { "and" },
                               "parent_filter_id": parent.id})
                    };
                    let plan = plan_create(&store.filters, &[input(body)]);
                    prop_assert_eq!(plan.is_ok(), parent.kind.is_boolean());
                    if let Ok(plan) = plan {
                        store.insert(plan);
                    }
                }
                Change::Move { target, parent } => {
                    let target = nth(&store, target).clone();
                    let parent = nth(&store, parent).clone();
                    let allowed = target.parent_id.is_some()
                        && parent.kind.is_boolean()
                        && !subtree(&store, target.id).contains(&parent.id);
                    let plan = plan_update(
                        &store.filters,
                        target.id,
                        &input(json!({"parent_filter_id": parent.id})),
                    );
                    prop_assert_eq!(plan.is_ok(), allowed, "{:?}", plan);
                    if let Ok(update) = plan {
                        store.apply_update(update);
                    }
                }
                Change::IntoLeaf { target } => {
                    let target = nth(&store, target).clone();
                    let allowed = !has_children(&store, target.id);
                    let plan = plan_update(
                        &store.filters,
                        target.id,
                        &input(json!({"field_type": "country", "filter_type": "black",
                                      "list": ["UK"]})),
                    );
                    prop_assert_eq!(plan.is_ok(), allowed, "{:?}", plan);
                    if let Ok(update) = plan {
                        store.apply_update(update);
                    }
                }
                Change::Delete { target } => {
                    let target = nth(&store, target).clone();
                    let plan = plan_delete(&store.filters, target.id);
                    prop_assert_eq!(plan.is_ok(), target.parent_id.is_some());
                    if let Ok(ids) = plan {
                        prop_assert_eq!(
                            ids.iter().copied().collect::<HashSet<_>>(),
                            subtree(&store, target.id)
                        );
                        store.apply_delete(&ids);
                    }
                }
            }
            assert_valid(&store)?;
        }

        // Declarative apply of the tree as GET returns it changes nothing.
        let rendered = render_tree(&store.filters, 1000, None).unwrap();
        let plan = plan_replace(&store.filters, &input(rendered)).unwrap();
        prop_assert!(plan.delete.is_empty());
        let mut before = store.filters.clone();
        store.apply_replace(plan);
        let mut after = store.filters.clone();
        before.sort_by_key(|f| f.id);
        after.sort_by_key(|f| f.id);
        prop_assert_eq!(before, after);
    }
}
