//! The seed guide's filter examples (`seeds/optimizer-api-guide.txt`), built through the same
//! plans the admin API uses, compiled, and evaluated on crafted requests as SPEC §3.2 says.

use std::collections::HashMap;
use std::sync::Arc;

use bidsieve_filter::{
    CompiledList, Facts, FilterInput, FilterTree, ListField, NoLists, Verdict, render_tree,
};
use serde_json::json;

use crate::support::{Request, Store};

fn decide(tree: &FilterTree, request: &Request, stream_id: i64) -> Verdict {
    let fields = request.fields();
    let facts = Facts {
        request: &fields,
        stream_id,
        supplier_id: 1,
        uid2: None,
        uid2_status: "NONE",
    };
    let verdict = tree.evaluate(&facts);
    // The per-stream copy the proxy keeps decides the same.
    assert_eq!(tree.specialize(stream_id, 1).evaluate(&facts), verdict);
    verdict
}

fn forwards(tree: &FilterTree, request: &Request) -> bool {
    decide(tree, request, 1).pass
}

#[test]
fn creative_size_filter() {
    let mut store = Store::new(1);
    let ids = store.create(json!([{
        "field_type": "size", "operator": "equals",
        "list": ["300x250","320x100","320x50"], "filter_type": "white"
    }]));
    let size_filter = ids[0].1;
    let tree = FilterTree::compile(&store.filters, &NoLists).unwrap();
    let banner = |sizes: Vec<(u32, u32)>| Request {
        sizes,
        ..Request::default()
    };
    assert!(forwards(&tree, &banner(vec![(300, 250)])));
    assert!(forwards(&tree, &banner(vec![(728, 90), (320, 50)])));
    let verdict = decide(&tree, &banner(vec![(728, 90)]), 1);
    assert_eq!(
        verdict,
        Verdict {
            pass: false,
            blocked_by: Some(size_filter)
        }
    );
    // No banner at all: a white list fails.
    assert!(!forwards(&tree, &banner(vec![])));
}

#[test]
fn bid_quality_filter() {
    let mut store = Store::new(1);
    store.create(json!([{
        "field_type": "authed", "operator": "greaterthan", "threshold": 0.5,
        "filter_type": "threshold"
    }]));
    let tree = FilterTree::compile(&store.filters, &NoLists).unwrap();
    let score = |s: Option<f64>| Request {
        authed: s,
        ..Request::default()
    };
    // "at least 0.5".
    assert!(forwards(&tree, &score(Some(0.5))));
    assert!(forwards(&tree, &score(Some(0.93))));
    assert!(!forwards(&tree, &score(Some(0.49))));
    assert!(!forwards(&tree, &score(None)));
}

#[test]
fn combining_filters() {
    let mut store = Store::new(10);
    // Ids are labels within the request; "4" is defined after the filters naming it.
    let created = store.create(json!([
        {"id": 2, "field_type": "size", "operator": "equals",
         "list": ["300x250","320x100","320x50"], "filter_type": "white", "parent_id": 4},
        {"id": 3, "field_type": "authed", "operator": "greaterthan", "threshold": 0.5,
         "filter_type": "threshold", "parent_id": 4},
        {"id": 4, "field_type": "and", "filter_type": "boolean"}
    ]));
    assert_eq!(created.len(), 3);
    let tree = FilterTree::compile(&store.filters, &NoLists).unwrap();
    let request = |sizes: Vec<(u32, u32)>, authed: Option<f64>| Request {
        sizes,
        authed,
        ..Request::default()
    };
    assert!(forwards(&tree, &request(vec![(320, 100)], Some(0.5))));
    assert!(!forwards(&tree, &request(vec![(320, 100)], Some(0.2))));
    assert!(!forwards(&tree, &request(vec![(160, 600)], Some(0.9))));
    assert!(!forwards(&tree, &request(vec![], Some(0.9))));
}

/// The "Filter Hierarchy" section: the root becomes `or`; one `and` branch for UK traffic with
/// the three sizes and quality 0.5, one for non-UK traffic with quality 0.7.
fn uk_hierarchy() -> (Store, FilterTree) {
    let mut store = Store::new(1);
    let root = store.root_id();
    store.update(root, json!({"field_type": "or", "filter_type": "boolean"}));
    store.create(json!([
        {"id": 2, "field_type": "size", "operator": "equals",
         "list": ["300x250","320x100","320x50"], "filter_type": "white", "parent_id": 4},
        {"id": 3, "field_type": "authed", "operator": "greaterthan", "threshold": 0.5,
         "filter_type": "threshold", "parent_id": 4},
        {"id": 4, "field_type": "and", "filter_type": "boolean", "parent_id": root},
        {"id": 5, "field_type": "country", "operator": "equals", "list": ["UK"],
         "filter_type": "white", "parent_id": 4}
    ]));
    store.create(json!([
        {"id": 6, "field_type": "authed", "operator": "greaterthan", "threshold": 0.7,
         "filter_type": "threshold", "parent_id": 8},
        {"id": 7, "field_type": "country", "operator": "equals", "list": ["UK"],
         "filter_type": "black", "parent_id": 8},
        {"id": 8, "field_type": "and", "filter_type": "boolean", "parent_id": root}
    ]));
    let tree = FilterTree::compile(&store.filters, &NoLists).unwrap();
    (store, tree)
}

#[test]
fn uk_or_and_hierarchy() {
    let (store, tree) = uk_hierarchy();
    assert_eq!(store.filters.len(), 8);
    let request = |country: Option<&'static str>, sizes: Vec<(u32, u32)>, authed: f64| Request {
        country,
        sizes,
        authed: Some(authed),
        ..Request::default()
    };
    // First branch: UK (sent as GB or GBR), one of the sizes, quality at least 0.5.
    assert!(forwards(&tree, &request(Some("GB"), vec![(300, 250)], 0.5)));
    assert!(forwards(&tree, &request(Some("GBR"), vec![(320, 50)], 0.6)));
    // UK with another size: the first branch fails, the second excludes UK.
    assert!(!forwards(
        &tree,
        &request(Some("GB"), vec![(728, 90)], 0.95)
    ));
    // UK below 0.5.
    assert!(!forwards(
        &tree,
        &request(Some("GB"), vec![(300, 250)], 0.4)
    ));
    // Elsewhere: quality at least 0.7, any size.
    assert!(forwards(&tree, &request(Some("US"), vec![(728, 90)], 0.7)));
    assert!(!forwards(
        &tree,
        &request(Some("US"), vec![(300, 250)], 0.69)
    ));
    // No country: the black list passes, so only the 0.7 threshold matters.
    assert!(forwards(&tree, &request(None, vec![], 0.8)));
    assert!(!forwards(&tree, &request(None, vec![(300, 250)], 0.6)));
}

#[test]
fn uk_hierarchy_explained() {
    let (store, tree) = uk_hierarchy();
    let fields = Request {
        country: Some("GB"),
        sizes: vec![(728, 90)],
        authed: Some(0.95),
        ..Request::default()
    }
    .fields();
    let facts = Facts {
        request: &fields,
        stream_id: 1,
        supplier_id: 1,
        uid2: None,
        uid2_status: "NONE",
    };
    let explained = tree.explain(&facts);
    assert_eq!(explained.len(), store.filters.len());
    assert_eq!(explained[0], (1, false));
    let verdict = tree.evaluate(&facts);
    let blocked = verdict.blocked_by.unwrap();
    assert!(explained.contains(&(blocked, false)));
    let rendered = render_tree(&store.filters, 1000, Some(&explained)).unwrap();
    assert_eq!(rendered["field_type"], "or");
    assert_eq!(rendered["result"], false);
    let branches = rendered["filters"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    for branch in branches {
        assert_eq!(branch["result"], false);
        assert!(branch["filters"].as_array().unwrap().len() >= 2);
    }
    // The size filter failed, the UK white list and the thresholds passed.
    let first = branches[0]["filters"].as_array().unwrap();
    let by_field = |field: &str| {
        first
            .iter()
            .find(|f| f["field_type"] == field)
            .map(|f| f["result"].clone())
            .unwrap()
    };
    assert_eq!(by_field("size"), false);
    assert_eq!(by_field("country"), true);
    assert_eq!(by_field("authed"), true);
}

/// The "Filter Examples" tree, as the guide prints it: its top object repeats
/// `filter_type`/`field_type`, the later `"or"` winning (its trailing `}]` is dropped here,
/// being a typo that makes the text invalid JSON).
const FILTER_EXAMPLES: &str = r#"{
  "filter_type": "boolean",
  "field_type": "and",
  "filters": [{
          "filter_type": "boolean",
          "field_type": "and",
          "filters":[{
            "filter_type": "white",
            "field_type": "country",
            "operator": "equals",
            "list":["US","CA"]

          },
          {
            "filter_type": "white",
            "field_type": "user",
            "operator": "equals",
            "list":["user1","user2"]
          }
          ]
      },
      {
          "filter_type": "boolean",
          "field_type": "and",
          "filters":[{
            "filter_type": "white",
            "field_type": "country",
            "operator": "equals",
            "list":["GB","IE","DE"]

          },
          {
            "filter_type": "white",
            "field_type": "size",
            "operator": "equals",
            "list":["300x250"]
          },
                    {
            "filter_type": "white",
            "field_type": "user",
            "operator": "equals",
            "list":["user3","user4"]
          }
          ]
      }
      ],
      "filter_type": "boolean",
      "field_type": "or"
}"#;

#[test]
fn nested_filter_examples() {
    let top: FilterInput = serde_json::from_str(FILTER_EXAMPLES).unwrap();
    let mut store = Store::new(1);
    let created = store.create(serde_json::to_value(vec![top]).unwrap());
    assert_eq!(created.len(), 8);
    let tree = FilterTree::compile(&store.filters, &NoLists).unwrap();
    let request = |user: &'static str, country: &'static str, sizes: Vec<(u32, u32)>| Request {
        user: Some(user),
        country: Some(country),
        sizes,
        ..Request::default()
    };
    assert!(forwards(&tree, &request("user1", "US", vec![])));
    assert!(forwards(&tree, &request("user2", "ca", vec![(728, 90)])));
    assert!(!forwards(&tree, &request("user3", "US", vec![(300, 250)])));
    assert!(forwards(&tree, &request("user3", "GB", vec![(300, 250)])));
    assert!(forwards(
        &tree,
        &request("user4", "IRL", vec![(728, 90), (300, 250)])
    ));
    assert!(!forwards(&tree, &request("user3", "DE", vec![(728, 90)])));
    assert!(!forwards(&tree, &request("user1", "DE", vec![(300, 250)])));
    assert!(!forwards(&tree, &request("user1", "FR", vec![])));
    let no_country = Request {
        user: Some("user1"),
        ..Request::default()
    };
    assert!(!forwards(&tree, &no_country));
    // The same tree through the bulk steps of the guide: or under the root, three ands, then
    // the lists with the ands' ids as parents (given as strings, as the guide's curl does).
    let mut bulk = Store::new(1);
    let or = bulk.create(json!([{"filter_type": "boolean", "field_type": "or",
                                  "parent_filter_id": 1}]))[0]
        .1;
    let ands: Vec<i64> = bulk
        .create(json!([
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or},
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or},
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or}
        ]))
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let (first, second) = (ands[0].to_string(), ands[1].to_string());
    bulk.create(json!([
        {"filter_type":"white","field_type":"country","operator":"equals","list":["US","CA"],"parent_filter_id":first},
        {"filter_type":"white","field_type":"user","operator":"equals","list":["user1","user2"],"parent_filter_id":first},
        {"filter_type":"white","field_type":"country","operator":"equals","list":["GB","IE","DE"],"parent_filter_id":second},
        {"filter_type":"white","field_type":"size","operator":"equals","list":["300x250"],"parent_filter_id":second},
        {"filter_type":"white","field_type":"user","operator":"equals","list":["user3","user4"],"parent_filter_id":second}
    ]));
    let bulk_tree = FilterTree::compile(&bulk.filters, &NoLists).unwrap();
    // The guide's third `and` is empty, so it passes everything: the `or` always passes.
    assert!(forwards(&bulk_tree, &request("user1", "FR", vec![])));
}

/// The tree of the guide's "successful response", with the 5,000,000-entry user list supplied
/// compiled (here 100,000 entries) through a `ListSource`, as the proxy does.
#[test]
fn seed_response_tree_with_a_shared_large_list() {
    let mut store = Store::new(24);
    let created = store.create(json!([
        {"id": 27, "filter_type": "boolean", "field_type": "or", "filters": [
            {"operator": "equals", "list": ["4", "5", "6"], "filter_type": "black", "field_type": "user"},
            {"operator": "equals", "list": ["5x5"], "filter_type": "black", "field_type": "size"}
        ]},
        {"operator": "equals", "list": ["1", "2", "3"], "filter_type": "black", "field_type": "user"},
        {"filter_type": "boolean", "field_type": "or", "filters": [
            {"filter_type": "boolean", "field_type": "and", "filters": [
                {"operator": "equals", "list": [], "filter_type": "white", "field_type": "user"},
                {"operator": "equals", "list": [3], "filter_type": "white", "field_type": "stream"}
            ]},
            {"operator": "equals", "list": [3], "filter_type": "black", "field_type": "stream"}
        ]}
    ]));
    // The big list's filter: the first user white list of the nested part.
    let big_id = created
        .iter()
        .find(|(path, _)| *path == vec![2, 0, 0])
        .unwrap()
        .1;
    let users: Vec<String> = (0..100_000).map(|i| format!("device-{i}")).collect();
    let list = CompiledList::build(ListField::User, users.iter().map(String::as_str)).unwrap();
    let lists: HashMap<i64, Arc<CompiledList>> = HashMap::from([(big_id, Arc::new(list))]);
    let tree = FilterTree::compile(&store.filters, &lists).unwrap();
    let user = |id: &'static str| Request {
        user: Some(id),
        sizes: vec![(300, 250)],
        ..Request::default()
    };
    // Stream 3: only users of the big list.
    assert!(decide(&tree, &user("device-99999"), 3).pass);
    assert!(!decide(&tree, &user("device-100000"), 3).pass);
    // Other streams: the black stream list passes, the big list does not matter.
    assert!(decide(&tree, &user("device-100000"), 4).pass);
    // Users 1, 2, 3 are blocked everywhere; 4, 5, 6 pass only because 5x5 is not their size.
    let verdict = decide(&tree, &user("2"), 4);
    assert!(!verdict.pass);
    assert!(decide(&tree, &user("5"), 4).pass);
    let five_by_five = Request {
        user: Some("5"),
        sizes: vec![(5, 5)],
        ..Request::default()
    };
    assert!(!decide(&tree, &five_by_five, 4).pass);
    // Rendered, the big list is too long to return.
    let mut rendered_specs = store.filters.clone();
    for spec in &mut rendered_specs {
        if spec.id == big_id
            && let bidsieve_filter::FilterKind::List { values, .. } = &mut spec.kind
        {
            *values = bidsieve_filter::ListValues::Stored { len: 5_000_000 };
        }
    }
    let rendered = render_tree(&rendered_specs, 1000, None).unwrap();
    let text = rendered.to_string();
    assert!(
        text.contains("\"List too long to return: 5000000\""),
        "{text}"
    );
}
