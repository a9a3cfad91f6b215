//! [`FilterTree`]: a customer's validated filters compiled for evaluation.
//!
//! The tree is a flat arena: each boolean node names a contiguous range of a shared child-index
//! array, ordered by estimated cost (cheap leaves first; leaves are pure, so reordering and
//! short-circuiting do not change the result). Leaves hold an `Arc<CompiledList>`, so lists
//! are shared with the snapshot that built them and with [`FilterTree::specialize`]d copies.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::compiled_list::{CompiledList, ListKind};
use crate::error::CompileError;
use crate::list::ListValues;
use crate::model::{BoolOp, FilterKind, FilterSpec, ListField, ThresholdOp};
use crate::validate::validate_tree;

/// Gives the compiler lists compiled ahead of time (large lists, shared between snapshots).
pub trait ListSource {
    /// The compiled list of filter `filter_id`, if the caller has one; otherwise the compiler
    /// builds it from the spec's values.
    fn compiled_list(&self, filter_id: i64) -> Option<Arc<CompiledList>>;
}

/// A [`ListSource`] with no lists: everything is compiled from the specs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLists;

impl ListSource for NoLists {
    fn compiled_list(&self, _filter_id: i64) -> Option<Arc<CompiledList>> {
        None
    }
}

impl<S: BuildHasher> ListSource for HashMap<i64, Arc<CompiledList>, S> {
    fn compiled_list(&self, filter_id: i64) -> Option<Arc<CompiledList>> {
        self.get(&filter_id).cloned()
    }
}

/// A compiled filter tree. Cheap to clone (lists are shared). Evaluation allocates nothing and
/// takes no lock.
#[derive(Clone, Debug)]
pub struct FilterTree {
    pub(crate) nodes: Box<[Node]>,
    pub(crate) children: Box<[u32]>,
    pub(crate) root: u32,
}

/// One compiled node.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The filter id (for a folded node, the id of the filter it stands for).
    pub(crate) id: i64,
    pub(crate) op: Op,
    /// Estimated evaluation cost, for ordering siblings.
    pub(crate) cost: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Every child passes; children are `children[start..end]`.
    All { start: u32, end: u32 },
    /// Some child passes; when all fail the decider is `fail_decider` if set, else the first
    /// child's.
    Any {
        start: u32,
        end: u32,
        fail_decider: Option<i64>,
    },
    /// A white or black list.
    List {
        field: ListField,
        white: bool,
        list: Arc<CompiledList>,
    },
    /// `authed >= threshold`.
    AuthedAtLeast(f64),
    /// `authed < threshold`.
    AuthedBelow(f64),
    /// A subtree folded to a constant by [`FilterTree::specialize`]; `decider` is the filter
    /// reported when it fails.
    Const { pass: bool, decider: i64 },
}

/// Converts an arena position to the u32 the arena uses (trees hold at most
/// `MAX_TREE_NODES` nodes, checked by validation, so this never saturates in practice).
fn index(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

// === impl FilterTree ===

impl FilterTree {
    /// Compiles one customer's filters. Lists come from `lists` when it has them (checked to be
    /// of the right kind), otherwise from the specs' values.
    ///
    /// # Errors
    /// The nodes do not form one valid tree ([`crate::validate_tree`]), a list value cannot be
    /// normalized, a shared list has the wrong kind, or a [`ListValues::Stored`] list is
    /// missing from `lists`.
    pub fn compile(nodes: &[FilterSpec], lists: &dyn ListSource) -> Result<Self, CompileError> {
        validate_tree(nodes)?;
        let mut children_of: HashMap<i64, Vec<&FilterSpec>> = HashMap::new();
        let mut root = None;
        for node in nodes {
            match node.parent_id {
                Some(parent) => children_of.entry(parent).or_default().push(node),
                None => root = Some(node),
            }
        }
        for children in children_of.values_mut() {
            children.sort_by_key(|c| c.id);
        }
        let Some(root) = root else {
            // validate_tree guarantees a root; an empty result would be a bug, not input.
            return Err(CompileError::Invalid(crate::ValidationError::new(
                "filters",
                "the tree has no root",
            )));
        };
        let mut builder = Builder {
            nodes: Vec::with_capacity(nodes.len()),
            children: Vec::with_capacity(nodes.len()),
            children_of: &children_of,
            lists,
        };
        let root = builder.build(root)?;
        Ok(Self {
            nodes: builder.nodes.into_boxed_slice(),
            children: builder.children.into_boxed_slice(),
            root,
        })
    }

    /// The id of the root filter.
    #[must_use]
    pub fn root_id(&self) -> i64 {
        self.node(self.root).map_or(0, |n| n.id)
    }

    /// Number of compiled nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a tree has at least its root.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Bytes held by the tree itself, shared lists excluded.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self.nodes.len() * size_of::<Node>()
            + self.children.len() * size_of::<u32>()
    }

    /// The tree as it behaves for one stream: `stream` and `supplier` leaves become constants
    /// and folded boolean nodes disappear, so the proxy (which keeps one per stream) evaluates
    /// fewer nodes. `evaluate` gives the same [`crate::Verdict`] (`pass` and `blocked_by`) as
    /// the unspecialized tree for requests on that stream. Use the unspecialized tree for
    /// [`FilterTree::explain`], which reports every node.
    #[must_use]
    pub fn specialize(&self, stream_id: i64, supplier_id: i64) -> FilterTree {
        let mut out = Specializer {
            source: self,
            nodes: Vec::with_capacity(self.nodes.len()),
            children: Vec::with_capacity(self.children.len()),
            stream_id,
            supplier_id,
        };
        let root = match out.fold(self.root, 0) {
            Folded::Node(index) => index,
            Folded::Const { pass, decider } => {
                out.nodes.push(Node {
                    id: decider,
                    op: Op::Const { pass, decider },
                    cost: 0,
                });
                index(out.nodes.len() - 1)
            }
        };
        FilterTree {
            nodes: out.nodes.into_boxed_slice(),
            children: out.children.into_boxed_slice(),
            root,
        }
    }

    pub(crate) fn node(&self, index: u32) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    pub(crate) fn child_indices(&self, start: u32, end: u32) -> &[u32] {
        self.children
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }
}

struct Builder<'a> {
    nodes: Vec<Node>,
    children: Vec<u32>,
    children_of: &'a HashMap<i64, Vec<&'a FilterSpec>>,
    lists: &'a dyn ListSource,
}

impl Builder<'_> {
    /// Compiles `spec`'s subtree and returns its arena index. Recursion depth is bounded by
    /// validation (`MAX_TREE_DEPTH`).
    fn build(&mut self, spec: &FilterSpec) -> Result<u32, CompileError> {
        let (op, cost) = match &spec.kind {
            FilterKind::Boolean(bool_op) => {
                let kids = self
                    .children_of
                    .get(&spec.id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let mut built = Vec::with_capacity(kids.len());
                for kid in kids {
                    built.push(self.build(kid)?);
                }
                let cost_of = |i: &u32| self.nodes.get(*i as usize).map_or(0, |n| n.cost);
                built.sort_by_key(cost_of);
                let cost = built.iter().map(cost_of).fold(1u32, u32::saturating_add);
                let start = index(self.children.len());
                self.children.extend_from_slice(&built);
                let end = index(self.children.len());
                let op = match bool_op {
                    BoolOp::And => Op::All { start, end },
                    BoolOp::Or => Op::Any {
                        start,
                        end,
                        fail_decider: None,
                    },
                };
                (op, cost)
            }
            FilterKind::List {
                field,
                white,
                values,
            } => {
                let list = self.list(spec.id, *field, values)?;
                let cost = list.lookup_cost() + u32::from(*field == ListField::Size);
                (
                    Op::List {
                        field: *field,
                        white: *white,
                        list,
                    },
                    cost,
                )
            }
            FilterKind::Threshold { op, threshold } => {
                let op = match op {
                    ThresholdOp::GreaterThan => Op::AuthedAtLeast(*threshold),
                    ThresholdOp::LessThan => Op::AuthedBelow(*threshold),
                };
                (op, 1)
            }
        };
        self.nodes.push(Node {
            id: spec.id,
            op,
            cost,
        });
        Ok(index(self.nodes.len() - 1))
    }

    fn list(
        &self,
        filter: i64,
        field: ListField,
        values: &ListValues,
    ) -> Result<Arc<CompiledList>, CompileError> {
        let expected = ListKind::of_field(field);
        if let Some(list) = self.lists.compiled_list(filter) {
            if list.kind() != expected {
                return Err(CompileError::ListKind {
                    filter,
                    expected: expected.as_str(),
                    found: list.kind().as_str(),
                });
            }
            return Ok(list);
        }
        if let ListValues::Stored { .. } = values {
            return Err(CompileError::MissingList { filter });
        }
        CompiledList::from_values(field, values)
            .map(Arc::new)
            .map_err(|source| CompileError::ListItem { filter, source })
    }
}

enum Folded {
    Node(u32),
    Const { pass: bool, decider: i64 },
}

struct Specializer<'a> {
    source: &'a FilterTree,
    nodes: Vec<Node>,
    children: Vec<u32>,
    stream_id: i64,
    supplier_id: i64,
}

impl Specializer<'_> {
    fn push(&mut self, node: Node) -> Folded {
        self.nodes.push(node);
        Folded::Node(index(self.nodes.len() - 1))
    }

    fn fold(&mut self, at: u32, depth: usize) -> Folded {
        let Some(node) = self.source.node(at) else {
            return Folded::Const {
                pass: false,
                decider: 0,
            };
        };
        if depth > crate::MAX_TREE_DEPTH {
            // Unreachable for a compiled tree (validated depth); keep the node unfolded.
            return self.push(node.clone());
        }
        match &node.op {
            Op::List { field, white, list } => {
                let value = match field {
                    ListField::Stream => self.stream_id,
                    ListField::Supplier => self.supplier_id,
                    _ => return self.push(node.clone()),
                };
                Folded::Const {
                    pass: list.contains_int(value) == *white,
                    decider: node.id,
                }
            }
            Op::AuthedAtLeast(_) | Op::AuthedBelow(_) => self.push(node.clone()),
            Op::Const { pass, decider } => Folded::Const {
                pass: *pass,
                decider: *decider,
            },
            Op::All { start, end } => {
                let mut kept = Vec::new();
                for &child in self.source.child_indices(*start, *end) {
                    match self.fold(child, depth + 1) {
                        Folded::Node(i) => kept.push(i),
                        Folded::Const { pass: true, .. } => {}
                        Folded::Const {
                            pass: false,
                            decider,
                        } => {
                            if kept.is_empty() {
                                return Folded::Const {
                                    pass: false,
                                    decider,
                                };
                            }
                            // Earlier children may still fail first at run time and decide
                            // the block, as they would unspecialized; this one ends the scan.
                            self.nodes.push(Node {
                                id: decider,
                                op: Op::Const {
                                    pass: false,
                                    decider,
                                },
                                cost: 0,
                            });
                            kept.push(index(self.nodes.len() - 1));
                            break;
                        }
                    }
                }
                if kept.is_empty() {
                    return Folded::Const {
                        pass: true,
                        decider: node.id,
                    };
                }
                let start = index(self.children.len());
                self.children.extend_from_slice(&kept);
                let end = index(self.children.len());
                self.push(Node {
                    id: node.id,
                    op: Op::All { start, end },
                    cost: node.cost,
                })
            }
            Op::Any {
                start,
                end,
                fail_decider,
            } => {
                let mut kept = Vec::new();
                let mut fail_decider = *fail_decider;
                for (position, &child) in self.source.child_indices(*start, *end).iter().enumerate()
                {
                    match self.fold(child, depth + 1) {
                        Folded::Node(i) => kept.push(i),
                        Folded::Const {
                            pass: true,
                            decider,
                        } => {
                            return Folded::Const {
                                pass: true,
                                decider,
                            };
                        }
                        Folded::Const {
                            pass: false,
                            decider,
                        } => {
                            // When everything fails, the unspecialized tree reports its first
                            // child's decider; keep that when the first child folded away.
                            if position == 0 && fail_decider.is_none() {
                                fail_decider = Some(decider);
                            }
                        }
                    }
                }
                if kept.is_empty() {
                    return Folded::Const {
                        pass: false,
                        decider: fail_decider.unwrap_or(node.id),
                    };
                }
                let start = index(self.children.len());
                self.children.extend_from_slice(&kept);
                let end = index(self.children.len());
                self.push(Node {
                    id: node.id,
                    op: Op::Any {
                        start,
                        end,
                        fail_decider,
                    },
                    cost: node.cost,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ThresholdOp;

    fn spec(id: i64, parent: Option<i64>, kind: FilterKind) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: parent,
            kind,
        }
    }

    fn users(values: &[&str]) -> FilterKind {
        FilterKind::List {
            field: ListField::User,
            white: true,
            values: ListValues::Strings(values.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn trees_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FilterTree>();
        assert_send_sync::<CompiledList>();
    }

    #[test]
    fn children_are_ordered_cheap_first() {
        let big: Vec<String> = (0..200_000).map(|i| format!("u{i}")).collect();
        let big_refs: Vec<&str> = big.iter().map(String::as_str).collect();
        let nodes = vec![
            spec(1, None, FilterKind::Boolean(BoolOp::And)),
            spec(2, Some(1), users(&big_refs)),
            spec(
                3,
                Some(1),
                FilterKind::Threshold {
                    op: ThresholdOp::GreaterThan,
                    threshold: 0.5,
                },
            ),
            spec(4, Some(1), users(&["a"])),
        ];
        let tree = FilterTree::compile(&nodes, &NoLists).unwrap();
        let root = tree.node(tree.root).unwrap();
        let Op::All { start, end } = root.op else {
            panic!("root is and");
        };
        let order: Vec<i64> = tree
            .child_indices(start, end)
            .iter()
            .map(|&i| tree.node(i).unwrap().id)
            .collect();
        assert_eq!(order, vec![3, 4, 2]);
        assert_eq!(tree.root_id(), 1);
        assert_eq!(tree.len(), 4);
        assert!(!tree.is_empty());
        assert!(tree.memory_bytes() > 0);
    }

    #[test]
    fn shared_lists_are_used_and_checked() {
        let nodes = vec![
            spec(1, None, FilterKind::Boolean(BoolOp::And)),
            spec(
                2,
                Some(1),
                FilterKind::List {
                    field: ListField::User,
                    white: true,
                    values: ListValues::Stored { len: 3 },
                },
            ),
        ];
        assert_eq!(
            FilterTree::compile(&nodes, &NoLists).unwrap_err(),
            CompileError::MissingList { filter: 2 }
        );
        let list = Arc::new(CompiledList::build(ListField::User, ["a", "b", "c"]).unwrap());
        let lists: HashMap<i64, Arc<CompiledList>> = HashMap::from([(2, list.clone())]);
        let tree = FilterTree::compile(&nodes, &lists).unwrap();
        let Some(Node {
            op: Op::List { list: used, .. },
            ..
        }) = tree.nodes.iter().find(|n| n.id == 2)
        else {
            panic!("leaf 2 compiled");
        };
        assert!(Arc::ptr_eq(used, &list));
        let wrong: HashMap<i64, Arc<CompiledList>> =
            HashMap::from([(2, Arc::new(CompiledList::from_ints([1])))]);
        assert!(matches!(
            FilterTree::compile(&nodes, &wrong).unwrap_err(),
            CompileError::ListKind { filter: 2, .. }
        ));
    }

    #[test]
    fn invalid_trees_and_values_do_not_compile() {
        let two_roots = vec![
            spec(1, None, FilterKind::Boolean(BoolOp::And)),
            spec(2, None, FilterKind::Boolean(BoolOp::And)),
        ];
        assert!(matches!(
            FilterTree::compile(&two_roots, &NoLists).unwrap_err(),
            CompileError::Invalid(_)
        ));
        let bad_size = vec![spec(
            1,
            None,
            FilterKind::List {
                field: ListField::Size,
                white: true,
                values: ListValues::Strings(vec!["big".into()]),
            },
        )];
        assert!(matches!(
            FilterTree::compile(&bad_size, &NoLists).unwrap_err(),
            CompileError::ListItem { filter: 1, .. }
        ));
    }

    #[test]
    fn specialize_folds_stream_leaves() {
        let nodes = vec![
            spec(1, None, FilterKind::Boolean(BoolOp::Or)),
            spec(
                2,
                Some(1),
                FilterKind::List {
                    field: ListField::Stream,
                    white: true,
                    values: ListValues::Ints(vec![3]),
                },
            ),
            spec(3, Some(1), users(&["a"])),
        ];
        let tree = FilterTree::compile(&nodes, &NoLists).unwrap();
        let for_3 = tree.specialize(3, 0);
        assert_eq!(for_3.len(), 1);
        assert!(matches!(
            for_3.node(for_3.root).unwrap().op,
            Op::Const { pass: true, .. }
        ));
        let for_4 = tree.specialize(4, 0);
        assert_eq!(for_4.len(), 2);
        assert_eq!(for_4.root_id(), 1);
    }
}
