//! `/api/docs`: the API reference, rendered on the server from the OpenAPI document
//! ([`super::openapi::document`]) as one plain, accessible page in the app's own stylesheet and
//! theme. No script: it reads the same with or without JavaScript, offline, and under the
//! pages' content policy. (Swagger UI and Scalar were tried first: both fail axe's serious and
//! critical checks, and Scalar calls home.)

use std::{fmt::Write, sync::OnceLock};

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{Html, IntoResponse, Response},
};
use serde_json::Value;

use crate::state::AppState;

/// The page, with the stylesheet of this build and the caller's theme.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    static BODY: OnceLock<String> = OnceLock::new();
    let body = BODY.get_or_init(|| {
        let doc = serde_json::to_value(super::openapi::document(&super::routes()))
            .expect("the document serialises");
        render(&doc)
    });
    let theme = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(types::viewer::Theme::from_cookies)
        .map(|t| format!(" data-theme=\"{}\"", t.as_str()))
        .unwrap_or_default();
    let css = format!("/{}/devpulse.css", state.leptos_options.site_pkg_dir);
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"{theme}><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>API reference · devpulse</title>\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body class=\"reference\">{body}</body></html>"
    );
    ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response()
}

/// Method, path and the operation object.
type Operation = (String, String, Value);

/// The page's body for `doc`.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let info = &doc["info"];
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    // Operations by tag, in the document's tag order, each tag's in path order.
    let tags: Vec<String> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut by_tag: Vec<(String, Vec<Operation>)> =
        tags.iter().map(|t| (t.clone(), Vec::new())).collect();
    for (path, item) in &paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            // A path item also holds shared `parameters`, `summary`…: only methods are
            // operations.
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let tag = op["tags"][0].as_str().unwrap_or("api");
            if let Some((_, ops)) = by_tag.iter_mut().find(|(t, _)| t == tag) {
                ops.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    by_tag.retain(|(_, ops)| !ops.is_empty());

    let _ = write!(
        out,
        "<a class=\"skip-link\" href=\"#reference-main\">Skip to the reference</a>\
         <header class=\"reference-header\"><h1>{} <span class=\"muted\">{}</span></h1>\
         <p>{}</p><p><a href=\"/api/v1/openapi.json\">The OpenAPI 3.1 document (JSON)</a>, for \
         code generators and API clients · <a href=\"/\">Back to devpulse</a></p></header>",
        esc(info["title"].as_str().unwrap_or("API")),
        esc(info["version"].as_str().unwrap_or("")),
        inline(info["description"].as_str().unwrap_or(""))
    );
    out.push_str("<div class=\"reference-layout\"><nav class=\"reference-nav\" aria-label=\"Operations\"><ul>");
    for (tag, ops) in &by_tag {
        let _ = write!(
            out,
            "<li><a href=\"#tag-{}\">{}</a> <span class=\"muted\">({})</span></li>",
            slug(tag),
            esc(tag),
            ops.len()
        );
    }
    out.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav><main id=\"reference-main\" class=\"reference-main\">");

    out.push_str("<section aria-labelledby=\"auth\"><h2 id=\"auth\">Authentication</h2><dl class=\"reference-schemes\">");
    for (name, scheme) in doc["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let how = match (scheme["type"].as_str(), scheme["in"].as_str()) {
            (Some("http"), _) => format!(
                "<code>Authorization: Bearer …</code> ({})",
                esc(scheme["bearerFormat"].as_str().unwrap_or("token"))
            ),
            (Some("apiKey"), Some(place)) => format!(
                "{} <code>{}</code>",
                esc(place),
                esc(scheme["name"].as_str().unwrap_or(""))
            ),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<dt><code>{}</code>: {how}</dt><dd>{}</dd>",
            esc(name),
            inline(scheme["description"].as_str().unwrap_or(""))
        );
    }
    out.push_str("</dl><p>Every error is <code>application/problem+json</code> (<a href=\"#schema-Problem\">Problem</a>), naming each bad field.</p></section>");

    for (tag, ops) in &by_tag {
        let _ = write!(
            out,
            "<section class=\"reference-tag\" aria-labelledby=\"tag-{0}\"><h2 id=\"tag-{0}\">{1}</h2>",
            slug(tag),
            esc(tag)
        );
        for (method, path, op) in ops {
            operation(&mut out, method, path, op);
        }
        out.push_str("</section>");
    }

    out.push_str("<section aria-labelledby=\"schemas\"><h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "<article class=\"reference-schema\" aria-labelledby=\"schema-{0}\"><h3 id=\"schema-{0}\">{1}</h3>",
            slug(name),
            esc(name)
        );
        if let Some(d) = schema["description"].as_str() {
            let _ = write!(out, "<p>{}</p>", inline(d));
        }
        fields(&mut out, name, schema);
        out.push_str("</article>");
    }
    out.push_str("</section></main></div>");
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let id = op["operationId"].as_str().unwrap_or_default();
    let _ = write!(
        out,
        "<article class=\"reference-op\" aria-labelledby=\"op-{0}\"><h3 id=\"op-{0}\">\
         <span class=\"reference-method reference-method-{1}\">{2}</span> <code>{3}</code></h3>",
        slug(id),
        esc(&method.to_lowercase()),
        esc(method),
        esc(path)
    );
    if let Some(d) = op["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", inline(d));
    }
    let _ = write!(
        out,
        "<p class=\"muted\">Operation <code>{}</code>, handled by <code>{}</code>.</p>",
        esc(id),
        esc(op["summary"].as_str().unwrap_or(""))
    );
    let label = format!("{method} {path}");

    let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
    if !params.is_empty() {
        table_start(
            out,
            &format!("Parameters of {label}"),
            "Parameters",
            &["Name", "In", "Type", "Required", "Description"],
        );
        for p in params {
            let _ = write!(
                out,
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["in"].as_str().unwrap_or("")),
                type_of(&p["schema"]),
                if p["required"].as_bool() == Some(true) { "yes" } else { "no" },
                inline(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table></div>");
    }

    if let Some(content) = op["requestBody"]["content"].as_object() {
        out.push_str("<h4>Request body</h4><ul class=\"reference-bodies\">");
        for (kind, body) in content {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(kind),
                type_of(&body["schema"])
            );
        }
        out.push_str("</ul>");
        for body in content.values() {
            inline_fields(out, &format!("the body of {label}"), &body["schema"]);
        }
    }

    table_start(
        out,
        &format!("Responses of {label}"),
        "Responses",
        &["Status", "Meaning", "Body"],
    );
    for (status, answer) in op["responses"].as_object().into_iter().flatten() {
        let bodies: Vec<String> = answer["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kind, c)| format!("<code>{}</code> {}", esc(kind), type_of(&c["schema"])))
            .collect();
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            esc(status),
            inline(answer["description"].as_str().unwrap_or("")),
            bodies.join("<br>")
        );
    }
    out.push_str("</tbody></table></div>");
    for (status, answer) in op["responses"].as_object().into_iter().flatten() {
        for body in answer["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, c)| c)
        {
            inline_fields(
                out,
                &format!("the {status} answer of {label}"),
                &body["schema"],
            );
        }
    }

    // How to call it, with the first way in the operation allows.
    let auth = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object().and_then(|o| o.keys().next().cloned()))
        .find(|s| s != "session_cookie");
    let header = match auth.as_deref() {
        Some("api_key") => " \\\n  -H 'X-Api-Key: dp_…'",
        Some("bearer_jwt") => " \\\n  -H \"Authorization: Bearer $TOKEN\"",
        _ => "",
    };
    let body = if op["requestBody"]["content"]["application/json"].is_object() {
        " \\\n  -H 'Content-Type: application/json' -d @body.json"
    } else {
        ""
    };
    let verb = if method == "GET" {
        String::new()
    } else {
        format!(" -X {method}")
    };
    let _ = write!(
        out,
        "<p class=\"muted\">Example:</p><pre class=\"reference-example\"><code>curl{}{} \"$DEVPULSE{}\"{}</code></pre></article>",
        verb,
        esc(header),
        esc(path),
        esc(body)
    );
}

/// A schema's fields (objects), values (enums) or alternatives.
fn fields(out: &mut String, name: &str, schema: &Value) {
    if let Some(values) = schema["enum"].as_array() {
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&v.to_string())))
            .collect();
        let _ = write!(out, "<p>One of {}.</p>", list.join(", "));
        return;
    }
    if let Some(props) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
            .collect();
        table_start(
            out,
            &format!("Fields of {name}"),
            &format!("Fields of {name}"),
            &["Field", "Type", "Required", "Description"],
        );
        for (field, s) in props {
            let description = s["description"]
                .as_str()
                .or_else(|| s["oneOf"][0]["description"].as_str())
                .unwrap_or("");
            let _ =
                write!(
                out,
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(field),
                type_of(s),
                if required.contains(&field.as_str()) { "yes" } else { "no" },
                inline(description)
            );
        }
        out.push_str("</tbody></table></div>");
        if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            let _ = write!(out, "<p>Other keys: {}.</p>", type_of(extra));
        }
        return;
    }
    let _ = write!(out, "<p>{}</p>", type_of(schema));
}

/// The fields of a body shape that has no schema entry of its own (named ones are linked).
fn inline_fields(out: &mut String, what: &str, schema: &Value) {
    if schema["properties"].is_object() {
        if let Some(d) = schema["description"].as_str() {
            let _ = write!(out, "<p>{}</p>", inline(d));
        }
        fields(out, what, schema);
    }
}

fn table_start(out: &mut String, label: &str, caption: &str, columns: &[&str]) {
    // A region that scrolls sideways on a phone must be reachable by keyboard to scroll.
    let _ = write!(
        out,
        "<div class=\"reference-table\" role=\"region\" tabindex=\"0\" aria-label=\"{}\"><table><caption>{}</caption><thead><tr>",
        esc(label),
        esc(caption)
    );
    for c in columns {
        let _ = write!(out, "<th scope=\"col\">{c}</th>");
    }
    out.push_str("</tr></thead><tbody>");
}

/// A schema in words, with named types linked to their entries.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{}\">{}</a>", slug(name), esc(name));
    }
    for (key, joiner) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(items) = s[key].as_array() {
            let empty = |i: &Value| i["maxLength"].as_u64() == Some(0);
            let mut parts: Vec<String> = items
                .iter()
                .filter(|i| i["type"] != "null" && !empty(i))
                .map(type_of)
                .collect();
            parts.dedup();
            let mut text = parts.join(joiner);
            if items.iter().any(|i| i["type"] == "null") {
                text.push_str(", or null");
            }
            if items.iter().any(empty) {
                text.push_str(" (empty: not given)");
            }
            return text;
        }
    }
    if let Some(values) = s["enum"].as_array() {
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&v.to_string())))
            .collect();
        return format!("one of {}", list.join(", "));
    }
    let kinds: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
        _ => Vec::new(),
    };
    let nullable = kinds.contains(&"null");
    let mut words: Vec<String> = kinds
        .iter()
        .filter(|k| **k != "null")
        .map(|k| match *k {
            "array" => format!("array of {}", type_of(&s["items"])),
            "object" if s["additionalProperties"].is_object() => {
                format!("object of {}", type_of(&s["additionalProperties"]))
            }
            // A shape without a name of its own: its fields, by name.
            "object" if s["properties"].is_object() => {
                let names: Vec<String> = s["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| format!("<code>{}</code>", esc(k)))
                    .collect();
                format!("object with {}", names.join(", "))
            }
            other => match s["format"].as_str() {
                Some(f) => format!("{} ({})", esc(other), esc(f)),
                None => esc(other),
            },
        })
        .collect();
    if words.is_empty() {
        words.push("any".into());
    }
    let mut text = words.join(" or ");
    if nullable {
        text.push_str(", or null");
    }
    text
}

/// An id for an anchor: letters, digits and dashes.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn esc(s: &str) -> String {
    crate::mail::templates::escape(s)
}

/// Escaped text whose `backticked` parts are code, as the document's descriptions write them.
fn inline(s: &str) -> String {
    esc(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_as_words_with_links() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(
            type_of(&v(r##"{"$ref":"#/components/schemas/Grain"}"##)),
            "<a href=\"#schema-Grain\">Grain</a>"
        );
        assert_eq!(
            type_of(&v(r#"{"type":["string","null"],"format":"uuid"}"#)),
            "string (uuid), or null"
        );
        assert_eq!(
            type_of(&v(
                r#"{"anyOf":[{"type":"string","format":"date-time"},{"type":"string","maxLength":0}]}"#
            )),
            "string (date-time) (empty: not given)"
        );
        assert_eq!(
            type_of(&v(
                r#"{"type":"array","items":{"type":"integer","format":"int64"}}"#
            )),
            "array of integer (int64)"
        );
        assert_eq!(inline("a `<b>` c"), "a <code>&lt;b&gt;</code> c");
    }

    /// Every operation and schema of the document has its entry, and every link on the page
    /// leads to one.
    #[test]
    fn the_page_covers_the_document_and_its_links_resolve() {
        let doc =
            serde_json::to_value(crate::api::openapi::document(&crate::api::routes())).unwrap();
        let page = render(&doc);
        let mut ops = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                assert!(
                    page.contains(&format!("id=\"op-{}\"", slug(id))),
                    "{id} missing"
                );
                ops += 1;
            }
        }
        assert!(ops > 100);
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(
                page.contains(&format!("id=\"schema-{}\"", slug(name))),
                "{name} missing"
            );
        }
        for link in page.split("href=\"#").skip(1) {
            let target = &link[..link.find('"').unwrap()];
            assert!(
                page.contains(&format!("id=\"{target}\"")),
                "#{target} leads nowhere"
            );
        }
    }
}
