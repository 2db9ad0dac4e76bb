//! Rules the contract took from real EM 12 and EM 13 captures (README "Changes to
//! this contract", 2026-12-01): URN path IDs and empty path segments, paging links
//! per generation. (Links with null keys are checked for every resource by the link
//! crawler, the 50 `Entities` keys by the repr unit tests and the snapshots.)

use entman_http::HttpConfig;
use entman_repr::JsonStyle;
use entman_testkit::reqwest::Method;
use entman_testkit::{spawn, spawn_app, Options, TestApp, TestDb};
use serde_json::Value;

async fn json(app: &TestApp, logon: &entman_testkit::Logon, path: &str) -> (u16, Value) {
    let (status, body) = app.get_text(logon, path, true).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `(Href, UID)` of the first entity of an entity collection.
async fn first_entity(
    app: &TestApp,
    logon: &entman_testkit::Logon,
    collection: &str,
    key: &str,
) -> (String, String) {
    let (status, body) = json(app, logon, &format!("{collection}?format=Entity")).await;
    assert_eq!(status, 200, "{collection}");
    let item = &body[key][0];
    let href = item["Href"].as_str().unwrap();
    (
        href.split('?').next().unwrap().to_string(),
        item["UID"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn every_resource_answers_by_its_urn_and_a_urn_of_another_type_is_404() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let mut checked = Vec::new();
    for (collection, key) in [
        ("/backupServers", "BackupServers"),
        ("/cloud/tenants", "CloudTenants"),
        ("/cloud/replicas", "CloudReplicas"),
        ("/cloud/vmReplicaPoints", "CloudVmReplicaPoints"),
        ("/cloud/cloudFailoverPlans", "CloudFailoverPlans"),
        ("/cloud/failoverSessions", "CloudFailoverSessions"),
    ] {
        let (href, uid) = first_entity(&app, &admin, collection, key).await;
        let guid = uid.rsplit(':').next().unwrap().to_string();
        let by_urn = href.replace(&guid, &uid);
        assert_ne!(by_urn, href);
        for format in ["", "?format=Entity"] {
            let (s1, b1) = app.get_text(&admin, &format!("{href}{format}"), true).await;
            let (s2, b2) = app
                .get_text(&admin, &format!("{by_urn}{format}"), true)
                .await;
            assert_eq!((s1, s2), (200, 200), "{by_urn}{format}");
            assert_eq!(b1, b2, "{by_urn}{format} answers as {href}");
        }
        // The type segment is matched case-insensitively; another type is 404.
        let upper = href.replace(&guid, &uid.to_uppercase());
        assert_eq!(app.get_text(&admin, &upper, true).await.0, 200, "{upper}");
        let wrong = href.replace(&guid, &format!("urn:veeam:Job:{guid}"));
        let (status, body) = app.get_text(&admin, &wrong, true).await;
        assert_eq!(status, 404, "{wrong}: {body}");
        checked.push((collection, href, uid, guid));
    }
    // Sub-resources and actions take URNs too.
    let (_, replica_href, replica_uid, replica_guid) = &checked[2];
    let points = replica_href.replace(replica_guid, replica_uid) + "/vmReplicaPoints";
    assert_eq!(app.get_text(&admin, &points, true).await.0, 200, "{points}");
    let (_, plan_href, plan_uid, plan_guid) = &checked[4];
    let plan_by_urn = plan_href.replace(plan_guid, plan_uid);
    let (status, includes) = json(&app, &admin, &format!("{plan_by_urn}/includes")).await;
    assert_eq!(status, 200);
    let include = includes["CloudFailoveredVms"][0]["Href"].as_str().unwrap();
    assert_eq!(app.get_text(&admin, include, true).await.0, 200);
    let (status, _, body) = app
        .send(
            Some(&admin),
            Method::POST,
            &format!("{plan_by_urn}?action=test"),
            None,
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // The plan's URN names a plan, not a session.
    let (_, session_href, _, session_guid) = &checked[5];
    let mixed = session_href.replace(
        session_guid,
        &format!("urn:veeam:CloudFailoverPlan:{session_guid}"),
    );
    assert_eq!(app.get_text(&admin, &mixed, true).await.0, 404);
}

#[tokio::test]
async fn empty_path_segments_are_ignored() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let (status, plain) = app.get_text(&admin, "/cloud/failoverSessions", true).await;
    assert_eq!(status, 200);
    for path in [
        "//cloud/failoverSessions",
        "/cloud//failoverSessions",
        "/cloud/failoverSessions//",
    ] {
        let (status, body) = app.get_text(&admin, path, true).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, plain, "{path}");
    }
    // The entry point too, without a token.
    let (status, _, body) = app.send(None, Method::GET, "//", None, vec![], false).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<EnterpriseManager"));
}

async fn spawn_generation(style: JsonStyle) -> TestApp {
    spawn(
        TestDb::sqlite(),
        Options {
            config: HttpConfig {
                json_style: style,
                ..HttpConfig::default()
            },
            ..Options::default()
        },
    )
    .await
}

/// The paging links of a query sent with `filter` written exactly as `sent` (on a
/// raw socket: an HTTP client library would encode some of the bytes itself).
async fn paging_links(app: &TestApp, sent: &str) -> Vec<String> {
    let admin = app.logon().await;
    let request = format!(
        "GET /api/query?type=CloudFailoverSession&filter={sent}&pageSize=2&page=2 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nX-RestSvcSessionId: {}\r\nConnection: close\r\n\r\n",
        admin.token
    );
    let addr = app.address.trim_start_matches("http://").to_string();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{sent}: {answer}");
    let value: Value = serde_json::from_str(body).unwrap();
    let links = value
        .get("PagingInfo")
        .or_else(|| value.get("pagingInfo"))
        .and_then(|p| p.get("Links").or_else(|| p.get("links")))
        .and_then(Value::as_array)
        .unwrap()
        .clone();
    links
        .iter()
        .map(|l| {
            l.get("Href")
                .or_else(|| l.get("href"))
                .and_then(Value::as_str)
                .unwrap()
                .split_once("/api/query?")
                .unwrap()
                .1
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn paging_links_reencode_in_em12_and_keep_the_text_in_em13() {
    let filter_upper = "CreationTime%3E%3D%222000-01-01T00:00:00%22";
    let filter_raw = "CreationTime>=\"2000-01-01T00:00:00\"";
    let em12 = spawn_generation(JsonStyle::Em12).await;
    let em13 = spawn_generation(JsonStyle::Em13).await;
    // EM 13 keeps the client's text: `%3D` stays `%3D`, a raw `=` stays `=`; the
    // raw `>` and `"` a URI may not hold are encoded.
    for (sent, em13_filter) in [
        (filter_upper, "CreationTime%3E%3D%222000-01-01T00:00:00%22"),
        (filter_raw, "CreationTime%3E=%222000-01-01T00:00:00%22"),
    ] {
        let links = paging_links(&em12, sent).await;
        assert_eq!(
            links[0],
            "type=CloudFailoverSession&filter=CreationTime%3e%3d%222000-01-01T00%3a00%3a00%22&pageSize=2&page=1",
            "EM 12, sent {sent}"
        );
        let links = paging_links(&em13, sent).await;
        assert_eq!(
            links[0],
            format!("type=CloudFailoverSession&filter={em13_filter}&pageSize=2&page=1"),
            "EM 13, sent {sent}"
        );
        // First, Previous, Next, Last on page 2 of a longer result.
        assert_eq!(links.len(), 4, "{links:?}");
        assert!(links[1].ends_with("&pageSize=2&page=1"), "{links:?}");
        assert!(links[2].ends_with("&pageSize=2&page=3"), "{links:?}");
    }
    // A filter with literal `==` and `;` stays as sent in EM 13, and is encoded in EM 12.
    let sent = "State==Stopped;Result!=Success";
    assert_eq!(
        paging_links(&em13, sent).await[0],
        format!("type=CloudFailoverSession&filter={sent}&pageSize=2&page=1")
    );
    assert_eq!(
        paging_links(&em12, sent).await[0],
        "type=CloudFailoverSession&filter=State%3d%3dStopped%3bResult!%3dSuccess&pageSize=2&page=1"
    );
}
