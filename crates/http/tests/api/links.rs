//! Every link the server emits resolves: a crawler starts at the entry point and
//! the logon session, follows every `Href` it finds in XML and JSON bodies, and
//! checks the answer. Links to EM resources outside the contract must answer 501;
//! everything else 200. Action links (Create, Edit, Delete, Start, ...) are checked
//! by a GET on their resource, which must exist; the actions themselves are
//! exercised by their own tests.

use entman_testkit::{spawn_app, Logon, TestApp};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// A URL with every GUID and task number replaced, so that one URL per shape is
/// enough to cover a kind of link.
fn shape(url: &str) -> String {
    let mut out = String::new();
    for (i, part) in url.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let (path, query) = part
            .split_once('?')
            .map_or((part, None), |(p, q)| (p, Some(q)));
        let normalized = if path.len() == 36 && path.chars().filter(|c| *c == '-').count() == 4 {
            "{id}".to_string()
        } else if path.starts_with("task-") {
            "{task}".to_string()
        } else {
            path.to_string()
        };
        out.push_str(&normalized);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
    }
    out
}

/// (href, rel) pairs of every link in an XML body.
fn xml_links(body: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for chunk in body.split('<').skip(1) {
        let attr = |name: &str| {
            let key = format!(" {name}=\"");
            chunk.find(&key).map(|i| {
                let rest = &chunk[i + key.len()..];
                rest[..rest.find('"').unwrap()].replace("&amp;", "&")
            })
        };
        if let (Some(href), Some(rel)) = (attr("Href"), attr("Rel")) {
            links.push((href, rel));
        } else if let Some(href) = attr("Href") {
            links.push((href, "Self".to_string()));
        }
    }
    links
}

/// (href, rel) pairs of every object with an `Href` in a JSON body.
fn json_links(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            // EM 13 camel-cases the keys.
            let get = |key: &str| {
                map.get(key)
                    .or_else(|| map.get(&key.to_ascii_lowercase()))
                    .and_then(|v| v.as_str())
            };
            // `"Href": ""` is a serializer artefact of EM's JSON (a job's
            // `JobScheduleOptions`, jobs.md §3.2), not a link.
            if let Some(href) = get("Href").filter(|h| !h.is_empty()) {
                let rel = get("Rel").unwrap_or("Self");
                out.push((href.to_string(), rel.to_string()));
            }
            map.values().for_each(|v| json_links(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_links(v, out)),
        _ => {}
    }
}

/// The verb a client uses for an action rel.
fn action_verb(rel: &str) -> Option<reqwest::Method> {
    match rel {
        "Create" | "Start" | "Test" | "Undo" | "VeeamZip" | "QuickBackup" => {
            Some(reqwest::Method::POST)
        }
        "Edit" => Some(reqwest::Method::PUT),
        "Delete" => Some(reqwest::Method::DELETE),
        _ => None,
    }
}

fn expected_status(href: &str) -> u16 {
    let path = href
        .split("/api")
        .nth(1)
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let query = href
        .split_once('?')
        .map(|(_, q)| q.to_ascii_lowercase())
        .unwrap_or_default();
    let query_type = (path == "/query").then(|| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix("type="))
            .is_some_and(|t| entman_query::QueryType::parse(t).is_err())
    });
    let out_of_scope = entman_http::routes::is_em_resource(&format!("/api{path}"))
        || query_type == Some(true)
        || query.contains("action=veeamzip")
        || query.contains("action=quickbackup");
    if out_of_scope {
        501
    } else {
        200
    }
}

/// Crawls from `start`. `forbidden` lists path prefixes the caller may see links to
/// but not read (a tenant's `Up` links to backup servers): those answer 403.
async fn crawl(app: &TestApp, logon: &Logon, start: Vec<String>, forbidden: &[&str]) -> usize {
    let mut queue: VecDeque<(String, String)> =
        start.into_iter().map(|s| (s, "Self".to_string())).collect();
    let mut seen_shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut visited = HashSet::new();
    let mut failures = Vec::new();
    while let Some((href, rel)) = queue.pop_front() {
        if !visited.insert((href.clone(), rel.clone())) {
            continue;
        }
        let count = seen_shapes
            .entry(format!("{rel} {}", shape(&href)))
            .or_default();
        *count += 1;
        if *count > 2 {
            continue;
        }
        let expected = expected_status(&href);
        if let Some(verb) = action_verb(&rel) {
            // Authentication comes before routing (auth.md §2.3): without a token
            // every action link answers 401, whatever it names.
            let (status, _, body) = app
                .send(None, verb.clone(), &href, None, vec![], false)
                .await;
            if status != 401 {
                failures.push(format!(
                    "{verb} {href} ({rel}) without a token -> {status}, expected 401: {body}"
                ));
            }
            // Actions outside the contract (tenant management included) answer 501
            // to a logged-on caller; in-scope ones are not carried out here.
            let tenant_management = href.to_ascii_lowercase().contains("/api/cloud/tenants");
            if expected == 501 || tenant_management {
                let (status, _, body) = app
                    .send(Some(logon), verb.clone(), &href, None, vec![], false)
                    .await;
                if status != 501 {
                    failures.push(format!(
                        "{verb} {href} ({rel}) -> {status}, expected 501: {body}"
                    ));
                }
            }
            continue;
        }
        let path = href.split("/api").nth(1).unwrap_or("").to_ascii_lowercase();
        let expected = if forbidden.iter().any(|p| path.starts_with(p)) {
            403
        } else {
            expected
        };
        for json in [false, true] {
            let (status, body) = app.get_text(logon, &href, json).await;
            if status != expected {
                failures.push(format!(
                    "GET {href} ({}) -> {status}, expected {expected}",
                    if json { "json" } else { "xml" }
                ));
                continue;
            }
            if status != 200 {
                continue;
            }
            let mut links = Vec::new();
            if json {
                if let Err(e) = links_have_four_keys(&body) {
                    failures.push(format!("GET {href} (json): {e}"));
                }
                json_links(&serde_json::from_str(&body).expect("JSON body"), &mut links);
            } else {
                links = xml_links(&body);
            }
            for (link, rel) in links {
                assert!(link.starts_with("http"), "relative link {link}");
                queue.push_back((link, rel));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "unresolved links:\n{}",
        failures.join("\n")
    );
    visited.len()
}

/// Crawls everything an administrator reaches from the entry point and its logon.
async fn crawl_as_admin(app: &TestApp) {
    let logon = app.logon().await;
    let start = vec![
        app.url("/"),
        app.url(&format!("/logonSessions/{}", logon.session_id)),
    ];
    let visited = crawl(app, &logon, start, &[]).await;
    assert!(visited > 100, "the crawl reached only {visited} links");
}

#[tokio::test]
async fn every_link_of_the_demo_world_resolves_in_xml_and_json() {
    crawl_as_admin(&spawn_app().await).await;
}

#[tokio::test]
async fn every_link_resolves_in_em13_json_too() {
    let app = entman_testkit::spawn(
        entman_testkit::TestDb::sqlite(),
        entman_testkit::Options {
            config: entman_http::HttpConfig {
                json_style: entman_repr::JsonStyle::Em13,
                ..entman_http::HttpConfig::default()
            },
            ..entman_testkit::Options::default()
        },
    )
    .await;
    crawl_as_admin(&app).await;
}

#[tokio::test]
async fn every_link_a_tenant_sees_resolves() {
    let app = spawn_app().await;
    let tenant = app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}})).await;
    let start = vec![app.url(&format!("/logonSessions/{}", tenant.session_id))];
    let forbidden = [
        "/backupservers",
        "/cloud/tenants",
        "/query?type=backupserver&",
        "/query?type=cloudtenant&",
    ];
    crawl(&app, &tenant, start, &forbidden).await;
}

#[test]
fn shapes_fold_ids() {
    assert_eq!(
        shape("http://h/api/cloud/replicas/8e7b8830-e42a-4b3e-b4fe-b52f1fccc91a?format=Entity"),
        "http://h/api/cloud/replicas/{id}?format=Entity"
    );
}

/// json.md J4: every link object is `{"Rel", "Href", "Name", "Type"}` in that
/// order, all four always there (`Name`/`Type` may be `null`).
fn links_have_four_keys(body: &str) -> Result<(), String> {
    if body.contains("{\"rel\":") {
        // EM 13: the same rule in camelCase.
        let pascal = body
            .replace("{\"rel\":", "{\"Rel\":")
            .replace(",\"href\":", ",\"Href\":")
            .replace(",\"name\":", ",\"Name\":")
            .replace(",\"type\":", ",\"Type\":");
        return links_have_four_keys(&pascal);
    }
    let mut from = 0;
    while let Some(at) = body[from..].find("{\"Rel\":") {
        let start = from + at;
        let mut stream =
            serde_json::Deserializer::from_str(&body[start..]).into_iter::<serde_json::Value>();
        let value = stream
            .next()
            .ok_or("no link object")?
            .map_err(|e| e.to_string())?;
        let text = &body[start..start + stream.byte_offset()];
        let object = value.as_object().ok_or("a link is not an object")?;
        let order: Vec<usize> = ["\"Rel\":", ",\"Href\":", ",\"Name\":", ",\"Type\":"]
            .iter()
            .filter_map(|key| text.find(key))
            .collect();
        let in_order = order.len() == 4 && order.windows(2).all(|w| w[0] < w[1]);
        if object.len() != 4 || !in_order {
            return Err(format!("link without its four keys in order: {text}"));
        }
        for key in ["Name", "Type"] {
            if !(object[key].is_null() || object[key].is_string()) {
                return Err(format!("{key} is neither a string nor null: {text}"));
            }
        }
        from = start + 1;
    }
    Ok(())
}
