//! Rendering a customer's filters as the nested tree of `GET /api/filters` (SPEC §5.4),
//! optionally annotated with each node's explain result.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::model::FilterSpec;
use crate::validate::MAX_TREE_DEPTH;

/// The tree rooted at the filter without a parent: each boolean node carries
/// `"filters": [children]` (children by id), leaves their list or the "List too long to return:
/// N" text when longer than `list_inline_max`; no `parent_filter_id`. With `results` (from
/// [`crate::FilterTree::explain`]) each node also carries `"result": true|false`. `None` when
/// no filter is the root.
#[must_use]
pub fn render_tree(
    nodes: &[FilterSpec],
    list_inline_max: usize,
    results: Option<&[(i64, bool)]>,
) -> Option<Value> {
    let root = nodes.iter().find(|n| n.parent_id.is_none())?;
    let mut children: HashMap<i64, Vec<&FilterSpec>> = HashMap::new();
    for node in nodes {
        if let Some(parent) = node.parent_id {
            children.entry(parent).or_default().push(node);
        }
    }
    for kids in children.values_mut() {
        kids.sort_by_key(|k| k.id);
    }
    let results: HashMap<i64, bool> = results.unwrap_or(&[]).iter().copied().collect();
    let context = Context {
        children: &children,
        results: &results,
        list_inline_max,
    };
    Some(context.node(root, 1))
}

struct Context<'a> {
    children: &'a HashMap<i64, Vec<&'a FilterSpec>>,
    results: &'a HashMap<i64, bool>,
    list_inline_max: usize,
}

impl Context<'_> {
    fn node(&self, spec: &FilterSpec, depth: usize) -> Value {
        let mut map: Map<String, Value> = spec.json_fields(self.list_inline_max);
        if spec.kind.is_boolean() {
            let kids = self
                .children
                .get(&spec.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            // A tree deeper than validation allows is cut rather than recursed into.
            let rendered: Vec<Value> = if depth < MAX_TREE_DEPTH * 2 {
                kids.iter().map(|kid| self.node(kid, depth + 1)).collect()
            } else {
                Vec::new()
            };
            map.insert("filters".into(), Value::Array(rendered));
        }
        if let Some(result) = self.results.get(&spec.id) {
            map.insert("result".into(), Value::Bool(*result));
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::list::ListValues;
    use crate::model::{BoolOp, FilterKind, ListField};

    #[test]
    fn renders_the_seed_shape() {
        let nodes = vec![
            FilterSpec {
                id: 24,
                parent_id: None,
                kind: FilterKind::Boolean(BoolOp::And),
            },
            FilterSpec {
                id: 31,
                parent_id: Some(24),
                kind: FilterKind::List {
                    field: ListField::User,
                    white: true,
                    values: ListValues::Stored { len: 5_000_000 },
                },
            },
            FilterSpec {
                id: 28,
                parent_id: Some(24),
                kind: FilterKind::List {
                    field: ListField::User,
                    white: false,
                    values: ListValues::Strings(vec!["1".into(), "2".into(), "3".into()]),
                },
            },
            FilterSpec {
                id: 27,
                parent_id: Some(24),
                kind: FilterKind::Boolean(BoolOp::Or),
            },
        ];
        let tree = render_tree(&nodes, 1000, Some(&[(24, false), (28, true)])).unwrap();
        assert_eq!(
            tree,
            json!({"id": 24, "field_type": "and", "filter_type": "boolean", "result": false,
            "filters": [
                {"id": 27, "field_type": "or", "filter_type": "boolean", "filters": []},
                {"id": 28, "field_type": "user", "filter_type": "black",
                 "operator": "equals", "list": ["1", "2", "3"], "result": true},
                {"id": 31, "field_type": "user", "filter_type": "white",
                 "operator": "equals", "list": "List too long to return: 5000000"}
            ]})
        );
        assert_eq!(render_tree(&[], 10, None), None);
    }
}
