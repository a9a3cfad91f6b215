//! The seed guide's filter examples through the real server: each request is forwarded or
//! dropped exactly as SPEC §3.2 says (§2.4 for where each field is read).

use http::StatusCode;
use serde_json::json;

use crate::support::config::{self, Route};
use crate::support::request::{BidRequest, bid};
use crate::support::{Bidder, Proxy, Reply, bidder, metrics};

/// A proxy, a bidder that always bids, and one stream of a new customer (root `and`, no
/// filters yet) to it.
async fn setup() -> (Proxy, Bidder, Route) {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("r"))).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    (proxy, bidder, route)
}

/// Sends every case on `route` and checks that exactly the expected ones reach the bidder and
/// come back as a 200 bid; the others must be a 204 that the bidder never saw. Reports every
/// mismatch at once. Returns how many were dropped.
async fn check(
    proxy: &Proxy,
    bidder: &Bidder,
    route: &Route,
    cases: &[(&str, BidRequest, bool)],
) -> u64 {
    proxy.synced().await;
    let mut wrong = Vec::new();
    let mut dropped = 0;
    for (name, request, forward) in cases {
        let before = bidder.count();
        let resp = proxy.bid(route, request.body()).await;
        let reached = bidder.count() - before;
        let forwarded = match (resp.status, reached) {
            (StatusCode::OK, 1) => true,
            (StatusCode::NO_CONTENT, 0) if resp.body.is_empty() => false,
            (status, n) => {
                wrong.push(format!("{name}: unexpected {status} with {n} bidder calls"));
                continue;
            }
        };
        if !forwarded {
            dropped += 1;
        }
        if forwarded != *forward {
            let want = if *forward { "forwarded" } else { "dropped" };
            wrong.push(format!("{name}: expected {want}, got {}", resp.status));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    dropped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_white_list_forwards_listed_sizes_only() {
    let (proxy, bidder, route) = setup().await;
    // The guide's "Creative Size Filter".
    let written = config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{
            "id": 2, "field_type": "size", "operator": "equals",
            "list": ["300x250", "320x100", "320x50"], "filter_type": "white"
        }]),
    )
    .await;
    let dropped = check(
        &proxy,
        &bidder,
        &route,
        &[
            ("300x250", bid("a").sizes(&[(300, 250)]), true),
            ("320x50", bid("b").sizes(&[(320, 50)]), true),
            ("728x90", bid("c").sizes(&[(728, 90)]), false),
            (
                "two imps, one listed",
                bid("d").sizes(&[(728, 90), (320, 100)]),
                true,
            ),
            (
                "banner.format holds a listed size",
                bid("e").formats(&[(728, 90), (320, 50)]),
                true,
            ),
            (
                "banner.format without a listed size",
                bid("f").formats(&[(728, 90), (160, 600)]),
                false,
            ),
            (
                "no banner: no size value fails",
                bid("g").video_only(),
                false,
            ),
        ],
    )
    .await;
    assert_eq!(dropped, 3);
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 4), ("filtered", 3)]);
    assert_eq!(metrics::blocks(route.customer_id, written.id(&[0])), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authed_threshold_greaterthan_means_at_least_and_no_score_fails() {
    let (proxy, bidder, route) = setup().await;
    // The guide's "Bid Quality Filter": "a quality threshold of at least 0.5".
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{
            "id": 3, "field_type": "authed", "operator": "greaterthan",
            "threshold": 0.5, "filter_type": "threshold"
        }]),
    )
    .await;
    check(
        &proxy,
        &bidder,
        &route,
        &[
            ("score 0.5 equals the threshold", bid("a").authed(0.5), true),
            ("score 0.500001", bid("b").authed(0.500_001), true),
            ("score 1.0", bid("c").authed(1.0), true),
            ("score 0.49", bid("d").authed(0.49), false),
            ("score 0", bid("e").authed(0.0), false),
            ("no score", bid("f"), false),
        ],
    )
    .await;
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 3), ("filtered", 3)]);

    // `lessthan` is strict, and no score fails it too.
    let other = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    config::create_filters(
        &proxy.store,
        other.customer_id,
        json!([{"field_type": "authed", "operator": "lessthan", "threshold": 0.3, "filter_type": "threshold"}]),
    )
    .await;
    check(
        &proxy,
        &bidder,
        &other,
        &[
            ("score 0.29", bid("g").authed(0.29), true),
            ("score 0.3", bid("h").authed(0.3), false),
            ("no score", bid("i"), false),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_filters_need_size_and_score_and_the_blocking_leaf_is_counted() {
    let (proxy, bidder, route) = setup().await;
    // The guide's "Combining Filters", with its ids as labels (`parent_id` alias).
    let written = config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([
            {"id": 2, "field_type": "size", "operator": "equals",
             "list": ["300x250", "320x100", "320x50"], "filter_type": "white", "parent_id": 4},
            {"id": 3, "field_type": "authed", "operator": "greaterthan",
             "threshold": 0.5, "filter_type": "threshold", "parent_id": 4},
            {"id": 4, "field_type": "and", "filter_type": "boolean"}
        ]),
    )
    .await;
    let (size, authed) = (written.id(&[0]), written.id(&[1]));
    check(
        &proxy,
        &bidder,
        &route,
        &[
            (
                "300x250, 0.5",
                bid("a").sizes(&[(300, 250)]).authed(0.5),
                true,
            ),
            (
                "320x100, 0.9",
                bid("b").sizes(&[(320, 100)]).authed(0.9),
                true,
            ),
            (
                "300x250, 0.4",
                bid("c").sizes(&[(300, 250)]).authed(0.4),
                false,
            ),
            ("300x250, no score", bid("d").sizes(&[(300, 250)]), false),
            (
                "728x90, 0.9",
                bid("e").sizes(&[(728, 90)]).authed(0.9),
                false,
            ),
        ],
    )
    .await;
    // Each drop above had exactly one failing leaf: that leaf is the one counted.
    assert_eq!(metrics::blocks(route.customer_id, authed), 2);
    assert_eq!(metrics::blocks(route.customer_id, size), 1);
    // Boolean nodes are never "the leaf that blocked".
    assert_eq!(metrics::blocks(route.customer_id, written.id(&[2])), 0);
    assert_eq!(metrics::blocks(route.customer_id, route.root_id), 0);
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 2), ("filtered", 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uk_hierarchy_uk_needs_size_and_half_score_others_need_point_seven_and_not_uk() {
    let (proxy, bidder, route) = setup().await;
    // "First, update or create the top level filter which will be an OR filter" (filter 1):
    // the customer's root becomes that `or`.
    config::replace_tree(
        &proxy.store,
        route.customer_id,
        json!({"field_type": "or", "filter_type": "boolean"}),
    )
    .await;
    // Filters 2-5, then 6-8, as the guide posts them. The guide's `"parent_id": 1` names the
    // root; a filter without a parent goes under the root, which is that `or`.
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([
            {"id": 2, "field_type": "size", "operator": "equals",
             "list": ["300x250", "320x100", "320x50"], "filter_type": "white", "parent_id": 4},
            {"id": 3, "field_type": "authed", "operator": "greaterthan",
             "threshold": 0.5, "filter_type": "threshold", "parent_id": 4},
            {"id": 4, "field_type": "and", "filter_type": "boolean"},
            {"id": 5, "field_type": "country", "operator": "equals",
             "list": ["UK"], "filter_type": "white", "parent_id": 4}
        ]),
    )
    .await;
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([
            {"id": 6, "field_type": "authed", "operator": "greaterthan",
             "threshold": 0.7, "filter_type": "threshold", "parent_id": 8},
            {"id": 7, "field_type": "country", "operator": "equals",
             "list": ["UK"], "filter_type": "black", "parent_id": 8},
            {"id": 8, "field_type": "and", "filter_type": "boolean"}
        ]),
    )
    .await;
    let uk = |id: &str, country: &str| bid(id).device_country(country);
    check(
        &proxy,
        &bidder,
        &route,
        &[
            // UK traffic: listed size and a score of at least 0.5.
            (
                "device GBR, 300x250, 0.5",
                uk("a", "GBR").sizes(&[(300, 250)]).authed(0.5),
                true,
            ),
            (
                "device GB, 320x50, 0.6",
                uk("b", "GB").sizes(&[(320, 50)]).authed(0.6),
                true,
            ),
            (
                "device UK, 300x250, 0.5",
                uk("c", "UK").sizes(&[(300, 250)]).authed(0.5),
                true,
            ),
            (
                "device gb, 320x100, 0.5",
                uk("d", "gb").sizes(&[(320, 100)]).authed(0.5),
                true,
            ),
            (
                "device GBR, 728x90, 0.9",
                uk("e", "GBR").sizes(&[(728, 90)]).authed(0.9),
                false,
            ),
            (
                "device GB, 300x250, 0.45",
                uk("f", "GB").sizes(&[(300, 250)]).authed(0.45),
                false,
            ),
            (
                "device UK, 300x250, no score",
                uk("g", "UK").sizes(&[(300, 250)]),
                false,
            ),
            // Other traffic: at least 0.7 and not UK, any size.
            (
                "device US, 728x90, 0.7",
                uk("h", "US").sizes(&[(728, 90)]).authed(0.7),
                true,
            ),
            (
                "device DE, 728x90, 0.95",
                uk("i", "DE").sizes(&[(728, 90)]).authed(0.95),
                true,
            ),
            (
                "device USA, 728x90, 0.69",
                uk("j", "USA").sizes(&[(728, 90)]).authed(0.69),
                false,
            ),
            (
                "device US, 300x250, 0.6",
                uk("k", "US").sizes(&[(300, 250)]).authed(0.6),
                false,
            ),
            // No country: the UK white list fails, the UK black list passes.
            (
                "no country, 728x90, 0.7",
                bid("l").sizes(&[(728, 90)]).authed(0.7),
                true,
            ),
            (
                "no country, 300x250, 0.6",
                bid("m").sizes(&[(300, 250)]).authed(0.6),
                false,
            ),
            // user.geo when device.geo has no country; device.geo first when both do.
            (
                "user GBR, 300x250, 0.5",
                bid("n")
                    .user_country("GBR")
                    .sizes(&[(300, 250)])
                    .authed(0.5),
                true,
            ),
            (
                "user GB, 728x90, 0.9",
                bid("o").user_country("GB").sizes(&[(728, 90)]).authed(0.9),
                false,
            ),
            (
                "device US + user GB, 728x90, 0.8",
                uk("p", "US")
                    .user_country("GB")
                    .sizes(&[(728, 90)])
                    .authed(0.8),
                true,
            ),
            (
                "device GB + user US, 728x90, 0.8",
                uk("q", "GB")
                    .user_country("US")
                    .sizes(&[(728, 90)])
                    .authed(0.8),
                false,
            ),
        ],
    )
    .await;
}

/// The guide's "Filter Examples" tree: US/CA users user1/user2; GB/IE/DE users user3/user4 in
/// 300x250 only.
fn filter_examples_cases() -> Vec<(&'static str, BidRequest, bool)> {
    let at = |id: &str, country: &str, user: &str| bid(id).device_country(country).user(user);
    vec![
        (
            "US user1 728x90",
            at("a", "US", "user1").sizes(&[(728, 90)]),
            true,
        ),
        ("CA user2", at("b", "CA", "user2"), true),
        ("USA user1", at("c", "USA", "user1"), true),
        (
            "user.geo US user2",
            bid("d").user_country("US").user("user2"),
            true,
        ),
        ("US user3", at("e", "US", "user3"), false),
        ("US no user", bid("f").device_country("US"), false),
        (
            "GB user3 300x250",
            at("g", "GB", "user3").sizes(&[(300, 250)]),
            true,
        ),
        (
            "GBR user4 300x250",
            at("h", "GBR", "user4").sizes(&[(300, 250)]),
            true,
        ),
        (
            "UK user4 300x250",
            at("i", "UK", "user4").sizes(&[(300, 250)]),
            true,
        ),
        (
            "IE user4 300x250",
            at("j", "IE", "user4").sizes(&[(300, 250)]),
            true,
        ),
        (
            "DE user3 728x90",
            at("k", "DE", "user3").sizes(&[(728, 90)]),
            false,
        ),
        (
            "DE user1 300x250",
            at("l", "DE", "user1").sizes(&[(300, 250)]),
            false,
        ),
        ("FR user1", at("m", "FR", "user1"), false),
        ("no country user1", bid("n").user("user1"), false),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_examples_tree_routes_users_by_country() {
    let (proxy, bidder, route) = setup().await;
    // The tree as the guide draws it: an `or` of two `and`s under the root `and`.
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{
            "filter_type": "boolean", "field_type": "or",
            "filters": [
                {"filter_type": "boolean", "field_type": "and", "filters": [
                    {"filter_type": "white", "field_type": "country", "operator": "equals", "list": ["US", "CA"]},
                    {"filter_type": "white", "field_type": "user", "operator": "equals", "list": ["user1", "user2"]}
                ]},
                {"filter_type": "boolean", "field_type": "and", "filters": [
                    {"filter_type": "white", "field_type": "country", "operator": "equals", "list": ["GB", "IE", "DE"]},
                    {"filter_type": "white", "field_type": "size", "operator": "equals", "list": ["300x250"]},
                    {"filter_type": "white", "field_type": "user", "operator": "equals", "list": ["user3", "user4"]}
                ]}
            ]
        }]),
    )
    .await;
    check(&proxy, &bidder, &route, &filter_examples_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_examples_step_by_step_third_empty_and_passes_everything_until_deleted() {
    let (proxy, bidder, route) = setup().await;
    // The guide's steps: the `or` under the root, then "the and filters can be added in bulk"
    // (three of them), then the list filters under the first two.
    let or = config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{"filter_type": "boolean", "field_type": "or", "parent_filter_id": route.root_id}]),
    )
    .await
    .id(&[0]);
    let ands = config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or},
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or},
            {"filter_type": "boolean", "field_type": "and", "parent_filter_id": or}
        ]),
    )
    .await;
    let (first, second, third) = (ands.id(&[0]), ands.id(&[1]), ands.id(&[2]));
    // The guide quotes the parent ids as strings.
    let (first_s, second_s) = (first.to_string(), second.to_string());
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([
            {"filter_type":"white","field_type":"country","operator":"equals","list":["US","CA"],"parent_filter_id":first_s},
            {"filter_type":"white","field_type":"user","operator":"equals","list":["user1","user2"],"parent_filter_id":first_s},
            {"filter_type":"white","field_type":"country","operator":"equals","list":["GB","IE","DE"],"parent_filter_id":second_s},
            {"filter_type":"white","field_type":"size","operator":"equals","list":["300x250"],"parent_filter_id":second_s},
            {"filter_type":"white","field_type":"user","operator":"equals","list":["user3","user4"],"parent_filter_id":second_s}
        ]),
    )
    .await;
    // SPEC §3.2: an `and` without children passes, so the third `and` makes the `or` pass
    // every request, which is not what the guide meant.
    let everything: Vec<_> = filter_examples_cases()
        .into_iter()
        .map(|(name, request, _)| (name, request, true))
        .collect();
    check(&proxy, &bidder, &route, &everything).await;
    // Without it, the tree is the one drawn.
    config::delete_filter(&proxy.store, third).await;
    check(&proxy, &bidder, &route, &filter_examples_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_supplier_lists_select_streams() {
    let (proxy, bidder, a) = setup().await;
    // One customer, three streams: a and b from one supplier, c from another.
    let b = config::sibling(&proxy.store, &a, a.supplier_id, &bidder.url()).await;
    let other_supplier = config::supplier(&proxy.store).await;
    let c = config::sibling(&proxy.store, &a, other_supplier, &bidder.url()).await;
    let send_all = |tag: &'static str, want: [bool; 3]| {
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        let (proxy, bidder) = (&proxy, &bidder);
        async move {
            for (route, forward) in [(&a, want[0]), (&b, want[1]), (&c, want[2])] {
                let name = format!("{tag}: stream {}", route.stream_id);
                let cases = [(name.as_str(), bid("s"), forward)];
                check(proxy, bidder, route, &cases).await;
            }
        }
    };

    // Stream white list (ids as numbers and as numeric strings).
    config::replace_tree(
        &proxy.store,
        a.customer_id,
        json!({"field_type": "and", "filter_type": "boolean", "filters": [
            {"field_type": "stream", "filter_type": "white", "list": [a.stream_id, c.stream_id.to_string()]}
        ]}),
    )
    .await;
    send_all("stream white list [a, c]", [true, false, true]).await;

    // Supplier white list.
    config::replace_tree(
        &proxy.store,
        a.customer_id,
        json!({"field_type": "and", "filter_type": "boolean", "filters": [
            {"field_type": "supplier", "filter_type": "white", "operator": "equals", "list": [other_supplier]}
        ]}),
    )
    .await;
    send_all("supplier white list [c's]", [false, false, true]).await;

    // Supplier black list and stream black list together.
    config::replace_tree(
        &proxy.store,
        a.customer_id,
        json!({"field_type": "and", "filter_type": "boolean", "filters": [
            {"field_type": "supplier", "filter_type": "black", "list": [other_supplier]},
            {"field_type": "stream", "filter_type": "black", "list": [b.stream_id]}
        ]}),
    )
    .await;
    send_all(
        "supplier black [c's] + stream black [b]",
        [true, false, false],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_black_list_compares_lower_case_without_www() {
    let (proxy, bidder, route) = setup().await;
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{"field_type": "domain", "filter_type": "black", "operator": "equals",
                "list": ["www.Example.com", "ads.example.net"]}]),
    )
    .await;
    check(
        &proxy,
        &bidder,
        &route,
        &[
            ("example.com", bid("a").site_domain("example.com"), false),
            (
                "www.example.com",
                bid("b").site_domain("www.example.com"),
                false,
            ),
            (
                "WWW.EXAMPLE.COM",
                bid("c").site_domain("WWW.EXAMPLE.COM"),
                false,
            ),
            (
                "www.ads.example.net",
                bid("d").site_domain("www.ads.example.net"),
                false,
            ),
            (
                "news.example.com",
                bid("e").site_domain("news.example.com"),
                true,
            ),
            ("example.org", bid("f").site_domain("example.org"), true),
            (
                "app bundle example.com",
                bid("g").app_bundle("example.com"),
                false,
            ),
            (
                "app bundle com.example.app",
                bid("h").app_bundle("com.example.app"),
                true,
            ),
            ("no site, no app", bid("i"), true),
        ],
    )
    .await;
}
