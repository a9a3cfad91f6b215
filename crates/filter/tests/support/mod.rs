//! Helpers: a tiny in-memory "store" that applies plans the way the admin API will, and
//! request builders.

use std::borrow::Cow;

use bidsieve_filter::{
    BoolOp, FilterInput, FilterKind, FilterSpec, FilterUpdate, ParentRef, PlannedFilter,
    ReplacePlan, plan_create, plan_update,
};
use bidsieve_openrtb::{BidFields, Size, Sizes, normalize_country};
use serde_json::Value;

/// One customer's filters, ids generated like a store's.
pub struct Store {
    pub filters: Vec<FilterSpec>,
    next_id: i64,
}

impl Store {
    /// A new customer: the root `and` (SPEC §1) with id `root_id`.
    pub fn new(root_id: i64) -> Self {
        Self {
            filters: vec![FilterSpec {
                id: root_id,
                parent_id: None,
                kind: FilterKind::Boolean(BoolOp::And),
            }],
            next_id: root_id + 1,
        }
    }

    pub fn root_id(&self) -> i64 {
        self.filters
            .iter()
            .find(|f| f.parent_id.is_none())
            .unwrap()
            .id
    }

    /// `POST /api/filters` with `{"filters": body}` (or `[F]` for `{"filter": F}`); returns the
    /// generated ids in request order of the top-level filters' flattened positions.
    pub fn create(&mut self, body: Value) -> Vec<(Vec<usize>, i64)> {
        let inputs: Vec<FilterInput> = serde_json::from_value(body).unwrap();
        let plan = plan_create(&self.filters, &inputs).unwrap();
        self.insert(plan)
    }

    /// Writes a create plan: generated ids, with each filter's request position.
    pub fn insert(&mut self, plan: Vec<PlannedFilter>) -> Vec<(Vec<usize>, i64)> {
        let mut ids: Vec<i64> = Vec::new();
        let mut out = Vec::new();
        for planned in plan {
            let id = self.next_id;
            self.next_id += 1;
            let parent = match planned.parent {
                Some(ParentRef::Existing(p)) => Some(p),
                Some(ParentRef::Planned(i)) => Some(ids[i]),
                None => None,
            };
            self.filters.push(FilterSpec {
                id,
                parent_id: parent,
                kind: planned.kind,
            });
            ids.push(id);
            out.push((planned.input, id));
        }
        out
    }

    /// Writes an update plan.
    pub fn apply_update(&mut self, update: FilterUpdate) {
        let slot = self
            .filters
            .iter_mut()
            .find(|f| f.id == update.spec.id)
            .unwrap();
        *slot = update.spec;
    }

    /// Writes a delete plan.
    pub fn apply_delete(&mut self, ids: &[i64]) {
        self.filters.retain(|f| !ids.contains(&f.id));
    }

    /// Writes a replace plan: upserts in order, then deletes.
    pub fn apply_replace(&mut self, plan: ReplacePlan) {
        let mut ids: Vec<i64> = Vec::new();
        for planned in plan.filters {
            let parent = match planned.parent {
                Some(ParentRef::Existing(p)) => Some(p),
                Some(ParentRef::Planned(i)) => Some(ids[i]),
                None => None,
            };
            let id = match planned.id {
                Some(id) => {
                    let slot = self.filters.iter_mut().find(|f| f.id == id).unwrap();
                    slot.parent_id = parent;
                    slot.kind = planned.kind;
                    id
                }
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.filters.push(FilterSpec {
                        id,
                        parent_id: parent,
                        kind: planned.kind,
                    });
                    id
                }
            };
            ids.push(id);
        }
        self.apply_delete(&plan.delete);
    }

    /// `PUT /api/filters/{id}` with `{"filter": body}`.
    pub fn update(&mut self, id: i64, body: Value) {
        let input: FilterInput = serde_json::from_value(body).unwrap();
        let update = plan_update(&self.filters, id, &input).unwrap();
        self.apply_update(update);
    }
}

/// A request with the given fields.
#[derive(Default)]
pub struct Request {
    pub user: Option<&'static str>,
    pub country: Option<&'static str>,
    pub sizes: Vec<(u32, u32)>,
    pub authed: Option<f64>,
}

impl Request {
    pub fn fields(&self) -> BidFields<'static> {
        let mut sizes = Sizes::new();
        for &(w, h) in &self.sizes {
            sizes.push(Size { w, h });
        }
        BidFields {
            id: Cow::Borrowed("req-1"),
            imp_count: 1,
            user_id: self.user.map(Cow::Borrowed),
            country: self.country.map(|c| normalize_country(c).unwrap()),
            sizes,
            authed: self.authed,
            ..BidFields::default()
        }
    }
}
