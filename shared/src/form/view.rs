//! The portal view of a form: normalised groups and fields with labels, widgets and paths.

use super::{Field, FieldType, Form, NAME_MAX_LEN};
use serde_json::{Value, json};

impl Form {
    /// The form as a portal renders it: normalised groups and fields (labels filled in,
    /// options as `{value, label}`, each field's dotted `path`) plus a JSON Schema of the
    /// input the form accepts.
    pub fn portal_view(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let fields: Vec<Value> = g
                    .fields
                    .iter()
                    .map(|f| f.portal_view(&format!("{}.{}", g.id, f.id)))
                    .collect();
                let mut group = json!({
                    "id": g.id,
                    "name": g.name.clone().unwrap_or_else(|| humanize(&g.id)),
                    "fields": fields,
                });
                if let Some(d) = &g.description {
                    group["description"] = json!(d);
                }
                group
            })
            .collect();
        let mut view = json!({
            "fields": [{
                "id": "name", "path": "name", "type": "string", "label": "Request name",
                "required": true, "maxLength": NAME_MAX_LEN,
            }],
            "groups": groups,
            "inputSchema": self.input_schema(),
        });
        if let Some(d) = &self.description {
            view["description"] = json!(d);
        }
        view
    }
}

impl Field {
    fn portal_view(&self, path: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "path": path,
            "type": self.kind,
            "label": self.label(),
            "required": self.required,
        });
        let o = v.as_object_mut();
        if let Some(o) = o {
            let mut put = |k: &str, val: Option<Value>| {
                if let Some(val) = val {
                    o.insert(k.into(), val);
                }
            };
            put("description", self.description.clone().map(Value::from));
            put("placeholder", self.placeholder.clone().map(Value::from));
            // A password's default is never shown.
            put(
                "default",
                self.default
                    .clone()
                    .filter(|_| self.kind != FieldType::Password),
            );
            put("pattern", self.pattern.clone().map(Value::from));
            put("minLength", self.min_length.map(Value::from));
            put("maxLength", self.max_length.map(Value::from));
            put("min", self.min.map(Value::from));
            put("max", self.max.map(Value::from));
            if self.kind.has_options() {
                let options: Vec<Value> = self
                    .options
                    .iter()
                    .map(|o| json!({"value": o.value(), "label": o.label()}))
                    .collect();
                put("options", Some(Value::Array(options)));
            }
            put(
                "sensitive",
                (self.kind == FieldType::Password).then_some(Value::Bool(true)),
            );
            put("widget", Some(Value::from(widget(self.kind))));
        }
        v
    }
}

fn widget(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "text",
        FieldType::Text => "textarea",
        FieldType::Integer | FieldType::Number => "number",
        FieldType::Boolean => "checkbox",
        FieldType::Select => "dropdown",
        FieldType::Multiselect => "checklist",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime-local",
        FieldType::Email => "email",
        FieldType::Url => "url",
        FieldType::Password => "password",
        FieldType::Json => "code",
    }
}

/// `instanceClass` → `Instance class`, for groups and fields without a label.
pub(super) fn humanize(id: &str) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if c == '_' || c == '-' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}
