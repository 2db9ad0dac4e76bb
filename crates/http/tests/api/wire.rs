//! Wire fidelity for clients in the wild (README "Changes to this contract",
//! 2026-12-01): the token made from the `SessionId`, header-name case, raw request
//! targets, authentication before routing, 415 and a 413 that reaches the client.
//! Where a client library would hide the difference, the tests speak bytes on a raw
//! socket, over plain HTTP and over HTTPS.

use base64::Engine;
use entman_http::server::rustls;
use entman_testkit::reqwest::Method;
use entman_testkit::{spawn, Options, TestApp, TestDb, ADMIN};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

async fn spawn_both() -> TestApp {
    spawn(
        TestDb::sqlite(),
        Options {
            https: true,
            ..Options::default()
        },
    )
    .await
}

/// A listener of the app: its `host:port` and, for HTTPS, the certificate to trust.
#[derive(Clone)]
struct Target {
    addr: String,
    cert_pem: Option<String>,
}

fn targets(app: &TestApp) -> Vec<Target> {
    let https = app.https.as_ref().expect("an HTTPS listener");
    vec![
        Target {
            addr: app.address.trim_start_matches("http://").to_string(),
            cert_pem: None,
        },
        Target {
            addr: https.address.trim_start_matches("https://").to_string(),
            cert_pem: Some(https.cert_pem.clone()),
        },
    ]
}

fn tls_client(cert_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A blocking connection to a listener, over TLS for HTTPS.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn connect(target: &Target) -> std::io::Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect(&target.addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(match &target.cert_pem {
        None => Box::new(tcp),
        Some(pem) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(tls_client(pem), name).unwrap();
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    })
}

/// Sends `request` as it is (the whole of it before reading, as a blocking client
/// does) and reads the answer until the server closes the connection.
fn exchange_blocking(target: &Target, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = connect(target)?;
    stream.write_all(request)?;
    stream.flush()?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        // The server may close TLS without close_notify after `Connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(e),
    }
    Ok(answer)
}

async fn exchange(target: &Target, request: Vec<u8>) -> String {
    let target = target.clone();
    let bytes = tokio::task::spawn_blocking(move || exchange_blocking(&target, &request))
        .await
        .unwrap()
        .expect("an answer");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The header lines of a raw answer, as sent.
fn header_lines(answer: &str) -> Vec<&str> {
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .skip(1)
        .collect()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn basic() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1))
}

fn token_header(answer: &str) -> String {
    header_lines(answer)
        .iter()
        .find_map(|l| l.strip_prefix("X-RestSvcSessionId: "))
        .expect("X-RestSvcSessionId in its documented case")
        .trim()
        .to_string()
}

#[tokio::test]
async fn the_token_is_the_base64_of_the_session_id_and_works_as_header_and_cookie() {
    let app = spawn_both().await;
    let (status, headers, body) = app
        .send(
            None,
            Method::POST,
            "/sessionMngr/?v=latest",
            None,
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(headers.contains_key("www-authenticate"));
    let response = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let header_token = response.headers()["x-restsvcsessionid"]
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let session_id = body["SessionId"].as_str().unwrap();
    // What the Grafana collector does: base64(SessionId), ignoring the header.
    let derived = base64::engine::general_purpose::STANDARD.encode(session_id);
    assert_eq!(derived, header_token);
    assert_eq!(derived.len(), 48);
    let parsed: uuid::Uuid = session_id.parse().unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    for (name, value) in [
        ("X-RestSvcSessionId", derived.clone()),
        ("Cookie", format!("X-RestSvcSessionId={derived}")),
    ] {
        let response = app
            .client
            .get(app.url("/cloud/failoverSessions"))
            .header(name, &value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "token as {name}");
    }
    // A well-formed token of another SessionId, and the SessionId itself, are not tokens.
    let other = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().to_string());
    for token in [other, session_id.to_string(), derived.to_uppercase()] {
        let response = app
            .client
            .get(app.url("/cloud/failoverSessions"))
            .header("X-RestSvcSessionId", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{token}");
    }
    // The store never holds the SessionId (nor so the token).
    let key = entman_http::auth::logon_key(session_id.parse().unwrap());
    assert!(app.store.get_logon(key).await.is_ok());
    assert!(app
        .store
        .get_logon(session_id.parse().unwrap())
        .await
        .is_err());
}

#[tokio::test]
async fn response_header_names_keep_their_documented_case_on_both_listeners() {
    let app = spawn_both().await;
    for target in targets(&app) {
        let logon = exchange(
            &target,
            format!(
                "POST /api/sessionMngr/?v=latest HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                basic()
            )
            .into_bytes(),
        )
        .await;
        assert_eq!(status_of(&logon), 201, "{logon}");
        let lines = header_lines(&logon);
        for name in [
            "X-RestSvcSessionId: ",
            "Set-Cookie: X-RestSvcSessionId=",
            "Location: ",
            "Content-Type: application/xml; charset=utf-8",
            "Content-Length: ",
            "Date: ",
        ] {
            assert!(
                lines.iter().any(|l| l.starts_with(name)),
                "{} has no line starting {name:?}: {lines:?}",
                target.addr
            );
        }
        let token = token_header(&logon);

        let unauthorized = exchange(
            &target,
            b"GET /api/cloud HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .await;
        assert_eq!(status_of(&unauthorized), 401);
        assert!(
            header_lines(&unauthorized).contains(&"WWW-Authenticate: Basic Realm=RestSvc"),
            "{unauthorized}"
        );

        let not_allowed = exchange(
            &target,
            format!("PUT /api/cloud/failoverSessions HTTP/1.1\r\nHost: localhost\r\nX-RestSvcSessionId: {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(),
        )
        .await;
        assert_eq!(status_of(&not_allowed), 405, "{not_allowed}");
        assert!(
            header_lines(&not_allowed)
                .iter()
                .any(|l| l.starts_with("Allow: ")),
            "{not_allowed}"
        );
    }
}

#[tokio::test]
async fn raw_quotes_angle_brackets_and_non_ascii_in_targets_are_accepted_on_both_listeners() {
    let app = spawn_both().await;
    let admin = app.logon().await;
    for target in targets(&app) {
        // Non-ASCII goes raw, as its UTF-8 bytes.
        let get = |path: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nX-RestSvcSessionId: {}\r\nConnection: close\r\n\r\n", admin.token).into_bytes()
        };
        // The README's example, as curl sends it.
        let answer = exchange(
            &target,
            get("/api/query?type=CloudFailoverPlan&format=Entities&filter=Name==\"ABC%20Company%20Failover%20Plan\""),
        )
        .await;
        assert_eq!(status_of(&answer), 200, "{answer}");
        let body: serde_json::Value = serde_json::from_str(body_of(&answer)).unwrap();
        let plans = &body["Entities"]["CloudFailoverPlans"]["CloudFailoverPlans"];
        assert_eq!(plans.as_array().map(Vec::len), Some(1), "{body}");
        // A Prometheus collector's date filter.
        let answer = exchange(
            &target,
            get("/api/query?type=CloudFailoverSession&filter=CreationTime>=\"2000-01-01T00:00:00\";CreationTime<\"2999-01-01\""),
        )
        .await;
        assert_eq!(status_of(&answer), 200, "{answer}");
        let body: serde_json::Value = serde_json::from_str(body_of(&answer)).unwrap();
        assert!(body["PagingInfo"]["PagesCount"].as_u64().unwrap() >= 1);
        // The same bytes percent-encoded give the same answer.
        let encoded = exchange(
            &target,
            get("/api/query?type=CloudFailoverSession&filter=CreationTime%3E%3D%222000-01-01T00:00:00%22;CreationTime%3C%222999-01-01%22"),
        )
        .await;
        let encoded: serde_json::Value = serde_json::from_str(body_of(&encoded)).unwrap();
        assert_eq!(encoded["Refs"], body["Refs"]);
        // Non-ASCII and the other bytes HTTP.sys takes raw.
        let answer = exchange(
            &target,
            get("/api/query?type=CloudFailoverPlan&filter=Name==\"Caf\u{e9}%20{|}^`\"&x=\\"),
        )
        .await;
        assert_eq!(status_of(&answer), 200, "{answer}");
        // In the path too: an unknown path with raw bytes is a plain 404.
        let answer = exchange(&target, get("/api/cloud/failoverSessions/<x>\u{e9}")).await;
        assert_eq!(status_of(&answer), 404, "{answer}");
        assert!(body_of(&answer).contains("\"StatusCode\""), "{answer}");
        // A request line with a raw space cannot be split: 400 with an EM Error.
        let answer = exchange(
            &target,
            get("/api/query?type=CloudFailoverPlan&filter=Name==\"ABC Company\""),
        )
        .await;
        assert_eq!(status_of(&answer), 400, "{answer}");
        assert!(body_of(&answer).contains("request line"), "{answer}");
    }
}

#[tokio::test]
async fn requests_without_a_token_answer_401_before_routing() {
    let app = spawn_both().await;
    let admin = app.logon().await;
    for (method, path, logged_on) in [
        (Method::GET, "/reports/summary", 501),
        (Method::GET, "/jobs", 200),
        (Method::GET, "/repositories", 501),
        (Method::POST, "/cloud/tenants", 501),
        (Method::GET, "/nothing/here", 404),
        (Method::GET, "/cloud/failoverSessions/not-a-guid", 404),
        (Method::GET, "/sessionMngr", 405),
        (Method::DELETE, "/cloud/failoverSessions", 405),
        (Method::GET, "/cloud/failoverSessions", 200),
    ] {
        let (status, headers, body) = app
            .send(None, method.clone(), path, None, vec![], true)
            .await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(headers["www-authenticate"], "Basic Realm=RestSvc");
        assert!(body.contains("\"StatusCode\":401"), "{body}");
        let (status, _, body) = app
            .send(Some(&admin), method.clone(), path, None, vec![], true)
            .await;
        assert_eq!(status, logged_on, "{method} {path} logged on: {body}");
    }
    // The two public resources stay public.
    let (status, _, _) = app.send(None, Method::GET, "/", None, vec![], false).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bodies_in_other_media_types_answer_415_and_empty_ones_are_no_body() {
    let app = spawn_both().await;
    let admin = app.logon().await;
    for (ct, body) in [
        ("application/x-www-form-urlencoded", "StartNow=True"),
        ("text/plain", "hello"),
        ("multipart/form-data; boundary=x", "--x--"),
    ] {
        // The logon reads a body (a tenant's LoginSpec).
        let (status, _, text) = app
            .send(
                None,
                Method::POST,
                "/sessionMngr/?v=latest",
                Some(ct),
                body.into(),
                true,
            )
            .await;
        assert_eq!(status, 415, "logon {ct}: {text}");
        assert!(text.contains("\"StatusCode\":415"), "{text}");
        // So does a plan start.
        let plan = first_plan(&app, &admin).await;
        let (status, _, text) = app
            .send(
                Some(&admin),
                Method::POST,
                &format!("{plan}?action=start"),
                Some(ct),
                body.into(),
                true,
            )
            .await;
        assert_eq!(status, 415, "start {ct}: {text}");
    }
    // An empty form body is no body: a Basic logon works (veeam-easy-connect).
    let response = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // An endpoint that takes no body ignores any body, whatever its type.
    let plan = first_plan(&app, &admin).await;
    let (status, _, text) = app
        .send(
            Some(&admin),
            Method::POST,
            &format!("{plan}?action=test"),
            Some("text/plain"),
            b"ignored".to_vec(),
            true,
        )
        .await;
    assert_eq!(status, 202, "{text}");
}

async fn first_plan(app: &TestApp, admin: &entman_testkit::Logon) -> String {
    let (_, body) = app.get_text(admin, "/cloud/cloudFailoverPlans", true).await;
    let refs: serde_json::Value = serde_json::from_str(&body).unwrap();
    refs["Refs"][0]["Href"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_ten_megabyte_body_gets_its_413_over_http_and_https() {
    let app = spawn_both().await;
    let body = vec![b'<'; 10 * 1024 * 1024];
    for target in targets(&app) {
        for attempt in 0..3 {
            let mut request = format!(
                "POST /api/sessionMngr/?v=latest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            let t = target.clone();
            let answer = tokio::task::spawn_blocking(move || {
                let mut stream = connect(&t)?;
                stream.write_all(&request)?;
                stream.flush()?;
                read_one_answer(&mut stream)
            })
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{} attempt {attempt}: no answer: {e}", t_addr(&target)));
            assert_eq!(status_of(&answer), 413, "{answer}");
            assert!(body_of(&answer).contains("StatusCode=\"413\""), "{answer}");
        }
    }
}

fn t_addr(t: &Target) -> String {
    format!(
        "{} ({})",
        t.addr,
        if t.cert_pem.is_some() {
            "https"
        } else {
            "http"
        }
    )
}

/// Reads one HTTP answer: the head, then `Content-Length` bytes of body.
fn read_one_answer(stream: &mut impl Read) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return Ok(text);
            }
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn http2_still_works_on_both_listeners() {
    let app = spawn_both().await;
    let plain = entman_testkit::reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = plain.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), entman_testkit::reqwest::Version::HTTP_2);
    let https = app.https.as_ref().unwrap();
    let cert = entman_testkit::reqwest::Certificate::from_pem(https.cert_pem.as_bytes()).unwrap();
    let secure = entman_testkit::reqwest::Client::builder()
        .add_root_certificate(cert)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("{}/api/", https.address);
    let response = secure.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), entman_testkit::reqwest::Version::HTTP_2);
    // The 413 reaches an HTTP/2 client still sending too.
    for (client, base) in [
        (&plain, app.address.clone()),
        (&secure, https.address.clone()),
    ] {
        let response = client
            .post(format!("{base}/api/sessionMngr/?v=latest"))
            .header("Content-Type", "application/xml")
            .body(vec![b'<'; 10 * 1024 * 1024])
            .send()
            .await
            .expect("an answer over HTTP/2");
        assert_eq!(response.status(), 413, "{base}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("StatusCode=\"413\""));
    }
}
