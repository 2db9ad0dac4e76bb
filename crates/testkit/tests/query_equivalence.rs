//! The query service's SQL and the in-memory session index (`entman-index`)
//! select exactly what the reference semantics (`entman_query::eval`) select, in
//! the same order and with the same totals, on random data and random filters —
//! on SQLite, and on PostgreSQL when `ENTMAN_TEST_DATABASE_URL` is set. The data
//! changes after the index has loaded (new sessions, running sessions moving on,
//! a server renamed), so the index answers from its delta; a second index with a
//! tiny rebuild threshold answers from rebuilt bases.

use entman_index::{Options, PagePath, SessionIndex};
use entman_model::ids::*;
use entman_model::session::*;
use entman_model::Timestamp;
use entman_query::check::{check_filter, CheckedQuery, Direction};
use entman_query::eval::{matches, sort_cmp, Stored};
use entman_query::schema::{Field, QueryType};
use entman_query::{Comparison, Filter, Op};
use entman_store::prelude::*;
use entman_store::{Restriction, SessionUpdate};
use entman_store_sql::SqlStore;
use entman_testkit::{backends, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::Arc;

const NAMES: &[&str] = &[
    "ABC Company Failover Plan",
    "abc company failover plan",
    "QWE Plan",
    "Zeta",
    "émigré Plan",
    "ÉMIGRÉ PLAN",
    "a\"b;c",
];
const MESSAGES: &[Option<&str>] = &[
    None,
    Some("Failed to power on"),
    Some("failed to POWER on"),
    Some("Guest OS did not respond"),
];
const STATES: &[SessionState] = &[
    SessionState::Starting,
    SessionState::Working,
    SessionState::Stopping,
    SessionState::Stopped,
];
const RESULTS: &[SessionResult] = &[
    SessionResult::None,
    SessionResult::Success,
    SessionResult::Warning,
    SessionResult::Failed,
];

fn sessions(servers: &[BackupServerId], tenants: &[TenantId]) -> Vec<FailoverSession> {
    let t0 = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    (0..120u64)
        .map(|i| {
            let stopped = i % 3 != 0;
            FailoverSession {
                id: SessionId::new_random(),
                plan_id: PlanId::new_random(),
                // Sessions written after the indexes loaded bring texts they have
                // not seen (the index's extras), sorting before, between and after.
                plan_name: match i {
                    110.. if i % 2 == 0 => "Late Plan".to_string(),
                    110.. => "aaa first plan".to_string(),
                    _ => NAMES[(i * 3 % NAMES.len() as u64) as usize].to_string(),
                },
                tenant_id: tenants[(i % tenants.len() as u64) as usize],
                backup_server_id: servers[(i / 5 % servers.len() as u64) as usize],
                kind: SessionKind::Start,
                // Some creation times collide, so ties exercise the tie-breaker.
                creation_time: t0.plus_millis((i as i64 % 40) * 3_600_000),
                end_time: stopped.then(|| t0.plus_millis(i as i64 * 3_600_000 + 60_000)),
                state: STATES[(i % 4) as usize],
                result: RESULTS[(i * 5 % 4) as usize],
                progress: 0,
                failure_message: match i {
                    90.. if i % 4 != 0 => Some(format!("late failure {}", i % 5)),
                    _ => MESSAGES[(i % 4) as usize].map(str::to_string),
                },
                tasks: vec![],
            }
        })
        .collect()
}

fn stored(s: &FailoverSession, field: &Field, server_name: &str) -> Stored {
    let text = |t: &str| Stored::Text(t.to_string());
    match field.name {
        "UID" => text(&s.id.to_string()),
        "Name" => text(&s.plan_name),
        "Type" => text("FailoverPlan"),
        "CreationTime" => Stored::Int(s.creation_time.micros()),
        "EndTime" => s.end_time.map_or(Stored::Null, |t| Stored::Int(t.micros())),
        "State" => text(s.state.as_str()),
        "Result" => text(s.result.as_str()),
        "FailureMessage" => s.failure_message.as_deref().map_or(Stored::Null, text),
        "BackupServerUid" => text(&s.backup_server_id.to_string()),
        "BackupServerName" => text(server_name),
        other => panic!("unexpected field {other}"),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

/// A comparison with a value that fits its field (`uids`: session UIDs and
/// server UIDs to compare with).
fn comparison(uids: Vec<String>, servers: Vec<String>) -> impl Strategy<Value = Filter> {
    let field_value = prop_oneof![
        (Just("UID"), proptest::sample::select(uids)),
        (Just("BackupServerUid"), proptest::sample::select(servers)),
        (
            Just("Name"),
            proptest::sample::select(NAMES.to_vec()).prop_map(str::to_string)
        ),
        (Just("name"), "[A-Za-z ]{0,6}"),
        (
            Just("Name"),
            proptest::sample::select(vec!["late plan", "AAA FIRST PLAN", "b"])
                .prop_map(str::to_string)
        ),
        (
            Just("Result"),
            proptest::sample::select(vec!["None", "success", "Warning", "FAILED"])
                .prop_map(str::to_string)
        ),
        (
            Just("State"),
            proptest::sample::select(vec!["Starting", "stopping", "Working", "Stopped"])
                .prop_map(str::to_string)
        ),
        (
            Just("CreationTime"),
            (0i64..50).prop_map(|h| Timestamp::parse("2026-01-01T00:00:00Z")
                .unwrap()
                .plus_millis(h * 3_600_000)
                .to_string())
        ),
        (
            Just("EndTime"),
            (0i64..130).prop_map(|h| Timestamp::parse("2026-01-01T00:00:00Z")
                .unwrap()
                .plus_millis(h * 3_600_000)
                .to_string())
        ),
        (
            Just("FailureMessage"),
            proptest::sample::select(vec![
                "failed to power on",
                "Guest OS did not respond",
                "x",
                "",
                "late failure 2",
                "LATE FAILURE 9",
                "m"
            ])
            .prop_map(str::to_string)
        ),
        (
            Just("BackupServerName"),
            proptest::sample::select(vec![
                "srv13.tech.local",
                "SRV13.TECH.LOCAL",
                "other",
                "renamed.local"
            ])
            .prop_map(str::to_string)
        ),
        (Just("Type"), Just("FailoverPlan".to_string())),
    ];
    (field_value, op()).prop_map(|((field, value), op)| {
        Filter::Cmp(Comparison {
            field: field.to_string(),
            op,
            value,
            quoted: true,
            field_pos: 0,
            value_pos: 0,
        })
    })
}

fn filter(uids: Vec<String>, servers: Vec<String>) -> impl Strategy<Value = Filter> {
    comparison(uids, servers).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            proptest::collection::vec(inner, 2..4).prop_map(Filter::And),
        ]
    })
}

/// Filters of the shape the per-day buckets count: Result and CreationTime bounds.
fn bucket_filter() -> impl Strategy<Value = Filter> {
    let cmp = |field: &'static str, value: BoxedStrategy<String>| {
        (op(), value).prop_map(move |(op, value)| {
            Filter::Cmp(Comparison {
                field: field.to_string(),
                op,
                value,
                quoted: true,
                field_pos: 0,
                value_pos: 0,
            })
        })
    };
    let hour = (0i64..50)
        .prop_map(|h| {
            Timestamp::parse("2026-01-01T00:00:00Z")
                .unwrap()
                .plus_millis(h * 1_800_000 + 7)
                .to_string()
        })
        .boxed();
    let result = proptest::sample::select(vec!["None", "Success", "Warning", "Failed"])
        .prop_map(str::to_string)
        .boxed();
    let time = cmp("CreationTime", hour)
        .prop_filter(
            "!= has no bucket form",
            |f| !matches!(f, Filter::Cmp(c) if c.op == Op::Ne),
        )
        .boxed();
    (
        proptest::option::of(cmp("Result", result)),
        time.clone(),
        time,
    )
        .prop_map(|(r, a, b)| {
            let mut parts: Vec<Filter> = r.into_iter().collect();
            parts.push(a);
            parts.push(b);
            Filter::And(parts)
        })
}

fn sort() -> impl Strategy<Value = (&'static str, Direction)> {
    (
        proptest::sample::select(vec![
            "Name",
            "CreationTime",
            "EndTime",
            "Result",
            "State",
            "FailureMessage",
            "UID",
            "Type",
            "BackupServerName",
            "BackupServerUid",
        ]),
        prop_oneof![Just(Direction::Asc), Just(Direction::Desc)],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_results_equal_the_reference_semantics() {
    for db in backends().await {
        check_backend(&db).await;
    }
}

fn server(name: &str) -> entman_model::server::BackupServer {
    entman_model::server::BackupServer {
        id: BackupServerId::new_random(),
        name: name.into(),
        description: String::new(),
        port: 9392,
        version: "13.0.0.1420".into(),
        wcf_port: None,
        certificate_thumbprint: None,
        username: "u".into(),
    }
}

/// Moves running sessions on the way the engine does (state, end, result, message).
fn advanced(s: &FailoverSession, i: usize) -> FailoverSession {
    let mut s = s.clone();
    s.state = STATES[(i + 1) % 4];
    s.result = RESULTS[(i + 2) % 4];
    s.end_time = Some(s.creation_time.plus_millis(90_000 + i as i64 * 1000));
    s.failure_message = MESSAGES[(i + 1) % 4].map(str::to_string);
    s
}

async fn check_backend(db: &TestDb) {
    let store = Arc::new(SqlStore::connect(&db.url()).await.unwrap());
    let mut servers = vec![
        server("srv13.tech.local"),
        server("other"),
        server("Zulu.Host"),
    ];
    for s in &servers {
        store.insert_server(s, None).await.unwrap();
    }
    let tenants: Vec<TenantId> = (0..3).map(|_| TenantId::new_random()).collect();
    let server_ids: Vec<BackupServerId> = servers.iter().map(|s| s.id).collect();
    let mut data = sessions(&server_ids, &tenants);
    // The indexes load the first half; everything after is read as changes.
    store.save_sessions(&data[..60]).await.unwrap();
    let delta_index = SessionIndex::new(
        store.clone(),
        Options {
            rebuild_after: usize::MAX,
            page_rows: 7,
            path: PagePath::Walk,
            ..Options::default()
        },
    );
    let rebuilt_index = SessionIndex::new(
        store.clone(),
        Options {
            rebuild_after: 8,
            path: PagePath::Gather,
            ..Options::default()
        },
    );
    delta_index.load().await.unwrap();
    rebuilt_index.load().await.unwrap();
    store.save_sessions(&data[60..100]).await.unwrap();
    for i in [0usize, 3, 6, 9, 61, 64] {
        data[i] = advanced(&data[i], i);
    }
    let updates: Vec<SessionUpdate<'_>> = [0usize, 3, 6]
        .iter()
        .map(|i| SessionUpdate::new(&data[*i], vec![]))
        .collect();
    store.update_sessions(&updates).await.unwrap();
    store
        .save_sessions(&[data[9].clone(), data[61].clone()])
        .await
        .unwrap();
    // Synchronise the rebuilt index now, so that later changes form a new delta.
    rebuilt_index.sync().await.unwrap();
    store.save_sessions(&data[100..]).await.unwrap();
    store
        .update_sessions(&[SessionUpdate::new(&data[64], vec![])])
        .await
        .unwrap();
    servers[1].name = "renamed.local".into();
    store.update_server(&servers[1], None).await.unwrap();
    assert_eq!(
        rebuilt_index.stats().delta_rows,
        0,
        "rebuilt after 8 changes"
    );
    let server_name = |id: BackupServerId| {
        servers
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap()
    };
    let uids: Vec<String> = data.iter().map(|s| s.id.to_string()).collect();
    let server_uids: Vec<String> = servers.iter().map(|s| s.id.to_string()).collect();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    let filters = prop_oneof![filter(uids.clone(), server_uids.clone()), bucket_filter()];
    let result = runner.run(
        &(filters, sort(), 1u64..30, 0u64..8, 0usize..4),
        |(f, (sort_field, dir), page_size, page, tenant)| {
            let t = QueryType::CloudFailoverSession;
            let checked = check_filter(&f, t).expect("generated filters are valid");
            let sort = t.field(sort_field).unwrap();
            let q = CheckedQuery {
                query_type: t,
                filter: Some(checked.clone()),
                sort,
                direction: dir,
            };
            let restriction = match tenants.get(tenant) {
                Some(t) => Restriction::Tenant(t.to_string()),
                None => Restriction::None,
            };
            let stored_of = |s: &FailoverSession, field: &Field| {
                stored(s, field, &server_name(s.backup_server_id))
            };
            // Reference: filter, then sort with nulls first ascending, ties by UID in the
            // sort's direction.
            let mut expected: Vec<&FailoverSession> = data
                .iter()
                .filter(|s| tenants.get(tenant).is_none_or(|t| s.tenant_id == *t))
                .filter(|s| matches(&checked, &|field| stored_of(s, field)))
                .collect();
            expected.sort_by(|a, b| {
                let by_field = sort_cmp(sort, &stored_of(a, sort), &stored_of(b, sort));
                let ordered = by_field.then_with(|| a.id.to_string().cmp(&b.id.to_string()));
                if dir == Direction::Desc {
                    ordered.reverse()
                } else {
                    ordered
                }
            });
            let expected_keys: Vec<String> = expected.iter().map(|s| s.id.to_string()).collect();
            let offset = page * page_size;
            let slice: Vec<String> = expected_keys
                .iter()
                .skip(offset as usize)
                .take(page_size as usize)
                .cloned()
                .collect();
            let run = |what: &str, offset: u64, limit: u64| {
                tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        match what {
                            "sql" => store.query_page(&q, &restriction, offset, limit).await.unwrap(),
                            "delta index" => delta_index
                                .query(&q, &restriction, offset, limit)
                                .await
                                .unwrap()
                                .expect("the index answers session queries"),
                            _ => rebuilt_index
                                .query(&q, &restriction, offset, limit)
                                .await
                                .unwrap()
                                .expect("the index answers session queries"),
                        }
                    })
                })
            };
            for what in ["sql", "delta index", "rebuilt index"] {
                let got = run(what, 0, 10_000);
                prop_assert_eq!(
                    got.total as usize,
                    expected_keys.len(),
                    "count of {} by {} on {}",
                    f,
                    what,
                    db.label()
                );
                if got.keys != expected_keys {
                    let at = got
                        .keys
                        .iter()
                        .zip(&expected_keys)
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    let show = |k: &String| {
                        let s = data.iter().find(|s| s.id.to_string() == *k).unwrap();
                        format!("{k} {:?}", stored_of(s, sort))
                    };
                    let end = (at + 2).min(got.keys.len()).min(expected_keys.len());
                    let context: Vec<String> = (at.saturating_sub(1)..end)
                        .map(|i| {
                            format!(
                                "got {} / expected {}",
                                show(&got.keys[i]),
                                show(&expected_keys[i])
                            )
                        })
                        .collect();
                    prop_assert!(
                        false,
                        "{} of filter {} sorted by {} {:?} on {}: {} rows, {} expected, first difference at {}:\n{}",
                        what,
                        f,
                        sort_field,
                        dir,
                        db.label(),
                        got.keys.len(),
                        expected_keys.len(),
                        at,
                        context.join("\n")
                    );
                }
                // A page, possibly read from the end, is the matching slice.
                let paged = run(what, offset, page_size);
                prop_assert!(
                    paged.keys == slice,
                    "{}: page {} of size {} (total {}) for {} sorted by {} {:?}: got {:?}, expected {:?}",
                    what,
                    page,
                    page_size,
                    paged.total,
                    f,
                    sort_field,
                    dir,
                    paged.keys,
                    slice
                );
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
