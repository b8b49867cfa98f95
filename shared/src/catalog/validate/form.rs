//! Form checks: unique group and field ids, options only and always on selects, patterns
//! that compile, ranges in order, defaults that satisfy their own field.

use super::Found;
use crate::form::{FieldType, Form};
use crate::path::DocPath;
use std::collections::{BTreeSet, HashSet};

pub(super) fn check_form(form: &Form, base: &DocPath, found: &mut Found) {
    let mut groups = BTreeSet::new();
    for (gi, group) in form.groups.iter().enumerate() {
        let gpath = base.key("groups").index(gi);
        if group.id == "name" {
            found.push((
                gpath.key("id"),
                "\"name\" is reserved for the request name".into(),
            ));
        }
        if !groups.insert(group.id.as_str()) {
            found.push((
                gpath.key("id"),
                format!("duplicate group id {:?}", group.id),
            ));
        }
        let mut fields = BTreeSet::new();
        for (fi, field) in group.fields.iter().enumerate() {
            let fpath = gpath.key("fields").index(fi);
            if !fields.insert(field.id.as_str()) {
                found.push((
                    fpath.key("id"),
                    format!("duplicate field id {:?} in group {:?}", field.id, group.id),
                ));
            }
            check_field(field, &fpath, found);
        }
    }
}

fn check_field(field: &crate::form::Field, path: &DocPath, found: &mut Found) {
    let kind = field.kind;
    if kind.has_options() {
        if field.options.is_empty() {
            found.push((path.key("options"), format!("a {kind} field needs options")));
        }
        let mut seen = HashSet::new();
        for (i, o) in field.options.iter().enumerate() {
            if !seen.insert(o.value()) {
                found.push((
                    path.key("options").index(i),
                    format!("duplicate option {:?}", o.value()),
                ));
            }
        }
    } else if !field.options.is_empty() {
        found.push((
            path.key("options"),
            format!("a {kind} field has no options (only select and multiselect do)"),
        ));
    }
    if let Some(pattern) = &field.pattern {
        if !kind.is_textual() {
            found.push((
                path.key("pattern"),
                format!("a {kind} field takes no pattern"),
            ));
        } else if let Err(e) = crate::value::compiled_pattern(pattern) {
            let msg = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            found.push((
                path.key("pattern"),
                format!("invalid regular expression: {msg}"),
            ));
        }
    }
    if (field.min_length.is_some() || field.max_length.is_some()) && !kind.is_textual() {
        let key = if field.min_length.is_some() {
            "minLength"
        } else {
            "maxLength"
        };
        found.push((
            path.key(key),
            format!("a {kind} field takes no length limits"),
        ));
    }
    if let (Some(lo), Some(hi)) = (field.min_length, field.max_length) {
        if lo > hi {
            found.push((
                path.key("minLength"),
                format!("minLength {lo} is greater than maxLength {hi}"),
            ));
        }
    }
    if (field.min.is_some() || field.max.is_some())
        && !(kind.is_numeric() || kind == FieldType::Multiselect)
    {
        let key = if field.min.is_some() { "min" } else { "max" };
        found.push((path.key(key), format!("a {kind} field takes no min or max")));
    }
    if let (Some(lo), Some(hi)) = (field.min, field.max) {
        if lo > hi {
            found.push((
                path.key("min"),
                format!("min {lo} is greater than max {hi}"),
            ));
        }
    }
    if let Some(default) = &field.default {
        if kind == FieldType::Password {
            found.push((
                path.key("default"),
                "a password field cannot have a default".into(),
            ));
        } else if let Err(issue) = field.check(default) {
            found.push((path.key("default"), format!("the default {issue}")));
        }
    }
}
