//! `make bench`: one table of every figure a user would compare PAO on, each beside its goal
//! and the floor measured in the same run on the same endpoint (see `pao_local::bench`).
//!
//! Settings: `PAO_BENCH_REQUESTS` (submissions per latency run, default 200),
//! `PAO_BENCH_LOAD` (submissions of the load run, default 1000), `PAO_BENCH_HOPS` (requests
//! whose hop between tasks is timed, default 30), `PAO_BENCH_LOAD_CONCURRENCY`
//! (default 50), `PAO_BENCH_COLD_RUNS` (default 20), `PAO_BENCH_BIN_DIR` (the release
//! binaries, default `target/release`).

use pao::api::{ApiRequest, App};
use pao::worker::Worker;
use pao_local::bench::fixture::{
    DEV, Error, ITEM, bare_submission, bench_item, context, input, submission, wide_item,
};
use pao_local::bench::{self, Row, Spread, calls, cold, cost, floor, load, refresh, units};
use pao_local::jira_standin::JiraStandIn;
use pao_local::provision;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// PAO's submissions of `inputs` through the API handler, `concurrency` at a time: latencies
/// and the request ids.
async fn submit_all(
    app: &Arc<App>,
    inputs: Vec<(usize, Value)>,
    concurrency: usize,
    tag: &str,
) -> (Spread, Vec<pao::record::RequestId>) {
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tag = tag.to_string();
    let times = floor::timed(inputs, concurrency, {
        let (app, ids) = (app.clone(), ids.clone());
        move |(i, input): (usize, Value)| {
            let (app, ids, tag) = (app.clone(), ids.clone(), tag.clone());
            async move {
                let answer = app
                    .handle(&submission("bench-item", input, Some(format!("{tag}-{i}"))))
                    .await;
                assert_eq!(answer.status, 202, "{}", answer.body);
                if let (Some(id), Ok(mut ids)) = (
                    answer.body["data"]["requests"][0]["requestId"].as_str(),
                    ids.lock(),
                ) {
                    ids.push(pao::record::RequestId(id.into()));
                }
            }
        }
    })
    .await;
    let ids = ids.lock().map(|i| i.clone()).unwrap_or_default();
    (Spread::of(times), ids)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("AWS_ENDPOINT_URL").map_or(true, |v| v.is_empty()) {
        return Err("AWS_ENDPOINT_URL is not set: run `make bench`".into());
    }
    pao::logging::init();
    let n = setting("PAO_BENCH_REQUESTS", 200);
    let load_n = setting("PAO_BENCH_LOAD", 1000);
    let load_c = setting("PAO_BENCH_LOAD_CONCURRENCY", 50);
    let cold_runs = setting("PAO_BENCH_COLD_RUNS", 20);
    let bin_dir = PathBuf::from(
        std::env::var("PAO_BENCH_BIN_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release").into()),
    );
    let started_all = Instant::now();
    let sdk = pao::aws::load_sdk_config().await;
    let counted = calls::Calls::default();
    let dynamo = counted.dynamo(&sdk);
    let sqs = counted.sqs(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);

    let names = provision::Names::unique("bench");
    let stack = provision::stack(&sdk, &names).await?;
    // The floor writes to a table and queue of its own (the same declarations), so that no
    // worker runs its requests and nothing of it is counted as PAO's.
    let floor_stack = provision::stack(&sdk, &provision::Names::unique("floor")).await?;
    let floor_store = pao::store::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &floor_stack.names.table,
    );
    let floor_queue =
        pao::queue::Queue::new(aws_sdk_sqs::Client::new(&sdk), &floor_stack.queues.queue);
    let mut config = stack.config.clone();
    config.metrics = false;
    let jira = JiraStandIn::start(0, "bench@example.com", "bench-token").await?;
    provision::put_secret(&secrets, &names.jira_secret, &jira.secret("default")).await?;
    let store = pao::store::Store::new(dynamo.clone(), &names.table);
    let queue = pao::queue::Queue::new(sqs.clone(), &stack.queues.queue);
    let docs = vec![
        pao::catalog::SourceDoc {
            file: "catalog/bench.yaml".into(),
            text: ITEM.into(),
            owners: vec![],
        },
        pao::catalog::SourceDoc {
            file: "catalog/wide.yaml".into(),
            text: wide_item(50),
            owners: vec![],
        },
    ];
    let (catalog, problems) = pao::catalog::validate::validate_sources(docs.clone());
    if !problems.is_empty() {
        return Err(format!("bench catalog invalid: {problems:?}").into());
    }
    store
        .put_catalog("bench", &docs, &pao::clock::Now::current())
        .await?;
    let mut app = App::from_config(&config, &sdk);
    app.store = store.clone();
    app.queue = queue.clone();
    let app = Arc::new(app);
    app.catalog().await?;
    let mut worker = Worker::from_config(&config, &sdk);
    worker.store = store.clone();
    worker.queue = queue.clone();
    let mut rows = Vec::new();

    // ---- The floor and PAO, one at a time and eight at a time.
    let bare = |from: usize, count: usize| -> Result<Vec<floor::Bare>, Error> {
        (from..from + count)
            .map(|i| bare_submission(&catalog, &floor_store, i))
            .collect()
    };
    let mut spreads = Vec::new();
    let mut all_ids = Vec::new();
    // Every write PAO makes from here to the end of the drain is priced (`bench::units`).
    let writes_from = counted.writes_so_far();
    let mut calls_per_submission = 0.0;
    let mut submission_calls = String::new();
    for (round, concurrency) in [1usize, 8].into_iter().enumerate() {
        let floor = floor::submissions(
            &floor_store,
            &floor_queue,
            bare(round * n * 10, n)?,
            concurrency,
        )
        .await;
        let before = counted.snapshot();
        let inputs = (0..n)
            .map(|i| (i, input(100_000 + round * n + i)))
            .collect();
        let (pao_spread, ids) =
            submit_all(&app, inputs, concurrency, &format!("c{concurrency}")).await;
        if concurrency == 1 {
            let used = counted.since(&before);
            calls_per_submission = calls::total(&used) as f64 / n as f64;
            submission_calls = calls::describe(&used, n as f64);
        }
        all_ids.extend(ids);
        let (r50, r95, r99) = pao_spread.ratio(&floor);
        let row = Row::new(
            format!("submission p50/p95/p99, {concurrency} at a time"),
            pao_spread.ms(),
        )
        .floor(format!("{} (TransactWriteItems + SendMessage)", floor.ms()));
        rows.push(if concurrency == 1 {
            row.goal("p50 <= 1.3x floor", r50 <= 1.3)
        } else {
            row
        });
        rows.push(Row::new(
            format!("  ratio to the floor, {concurrency} at a time"),
            format!("{r50:.2}x / {r95:.2}x / {r99:.2}x"),
        ));
        spreads.push((concurrency, pao_spread, floor));
    }

    // What is not in the floor, each on its own line.
    let sub = submission("bench-item", input(7), Some("k".into()));
    let parsed = pao::request::Submission::parse(&serde_json::from_slice(&sub.body)?)
        .map_err(|p| format!("{p:?}"))?;
    let validate = bench::median_of(200, || {
        let s = pao::request::Submission::parse(
            &serde_json::from_slice::<Value>(&sub.body).unwrap_or_default(),
        );
        let built = pao::submission::build(&catalog, &parsed.items[0], 0, &context(7));
        (s.is_ok(), built.is_ok())
    });
    let (request, tasks) = pao::submission::build(&catalog, &parsed.items[0], 0, &context(7))
        .map_err(|p| format!("{p:?}"))?;
    let serialise = bench::median_of(200, || {
        store
            .creation_writes(&request, &tasks, None, true)
            .map(|w| w.len())
    });
    let response = json!({"submissionId": "sub", "requests": [{"requestId": request.request_id}]});
    let answered = pao::store::Answered {
        caller: DEV,
        key: "k",
        body: &sub.body,
        status: 202,
        response: &response,
        now: &pao::clock::Now::current(),
    };
    let hashing = bench::median_of(200, || pao::store::idempotency::body_hash(&sub.body));
    // The event and the answered key ride in the transaction: weigh the extra items.
    let plain: Vec<_> = bare(900_000, 100)?.into_iter().map(|b| b.writes).collect();
    let mut extra = Vec::new();
    for i in 0..100 {
        let (r, t) =
            pao::submission::build(&catalog, &bench_item(950_000 + i), 0, &context(950_000 + i))
                .map_err(|p| format!("{p:?}"))?;
        let key = format!("extra-{i}");
        let a = pao::store::Answered {
            key: &key,
            ..answered
        };
        extra.push(store.creation_writes(&r, &t, Some(&a), true)?);
    }
    let plain = floor::transactions(&floor_store, plain).await;
    let extra = floor::transactions(&floor_store, extra).await;
    let (c1, pao1, floor1) = spreads[0];
    let _ = c1;
    let in_transaction = extra.p50.saturating_sub(plain.p50);
    let rest = pao1
        .p50
        .saturating_sub(floor1.p50 + validate + serialise + hashing + in_transaction);
    rows.push(Row::new(
        "  parse, validate, plan, render (in process)",
        format!("{} ms", bench::short(validate)),
    ));
    rows.push(Row::new(
        "  records to DynamoDB items (in process)",
        format!("{} ms", bench::short(serialise)),
    ));
    rows.push(Row::new(
        "  idempotency: body hash; the key rides in the transaction",
        format!("{} ms, 0 calls", bench::short(hashing)),
    ));
    rows.push(Row::new(
        "  event + key items in the transaction",
        format!(
            "{} ms (p50 {} vs {} without)",
            bench::short(in_transaction),
            bench::short(extra.p50),
            bench::short(plain.p50)
        ),
    ));
    rows.push(Row::new(
        "  routing, envelope, the rest",
        format!("{} ms", bench::short(rest)),
    ));

    // Detail reads.
    let read_ids: Vec<_> = all_ids.iter().take(n).cloned().collect();
    let read_floor = floor::reads(&store, read_ids.clone(), 1).await;
    let reads = floor::timed(read_ids, 1, {
        let app = app.clone();
        move |id: pao::record::RequestId| {
            let app = app.clone();
            async move {
                let r = app
                    .handle(&ApiRequest {
                        method: "GET".into(),
                        path: format!("/api/v1/requests/{id}"),
                        caller_arn: Some(DEV.into()),
                        caller_id: Some(pao_local::sigv4::principal_id(DEV)),
                        request_id: None,
                        home_account: None,
                        ..ApiRequest::default()
                    })
                    .await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
        }
    })
    .await;
    let reads = Spread::of(reads);
    rows.push(
        Row::new("detail read (GET /requests/{id}) p50/p95/p99", reads.ms())
            .floor(format!("{} (one Query)", read_floor.ms())),
    );

    // ---- Tasks: the worker drains the queue as the event source mapping does.
    let tasks_total = 2 * all_ids.len();
    let before = counted.snapshot();
    let drain_started = Instant::now();
    let mut invocations = 0u64;
    let deadline = drain_started + Duration::from_secs(300);
    while jira.issues().len() < tasks_total && Instant::now() < deadline {
        if pao_local::esm::poll_once(&worker.queue, &worker, 1).await? > 0 {
            invocations += 1;
        }
    }
    let drain = drain_started.elapsed();
    let done = jira.issues().len();
    let task_calls = counted.since(&before);
    let calls_per_task = calls::total(&task_calls) as f64 / tasks_total as f64;
    rows.push(
        Row::new(
            "AWS calls per submission (counted)",
            format!("{calls_per_submission:.2}: {submission_calls}"),
        )
        .goal("<= 2", calls_per_submission <= 2.0),
    );
    rows.push(
        Row::new(
            "AWS calls per JIRA task (counted, batch shared)",
            format!(
                "{calls_per_task:.2}: {}",
                calls::describe(&task_calls, tasks_total as f64)
            ),
        )
        .goal("<= 5", calls_per_task <= 5.0),
    );
    rows.push(Row::new(
        "tasks per second (one poller)",
        format!(
            "{:.1} ({done} of {tasks_total} in {:.1} s, {:.1} messages per batch)",
            done as f64 / drain.as_secs_f64(),
            drain.as_secs_f64(),
            done as f64 / invocations.max(1) as f64
        ),
    ));

    // ---- Write units per two-task request, beside the floor.
    let sizes = cost::sizes_of(&dynamo, &names.table, &all_ids[0]).await?;
    let item_sizes = cost::item_sizes(&dynamo, &names.table).await?;
    let measured = units::measure(&counted.writes(writes_from), &item_sizes)
        .scaled(1.0 / all_ids.len().max(1) as f64);
    let floor_units = units::floor(sizes.request, sizes.task);
    let ratio = measured.total() / floor_units.total();
    rows.push(
        Row::new(
            format!(
                "DynamoDB write units per two-task request (measured: the {} requests' writes as sent, priced by their items' sizes)",
                all_ids.len()
            ),
            format!("{} = {ratio:.2}x the floor", measured.describe()),
        )
        .goal("<= 1.5x floor", ratio <= 1.5)
        .floor(floor_units.describe()),
    );

    // ---- Cost per million two-task requests.
    let sqs_of = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .filter(|(op, _)| op.contains("Message"))
            .map(|(_, n)| *n)
            .sum::<u64>() as f64
    };
    let usage = cost::Usage {
        api_ms: pao1.p50.as_secs_f64() * 1000.0,
        task_ms: drain.as_secs_f64() * 1000.0 / tasks_total as f64,
        tasks: 2,
        worker_invocations_per_task: invocations as f64 / tasks_total as f64,
        sqs_per_submission: 1.0,
        sqs_per_task: sqs_of(&task_calls) / tasks_total as f64,
        sizes,
        write_units: measured.total(),
    };
    let bill = cost::bill(&usage);
    let floor_bill = cost::bill(&cost::Usage {
        write_units: floor_units.total(),
        ..usage
    });
    rows.push(
        Row::new(
            format!(
                "cost per million two-task requests (128 MB arm64, prices of {})",
                cost::PRICES_AS_OF
            ),
            bill.per_million(),
        )
        .goal("<= $15", bill.total() * 1e6 <= 15.0)
        .floor(format!(
            "{} at the floor's write units; items: request {} B, task {} B, key {} B",
            floor_bill.per_million(),
            sizes.request,
            sizes.task,
            sizes.idempotency
        )),
    );

    // ---- The hop between two tasks: each request alone, its tasks taken as the event
    // source mapping takes them (the first task's message deleted after its batch, the
    // second received by the next poll).
    let hops = setting("PAO_BENCH_HOPS", 30);
    let hop_from = counted.writes_so_far();
    let mut hop_ids = Vec::new();
    for i in 0..hops {
        let r = app
            .handle(&submission("bench-item", input(800_000 + i), None))
            .await;
        let Some(id) = r.body["data"]["requests"][0]["requestId"].as_str() else {
            return Err(format!("hop submission: {}", r.body).into());
        };
        let id = pao::record::RequestId(id.into());
        // Nothing but the event source mapping's and the worker's own calls between the two
        // tasks (the state is read after each batch).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            pao_local::esm::poll_once(&worker.queue, &worker, 1).await?;
            let state = store
                .get_request(&id, &pao::clock::Now::current(), pao::store::Read::Strong)
                .await?
                .map(|d| d.request.state);
            if state == Some(pao::request::RequestState::Completed) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("hop request {id} is {state:?}").into());
            }
        }
        hop_ids.push(id);
    }
    let hop_writes = counted.writes(hop_from);
    let pao_hops = Spread::of(
        hop_ids
            .iter()
            .filter_map(|id| units::hop(&hop_writes, id))
            .collect(),
    );
    let floor_hops = floor::hops(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &floor_stack.names.table,
        &floor_queue,
        hops,
    )
    .await?;
    let (h50, h95, _) = pao_hops.ratio(&floor_hops);
    rows.push(
        Row::new(
            format!("hop between two tasks p50/p95/p99 (the first task's completion written to the second's claim written, {hops} requests one at a time)"),
            format!("{} = {h50:.2}x / {h95:.2}x the floor", pao_hops.ms()),
        )
        .goal("p50 <= 1.3x floor", h50 <= 1.3)
        .floor(format!(
            "{} (after a conditional write: FIFO send, receive, conditional write)",
            floor_hops.ms()
        )),
    );

    // ---- A 50-item submission (before the refresh replaces the catalog).
    let wide_times: Vec<Duration> = {
        let mut t = Vec::new();
        for i in 0..10 {
            let s = Instant::now();
            let r = app
                .handle(&submission("wide-item", input(700_000 + i), None))
                .await;
            t.push(s.elapsed());
            if r.status != 202 {
                return Err(format!("50-item submission: {}", r.body).into());
            }
        }
        t
    };
    rows.push(Row::new(
        "submission of an item with 50 fulfillment items (p50/p95/p99)",
        Spread::of(wide_times).ms(),
    ));

    // ---- Binaries: size, cold start, first invocation.
    let functions = [
        ("api", "api-catalog-list.json"),
        ("worker", "sqs-task-batch.json"),
        ("sweeper", "schedule-sweep.json"),
        ("github-webhook", "github-ping.json"),
        ("events", "dynamodb-stream-batch.json"),
    ];
    provision::put_secret(
        &secrets,
        &names.github_webhook_secret,
        "events-webhook-secret",
    )
    .await?;
    let mut env: Vec<(String, String)> = provision::function_env(&names, &stack.queues)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ] {
        if let Ok(v) = std::env::var(k) {
            env.push((k.into(), v));
        }
    }
    env.push(("PAO_METRICS".into(), "off".into()));
    rows.extend(cold::binary_rows(&bin_dir, &functions, &env, cold_runs).await?);

    // ---- Catalog refresh.
    let (full, one) = refresh::timed(&stack, &sdk, &secrets).await?;
    rows.push(Row::new(
        "catalog refresh, 200 documents (then one changed)",
        format!("{} ms (then {} ms)", bench::short(full), bench::short(one)),
    ));
    stack.delete(&sdk).await;
    if done < tasks_total {
        return Err(format!("only {done} of {tasks_total} tasks completed").into());
    }

    // ---- Load through the local stack's HTTP API.
    let report = load::rows(load_n, load_c, &catalog, &floor_store, &floor_queue).await?;
    floor_stack.delete(&sdk).await;
    rows.extend(report);

    // ---- Live status: commit to WebSocket message.
    rows.extend(bench::live::rows(setting("PAO_BENCH_LIVE", 30)).await?);

    println!(
        "PAO benchmark, {}: {} cores, local AWS endpoint {} (moto_server), {n} submissions per latency run",
        pao::clock::now_rfc3339(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default()
    );
    println!();
    print!("{}", bench::render(&rows));
    println!();
    println!(
        "Write units a second on the busiest partition key of each kind (computed from the key design, `pao::store::keys::load`; DynamoDB takes 1,000 per key; the busiest principal submitting 100 a second):"
    );
    println!();
    print!("{}", pao::store::keys::load::table(100.0));
    println!();
    println!("took {:.0} s", started_all.elapsed().as_secs_f64());
    Ok(())
}
