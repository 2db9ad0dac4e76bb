//! The query service (query.md): types, formats, filters, sorting, paging links,
//! errors, tenant scoping and hostile values.

use entman_testkit::fixture::ids;
use entman_testkit::{pretty_json, spawn_app, spawn_fixture_app, Logon, TestApp, TestDb};
use insta::assert_snapshot;
use serde_json::Value;

async fn get(app: &TestApp, logon: &Logon, query: &str) -> (u16, Value) {
    let (status, body) = app.get_text(logon, &format!("/query?{query}"), true).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{query}: {body}")),
    )
}

/// query.md §8.1 (Entities, page 1 of 2), §8.3 (References) and §8.4 (Resources).
#[tokio::test]
async fn query_results_match_query_md_8() {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    let logon = app.logon().await;
    for (name, query) in [
        ("query_sessions_entities", "type=CloudFailoverSession&format=Entities&sortDesc=CreationTime&pageSize=1&filter=State%3d%3dStopped"),
        ("query_plans_refs", "type=CloudFailoverPlan&filter=CloudTenantName%3d%3d%22ABC+Company%22"),
        ("query_points_entities", "type=CloudVmReplicaPoint&format=Entities&filter=VmName%3d%3dfilesrv03"),
    ] {
        let path = format!("/query?{query}");
        let (status, xml) = app.get_text(&logon, &path, false).await;
        assert_eq!(status, 200, "{xml}");
        let (_, json) = app.get_text(&logon, &path, true).await;
        assert_snapshot!(format!("{name}.xml"), xml);
        assert_snapshot!(format!("{name}.json"), pretty_json(&json));
    }
    let (status, _, _) = app
        .send(
            Some(&logon),
            reqwest::Method::POST,
            &format!("/backupServers/{}?action=collect", ids::SERVER),
            None,
            vec![],
            false,
        )
        .await;
    assert_eq!(status, 202);
    let (_, xml) = app
        .get_text(&logon, "/query?type=Task&filter=State%3d%3dFinished", false)
        .await;
    assert_snapshot!("query_tasks_resources.xml", xml);
    let (_, json) = app
        .get_text(&logon, "/query?type=Task&filter=State%3d%3dFinished", true)
        .await;
    assert_snapshot!("query_tasks_resources.json", pretty_json(&json));
}

#[tokio::test]
async fn every_type_answers_in_both_formats_with_the_documented_wrappers() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    for (t, list) in [
        ("BackupServer", "BackupServers"),
        ("CloudTenant", "CloudTenants"),
        ("CloudReplica", "CloudReplicas"),
        ("CloudVmReplicaPoint", "CloudVmReplicaPoints"),
        ("CloudFailoverPlan", "CloudFailoverPlans"),
        ("CloudFailoverSession", "CloudFailoverSessions"),
    ] {
        let (status, entities) = get(
            &app,
            &logon,
            &format!("type={}&format=entities", t.to_lowercase()),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        let items = entities["Entities"][list][list]
            .as_array()
            .unwrap_or_else(|| panic!("{t}: {entities}"));
        assert!(!items.is_empty(), "{t}");
        assert!(
            entities["Refs"].is_null()
                && entities["Resources"].is_null()
                && entities["Links"].is_null()
        );
        let (_, refs) = get(&app, &logon, &format!("type={t}")).await;
        assert_eq!(
            refs["Refs"]["Refs"].as_array().unwrap().len(),
            items.len().min(100),
            "{t}"
        );
        assert!(refs["PagingInfo"]["PagesCount"].is_number());
        let (_, xml) = app
            .get_text(&logon, &format!("/query?type={t}&format=Entities"), false)
            .await;
        let item = if t == "CloudVmReplicaPoint" {
            "CloudReplica"
        } else {
            t
        };
        assert!(
            xml.contains(&format!("<Entities>\n    <{list}>\n      <{item} ")),
            "{t}: {}",
            &xml[..300]
        );
    }
    let (_, tasks) = get(&app, &logon, "type=Task&format=Entities").await;
    assert_eq!(
        tasks["Resources"]["Tasks"]["Tasks"],
        Value::Null,
        "no tasks yet: an empty list is null"
    );
}

#[tokio::test]
async fn filters_sort_and_compare_enums_by_index() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    let (_, all) = get(
        &app,
        &logon,
        "type=CloudFailoverSession&format=Entities&pageSize=1000",
    )
    .await;
    let all = all["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all.len(), 50, "the query type has no 30-day window");
    let (_, bad) = get(
        &app,
        &logon,
        "type=CloudFailoverSession&format=Entities&pageSize=1000&filter=Result%3E%3Dwarning",
    )
    .await;
    let bad = bad["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        bad.len(),
        all.iter()
            .filter(|s| s["Result"] == "Warning" || s["Result"] == "Failed")
            .count()
    );
    let (_, sorted) = get(
        &app,
        &logon,
        "type=CloudFailoverSession&format=Entities&pageSize=1000&sortDesc=creationtime",
    )
    .await;
    let times: Vec<&str> = sorted["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["CreationTimeUTC"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let name = all[0]["Name"].as_str().unwrap();
    let q = format!(
        "type=CloudFailoverSession&filter=name%3d%3d%22{}%22%3b(result%3d%3dSuccess%2cresult%3d%3dFailed)&pageSize=1000",
        name.to_uppercase().replace(' ', "+")
    );
    let (status, found) = get(&app, &logon, &q).await;
    assert_eq!(status, 200);
    let expected = all
        .iter()
        .filter(|s| s["Name"] == name && (s["Result"] == "Success" || s["Result"] == "Failed"))
        .count();
    assert_eq!(
        found["Refs"]["Refs"].as_array().map_or(0, Vec::len),
        expected
    );
}

#[tokio::test]
async fn paging_links_walk_every_page_once_and_the_last_has_no_next() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    let mut url = app.url("/query?type=CloudFailoverSession&format=Entities&sortDesc=CreationTime&pageSize=7&page=1&v=latest");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = app.get_text(&logon, &url, true).await;
        assert_eq!(status, 200);
        let page: Value = serde_json::from_str(&body).unwrap();
        pages += 1;
        let info = &page["PagingInfo"];
        assert_eq!(info["PagesCount"], 8);
        assert_eq!(info["PageNum"], pages);
        let rels: Vec<&str> = info["Links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["Rel"].as_str().unwrap())
            .collect();
        assert_eq!(rels.first(), Some(&"First"));
        assert_eq!(rels.last(), Some(&"Last"));
        assert_eq!(rels.contains(&"Previous"), pages > 1);
        for s in page["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"]
            .as_array()
            .unwrap()
        {
            seen.push(s["UID"].as_str().unwrap().to_string());
        }
        match info["Links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["Rel"] == "Next")
        {
            Some(next) => {
                let href = next["Href"].as_str().unwrap();
                assert!(
                    href.contains("format=Entities&sortDesc=CreationTime&pageSize=7&page=")
                        && href.ends_with("&v=latest"),
                    "{href}"
                );
                url = href.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 8);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (50, 50));
    let (_, beyond) = get(
        &app,
        &logon,
        "type=CloudFailoverSession&pageSize=7&page=99999999999999999999999",
    )
    .await;
    assert!(beyond["Refs"]["Refs"].is_null());
    assert_eq!(beyond["PagingInfo"]["PagesCount"], 8);
}

#[tokio::test]
async fn invalid_queries_answer_400_naming_the_problem_and_unimplemented_types_501() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    for (query, expected, needle) in [
        ("format=Entities", 400, "[type] is required"),
        ("type=Nothing", 400, "Query type [Nothing]"),
        ("type=RestoreSession", 501, "not supported by this server"),
        (
            "type=Repository&filter=result%3d%3dFailed",
            501,
            "not supported",
        ),
        (
            "type=CloudFailoverSession&filter=Result%3dFailed",
            400,
            "at position 6",
        ),
        (
            "type=CloudFailoverSession&filter=Colour%3d%3dred",
            400,
            "[Colour] is not a field of CloudFailoverSession at position 0",
        ),
        (
            "type=CloudFailoverSession&filter=Result%3d%3dMaybe",
            400,
            "[Maybe] is not a valid value for [Result]",
        ),
        (
            "type=CloudFailoverSession&filter=(Result%3d%3dFailed",
            400,
            "not closed",
        ),
        (
            "type=CloudFailoverSession&sortAsc=Colour",
            400,
            "Failed to sort",
        ),
        (
            "type=CloudFailoverSession&pageSize=0",
            400,
            "positive integer",
        ),
        (
            "type=CloudFailoverSession&pageSize=-5",
            400,
            "positive integer",
        ),
        (
            "type=CloudFailoverSession&pageSize=abc",
            400,
            "positive integer",
        ),
        (
            "type=CloudFailoverSession&pageSize=10001",
            400,
            "must not be above",
        ),
        ("type=CloudFailoverSession&page=0", 400, "positive integer"),
        ("type=CloudFailoverSession&format=xml", 400, "format"),
    ] {
        let (status, body) = get(&app, &logon, query).await;
        assert_eq!(status, expected, "{query}: {body}");
        assert!(
            body["Message"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn hostile_filter_values_are_plain_values() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    for filter in [
        "Name%3d%3d%22%27%3b+DROP+TABLE+failover_sessions%3b+--%22",
        "FailureMessage%3d%3d%22a%22%22%3b%2c()%22",
        "Name%3d%3d%22%00%22",
        "Name%3d%3d%22%E2%80%AE%F0%9F%92%A3%22",
        "Name%3d%3d%22*%22",
        "Name%3d%3d%22%25%22",
    ] {
        let (status, body) = get(
            &app,
            &logon,
            &format!("type=CloudFailoverSession&filter={filter}"),
        )
        .await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert!(body["Refs"]["Refs"].is_null(), "{filter} matches nothing");
    }
    let long = format!(
        "type=CloudFailoverSession&filter=Name%3d%3d%22{}%22",
        "x".repeat(5000)
    );
    assert_eq!(get(&app, &logon, &long).await.0, 400);
    let (_, all) = get(&app, &logon, "type=CloudFailoverSession&pageSize=1").await;
    assert_eq!(all["PagingInfo"]["PagesCount"], 50, "the data is untouched");
}

#[tokio::test]
async fn tenants_query_only_their_own_objects() {
    let app = spawn_app().await;
    let abc = app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}})).await;
    for t in [
        "CloudFailoverSession",
        "CloudFailoverPlan",
        "CloudReplica",
        "CloudVmReplicaPoint",
    ] {
        let (status, body) = app
            .get_text(
                &abc,
                &format!("/query?type={t}&format=Entities&pageSize=1000"),
                true,
            )
            .await;
        assert_eq!(status, 200);
        for foreign in ["QWE", "qwe-", "TechCompany", "tc-"] {
            assert!(
                !body.contains(foreign),
                "{t} shows {foreign} to ABC Company"
            );
        }
    }
    for t in ["BackupServer", "CloudTenant"] {
        assert_eq!(get(&app, &abc, &format!("type={t}")).await.0, 403);
    }
}
