//! The description (`schemas/openapi.yaml`, served at `GET /api/v1/openapi.json`) against the
//! API that runs: through the local stack, every described operation is answered (never a 404
//! for want of a route, never a 405), every answer's status is described and its body
//! validates against the described schema; every other method on a described path is a 405
//! naming the described ones; and the example responses in the README validate too.

use pao_local::runner::{LOCAL_JIRA_WEBHOOK_SECRET, LOCAL_WEBHOOK_SECRET, start};
use pao_system_tests::{example_catalog_dir, local_options, sign, stop_local};
use serde_json::{Value, json};
use std::time::SystemTime;

const OPERATOR: (&str, &str) = ("AKIAPAOLOCALOPERATOR", "pao-local-operator-secret");

/// The served description, and validators for its response schemas.
struct Spec {
    doc: Value,
}

impl Spec {
    /// The described response of an operation for a status, its `$ref` followed.
    fn response(&self, path: &str, method: &str, status: u16) -> Option<(String, &Value)> {
        let responses = &self.doc["paths"][path][method.to_lowercase()]["responses"];
        let response = responses.get(status.to_string())?;
        match response.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').unwrap_or(r);
                Some((pointer.to_string(), self.doc.pointer(pointer)?))
            }
            None => {
                let pointer = format!(
                    "/paths/{}/{}/responses/{status}",
                    path.replace('~', "~0").replace('/', "~1"),
                    method.to_lowercase()
                );
                Some((pointer, response))
            }
        }
    }

    /// Problems of `body` as the answer `status` of `method path`; empty when it conforms.
    fn check(&self, path: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let Some((pointer, response)) = self.response(path, method, status) else {
            return vec![format!("{method} {path}: status {status} is not described")];
        };
        if response
            .pointer("/content/application~1json/schema")
            .is_none()
        {
            return Vec::new();
        }
        // The whole document is the root, so every `#/components/...` resolves.
        let mut root = self.doc.clone();
        // A `$ref` is a URI: the path's braces are percent-encoded in its fragment.
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        root["$ref"] = json!(format!("#{fragment}/content/application~1json/schema"));
        let validator = match jsonschema::draft202012::options().build(&root) {
            Ok(v) => v,
            Err(e) => return vec![format!("{method} {path} {status}: schema: {e}")],
        };
        validator
            .iter_errors(body)
            .map(|e| format!("{method} {path} {status}: {} at {}", e, e.instance_path()))
            .collect()
    }
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, String)],
    ) -> (u16, Vec<(String, String)>, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.parse().expect("method"), &url)
            .body(body.to_vec());
        for (k, v) in sign(
            method,
            &url,
            body,
            OPERATOR.0,
            OPERATOR.1,
            SystemTime::now(),
        ) {
            if k != "host" {
                req = req.header(k, v);
            }
        }
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        let response = req.send().await.expect("the local API answers");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// A concrete path for a described one: known ids where the operation reads one.
fn concrete(path: &str, request_id: &str) -> String {
    path.replace("/catalog/{id}", "/catalog/cache-redis")
        .replace("{id}", request_id)
        .replace("{requestId}", request_id)
        .replace("{messageId}", "no-such-dead-letter")
}

/// The body an operation is called with: its first example, else an empty object.
fn body_for(op: &Value) -> Vec<u8> {
    let Some(content) = op.pointer("/requestBody/content/application~1json") else {
        return Vec::new();
    };
    let example = content["examples"]
        .as_object()
        .and_then(|e| e.values().next())
        .map(|e| e["value"].clone())
        .unwrap_or_else(|| json!({}));
    example.to_string().into_bytes()
}

#[tokio::test]
async fn every_described_operation_is_answered_as_described() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let running = start(local_options(&example_catalog_dir()))
        .await
        .expect("local stack starts");
    let client = Client {
        base: format!("http://{}", running.api_addr),
        http: reqwest::Client::new(),
    };
    let (status, headers, doc) = client.call("GET", "/api/v1/openapi.json", b"", &[]).await;
    assert_eq!(status, 200, "{doc}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json")
    );
    assert_eq!(doc["openapi"], "3.1.0");
    let spec = Spec { doc };

    // A request of the operator's own, for the operations that read one.
    let submit = spec.doc["paths"]["/api/v1/requests"]["post"].clone();
    let (status, _, submitted) = client
        .call("POST", "/api/v1/requests", &body_for(&submit), &[])
        .await;
    assert_eq!(
        status, 202,
        "the described example is accepted: {submitted}"
    );
    let request_id = submitted["data"]["requests"][0]["requestId"]
        .as_str()
        .expect("a request id")
        .to_string();

    let mut problems = Vec::new();
    let mut answered = 0;
    for (path, item) in spec.doc["paths"].as_object().expect("paths") {
        let methods: Vec<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
            .map(|m| m.to_uppercase())
            .collect();
        for method in &methods {
            let op = &item[method.to_lowercase()];
            let body = body_for(op);
            let mut extra = Vec::new();
            if path.ends_with("/webhooks/github") {
                extra.push(("X-GitHub-Event", "ping".to_string()));
                extra.push((
                    "X-Hub-Signature-256",
                    pao::webhook::sign(LOCAL_WEBHOOK_SECRET.as_bytes(), &body),
                ));
            }
            if path.ends_with("/webhooks/jira") {
                extra.push((
                    "X-Hub-Signature",
                    pao::webhook::sign(LOCAL_JIRA_WEBHOOK_SECRET.as_bytes(), &body),
                ));
            }
            let (status, headers, answer) = client
                .call(method, &concrete(path, &request_id), &body, &extra)
                .await;
            answered += 1;
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            if status == 405 || (status == 404 && message.starts_with("no route")) {
                problems.push(format!("{method} {path}: not routed ({status} {message})"));
            }
            if status >= 500 {
                problems.push(format!("{method} {path}: {status} {answer}"));
            }
            if !headers.iter().any(|(k, _)| k == "x-correlation-id") {
                problems.push(format!("{method} {path}: no X-Correlation-Id"));
            }
            problems.extend(spec.check(path, method, status, &answer));
        }
        // Any other method on a described path: 405 naming the described ones.
        let (status, headers, answer) = client
            .call("PUT", &concrete(path, &request_id), b"{}", &[])
            .await;
        let allow = headers
            .iter()
            .find(|(k, _)| k == "allow")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut allowed: Vec<&str> = allow.split(", ").filter(|m| !m.is_empty()).collect();
        allowed.sort_unstable();
        let mut described: Vec<&str> = methods.iter().map(String::as_str).collect();
        described.sort_unstable();
        if status != 405 || allowed != described {
            problems.push(format!(
                "PUT {path}: {status} Allow {allow:?} (described {described:?}) {answer}"
            ));
        }
    }
    assert_eq!(answered, 32, "every described operation was called");
    assert!(problems.is_empty(), "{problems:#?}");
    stop_local(running).await;
}

/// `<!-- response: METHOD /api/v1/path STATUS -->` before a ```json block in the README or a
/// page of docs/ marks an example response; each validates against the description.
#[test]
fn the_readme_example_responses_validate() {
    let doc = pao::api::openapi::document().expect("the description loads");
    let spec = Spec { doc: doc.clone() };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let mut pages: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    for page in pages {
        readme.push('\n');
        readme.push_str(&std::fs::read_to_string(&page).expect("a docs page"));
    }
    let mut lines = readme.lines();
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    while let Some(line) = lines.next() {
        let Some(marker) = line
            .trim()
            .strip_prefix("<!-- response: ")
            .and_then(|m| m.strip_suffix(" -->"))
        else {
            continue;
        };
        let parts: Vec<&str> = marker.split_whitespace().collect();
        let [method, path, status] = parts.as_slice() else {
            panic!("a response marker is METHOD PATH STATUS: {marker}");
        };
        let status: u16 = status.parse().expect("a status");
        assert_eq!(lines.next().map(str::trim), Some("```json"), "{marker}");
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let example: Value = serde_json::from_str(&block.join("\n"))
            .unwrap_or_else(|e| panic!("{marker}: the example is not JSON: {e}"));
        problems.extend(spec.check(path, method, status, &example));
        checked.push(marker.to_string());
    }
    assert!(
        checked.len() >= 5,
        "the README's marked example responses: {checked:?}"
    );
    assert!(problems.is_empty(), "{problems:#?}");
}
