//! bidsieve's filters (SPEC §3): the model, its validation, and the compiled form the proxy
//! evaluates on every bid request.
//!
//! The stages have their own types (STYLE §2):
//! - [`FilterInput`]: a filter as an API caller sent it (raw JSON attributes); [`FilterRow`]: a
//!   filter as the store keeps it;
//! - [`FilterSpec`]: one validated filter ([`FilterKind`]: boolean, list or threshold), with
//!   list values normalized ([`ListValues`], [`normalize_item`]);
//! - [`FilterTree`]: a customer's specs compiled ([`FilterTree::compile`]), lists as shared
//!   [`CompiledList`]s; [`FilterTree::evaluate`] gives a [`Verdict`] for the [`Facts`] of one
//!   request, [`FilterTree::explain`] every node's result, [`FilterTree::specialize`] a copy
//!   for one stream.
//!
//! Tree rules (one root, boolean parents, no cycle) are checked by [`validate_tree`]; the admin
//! API's changes are planned and checked as a whole by [`plan_create`], [`plan_update`],
//! [`plan_delete`] and [`plan_replace`] before anything is written; [`render_tree`] and
//! [`FilterSpec::to_json`] give the API's JSON back.
//!
//! This crate is pure: no I/O, no async, no locks. Evaluation allocates nothing.

mod compile;
mod compiled_list;
mod edit;
mod error;
mod evaluate;
mod input;
mod list;
mod model;
mod render;
mod row;
mod validate;

pub use compile::{FilterTree, ListSource, NoLists};
pub use compiled_list::{CompiledList, CompiledListBuilder, ListKind, SMALL_STRING_SET};
pub use edit::{
    FilterUpdate, ParentRef, PlannedFilter, ReplacePlan, plan_create, plan_delete, plan_replace,
    plan_update,
};
pub use error::{CompileError, FilterRef, ListItemError, ValidationError};
pub use evaluate::{Facts, Verdict};
pub use input::FilterInput;
pub use list::{
    ListItem, ListJsonError, ListValues, UID2_STATUS_NAMES, normalize_item, parse_size,
};
pub use model::{
    BoolOp, FieldType, FilterKind, FilterSpec, FilterType, ListField, Operator, ThresholdOp,
    is_list_too_long_text, list_too_long_text,
};
pub use render::render_tree;
pub use row::FilterRow;
pub use validate::{MAX_TREE_DEPTH, MAX_TREE_NODES, validate_tree};
