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
//!
//! ```
//! use bidsieve_filter::{Facts, FilterInput, FilterSpec, FilterTree, NoLists, ParentRef, plan_create};
//! use bidsieve_openrtb::{BidFields, Size};
//!
//! // A customer's tree: the root `and` (id 1), plus a size white list added through the API.
//! let mut filters = vec![FilterSpec {
//!     id: 1,
//!     parent_id: None,
//!     kind: bidsieve_filter::FilterKind::Boolean(bidsieve_filter::BoolOp::And),
//! }];
//! let input: FilterInput = serde_json::from_str(
//!     r#"{"field_type": "size", "filter_type": "white", "list": ["300x250", "320x50"]}"#,
//! )?;
//! for (offset, planned) in plan_create(&filters, &[input])?.into_iter().enumerate() {
//!     let Some(ParentRef::Existing(parent)) = planned.parent else { unreachable!() };
//!     filters.push(FilterSpec { id: 2 + offset as i64, parent_id: Some(parent), kind: planned.kind });
//! }
//!
//! let tree = FilterTree::compile(&filters, &NoLists)?;
//! let decide = |size: Size| {
//!     let mut request = BidFields::default();
//!     request.sizes.push(size);
//!     let facts = Facts { request: &request, stream_id: 7, supplier_id: 3, uid2: None, uid2_status: "NONE" };
//!     tree.evaluate(&facts)
//! };
//! assert!(decide(Size { w: 300, h: 250 }).pass);
//! assert_eq!(decide(Size { w: 728, h: 90 }).blocked_by, Some(2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
mod table;
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
