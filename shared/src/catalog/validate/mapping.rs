//! Bundle component inputs: a component's input mapping must build the input its item's
//! form accepts, must not copy a password into a field that is not a password, and a
//! component without a mapping gets the bundle's whole input, which must fit.

use super::{Found, reads_password};
use crate::form::{FieldType, Form};
use crate::path::DocPath;
use crate::template::{Namespace, TemplateTree};
use serde_json::Value;

/// A component's input mapping must build input its item's form accepts.
pub(super) fn check_mapping(
    mapping: &Value,
    target: &Form,
    target_id: &str,
    base: &DocPath,
    found: &mut Found,
) {
    let Some(top) = mapping.as_object() else {
        return;
    };
    for (key, value) in top {
        if key == "name" {
            continue;
        }
        let Some(group) = target.group(key) else {
            found.push((
                base.key(key.clone()),
                format!("{target_id:?} has no form group {key:?}"),
            ));
            continue;
        };
        let Some(fields) = value.as_object() else {
            found.push((base.key(key.clone()), "must map the group's fields".into()));
            continue;
        };
        for field in fields.keys() {
            if !group.fields.iter().any(|f| &f.id == field) {
                found.push((
                    base.key(key.clone()).key(field.clone()),
                    format!("{target_id:?} has no field {key}.{field}"),
                ));
            }
        }
    }
    for (path, field) in target.fields() {
        if field.required && field.default.is_none() {
            let (g, f) = path.split_once('.').unwrap_or_default();
            if top.get(g).and_then(|v| v.get(f)).is_none() {
                found.push((
                    base.clone(),
                    format!("does not provide {path}, which {target_id:?} requires"),
                ));
            }
        }
    }
}

/// A password may only be mapped into a password field: anywhere else it would be stored and
/// shown in plain text.
pub(super) fn check_password_mapping(
    mapping: &Value,
    source: &Form,
    target: &Form,
    target_id: &str,
    base: &DocPath,
    found: &mut Found,
) {
    let Some(top) = mapping.as_object() else {
        return;
    };
    for (g, fields) in top {
        for (f, value) in fields.as_object().into_iter().flatten() {
            let into_password = target
                .field(g, f)
                .is_some_and(|t| t.kind == FieldType::Password);
            if into_password {
                // The typed value is sealed per bundle field and sent as it is: a component's
                // password is one bundle password, nothing made from it.
                if !copies_a_password(value, source) {
                    found.push((
                        base.key(g.clone()).key(f.clone()),
                        format!(
                            "maps into password field {g}.{f} of {target_id:?}: a password field takes one password field of the bundle as it is, \"{{{{.current.<group>.<field>}}}}\""
                        ),
                    ));
                }
                continue;
            }
            let Ok(tree) = TemplateTree::parse(value, &[]) else {
                continue;
            };
            for (_, template) in tree.templates() {
                for r in template.references() {
                    let p: Vec<&str> = r.path.iter().map(String::as_str).collect();
                    if r.namespace == Namespace::Current && reads_password(&p, source) {
                        found.push((
                            base.key(g.clone()).key(f.clone()),
                            format!(
                                "copies password field {} into {g}.{f} of {target_id:?}, which is not a password field: the password would be stored in plain text",
                                p.join(".")
                            ),
                        ));
                    }
                }
            }
        }
    }
}

/// Whether `value` is exactly `{{.current.<group>.<field>}}` of a password field of `source`.
fn copies_a_password(value: &Value, source: &Form) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let inner = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim);
    let Some(path) = inner.and_then(|t| t.strip_prefix(".current.")) else {
        return false;
    };
    path.split_once('.').is_some_and(|(g, f)| {
        source
            .field(g, f)
            .is_some_and(|field| field.kind == FieldType::Password)
    })
}

/// A component without a mapping gets the bundle's whole input: the bundle's form must have
/// every field its item requires.
pub(super) fn check_unmapped(
    bundle_form: &Form,
    target: &Form,
    target_id: &str,
    path: &DocPath,
    found: &mut Found,
) {
    for (field_path, field) in bundle_form.fields() {
        let (g, f) = field_path.split_once('.').unwrap_or_default();
        let leaks = field.kind == FieldType::Password
            && target
                .field(g, f)
                .is_some_and(|t| t.kind != FieldType::Password);
        if leaks {
            found.push((path.clone(), format!(
                "passes password field {field_path} to {target_id:?}, where {field_path} is not a password field: give the component an input mapping"
            )));
        }
    }
    for (field_path, field) in target.fields() {
        if field.required && field.default.is_none() {
            let (g, f) = field_path.split_once('.').unwrap_or_default();
            if bundle_form.field(g, f).is_none() {
                found.push((path.clone(), format!(
                    "{target_id:?} requires {field_path}, which the bundle's form does not have: add it or an input mapping"
                )));
            }
        }
    }
}
