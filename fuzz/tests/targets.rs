//! The fuzz targets: catalog document loading; template parsing and rendering, and values
//! staying data in URLs and JSON bodies; GitHub names; form and submission validation of
//! arbitrary JSON; schema validation against the `jsonschema` crate; the local gateway's SigV4
//! parsing; the API's routing of hostile paths; and the webhook's signature check. Each must never panic, and each checks what
//! its callers rely on besides (see each target). Budgets: `pao_fuzz::Budget`.

use pao::catalog::load::{RepoFiles, load_files};
use pao::path::DocPath;
use pao::schema::SchemaKind;
use pao::template::{Mode, Template, Vars};
use pao_fuzz::{arb_json, corpus_catalog, corpus_templates, edit, fuzz, mutate, mutation};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Catalog loading: one or two corpus documents mutated (as text or as a tree), sometimes
/// under a second path too. Loading never panics, is deterministic, reports problems only
/// against files it was given, and leaves out every document with a problem.
#[test]
fn catalog_documents_load() {
    let repo = corpus_catalog();
    let paths: Vec<String> = repo.documents.keys().cloned().collect();
    let strategy = (
        prop::collection::vec((0..paths.len(), mutation()), 1..3),
        any::<bool>(),
    );
    fuzz("catalog_documents_load", strategy, |(mutations, copy)| {
        let mut documents = repo.documents.clone();
        for (i, m) in &mutations {
            let path = &paths[*i];
            let text = mutate(&documents[path], m);
            if copy {
                documents.insert(path.replace(".yaml", "-copy.yaml"), text);
            } else {
                documents.insert(path.clone(), text);
            }
        }
        let given = RepoFiles {
            documents: documents.clone(),
            codeowners: repo.codeowners.clone(),
        };
        let loaded = load_files(&given);
        for p in &loaded.problems {
            prop_assert!(
                p.file == "CODEOWNERS" || documents.contains_key(&p.file),
                "problem in a file not given: {p}"
            );
            prop_assert!(!p.message.is_empty(), "a problem without a message: {p:?}");
        }
        let faulty: Vec<&str> = loaded.problems.iter().map(|p| p.file.as_str()).collect();
        for e in loaded.catalog.entries() {
            prop_assert!(
                !faulty.contains(&e.file.as_str()),
                "{} has problems but is in the catalog",
                e.file
            );
        }
        let again = load_files(&given);
        prop_assert_eq!(&loaded.problems, &again.problems);
        Ok(())
    });
}

/// Values to render with: realistic namespaces, or anything.
fn vars() -> impl Strategy<Value = Vars> {
    (arb_json(), arb_json(), any::<bool>()).prop_map(|(current, output, realistic)| {
        let current = if realistic {
            json!({"name": "x", "basic": {"instanceName": "db-1", "size": 3, "tags": ["a", "b"]},
                   "list": [1, "two", null], "password": "hunter2"})
        } else {
            current
        };
        Vars {
            current,
            output: output.as_object().cloned().unwrap_or_default(),
            metadata: serde_json::Map::new(),
            system: pao::tools::sample_system().to_value(),
        }
    })
}

/// Template parsing and rendering: corpus templates edited, and sequences of template
/// tokens. Parsing and rendering never panic, in text, JSON and URL mode; a template that
/// parses renders the same twice.
#[test]
fn templates_parse_and_render() {
    let seeds = corpus_templates();
    let from_corpus = (
        proptest::sample::select(seeds),
        prop::collection::vec(edit(), 0..5),
    )
        .prop_map(|(t, edits)| pao_fuzz::apply(&t, &edits));
    let from_tokens = prop::collection::vec(
        prop_oneof![
            proptest::sample::select(pao_fuzz::TEMPLATE_TOKENS).prop_map(str::to_string),
            "[a-zA-Z0-9 ._]{0,6}",
        ],
        0..20,
    )
    .prop_map(|parts| parts.concat());
    let modes = proptest::sample::select(vec![Mode::Text, Mode::Json, Mode::Url]);
    let strategy = (prop_oneof![from_corpus, from_tokens], modes, vars());
    fuzz(
        "templates_parse_and_render",
        strategy,
        |(src, mode, vars)| {
            if let Ok(t) = Template::parse(&src, mode) {
                let _ = t.references();
                let first = t.render(&vars).map_err(|e| e.to_string());
                let second = t.render(&vars).map_err(|e| e.to_string());
                prop_assert_eq!(first, second);
            }
            Ok(())
        },
    );
}

/// Text a requester might type to move a call elsewhere, or anything.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(
            proptest::sample::select(vec![
                "/",
                "..",
                ".",
                "?",
                "#",
                "&",
                "=",
                "%",
                "%2e",
                "%2F",
                "%5c",
                "\\",
                "@",
                ":",
                " ",
                "\u{e000}",
                "\u{e002}",
                "\u{e003}1",
                "é",
                "a",
                "team",
                "\"",
                "{",
                "}",
            ]),
            0..8,
        )
        .prop_map(|parts| parts.concat()),
        ".{0,12}",
    ]
}

/// URL templates: whatever a requester types, the call goes to the catalog's host, each value
/// stays in its own path segment or query value (decoding it gives back what was typed), and
/// no dot segment or encoded slash reaches the path; or the value is refused.
#[test]
fn url_values_stay_in_their_segment() {
    let template = Template::parse(
        "https://deploy.example.com/api/ns/{{.current.a}}/svc/{{.current.b}}-x?q={{.current.c}}&r=1",
        Mode::Url,
    )
    .expect("parses");
    let strategy = (hostile_text(), hostile_text(), hostile_text());
    fuzz("url_values_stay_in_their_segment", strategy, |(a, b, c)| {
        let vars = Vars {
            current: json!({"a": a, "b": b, "c": c}),
            ..Vars::default()
        };
        let Ok(rendered) = template.render(&vars) else {
            // Refused: only a value that cannot be one path segment.
            let clean = |v: &str| !v.is_empty() && v != "." && v != "..";
            let slash = |v: &str| v.contains(['/', '\\']);
            prop_assert!(
                !clean(&a) || slash(&a) || slash(&b) || !clean(&format!("{b}-x")),
                "refused {a:?} {b:?} {c:?}"
            );
            return Ok(());
        };
        let allowed = pao::action::http::Allowed::default();
        let url = pao::action::http::check_url(&rendered, &allowed)
            .map_err(|e| TestCaseError::fail(format!("{rendered}: {e}")))?;
        prop_assert_eq!(url.host_str(), Some("deploy.example.com"));
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(pao_local::sigv4::percent_decode).collect())
            .unwrap_or_default();
        prop_assert_eq!(
            segments,
            vec![
                "api".to_string(),
                "ns".into(),
                a.clone(),
                "svc".into(),
                format!("{b}-x")
            ]
        );
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(
            query,
            vec![
                ("q".to_string(), c.clone()),
                ("r".to_string(), "1".to_string())
            ]
        );
        prop_assert!(url.fragment().is_none());
        Ok(())
    });
}

/// JSON documents: whatever a value holds (any JSON, written with or without `safe`), the
/// rendered body is JSON with exactly the keys the catalog wrote, or it is refused.
#[test]
fn json_values_stay_data() {
    let templates = [
        r#"{"a": "{{.current.x}}", "b": {{.current.y | json}}, "n": 1}"#,
        r#"{"a": "{{.current.x | safe}}", "b": {{.current.y | json}}, "n": 1}"#,
        r#"{"a": "{{.current.x | upper}}", "b": {{.current.y | json}}, "n": 1}"#,
    ]
    .map(|t| Template::parse(t, Mode::Json).expect("parses"));
    let strategy = (
        0..templates.len(),
        prop_oneof![hostile_text().prop_map(Value::String), arb_json()],
        arb_json(),
    );
    fuzz("json_values_stay_data", strategy, |(i, x, y)| {
        let vars = Vars {
            current: json!({"x": x, "y": y}),
            ..Vars::default()
        };
        // A filter that cannot take the value (`upper` of a list) refuses it.
        let Ok(rendered) = templates[i].render(&vars) else {
            return Ok(());
        };
        let doc: Value = serde_json::from_str(&rendered)
            .map_err(|e| TestCaseError::fail(format!("{rendered}: {e}")))?;
        let keys: Vec<&String> = doc
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        prop_assert_eq!(keys, vec!["a", "b", "n"]);
        prop_assert!(doc["a"].is_string());
        prop_assert_eq!(&doc["b"], &y);
        Ok(())
    });
}

/// GitHub names: a repository, ref or workflow that passes its check cannot leave its place
/// in an API path (one `/` in a repository, no `..`, `?`, `#` or `%` unencoded).
#[test]
fn github_names_stay_in_their_place() {
    use pao::github::names::{Repo, check_ref, check_workflow, ref_path};
    let strategy = prop_oneof![hostile_text(), "[a-z./_-]{0,12}"];
    fuzz("github_names_stay_in_their_place", strategy, |s| {
        if let Ok(repo) = Repo::parse("repository", &s) {
            let text = repo.to_string();
            prop_assert_eq!(&text, &s);
            prop_assert_eq!(text.matches('/').count(), 1);
            prop_assert!(
                text.split('/')
                    .all(|p| p != "." && p != ".." && !p.is_empty())
            );
            prop_assert!(!text.contains(['?', '#', '%', '\\', ' ']));
        }
        if check_ref("ref", &s).is_ok() {
            let path = ref_path(&s);
            prop_assert!(!path.contains(['?', '#', ' ', '\\']), "{path}");
            let decoded: Vec<String> = path
                .split('/')
                .map(pao_local::sigv4::percent_decode)
                .collect();
            prop_assert_eq!(decoded.join("/"), s.clone());
            prop_assert!(
                decoded
                    .iter()
                    .all(|p| p != "." && p != ".." && !p.is_empty())
            );
        }
        if check_workflow(&s).is_ok() {
            prop_assert!(!s.contains(['/', '?', '#', '%', '\\']), "{s}");
            prop_assert!(s != "." && s != "..");
        }
        Ok(())
    });
}

/// A request path as an attacker might send it: route words, dot segments, encoded
/// separators, doubled slashes.
fn hostile_path() -> impl Strategy<Value = String> {
    let segment = proptest::sample::select(vec![
        "requests", "requests", "queue", "dlq", "messages", "redrive", "catalog", "refresh",
        "tools", "validate", "stats", "tasks", "req-1", "abc", "", ".", "..", "%2e", "%2E%2e",
        "x%2fy", "%2F", "%5c", "a\\b", "%00", "%252e",
    ]);
    (
        prop::collection::vec(segment, 0..6),
        proptest::sample::select(vec!["/api/v1", "/api/v1/", "/api//v1", "/api/v1/..", ""]),
    )
        .prop_map(|(segments, prefix)| {
            if segments.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}/{}", segments.join("/"))
            }
        })
}

/// What a server that normalises would make of a path: encoded dots and slashes decoded,
/// empty and `.` segments dropped, `..` taking one back.
fn normalised(path: &str) -> String {
    let decoded = path
        .replace("%2e", ".")
        .replace("%2E", ".")
        .replace("%2f", "/")
        .replace("%2F", "/")
        .replace("%5c", "/")
        .replace("%5C", "/")
        .replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The API's routing (issue 23 point 3): a path is routed only as written. Whatever the path,
/// routing never panics, and a path that takes a route is its own normal form, so a gateway
/// rule that matched the path as sent saw the route the function runs.
#[test]
fn only_canonical_paths_are_routed() {
    let methods = proptest::sample::select(vec!["GET", "POST", "DELETE"]);
    fuzz(
        "only_canonical_paths_are_routed",
        (methods, hostile_path()),
        |(method, path)| {
            let req = pao::api::ApiRequest {
                method: method.to_string(),
                path: path.clone(),
                query: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
                caller_arn: None,
                caller_id: None,
                request_id: None,
                home_account: None,
            };
            if let Some(route) = pao::api::routes::route_of(&req) {
                let trimmed = path.strip_suffix('/').unwrap_or(&path);
                prop_assert_eq!(
                    normalised(trimmed),
                    trimmed.to_string(),
                    "{} routed to {}",
                    path,
                    route
                );
            }
            Ok(())
        },
    );
}

/// A value for a form field: one its type takes, or anything.
fn field_value(field: &pao::form::Field) -> BoxedStrategy<Value> {
    let options: Vec<Value> = field
        .options
        .iter()
        .map(|o| Value::from(o.value()))
        .collect();
    let typed = if !options.is_empty() {
        proptest::sample::select(options).boxed()
    } else if field.kind.is_numeric() {
        (-1_000_000i64..1_000_000).prop_map(Value::from).boxed()
    } else if field.kind.is_textual() {
        "[a-z][a-z0-9-]{0,30}".prop_map(Value::from).boxed()
    } else {
        any::<bool>().prop_map(Value::from).boxed()
    };
    prop_oneof![3 => typed, 1 => arb_json()].boxed()
}

/// Form validation: for every corpus item, inputs shaped like its form (typed values, wrong
/// types, missing and extra keys) and arbitrary JSON. Validation never panics; a valid
/// input's result validates again to itself; a password's value never appears in a problem.
#[test]
fn form_validation_of_arbitrary_input() {
    let loaded = load_files(&corpus_catalog());
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let forms: Vec<pao::form::Form> = loaded
        .catalog
        .entries()
        .iter()
        .map(|e| e.document.form().clone())
        .collect();
    let shaped = proptest::sample::select(forms.clone()).prop_flat_map(|form| {
        let fields: Vec<BoxedStrategy<(String, Value)>> = form
            .fields()
            .map(|(path, f)| {
                let path = path.to_string();
                field_value(f).prop_map(move |v| (path.clone(), v)).boxed()
            })
            .collect();
        (
            Just(form),
            fields,
            prop::collection::vec(any::<bool>(), 0..32),
        )
    });
    let strategy = prop_oneof![
        3 => shaped.prop_map(|(form, values, keep)| {
            let mut input = json!({"name": "fuzz"});
            for (i, (path, value)) in values.into_iter().enumerate() {
                if keep.get(i).copied().unwrap_or(true) {
                    let (group, field) = path.split_once('.').unwrap_or(("", &path));
                    input[group][field] = value;
                }
            }
            (form, input)
        }),
        1 => (proptest::sample::select(forms), arb_json()),
    ];
    fuzz("form_validation", strategy, |(form, input)| {
        // Every password carries a marker no message could contain by chance.
        let mut input = input;
        let mut secrets = Vec::new();
        for (n, path) in form.password_paths().iter().enumerate() {
            let (group, field) = path.split_once('.').unwrap_or(("", path));
            if input.get(group).is_some_and(Value::is_object) {
                let secret = format!("pw-Zq{n}x7Kd!");
                input[group][field] = Value::from(secret.clone());
                secrets.push(secret);
            }
        }
        match form.validate_input(&input) {
            Ok(valid) => {
                let again = form.validate_input(&valid);
                prop_assert_eq!(again.as_ref().ok(), Some(&valid));
            }
            Err(problems) => {
                for p in &problems {
                    let shown = p.to_string();
                    for s in &secrets {
                        prop_assert!(!shown.contains(s.as_str()), "a password in {shown}");
                    }
                }
            }
        }
        // The submission body around it goes through the JSON Schema check unharmed.
        let body = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "x", "input": input}]});
        let _ = pao::request::Submission::parse(&body);
        Ok(())
    });
}

/// A submission body that is anything at all.
#[test]
fn submission_bodies() {
    fuzz("submission_bodies", arb_json(), |body| {
        let _ = pao::request::Submission::parse(&body);
        let _ = pao::request::Submission::parse(&json!({ "items": [body] }));
        Ok(())
    });
}

/// Path segments and query parts as a client would send them: percent-encoded.
fn encoded() -> impl Strategy<Value = String> {
    ".{0,10}".prop_map(|s: String| pao::signing::uri_encode(s.as_bytes(), false))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The local gateway's SigV4 check, from two sides: a call signed as the SDKs sign it
/// (devctl's aws-sigv4), with any path, query and body, verifies; the same call with its
/// body or its signature changed does not; and header values that are anything at all
/// (mutations of a real Authorization header, X-Amz-Date, host) never panic and never pass.
#[test]
fn sigv4_headers() {
    let identities = vec![
        pao_local::sigv4::default_identity(),
        pao_local::sigv4::operator_identity(),
    ];
    let credentials = pao::signing::Credentials {
        access_key_id: identities[0].access_key_id.clone(),
        secret_access_key: identities[0].secret_access_key.clone(),
        session_token: None,
    };
    let strategy = (
        proptest::sample::select(vec!["GET", "POST", "DELETE"]),
        prop::collection::vec(encoded(), 0..4),
        prop::collection::vec((encoded(), encoded()), 0..4),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(edit(), 0..4),
        (any::<usize>(), ".{0,20}", ".{0,20}"),
    );
    fuzz(
        "sigv4_headers",
        strategy,
        |(method, segments, query, body, edits, (flip, date, host))| {
            let path = format!("/api/v1/{}", segments.join("/"));
            let query = query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let url = if query.is_empty() {
                format!("http://127.0.0.1:3000{path}")
            } else {
                format!("http://127.0.0.1:3000{path}?{query}")
            };
            let at = UNIX_EPOCH + Duration::from_secs(now());
            let headers = pao::signing::sign(method, &url, &body, &credentials, "us-east-1", at)
                .map_err(TestCaseError::fail)?;
            let request = |headers: &[(String, String)], body: &[u8]| {
                pao_local::sigv4::verify(
                    &pao_local::sigv4::SignedRequest {
                        method,
                        path: &path,
                        query: &query,
                        headers,
                        body,
                    },
                    &identities,
                    "us-east-1",
                    now(),
                )
                .map(|i| i.arn.clone())
            };
            prop_assert_eq!(request(&headers, &body), Ok(identities[0].arn.clone()));
            // Another body: refused.
            let mut other = body.clone();
            match other.get_mut(flip % body.len().max(1)) {
                Some(b) => *b ^= 1 << (flip % 8),
                None => other.push(b'x'),
            }
            prop_assert!(request(&headers, &other).is_err());
            // The Authorization header edited: refused, or (a no-op edit) still the signer.
            let edited: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| {
                    let v = if k == "authorization" {
                        pao_fuzz::apply(v, &edits)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect();
            let original = headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v);
            let changed = edited
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v);
            if original != changed {
                if let Ok(arn) = request(&edited, &body) {
                    // Only whitespace or separators the parser skips may change harmlessly.
                    prop_assert_eq!(arn, identities[0].arn.clone());
                }
            }
            // Arbitrary X-Amz-Date and host values: no panic, no pass.
            let wild: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| match k.as_str() {
                    "x-amz-date" => (k.clone(), date.clone()),
                    "host" => (k.clone(), host.clone()),
                    _ => (k.clone(), v.clone()),
                })
                .collect();
            let amz = headers
                .iter()
                .find(|(k, _)| k == "x-amz-date")
                .map(|(_, v)| v.as_str());
            let h = headers
                .iter()
                .find(|(k, _)| k == "host")
                .map(|(_, v)| v.as_str());
            if amz != Some(date.as_str()) || h != Some(host.as_str()) {
                prop_assert!(request(&wild, &body).is_err());
            }
            Ok(())
        },
    );
}

/// The webhook's signature check: a header that is anything at all passes only if it is
/// the body's signature; a signed body changed by one bit never passes.
#[test]
fn webhook_signature() {
    let secret = b"fuzz-webhook-secret";
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..256),
        prop_oneof![".{0,80}", "sha256=[0-9a-fA-F]{0,70}"],
        any::<usize>(),
    );
    fuzz("webhook_signature", strategy, |(body, header, flip)| {
        let good = pao::webhook::sign(secret, &body);
        prop_assert!(pao::webhook::signature_matches(secret, &body, &good));
        prop_assert!(
            !pao::webhook::signature_matches(secret, &body, &header) || header == good,
            "{header} passed"
        );
        if !body.is_empty() {
            let mut other = body.clone();
            other[flip % body.len()] ^= 1 << (flip % 8);
            prop_assert!(!pao::webhook::signature_matches(secret, &other, &good));
        }
        Ok(())
    });
}

/// The reference for `schema_validation`: the `jsonschema` crate on the same documents
/// (test-only; the functions no longer link it).
struct Embedded;

impl jsonschema::Retrieve for Embedded {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str();
        SchemaKind::ALL
            .into_iter()
            .find(|k| wanted.ends_with(k.file_name()))
            .map(SchemaKind::document)
            .ok_or_else(|| format!("schema {wanted} is not one of PAO's").into())
    }
}

/// Where the `jsonschema` crate finds violations, as `schema::validate` names the places.
fn reference_places(validator: &jsonschema::Validator, doc: &Value) -> BTreeSet<String> {
    use jsonschema::error::ValidationErrorKind as K;
    validator
        .iter_errors(doc)
        .map(|e| {
            let path = DocPath::from_pointer(e.instance_path().as_str(), doc);
            match e.kind() {
                K::Required { property } => path.key(property.as_str().unwrap_or_default()),
                K::AdditionalProperties { unexpected } if unexpected.len() == 1 => {
                    path.key(unexpected[0].clone())
                }
                _ => path,
            }
            .to_string()
        })
        .collect()
}

/// PAO's own schema evaluator (`schema::eval`) against the `jsonschema` crate: catalog
/// documents of the corpus and submission bodies, changed as trees, each checked against
/// all three schemas. The two agree on whether a document is valid and on the places of
/// its violations.
#[test]
fn schema_validation() {
    let repo = corpus_catalog();
    let mut seeds: Vec<Value> = repo
        .documents
        .values()
        .filter_map(|text| serde_norway::from_str(text).ok())
        .collect();
    seeds.push(json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "a", "input": {"name": "x"}}]}));
    seeds.push(json!({"items": [{"schemaVersion": "catalog/v1", "bundleId": "b", "input": {"name": "x", "n": 1}}]}));
    let reference: Vec<(SchemaKind, jsonschema::Validator)> = SchemaKind::ALL
        .into_iter()
        .map(|k| {
            let v = jsonschema::draft202012::options()
                .with_retriever(Embedded)
                .build(&k.document())
                .unwrap_or_else(|e| panic!("{}: {e}", k.file_name()));
            (k, v)
        })
        .collect();
    let strategy = (
        proptest::sample::select(seeds),
        prop::collection::vec(pao_fuzz::change(), 0..4),
    );
    fuzz("schema_validation", strategy, |(seed, changes)| {
        let doc = pao_fuzz::change_value(&seed, &changes);
        for (kind, validator) in &reference {
            let ours: BTreeSet<String> = pao::schema::validate(*kind, &doc)
                .into_iter()
                .map(|p| p.path.to_string())
                .collect();
            let theirs = reference_places(validator, &doc);
            prop_assert_eq!(
                &ours,
                &theirs,
                "{:?} on {}: ours {:?}, jsonschema's {:?}",
                kind,
                doc,
                pao::schema::validate(*kind, &doc),
                validator
                    .iter_errors(&doc)
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
            );
        }
        Ok(())
    });
}
