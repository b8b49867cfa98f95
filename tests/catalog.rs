//! Catalog validation as a platform team sees it: the example catalog is valid, and each kind
//! of broken document is reported with its file, exact YAML path and message.

use pao::catalog::SourceDoc;
use pao::catalog::Target;
use pao::catalog::load::load_dir;
use pao::catalog::validate::validate_sources;
use pao::plan::plan;
use pao_system_tests::{example_catalog_dir, write_repo};
use serde_json::json;

/// A small valid item; tests replace parts of it to break it.
const ITEM: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata:
  id: sample-item
  name: Sample
  version: 1.0.0
  category: testing
  owner: team-test
  description: A sample item.
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true, pattern: '^[a-z]+$' }
        - { id: size, type: select, options: [s, m], default: s }
fulfillment:
  items:
    - id: first
      type: jira-ticket
      config:
        project: OPS
        issueType: Task
        summary: "Create {{.current.basic.instanceName}}"
        waitForResolution: false
      outputs:
        ticket: /key
    - id: second
      type: webhook
      config:
        url: https://hooks.example.com/x
        payload: { ticket: "{{.output.ticket}}" }
      outputs:
        hookStatus: /status
"#;

fn problems_of(docs: &[(&str, &str)]) -> Vec<String> {
    let sources = docs
        .iter()
        .map(|(file, text)| SourceDoc {
            file: file.to_string(),
            text: text.to_string(),
            owners: vec![],
        })
        .collect();
    let (_, problems) = validate_sources(sources);
    problems.iter().map(ToString::to_string).collect()
}

fn item_with(from: &str, to: &str) -> String {
    assert!(ITEM.contains(from), "fixture does not contain {from:?}");
    ITEM.replacen(from, to, 1)
}

fn bundle(id: &str, components: &str) -> String {
    format!(
        "schemaVersion: catalog/v1\nkind: CatalogBundle\nmetadata: {{ id: {id}, name: B, version: 1.0.0, category: testing, owner: t, description: d }}\nform:\n  groups:\n    - id: basic\n      fields:\n        - {{ id: instanceName, type: string, required: true }}\ncomponents:\n{components}"
    )
}

#[test]
fn every_example_document_is_valid() {
    let loaded = load_dir(&example_catalog_dir()).expect("example catalog loads");
    assert_eq!(loaded.problems, vec![], "example catalog has problems");
    assert!(loaded.files.len() >= 8, "{:?}", loaded.files);
    assert_eq!(loaded.catalog.entries().len(), loaded.files.len());
    let categories: std::collections::BTreeSet<_> = loaded
        .catalog
        .entries()
        .iter()
        .map(|e| e.document.metadata().category.clone())
        .collect();
    assert!(categories.len() >= 4, "{categories:?}");
}

#[test]
fn the_sample_item_is_valid() {
    assert_eq!(
        problems_of(&[("catalog/sample.yaml", ITEM)]),
        Vec::<String>::new()
    );
}

#[test]
fn missing_id() {
    let doc = item_with("  id: sample-item\n", "");
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        ["catalog/x.yaml: metadata.id: is required"]
    );
}

#[test]
fn duplicate_field_id() {
    let doc = item_with(
        "{ id: size, type: select",
        "{ id: instanceName, type: select",
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: form.groups[0].fields[1].id: duplicate field id \"instanceName\" in group \"basic\""
        ]
    );
}

#[test]
fn bad_pattern() {
    let doc = item_with("pattern: '^[a-z]+$'", "pattern: '^[a-z'");
    let problems = problems_of(&[("catalog/x.yaml", &doc)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            "catalog/x.yaml: form.groups[0].fields[0].pattern: invalid regular expression: "
        ),
        "{problems:?}"
    );
}

#[test]
fn unknown_field_type() {
    let doc = item_with(
        "{ id: size, type: select, options: [s, m], default: s }",
        "{ id: size, type: colour }",
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: form.groups[0].fields[1].type: \"colour\" is not one of: \"string\", \"text\", \"integer\", \"number\", \"boolean\", \"select\", \"multiselect\", \"date\", \"datetime\", \"email\", \"url\", \"password\", \"json\""
        ]
    );
}

#[test]
fn current_path_not_in_the_form() {
    let doc = item_with(
        "{{.current.basic.instanceName}}",
        "{{.current.basic.instanceNam}}",
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: .current.basic.instanceNam is not a field of the form"
        ]
    );
    let doc = item_with("{{.current.basic.instanceName}}", "{{.current.advanced.x}}");
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: .current.advanced.x: the form has no group \"advanced\""
        ]
    );
}

/// Issue 26: the waiting keys of a `jira-ticket` are checked, and an output pointer that reads
/// the resolved ticket needs an item that waits for it.
#[test]
fn ticket_waiting_keys_and_pointers_that_need_the_resolved_ticket() {
    // ITEM's ticket only informs; reading what a person types needs waiting.
    let doc = item_with(
        "        ticket: /key",
        "        ticket: /key\n        endpoint: /fields/customfield_10050",
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].outputs.endpoint: \"/fields/customfield_10050\" reads the resolved ticket, but the item does not wait for its resolution (waitForResolution: false); a new ticket has only /key, /id, /url"
        ]
    );
    let waits = doc.replace(
        "        waitForResolution: false\n",
        "        maxWait: P2D\n        successResolutions: [Done, Provisioned]\n",
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &waits)]),
        Vec::<String>::new()
    );
    let months = waits.replace("maxWait: P2D", "maxWait: P1M");
    let problems = problems_of(&[("catalog/x.yaml", &months)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("catalog/x.yaml: fulfillment.items[0].config.maxWait: \"P1M\" is not an ISO 8601 duration")
            && problems[0].contains("years and months have no fixed length"),
        "{problems:?}"
    );
}

/// Issue 27 point 6: `access.requesters` must name someone, as ARN patterns and/or tags.
#[test]
fn access_names_its_requesters() {
    let with = |access: &str| item_with("fulfillment:\n", &format!("{access}fulfillment:\n"));
    assert_eq!(
        problems_of(&[(
            "catalog/x.yaml",
            &with(
                "access:\n  requesters: { arns: [\"arn:aws:iam::*:role/DBA\"], tags: { team: [dba, platform] } }\n"
            )
        )]),
        Vec::<String>::new()
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &with("access:\n  requesters: {}\n"))]),
        ["catalog/x.yaml: access.requesters: names no one: give arns, tags or both"]
    );
    let problems = problems_of(&[(
        "catalog/x.yaml",
        &with("access:\n  requesters: { arns: [\"role/DBA\"] }\n"),
    )]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("access.requesters.arns"),
        "{problems:?}"
    );
}

/// Issue 27 point 1: `approval.stages` as the schema and the semantic checks state them, each
/// problem named by its path.
#[test]
fn approval_stages_are_checked_where_they_are_written() {
    let with = |approval: &str| item_with("fulfillment:\n", &format!("{approval}fulfillment:\n"));
    let good = "approval:\n  stages:\n    - id: dba\n      approvers: { arns: [\"arn:aws:sts::*:assumed-role/DBA/*\"], tags: { team: dba } }\n      require: any\n      when: \"{{ .current.basic.size == 'm' }}\"\n      timeout: P2D\n      onTimeout: escalate\n      escalateTo: { tags: { team: platform-leads } }\n      remindAfter: PT8H\n";
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &with(good))]),
        Vec::<String>::new()
    );
    let one = |approval: &str| {
        let problems = problems_of(&[("catalog/x.yaml", &with(approval))]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems[0].clone()
    };
    let all = one(
        "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, require: all }\n",
    );
    assert!(
        all.starts_with(
            "catalog/x.yaml: approval.stages[0].require: all needs approvers named by ARNs"
        ),
        "{all}"
    );
    let output = one(
        "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, when: \"{{ .output.ticket == 'x' }}\" }\n",
    );
    assert!(
        output.contains("approval.stages[0].when") && output.contains("decided at submission"),
        "{output}"
    );
    let field = one(
        "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, when: \"{{ .current.basic.nope }}\" }\n",
    );
    assert!(field.contains("approval.stages[0].when"), "{field}");
    let escalate = one(
        "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, timeout: P1D, onTimeout: escalate }\n",
    );
    assert!(
        escalate.contains("approval.stages[0].escalateTo: names who decides"),
        "{escalate}"
    );
    // The schema refuses what is not a stage's key.
    let unknown = problems_of(&[(
        "catalog/x.yaml",
        &with(
            "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, approvers2: {} }\n",
        ),
    )]);
    assert!(
        unknown.iter().any(|p| p.contains("approvers2")),
        "{unknown:?}"
    );
}

#[test]
fn output_used_before_it_is_produced() {
    let doc = item_with("{{.current.basic.instanceName}}", "{{.output.hookStatus}}");
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: .output.hookStatus is used before fulfillment item \"second\" produces it"
        ]
    );
    let doc = item_with("{{.output.ticket}}", "{{.output.nobody}}");
    let problems = problems_of(&[("catalog/x.yaml", &doc)]);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("catalog/x.yaml: fulfillment.items[1].config.payload.ticket: .output.nobody is not produced by an earlier fulfillment item"),
        "{problems:?}"
    );
}

#[test]
fn unknown_namespace() {
    let doc = item_with("{{.current.basic.instanceName}}", "{{.env.HOME}}");
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: unknown namespace `env` in `env.HOME`: use .current, .output, .metadata or .system"
        ]
    );
}

#[test]
fn metadata_and_system_references_must_exist() {
    let doc = item_with(
        "summary: \"Create {{.current.basic.instanceName}}\"",
        "summary: \"{{.metadata.sample-item.name}} {{.metadata.sample-item.colour}} {{.metadata.other.name}} {{.system.user.email}} {{.system.secret}}\"",
    );
    let problems = problems_of(&[("catalog/x.yaml", &doc)]);
    assert_eq!(
        problems,
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: .metadata.sample-item.colour: \"sample-item\" has no metadata field \"colour\"",
            "catalog/x.yaml: fulfillment.items[0].config.summary: .metadata.other.name: no catalog document has the id \"other\"",
            "catalog/x.yaml: fulfillment.items[0].config.summary: .system.secret is not a system variable (known: requestId, correlationId, timestamp, user, user.email, user.arn, platform, platform.region, platform.environment)",
        ]
    );
}

#[test]
fn a_password_never_goes_into_a_ticket() {
    let doc = item_with(
        "{ id: size, type: select, options: [s, m], default: s }",
        "{ id: secret, type: password }",
    )
    .replacen(
        "{{.current.basic.instanceName}}",
        "{{.current.basic.secret}}",
        1,
    );
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.summary: .current.basic.secret: a password must never be written into a JIRA ticket: only rest-api and webhook items may send one"
        ]
    );
}

/// Issue 25: a typed password is sent only by `rest-api` and `webhook` items; a commit or a
/// workflow run would publish it, and validation says so by item and field.
#[test]
fn a_password_never_goes_into_a_commit_or_a_workflow_run() {
    let doc = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: pw-item, name: P, version: 1.0.0, category: testing, owner: team-test, description: d }
form:
  groups:
    - id: db
      fields:
        - { id: name, type: string }
        - { id: pw, type: password }
fulfillment:
  items:
    - id: commit
      type: github-commit
      config:
        repository: acme/gitops
        branch: main
        message: "add {{.current.db.name}}"
        files:
          - { path: "db/{{.current.db.name}}.yaml", content: "password: {{.current.db.pw}}" }
    - id: run
      type: github-workflow
      config:
        repository: acme/infra
        workflow: db.yml
        ref: main
        inputs: { password: "{{.current.db.pw}}", everything: "{{.current.db | json}}" }
    - id: register
      type: rest-api
      config:
        method: POST
        url: https://cmdb.example.com/api/v1/databases
        body: { password: "{{.current.db.pw}}" }
"#;
    assert_eq!(
        problems_of(&[("catalog/pw.yaml", doc)]),
        [
            "catalog/pw.yaml: fulfillment.items[0].config.files[0].content: .current.db.pw: a password must never be written into a commit (its files, message and pull request): only rest-api and webhook items may send one",
            "catalog/pw.yaml: fulfillment.items[1].config.inputs.password: .current.db.pw: a password must never be written into a workflow run's inputs (shown in the run's UI): only rest-api and webhook items may send one",
            "catalog/pw.yaml: fulfillment.items[1].config.inputs.everything: .current.db: a password must never be written into a workflow run's inputs (shown in the run's UI): only rest-api and webhook items may send one",
        ]
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let doc = item_with(
        "{ id: size, type: select, options: [s, m], default: s }",
        "{ id: size, type: select, default: l }",
    )
    .replacen(
        "{{.current.basic.instanceName}}",
        "{{.current.nope}} {{.output.hookStatus}}",
        1,
    )
    .replacen("id: second", "id: first", 1);
    let problems = problems_of(&[("catalog/x.yaml", &doc)]);
    assert_eq!(
        problems,
        [
            "catalog/x.yaml: form.groups[0].fields[1].options: a select field needs options",
            "catalog/x.yaml: form.groups[0].fields[1].default: the default \"l\" is not one of: ",
            "catalog/x.yaml: fulfillment.items[0].config.summary: .current.nope: the form has no group \"nope\"",
            "catalog/x.yaml: fulfillment.items[0].config.summary: .output.hookStatus is used before fulfillment item \"first\" produces it",
            "catalog/x.yaml: fulfillment.items[1].id: duplicate fulfillment item id \"first\"",
        ]
    );
}

#[test]
fn schema_problems_name_the_exact_property() {
    let doc = item_with(
        "      type: webhook\n",
        "      type: webhook\n      retries: 3\n",
    )
    .replacen("        project: OPS\n", "", 1);
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &doc)]),
        [
            "catalog/x.yaml: fulfillment.items[0].config.project: is required",
            "catalog/x.yaml: fulfillment.items[1].retries: is not a known property",
        ]
    );
}

#[test]
fn duplicate_ids_across_files() {
    assert_eq!(
        problems_of(&[("catalog/a.yaml", ITEM), ("catalog/b.yaml", ITEM)]),
        [
            "catalog/b.yaml: metadata.id: duplicate id \"sample-item\": already defined in catalog/a.yaml"
        ]
    );
}

#[test]
fn bundle_naming_a_missing_item() {
    let b = bundle(
        "stack",
        "  - catalogItemId: sample-item\n  - catalogItemId: nope\n  - bundleId: sample-item\n",
    );
    assert_eq!(
        problems_of(&[("catalog/sample.yaml", ITEM), ("bundles/stack.yaml", &b)]),
        [
            "bundles/stack.yaml: components[1].catalogItemId: catalog item \"nope\" does not exist",
            "bundles/stack.yaml: components[2].bundleId: \"sample-item\" is a catalog item, not a bundle: use catalogItemId",
        ]
    );
}

#[test]
fn bundle_cycle() {
    let a = bundle(
        "bundle-a",
        "  - catalogItemId: sample-item\n  - bundleId: bundle-b\n",
    );
    let b = bundle("bundle-b", "  - bundleId: bundle-a\n");
    assert_eq!(
        problems_of(&[
            ("catalog/sample.yaml", ITEM),
            ("bundles/a.yaml", &a),
            ("bundles/b.yaml", &b)
        ]),
        [
            "bundles/a.yaml: components[1].bundleId: bundle cycle: bundle-a → bundle-b → bundle-a",
            "bundles/b.yaml: components[0].bundleId: bundle cycle: bundle-b → bundle-a → bundle-b",
        ]
    );
}

#[test]
fn bundle_inputs_and_outputs_across_components() {
    let consumer = ITEM
        .replacen("id: sample-item", "id: consumer", 1)
        .replacen(
            "fulfillment:\n",
            "fulfillment:\n  requiredOutputs: [ticket]\n",
            1,
        )
        .replacen("ticket: /key", "ticket2: /key", 1)
        .replacen("hookStatus: /status", "hookStatus2: /status", 1)
        .replacen("{{.current.basic.instanceName}}", "{{.output.ticket}}", 1);
    // The consumer's ticket must come from an earlier component.
    let wrong_order = bundle(
        "b",
        "  - catalogItemId: consumer\n  - catalogItemId: sample-item\n",
    );
    assert_eq!(
        problems_of(&[
            ("catalog/s.yaml", ITEM),
            ("catalog/c.yaml", &consumer),
            ("bundles/b.yaml", &wrong_order)
        ]),
        [
            "bundles/b.yaml: components[0]: catalog item \"consumer\" reads .output.ticket, which no earlier component produces"
        ]
    );
    let right = bundle(
        "b",
        "  - catalogItemId: sample-item\n  - catalogItemId: consumer\n",
    );
    assert_eq!(
        problems_of(&[
            ("catalog/s.yaml", ITEM),
            ("catalog/c.yaml", &consumer),
            ("bundles/b.yaml", &right)
        ]),
        Vec::<String>::new()
    );
    // A mapping names fields of the bundle's form and of the item's form only.
    let mapped = bundle(
        "b",
        "  - catalogItemId: sample-item\n    input:\n      basic:\n        instanceName: \"{{.current.basic.nope}}\"\n        colour: red\n",
    );
    assert_eq!(
        problems_of(&[("catalog/s.yaml", ITEM), ("bundles/b.yaml", &mapped)]),
        [
            "bundles/b.yaml: components[0].input.basic.instanceName: .current.basic.nope is not a field of the form",
            "bundles/b.yaml: components[0].input.basic.colour: \"sample-item\" has no field basic.colour",
        ]
    );
    // Without a mapping, the bundle's form must carry what the item requires.
    let unmapped = bundle("b", "  - catalogItemId: sample-item\n")
        .replace("id: instanceName, type: string", "id: other, type: string");
    assert_eq!(
        problems_of(&[("catalog/s.yaml", ITEM), ("bundles/b.yaml", &unmapped)]),
        [
            "bundles/b.yaml: components[0]: \"sample-item\" requires basic.instanceName, which the bundle's form does not have: add it or an input mapping"
        ]
    );
}

#[test]
fn a_broken_item_keeps_its_bundles_out_of_the_catalog() {
    let broken = item_with("{{.current.basic.instanceName}}", "{{.current.nope.x}}");
    let b = bundle("stack", "  - catalogItemId: sample-item\n");
    let sources = vec![
        SourceDoc {
            file: "catalog/s.yaml".into(),
            text: broken,
            owners: vec![],
        },
        SourceDoc {
            file: "bundles/b.yaml".into(),
            text: b,
            owners: vec![],
        },
    ];
    let (catalog, problems) = validate_sources(sources);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(catalog.get("sample-item").is_none());
    assert!(catalog.get("stack").is_none());
}

#[test]
fn loading_a_repository_from_disk_applies_codeowners() {
    let dir = write_repo(&[
        (
            "CODEOWNERS",
            "* @acme/platform\n/catalog/db/ @acme/team-database\n",
        ),
        ("catalog/db/sample.yaml", ITEM),
        ("catalog/notes.txt", "not a document"),
        ("bundles/broken.yml", "kind: [unclosed"),
    ]);
    let loaded = load_dir(dir.path()).expect("loads");
    assert_eq!(
        loaded.files,
        ["bundles/broken.yml", "catalog/db/sample.yaml"]
    );
    let entry = loaded.catalog.get("sample-item").expect("item loaded");
    assert_eq!(entry.owners, ["@acme/team-database"]);
    assert_eq!(entry.owner_team(), "@acme/team-database");
    let problems: Vec<String> = loaded.problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("bundles/broken.yml: (document): invalid YAML: "),
        "{problems:?}"
    );
}

#[test]
fn the_seed_example_request_plans_in_order() {
    let loaded = load_dir(&example_catalog_dir()).expect("example catalog loads");
    let input = json!({
        "name": "my-app-stack",
        "application": {"appName": "frontend", "containerImage": "myapp:latest"},
        "database": {"instanceName": "app-db"}
    });
    let tasks = plan(
        &loaded.catalog,
        &Target::Bundle("full-application-stack".into()),
        &input,
        &json!({}),
    )
    .expect("the seed's example request is valid")
    .tasks;
    let order: Vec<String> = tasks
        .iter()
        .map(|t| format!("{}/{}", t.catalog_item_id, t.item.id))
        .collect();
    assert_eq!(
        order,
        [
            "kubernetes-namespace/manifest",
            "kubernetes-namespace/announce",
            "database-aurora-postgresql/ticket",
            "database-aurora-postgresql/provision",
            "database-aurora-postgresql/register",
            "container-service/deploy",
            "service-registration/register",
            "monitoring-dashboard/provision",
        ]
    );
    // Mapped input is validated against the component's own form, defaults applied.
    let db = &tasks[2].current;
    assert_eq!(db["name"], json!("my-app-stack-db"));
    assert_eq!(db["basic"]["instanceName"], json!("app-db"));
    assert_eq!(db["storage"]["storageSize"], json!(100));
    assert_eq!(tasks[5].current["application"]["replicas"], json!(2));
    assert_eq!(tasks[2].password_paths, ["storage.masterPassword"]);

    let bad = json!({"name": "x", "application": {"appName": "Bad Name", "containerImage": "i"}, "database": {"instanceName": "app-db"}});
    let issues = plan(
        &loaded.catalog,
        &Target::Bundle("full-application-stack".into()),
        &bad,
        &json!({}),
    )
    .expect_err("invalid input");
    assert_eq!(issues[0].path, "application.appName");

    let issues = plan(
        &loaded.catalog,
        &Target::CatalogItem("service-registration".into()),
        &json!({"name": "x"}),
        &json!({}),
    )
    .expect_err("bundle-only item");
    assert_eq!(issues[0].path, "catalogItemId");
}

/// Issue 25: a component's password field takes one bundle password as it is (the typed value
/// is sealed per bundle field and sent unchanged); anything made from it, or a constant, is
/// refused by item and field.
#[test]
fn a_password_field_takes_one_bundle_password_as_it_is() {
    let bundle = |mapping: &str| {
        format!(
            "schemaVersion: catalog/v1\nkind: CatalogBundle\nmetadata: {{ id: pw, name: B, version: 1.0.0, category: testing, owner: t, description: d }}\nform:\n  groups:\n    - id: db\n      fields:\n        - {{ id: name, type: string, required: true }}\n        - {{ id: pw, type: password }}\ncomponents:\n  - id: one\n    catalogItemId: pw-target\n    input:\n      name: \"{{{{.current.name}}}}\"\n      basic:\n        instanceName: \"{{{{.current.db.name}}}}\"\n        secret: {mapping}\n"
        )
    };
    let target = "schemaVersion: catalog/v1\nkind: CatalogItem\nmetadata: { id: pw-target, name: T, version: 1.0.0, category: testing, owner: t, description: d }\nform:\n  groups:\n    - id: basic\n      fields:\n        - { id: instanceName, type: string, required: true }\n        - { id: secret, type: password }\nfulfillment:\n  items:\n    - id: call\n      type: rest-api\n      config: { method: POST, url: \"https://cmdb.example.com/x\", body: { pw: \"{{.current.basic.secret}}\" } }\n";
    for fine in ["\"{{.current.db.pw}}\"", "\"{{ .current.db.pw }}\""] {
        let problems = problems_of(&[
            ("catalog/t.yaml", target),
            ("bundles/pw.yaml", &bundle(fine)),
        ]);
        assert!(problems.is_empty(), "{fine}: {problems:?}");
    }
    for bad in [
        "\"{{.current.db.pw}}-x\"",
        "\"{{.current.db.name}}\"",
        "\"hunter2-constant\"",
    ] {
        let problems = problems_of(&[
            ("catalog/t.yaml", target),
            ("bundles/pw.yaml", &bundle(bad)),
        ]);
        assert_eq!(
            problems,
            [
                "bundles/pw.yaml: components[0].input.basic.secret: maps into password field basic.secret of \"pw-target\": a password field takes one password field of the bundle as it is, \"{{.current.<group>.<field>}}\""
            ],
            "{bad}"
        );
    }
}

#[test]
fn a_password_copied_into_a_plain_field_is_refused() {
    let bundle_doc = "schemaVersion: catalog/v1\nkind: CatalogBundle\nmetadata: { id: leaky, name: B, version: 1.0.0, category: testing, owner: t, description: d }\nform:\n  groups:\n    - id: basic\n      fields:\n        - { id: instanceName, type: string, required: true }\n        - { id: secret, type: password }\ncomponents:\n  - id: one\n    catalogItemId: sample-item\n    input:\n      name: \"{{.current.name}}\"\n      basic:\n        instanceName: \"x-{{.current.basic.secret}}\"\n";
    let problems = problems_of(&[
        ("catalog/sample.yaml", ITEM),
        ("bundles/leaky.yaml", bundle_doc),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("bundles/leaky.yaml: components[0].input.basic.instanceName: copies password field basic.secret into basic.instanceName of \"sample-item\", which is not a password field"),
        "{problems:?}"
    );
    // Without a mapping the bundle's password would arrive in the item's plain field.
    let unmapped = bundle_doc
        .replace(
            "        - { id: secret, type: password }\n",
            "        - { id: size, type: password }\n",
        )
        .split("    input:")
        .next()
        .unwrap_or_default()
        .to_string();
    let problems = problems_of(&[
        ("catalog/sample.yaml", ITEM),
        ("bundles/leaky.yaml", &unmapped),
    ]);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("passes password field basic.size to \"sample-item\"")),
        "{problems:?}"
    );
}

/// A catalog item names its secrets relative to the stack's catalog prefix: a template, an
/// ARN, `..` or an absolute path is refused at validation (and again at run time), so an item
/// can never send PAO's own secrets anywhere.
#[test]
fn catalog_secret_names_are_relative_plain_names() {
    let item = |secret: &str| {
        format!(
            r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: hook-item, name: Hook, version: 1.0.0, category: testing, owner: team-test, description: d }}
form: {{ groups: [ {{ id: basic, fields: [ {{ id: instanceName, type: string }} ] }} ] }}
fulfillment:
  items:
    - id: call
      type: rest-api
      config: {{ method: POST, url: "https://cmdb.example.com/api", auth: {{ type: bearer, secret: "{secret}" }} }}
    - id: hook
      type: webhook
      config: {{ url: "https://hooks.example.com/x", signingSecret: "{secret}" }}
"#
        )
    };
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &item("team/cmdb-token"))]),
        Vec::<String>::new()
    );
    for bad in [
        "pao/jira",
        "pao/prod/github-token",
        "../jira",
        "team/../../github-token",
        "/pao/prod/jira",
        "{{.current.basic.instanceName}}",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:pao/prod/jira",
    ] {
        let problems = problems_of(&[("catalog/x.yaml", &item(bad))]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("fulfillment.items[0].config.auth.secret")),
            "{bad}: {problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("fulfillment.items[1].config.signingSecret")),
            "{bad}: {problems:?}"
        );
    }
}

/// Issue 23 point 1: GitHub names written literally are checked when the catalog loads, as
/// the worker checks rendered ones before any call.
#[test]
fn literal_github_names_are_checked_at_validation() {
    let item = |repository: &str, workflow: &str, git_ref: &str, branch: &str| {
        format!(
            r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: gh-item, name: GH, version: 1.0.0, category: testing, owner: team-test, description: d }}
form: {{ groups: [ {{ id: basic, fields: [ {{ id: instanceName, type: string }} ] }} ] }}
fulfillment:
  items:
    - id: run
      type: github-workflow
      config: {{ repository: "{repository}", workflow: "{workflow}", ref: "{git_ref}" }}
    - id: commit
      type: github-commit
      config: {{ repository: "{repository}", branch: "{branch}", message: m, files: [ {{ path: a.txt, content: a }} ] }}
"#
        )
    };
    assert_eq!(
        problems_of(&[(
            "catalog/x.yaml",
            &item(
                "acme/deployer",
                "deploy.yml",
                "main",
                "pao/{{.current.basic.instanceName}}"
            )
        )]),
        Vec::<String>::new()
    );
    let problems = problems_of(&[(
        "catalog/x.yaml",
        &item("acme/infra?x=1", "../deploy.yml", "a..b", "-x"),
    )]);
    for path in [
        "fulfillment.items[0].config.repository",
        "fulfillment.items[0].config.workflow",
        "fulfillment.items[0].config.ref",
        "fulfillment.items[1].config.repository",
        "fulfillment.items[1].config.branch",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(path)),
            "{path}: {problems:?}"
        );
    }
}

/// No item may ask for more time than the deployed worker can give one action (its timeout
/// of 60 s by default, less 15 s).
#[test]
fn a_timeout_the_worker_cannot_give_is_refused() {
    let item = |t: u32| {
        format!(
            r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: slow-item, name: Slow, version: 1.0.0, category: testing, owner: team-test, description: d }}
form: {{ groups: [ {{ id: basic, fields: [ {{ id: instanceName, type: string }} ] }} ] }}
fulfillment:
  items:
    - id: call
      type: webhook
      timeoutSeconds: {t}
      config: {{ url: "https://hooks.example.com/x" }}
"#
        )
    };
    assert_eq!(
        problems_of(&[("catalog/x.yaml", &item(45))]),
        Vec::<String>::new()
    );
    let problems = problems_of(&[("catalog/x.yaml", &item(900))]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("catalog/x.yaml: fulfillment.items[0].timeoutSeconds: 900 s is more than the worker can give one action (45 s"),
        "{problems:?}"
    );
}

#[test]
fn notify_names_channels_and_addresses_only() {
    let good = item_with(
        "  id: sample-item\n",
        "  id: sample-item\n  notify:\n    requester: [slack]\n    approvers: { slack: \"#dba\", email: [dba@example.com] }\n",
    );
    assert!(problems_of(&[("catalog/x.yaml", &good)]).is_empty());
    let bad = item_with(
        "  id: sample-item\n",
        "  id: sample-item\n  notify:\n    requester: [pager]\n    support: { slack: \"https://evil.example.com/hook\", email: [not-an-address] }\n",
    );
    let problems = problems_of(&[("catalog/x.yaml", &bad)]);
    for path in [
        "metadata.notify.requester[0]",
        "metadata.notify.support.slack",
        "metadata.notify.support.email[0]",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(path)),
            "{path}: {problems:?}"
        );
    }
}
